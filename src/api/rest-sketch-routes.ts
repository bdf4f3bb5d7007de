/**
 * REST: the sketch tasks' lists — heavy hitters (by packets or bytes) and super-spreaders of the
 * newest snapshot in a range — and the snapshots themselves.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SketchListType } from '../model/query.js';
import { parseRange, storeCall, timePair, type Query, type QueryRouteOptions, type RangeQuery } from './http-json.js';
import { REST_SCHEMAS, SKETCH_TYPE_NAMES } from './http-schemas.js';

type ListQuery = RangeQuery & { task: string; limit: number };

export const sketchRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  const sketchList = async (task: string, type: SketchListType, query: ListQuery): Promise<unknown> => {
    const list = await run(service.heavyHitters({ taskName: task, type, limit: query.limit, ...parseRange(query, options.nowMs()) }));
    return { task, type: SKETCH_TYPE_NAMES[type], ...timePair('snapshot', list.snapshotNs), entries: list.entries.map((e) => ({ flow: e.flow, value: e.value })) };
  };

  app.get<Query<ListQuery & { type: 'packets' | 'bytes' }>>('/api/v1/heavy-hitters', { schema: REST_SCHEMAS.heavyHitters }, async (request) =>
    sketchList(request.query.task, request.query.type === 'bytes' ? 1 : 0, request.query),
  );

  app.get<Query<ListQuery>>('/api/v1/super-spreaders', { schema: REST_SCHEMAS.superSpreaders }, async (request) => sketchList(request.query.task, 2, request.query));

  app.get<Query<ListQuery>>('/api/v1/sketch-snapshots', { schema: REST_SCHEMAS.sketchSnapshots }, async (request) => {
    const query = request.query;
    const snapshots = await run(service.sketchSnapshots({ taskName: query.task, limit: query.limit, ...parseRange(query, options.nowMs()) }));
    return { task: query.task, snapshots: snapshots.map((s) => ({ ...timePair('time', s.timestampNs), type: SKETCH_TYPE_NAMES[s.type], entries: s.entries })) };
  });
};
