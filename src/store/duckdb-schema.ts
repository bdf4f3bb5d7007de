/**
 * The embedded store's schema.
 *
 * `flow_metrics` is a VIEW with exactly the original's columns (docs/compatibility.md) — so its queries,
 * e.g. the newest row per flow with `arg_max(…, Timestamp)`, keep working — plus our additions:
 * nanosecond UTC times, the measurement period and the run.
 *
 * Underneath, writing is what has to be fast (one snapshot can hold millions of flows), so
 * `flow_metrics_raw` holds only numbers, filled column by column with one copy per column and
 * chunk (duckdb-store.ts):
 * - addresses as two UBIGINT halves of the 16-byte address (IPv4 mapped into ::ffff:0:0/96), turned
 *   into text by the view: dotted quads, or RFC 5952 IPv6 by the `ns_ipv6_text` macro. Strings
 *   passed to the appender one by one cost about 8 µs a row; numbers also let queries filter by
 *   address without formatting every row.
 * - what every row of one task's snapshot shares (time, task, period, run) is kept once, in
 *   `snapshots`, and joined by SnapshotId: 15 narrow columns a row instead of 20.
 * - besides its cumulative counters, each row holds its growth since the flow's previous row of the
 *   segment (DeltaBytes/DeltaPackets, segment-counters.ts), and each `snapshots` row the sums of
 *   its rows' growth and how many grew (Bytes/Packets/Flows): range totals, top-N and series add
 *   rows up instead of finding every segment's newest state (docs/query.md). Layout 3.
 *
 * `alerts` holds one row per alert notice (alert-rows.ts), written apart from the snapshots.
 *
 * All times are UTC (the original stored local time as if it were UTC). `netspectra_schema` holds
 * the layout's version: a file written with another layout is refused with a clear error instead
 * of being appended to with the wrong columns.
 */

/** Version of the layout below, kept in `netspectra_schema`. */
export const SCHEMA_VERSION = 3;

/** `heavy_hitters.Type`: the QueryHeavyHitters types. */
export const HEAVY_HITTER_TYPE = { count: 0, size: 1, spread: 2 } as const;

