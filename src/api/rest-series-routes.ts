/**
 * REST: bytes, packets and flows per bucket of (start, end], every bucket present — the dashboard's
 * traffic chart.
 */
import type { FastifyPluginAsync } from 'fastify';
import { parseDuration } from '../model/duration.js';
import { NetSpectraError } from '../model/errors.js';
import { NS_PER_MS, filterOf, parseRange, rangeJson, storeCall, timePair, type FilterQuery, type Query, type QueryRouteOptions, type RangeQuery } from './http-json.js';
import { REST_SCHEMAS } from './http-schemas.js';

/** `10s`, `5m`, `1h30m` or a number of milliseconds, as nanoseconds. */
export function bucketNanos(text: string): bigint {
  if (/^\d{1,15}$/.test(text)) return BigInt(text) * NS_PER_MS;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new NetSpectraError('NS_ERR_HTTP_REQUEST', `bucket ${JSON.stringify(text)} is not a duration: give e.g. 10s, 5m, 1h or a number of milliseconds`);
  }
  return BigInt(Math.round(ms * 1e6));
}

export const seriesRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  app.get<Query<RangeQuery & FilterQuery & { task?: string; start: string; bucket: string }>>('/api/v1/series', { schema: REST_SCHEMAS.series }, async (request) => {
    const query = request.query;
    const nowMs = options.nowMs();
    const range = parseRange(query, nowMs);
    // a series needs an end: an open one is now (and the answer's range says so)
    const endNs = range.endNs ?? BigInt(nowMs) * NS_PER_MS;
    const bucketNs = bucketNanos(query.bucket ?? '60s');
    const points = await run(service.series({ startNs: range.startNs!, endNs, bucketNs, filter: filterOf(query), ...(query.task === undefined ? {} : { taskName: query.task }) }));
    return {
      range: rangeJson({ startNs: range.startNs, endNs }),
      bucketNs: bucketNs.toString(),
      bucketMs: Number(bucketNs) / 1e6,
      points: points.map((p) => ({ task: p.taskName, ...timePair('start', p.bucketStartNs), bytes: p.bytes, packets: p.packets, flows: p.flows })),
    };
  });
};
