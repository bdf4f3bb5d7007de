/**
 * The embedded store's tables: the original's `flow_metrics` and `heavy_hitters` columns (system.md
 * §6, so its queries keep working: newest row per flow with `arg_max(…, Timestamp)`), plus our
 * additions: nanosecond UTC times, the measurement period and the run that wrote the row.
 *
 * `Timestamp`, `StartTime` and `EndTime` are UTC (the original stored local time as if UTC).
 */
export const FLOW_METRICS_COLUMNS = [
  ['Timestamp', 'TIMESTAMP NOT NULL'],
  ['TaskName', 'VARCHAR NOT NULL'],
  ['SrcIP', 'VARCHAR'],
  ['DstIP', 'VARCHAR'],
  ['SrcPort', 'USMALLINT'],
  ['DstPort', 'USMALLINT'],
  ['Protocol', 'UTINYINT'],
  ['StartTime', 'TIMESTAMP NOT NULL'],
  ['EndTime', 'TIMESTAMP NOT NULL'],
  ['ByteCount', 'UBIGINT NOT NULL'],
  ['PacketCount', 'UBIGINT NOT NULL'],
  ['TimestampNs', 'BIGINT NOT NULL'],
  ['StartTimeNs', 'BIGINT NOT NULL'],
  ['EndTimeNs', 'BIGINT NOT NULL'],
  ['PeriodId', 'BIGINT NOT NULL'],
  ['RunId', 'VARCHAR NOT NULL'],
] as const;

/** `Type`: 0 = packet count, 1 = bytes, 2 = super-spreader spread (the QueryHeavyHitters types). */
export const HEAVY_HITTERS_COLUMNS = [
  ['Timestamp', 'TIMESTAMP NOT NULL'],
  ['TaskName', 'VARCHAR NOT NULL'],
  ['Flow', 'VARCHAR NOT NULL'],
  ['Value', 'UBIGINT NOT NULL'],
  ['Type', 'UTINYINT NOT NULL'],
  ['TimestampNs', 'BIGINT NOT NULL'],
  ['PeriodId', 'BIGINT NOT NULL'],
  ['RunId', 'VARCHAR NOT NULL'],
] as const;

export const HEAVY_HITTER_TYPE = { count: 0, size: 1, spread: 2 } as const;

function createTable(name: string, columns: readonly (readonly [string, string])[]): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (\n  ${columns.map(([c, t]) => `${c} ${t}`).join(',\n  ')}\n)`;
}

export const SCHEMA_STATEMENTS = [
  createTable('flow_metrics', FLOW_METRICS_COLUMNS),
  createTable('heavy_hitters', HEAVY_HITTERS_COLUMNS),
  `CREATE TABLE IF NOT EXISTS runs (
  RunId VARCHAR PRIMARY KEY,
  StartedAt TIMESTAMP NOT NULL,
  Inputs VARCHAR NOT NULL,
  Tool VARCHAR NOT NULL
)`,
];
