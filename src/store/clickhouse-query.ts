/**
 * The ClickHouse read side (FlowQueryStore) over the original's tables plus our columns
 * (clickhouse-schema.ts), for ClickHouse 18.16 and newer: every value is bound by clickhouse-sql.ts
 * (18.16 has no server-side parameters), no window functions, `LIMIT offset, n`, JSONEachRow.
 *
 * A segment (model/query.ts) is (task, key, RunId, EngineId, PeriodId): every engine run counts
 * from zero in every period. Our rows carry their growth since the previous row of their segment
 * (DeltaBytes, DeltaPackets: the writer's segment counters), so what a range (start, end] holds is
 * the sum of the deltas of the rows with start < TimestampNs ≤ end — per segment that telescopes to
 * state(end) − state(start) — and no query groups by segment: a total is a column sum, a flow count
 * the distinct keys of rows that grew, a series the rows bucketed by time. On 10M rows that is the
 * difference between a scan and a 10M-group aggregation (bench/query-bench.ts).
 *
 * Rows without deltas (HasDeltas = 0: rows of the original — empty RunId, PeriodId 0, one segment
 * per flow, as its own newest-row-per-flow queries assumed — and rows of NetSpectra builds before
 * the growth columns) are still grouped by segment (a segment's
 * counters never decrease, so its newest state is its max(); a series differences each segment's
 * per-bucket states as arrays, 18.16 having no window functions). Their per-segment growth joins
 * our per-row growth with UNION ALL before the same aggregation, so such a table answers
 * correctly, at the old cost only for those rows.
 *
 * Distinct keys are counted, and groups formed, over a 64-bit cityHash64 of the key's fields
 * instead of the Nullable columns themselves (3–4× faster on 18.16): for the whole key the KeyHash
 * column the server stores at insert (clickhouse-schema.ts), for fewer fields (top sources) one
 * computed the same way. Two keys collide with probability 2^-64; among 10M distinct keys some pair
 * does with probability about 3·10^-6, merging two flows. Top-N and search pages are formed over the hash alone, ties ordered by it,
 * and only the page's groups then get their key fields (a second, filtered scan): taking the
 * fields of every group costs 3× the grouping.
 *
 * First and last seen of a flow are the min StartTimeNs and max EndTimeNs of its rows that grew in
 * the range: a segment's first-seen only falls and its last-seen only rises from row to row, and
 * its newest row in a range it grew in has growth, so this is the earliest first-seen and latest
 * last-seen of the contributing segments (docs/query.md).
 *
 * The conditions name TaskName and Timestamp besides TimestampNs, so the primary key
 * (TaskName, Timestamp) prunes the parts read.
 */
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config/schema.js';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { KeyFieldName } from '../model/flow.js';
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
import { dateTime, identifier, integer, joinSql, sql, type Sql } from './clickhouse-sql.js';
import { classify, clickHouseUrl } from './clickhouse-store.js';
import { ALERT_COLUMNS, alertRecordOf } from './alert-rows.js';
import { KEY_HASH_SQL } from './clickhouse-schema.js';

export interface ClickHouseQueryStoreOptions {
  /** Where to read (a clickhouse writer's block: the same server and database the engines write). */
  connection: Pick<ClickHouseConfig, 'host' | 'port' | 'database' | 'username' | 'password' | 'cloud'>;
  /**
   * Time allowed for one query (ms).
   * @default 30000
   */
  requestTimeoutMs?: number;
}

const KEY = sql`SrcIP, DstIP, SrcPort, DstPort, Protocol`;
const SEGMENT = sql`TaskName, RunId, EngineId, PeriodId, SrcIP, DstIP, SrcPort, DstPort, Protocol`;
const KEY_FIELDS: readonly KeyFieldName[] = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'];

/**
 * Some key fields as one UInt64 (see the module comment); a constant for none. The whole key is
 * the stored KeyHash column (`stored`: our rows read from the table) or the same expression (over
 * the original's segments); fewer fields are hashed here, through assumeNotNull like KeyHash.
 */
