/**
 * REST: totals over a range — per exact task (AggregateFlows) and of one flow across periods and
 * runs (TraceFlow).
 */
import type { FastifyPluginAsync } from 'fastify';
import { filterOf, parseRange, rangeJson, storeCall, timePair, type FilterQuery, type Query, type QueryRouteOptions, type RangeQuery } from './http-json.js';
import { REST_SCHEMAS } from './http-schemas.js';

export const totalsRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  app.get<Query<RangeQuery & FilterQuery & { task?: string }>>('/api/v1/aggregate', { schema: REST_SCHEMAS.aggregate }, async (request) => {
    const query = request.query;
    const range = parseRange(query, options.nowMs());
    const totals = await run(service.aggregateFlows({ ...range, ...filterOf(query), ...(query.task === undefined ? {} : { taskName: query.task }) }));
    return { range: rangeJson(range), totals: totals.map((t) => ({ task: t.taskName, bytes: t.bytes, packets: t.packets, flows: t.flows })) };
  });

  app.get<Query<RangeQuery & FilterQuery & { task: string }>>('/api/v1/trace', { schema: REST_SCHEMAS.trace }, async (request) => {
    const query = request.query;
    // the filter parameters are the flow key, answered with the key's field names
    const key: Record<string, string | number> = {};
    if (query.src_ip !== undefined) key.SrcIP = query.src_ip;
    if (query.dst_ip !== undefined) key.DstIP = query.dst_ip;
    if (query.src_port !== undefined) key.SrcPort = query.src_port;
    if (query.dst_port !== undefined) key.DstPort = query.dst_port;
    if (query.protocol !== undefined) key.Protocol = query.protocol;
    const flowKeys = Object.fromEntries(Object.entries(key).map(([field, value]) => [field, String(value)]));
    const lifecycle = await run(service.traceFlow({ taskName: query.task, flowKeys, ...parseRange(query, options.nowMs()) }));
    return {
      task: query.task,
      key,
      ...timePair('firstSeen', lifecycle.firstSeenNs),
      ...timePair('lastSeen', lifecycle.lastSeenNs),
      packets: lifecycle.packets,
      bytes: lifecycle.bytes,
    };
  });
};
