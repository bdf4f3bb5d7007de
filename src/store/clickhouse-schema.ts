/**
 * The ClickHouse tables: the original's `flow_metrics` and `heavy_hitters` (docs/compatibility.md), column
 * for column, so its queries and dashboards keep working (e.g. the newest row per flow with
 * `argMax(PacketCount, Timestamp) … GROUP BY TaskName, SrcIP, DstIP, SrcPort, DstPort, Protocol`),
 * plus our columns at the end, each with a DEFAULT: an original engine that still inserts only its
 * own columns keeps working, and its rows get nanosecond times derived from its second ones.
 *
 * ClickHouse 18.16 has no DateTime64 and no IPv6 type, so times are DateTime (whole seconds,
 * written as unix seconds: UTC whatever the server's time zone) plus Int64 nanoseconds, and
 * addresses are text (dotted quads, RFC 5952 IPv6), as in the original.
 *
 * 18.16 also has no `ADD COLUMN IF NOT EXISTS`: the store reads system.columns and adds only what
 * is missing (see ClickHouseStore.start).
 */
import { identifier, joinSql, sql, type Sql } from './clickhouse-sql.js';

export interface ColumnSpec {
  readonly name: string;
  /** The type exactly as system.columns spells it. */
  readonly type: Sql;
  /** DEFAULT expression of a column we add to the original's table. */
  readonly defaultSql?: Sql;
}

export interface TableSpec {
  readonly name: 'flow_metrics' | 'heavy_hitters' | 'alerts';
  /** The original's columns, in its order. */
  readonly original: readonly ColumnSpec[];
  /** Ours, appended after the original's. */
  readonly added: readonly ColumnSpec[];
}

const nanosFrom = (column: string): Sql => sql`toInt64(toUInt32(${identifier(column)})) * 1000000000`;

/**
 * A row's whole flow key as one UInt64 (cityHash64), for distinct counts and grouping
 * (clickhouse-query.ts): the `KeyHash` column's DEFAULT, so the server computes and stores it at
 * every insert (ours do not send it; the original's neither), and computes it on read in parts
 * older than the column. A key field a task lacks is NULL; assumeNotNull reads the default ('' or
 * 0) ClickHouse stores under a NULL, the same in every row of the task.
 */
export const KEY_HASH_SQL = sql`cityHash64(assumeNotNull(SrcIP), assumeNotNull(DstIP), assumeNotNull(SrcPort), assumeNotNull(DstPort), assumeNotNull(Protocol))`;

export const FLOW_METRICS: TableSpec = {
  name: 'flow_metrics',
  original: [
    { name: 'Timestamp', type: sql`DateTime` },
    { name: 'TaskName', type: sql`String` },
    { name: 'SrcIP', type: sql`Nullable(String)` },
    { name: 'DstIP', type: sql`Nullable(String)` },
    { name: 'SrcPort', type: sql`Nullable(UInt16)` },
    { name: 'DstPort', type: sql`Nullable(UInt16)` },
    { name: 'Protocol', type: sql`Nullable(UInt8)` },
    { name: 'StartTime', type: sql`DateTime` },
    { name: 'EndTime', type: sql`DateTime` },
    { name: 'ByteCount', type: sql`UInt64` },
    { name: 'PacketCount', type: sql`UInt64` },
  ],
  added: [
    { name: 'TimestampNs', type: sql`Int64`, defaultSql: nanosFrom('Timestamp') },
    { name: 'StartTimeNs', type: sql`Int64`, defaultSql: nanosFrom('StartTime') },
    { name: 'EndTimeNs', type: sql`Int64`, defaultSql: nanosFrom('EndTime') },
    // the measurement period's start (s since the epoch); 0 for rows of the original
    { name: 'PeriodId', type: sql`Int64`, defaultSql: sql`0` },
    { name: 'RunId', type: sql`String`, defaultSql: sql`''` },
    { name: 'EngineId', type: sql`String`, defaultSql: sql`''` },
    // growth since the previous row of the flow's segment (segment-counters.ts): range totals sum
    // these instead of finding every segment's newest state
    { name: 'DeltaBytes', type: sql`UInt64`, defaultSql: sql`0` },
    { name: 'DeltaPackets', type: sql`UInt64`, defaultSql: sql`0` },
    // 1 in rows written with their growth; 0 (the default) in rows of the original and of
    // NetSpectra builds before the growth columns, which the queries total per segment instead
    // (clickhouse-query.ts)
    { name: 'HasDeltas', type: sql`UInt8`, defaultSql: sql`0` },
    // reading 8 bytes a row is about twice as fast as hashing the key's columns at every query
    { name: 'KeyHash', type: sql`UInt64`, defaultSql: KEY_HASH_SQL },
  ],
};

