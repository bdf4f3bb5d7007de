/**
 * The AnalyzeTraffic input the alerter sends: alerts as JSON (`{"format": "netspectra.alerts.v1",
 * "alerts": [...]}`). The original's alerter sent free text instead, which the service still
 * accepts (quoted to the LLM as text). Parsing is lenient about what it does not need and strict
 * about types, because the input arrives over the network: anything that is not a well-formed alert
 * is dropped, never trusted.
 */
import type { Alert, AlertEvidenceFlow, AlertMetric, AlertOperator } from '../model/alert.js';
import type { KeyObject } from '../model/snapshot.js';

export const ALERT_INPUT_FORMAT = 'netspectra.alerts.v1';

/** Alerts in one input at most; more are ignored (the alerter sends one check's worth). */
export const MAX_INPUT_ALERTS = 200;
/** Evidence flows kept per alert. */
export const MAX_INPUT_EVIDENCE = 50;

const METRICS: readonly AlertMetric[] = ['total_packets', 'total_bytes', 'total_flows', 'heavy_hitter_count', 'heavy_hitter_size', 'super_spreader_spread', 'bytes_per_second', 'packets_per_second', 'new_flows'];
const OPERATORS: readonly AlertOperator[] = ['>', '<', '=', '>=', '<='];
const KEY_FIELDS = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] as const;

/** The AnalyzeTraffic input for these alerts. */
export function encodeAlertInput(alerts: readonly Alert[]): string {
  return JSON.stringify({ format: ALERT_INPUT_FORMAT, alerts });
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const finite = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const text = (value: unknown, max = 256): string | undefined => (typeof value === 'string' ? value.slice(0, max) : undefined);

function keyObject(value: unknown): KeyObject {
  const key: KeyObject = {};
  if (!isObject(value)) return key;
  for (const field of KEY_FIELDS) {
    const raw = value[field];
    if (field === 'SrcIP' || field === 'DstIP') {
      const address = text(raw, 64);
      if (address !== undefined) key[field] = address;
    } else {
      const number = finite(raw);
      if (number !== undefined && Number.isInteger(number) && number >= 0 && number <= 65535) key[field] = number;
    }
  }
  return key;
}

function timestamp(value: unknown): { seconds: number; nanos: number } {
  if (isObject(value)) return { seconds: finite(value.seconds) ?? 0, nanos: finite(value.nanos) ?? 0 };
  return { seconds: 0, nanos: 0 };
}

function evidenceFlow(value: unknown): AlertEvidenceFlow | undefined {
  if (!isObject(value)) return undefined;
  const flow: AlertEvidenceFlow = { flowText: text(value.flowText) ?? '', flow: keyObject(value.flow) };
  const packets = finite(value.packets);
  const bytes = finite(value.bytes);
  const spread = finite(value.spread);
  if (packets !== undefined) flow.packets = packets;
  if (bytes !== undefined) flow.bytes = bytes;
  if (spread !== undefined) flow.spread = spread;
  return flow;
}

function fieldList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((item): item is string => typeof item === 'string' && (KEY_FIELDS as readonly string[]).includes(item));
}

function alertOf(value: unknown): Alert | undefined {
  if (!isObject(value)) return undefined;
  const rule = text(value.rule);
  const metric = METRICS.find((m) => m === value.metric);
  const observed = finite(value.value);
  const threshold = finite(value.threshold);
  if (rule === undefined || metric === undefined || observed === undefined || threshold === undefined) return undefined;
  const operator = OPERATORS.find((o) => o === value.operator) ?? '>';
  const taskKind = value.taskKind === 'exact' || value.taskKind === 'heavy_hitter' || value.taskKind === 'super_spreader' ? value.taskKind : metric === 'super_spreader_spread' ? 'super_spreader' : metric.startsWith('heavy_hitter') ? 'heavy_hitter' : 'exact';
  const flowText = text(value.flowText) ?? '';
  const alert: Alert = {
    id: text(value.id) ?? `${rule}|${flowText}`,
    rule,
    taskName: text(value.taskName) ?? '',
    taskKind,
    metric,
    operator,
    threshold,
    flowText,
    flow: keyObject(value.flow),
    value: observed,
    status: value.status === 'resolved' ? 'resolved' : 'firing',
    since: timestamp(value.since),
    at: timestamp(value.at),
    flowFields: fieldList(value.flowFields) ?? [],
    evidence: (Array.isArray(value.evidence) ? value.evidence.slice(0, MAX_INPUT_EVIDENCE) : []).map(evidenceFlow).filter((flow): flow is AlertEvidenceFlow => flow !== undefined),
  };
  const elementFields = fieldList(value.elementFields);
  if (elementFields !== undefined) alert.elementFields = elementFields;
  return alert;
}

/**
 * The alerts in an AnalyzeTraffic input, or undefined when it is not alert JSON (free text, as the
 * original's alerter sent). Accepts the envelope, a bare array of alerts, or one alert object.
 */
export function parseAlertInput(input: string): Alert[] | undefined {
  const trimmed = input.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const list: unknown = Array.isArray(parsed) ? parsed : isObject(parsed) && Array.isArray(parsed.alerts) ? parsed.alerts : isObject(parsed) ? [parsed] : undefined;
  if (!Array.isArray(list)) return undefined;
  const alerts = list.slice(0, MAX_INPUT_ALERTS).map(alertOf).filter((alert): alert is Alert => alert !== undefined);
  return alerts.length > 0 ? alerts : undefined;
}
