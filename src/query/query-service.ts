/**
 * The query service: every question the APIs (Thrift, HTTP, CLI) can ask a flow store, validated
 * here once so that the adapters stay thin. Requests are plain objects with times as int64
 * nanoseconds (bigint); anything a client can send is checked — ranges, limits, addresses, ports,
 * protocols, task names, key fields — and refused with a NetSpectraError (NS_ERR_QUERY_*) naming
 * the field. Stores then get only parsed values (model/query.ts) and bind them into SQL.
 *
 * The meaning of totals over a range (segments per period and run, state(end) − state(start)) is
 * defined in model/query.ts and docs/query.md.
 */
import { NetSpectraError, type ErrorCode } from '../model/errors.js';
import { KEY_FIELD_NAMES, type KeyFieldName } from '../model/flow.js';
import { formatIPv4, formatIPv6Words, parseAddress } from '../model/ip.js';
import type { AlertNoticeKind, AlertRecord } from '../model/alert.js';
import type { AlertQueryStore, FlowQueryStore } from '../model/ports.js';
import type {
  AddressMatch,
  FlowFilter,
  FlowOrder,
  FlowTotals,
  SeriesPoint,
  SketchList,
  SketchListType,
  SketchSnapshotInfo,
  StoredTask,
  StoredTaskKind,
  TaskTotals,
  TimeRangeNs,
} from '../model/query.js';

export const INT64_MAX = 9223372036854775807n;
const NS_PER_MS = 1_000_000n;

export interface QueryServiceOptions {
  /**
   * Largest limit (rows of a list) and largest offset of a page.
   * @default 10000
   */
  maxRows?: number;
  /**
   * Most buckets a series may have.
   * @default 10000
   */
  maxBuckets?: number;
  /**
   * How long the list of stored tasks (to refuse unknown task names) is reused (ms).
   * @default 5000
   */
  taskCacheMs?: number;
  /** The clock for defaults (series without an end); tests pass their own. */
  nowNs?: () => bigint;
}

/** Filters as clients send them: text addresses, numbers for the rest. */
export interface FlowFilterRequest {
  srcIP?: string;
  dstIP?: string;
  srcPort?: number;
  dstPort?: number;
  protocol?: number;
}

interface RangeRequest {
  /** Exclusive; undefined: from the beginning. */
  startNs?: bigint;
  /** Inclusive; undefined: everything stored. */
  endNs?: bigint;
}

export interface AggregateRequest extends RangeRequest, FlowFilterRequest {
  taskName?: string;
}

export interface TraceRequest extends RangeRequest {
  taskName: string;
  /** Field name → value text, as the original's TraceFlow sends them (`SrcIP` → `10.0.0.1`). */
  flowKeys: Readonly<Record<string, string>>;
}

export interface FlowLifecycle {
  firstSeenNs: bigint;
  lastSeenNs: bigint;
  packets: number;
  bytes: number;
}

export interface HeavyHittersRequest extends RangeRequest {
  taskName: string;
  type: number;
  limit: number;
}

export interface TopRequest extends RangeRequest {
  taskName: string;
  /** Fields to group by, e.g. ['SrcIP'] for top sources; default: the task's whole key (top flows). */
  groupBy?: readonly string[];
  by?: 'bytes' | 'packets';
  limit: number;
  filter?: FlowFilterRequest;
}

export interface SearchRequest extends RangeRequest {
  taskName: string;
  filter?: FlowFilterRequest;
  /** Fields to group by; default: the task's whole key (one row per flow). */
  groupBy?: readonly string[];
  orderBy?: string;
  descending?: boolean;
  limit: number;
  offset?: number;
}

export interface SeriesRequest extends RangeRequest {
  taskName?: string;
  startNs: bigint;
  bucketNs: bigint;
  filter?: FlowFilterRequest;
}

/** Stored alert notices: a range on their evaluation time, filters, one page, newest first. */
export interface AlertsRequest extends RangeRequest {
  rule?: string;
  taskName?: string;
  /** `firing`, `repeat` or `resolved`. */
  kind?: string;
  /** The offending flow key as text (`10.0.0.1`, `10.0.0.1,10.0.0.2,80,443,6`); '' for task-wide alerts. */
  flow?: string;
  limit: number;
  offset?: number;
}

/** Alerts active at `endNs` (default: now, i.e. as last stored). */
export interface ActiveAlertsRequest {
  endNs?: bigint;
  rule?: string;
  taskName?: string;
  limit: number;
}

