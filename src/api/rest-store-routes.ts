/**
 * REST: the store's health (as Thrift HealthCheck reports it) and the tasks it holds.
 */
import type { FastifyPluginAsync } from 'fastify';
import { storeCall, type QueryRouteOptions } from './http-json.js';
import { REST_SCHEMAS } from './http-schemas.js';
import { errorMessage } from '../model/errors.js';

export const storeRoutes: FastifyPluginAsync<QueryRouteOptions> = async (app, options) => {
  const service = options.queryService;
  const run = storeCall(options);

  // A failing store is an answer here (ok: false, with why), not an error: this is the health check.
  app.get('/api/v1/health', { schema: REST_SCHEMAS.health }, async () => {
    try {
      return await run(service.health());
    } catch (error) {
      return { ok: false, status: `NOT_SERVING: ${errorMessage(error)}` };
    }
  });

  app.get('/api/v1/tasks', { schema: REST_SCHEMAS.tasks }, async () => ({
    tasks: (await run(service.tasks())).map((task) => ({ name: task.name, kind: task.kind, keyFields: task.keyFields })),
  }));
};
