/**
 * REST: alerts — every stored notice (firing, repeat, resolved) with filters and paging, and the
 * alerts active now (docs/alerting.md).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AlertRecord } from '../model/alert.js';
import { parseRange, storeCall, timePair, type Query, type QueryRouteOptions, type RangeQuery } from './http-json.js';
import { REST_SCHEMAS } from './http-schemas.js';

type AlertFilterQuery = { rule?: string; task?: string; limit: number };

/** A stored notice as JSON (the shape of REST_SCHEMAS' alert rows). */
function alertRow(record: AlertRecord): Record<string, unknown> {
  return {
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
  };
}

export const alertRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  type NoticesQuery = RangeQuery & AlertFilterQuery & { kind?: 'firing' | 'repeat' | 'resolved'; flow?: string; offset: number };
  app.get<Query<NoticesQuery>>('/api/v1/alerts', { schema: REST_SCHEMAS.alerts }, async (request) => {
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
  });

  app.get<Query<AlertFilterQuery & { end?: string }>>('/api/v1/alerts/active', { schema: REST_SCHEMAS.activeAlerts }, async (request) => {
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
  });
};
