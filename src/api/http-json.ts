/**
 * What the HTTP API's routes share: the JSON shapes of times and flow rows (their schemas are in
 * http-schemas.ts), the conversion of query-string filters, and the mapping of NetSpectra error
 * codes to HTTP statuses.
 *
 * JSON numbers are doubles, so nanosecond times travel twice: `…Ns` as a decimal string (exact)
 * and `…Ms` as a number of milliseconds (for `new Date()`).
 */
import { NetSpectraError, isNetSpectraError, type ErrorCode } from '../model/errors.js';
import type { FlowTotals, TimeRangeNs } from '../model/query.js';
import { parseTimeText } from '../query/time-text.js';
import type { FlowFilterRequest } from '../query/query-service.js';
import type { QueryMethods } from './query-cache.js';

export const NS_PER_MS = 1_000_000n;

/** `{xNs: "…", xMs: n}` for a time; both null when absent. */
export function timePair<N extends string>(name: N, ns: bigint | undefined): Record<`${N}Ns`, string | null> & Record<`${N}Ms`, number | null> {
  return {
    [`${name}Ns`]: ns === undefined ? null : ns.toString(),
    [`${name}Ms`]: ns === undefined ? null : Number(ns / NS_PER_MS),
  } as Record<`${N}Ns`, string | null> & Record<`${N}Ms`, number | null>;
}

export interface RangeJson {
  startNs: string | null;
  startMs: number | null;
  endNs: string | null;
  endMs: number | null;
}

export function rangeJson(range: { startNs?: bigint; endNs?: bigint }): RangeJson {
  return { ...timePair('start', range.startNs), ...timePair('end', range.endNs) };
}

export interface FlowRowJson {
  task: string;
  key: Record<string, string | number>;
  bytes: number;
  packets: number;
  firstSeenNs: string;
  firstSeenMs: number;
  lastSeenNs: string;
  lastSeenMs: number;
}

export function flowRowJson(flow: FlowTotals): FlowRowJson {
  const key: Record<string, string | number> = {};
  for (const [field, value] of Object.entries(flow.key)) if (value !== undefined && value !== null) key[field] = value as string | number;
  return {
    task: flow.taskName,
    key,
    bytes: flow.bytes,
    packets: flow.packets,
    firstSeenNs: flow.firstSeenNs.toString(),
    firstSeenMs: Number(flow.firstSeenNs / NS_PER_MS),
    lastSeenNs: flow.lastSeenNs.toString(),
    lastSeenMs: Number(flow.lastSeenNs / NS_PER_MS),
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

/** What every query route plugin (REST and Grafana) is given. */
export interface QueryRouteOptions {
  /** The query service, behind the short answer cache. */
  queryService: QueryMethods;
  /** Longest a store call may take (ms); longer: NS_ERR_QUERY_STORE. */
  queryTimeoutMs: number;
  /** The clock for `now` and relative times. */
  nowMs: () => number;
}

/** A store call of a route, cut at the options' deadline: `run(service.tasks())`. */
export function storeCall(options: QueryRouteOptions): <T>(promise: Promise<T>) => Promise<T> {
  return (promise) => withDeadline(promise, options.queryTimeoutMs);
}

/** The route generic of a GET with this (schema-validated) query string. */
export type Query<T> = { Querystring: T };

export interface RangeQuery {
  start?: string;
  end?: string;
}

export interface FilterQuery {
  src_ip?: string;
  dst_ip?: string;
  src_port?: number;
  dst_port?: number;
  protocol?: number;
}

/** The range of a request, parsed with the one time parser; errors are NS_ERR_HTTP_REQUEST. */
export function parseRange(query: RangeQuery, nowMs: number, names: { start: string; end: string } = { start: 'start', end: 'end' }): { startNs?: bigint; endNs?: bigint } {
  const range: { startNs?: bigint; endNs?: bigint } = {};
  if (query.start !== undefined) range.startNs = parseTimeText(names.start, query.start, nowMs, 'NS_ERR_HTTP_REQUEST');
  if (query.end !== undefined) range.endNs = parseTimeText(names.end, query.end, nowMs, 'NS_ERR_HTTP_REQUEST');
  return range;
}

export function filterOf(query: FilterQuery): FlowFilterRequest {
  const filter: FlowFilterRequest = {};
  if (query.src_ip !== undefined) filter.srcIP = query.src_ip;
  if (query.dst_ip !== undefined) filter.dstIP = query.dst_ip;
  if (query.src_port !== undefined) filter.srcPort = query.src_port;
  if (query.dst_port !== undefined) filter.dstPort = query.dst_port;
  if (query.protocol !== undefined) filter.protocol = query.protocol;
  return filter;
}

/** `SrcIP,DstPort` → ['SrcIP', 'DstPort'] (the service checks the names against the task's key). */
export function groupByOf(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const fields = text
    .split(',')
    .map((field) => field.trim())
    .filter((field) => field !== '');
  return fields.length === 0 ? undefined : fields;
}

export type { TimeRangeNs };

// ---------------------------------------------------------------------------------------------
// Errors

/** The HTTP status of a NetSpectra error code. */
export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'NS_ERR_HTTP_UNAUTHORIZED':
      return 401;
    case 'NS_ERR_QUERY_NOT_FOUND':
    case 'NS_ERR_HTTP_NOT_FOUND':
      return 404;
    case 'NS_ERR_HTTP_REQUEST':
    case 'NS_ERR_QUERY_RANGE':
    case 'NS_ERR_QUERY_LIMIT':
    case 'NS_ERR_QUERY_FILTER':
    case 'NS_ERR_QUERY_TASK':
    case 'NS_ERR_USAGE':
      return 400;
    case 'NS_ERR_QUERY_STORE':
    case 'NS_ERR_CLICKHOUSE_UNREACHABLE':
    case 'NS_ERR_CLICKHOUSE_AUTH':
    case 'NS_ERR_CLICKHOUSE_QUERY':
    case 'NS_ERR_CLICKHOUSE_SCHEMA':
    case 'NS_ERR_STORE_OPEN':
    case 'NS_ERR_STORE_SCHEMA':
      return 503;
    default:
      return 500;
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Reject with NS_ERR_QUERY_STORE when the store takes longer than `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NetSpectraError('NS_ERR_QUERY_STORE', `the store did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export { isNetSpectraError };
