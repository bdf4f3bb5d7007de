/**
 * The REST routes under /api/v1 (docs/http-api.md), one fastify plugin per resource group. They
 * only convert — query string in (already validated by its schema in http-schemas.ts), the query
 * service's request, JSON out; the service does the semantic checks and refuses with
 * NS_ERR_QUERY_* codes.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { QueryRouteOptions } from './http-json.js';
import { alertRoutes } from './rest-alert-routes.js';
import { flowRoutes } from './rest-flow-routes.js';
import { seriesRoutes } from './rest-series-routes.js';
import { sketchRoutes } from './rest-sketch-routes.js';
import { storeRoutes } from './rest-store-routes.js';
import { totalsRoutes } from './rest-totals-routes.js';

export { bucketNanos } from './rest-series-routes.js';

/**
 * The REST plugins, in the order they are registered: /openapi.json lists the routes in that
 * order (health and tasks first, as docs/http-api.md does).
 */
export const REST_ROUTES: readonly FastifyPluginAsync<QueryRouteOptions>[] = [storeRoutes, totalsRoutes, sketchRoutes, alertRoutes, flowRoutes, seriesRoutes];