export interface HealthStatus {
  /** `SERVING` when the store answers, else `NOT_SERVING: <reason>`. */
  status: string;
  ok: boolean;
}

const fail = (code: ErrorCode, message: string): never => {
  throw new NetSpectraError(code, message);
};

/** Printable, bounded task names: what a config can name a task. */
const TASK_NAME = /^[^\p{Cc}]{1,256}$/u;

function quoted(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value === 'bigint' ? `${value}` : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

export function checkTaskName(name: unknown, field = 'task_name'): string {
  if (typeof name !== 'string' || name === '') fail('NS_ERR_QUERY_TASK', `${field} is required: name a task (netspectra query tasks lists them)`);
  if (!TASK_NAME.test(name as string)) fail('NS_ERR_QUERY_TASK', `${field} ${quoted(name)} is not a task name (1 to 256 printable characters)`);
  return name as string;
}

function checkTime(value: bigint | undefined, field: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'bigint' || value < 0n || value > INT64_MAX) fail('NS_ERR_QUERY_RANGE', `${field} must be nanoseconds since the epoch from 0 to ${INT64_MAX}, got ${quoted(value)}`);
  return value;
}

export function checkRange(request: RangeRequest): TimeRangeNs {
  const startNs = checkTime(request.startNs, 'start');
  const endNs = checkTime(request.endNs, 'end') ?? INT64_MAX;
  if (startNs !== undefined && startNs >= endNs) fail('NS_ERR_QUERY_RANGE', `the range start (${startNs} ns) must be before its end (${endNs} ns)`);
  return startNs === undefined ? { endNs } : { startNs, endNs };
}

function checkInteger(value: unknown, field: string, min: number, max: number, code: ErrorCode = 'NS_ERR_QUERY_FILTER'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(code, `${field} must be an integer from ${min} to ${max}, got ${quoted(value)}`);
  return value as number;
}

function checkAddress(text: unknown, field: string): AddressMatch {
  if (typeof text !== 'string' || text.length > 64) fail('NS_ERR_QUERY_FILTER', `${field} must be an IPv4 or IPv6 address, got ${quoted(text)}`);
  const parsed = parseAddress((text as string).trim());
  if (parsed === undefined) fail('NS_ERR_QUERY_FILTER', `${field} ${quoted(text)} is not an IPv4 or IPv6 address`);
  const { words, family } = parsed!;
  return { text: canonicalAddress(words, family), family, words };
}

/** The address as the stores print it (model/ip, like the engine), so ClickHouse can compare text. */
function canonicalAddress(words: readonly [number, number, number, number], family: 4 | 6): string {
  return family === 4 ? formatIPv4(words[3]) : formatIPv6Words(words, 0);
}

export function checkFilter(request: FlowFilterRequest | undefined): FlowFilter {
  const filter: FlowFilter = {};
  if (request === undefined) return filter;
  if (request.srcIP !== undefined) filter.SrcIP = checkAddress(request.srcIP, 'src_ip');
  if (request.dstIP !== undefined) filter.DstIP = checkAddress(request.dstIP, 'dst_ip');
  if (request.srcPort !== undefined) filter.SrcPort = checkInteger(request.srcPort, 'src_port', 0, 65535);
  if (request.dstPort !== undefined) filter.DstPort = checkInteger(request.dstPort, 'dst_port', 0, 65535);
  if (request.protocol !== undefined) filter.Protocol = checkInteger(request.protocol, 'protocol', 0, 255);
  return filter;
}

/** The original's TraceFlow keys (`SrcPort` → `"443"`) as a filter. */
export function flowKeysFilter(flowKeys: Readonly<Record<string, string>>): FlowFilter {
  if (flowKeys === null || typeof flowKeys !== 'object') fail('NS_ERR_QUERY_FILTER', 'flow_keys must map key fields to values');
  const entries = Object.entries(flowKeys);
  if (entries.length === 0) fail('NS_ERR_QUERY_FILTER', `flow_keys is empty: give at least one of ${KEY_FIELD_NAMES.join(', ')}`);
  const request: FlowFilterRequest = {};
  const number = (field: string, text: string): number => {
    if (typeof text !== 'string' || !/^\s*\d{1,5}\s*$/.test(text)) fail('NS_ERR_QUERY_FILTER', `flow key ${field} must be a decimal integer, got ${quoted(text)}`);
    return Number(text);
  };
  for (const [field, value] of entries) {
    switch (field) {
      case 'SrcIP':
        request.srcIP = value;
        break;
      case 'DstIP':
        request.dstIP = value;
        break;
      case 'SrcPort':
        request.srcPort = number(field, value);
        break;
      case 'DstPort':
        request.dstPort = number(field, value);
        break;
      case 'Protocol':
        request.protocol = number(field, value);
        break;
      default:
        fail('NS_ERR_QUERY_FILTER', `unsupported flow key ${quoted(field)}: only ${KEY_FIELD_NAMES.join(', ')} are allowed`);
    }
  }
  return checkFilter(request);
}

