/**
 * The REST routes under /api/v1: one per query-service capability (docs/http-api.md). They only
 * convert — query string in (already validated by its schema), the query service's request, JSON
 * out; the service does the semantic checks and refuses with NS_ERR_QUERY_* codes.
 */
import type { FastifyInstance } from 'fastify';
import type { QueryMethods } from './query-cache.js';
import type { AlertRecord } from '../model/alert.js';
import type { SketchListType } from '../model/query.js';
import {
  ERROR_RESPONSES,
  FILTER_PROPERTIES,
  FLOW_ROW_SCHEMA,
  KEY_SCHEMA,
  RANGE_PROPERTIES,
  RANGE_SCHEMA,
  TASK_PROPERTY,
  filterOf,
  flowRowJson,
  groupByOf,
  limitProperty,
  msNumber,
  msNumberOrNull,
  nsString,
  nsStringOrNull,
  parseRange,
  rangeJson,
  text,
  timePair,
  withDeadline,
  type FilterQuery,
  type RangeQuery,
} from './http-json.js';
import { parseDuration } from '../model/duration.js';
import { NetSpectraError } from '../model/errors.js';

export interface RestRouteOptions {
  queryService: QueryMethods;
  queryTimeoutMs: number;
  nowMs: () => number;
}

const SKETCH_TYPE_NAMES = ['packets', 'bytes', 'spread'] as const;
const NS_PER_MS = 1_000_000n;

