/**
 * Grafana: the original's `POST /query` (a task name as target → a bytes series over the range;
 * the original answered one point and ignored `from`), and the JSON datasource protocol of the
 * simpod-json-datasource plugin under `/grafana` (`GET /`, `POST /metrics`,
 * `/metric-payload-options`, `/query` with time series and tables, `/variable`, `/tag-keys`,
 * `/tag-values`). The prefix keeps the plugin's paths off the dashboard (`GET /`) and Prometheus
 * (`GET /metrics`); the root `POST /query` is the same handler, since the original's request is a
 * subset of the plugin's.
 *
 * Bodies are validated by schema for their shape; the plugin's payloads are free-form JSON typed
 * by people in Grafana (and filled from template variables, so numbers may arrive as text), so
 * they are checked here field by field with messages that name the target and field.
 */
import type { FastifyInstance } from 'fastify';
import { NetSpectraError } from '../model/errors.js';
import type { FlowTotals, StoredTask } from '../model/query.js';
import type { FlowFilterRequest } from '../query/query-service.js';
import type { QueryMethods } from './query-cache.js';
import { parseTimeText } from '../query/time-text.js';
import { withDeadline } from './http-json.js';
import { GRAFANA_SCHEMAS, type GrafanaTagKey } from './http-schemas.js';

export interface GrafanaRouteOptions {
  queryService: QueryMethods;
  queryTimeoutMs: number;
  nowMs: () => number;
}

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const MAX_BUCKETS = 10_000;
const DEFAULT_POINTS = 300;

interface GrafanaRange {
  from: string;
  to: string;
}

interface GrafanaTarget {
  target?: string;
  refId?: string;
  hide?: boolean;
  payload?: unknown;
}

interface AdhocFilter {
  key: string;
  operator: string;
  value: string;
}

interface QueryBody {
  targets: GrafanaTarget[];
  range: GrafanaRange;
  intervalMs?: number;
  maxDataPoints?: number;
  adhocFilters?: AdhocFilter[];
}

export type TimeSeriesAnswer = { target: string; refId?: string; datapoints: [number, number][] };
export type TableAnswer = { type: 'table'; refId?: string; columns: { text: string; type: 'string' | 'number' | 'time' }[]; rows: (string | number)[][] };

const fail = (message: string): never => {
  throw new NetSpectraError('NS_ERR_HTTP_REQUEST', message);
};

/** Metrics the plugin's builder offers, with their payload fields. */
const FILTER_PAYLOADS = [
  { label: 'Source IP', name: 'src_ip', type: 'input', placeholder: 'any' },
  { label: 'Destination IP', name: 'dst_ip', type: 'input', placeholder: 'any' },
  { label: 'Source port', name: 'src_port', type: 'input', placeholder: 'any' },
  { label: 'Destination port', name: 'dst_port', type: 'input', placeholder: 'any' },
  { label: 'Protocol', name: 'protocol', type: 'input', placeholder: 'any (6 TCP, 17 UDP)' },
];
const TASK_PAYLOAD = { label: 'Task', name: 'task', type: 'select', placeholder: 'all exact tasks' };
const LIMIT_PAYLOAD = { label: 'Limit', name: 'limit', type: 'input', placeholder: '10' };
const BY_PAYLOAD = { label: 'Rank by', name: 'by', type: 'select', placeholder: 'bytes' };
export const GRAFANA_METRICS = [
  {
    label: 'Traffic over time',
    value: 'series',
    payloads: [TASK_PAYLOAD, { label: 'Value', name: 'value', type: 'select', placeholder: 'bytes' }, { label: 'Per second', name: 'rate', type: 'select', placeholder: 'false' }, ...FILTER_PAYLOADS],
  },
  { label: 'Totals per task', value: 'aggregate', payloads: [TASK_PAYLOAD, ...FILTER_PAYLOADS] },
  { label: 'Top flows', value: 'top_flows', payloads: [{ ...TASK_PAYLOAD, placeholder: 'an exact task' }, BY_PAYLOAD, LIMIT_PAYLOAD, { label: 'Group by', name: 'group_by', type: 'input', placeholder: 'SrcIP,DstPort' }, ...FILTER_PAYLOADS] },
  { label: 'Top sources', value: 'top_sources', payloads: [{ ...TASK_PAYLOAD, placeholder: 'an exact task' }, BY_PAYLOAD, LIMIT_PAYLOAD, ...FILTER_PAYLOADS] },
  { label: 'Top destinations', value: 'top_destinations', payloads: [{ ...TASK_PAYLOAD, placeholder: 'an exact task' }, BY_PAYLOAD, LIMIT_PAYLOAD, ...FILTER_PAYLOADS] },
  { label: 'Heavy hitters', value: 'heavy_hitters', payloads: [{ ...TASK_PAYLOAD, placeholder: 'a heavy-hitter task' }, { label: 'Type', name: 'type', type: 'select', placeholder: 'packets' }, LIMIT_PAYLOAD] },
  { label: 'Super-spreaders', value: 'super_spreaders', payloads: [{ ...TASK_PAYLOAD, placeholder: 'a SuperSpread task' }, LIMIT_PAYLOAD] },
  { label: 'Tasks', value: 'tasks', payloads: [] },
];
const METRIC_NAMES = new Set(GRAFANA_METRICS.map((m) => m.value));
const PAYLOAD_KEYS: Record<string, readonly string[]> = Object.fromEntries(GRAFANA_METRICS.map((m) => [m.value, m.payloads.map((p) => p.name)]));