function keyHash(fields: readonly KeyFieldName[], stored: boolean): Sql {
  if (fields.length === 0) return sql`toUInt64(0)`;
  if (KEY_FIELDS.every((field) => fields.includes(field))) return stored ? sql`KeyHash` : KEY_HASH_SQL;
  return sql`cityHash64(${joinSql(fields.map((field) => sql`assumeNotNull(${identifier(field)})`))})`;
}
/** Largest unix second a DateTime holds. */
const DATETIME_MAX = 4294967295n;
const NS = 1_000_000_000n;

const toNumber = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
const toBig = (value: unknown): bigint => (value === null || value === undefined ? 0n : BigInt(value as string));

export class ClickHouseQueryStore implements FlowQueryStore, AlertQueryStore {
  readonly description: string;
  readonly #options: ClickHouseQueryStoreOptions;
  readonly #url: string;
  #client: ClickHouseClient | undefined;

  constructor(options: ClickHouseQueryStoreOptions) {
    this.#options = options;
    this.#url = clickHouseUrl(options.connection);
    this.description = `clickhouse:${this.#url}/${options.connection.database}`;
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    const { connection } = this.#options;
    identifier(connection.database); // refuses a database name that is not a plain identifier
    this.#client = createClient({
      url: this.#url,
      username: connection.username,
      password: connection.password,
      request_timeout: this.#options.requestTimeoutMs ?? 30_000,
      application: 'netspectra-query',
      log: { level: ClickHouseLogLevel.OFF },
      // readonly 2: statements of this client can read and set settings, never write or change a
      // table, whatever a bug upstream let through; a query that runs away is stopped.
      clickhouse_settings: { readonly: '2', max_query_size: '16777216', max_execution_time: Math.ceil((this.#options.requestTimeoutMs ?? 30_000) / 1000) },
    });
    try {
      await this.#select(sql`SELECT version() AS version`);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async health(): Promise<StoreHealth> {
    try {
      const [version] = await this.#select(sql`SELECT version() AS version`);
      const tables = await this.#select(
        sql`SELECT name FROM system.tables WHERE database = ${this.#options.connection.database} AND name IN ('flow_metrics', 'heavy_hitters')`,
      );
      if (tables.length < 2) return { ok: false, detail: `${this.description}: ClickHouse ${String(version?.version)} answers, but the flow_metrics and heavy_hitters tables are missing (no engine wrote yet)` };
      return { ok: true, detail: `${this.description}: ClickHouse ${String(version?.version)}` };
    } catch (error) {
      return { ok: false, detail: errorMessage(error) };
    }
  }

  async tasks(): Promise<StoredTask[]> {
    const exact = await this.#select(
      sql`SELECT TaskName, max(isNotNull(SrcIP)) AS s, max(isNotNull(DstIP)) AS d, max(isNotNull(SrcPort)) AS sp, max(isNotNull(DstPort)) AS dp, max(isNotNull(Protocol)) AS p
          FROM ${this.#table('flow_metrics')} GROUP BY TaskName`,
    );
    const sketches = await this.#select(sql`SELECT TaskName, max(Type) AS t FROM ${this.#table('heavy_hitters')} GROUP BY TaskName`);
    const flags: [string, KeyFieldName][] = [
      ['s', 'SrcIP'],
      ['d', 'DstIP'],
      ['sp', 'SrcPort'],
      ['dp', 'DstPort'],
      ['p', 'Protocol'],
    ];
    return [
      ...exact.map((row): StoredTask => ({ name: String(row.TaskName), kind: 'exact', keyFields: flags.filter(([column]) => toNumber(row[column]) === 1).map(([, field]) => field) })),
      ...sketches.map((row): StoredTask => ({ name: String(row.TaskName), kind: toNumber(row.t) === 2 ? 'super_spreader' : 'heavy_hitter', keyFields: [] })),
    ];
  }

