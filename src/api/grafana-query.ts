/**
 * Answering a Grafana query (`POST /grafana/query`, and the original's `POST /query`): each target
 * in order, as a time series or a table. A target naming a metric of GRAFANA_METRICS is read with
 * its payload; any other target is the original's: a task name → its bytes per bucket.
 */
import type { FlowTotals, StoredTask } from '../model/query.js';
import { parseTimeText } from '../query/time-text.js';
import { NS_PER_MS, storeCall, type QueryRouteOptions } from './http-json.js';
import { METRIC_NAMES, PAYLOAD_KEYS, Payload, adhocFields, fail, payloadObject, type AdhocFilter } from './grafana-payload.js';

const NS_PER_S = 1_000_000_000n;
const MAX_BUCKETS = 10_000;
const DEFAULT_POINTS = 300;

export interface GrafanaRange {
  from: string;
  to: string;
}

interface GrafanaTarget {
  target?: string;
  refId?: string;
  hide?: boolean;
  payload?: unknown;
}

export interface QueryBody {
  targets: GrafanaTarget[];
  range: GrafanaRange;
  intervalMs?: number;
  maxDataPoints?: number;
  adhocFilters?: AdhocFilter[];
}

export type TimeSeriesAnswer = { target: string; refId?: string; datapoints: [number, number][] };
export type TableAnswer = { type: 'table'; refId?: string; columns: { text: string; type: 'string' | 'number' | 'time' }[]; rows: (string | number)[][] };
type Answer = TimeSeriesAnswer | TableAnswer;

type Range = { startNs: bigint; endNs: bigint };

/** A target being answered: its metric (or task) name, range and refId. */
interface Target {
  name: string;
  /** `targets[i].payload`, the start of every message about the payload. */
  where: string;
  range: Range;
  refId: string | undefined;
}

/** Grafana's range (`from`, `to`: any time text of the one time parser) in nanoseconds. */
export function grafanaRange(range: GrafanaRange, nowMs: number): Range {
  return { startNs: parseTimeText('range.from', range.from, nowMs, 'NS_ERR_HTTP_REQUEST'), endNs: parseTimeText('range.to', range.to, nowMs, 'NS_ERR_HTTP_REQUEST') };
}

/** The answer with the target's refId last (as Grafana sent it), or as it is without one. */
const withRef = <T extends object>(answer: T, refId: string | undefined): T & { refId?: string } => (refId === undefined ? answer : { ...answer, refId });

const isIpField = (field: string): boolean => field === 'SrcIP' || field === 'DstIP';

function tableOfFlows(flows: FlowTotals[], fields: readonly string[], refId: string | undefined): TableAnswer {
  return {
    type: 'table',
    ...(refId === undefined ? {} : { refId }),
    columns: [
      ...fields.map((field) => ({ text: field, type: isIpField(field) ? ('string' as const) : ('number' as const) })),
      { text: 'Bytes', type: 'number' },
      { text: 'Packets', type: 'number' },
      { text: 'First seen', type: 'time' },
      { text: 'Last seen', type: 'time' },
    ],
    rows: flows.map((f) => [
      ...fields.map((field) => (f.key as Record<string, string | number | undefined>)[field] ?? ''),
      f.bytes,
      f.packets,
      Number(f.firstSeenNs / NS_PER_MS),
      Number(f.lastSeenNs / NS_PER_MS),
    ]),
  };
}

/** One query request: its targets answered in order; the stored tasks asked at most once. */
export class GrafanaQuery {
  readonly #body: QueryBody;
  readonly #options: QueryRouteOptions;
  readonly #run: <T>(promise: Promise<T>) => Promise<T>;
  #taskList: Promise<StoredTask[]> | undefined;

  constructor(body: QueryBody, options: QueryRouteOptions) {
    this.#body = body;
    this.#options = options;
    this.#run = storeCall(options);
  }