const TAG_KEYS = [
  { type: 'string', text: 'src_ip' },
  { type: 'string', text: 'dst_ip' },
  { type: 'number', text: 'src_port' },
  { type: 'number', text: 'dst_port' },
  { type: 'number', text: 'protocol' },
] as const;
const TAG_FIELD: Record<GrafanaTagKey, 'SrcIP' | 'DstIP' | 'SrcPort' | 'DstPort' | 'Protocol'> = { src_ip: 'SrcIP', dst_ip: 'DstIP', src_port: 'SrcPort', dst_port: 'DstPort', protocol: 'Protocol' };

/** A target's payload as an object; the plugin sends an object, older versions a JSON string. */
function payloadObject(payload: unknown, where: string): Record<string, unknown> {
  if (payload === undefined || payload === null || payload === '') return {};
  if (typeof payload === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return fail(`${where} is not JSON: give an object such as {"task": "per_five_tuple"}`);
    }
    return payloadObject(parsed, where);
  }
  if (typeof payload !== 'object' || Array.isArray(payload)) return fail(`${where} must be a JSON object`);
  return payload as Record<string, unknown>;
}

/** Payload fields arrive as JSON values or as text from template variables; empty text is absent. */
class Payload {
  constructor(
    readonly fields: Record<string, unknown>,
    readonly where: string,
  ) {}

  #raw(name: string): unknown {
    const value = this.fields[name];
    return value === '' || value === null ? undefined : value;
  }

  text(name: string): string | undefined {
    const value = this.#raw(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') return fail(`${this.where}.${name} must be text`);
    const text = typeof value === 'string' ? value : String(value);
    if (text.length > 256) fail(`${this.where}.${name} is longer than 256 characters`);
    return text;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const value = this.#raw(name);
    if (value === undefined) return undefined;
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(number) || number < min || number > max) fail(`${this.where}.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value).slice(0, 40)}`);
    return number;
  }

  boolean(name: string): boolean {
    const value = this.#raw(name);
    if (value === undefined) return false;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    return fail(`${this.where}.${name} must be true or false`);
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const value = this.#raw(name);
    if (value === undefined) return fallback;
    if (!values.includes(value as T)) fail(`${this.where}.${name} must be one of ${values.join(', ')}, got ${JSON.stringify(value).slice(0, 40)}`);
    return value as T;
  }

  filter(): FlowFilterRequest {
    const filter: FlowFilterRequest = {};
    const srcIP = this.text('src_ip');
    const dstIP = this.text('dst_ip');
    const srcPort = this.integer('src_port', 0, 65535);
    const dstPort = this.integer('dst_port', 0, 65535);
    const protocol = this.integer('protocol', 0, 255);
    if (srcIP !== undefined) filter.srcIP = srcIP;
    if (dstIP !== undefined) filter.dstIP = dstIP;
    if (srcPort !== undefined) filter.srcPort = srcPort;
    if (dstPort !== undefined) filter.dstPort = dstPort;
    if (protocol !== undefined) filter.protocol = protocol;
    return filter;
  }
}

