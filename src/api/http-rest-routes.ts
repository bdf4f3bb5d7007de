/**
 * The REST routes under /api/v1: one per query-service capability (docs/http-api.md). They only
 * convert — query string in (already validated by its schema), the query service's request, JSON
 * out; the service does the semantic checks and refuses with NS_ERR_QUERY_* codes.
 */
import type { FastifyInstance } from 'fastify';
import type { QueryMethods } from './query-cache.js';
import type { AlertRecord } from '../model/alert.js';
import type { SketchListType } from '../model/query.js';
import { filterOf, flowRowJson, groupByOf, parseRange, rangeJson, timePair, withDeadline, type FilterQuery, type RangeQuery } from './http-json.js';
import { REST_SCHEMAS, SKETCH_TYPE_NAMES, topSchema, type FlowOrder } from './http-schemas.js';
import { parseDuration } from '../config/duration.js';
import { NetSpectraError } from '../model/errors.js';

export interface RestRouteOptions {
  queryService: QueryMethods;
  queryTimeoutMs: number;
  nowMs: () => number;
}

const NS_PER_MS = 1_000_000n;

type Query<T> = { Querystring: T };

export function registerRestRoutes(app: FastifyInstance, options: RestRouteOptions): void {
  const service = options.queryService;
  const run = <T>(promise: Promise<T>): Promise<T> => withDeadline(promise, options.queryTimeoutMs);

  app.get(
    '/api/v1/health',
    { schema: REST_SCHEMAS.health },
    async () => {
      try {
        return await run(service.health());
      } catch (error) {
        return { ok: false, status: `NOT_SERVING: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
  );

  app.get(
    '/api/v1/tasks',
    { schema: REST_SCHEMAS.tasks },
    async () => ({ tasks: (await run(service.tasks())).map((task) => ({ name: task.name, kind: task.kind, keyFields: task.keyFields })) }),
  );

  app.get<Query<RangeQuery & FilterQuery & { task?: string }>>(
    '/api/v1/aggregate',
    { schema: REST_SCHEMAS.aggregate },
    async (request) => {
      const query = request.query;
      const range = parseRange(query, options.nowMs());
      const totals = await run(service.aggregateFlows({ ...range, ...filterOf(query), ...(query.task === undefined ? {} : { taskName: query.task }) }));
      return { range: rangeJson(range), totals: totals.map((t) => ({ task: t.taskName, bytes: t.bytes, packets: t.packets, flows: t.flows })) };
    },
  );

  app.get<Query<RangeQuery & FilterQuery & { task: string }>>(
    '/api/v1/trace',
    { schema: REST_SCHEMAS.trace },
    async (request) => {
      const query = request.query;
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
    },
  );

  const sketchList = async (task: string, type: SketchListType, query: RangeQuery & { limit: number }): Promise<unknown> => {
    const list = await run(service.heavyHitters({ taskName: task, type, limit: query.limit, ...parseRange(query, options.nowMs()) }));
    return { task, type: SKETCH_TYPE_NAMES[type], ...timePair('snapshot', list.snapshotNs), entries: list.entries.map((e) => ({ flow: e.flow, value: e.value })) };
  };

  app.get<Query<RangeQuery & { task: string; type: 'packets' | 'bytes'; limit: number }>>(
    '/api/v1/heavy-hitters',
    { schema: REST_SCHEMAS.heavyHitters },
    async (request) => sketchList(request.query.task, request.query.type === 'bytes' ? 1 : 0, request.query),
  );

  app.get<Query<RangeQuery & { task: string; limit: number }>>(
    '/api/v1/super-spreaders',
    { schema: REST_SCHEMAS.superSpreaders },
    async (request) => sketchList(request.query.task, 2, request.query),
  );

  app.get<Query<RangeQuery & { task: string; limit: number }>>(
    '/api/v1/sketch-snapshots',
    { schema: REST_SCHEMAS.sketchSnapshots },
    async (request) => {
      const query = request.query;
      const snapshots = await run(service.sketchSnapshots({ taskName: query.task, limit: query.limit, ...parseRange(query, options.nowMs()) }));
      return { task: query.task, snapshots: snapshots.map((s) => ({ ...timePair('time', s.timestampNs), type: SKETCH_TYPE_NAMES[s.type], entries: s.entries })) };
    },
  );

  // Alerts: every stored notice (firing, repeat, resolved) and the alerts active now (docs/alerting.md).
  const alertRow = (record: AlertRecord): Record<string, unknown> => ({
    ...timePair('at', record.atNs),
    kind: record.kind,
    id: record.id,
    rule: record.rule,
    task: record.taskName,
    taskKind: record.taskKind,
    metric: record.metric,
    operator: record.operator,
    threshold: record.threshold,
    flow: record.flowText,
    key: record.flow,
    value: record.value,
    ...timePair('since', record.sinceNs),
    ...timePair('firedAt', record.firedAtNs),
    evidence: record.evidence,
    runId: record.runId,
    engineId: record.engineId,
    source: record.source,
  });
  app.get<Query<RangeQuery & { rule?: string; task?: string; kind?: 'firing' | 'repeat' | 'resolved'; flow?: string; limit: number; offset: number }>>(
    '/api/v1/alerts',
    { schema: REST_SCHEMAS.alerts },
    async (request) => {
      const query = request.query;
      const records = await run(
        service.alerts({
          ...parseRange(query, options.nowMs()),
          limit: query.limit,
          offset: query.offset,
          ...(query.rule === undefined ? {} : { rule: query.rule }),
          ...(query.task === undefined ? {} : { taskName: query.task }),
          ...(query.kind === undefined ? {} : { kind: query.kind }),
          ...(query.flow === undefined ? {} : { flow: query.flow }),
        }),
      );
      return { alerts: records.map(alertRow), nextOffset: records.length === query.limit ? query.offset + records.length : null };
    },
  );

  app.get<Query<{ end?: string; rule?: string; task?: string; limit: number }>>(
    '/api/v1/alerts/active',
    { schema: REST_SCHEMAS.activeAlerts },
    async (request) => {
      const query = request.query;
      const { endNs } = parseRange({ end: query.end }, options.nowMs());
      const records = await run(
        service.activeAlerts({
          limit: query.limit,
          ...(endNs === undefined ? {} : { endNs }),
          ...(query.rule === undefined ? {} : { rule: query.rule }),
          ...(query.task === undefined ? {} : { taskName: query.task }),
        }),
      );
      return { alerts: records.map(alertRow) };
    },
  );

  type TopQuery = RangeQuery & FilterQuery & { task: string; by: 'bytes' | 'packets'; limit: number; group_by?: string };
  const top = (path: string, fixedGroupBy: string | undefined, summary: string): void => {
    app.get<Query<TopQuery>>(
      path,
      { schema: topSchema(fixedGroupBy, summary) },
      async (request) => {
        const query = request.query;
        const range = parseRange(query, options.nowMs());
        const groupBy = fixedGroupBy === undefined ? groupByOf(query.group_by) : [fixedGroupBy];
        const flows = await run(service.top({ taskName: query.task, by: query.by, limit: query.limit, filter: filterOf(query), ...range, ...(groupBy === undefined ? {} : { groupBy }) }));
        return { task: query.task, by: query.by, groupBy: groupBy ?? null, range: rangeJson(range), flows: flows.map(flowRowJson) };
      },
    );
  };
  top('/api/v1/top/flows', undefined, 'Top flows (or groups with group_by) of an exact task by bytes or packets');
  top('/api/v1/top/sources', 'SrcIP', 'Top source addresses of an exact task by bytes or packets');
  top('/api/v1/top/destinations', 'DstIP', 'Top destination addresses of an exact task by bytes or packets');

  const ORDER_NAMES: Record<FlowOrder, string> = { bytes: 'bytes', packets: 'packets', first_seen: 'firstSeen', last_seen: 'lastSeen' };
  app.get<Query<RangeQuery & FilterQuery & { task: string; order: FlowOrder; dir: 'asc' | 'desc'; limit: number; offset: number; group_by?: string }>>(
    '/api/v1/flows',
    { schema: REST_SCHEMAS.flows },
    async (request) => {
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
        nextOffset: flows.length === query.limit && next <= 10_000 ? next : null,
        range: rangeJson(range),
        flows: flows.map(flowRowJson),
      };
    },
  );

  app.get<Query<RangeQuery & FilterQuery & { task?: string; start: string; bucket: string }>>(
    '/api/v1/series',
    { schema: REST_SCHEMAS.series },
    async (request) => {
      const query = request.query;
      const nowMs = options.nowMs();
      const range = parseRange(query, nowMs);
      const endNs = range.endNs ?? BigInt(nowMs) * NS_PER_MS;
      const bucketNs = bucketNanos(query.bucket ?? '60s');
      const points = await run(
        service.series({ startNs: range.startNs!, endNs, bucketNs, filter: filterOf(query), ...(query.task === undefined ? {} : { taskName: query.task }) }),
      );
      return {
        range: rangeJson({ startNs: range.startNs, endNs }),
        bucketNs: bucketNs.toString(),
        bucketMs: Number(bucketNs) / 1e6,
        points: points.map((p) => ({ task: p.taskName, ...timePair('start', p.bucketStartNs), bytes: p.bytes, packets: p.packets, flows: p.flows })),
      };
    },
  );
}

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
