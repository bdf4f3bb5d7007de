/**
 * The embedded store's read side (FlowQueryStore) over the layout of duckdb-schema.ts.
 *
 * Queries read the numeric `flow_metrics_raw` joined to `snapshots`, not the `flow_metrics` view:
 * filtering and grouping by the address halves avoids formatting every row's addresses as text;
 * only the rows of a result are formatted (model/ip, exactly as the engine prints them). Every
 * value is a bound parameter ($name) with an explicit type.
 *
 * A segment (model/query.ts) is (task, run, period, key): the store keeps one engine per run.
 * Every row also holds its growth since its segment's previous row (duckdb-schema.ts), so a range's
 * totals add up the grown rows recorded in it, and a series without a filter reads the per-snapshot
 * sums of `snapshots`.
 */
import { BIGINT, DuckDBInstance, INTEGER, UBIGINT, UTINYINT, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import { KEY_FIELD_NAMES, type KeyFieldName } from '../model/flow.js';
import { formatAddressWords } from '../model/ip.js';
import type { AlertRecord } from '../model/alert.js';
import type { AlertQueryStore, FlowQueryStore } from '../model/ports.js';
import type {
  ActiveAlertQuery,
  AlertQuery,
  FlowFilter,
  FlowListQuery,
  FlowRangeQuery,
  FlowTotals,
  SeriesPoint,
  SeriesQuery,
  SketchList,
  SketchListQuery,
  SketchListType,
  SketchSnapshotInfo,
  StoreHealth,
  StoredTask,
  TaskTotals,
  TimeRangeNs,
} from '../model/query.js';
import type { KeyObject } from '../model/snapshot.js';
import { SCHEMA_VERSION } from './duckdb-schema.js';
import { ALERT_COLUMNS, alertRecordOf } from './alert-rows.js';

export type DuckDbQueryStoreOptions =
  | {
      /** The store file, opened read-only (several readers may share it; a writer may not hold it). */
      path: string;
    }
  | {
      /** A connection of a store this process already has open (e.g. a DuckDbStore's), shared. */
      connection: DuckDBConnection;
      description: string;
    };

type Params = Record<string, DuckDBValue>;
type Types = Record<string, DuckDBType>;

/** Collects bound parameters for one statement. */
class Binder {
  readonly values: Params = {};
  readonly types: Types = {};
  #next = 0;
  bind(value: DuckDBValue, type: DuckDBType): string {
    const name = `p${this.#next++}`;
    this.values[name] = value;
    this.types[name] = type;
    return `$${name}`;
  }
}

const KEY_COLUMNS = 'r.Family, r.SrcHi, r.SrcLo, r.DstHi, r.DstLo, r.SrcPort, r.DstPort, r.Protocol';

const hiOf = (words: readonly number[]): bigint => (BigInt(words[0]! >>> 0) << 32n) | BigInt(words[1]! >>> 0);
const loOf = (words: readonly number[]): bigint => (BigInt(words[2]! >>> 0) << 32n) | BigInt(words[3]! >>> 0);

function addressText(family: unknown, hi: unknown, lo: unknown): string | undefined {
  if (lo === null || lo === undefined) return undefined;
  const h = BigInt(hi as bigint);
  const l = BigInt(lo as bigint);
  const words = [Number(h >> 32n), Number(h & 0xffffffffn), Number(l >> 32n), Number(l & 0xffffffffn)];
  return formatAddressWords(words, 0, Number(family));
}

const toNumber = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
const toBig = (value: unknown): bigint => (value === null || value === undefined ? 0n : BigInt(value as bigint));

export class DuckDbQueryStore implements FlowQueryStore, AlertQueryStore {
  readonly description: string;
  /** A file opened read-only cannot change while it is open; a shared connection's writer can. */
  readonly version: (() => number) | undefined;
  readonly #options: DuckDbQueryStoreOptions;
  #instance: DuckDBInstance | undefined;
  /** Queries on a shared connection run one at a time (a connection runs one statement). */
  #sharedQueue: Promise<unknown> = Promise.resolve();

  constructor(options: DuckDbQueryStoreOptions) {
    this.#options = options;
    this.description = 'path' in options ? `duckdb:${options.path}` : options.description;
    this.version = 'path' in options ? () => 0 : undefined;
  }

  async start(): Promise<void> {
    if (!('path' in this.#options) || this.#instance !== undefined) return;
    const path = this.#options.path;
    try {
      this.#instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY', threads: '2' });
    } catch (error) {
      throw new NetSpectraError(
        'NS_ERR_STORE_OPEN',
        `cannot open the embedded store ${path} for reading: ${errorMessage(error)} (does the file exist? a running analyze or engine holds it until it ends)`,
        { cause: error },
      );
    }
    try {
      const rows = await this.#rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'netspectra_schema'");
      const version = rows.length === 0 ? undefined : toNumber((await this.#rows('SELECT max(Version) AS v FROM netspectra_schema'))[0]?.v);
      if (version !== SCHEMA_VERSION) {
        throw new NetSpectraError(
          'NS_ERR_STORE_SCHEMA',
          `the embedded store ${path} has store layout ${version ?? 'none (not a NetSpectra store)'} and this NetSpectra reads layout ${SCHEMA_VERSION}`,
        );
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.#instance?.closeSync();
    this.#instance = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async health(): Promise<StoreHealth> {
    try {
      const [row] = await this.#rows('SELECT count(*) AS snapshots, coalesce(max(TimestampNs), 0) AS newest FROM snapshots');
      return { ok: true, detail: `${this.description}: ${toNumber(row?.snapshots)} flow snapshots, newest at ${toBig(row?.newest)} ns` };
    } catch (error) {
      return { ok: false, detail: `${this.description}: ${errorMessage(error)}` };
    }
  }

  async tasks(): Promise<StoredTask[]> {
    const rows = await this.#rows(
      `SELECT TaskName, Kind, KeyFields FROM tasks
       UNION ALL
       SELECT TaskName, CASE WHEN max(Type) = 2 THEN 'super_spreader' ELSE 'heavy_hitter' END, '' FROM heavy_hitters GROUP BY TaskName`,
    );
    return rows.map((row) => ({
      name: String(row.TaskName),
      kind: String(row.Kind) as StoredTask['kind'],
      keyFields: String(row.KeyFields)
        .split(',')
        .filter((f): f is KeyFieldName => (KEY_FIELD_NAMES as readonly string[]).includes(f)),
    }));
  }

  async flowTotals(query: FlowRangeQuery): Promise<TaskTotals[]> {
    const b = new Binder();
    const rows = await this.#rows(
      `WITH per_key AS (
         SELECT s.TaskId, sum(r.DeltaPackets) AS packets, sum(r.DeltaBytes) AS bytes
         FROM flow_metrics_raw r JOIN snapshots s ON s.SnapshotId = r.SnapshotId
         WHERE ${grown(b, query.taskName, query.range, query.filter)}
         GROUP BY s.TaskId, ${KEY_COLUMNS}
       )
       SELECT t.TaskName, sum(k.bytes) AS bytes, sum(k.packets) AS packets, count(*) AS flows
       FROM per_key k JOIN tasks t ON t.TaskId = k.TaskId GROUP BY t.TaskName ORDER BY t.TaskName`,
      b,
    );
    return rows.map((row) => ({ taskName: String(row.TaskName), bytes: toNumber(row.bytes), packets: toNumber(row.packets), flows: toNumber(row.flows) }));
  }

  async flows(query: FlowListQuery): Promise<FlowTotals[]> {
    const b = new Binder();
    const groupColumns = groupColumnsOf(query.groupBy);
    const order = { bytes: 'bytes', packets: 'packets', firstSeen: 'firstNs', lastSeen: 'lastNs' }[query.orderBy];
    const direction = query.descending ? 'DESC' : 'ASC';
    // A grown row's StartTimeNs is its segment's first seen (constant within a segment), and the
    // newest grown row of a segment in the range has the segment's last seen up to the range's end
    // (rows that did not grow repeat the previous row's).
    const rows = await this.#rows(
      `SELECT t.TaskName${groupColumns.map((c) => `, g.${c}`).join('')}, g.bytes, g.packets, g.firstNs, g.lastNs FROM (
         SELECT s.TaskId${groupColumns.map((c) => `, r.${c}`).join('')}, sum(r.DeltaBytes) AS bytes, sum(r.DeltaPackets) AS packets, min(r.StartTimeNs) AS firstNs, max(r.EndTimeNs) AS lastNs
         FROM flow_metrics_raw r JOIN snapshots s ON s.SnapshotId = r.SnapshotId
         WHERE ${grown(b, query.taskName, query.range, query.filter)}
         GROUP BY s.TaskId${groupColumns.map((c) => `, r.${c}`).join('')}
       ) g JOIN tasks t ON t.TaskId = g.TaskId
       ORDER BY g.${order} ${direction}${groupColumns.map((c) => `, g.${c}`).join('')}
       LIMIT ${b.bind(query.limit, INTEGER)} OFFSET ${b.bind(query.offset, INTEGER)}`,
      b,
    );
    return rows.map((row) => ({
      taskName: String(row.TaskName),
      key: keyOf(row, query.groupBy),
      bytes: toNumber(row.bytes),
      packets: toNumber(row.packets),
      firstSeenNs: toBig(row.firstNs),
      lastSeenNs: toBig(row.lastNs),
    }));
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    const b = new Binder();
    const start = b.bind(query.range.startNs, BIGINT);
    const bucket = `(s.TimestampNs - ${start} - 1) // ${b.bind(query.bucketNs, BIGINT)}`;
    const unfiltered = Object.values(query.filter).every((value) => value === undefined);
    const statement = unfiltered
      ? // Every snapshot row holds its rows' growth summed and how many grew. One task snapshot
        // holds a flow once, so a bucket with one snapshot of a task has that many distinct flows:
        // only buckets with several snapshots count their distinct keys from the rows.
        `WITH snaps AS (
           SELECT s.SnapshotId, s.TaskId, ${bucket} AS bucket, s.Bytes, s.Packets, s.Flows FROM snapshots s
           WHERE ${snapshotConditions(b, query.taskName, query.range)} AND s.Packets > 0
         ), per AS (
           SELECT TaskId, bucket, sum(Bytes) AS bytes, sum(Packets) AS packets, sum(Flows) AS flows, count(*) AS n FROM snaps GROUP BY TaskId, bucket
         ), several AS (
           SELECT TaskId, bucket, count(*) AS flows FROM (
             SELECT DISTINCT m.TaskId, m.bucket, ${KEY_COLUMNS}
             FROM flow_metrics_raw r JOIN snaps m ON m.SnapshotId = r.SnapshotId JOIN per p ON p.TaskId = m.TaskId AND p.bucket = m.bucket
             WHERE p.n > 1 AND r.DeltaPackets > 0
           ) GROUP BY TaskId, bucket
         )
         SELECT t.TaskName, p.bucket, p.packets, p.bytes, coalesce(v.flows, p.flows) AS flows
         FROM per p JOIN tasks t ON t.TaskId = p.TaskId LEFT JOIN several v ON v.TaskId = p.TaskId AND v.bucket = p.bucket
         ORDER BY t.TaskName, p.bucket`
      : `WITH per_key AS (
           SELECT s.TaskId, ${bucket} AS bucket, sum(r.DeltaPackets) AS dp, sum(r.DeltaBytes) AS dy
           FROM flow_metrics_raw r JOIN snapshots s ON s.SnapshotId = r.SnapshotId
           WHERE ${grown(b, query.taskName, query.range, query.filter)}
           GROUP BY s.TaskId, bucket, ${KEY_COLUMNS}
         )
         SELECT t.TaskName, k.bucket, sum(k.dp) AS packets, sum(k.dy) AS bytes, count(*) AS flows
         FROM per_key k JOIN tasks t ON t.TaskId = k.TaskId GROUP BY t.TaskName, k.bucket ORDER BY t.TaskName, k.bucket`;
    const rows = await this.#rows(statement, b);
    return rows.map((row) => ({
      taskName: String(row.TaskName),
      bucketStartNs: query.range.startNs + toBig(row.bucket) * query.bucketNs,
      bytes: toNumber(row.bytes),
      packets: toNumber(row.packets),
      flows: toNumber(row.flows),
    }));
  }

  async sketchList(query: SketchListQuery): Promise<SketchList> {
    const b = new Binder();
    const task = b.bind(query.taskName, VARCHAR);
    const type = b.bind(query.type, UTINYINT);
    const rows = await this.#rows(
      `SELECT h.Flow, h.Value, h.TimestampNs FROM heavy_hitters h
       JOIN (
         SELECT TimestampNs AS ts, RunId AS run FROM heavy_hitters
         WHERE TaskName = ${task} AND Type = ${type} AND TimestampNs > ${b.bind(query.range.startNs ?? -1n, BIGINT)} AND TimestampNs <= ${b.bind(query.range.endNs, BIGINT)}
         ORDER BY TimestampNs DESC, RunId DESC LIMIT 1
       ) newest ON h.TimestampNs = newest.ts AND h.RunId = newest.run
       WHERE h.TaskName = ${task} AND h.Type = ${type}
       ORDER BY h.Value DESC, h.Flow LIMIT ${b.bind(query.limit, INTEGER)}`,
      b,
    );
    return { snapshotNs: rows.length === 0 ? undefined : toBig(rows[0]!.TimestampNs), entries: rows.map((row) => ({ flow: String(row.Flow), value: toNumber(row.Value) })) };
  }

  async sketchSnapshots(taskName: string, range: TimeRangeNs, limit: number): Promise<SketchSnapshotInfo[]> {
    const b = new Binder();
    const rows = await this.#rows(
      `SELECT TimestampNs, Type, count(*) AS entries FROM heavy_hitters
       WHERE TaskName = ${b.bind(taskName, VARCHAR)} AND TimestampNs > ${b.bind(range.startNs ?? -1n, BIGINT)} AND TimestampNs <= ${b.bind(range.endNs, BIGINT)}
       GROUP BY TimestampNs, Type ORDER BY TimestampNs DESC, Type LIMIT ${b.bind(limit, INTEGER)}`,
      b,
    );
    return rows.map((row) => ({ timestampNs: toBig(row.TimestampNs), type: toNumber(row.Type) as SketchListType, entries: toNumber(row.entries) }));
  }

  async alerts(query: AlertQuery): Promise<AlertRecord[]> {
    if (!(await this.#hasAlerts())) return [];
    const b = new Binder();
    const where = [`TimestampNs > ${b.bind(query.range.startNs ?? -1n, BIGINT)}`, `TimestampNs <= ${b.bind(query.range.endNs, BIGINT)}`, ...alertFilters(b, query)];
    if (query.kind !== undefined) where.push(`Kind = ${b.bind(query.kind, VARCHAR)}`);
    if (query.flowText !== undefined) where.push(`FlowText = ${b.bind(query.flowText, VARCHAR)}`);
    const rows = await this.#rows(
      `SELECT ${ALERT_COLUMN_LIST} FROM alerts WHERE ${where.join(' AND ')}
       ORDER BY TimestampNs DESC, Rule, FlowText, EngineId, Kind LIMIT ${b.bind(query.limit, INTEGER)} OFFSET ${b.bind(query.offset, INTEGER)}`,
      b,
    );
    return rows.map(alertRecordOf);
  }

  async activeAlerts(query: ActiveAlertQuery): Promise<AlertRecord[]> {
    if (!(await this.#hasAlerts())) return [];
    const b = new Binder();
    const end = b.bind(query.endNs, BIGINT);
    // per engine its newest run (a restarted engine starts with no alert state); per alert of that
    // run its newest notice: active unless it is a resolution
    const rows = await this.#rows(
      `WITH upto AS (SELECT * FROM alerts WHERE TimestampNs <= ${end}),
       runs AS (SELECT EngineId, arg_max(RunId, TimestampNs) AS RunId FROM upto GROUP BY EngineId),
       newest AS (SELECT EngineId, RunId, AlertId, max(TimestampNs) AS TimestampNs FROM upto GROUP BY EngineId, RunId, AlertId)
       SELECT ${ALERT_COLUMN_LIST} FROM upto
       JOIN runs USING (EngineId, RunId)
       JOIN newest USING (EngineId, RunId, AlertId, TimestampNs)
       WHERE ${["Kind <> 'resolved'", ...alertFilters(b, query)].join(' AND ')}
       ORDER BY TimestampNs DESC, Rule, FlowText, EngineId LIMIT ${b.bind(query.limit, INTEGER)}`,
      b,
    );
    return rows.map(alertRecordOf);
  }

  /** Files written before alerts were stored have no table (and a read-only reader cannot add it). */
  async #hasAlerts(): Promise<boolean> {
    const [row] = await this.#rows("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'alerts'");
    return toNumber(row?.n) > 0;
  }

  async #rows(statement: string, binder?: Binder): Promise<Record<string, unknown>[]> {
    const run = async (connection: DuckDBConnection): Promise<Record<string, unknown>[]> => {
      try {
        const reader = binder === undefined ? await connection.runAndReadAll(statement) : await connection.runAndReadAll(statement, binder.values, binder.types);
        return reader.getRowObjectsJS();
      } catch (error) {
        throw new NetSpectraError('NS_ERR_QUERY_STORE', `${this.description} could not answer a query: ${errorMessage(error)}`, { cause: error });
      }
    };
    if ('connection' in this.#options) {
      const shared = this.#options.connection;
      const result = this.#sharedQueue.then(() => run(shared));
      this.#sharedQueue = result.catch(() => undefined);
      return result;
    }
    if (this.#instance === undefined) throw new NetSpectraError('NS_ERR_QUERY_STORE', `${this.description} is not open`);
    // one connection per query: DuckDB runs them in parallel
    const connection = await this.#instance.connect();
    try {
      return await run(connection);
    } finally {
      connection.closeSync();
    }
  }
}

const ALERT_COLUMN_LIST = ALERT_COLUMNS.join(', ');

/** Conditions on a rule and a task of alert rows. */
function alertFilters(b: Binder, query: { rule?: string; taskName?: string }): string[] {
  const where: string[] = [];
  if (query.rule !== undefined) where.push(`Rule = ${b.bind(query.rule, VARCHAR)}`);
  if (query.taskName !== undefined) where.push(`TaskName = ${b.bind(query.taskName, VARCHAR)}`);
  return where;
}

/** WHERE conditions on `s` (snapshots) for a task and a range (start, end]. */
function snapshotConditions(b: Binder, taskName: string | undefined, range: TimeRangeNs): string {
  const where = [`s.TimestampNs <= ${b.bind(range.endNs, BIGINT)}`];
  if (range.startNs !== undefined) where.push(`s.TimestampNs > ${b.bind(range.startNs, BIGINT)}`);
  if (taskName !== undefined) where.push(`s.TaskId = (SELECT TaskId FROM tasks WHERE TaskName = ${b.bind(taskName, VARCHAR)})`);
  return where.join(' AND ');
}

/**
 * WHERE conditions on `r` (flow_metrics_raw) and `s` (snapshots): the rows of a task in a range
 * that match a filter and grew. Every flow's growth in (start, end] is the sum of its rows' growth
 * recorded there (DeltaPackets/DeltaBytes, each over the segment's previous row): the segment's
 * state at the end minus its state at the start, without finding either state.
 */
function grown(b: Binder, taskName: string | undefined, range: TimeRangeNs, filter: FlowFilter): string {
  const where = [snapshotConditions(b, taskName, range), 'r.DeltaPackets > 0'];
  for (const [field, prefix] of [
    ['SrcIP', 'Src'],
    ['DstIP', 'Dst'],
  ] as const) {
    const address = filter[field];
    if (address === undefined) continue;
    where.push(`r.Family = ${b.bind(address.family, UTINYINT)}`);
    where.push(`r.${prefix}Hi = ${b.bind(hiOf(address.words), UBIGINT)} AND r.${prefix}Lo = ${b.bind(loOf(address.words), UBIGINT)}`);
  }
  for (const field of ['SrcPort', 'DstPort', 'Protocol'] as const) {
    const value = filter[field];
    if (value !== undefined) where.push(`r.${field} = ${b.bind(value, INTEGER)}`);
  }
  return where.join(' AND ');
}

/** Columns of flow_metrics_raw that a grouping by key fields needs (an address's family with the address). */
function groupColumnsOf(fields: readonly KeyFieldName[]): string[] {
  const columns: string[] = [];
  if (fields.includes('SrcIP') || fields.includes('DstIP')) columns.push('Family');
  if (fields.includes('SrcIP')) columns.push('SrcHi', 'SrcLo');
  if (fields.includes('DstIP')) columns.push('DstHi', 'DstLo');
  for (const field of ['SrcPort', 'DstPort', 'Protocol'] as const) if (fields.includes(field)) columns.push(field);
  return columns;
}

function keyOf(row: Record<string, unknown>, fields: readonly KeyFieldName[]): KeyObject {
  const key: KeyObject = {};
  const src = fields.includes('SrcIP') ? addressText(row.Family, row.SrcHi, row.SrcLo) : undefined;
  const dst = fields.includes('DstIP') ? addressText(row.Family, row.DstHi, row.DstLo) : undefined;
  if (src !== undefined) key.SrcIP = src;
  if (dst !== undefined) key.DstIP = dst;
  for (const field of ['SrcPort', 'DstPort', 'Protocol'] as const) {
    if (fields.includes(field) && row[field] !== null && row[field] !== undefined) key[field] = Number(row[field]);
  }
  return key;
}