const ORDERS: readonly FlowOrder[] = ['bytes', 'packets', 'firstSeen', 'lastSeen'];
const NOTICE_KINDS: readonly AlertNoticeKind[] = ['firing', 'repeat', 'resolved'];

/** Rule names and flow texts: printable, bounded (a config's rule name; a flow key's text). */
function checkText(value: unknown, field: string, allowEmpty: boolean): string {
  if (typeof value !== 'string' || (value === '' && !allowEmpty) || value.length > 1024 || /\p{Cc}/u.test(value)) {
    fail('NS_ERR_QUERY_FILTER', `${field} must be ${allowEmpty ? 'up to' : '1 to'} 1024 printable characters, got ${quoted(value)}`);
  }
  return value as string;
}

function isAlertQueryStore(store: object): store is AlertQueryStore {
  return typeof (store as Partial<AlertQueryStore>).alerts === 'function' && typeof (store as Partial<AlertQueryStore>).activeAlerts === 'function';
}

export class QueryService {
  readonly #store: FlowQueryStore;
  readonly #alertStore: AlertQueryStore | undefined;
  readonly #options: Required<QueryServiceOptions>;
  #taskCache: { at: number; tasks: Promise<StoredTask[]> } | undefined;

  /** `alertStore`: where alerts are read; by default the flow store when it holds them too (both built-in stores do). */
  constructor(store: FlowQueryStore, options: QueryServiceOptions = {}, alertStore?: AlertQueryStore) {
    this.#store = store;
    this.#alertStore = alertStore ?? (isAlertQueryStore(store) ? store : undefined);
    this.#options = {
      maxRows: 10_000,
      maxBuckets: 10_000,
      taskCacheMs: 5_000,
      nowNs: () => BigInt(Date.now()) * NS_PER_MS,
      ...options,
    };
  }

  get store(): FlowQueryStore {
    return this.#store;
  }

  async health(): Promise<HealthStatus> {
    const health = await this.#store.health();
    return health.ok ? { ok: true, status: 'SERVING' } : { ok: false, status: `NOT_SERVING: ${health.detail}` };
  }

  /** Every task the store holds rows for, by name. */
  async tasks(): Promise<StoredTask[]> {
    return (await this.#tasks(true)).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** AggregateFlows: totals per exact task (or one task) over a range, optionally filtered. */
  async aggregateFlows(request: AggregateRequest): Promise<TaskTotals[]> {
    const range = checkRange(request);
    const filter = checkFilter(request);
    const taskName = request.taskName === undefined || request.taskName === '' ? undefined : (await this.#task(request.taskName, ['exact'])).name;
    const totals = await this.#store.flowTotals({ taskName, range, filter });
    return totals.sort((a, b) => (a.taskName < b.taskName ? -1 : 1));
  }

  /** TraceFlow: one flow's (or the matching flows') lifetime and totals, across periods and runs. */
  async traceFlow(request: TraceRequest): Promise<FlowLifecycle> {
    const task = await this.#task(request.taskName, ['exact']);
    const filter = flowKeysFilter(request.flowKeys);
    for (const field of Object.keys(filter) as KeyFieldName[]) {
      if (!task.keyFields.includes(field)) fail('NS_ERR_QUERY_FILTER', `task ${task.name} has no ${field} in its key (${task.keyFields.join(', ')}): no flow can match`);
    }
    const range = checkRange(request);
    const [flow] = await this.#store.flows({ taskName: task.name, range, filter, groupBy: [], orderBy: 'bytes', descending: true, limit: 1, offset: 0 });
    if (flow === undefined || flow.packets === 0) {
      fail('NS_ERR_QUERY_NOT_FOUND', `no flow of task ${task.name} matches ${Object.entries(request.flowKeys).map(([k, v]) => `${k}=${v}`).join(',')} in the range`);
    }
    return { firstSeenNs: flow!.firstSeenNs, lastSeenNs: flow!.lastSeenNs, packets: flow!.packets, bytes: flow!.bytes };
  }

  /** QueryHeavyHitters: one list (0 packets, 1 bytes, 2 spread) of the newest snapshot in the range. */
  async heavyHitters(request: HeavyHittersRequest): Promise<SketchList> {
    const type = checkInteger(request.type, 'type', 0, 2) as SketchListType;
    const limit = this.#limit(request.limit);
    const task = await this.#task(request.taskName, [type === 2 ? 'super_spreader' : 'heavy_hitter']);
    return this.#store.sketchList({ taskName: task.name, type, range: checkRange(request), limit });
  }

  /** Snapshots of a sketch task in a range, newest first (to ask for the lists of one of them). */
  async sketchSnapshots(request: RangeRequest & { taskName: string; limit: number }): Promise<SketchSnapshotInfo[]> {
    const limit = this.#limit(request.limit);
    const task = await this.#task(request.taskName, ['heavy_hitter', 'super_spreader']);
    return this.#store.sketchSnapshots(task.name, checkRange(request), limit);
  }

  /** Top-N flows (or sources, destinations... with groupBy) of a task by bytes or packets. */
  async top(request: TopRequest): Promise<FlowTotals[]> {
    const by = request.by ?? 'bytes';
    if (by !== 'bytes' && by !== 'packets') fail('NS_ERR_QUERY_FILTER', `by must be bytes or packets, got ${quoted(by)}`);
    return this.search({ ...request, orderBy: by, descending: true, offset: 0 });
  }

  /** Flows of a task over a range: filtered, ordered, one bounded page at a time. */
  async search(request: SearchRequest): Promise<FlowTotals[]> {
    const groupBy = request.groupBy;
    const task = await this.#task(request.taskName, ['exact']);
    const range = checkRange(request);
    const filter = checkFilter(request.filter);
    const orderBy = (request.orderBy ?? 'bytes') as FlowOrder;
    if (!ORDERS.includes(orderBy)) fail('NS_ERR_QUERY_FILTER', `order must be one of ${ORDERS.join(', ')}, got ${quoted(request.orderBy)}`);
    const limit = this.#limit(request.limit);
    const offset = request.offset === undefined ? 0 : checkInteger(request.offset, 'offset', 0, this.#options.maxRows, 'NS_ERR_QUERY_LIMIT');
    let fields: KeyFieldName[] = task.keyFields;
    if (groupBy !== undefined && groupBy.length > 0) {
      fields = [];
      for (const field of groupBy) {
        if (!task.keyFields.includes(field as KeyFieldName)) {
          fail('NS_ERR_QUERY_FILTER', `cannot group task ${task.name} by ${quoted(field)}: its key fields are ${task.keyFields.join(', ')}`);
        }
        if (!fields.includes(field as KeyFieldName)) fields.push(field as KeyFieldName);
      }
    }
    return this.#store.flows({ taskName: task.name, range, filter, groupBy: fields, orderBy, descending: request.descending ?? true, limit, offset });
  }

  /** Bytes, packets and flows per bucket of (start, end], per exact task or for one. */
  async series(request: SeriesRequest): Promise<SeriesPoint[]> {
    if (request.startNs === undefined) fail('NS_ERR_QUERY_RANGE', 'a series needs a start');
    const endNs = request.endNs ?? this.#options.nowNs();
    const range = checkRange({ startNs: request.startNs, endNs });
    if (typeof request.bucketNs !== 'bigint' || request.bucketNs < NS_PER_MS || request.bucketNs > INT64_MAX) {
      fail('NS_ERR_QUERY_LIMIT', `the bucket size must be at least 1 ms (1000000 ns), got ${quoted(request.bucketNs)} ns`);
    }
    const span = range.endNs - range.startNs!;
    const buckets = (span + request.bucketNs - 1n) / request.bucketNs;
    if (buckets > BigInt(this.#options.maxBuckets)) {
      fail('NS_ERR_QUERY_RANGE', `the range would make ${buckets} buckets of ${request.bucketNs} ns; at most ${this.#options.maxBuckets} are allowed: use a larger bucket or a shorter range`);
    }
    const filter = checkFilter(request.filter);
    const taskName = request.taskName === undefined || request.taskName === '' ? undefined : (await this.#task(request.taskName, ['exact'])).name;
    const startNs = range.startNs!;
    const points = await this.#store.series({ taskName, range: { startNs, endNs: range.endNs }, bucketNs: request.bucketNs, filter });
    // Stores return only buckets with traffic; charts need every bucket, empty ones as zeros.
    const byTask = new Map<string, Map<bigint, SeriesPoint>>();
    if (taskName !== undefined) byTask.set(taskName, new Map());
    for (const point of points) {
      let task = byTask.get(point.taskName);
      if (task === undefined) {
        task = new Map<bigint, SeriesPoint>();
        byTask.set(point.taskName, task);
      }
      task.set(point.bucketStartNs, point);
    }
    const filled: SeriesPoint[] = [];
    for (const name of [...byTask.keys()].sort()) {
      const task = byTask.get(name)!;
      for (let k = 0n; k < buckets; k++) {
        const bucketStartNs = startNs + k * request.bucketNs;
        filled.push(task.get(bucketStartNs) ?? { taskName: name, bucketStartNs, bytes: 0, packets: 0, flows: 0 });
      }
    }
    return filled;
  }

  /** Stored alert notices (fired, repeated, resolved) in a range, newest first, filtered and paged. */
  async alerts(request: AlertsRequest): Promise<AlertRecord[]> {
    const store = this.#alerts();
    const range = checkRange(request);
    const limit = this.#limit(request.limit);
    const offset = request.offset === undefined ? 0 : checkInteger(request.offset, 'offset', 0, this.#options.maxRows, 'NS_ERR_QUERY_LIMIT');
    const kind = request.kind;
    if (kind !== undefined && !NOTICE_KINDS.includes(kind as AlertNoticeKind)) fail('NS_ERR_QUERY_FILTER', `kind must be one of ${NOTICE_KINDS.join(', ')}, got ${quoted(kind)}`);
    return store.alerts({
      range,
      limit,
      offset,
      ...this.#alertFilters(request),
      ...(kind === undefined ? {} : { kind: kind as AlertNoticeKind }),
      ...(request.flow === undefined ? {} : { flowText: checkText(request.flow, 'flow', true) }),
    });
  }

  /** Alerts active at a time (default: as last stored): the newest notice of each, newest first. */
  async activeAlerts(request: ActiveAlertsRequest): Promise<AlertRecord[]> {
    const store = this.#alerts();
    const { endNs } = checkRange({ endNs: request.endNs });
    return store.activeAlerts({ endNs, limit: this.#limit(request.limit), ...this.#alertFilters(request) });
  }

  #alerts(): AlertQueryStore {
    if (this.#alertStore === undefined) fail('NS_ERR_QUERY_STORE', `${this.#store.description} does not hold alerts`);
    return this.#alertStore!;
  }

  #alertFilters(request: { rule?: string; taskName?: string }): { rule?: string; taskName?: string } {
    return {
      ...(request.rule === undefined ? {} : { rule: checkText(request.rule, 'rule', false) }),
      // a task that only alerts name (its flows not stored) is still a valid filter
      ...(request.taskName === undefined ? {} : { taskName: checkTaskName(request.taskName) }),
    };
  }

  #limit(limit: unknown): number {
    return checkInteger(limit, 'limit', 1, this.#options.maxRows, 'NS_ERR_QUERY_LIMIT');
  }

  async #tasks(fresh: boolean): Promise<StoredTask[]> {
    const now = Date.now();
    if (!fresh && this.#taskCache !== undefined && now - this.#taskCache.at <= this.#options.taskCacheMs) return this.#taskCache.tasks;
    const tasks = this.#store.tasks();
    this.#taskCache = { at: now, tasks };
    // a failed listing is not kept: the next request asks the store again
    tasks.catch(() => {
      if (this.#taskCache?.tasks === tasks) this.#taskCache = undefined;
    });
    return tasks;
  }

  /** The stored task of that name and one of the kinds, else a clear refusal. */
  async #task(name: string, kinds: readonly StoredTaskKind[]): Promise<StoredTask> {
    checkTaskName(name);
    let task = (await this.#tasks(false)).find((t) => t.name === name);
    // a task that appeared since the cache was filled
    task ??= (await this.#tasks(true)).find((t) => t.name === name);
    if (task === undefined) {
      const known = (await this.#tasks(false)).map((t) => t.name).sort();
      // stores know a task by its rows: a sketch task appears once it reported an entry
      const hint = kinds.includes('exact') ? '' : '; a sketch task appears once it has reported a heavy hitter or super-spreader';
      fail('NS_ERR_QUERY_TASK', `the store holds no task named ${quoted(name)} (tasks: ${known.length === 0 ? 'none yet' : known.join(', ')})${hint}`);
    }
    if (!kinds.includes(task!.kind)) fail('NS_ERR_QUERY_TASK', `task ${name} is a ${task!.kind.replace('_', '-')} task; this query needs a ${kinds.map((k) => k.replace('_', '-')).join(' or ')} task`);
    return task!;
  }
}
