/**
 * The `alerts` table shared by the embedded store and ClickHouse (docs/alerting.md, "Storage"): one
 * row per alert notice, the same columns in both, so the two read sides parse rows alike.
 *
 * Times are int64 nanoseconds (UTC) plus a whole-second `Timestamp` for ClickHouse's partitions
 * and primary key. `Flow` and `Evidence` are JSON text (a flow key object, an array of evidence
 * flows): alerts are few, and JSON keeps every field of the model without a column per field.
 */
import type { AlertEvidenceFlow, AlertMetric, AlertNoticeKind, AlertOperator, AlertRecord } from '../model/alert.js';
import type { KeyObject } from '../model/snapshot.js';

/** Column names in table order. */
export const ALERT_COLUMNS = [
  'Timestamp',
  'TimestampNs',
  'Kind',
  'AlertId',
  'Rule',
  'TaskName',
  'TaskKind',
  'Metric',
  'Operator',
  'Threshold',
  'FlowText',
  'Flow',
  'FlowFields',
  'ElementFields',
  'Value',
  'SinceNs',
  'FiredAtNs',
  'Evidence',
  'RunId',
  'EngineId',
  'Source',
] as const;

export type AlertColumn = (typeof ALERT_COLUMNS)[number];

const NS_PER_SECOND = 1_000_000_000n;

/** Whole seconds of an int64 nanosecond time (floor, also before 1970). */
export function secondsOf(ns: bigint): number {
  const seconds = ns / NS_PER_SECOND;
  return Number(ns < 0n && seconds * NS_PER_SECOND !== ns ? seconds - 1n : seconds);
}

/** A notice's values by column (Timestamp as unix seconds); `FiredAtNs` null while absent. */
export function alertRow(record: AlertRecord): Record<AlertColumn, string | number | bigint | null> {
  return {
    Timestamp: secondsOf(record.atNs),
    TimestampNs: record.atNs,
    Kind: record.kind,
    AlertId: record.id,
    Rule: record.rule,
    TaskName: record.taskName,
    TaskKind: record.taskKind,
    Metric: record.metric,
    Operator: record.operator,
    Threshold: record.threshold,
    FlowText: record.flowText,
    Flow: JSON.stringify(record.flow),
    FlowFields: record.flowFields.join(','),
    ElementFields: record.elementFields.join(','),
    Value: record.value,
    SinceNs: record.sinceNs,
    FiredAtNs: record.firedAtNs ?? null,
    Evidence: JSON.stringify(record.evidence),
    RunId: record.runId,
    EngineId: record.engineId,
    Source: record.source,
  };
}

const big = (value: unknown): bigint => (typeof value === 'bigint' ? value : BigInt(String(value)));
const fields = (value: unknown): string[] => (typeof value === 'string' && value !== '' ? value.split(',') : []);

function parsed<T>(text: unknown, fallback: T): T {
  try {
    return JSON.parse(String(text)) as T;
  } catch {
    // a row written by hand or cut short: the notice is still worth showing
    return fallback;
  }
}

/**
 * A row read back (DuckDB gives BIGINT as bigint, ClickHouse's JSONEachRow Int64 as a string and
 * Float64 as a number) as the record that was written.
 */
export function alertRecordOf(row: Record<string, unknown>): AlertRecord {
  return {
    atNs: big(row.TimestampNs),
    kind: String(row.Kind) as AlertNoticeKind,
    id: String(row.AlertId),
    rule: String(row.Rule),
    taskName: String(row.TaskName),
    taskKind: String(row.TaskKind) as AlertRecord['taskKind'],
    metric: String(row.Metric) as AlertMetric,
    operator: String(row.Operator) as AlertOperator,
    threshold: Number(row.Threshold),
    flowText: String(row.FlowText),
    flow: parsed<KeyObject>(row.Flow, {}),
    flowFields: fields(row.FlowFields),
    elementFields: fields(row.ElementFields),
    value: Number(row.Value),
    sinceNs: big(row.SinceNs),
    firedAtNs: row.FiredAtNs === null || row.FiredAtNs === undefined ? undefined : big(row.FiredAtNs),
    evidence: parsed<AlertEvidenceFlow[]>(row.Evidence, []),
    runId: String(row.RunId),
    engineId: String(row.EngineId),
    source: String(row.Source),
  };
}