  async flowTotals(query: FlowRangeQuery): Promise<TaskTotals[]> {
    const rows = await this.#select(
      sql`SELECT TaskName, sum(dBytes) AS totalBytes, sum(dPackets) AS totalPackets, uniqExact(g) AS flowCount
          FROM (${this.#growth(query, KEY_FIELDS, {})}) GROUP BY TaskName ORDER BY TaskName`,
    );
    return rows.map((row) => ({ taskName: String(row.TaskName), bytes: toNumber(row.totalBytes), packets: toNumber(row.totalPackets), flows: toNumber(row.flowCount) }));
  }

  async flows(query: FlowListQuery): Promise<FlowTotals[]> {
    const totals = sql`sum(dBytes) AS gBytes, sum(dPackets) AS gPackets, min(firstNs) AS gFirst, max(lastNs) AS gLast`;
    const flow = (row: Record<string, unknown>): FlowTotals => ({
      taskName: query.taskName,
      key: keyOf(row, query.groupBy),
      bytes: toNumber(row.gBytes),
      packets: toNumber(row.gPackets),
      firstSeenNs: toBig(row.gFirst),
      lastSeenNs: toBig(row.gLast),
    });
    if (query.groupBy.length === 0) {
      // one group (TraceFlow: the flows of a filter): one scan
      if (query.offset > 0) return [];
      const rows = await this.#select(sql`SELECT ${totals} FROM (${this.#growth(query, [], { withTimes: true })}) HAVING count() > 0`);
      return rows.map(flow);
    }
    const order = { bytes: sql`sum(dBytes)`, packets: sql`sum(dPackets)`, firstSeen: sql`min(firstNs)`, lastSeen: sql`max(lastNs)` }[query.orderBy];
    const direction = query.descending ? sql`DESC` : sql`ASC`;
    // the page: the groups (by a hash of their fields, see the module comment) and only the value
    // they are ordered by, every other aggregate of a million groups costing as much again
    const page = await this.#select(
      sql`SELECT g, ${order} AS ordered FROM (${this.#growth(query, query.groupBy, { withTimes: query.orderBy === 'firstSeen' || query.orderBy === 'lastSeen' })})
          GROUP BY g ORDER BY ordered ${direction}, g LIMIT ${integer(query.offset, 'UInt32')}, ${integer(query.limit, 'UInt32')}`,
    );
    if (page.length === 0) return [];
    // then the page's groups: their totals, times and fields
    const hashes = page.map((row) => integer(BigInt(String(row.g)), 'UInt64'));
    const values = query.groupBy.map((field) => sql`, any(${identifier(field)}) AS ${identifier(`k${field}`)}`);
    const rows = await this.#select(
      sql`SELECT g, ${totals}${joinSql(values, ' ')}
          FROM (${this.#growth(query, query.groupBy, { withTimes: true, withFields: true, hashIn: hashes })}) GROUP BY g`,
    );
    const groups = new Map(rows.map((row) => [String(row.g), row]));
    return page.flatMap(({ g }) => {
      const row = groups.get(String(g));
      return row === undefined ? [] : [flow(row)];
    });
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    const start = integer(query.range.startNs, 'Int64');
    const bucket = integer(query.bucketNs, 'Int64');
    const where = this.#conditions(query.taskName, query.range.endNs, query.filter);
    const table = this.#table('flow_metrics');
    // Our rows: each in the bucket of its time. The original's: per segment, its buckets' newest
    // counters as arrays sorted by bucket (bucket -1: the state at the start), differenced to the
    // growth per bucket, then summed per key. Both as (bucket, key, growth), summed per task and
    // bucket (grouped by a hash of the task name: 18.16 groups a (String, Int64) key 30 % slower).
    const rows = await this.#select(
      sql`SELECT any(TaskName) AS name, bucket, sum(dPackets) AS packets, sum(dBytes) AS bytes, uniqExact(k) AS flows FROM (
          SELECT TaskName, intDiv(TimestampNs - ${start} - 1, ${bucket}) AS bucket, KeyHash AS k, DeltaBytes AS dBytes, DeltaPackets AS dPackets
          FROM ${table} WHERE ${where}${startBound(query.range.startNs)} AND TimestampNs > ${start} AND DeltaPackets > 0 AND HasDeltas = 1
          UNION ALL
          SELECT TaskName, bucket, ${KEY_HASH_SQL} AS k, toUInt64(kb) AS dBytes, toUInt64(kp) AS dPackets FROM (
            SELECT TaskName, ${KEY}, tupleElement(point, 1) AS bucket, sum(tupleElement(point, 2)) AS kp, sum(tupleElement(point, 3)) AS kb FROM (
              SELECT TaskName, ${KEY},
                arrayJoin(arrayMap((b, p, y, pp, py) -> (b, p - pp, y - py), bs, ps, ys,
                  arrayPushFront(arrayPopBack(ps), toInt64(0)), arrayPushFront(arrayPopBack(ys), toInt64(0)))) AS point
              FROM (
                SELECT ${SEGMENT}, arraySort(groupArray(b)) AS bs, arraySort((v, k) -> k, groupArray(p), groupArray(b)) AS ps, arraySort((v, k) -> k, groupArray(y), groupArray(b)) AS ys
                FROM (
                  SELECT ${SEGMENT}, if(TimestampNs <= ${start}, toInt64(-1), intDiv(TimestampNs - ${start} - 1, ${bucket})) AS b,
                    toInt64(max(PacketCount)) AS p, toInt64(max(ByteCount)) AS y
                  FROM ${table} WHERE ${where} AND HasDeltas = 0
                  GROUP BY ${SEGMENT}, b
                ) GROUP BY ${SEGMENT}
              )
            ) WHERE bucket >= 0 GROUP BY TaskName, ${KEY}, bucket
          ) WHERE kp > 0
        ) GROUP BY cityHash64(TaskName) AS task, bucket ORDER BY name, bucket`,
    );
    return rows.map((row) => ({
      taskName: String(row.name),
      bucketStartNs: query.range.startNs + toBig(row.bucket) * query.bucketNs,
      bytes: toNumber(row.bytes),
      packets: toNumber(row.packets),
      flows: toNumber(row.flows),
    }));
  }

  async sketchList(query: SketchListQuery): Promise<SketchList> {
    const table = this.#table('heavy_hitters');
    const where = sql`TaskName = ${query.taskName} AND Type = ${integer(query.type, 'UInt8')}`;
    const rows = await this.#select(
      sql`SELECT Flow, Value, TimestampNs FROM ${table}
          WHERE ${where} AND (TimestampNs, RunId) IN (
            SELECT TimestampNs, RunId FROM ${table} WHERE ${where} AND ${this.#sketchRange(query.range)}
            ORDER BY TimestampNs DESC, RunId DESC LIMIT 1)
          ORDER BY Value DESC, Flow LIMIT ${integer(query.limit, 'UInt32')}`,
    );
    return { snapshotNs: rows.length === 0 ? undefined : toBig(rows[0]!.TimestampNs), entries: rows.map((row) => ({ flow: String(row.Flow), value: toNumber(row.Value) })) };
  }

  async sketchSnapshots(taskName: string, range: TimeRangeNs, limit: number): Promise<SketchSnapshotInfo[]> {
    const rows = await this.#select(
      sql`SELECT TimestampNs, Type, count() AS entries FROM ${this.#table('heavy_hitters')}
          WHERE TaskName = ${taskName} AND ${this.#sketchRange(range)}
          GROUP BY TimestampNs, Type ORDER BY TimestampNs DESC, Type LIMIT ${integer(limit, 'UInt32')}`,
    );
    return rows.map((row) => ({ timestampNs: toBig(row.TimestampNs), type: toNumber(row.Type) as SketchListType, entries: toNumber(row.entries) }));
  }

  async alerts(query: AlertQuery): Promise<AlertRecord[]> {
    if (!(await this.#hasAlerts())) return [];
    const where = [sql`TimestampNs > ${integer(query.range.startNs ?? -1n, 'Int64')} AND TimestampNs <= ${integer(query.range.endNs, 'Int64')}${timestampBound(query.range.endNs)}`, ...alertFilters(query)];
    if (query.kind !== undefined) where.push(sql`Kind = ${query.kind}`);
    if (query.flowText !== undefined) where.push(sql`FlowText = ${query.flowText}`);
    const rows = await this.#select(
      sql`SELECT ${ALERT_COLUMN_LIST} FROM ${this.#table('alerts')} WHERE ${joinSql(where, ' AND ')}
          ORDER BY TimestampNs DESC, Rule, FlowText, EngineId, Kind LIMIT ${integer(query.offset, 'UInt32')}, ${integer(query.limit, 'UInt32')}`,
    );
    return rows.map(alertRecordOf);
  }

  async activeAlerts(query: ActiveAlertQuery): Promise<AlertRecord[]> {
    if (!(await this.#hasAlerts())) return [];
    const table = this.#table('alerts');
    const upTo = sql`TimestampNs <= ${integer(query.endNs, 'Int64')}${timestampBound(query.endNs)}`;
    // per engine its newest run; per alert of that run its newest notice: active unless a resolution
    const rows = await this.#select(
      sql`SELECT ${ALERT_COLUMN_LIST} FROM ${table}
          WHERE ${upTo}
            AND (EngineId, RunId) IN (SELECT EngineId, argMax(RunId, TimestampNs) FROM ${table} WHERE ${upTo} GROUP BY EngineId)
            AND (EngineId, RunId, AlertId, TimestampNs) IN (SELECT EngineId, RunId, AlertId, max(TimestampNs) FROM ${table} WHERE ${upTo} GROUP BY EngineId, RunId, AlertId)
            AND ${joinSql([sql`Kind != 'resolved'`, ...alertFilters(query)], ' AND ')}
          ORDER BY TimestampNs DESC, Rule, FlowText, EngineId LIMIT ${integer(query.limit, 'UInt32')}`,
    );
    return rows.map(alertRecordOf);
  }

  /** The table appears with the first writer of a version that stores alerts; the reader (readonly) cannot make it. */
  async #hasAlerts(): Promise<boolean> {
    const rows = await this.#select(sql`SELECT count() AS n FROM system.tables WHERE database = ${this.#options.connection.database} AND name = 'alerts'`);
    return toNumber(rows[0]?.n) > 0;
  }

  #table(name: 'flow_metrics' | 'heavy_hitters' | 'alerts'): Sql {
    return identifier(this.#options.connection.database, name);
  }

  #sketchRange(range: TimeRangeNs): Sql {
    return sql`TimestampNs > ${integer(range.startNs ?? -1n, 'Int64')} AND TimestampNs <= ${integer(range.endNs, 'Int64')}${timestampBound(range.endNs)}`;
  }

  #conditions(taskName: string | undefined, endNs: bigint, filter: FlowFilter): Sql {
    const where: Sql[] = [sql`TimestampNs <= ${integer(endNs, 'Int64')}${timestampBound(endNs)}`];
    if (taskName !== undefined) where.push(sql`TaskName = ${taskName}`);
    if (filter.SrcIP !== undefined) where.push(sql`SrcIP = ${filter.SrcIP.text}`);
    if (filter.DstIP !== undefined) where.push(sql`DstIP = ${filter.DstIP.text}`);
    if (filter.SrcPort !== undefined) where.push(sql`SrcPort = ${integer(filter.SrcPort, 'UInt16')}`);
    if (filter.DstPort !== undefined) where.push(sql`DstPort = ${integer(filter.DstPort, 'UInt16')}`);
    if (filter.Protocol !== undefined) where.push(sql`Protocol = ${integer(filter.Protocol, 'UInt8')}`);
    return joinSql(where, ' AND ');
  }

  /**
   * What grew in the range, as rows of TaskName, g (the hash of `fields`), dBytes, dPackets and,
   * as asked, the fields themselves and firstNs, lastNs: each of our rows that grew, and each
   * segment of the original's rows that grew (see the module comment). `hashIn` narrows both to
   * the keys of those hashes.
   */
  #growth(query: FlowRangeQuery, fields: readonly KeyFieldName[], options: { withTimes?: boolean; withFields?: boolean; hashIn?: readonly Sql[] }): Sql {
    const start = integer(query.range.startNs ?? -1n, 'Int64');
    const table = this.#table('flow_metrics');
    const where = (stored: boolean): Sql => {
      const conditions = this.#conditions(query.taskName, query.range.endNs, query.filter);
      return options.hashIn === undefined ? conditions : sql`${conditions} AND ${keyHash(fields, stored)} IN (${joinSql(options.hashIn)})`;
    };
    const values = options.withFields === true && fields.length > 0 ? sql`${joinSql(fields.map((field) => identifier(field)))}, ` : sql``;
    const times = options.withTimes === true ? sql`, StartTimeNs AS firstNs, EndTimeNs AS lastNs` : sql``;
    const segmentTimes = options.withTimes === true ? sql`, firstNs, lastNs` : sql``;
    return sql`SELECT TaskName, ${values}${keyHash(fields, true)} AS g, DeltaBytes AS dBytes, DeltaPackets AS dPackets${times}
        FROM ${table} WHERE ${where(true)}${startBound(query.range.startNs)} AND TimestampNs > ${start} AND DeltaPackets > 0 AND HasDeltas = 1
      UNION ALL
      SELECT TaskName, ${values}${keyHash(fields, false)} AS g, dBytes, dPackets${segmentTimes} FROM (
        SELECT ${SEGMENT}, toUInt64(endBytes - startBytes) AS dBytes, toUInt64(endPackets - startPackets) AS dPackets, firstNs, lastNs FROM (
          SELECT ${SEGMENT},
            max(PacketCount) AS endPackets, max(ByteCount) AS endBytes,
            maxIf(PacketCount, TimestampNs <= ${start}) AS startPackets, maxIf(ByteCount, TimestampNs <= ${start}) AS startBytes,
            min(StartTimeNs) AS firstNs, max(EndTimeNs) AS lastNs
          FROM ${table} WHERE ${where(false)} AND HasDeltas = 0
          GROUP BY ${SEGMENT}
        ) WHERE endPackets > startPackets
      )`;
  }

  async #select(statement: Sql): Promise<Record<string, unknown>[]> {
    const client = this.#client;
    if (client === undefined) throw new NetSpectraError('NS_ERR_QUERY_STORE', `${this.description} is not open`);
    try {
      const result = await client.query({ query: statement.text, format: 'JSONEachRow' });
      return await result.json<Record<string, unknown>>();
    } catch (error) {
      const { code, reason } = classify(error);
      const password = this.#options.connection.password;
      const message = `${this.description} could not answer a query: ${reason}`;
      throw new NetSpectraError(code, password.length >= 3 ? message.split(password).join('***') : message, { cause: error });
    }
  }
}

