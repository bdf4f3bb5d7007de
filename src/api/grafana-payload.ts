/**
 * What a Grafana target's payload may hold and how it is read: the metrics the plugin's query
 * builder offers with their payload fields, the ad-hoc filter keys, and the checks of the fields.
 *
 * The plugin's payloads are free-form JSON typed by people in Grafana (and filled from template
 * variables, so numbers may arrive as text), so they are checked field by field with messages that
 * name the target and field, all NS_ERR_HTTP_REQUEST.
 */
import { NetSpectraError } from '../model/errors.js';
import type { FlowFilterRequest } from '../query/query-service.js';
import type { GrafanaTagKey } from './http-schemas.js';

/** An ad-hoc filter of a query (Grafana's dashboard-wide `key = value`). */
export interface AdhocFilter {
  key: string;
  operator: string;
  value: string;
}

/** Refuse the request with this message. */
export const fail = (message: string): never => {
  throw new NetSpectraError('NS_ERR_HTTP_REQUEST', message);
};

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
/** Metrics the plugin's builder offers (POST /grafana/metrics), with their payload fields. */
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
/** The metric names a target may give; any other target is the original's task name. */
export const METRIC_NAMES = new Set(GRAFANA_METRICS.map((m) => m.value));
/** The payload fields of each metric: any other field is refused. */
export const PAYLOAD_KEYS: Record<string, readonly string[]> = Object.fromEntries(GRAFANA_METRICS.map((m) => [m.value, m.payloads.map((p) => p.name)]));

/** The ad-hoc filter keys (POST /grafana/tag-keys) … */
export const TAG_KEYS = [
  { type: 'string', text: 'src_ip' },
  { type: 'string', text: 'dst_ip' },
  { type: 'number', text: 'src_port' },
  { type: 'number', text: 'dst_port' },
  { type: 'number', text: 'protocol' },
] as const;
/** … and the flow key field each one filters. */
export const TAG_FIELD: Record<GrafanaTagKey, 'SrcIP' | 'DstIP' | 'SrcPort' | 'DstPort' | 'Protocol'> = { src_ip: 'SrcIP', dst_ip: 'DstIP', src_port: 'SrcPort', dst_port: 'DstPort', protocol: 'Protocol' };

/** Grafana's ad-hoc filters as payload fields (`src_ip` …); only `=` is supported. */
export function adhocFields(filters: readonly AdhocFilter[] | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  (filters ?? []).forEach((f, i) => {
    if (!(f.key in TAG_FIELD)) fail(`adhocFilters[${i}].key must be one of ${Object.keys(TAG_FIELD).join(', ')}, got ${JSON.stringify(f.key)}`);
    if (f.operator !== '=') fail(`adhocFilters[${i}].operator ${JSON.stringify(f.operator)} is not supported: only = is`);
    fields[f.key] = f.value;
  });
  return fields;
}

/** A target's payload as an object; the plugin sends an object, older versions a JSON string. */
export function payloadObject(payload: unknown, where: string): Record<string, unknown> {
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
export class Payload {
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