export const HEAVY_HITTERS: TableSpec = {
  name: 'heavy_hitters',
  original: [
    { name: 'Timestamp', type: sql`DateTime` },
    { name: 'TaskName', type: sql`String` },
    { name: 'Flow', type: sql`String` },
    { name: 'Value', type: sql`UInt64` },
    { name: 'Type', type: sql`UInt8` },
  ],
  added: [
    { name: 'TimestampNs', type: sql`Int64`, defaultSql: nanosFrom('Timestamp') },
    { name: 'PeriodId', type: sql`Int64`, defaultSql: sql`0` },
    { name: 'RunId', type: sql`String`, defaultSql: sql`''` },
    { name: 'EngineId', type: sql`String`, defaultSql: sql`''` },
  ],
};

/**
 * NetSpectra's own: one row per alert notice, the embedded store's columns (alert-rows.ts) in
 * 18.16's types. Created with the other tables; no original to stay compatible with.
 */
export const ALERTS: TableSpec = {
  name: 'alerts',
  original: [
    { name: 'Timestamp', type: sql`DateTime` },
    { name: 'TimestampNs', type: sql`Int64` },
    { name: 'Kind', type: sql`String` },
    { name: 'AlertId', type: sql`String` },
    { name: 'Rule', type: sql`String` },
    { name: 'TaskName', type: sql`String` },
    { name: 'TaskKind', type: sql`String` },
    { name: 'Metric', type: sql`String` },
    { name: 'Operator', type: sql`String` },
    { name: 'Threshold', type: sql`Float64` },
    { name: 'FlowText', type: sql`String` },
    { name: 'Flow', type: sql`String` },
    { name: 'FlowFields', type: sql`String` },
    { name: 'ElementFields', type: sql`String` },
    { name: 'Value', type: sql`Float64` },
    { name: 'SinceNs', type: sql`Int64` },
    { name: 'FiredAtNs', type: sql`Nullable(Int64)` },
    { name: 'Evidence', type: sql`String` },
    { name: 'RunId', type: sql`String` },
    { name: 'EngineId', type: sql`String` },
    { name: 'Source', type: sql`String` },
  ],
  added: [],
};

export const CLICKHOUSE_TABLES: readonly TableSpec[] = [FLOW_METRICS, HEAVY_HITTERS, ALERTS];

/** A column of a CREATE TABLE or ADD COLUMN: name, type and, for ours, the DEFAULT. */
function columnDefinition(column: ColumnSpec): Sql {
  return column.defaultSql === undefined ? sql`${identifier(column.name)} ${column.type}` : sql`${identifier(column.name)} ${column.type} DEFAULT ${column.defaultSql}`;
}

/** The original's engine clause, kept for both tables (and used for `alerts`, which has both columns). */
const ENGINE = sql`ENGINE = MergeTree() PARTITION BY toYYYYMM(Timestamp) ORDER BY (TaskName, Timestamp)`;

export function createTableSql(database: string, table: TableSpec): Sql {
  const columns = [...table.original, ...table.added].map(columnDefinition);
  return sql`CREATE TABLE IF NOT EXISTS ${identifier(database, table.name)} (\n  ${joinSql(columns, ',\n  ')}\n) ${ENGINE}`;
}

/** ADD COLUMN without IF NOT EXISTS (18.16 has none): appended after every existing column. */
export function addColumnSql(database: string, table: TableSpec, column: ColumnSpec): Sql {
  return sql`ALTER TABLE ${identifier(database, table.name)} ADD COLUMN ${columnDefinition(column)}`;
}
