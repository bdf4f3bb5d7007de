/**
 * Prometheus text exposition format 0.0.4, just what /metrics needs: one `# HELP` and `# TYPE`
 * line per family, then its samples. Counter names carry their `_total` suffix in the TYPE line
 * too, as the 0.0.4 format exposes them; a summary is its `_sum` and `_count` samples.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'summary';

export interface Sample {
  value: number;
  labels?: Readonly<Record<string, string>>;
  /** Appended to the family name: `_sum`, `_count` for a summary. */
  suffix?: string;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class PrometheusText {
  readonly #lines: string[] = [];
  readonly #families = new Set<string>();

  /** Add a family with its samples (a family without samples is still described). */
  family(name: string, type: MetricType, help: string, samples: readonly Sample[]): this {
    if (!NAME.test(name)) throw new RangeError(`invalid metric name ${name}`);
    if (this.#families.has(name)) throw new RangeError(`metric ${name} added twice`);
    this.#families.add(name);
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const sample of samples) this.#lines.push(`${name}${sample.suffix ?? ''}${labelText(sample.labels)} ${valueText(sample.value)}`);
    return this;
  }

  /** One sample without labels. */
  single(name: string, type: MetricType, help: string, value: number, labels?: Readonly<Record<string, string>>): this {
    return this.family(name, type, help, [{ value, ...(labels === undefined ? {} : { labels }) }]);
  }

  toString(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }
}

function labelText(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries
    .map(([key, value]) => {
      if (!LABEL.test(key)) throw new RangeError(`invalid label name ${key}`);
      return `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
    })
    .join(',')}}`;
}

function valueText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