const isIpField = (field: string): boolean => field === 'SrcIP' || field === 'DstIP';

export function registerGrafanaRoutes(app: FastifyInstance, options: GrafanaRouteOptions): void {
  const service = options.queryService;
  const run = <T>(promise: Promise<T>): Promise<T> => withDeadline(promise, options.queryTimeoutMs);

  const rangeOf = (range: GrafanaRange): { startNs: bigint; endNs: bigint } => {
    const nowMs = options.nowMs();
    return { startNs: parseTimeText('range.from', range.from, nowMs, 'NS_ERR_HTTP_REQUEST'), endNs: parseTimeText('range.to', range.to, nowMs, 'NS_ERR_HTTP_REQUEST') };
  };

  /** Grafana's interval when given, else the range in `maxDataPoints` whole seconds; never more than 10,000 buckets. */
  const bucketOf = (body: QueryBody, range: { startNs: bigint; endNs: bigint }): bigint => {
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
  };

  const adhocFilter = (filters: readonly AdhocFilter[] | undefined): Record<string, unknown> => {
    const fields: Record<string, unknown> = {};
    (filters ?? []).forEach((f, i) => {
      if (!(f.key in TAG_FIELD)) fail(`adhocFilters[${i}].key must be one of ${Object.keys(TAG_FIELD).join(', ')}, got ${JSON.stringify(f.key)}`);
      if (f.operator !== '=') fail(`adhocFilters[${i}].operator ${JSON.stringify(f.operator)} is not supported: only = is`);
      fields[f.key] = f.value;
    });
    return fields;
  };

  const tableOfFlows = (flows: FlowTotals[], fields: readonly string[], refId: string | undefined): TableAnswer => ({
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
  });

  const answerTarget = async (body: QueryBody, target: GrafanaTarget, index: number, tasks: () => Promise<StoredTask[]>): Promise<(TimeSeriesAnswer | TableAnswer)[]> => {
    const where = `targets[${index}].payload`;
    const fields = payloadObject(target.payload, where);
    const name = target.target!;
    const range = rangeOf(body.range);
    const refId = target.refId;
    const withRef = <T extends object>(answer: T): T & { refId?: string } => (refId === undefined ? answer : { ...answer, refId });
    // The original's clients send a task name and no payload.
    if (!METRIC_NAMES.has(name) || (target.payload === undefined && (await tasks()).some((t) => t.name === name && t.kind === 'exact'))) {
      const points = await run(service.series({ taskName: name, ...range, bucketNs: bucketOf(body, range), filter: new Payload(adhocFilter(body.adhocFilters), 'adhocFilters').filter() }));
      return [withRef({ target: name, datapoints: points.map((p): [number, number] => [p.bytes, Number(p.bucketStartNs / NS_PER_MS)]) })];
    }
    const allowed = PAYLOAD_KEYS[name]!;
    for (const key of Object.keys(fields)) if (!allowed.includes(key)) fail(`${where}.${key} is not a field of ${name}${allowed.length === 0 ? ' (it takes none)' : `: use ${allowed.join(', ')}`}`);
    const payload = new Payload({ ...fields, ...adhocFilter(body.adhocFilters) }, where);
    const task = payload.text('task');
    switch (name) {
      case 'series': {
        const value = payload.oneOf('value', ['bytes', 'packets', 'flows'] as const, 'bytes');
        const rate = payload.boolean('rate');
        const bucketNs = bucketOf(body, range);
        const seconds = Number(bucketNs) / 1e9;
        const points = await run(service.series({ ...range, bucketNs, filter: payload.filter(), ...(task === undefined ? {} : { taskName: task }) }));
        const byTask = new Map<string, [number, number][]>();
        for (const p of points) {
          let list = byTask.get(p.taskName);
          if (list === undefined) byTask.set(p.taskName, (list = []));
          list.push([rate ? p[value] / seconds : p[value], Number(p.bucketStartNs / NS_PER_MS)]);
        }
        return [...byTask].map(([taskName, datapoints]) => withRef({ target: `${taskName} ${value}${rate ? '/s' : ''}`, datapoints }));
      }
      case 'aggregate': {
        const totals = await run(service.aggregateFlows({ ...range, ...payload.filter(), ...(task === undefined ? {} : { taskName: task }) }));
        return [
          withRef({
            type: 'table' as const,
            columns: [
              { text: 'Task', type: 'string' as const },
              { text: 'Bytes', type: 'number' as const },
              { text: 'Packets', type: 'number' as const },
              { text: 'Flows', type: 'number' as const },
            ],
            rows: totals.map((t) => [t.taskName, t.bytes, t.packets, t.flows]),
          }),
        ];
      }
      case 'top_flows':
      case 'top_sources':
      case 'top_destinations': {
        if (task === undefined) fail(`${where}.task is required for ${name}: name an exact task`);
        const by = payload.oneOf('by', ['bytes', 'packets'] as const, 'bytes');
        const limit = payload.integer('limit', 1, 10_000) ?? 10;
        const grouped = name === 'top_sources' ? ['SrcIP'] : name === 'top_destinations' ? ['DstIP'] : (payload.text('group_by')?.split(',').map((f) => f.trim()).filter((f) => f !== '') ?? []);
        const flows = await run(service.top({ taskName: task!, by, limit, ...range, filter: payload.filter(), ...(grouped.length === 0 ? {} : { groupBy: grouped }) }));
        const fields = grouped.length > 0 ? grouped : ((await tasks()).find((t) => t.name === task)?.keyFields ?? []);
        return [tableOfFlows(flows, fields, refId)];
      }
      case 'heavy_hitters':
      case 'super_spreaders': {
        if (task === undefined) fail(`${where}.task is required for ${name}`);
        const type = name === 'super_spreaders' ? 2 : payload.oneOf('type', ['packets', 'bytes'] as const, 'packets') === 'bytes' ? 1 : 0;
        const list = await run(service.heavyHitters({ taskName: task!, type, limit: payload.integer('limit', 1, 10_000) ?? 10, ...range }));
        return [
          withRef({
            type: 'table' as const,
            columns: [
              { text: 'Flow', type: 'string' as const },
              { text: type === 2 ? 'Spread' : 'Value', type: 'number' as const },
            ],
            rows: list.entries.map((e) => [e.flow, e.value]),
          }),
        ];
      }
      default: {
        // 'tasks'
        return [
          withRef({
            type: 'table' as const,
            columns: [
              { text: 'Task', type: 'string' as const },
              { text: 'Kind', type: 'string' as const },
              { text: 'Key fields', type: 'string' as const },
            ],
            rows: (await tasks()).map((t) => [t.name, t.kind, t.keyFields.join(',')]),
          }),
        ];
      }
    }
  };

  const query = async (body: QueryBody): Promise<(TimeSeriesAnswer | TableAnswer)[]> => {
    let taskList: Promise<StoredTask[]> | undefined;
    const tasks = (): Promise<StoredTask[]> => (taskList ??= run(service.tasks()));
    const answers: (TimeSeriesAnswer | TableAnswer)[] = [];
    for (const [index, target] of body.targets.entries()) {
      // a new panel's empty query, or a hidden one: nothing to draw
      if (target.hide === true || target.target === undefined || target.target.trim() === '') continue;
      answers.push(...(await answerTarget(body, target, index, tasks)));
    }
    return answers;
  };

  app.post<{ Body: QueryBody }>('/query', { schema: GRAFANA_SCHEMAS.originalQuery }, async (request) => query(request.body));
  app.post<{ Body: QueryBody }>('/grafana/query', { schema: GRAFANA_SCHEMAS.query }, async (request) => query(request.body));

  const health = async (): Promise<{ status: string; store: string }> => ({ status: 'ok', store: (await run(service.health())).status });
  app.get('/grafana', { schema: GRAFANA_SCHEMAS.health }, health);
  app.get('/grafana/', { schema: GRAFANA_SCHEMAS.healthSlash }, health);

  app.post('/grafana/metrics', { schema: GRAFANA_SCHEMAS.metrics }, async () => GRAFANA_METRICS);

  app.post<{ Body: { metric?: string; payload?: unknown; name?: string } }>(
    '/grafana/metric-payload-options',
    { schema: GRAFANA_SCHEMAS.metricPayloadOptions },
    async (request) => {
      const { metric, name } = request.body;
      const option = (value: string): { label: string; value: string } => ({ label: value, value });
      switch (name) {
        case 'task': {
          const kind = metric === 'heavy_hitters' ? 'heavy_hitter' : metric === 'super_spreaders' ? 'super_spreader' : 'exact';
          return (await run(service.tasks())).filter((t) => t.kind === kind).map((t) => option(t.name));
        }
        case 'value':
          return ['bytes', 'packets', 'flows'].map(option);
        case 'rate':
          return ['false', 'true'].map(option);
        case 'by':
        case 'type':
          return ['bytes', 'packets'].map(option);
        default:
          return fail(`payload field ${JSON.stringify(name).slice(0, 70)} has no options (fields with options: task, value, rate, by, type)`);
      }
    },
  );

  app.post<{ Body: { payload?: unknown; target?: string } }>(
    '/grafana/variable',
    { schema: GRAFANA_SCHEMAS.variable },
    async (request) => {
      const payload = request.body.payload;
      const which =
        typeof payload === 'string' && !payload.trim().startsWith('{') ? payload.trim() : (new Payload(payloadObject(payload, 'payload'), 'payload').text('target') ?? request.body.target ?? 'tasks');
      const pairs = (values: string[]): { __text: string; __value: string }[] => values.map((v) => ({ __text: v, __value: v }));
      const tasks = (): Promise<StoredTask[]> => run(service.tasks());
      switch (which) {
        case 'tasks':
          return pairs((await tasks()).map((t) => t.name));
        case 'exact_tasks':
          return pairs((await tasks()).filter((t) => t.kind === 'exact').map((t) => t.name));
        case 'heavy_hitter_tasks':
          return pairs((await tasks()).filter((t) => t.kind === 'heavy_hitter').map((t) => t.name));
        case 'super_spreader_tasks':
          return pairs((await tasks()).filter((t) => t.kind === 'super_spreader').map((t) => t.name));
        case 'key_fields':
          return pairs(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
        default:
          return fail(`variable query ${JSON.stringify(which).slice(0, 70)} is unknown: use tasks, exact_tasks, heavy_hitter_tasks, super_spreader_tasks or key_fields`);
      }
    },
  );

  app.post('/grafana/tag-keys', { schema: GRAFANA_SCHEMAS.tagKeys }, async () => TAG_KEYS);

  app.post<{ Body: { key: GrafanaTagKey; range?: GrafanaRange } }>(
    '/grafana/tag-values',
    { schema: GRAFANA_SCHEMAS.tagValues },
    async (request) => {
      const field = TAG_FIELD[request.body.key];
      const range = request.body.range === undefined ? {} : rangeOf(request.body.range);
      const values = new Set<string>();
      for (const task of (await run(service.tasks())).filter((t) => t.kind === 'exact' && t.keyFields.includes(field))) {
        const flows = await run(service.top({ taskName: task.name, groupBy: [field], limit: 50, ...range }));
        for (const flow of flows) {
          const value = (flow.key as Record<string, string | number | undefined>)[field];
          if (value !== undefined) values.add(String(value));
        }
      }
      return [...values].map((value) => ({ text: value }));
    },
  );
}