/** Tables of a NetSpectra store; a file holding some of them without `netspectra_schema` has an older layout. */
export const STORE_TABLES = ['runs', 'tasks', 'snapshots', 'flow_metrics_raw', 'heavy_hitters'] as const;

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
  `CREATE TABLE IF NOT EXISTS snapshots (
  SnapshotId INTEGER PRIMARY KEY,
  RunNo INTEGER NOT NULL,
  TaskId USMALLINT NOT NULL,
  TimestampNs BIGINT NOT NULL,
  PeriodId BIGINT NOT NULL,
  Bytes UBIGINT NOT NULL,
  Packets UBIGINT NOT NULL,
  Flows UBIGINT NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS flow_metrics_raw (
  SnapshotId INTEGER NOT NULL,
  Family UTINYINT NOT NULL,
  SrcHi UBIGINT,
  SrcLo UBIGINT,
  DstHi UBIGINT,
  DstLo UBIGINT,
  SrcPort USMALLINT,
  DstPort USMALLINT,
  Protocol UTINYINT,
  StartTimeNs BIGINT NOT NULL,
  EndTimeNs BIGINT NOT NULL,
  ByteCount UBIGINT NOT NULL,
  PacketCount UBIGINT NOT NULL,
  DeltaBytes UBIGINT NOT NULL,
  DeltaPackets UBIGINT NOT NULL
)`,
  `CREATE OR REPLACE MACRO ns_ipv4_text(lo) AS
  concat((lo >> 24) & 255, '.', (lo >> 16) & 255, '.', (lo >> 8) & 255, '.', lo & 255)`,
  // RFC 5952: lower-case hex groups without leading zeros; the longest run of two or more zero
  // groups (the first of equal runs) becomes '::'; IPv4-mapped addresses end in a dotted quad.
  // `padded` is ':g1:…:g8:'. Runs are tried longest first, so the first match of the longest
  // pattern is the longest run's first occurrence; it is replaced, with its colons, by '::'; then
  // each pad colon that did not become part of the '::' is dropped.
  `CREATE OR REPLACE MACRO ns_ipv6_trim(s) AS
  substr(s, CASE WHEN starts_with(s, '::') THEN 1 ELSE 2 END,
    length(s) - CASE WHEN starts_with(s, '::') THEN 0 ELSE 1 END - CASE WHEN ends_with(s, '::') THEN 0 ELSE 1 END)`,
  `CREATE OR REPLACE MACRO ns_ipv6_compress(padded) AS
  CASE
    WHEN strpos(padded, ':0:0:0:0:0:0:0:0:') > 0 THEN '::'
    WHEN strpos(padded, ':0:0:0:0:0:0:0:') > 0 THEN ns_ipv6_trim(regexp_replace(padded, ':0:0:0:0:0:0:0:', '::'))
    WHEN strpos(padded, ':0:0:0:0:0:0:') > 0 THEN ns_ipv6_trim(regexp_replace(padded, ':0:0:0:0:0:0:', '::'))
    WHEN strpos(padded, ':0:0:0:0:0:') > 0 THEN ns_ipv6_trim(regexp_replace(padded, ':0:0:0:0:0:', '::'))
    WHEN strpos(padded, ':0:0:0:0:') > 0 THEN ns_ipv6_trim(regexp_replace(padded, ':0:0:0:0:', '::'))
    WHEN strpos(padded, ':0:0:0:') > 0 THEN ns_ipv6_trim(regexp_replace(padded, ':0:0:0:', '::'))
    WHEN strpos(padded, ':0:0:') > 0 THEN ns_ipv6_trim(regexp_replace(padded, ':0:0:', '::'))
    ELSE substr(padded, 2, length(padded) - 2)
  END`,
  `CREATE OR REPLACE MACRO ns_ipv6_text(hi, lo) AS
  CASE WHEN hi = 0 AND (lo >> 32) = 65535 THEN concat('::ffff:', ns_ipv4_text(lo))
  ELSE ns_ipv6_compress(concat(':',
    printf('%x', (hi >> 48) & 65535), ':', printf('%x', (hi >> 32) & 65535), ':',
    printf('%x', (hi >> 16) & 65535), ':', printf('%x', hi & 65535), ':',
    printf('%x', (lo >> 48) & 65535), ':', printf('%x', (lo >> 32) & 65535), ':',
    printf('%x', (lo >> 16) & 65535), ':', printf('%x', lo & 65535), ':'))
  END`,
  `CREATE OR REPLACE VIEW flow_metrics AS
SELECT
  make_timestamp(s.TimestampNs // 1000) AS Timestamp,
  t.TaskName AS TaskName,
  CASE WHEN r.SrcLo IS NULL THEN NULL WHEN r.Family = 4 THEN ns_ipv4_text(r.SrcLo) ELSE ns_ipv6_text(r.SrcHi, r.SrcLo) END AS SrcIP,
  CASE WHEN r.DstLo IS NULL THEN NULL WHEN r.Family = 4 THEN ns_ipv4_text(r.DstLo) ELSE ns_ipv6_text(r.DstHi, r.DstLo) END AS DstIP,
  r.SrcPort AS SrcPort,
  r.DstPort AS DstPort,
  r.Protocol AS Protocol,
  make_timestamp(r.StartTimeNs // 1000) AS StartTime,
  make_timestamp(r.EndTimeNs // 1000) AS EndTime,
  r.ByteCount AS ByteCount,
  r.PacketCount AS PacketCount,
  s.TimestampNs AS TimestampNs,
  r.StartTimeNs AS StartTimeNs,
  r.EndTimeNs AS EndTimeNs,
  s.PeriodId AS PeriodId,
  u.RunId AS RunId
FROM flow_metrics_raw r
JOIN snapshots s ON s.SnapshotId = r.SnapshotId
JOIN tasks t ON t.TaskId = s.TaskId
JOIN runs u ON u.RunNo = s.RunNo`,
  // Added within layout 2 (CREATE … IF NOT EXISTS): a file written before alerts were stored gets
  // the table when a writer opens it, and older builds, which never read it, still open the file.
  // Columns as alert-rows.ts's ALERT_COLUMNS (checked when a writer opens a file).
  `CREATE TABLE IF NOT EXISTS alerts (
  Timestamp TIMESTAMP NOT NULL,
  TimestampNs BIGINT NOT NULL,
  Kind VARCHAR NOT NULL,
  AlertId VARCHAR NOT NULL,
  Rule VARCHAR NOT NULL,
  TaskName VARCHAR NOT NULL,
  TaskKind VARCHAR NOT NULL,
  Metric VARCHAR NOT NULL,
  Operator VARCHAR NOT NULL,
  Threshold DOUBLE NOT NULL,
  FlowText VARCHAR NOT NULL,
  Flow VARCHAR NOT NULL,
  FlowFields VARCHAR NOT NULL,
  ElementFields VARCHAR NOT NULL,
  Value DOUBLE NOT NULL,
  SinceNs BIGINT NOT NULL,
  FiredAtNs BIGINT,
  Evidence VARCHAR NOT NULL,
  RunId VARCHAR NOT NULL,
  EngineId VARCHAR NOT NULL,
  Source VARCHAR NOT NULL
)`,
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