  async answer(): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (const [index, target] of this.#body.targets.entries()) {
      // a new panel's empty query, or a hidden one: nothing to draw
      if (target.hide === true || target.target === undefined || target.target.trim() === '') continue;
      answers.push(...(await this.#target(target, index)));
    }
    return answers;
  }

  #tasks(): Promise<StoredTask[]> {
    return (this.#taskList ??= this.#run(this.#options.queryService.tasks()));
  }

  async #target(request: GrafanaTarget, index: number): Promise<Answer[]> {
    const where = `targets[${index}].payload`;
    const fields = payloadObject(request.payload, where);
    const target: Target = { name: request.target!, where, range: grafanaRange(this.#body.range, this.#options.nowMs()), refId: request.refId };
    const name = target.name;
    // The original's clients send a task name and no payload.
    if (!METRIC_NAMES.has(name) || (request.payload === undefined && (await this.#tasks()).some((t) => t.name === name && t.kind === 'exact'))) return this.#original(target);
    const allowed = PAYLOAD_KEYS[name]!;
    for (const key of Object.keys(fields)) if (!allowed.includes(key)) fail(`${where}.${key} is not a field of ${name}${allowed.length === 0 ? ' (it takes none)' : `: use ${allowed.join(', ')}`}`);
    const payload = new Payload({ ...fields, ...adhocFields(this.#body.adhocFilters) }, where);
    const task = payload.text('task');
    switch (name) {
      case 'series':
        return this.#series(target, payload, task);
      case 'aggregate':
        return this.#aggregate(target, payload, task);
      case 'top_flows':
      case 'top_sources':
      case 'top_destinations':
        return this.#top(target, payload, task);
      case 'heavy_hitters':
      case 'super_spreaders':
        return this.#sketchList(target, payload, task);
      default:
        return this.#taskTable(target);
    }
  }

  /** Grafana's interval when given, else the range in `maxDataPoints` whole seconds; never more than 10,000 buckets. */
  #bucket(range: Range): bigint {
    const body = this.#body;
    const span = range.endNs - range.startNs;
    if (span <= 0n) fail(`range.from (${range.startNs} ns) must be before range.to (${range.endNs} ns)`);
    const points = BigInt(Math.min(Math.max(body.maxDataPoints ?? DEFAULT_POINTS, 1), MAX_BUCKETS));
    let bucket: bigint;
    if (body.intervalMs !== undefined && body.intervalMs >= 1) {
      bucket = BigInt(Math.round(body.intervalMs)) * NS_PER_MS;
    } else {
      bucket = (span + points - 1n) / points;
      bucket = ((bucket + NS_PER_S - 1n) / NS_PER_S) * NS_PER_S;
    }
    const fewest = (span + BigInt(MAX_BUCKETS) - 1n) / BigInt(MAX_BUCKETS);
    return bucket < fewest ? fewest : bucket;
  }

  /** The original's target: a task name → its bytes per bucket (ad-hoc filters apply). */
  async #original({ name, range, refId }: Target): Promise<Answer[]> {
    const bucketNs = this.#bucket(range);
    const filter = new Payload(adhocFields(this.#body.adhocFilters), 'adhocFilters').filter();
    const points = await this.#run(this.#options.queryService.series({ taskName: name, ...range, bucketNs, filter }));
    return [withRef({ target: name, datapoints: points.map((p): [number, number] => [p.bytes, Number(p.bucketStartNs / NS_PER_MS)]) }, refId)];
  }

  /** One time series per task: bytes, packets or flows per bucket, or per second. */
  async #series({ range, refId }: Target, payload: Payload, task: string | undefined): Promise<Answer[]> {
    const value = payload.oneOf('value', ['bytes', 'packets', 'flows'] as const, 'bytes');
    const rate = payload.boolean('rate');
    const bucketNs = this.#bucket(range);
    const seconds = Number(bucketNs) / 1e9;
    const points = await this.#run(this.#options.queryService.series({ ...range, bucketNs, filter: payload.filter(), ...(task === undefined ? {} : { taskName: task }) }));
    const byTask = new Map<string, [number, number][]>();
    for (const p of points) {
      let list = byTask.get(p.taskName);
      if (list === undefined) byTask.set(p.taskName, (list = []));
      list.push([rate ? p[value] / seconds : p[value], Number(p.bucketStartNs / NS_PER_MS)]);
    }
    return [...byTask].map(([taskName, datapoints]) => withRef({ target: `${taskName} ${value}${rate ? '/s' : ''}`, datapoints }, refId));
  }

  async #aggregate({ range, refId }: Target, payload: Payload, task: string | undefined): Promise<Answer[]> {
    const totals = await this.#run(this.#options.queryService.aggregateFlows({ ...range, ...payload.filter(), ...(task === undefined ? {} : { taskName: task }) }));
    const columns = [
      { text: 'Task', type: 'string' as const },
      { text: 'Bytes', type: 'number' as const },
      { text: 'Packets', type: 'number' as const },
      { text: 'Flows', type: 'number' as const },
    ];
    return [withRef({ type: 'table' as const, columns, rows: totals.map((t) => [t.taskName, t.bytes, t.packets, t.flows]) }, refId)];
  }

  /** Top flows (grouped by `group_by`, or the whole key), sources or destinations as a table. */
  async #top({ name, where, range, refId }: Target, payload: Payload, task: string | undefined): Promise<Answer[]> {
    if (task === undefined) fail(`${where}.task is required for ${name}: name an exact task`);
    const by = payload.oneOf('by', ['bytes', 'packets'] as const, 'bytes');
    const limit = payload.integer('limit', 1, 10_000) ?? 10;
    const grouped = name === 'top_sources' ? ['SrcIP'] : name === 'top_destinations' ? ['DstIP'] : (payload.text('group_by')?.split(',').map((f) => f.trim()).filter((f) => f !== '') ?? []);
    const flows = await this.#run(this.#options.queryService.top({ taskName: task!, by, limit, ...range, filter: payload.filter(), ...(grouped.length === 0 ? {} : { groupBy: grouped }) }));
    const fields = grouped.length > 0 ? grouped : ((await this.#tasks()).find((t) => t.name === task)?.keyFields ?? []);
    return [tableOfFlows(flows, fields, refId)];
  }

  /** A heavy-hitter (by packets or bytes) or super-spreader list as a table. */
  async #sketchList({ name, where, range, refId }: Target, payload: Payload, task: string | undefined): Promise<Answer[]> {
    if (task === undefined) fail(`${where}.task is required for ${name}`);
    const type = name === 'super_spreaders' ? 2 : payload.oneOf('type', ['packets', 'bytes'] as const, 'packets') === 'bytes' ? 1 : 0;
    const list = await this.#run(this.#options.queryService.heavyHitters({ taskName: task!, type, limit: payload.integer('limit', 1, 10_000) ?? 10, ...range }));
    const columns = [
      { text: 'Flow', type: 'string' as const },
      { text: type === 2 ? 'Spread' : 'Value', type: 'number' as const },
    ];
    return [withRef({ type: 'table' as const, columns, rows: list.entries.map((e) => [e.flow, e.value]) }, refId)];
  }

  async #taskTable({ refId }: Target): Promise<Answer[]> {
    const columns = [
      { text: 'Task', type: 'string' as const },
      { text: 'Kind', type: 'string' as const },
      { text: 'Key fields', type: 'string' as const },
    ];
    return [withRef({ type: 'table' as const, columns, rows: (await this.#tasks()).map((t) => [t.name, t.kind, t.keyFields.join(',')]) }, refId)];
  }
}
