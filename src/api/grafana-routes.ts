/**
 * Grafana: the original's `POST /query` (a task name as target → a bytes series over the range;
 * the original answered one point and ignored `from`), and the JSON datasource protocol of the
 * simpod-json-datasource plugin under `/grafana` (`GET /`, `POST /metrics`,
 * `/metric-payload-options`, `/query` with time series and tables, `/variable`, `/tag-keys`,
 * `/tag-values`). The prefix keeps the plugin's paths off the dashboard (`GET /`) and Prometheus
 * (`GET /metrics`); the root `POST /query` is the same handler, since the original's request is a
 * subset of the plugin's.
 *
 * Three fastify plugins: the queries (grafana-query.ts answers them), the plugin's connection test
 * and query builder, and its template variables and ad-hoc filters. Bodies are validated by their
 * schemas (http-schemas.ts) for their shape; payloads field by field (grafana-payload.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { StoredTask } from '../model/query.js';
import { storeCall, type QueryRouteOptions } from './http-json.js';
import { GRAFANA_SCHEMAS, type GrafanaTagKey } from './http-schemas.js';
import { GRAFANA_METRICS, Payload, TAG_FIELD, TAG_KEYS, fail, payloadObject } from './grafana-payload.js';
import { GrafanaQuery, grafanaRange, type GrafanaRange, type QueryBody } from './grafana-query.js';

export type { TableAnswer, TimeSeriesAnswer } from './grafana-query.js';

type Tasks = () => Promise<StoredTask[]>;
type Option = { label: string; value: string };
type VariableValue = { __text: string; __value: string };

/** The original's `POST /query` and the plugin's `POST /grafana/query`: one handler. */
export const grafanaQueryRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  app.post<{ Body: QueryBody }>('/query', { schema: GRAFANA_SCHEMAS.originalQuery }, async (request) => new GrafanaQuery(request.body, options).answer());
  app.post<{ Body: QueryBody }>('/grafana/query', { schema: GRAFANA_SCHEMAS.query }, async (request) => new GrafanaQuery(request.body, options).answer());
};

/** The plugin's Test connection (`GET /grafana`), its metrics and their select fields' options. */
export const grafanaBuilderRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  const health = async (): Promise<{ status: string; store: string }> => ({ status: 'ok', store: (await run(service.health())).status });
  app.get('/grafana', { schema: GRAFANA_SCHEMAS.health }, health);
  app.get('/grafana/', { schema: GRAFANA_SCHEMAS.healthSlash }, health);

  app.post('/grafana/metrics', { schema: GRAFANA_SCHEMAS.metrics }, async () => GRAFANA_METRICS);

  app.post<{ Body: { metric?: string; payload?: unknown; name?: string } }>('/grafana/metric-payload-options', { schema: GRAFANA_SCHEMAS.metricPayloadOptions }, async (request) =>
    payloadOptions(request.body.metric, request.body.name, () => run(service.tasks())),
  );
};

/** Template variables (`/grafana/variable`) and ad-hoc filters (`/grafana/tag-keys`, `/grafana/tag-values`). */
export const grafanaVariableRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  app.post<{ Body: { payload?: unknown; target?: string } }>('/grafana/variable', { schema: GRAFANA_SCHEMAS.variable }, async (request) =>
    variableValues(request.body.payload, request.body.target, () => run(service.tasks())),
  );

  app.post('/grafana/tag-keys', { schema: GRAFANA_SCHEMAS.tagKeys }, async () => TAG_KEYS);

  app.post<{ Body: { key: GrafanaTagKey; range?: GrafanaRange } }>('/grafana/tag-values', { schema: GRAFANA_SCHEMAS.tagValues }, async (request) => {
    const field = TAG_FIELD[request.body.key];
    const range = request.body.range === undefined ? {} : grafanaRange(request.body.range, options.nowMs());
    // the most frequent values: those of the top groups by bytes of every exact task keyed by the field
    const values = new Set<string>();
    for (const task of (await run(service.tasks())).filter((t) => t.kind === 'exact' && t.keyFields.includes(field))) {
      const flows = await run(service.top({ taskName: task.name, groupBy: [field], limit: 50, ...range }));
      for (const flow of flows) {
        const value = (flow.key as Record<string, string | number | undefined>)[field];
        if (value !== undefined) values.add(String(value));
      }
    }
    return [...values].map((value) => ({ text: value }));
  });
};

/**
 * The Grafana plugins, in the order they are registered (after the REST ones): /openapi.json
 * lists the routes in that order.
 */
export const GRAFANA_ROUTES: readonly FastifyPluginAsync<QueryRouteOptions>[] = [grafanaQueryRoutes, grafanaBuilderRoutes, grafanaVariableRoutes];

/** The options of a select payload field: the tasks of the metric's kind, or fixed values. */
async function payloadOptions(metric: string | undefined, name: string | undefined, tasks: Tasks): Promise<Option[]> {
  const option = (value: string): Option => ({ label: value, value });
  switch (name) {
    case 'task': {
      const kind = metric === 'heavy_hitters' ? 'heavy_hitter' : metric === 'super_spreaders' ? 'super_spreader' : 'exact';
      return (await tasks()).filter((t) => t.kind === kind).map((t) => option(t.name));
    }
    case 'value':
      return ['bytes', 'packets', 'flows'].map(option);
    case 'rate':
      return ['false', 'true'].map(option);
    case 'by':
    case 'type':
      return ['bytes', 'packets'].map(option);
    default:
      return fail(`payload field ${JSON.stringify(name).slice(0, 70)} has no options (fields with options: task, value, rate, by, type)`);
  }
}

/**
 * The values of a query variable. Which one: the payload as plain text (`exact_tasks`), else its
 * `target` field (object or JSON text), else the body's `target`, else `tasks`.
 */
async function variableValues(payload: unknown, target: string | undefined, tasks: Tasks): Promise<VariableValue[]> {
  const which = typeof payload === 'string' && !payload.trim().startsWith('{') ? payload.trim() : (new Payload(payloadObject(payload, 'payload'), 'payload').text('target') ?? target ?? 'tasks');
  const pairs = (values: string[]): VariableValue[] => values.map((v) => ({ __text: v, __value: v }));
  switch (which) {
    case 'tasks':
      return pairs((await tasks()).map((t) => t.name));
    case 'exact_tasks':
      return pairs((await tasks()).filter((t) => t.kind === 'exact').map((t) => t.name));
    case 'heavy_hitter_tasks':
      return pairs((await tasks()).filter((t) => t.kind === 'heavy_hitter').map((t) => t.name));
    case 'super_spreader_tasks':
      return pairs((await tasks()).filter((t) => t.kind === 'super_spreader').map((t) => t.name));
    case 'key_fields':
      return pairs(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
    default:
      return fail(`variable query ${JSON.stringify(which).slice(0, 70)} is unknown: use tasks, exact_tasks, heavy_hitter_tasks, super_spreader_tasks or key_fields`);
  }
}