const querystring = (properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> => ({
  type: 'object',
  properties,
  ...(required.length === 0 ? {} : { required }),
  additionalProperties: false,
});

const ok = (description: string, properties: Record<string, unknown>, required = Object.keys(properties)): Record<string, unknown> => ({
  200: { description, type: 'object', properties, required },
  ...ERROR_RESPONSES,
});

type Query<T> = { Querystring: T };

export function registerRestRoutes(app: FastifyInstance, options: RestRouteOptions): void {
  const service = options.queryService;
  const run = <T>(promise: Promise<T>): Promise<T> => withDeadline(promise, options.queryTimeoutMs);
  const tags = ['rest'];

  app.get(
    '/api/v1/health',
    {
      schema: {
        tags,
        summary: "The store's health, as Thrift HealthCheck reports it",
        querystring: querystring({}),
        response: ok('health', { ok: { type: 'boolean' }, status: { type: 'string', description: 'SERVING or NOT_SERVING: <why>' } }),
      },
    },
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
    {
      schema: {
        tags,
        summary: 'Every stored task with its kind and key fields',
        querystring: querystring({}),
        response: ok('tasks', {
          tasks: {
            type: 'array',
            items: {
              type: 'object',
              properties: { name: { type: 'string' }, kind: { type: 'string', enum: ['exact', 'heavy_hitter', 'super_spreader'] }, keyFields: { type: 'array', items: { type: 'string' } } },
              required: ['name', 'kind', 'keyFields'],
            },
          },
        }),
      },
    },
    async () => ({ tasks: (await run(service.tasks())).map((task) => ({ name: task.name, kind: task.kind, keyFields: task.keyFields })) }),
  );

  app.get<Query<RangeQuery & FilterQuery & { task?: string }>>(
    '/api/v1/aggregate',
    {
      schema: {
        tags,
        summary: 'AggregateFlows: bytes, packets and flows per exact task over a range',
        querystring: querystring({ ...TASK_PROPERTY, ...RANGE_PROPERTIES, ...FILTER_PROPERTIES }),
        response: ok('totals per task', {
          range: RANGE_SCHEMA,
          totals: {
            type: 'array',
            items: {
              type: 'object',
              properties: { task: { type: 'string' }, bytes: { type: 'number' }, packets: { type: 'number' }, flows: { type: 'number' } },
              required: ['task', 'bytes', 'packets', 'flows'],
            },
          },
        }),
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseRange(query, options.nowMs());
      const totals = await run(service.aggregateFlows({ ...range, ...filterOf(query), ...(query.task === undefined ? {} : { taskName: query.task }) }));
      return { range: rangeJson(range), totals: totals.map((t) => ({ task: t.taskName, bytes: t.bytes, packets: t.packets, flows: t.flows })) };
    },
  );

  app.get<Query<RangeQuery & FilterQuery & { task: string }>>(
    '/api/v1/trace',
    {
      schema: {
        tags,
        summary: "TraceFlow: one flow's lifetime and totals across periods and runs",
        description: 'The flow key is given by the filter parameters (at least one, each in the task key). 404 NS_ERR_QUERY_NOT_FOUND when no flow matches.',
        querystring: querystring({ ...TASK_PROPERTY, ...RANGE_PROPERTIES, ...FILTER_PROPERTIES }, ['task']),
        response: {
          ...ok('the flow', {
            task: { type: 'string' },
            key: KEY_SCHEMA,
            firstSeenNs: nsString,
            firstSeenMs: msNumber,
            lastSeenNs: nsString,
            lastSeenMs: msNumber,
            packets: { type: 'number' },
            bytes: { type: 'number' },
          }),
          404: { ...ERROR_RESPONSES[400], description: 'no flow matches (NS_ERR_QUERY_NOT_FOUND)' },
        },
      },
    },
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

  const sketchListResponse = ok('the newest list in the range', {
    task: { type: 'string' },
    type: { type: 'string', enum: [...SKETCH_TYPE_NAMES] },
    snapshotNs: nsStringOrNull,
    snapshotMs: msNumberOrNull,
    entries: {
      type: 'array',
      items: { type: 'object', properties: { flow: { type: 'string' }, value: { type: 'number' } }, required: ['flow', 'value'] },
    },
  });
  const sketchList = async (task: string, type: SketchListType, query: RangeQuery & { limit: number }): Promise<unknown> => {
    const list = await run(service.heavyHitters({ taskName: task, type, limit: query.limit, ...parseRange(query, options.nowMs()) }));
    return { task, type: SKETCH_TYPE_NAMES[type], ...timePair('snapshot', list.snapshotNs), entries: list.entries.map((e) => ({ flow: e.flow, value: e.value })) };
  };

  app.get<Query<RangeQuery & { task: string; type: 'packets' | 'bytes'; limit: number }>>(
    '/api/v1/heavy-hitters',
    {
      schema: {
        tags,
        summary: "A heavy-hitter task's list (by packets or bytes) of the newest snapshot in the range",
        querystring: querystring(
          { ...TASK_PROPERTY, type: { type: 'string', enum: ['packets', 'bytes'], default: 'packets', description: 'rank by packets or bytes' }, limit: limitProperty(10), ...RANGE_PROPERTIES },
          ['task'],
        ),
        response: sketchListResponse,
      },
    },
    async (request) => sketchList(request.query.task, request.query.type === 'bytes' ? 1 : 0, request.query),
  );

  app.get<Query<RangeQuery & { task: string; limit: number }>>(
    '/api/v1/super-spreaders',
    {
      schema: {
        tags,
        summary: "A SuperSpread task's list of the newest snapshot in the range",
        querystring: querystring({ ...TASK_PROPERTY, limit: limitProperty(10), ...RANGE_PROPERTIES }, ['task']),
        response: sketchListResponse,
      },
    },
    async (request) => sketchList(request.query.task, 2, request.query),
  );

  app.get<Query<RangeQuery & { task: string; limit: number }>>(
    '/api/v1/sketch-snapshots',
    {
      schema: {
        tags,
        summary: "A sketch task's snapshots in the range, newest first",
        querystring: querystring({ ...TASK_PROPERTY, limit: limitProperty(10), ...RANGE_PROPERTIES }, ['task']),
        response: ok('snapshots', {
          task: { type: 'string' },
          snapshots: {
            type: 'array',
            items: {
              type: 'object',
              properties: { timeNs: nsString, timeMs: msNumber, type: { type: 'string', enum: [...SKETCH_TYPE_NAMES] }, entries: { type: 'integer' } },
              required: ['timeNs', 'timeMs', 'type', 'entries'],
            },
          },
        }),
      },
    },
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
  const ALERT_ROW_SCHEMA = {
    type: 'object',
    properties: {
      atNs: nsString,
      atMs: msNumber,
      kind: { type: 'string', enum: ['firing', 'repeat', 'resolved'] },
      id: { type: 'string' },
      rule: { type: 'string' },
      task: { type: 'string' },
      taskKind: { type: 'string' },
      metric: { type: 'string' },
      operator: { type: 'string' },
      threshold: { type: 'number' },
      flow: { type: 'string', description: "the offending flow key as text; '' for a task-wide alert" },
      key: KEY_SCHEMA,
      value: { type: 'number' },
      sinceNs: nsString,
      sinceMs: msNumber,
      firedAtNs: nsStringOrNull,
      firedAtMs: msNumberOrNull,
      evidence: { type: 'array', items: { type: 'object', additionalProperties: true } },
      runId: { type: 'string' },
      engineId: { type: 'string' },
      source: { type: 'string' },
    },
    required: ['atNs', 'atMs', 'kind', 'id', 'rule', 'task', 'metric', 'flow', 'value'],
  } as const;
  const ALERT_FILTERS = {
    rule: text('only this rule'),
    task: text('only rules on this task'),
  } as const;

  app.get<Query<RangeQuery & { rule?: string; task?: string; kind?: 'firing' | 'repeat' | 'resolved'; flow?: string; limit: number; offset: number }>>(
    '/api/v1/alerts',
    {
      schema: {
        tags,
        summary: 'Stored alert notices in the range, newest first',
        querystring: querystring({
          ...RANGE_PROPERTIES,
          ...ALERT_FILTERS,
          kind: { type: 'string', enum: ['firing', 'repeat', 'resolved'] },
          flow: { type: 'string', maxLength: 256, description: "the offending flow key as text; '' selects task-wide alerts" },
          limit: limitProperty(100),
          offset: { type: 'integer', minimum: 0, maximum: 10_000, default: 0 },
        }),
        response: ok('alert notices', { alerts: { type: 'array', items: ALERT_ROW_SCHEMA }, nextOffset: { type: ['integer', 'null'] } }),
      },
    },
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
    {
      schema: {
        tags,
        summary: 'Alerts whose newest notice (by `end`, default all stored) is not a resolve: what is firing',
        querystring: querystring({ end: RANGE_PROPERTIES.end, ...ALERT_FILTERS, limit: limitProperty(100) }),
        response: ok('active alerts', { alerts: { type: 'array', items: ALERT_ROW_SCHEMA } }),
      },
    },
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
      {
        schema: {
          tags,
          summary,
          querystring: querystring(
            {
              ...TASK_PROPERTY,
              by: { type: 'string', enum: ['bytes', 'packets'], default: 'bytes', description: 'rank by bytes or packets' },
              limit: limitProperty(10),
              ...(fixedGroupBy === undefined ? { group_by: text('comma-separated key fields to group by, e.g. SrcIP,DstPort (default: the whole key)', 64) } : {}),
              ...RANGE_PROPERTIES,
              ...FILTER_PROPERTIES,
            },
            ['task'],
          ),
          response: ok('the largest flows or groups', {
            task: { type: 'string' },
            by: { type: 'string' },
            groupBy: { type: ['array', 'null'], items: { type: 'string' } },
            range: RANGE_SCHEMA,
            flows: { type: 'array', items: FLOW_ROW_SCHEMA },
          }),
        },
      },
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

  const ORDER_NAMES: Record<string, string> = { bytes: 'bytes', packets: 'packets', first_seen: 'firstSeen', last_seen: 'lastSeen' };
  app.get<Query<RangeQuery & FilterQuery & { task: string; order: string; dir: 'asc' | 'desc'; limit: number; offset: number; group_by?: string }>>(
    '/api/v1/flows',
    {
      schema: {
        tags,
        summary: 'Flow search: filters, sorting and paging',
        querystring: querystring(
          {
            ...TASK_PROPERTY,
            order: { type: 'string', enum: Object.keys(ORDER_NAMES), default: 'bytes', description: 'sort key' },
            dir: { type: 'string', enum: ['asc', 'desc'], default: 'desc', description: 'sort direction' },
            limit: limitProperty(100),
            offset: { type: 'integer', minimum: 0, maximum: 10_000, default: 0, description: 'rows to skip' },
            group_by: text('comma-separated key fields to group by (default: the whole key)', 64),
            ...RANGE_PROPERTIES,
            ...FILTER_PROPERTIES,
          },
          ['task'],
        ),
        response: ok('one page of flows', {
          task: { type: 'string' },
          order: { type: 'string' },
          dir: { type: 'string' },
          limit: { type: 'integer' },
          offset: { type: 'integer' },
          nextOffset: { type: ['integer', 'null'], description: 'offset of the next page; null after the last' },
          range: RANGE_SCHEMA,
          flows: { type: 'array', items: FLOW_ROW_SCHEMA },
        }),
      },
    },
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
    {
      schema: {
        tags,
        summary: 'Bytes, packets and flows per bucket of (start, end], every bucket present',
        querystring: querystring(
          {
            ...TASK_PROPERTY,
            ...RANGE_PROPERTIES,
            bucket: text('bucket size: a Go duration (10s, 5m) or milliseconds', 32),
            ...FILTER_PROPERTIES,
          },
          ['start'],
        ),
        response: ok('the series', {
          range: RANGE_SCHEMA,
          bucketNs: nsString,
          bucketMs: { type: 'number' },
          points: {
            type: 'array',
            items: {
              type: 'object',
              properties: { task: { type: 'string' }, startNs: nsString, startMs: msNumber, bytes: { type: 'number' }, packets: { type: 'number' }, flows: { type: 'number' } },
              required: ['task', 'startNs', 'startMs', 'bytes', 'packets', 'flows'],
            },
          },
        }),
      },
    },
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
