/**
 * The embedded store's schema.
 *
 * `flow_metrics` is a VIEW with exactly the original's columns (system.md §6) — so its queries,
 * e.g. the newest row per flow with `arg_max(…, Timestamp)`, keep working — plus our additions:
 * nanosecond UTC times, the measurement period and the run. Underneath, `flow_metrics_raw` keeps
 * addresses as numbers (two UBIGINT halves of the 16-byte address; IPv4 mapped into
 * ::ffff:0:0/96) and task and run as small ids, because the appender's per-value string calls were
 * the bottleneck of writing snapshots (about 8 µs a row; numeric columns are copied in one call per
 * column). The view formats IPv4 text in SQL; IPv6 text (RFC 5952, rarely the majority) is written
 * as a string. Numeric addresses also let queries filter without formatting every row.
 *
 * All times are UTC (the original stored local time as if it were UTC).
 */

/** `heavy_hitters.Type`: the QueryHeavyHitters types. */
export const HEAVY_HITTER_TYPE = { count: 0, size: 1, spread: 2 } as const;

export const SCHEMA_STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS runs (
  RunNo INTEGER PRIMARY KEY,
  RunId VARCHAR NOT NULL UNIQUE,
  StartedAt TIMESTAMP NOT NULL,
  Inputs VARCHAR NOT NULL,
  Tool VARCHAR NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS tasks (
  TaskId USMALLINT PRIMARY KEY,
  TaskName VARCHAR NOT NULL UNIQUE,
  Kind VARCHAR NOT NULL,
  KeyFields VARCHAR NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS flow_metrics_raw (
  TimestampNs BIGINT NOT NULL,
  TaskId USMALLINT NOT NULL,
  Family UTINYINT NOT NULL,
  SrcHi UBIGINT,
  SrcLo UBIGINT,
  DstHi UBIGINT,
  DstLo UBIGINT,
  SrcIPv6 VARCHAR,
  DstIPv6 VARCHAR,
  SrcPort USMALLINT,
  DstPort USMALLINT,
  Protocol UTINYINT,
  StartTimeNs BIGINT NOT NULL,
  EndTimeNs BIGINT NOT NULL,
  ByteCount UBIGINT NOT NULL,
  PacketCount UBIGINT NOT NULL,
  PeriodId BIGINT NOT NULL,
  RunNo INTEGER NOT NULL
)`,
  `CREATE OR REPLACE MACRO ns_ipv4_text(lo) AS
  concat((lo >> 24) & 255, '.', (lo >> 16) & 255, '.', (lo >> 8) & 255, '.', lo & 255)`,
  `CREATE OR REPLACE VIEW flow_metrics AS
SELECT
  make_timestamp(r.TimestampNs // 1000) AS Timestamp,
  t.TaskName AS TaskName,
  CASE WHEN r.SrcLo IS NULL THEN NULL WHEN r.Family = 4 THEN ns_ipv4_text(r.SrcLo) ELSE r.SrcIPv6 END AS SrcIP,
  CASE WHEN r.DstLo IS NULL THEN NULL WHEN r.Family = 4 THEN ns_ipv4_text(r.DstLo) ELSE r.DstIPv6 END AS DstIP,
  r.SrcPort AS SrcPort,
  r.DstPort AS DstPort,
  r.Protocol AS Protocol,
  make_timestamp(r.StartTimeNs // 1000) AS StartTime,
  make_timestamp(r.EndTimeNs // 1000) AS EndTime,
  r.ByteCount AS ByteCount,
  r.PacketCount AS PacketCount,
  r.TimestampNs AS TimestampNs,
  r.StartTimeNs AS StartTimeNs,
  r.EndTimeNs AS EndTimeNs,
  r.PeriodId AS PeriodId,
  u.RunId AS RunId
FROM flow_metrics_raw r
JOIN tasks t ON t.TaskId = r.TaskId
JOIN runs u ON u.RunNo = r.RunNo`,
  `CREATE TABLE IF NOT EXISTS heavy_hitters (
  Timestamp TIMESTAMP NOT NULL,
  TaskName VARCHAR NOT NULL,
  Flow VARCHAR NOT NULL,
  Value UBIGINT NOT NULL,
  Type UTINYINT NOT NULL,
  TimestampNs BIGINT NOT NULL,
  PeriodId BIGINT NOT NULL,
  RunId VARCHAR NOT NULL
)`,
];