const ALERT_COLUMN_LIST = joinSql(ALERT_COLUMNS.map((column) => identifier(column)));

/** Conditions on a rule and a task of alert rows. */
function alertFilters(query: { rule?: string; taskName?: string }): Sql[] {
  const where: Sql[] = [];
  if (query.rule !== undefined) where.push(sql`Rule = ${query.rule}`);
  if (query.taskName !== undefined) where.push(sql`TaskName = ${query.taskName}`);
  return where;
}

/** `AND Timestamp >= …` for the primary key, for rows after a start (TimestampNs > start ⇒ Timestamp ≥ its second). */
function startBound(startNs: bigint | undefined): Sql {
  if (startNs === undefined || startNs < 0n) return sql``;
  const seconds = startNs / NS;
  return seconds <= DATETIME_MAX ? sql` AND Timestamp >= ${dateTime(Number(seconds))}` : sql``;
}

/** `AND Timestamp <= …` for the primary key, when the end fits a DateTime. */
function timestampBound(endNs: bigint): Sql {
  const seconds = endNs / NS;
  return seconds <= DATETIME_MAX ? sql` AND Timestamp <= ${dateTime(Number(seconds))}` : sql``;
}

function keyOf(row: Record<string, unknown>, fields: readonly KeyFieldName[]): KeyObject {
  const key: KeyObject = {};
  for (const field of fields) {
    const value = row[`k${field}`];
    if (value === null || value === undefined) continue;
    if (field === 'SrcIP' || field === 'DstIP') key[field] = typeof value === 'string' ? value : JSON.stringify(value);
    else key[field] = Number(value);
  }
  return key;
}
