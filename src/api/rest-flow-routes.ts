/**
 * REST: the flows of an exact task — the largest (top flows, or groups; top sources and
 * destinations) and the flow search with filters, sorting and paging.
 */
import type { FastifyPluginAsync } from 'fastify';
import { filterOf, flowRowJson, groupByOf, parseRange, rangeJson, storeCall, type FilterQuery, type Query, type QueryRouteOptions, type RangeQuery } from './http-json.js';
import { REST_SCHEMAS, topSchema, type FlowOrder } from './http-schemas.js';

/** The search's sort keys as the query service names them. */
const ORDER_NAMES: Record<FlowOrder, string> = { bytes: 'bytes', packets: 'packets', first_seen: 'firstSeen', last_seen: 'lastSeen' };

/** Rows beyond this offset are never paged to (the schema's maximum `offset`). */
const MAX_OFFSET = 10_000;

type TopQuery = RangeQuery & FilterQuery & { task: string; by: 'bytes' | 'packets'; limit: number; group_by?: string };
type SearchQuery = RangeQuery & FilterQuery & { task: string; order: FlowOrder; dir: 'asc' | 'desc'; limit: number; offset: number; group_by?: string };

export const flowRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  /** A top route; `fixedGroupBy` (sources, destinations) replaces the `group_by` parameter. */
  const top = (path: string, fixedGroupBy: string | undefined, summary: string): void => {
    app.get<Query<TopQuery>>(path, { schema: topSchema(fixedGroupBy, summary) }, async (request) => {
      const query = request.query;
      const range = parseRange(query, options.nowMs());
      const groupBy = fixedGroupBy === undefined ? groupByOf(query.group_by) : [fixedGroupBy];
      const flows = await run(service.top({ taskName: query.task, by: query.by, limit: query.limit, filter: filterOf(query), ...range, ...(groupBy === undefined ? {} : { groupBy }) }));
      return { task: query.task, by: query.by, groupBy: groupBy ?? null, range: rangeJson(range), flows: flows.map(flowRowJson) };
    });
  };
  top('/api/v1/top/flows', undefined, 'Top flows (or groups with group_by) of an exact task by bytes or packets');
  top('/api/v1/top/sources', 'SrcIP', 'Top source addresses of an exact task by bytes or packets');
  top('/api/v1/top/destinations', 'DstIP', 'Top destination addresses of an exact task by bytes or packets');

  app.get<Query<SearchQuery>>('/api/v1/flows', { schema: REST_SCHEMAS.flows }, async (request) => {
    const query = request.query;
    const range = parseRange(query, options.nowMs());
    const groupBy = groupByOf(query.group_by);
    const flows = await run(
      service.search({
        taskName: query.task,
        filter: filterOf(query),
        orderBy: ORDER_NAMES[query.order],
        descending: query.dir !== 'asc',
        limit: query.limit,
        offset: query.offset,
        ...range,
        ...(groupBy === undefined ? {} : { groupBy }),
      }),
    );
    const next = query.offset + query.limit;
    return {
      task: query.task,
      order: query.order,
      dir: query.dir,
      limit: query.limit,
      offset: query.offset,
      nextOffset: flows.length === query.limit && next <= MAX_OFFSET ? next : null,
      range: rangeJson(range),
      flows: flows.map(flowRowJson),
    };
  });
};
