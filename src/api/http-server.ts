/**
 * The HTTP API (docs/http-api.md): REST under /api/v1, Grafana (the original's POST /query and the
 * JSON datasource protocol under /grafana), /openapi.json, /healthz, /readyz, Prometheus /metrics,
 * and the dashboard's static files at /. Over the same query service as the Thrift API.
 *
 * Safe to expose: bearer tokens (constant-time compare) on every route but health and static
 * files; a JSON schema on every route (unknown parameters refused, not dropped); body limit,
 * connection and request timeouts, a deadline on store calls; every error is
 * `{error: {code, message}}` with a NetSpectra code — never a stack — and a store failure is a 503.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import { NetSpectraError, isNetSpectraError } from '../model/errors.js';
import type { QueryService } from '../query/query-service.js';
import { GRAFANA_ROUTES } from './grafana-routes.js';
import { errorBody, statusOf, withDeadline } from './http-json.js';
import { HttpRequestMetrics } from './http-metrics.js';
import { REST_ROUTES } from './http-rest-routes.js';
import { SERVICE_SCHEMAS } from './http-schemas.js';
import { QueryCache, cachedQueries } from './query-cache.js';
import { PROMETHEUS_CONTENT_TYPE } from '../model/prometheus-text.js';
import { splitAddress } from './thrift-query-server.js';

export interface HttpApiOptions {
  queryService: QueryService;
  /**
   * Bearer tokens (`api.auth_tokens`); empty: no authentication (and a warning at start when the
   * address is not loopback).
   * @default []
   */
  authTokens?: readonly string[];
  /**
   * Origins whose pages may call the API from a browser (`api.cors_origins`; `*`: any). Empty: no
   * CORS headers (same origin only).
   * @default []
   */
  corsOrigins?: readonly string[];
  /**
   * `host:port` (`api.http_listen_addr`); port 0 takes a free port (see `url`).
   * @default "127.0.0.1:8080"
   */
  listenAddr?: string;
  /** The dashboard's built files (web/dist); absent or missing: a page saying it is not built. */
  staticRoot?: string;
  /**
   * Largest request body (bytes); larger: 413.
   * @default 65536
   */
  bodyLimit?: number;
  /**
   * Idle socket timeout (ms).
   * @default 60000
   */
  connectionTimeout?: number;
  /**
   * Time to receive a whole request (ms); slower: 408.
   * @default 30000
   */
  requestTimeout?: number;
  /**
   * Longest a store call may take (ms); longer: 503 NS_ERR_QUERY_STORE.
   * @default 30000
   */
  queryTimeoutMs?: number;
  /**
   * How long a query's answer is reused for identical requests (ms); 0: not at all (identical
   * requests in flight still share one store call). See query-cache.ts for why this is sound.
   * @default 2000
   */
  cacheTtlMs?: number;
  /**
   * How long after its TTL an answer is still given at once while it is renewed in the background
   * (ms); 0: an expired answer is asked again and waited for.
   * @default 10000
   */
  cacheStaleMs?: number;
  /**
   * How long stop() lets requests in flight finish before closing their connections (ms).
   * @default 5000
   */
  stopGraceMs?: number;
  /** Warnings and unexpected errors, one line each (never a token). Default: stderr. */
  log?: (line: string) => void;
  /** The clock for `now` and relative times; tests pass their own. */
  nowMs?: () => number;
}

export interface HttpApi extends AsyncDisposable {
  /** Build the routes and listen. */
  start(): Promise<void>;
  /** Stop listening and close open connections. */
  stop(): Promise<void>;
  /** `http://host:port` once started (the real port when 0 was asked for). */
  readonly url: string;
  readonly address: { host: string; port: number };
}

/** Paths of the API itself: never answered with the dashboard's index.html. */
const API_PREFIXES = ['/api/', '/grafana', '/openapi.json', '/metrics', '/healthz', '/readyz', '/query'];

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetSpectra</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>NetSpectra</h1>
<p>The web dashboard is not built. Build it with <code>npm run build:web</code> (Vite, into <code>web/dist</code>), or use the API:
<a href="/api/v1/tasks">/api/v1/tasks</a> (docs/http-api.md).</p>
</body></html>
`;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::ffff:127.0.0.1';
}

export function createHttpApi(options: HttpApiOptions): HttpApi {
  return new HttpApiServer(options);
}

export class HttpApiServer implements HttpApi {
  readonly #options: HttpApiOptions;
  readonly #tokenDigests: Buffer[];
  readonly #metrics = new HttpRequestMetrics();
  readonly #cache: QueryCache;
  #app: FastifyInstance | undefined;
  #address: { host: string; port: number } | undefined;

  constructor(options: HttpApiOptions) {
    this.#options = options;
    this.#cache = new QueryCache({ ttlMs: options.cacheTtlMs ?? 2000, staleMs: options.cacheStaleMs ?? 10_000, version: () => options.queryService.store.version?.() });
    // digests of equal length, so the comparison's time tells nothing about a token's length
    this.#tokenDigests = (options.authTokens ?? []).filter((t) => t !== '').map(digest);
  }

  get address(): { host: string; port: number } {
    if (this.#address === undefined) throw new NetSpectraError('NS_ERR_LISTEN', 'the HTTP API is not listening');
    return this.#address;
  }

  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async start(): Promise<void> {
    if (this.#app !== undefined) return;
    const listenAddr = this.#options.listenAddr ?? '127.0.0.1:8080';
    const { host, port } = splitAddress(listenAddr);
    const app = await this.#build();
    try {
      await app.listen({ host, port });
    } catch (error) {
      await app.close();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new NetSpectraError('NS_ERR_LISTEN', `the HTTP API cannot listen on ${listenAddr}: ${code} (another process on the port? set api.http_listen_addr)`, { cause: error });
    }
    const bound = app.server.address();
    this.#address = bound !== null && typeof bound === 'object' ? { host: bound.address, port: bound.port } : { host, port };
    this.#app = app;
    if (this.#tokenDigests.length === 0 && !isLoopbackHost(host)) {
      this.#log(`netspectra api: WARNING: the HTTP API on ${listenAddr} has no authentication (api.auth_tokens is empty) and listens beyond loopback: anyone who can reach it can read the traffic data`);
    }
  }

  async stop(): Promise<void> {
    const app = this.#app;
    this.#app = undefined;
    if (app === undefined) return;
    // Requests in flight may finish (fastify closes idle keep-alive connections itself), but a
    // slow store query must not hold a SIGTERM for long: after the grace period, cut them.
    const grace = setTimeout(() => app.server.closeAllConnections(), this.#options.stopGraceMs ?? 5_000);
    try {
      await app.close();
    } finally {
      clearTimeout(grace);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #log(line: string): void {
    (this.#options.log ?? ((text: string) => process.stderr.write(`${text}\n`)))(line);
  }

  /** True when the request carries one of the tokens (or none are configured). */
  #authorised(request: FastifyRequest): boolean {
    if (this.#tokenDigests.length === 0) return true;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (match === null) return false;
    const presented = digest(match[1]!);
    let found = false;
    // every token compared, so the time does not tell which one matched
    for (const expected of this.#tokenDigests) found = timingSafeEqual(presented, expected) || found;
    return found;
  }

  async #build(): Promise<FastifyInstance> {
    const options = this.#options;
    const queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
    const nowMs = options.nowMs ?? Date.now;
    const service = options.queryService;
    const app = Fastify({
      logger: false,
      bodyLimit: options.bodyLimit ?? 65_536,
      connectionTimeout: options.connectionTimeout ?? 60_000,
      requestTimeout: options.requestTimeout ?? 30_000,
      keepAliveTimeout: 5_000,
      routerOptions: { maxParamLength: 256 },
      return503OnClosing: true,
      ajv: {
        customOptions: {
          // unknown parameters are refused, not silently dropped
          removeAdditional: false,
          coerceTypes: 'array',
          useDefaults: true,
          allErrors: false,
          // payloads are an object or (older plugin versions) a JSON string
          allowUnionTypes: true,
        },
      },
    });

    app.setErrorHandler((error: FastifyError, request, reply) => this.#sendError(error, request, reply));
    app.setNotFoundHandler((request, reply) => this.#notFound(request, reply));
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.#metrics.record(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
    });

    const corsOrigins = options.corsOrigins ?? [];
    if (corsOrigins.length > 0) {
      // Preflights are answered before auth (they carry no token); the answers themselves still
      // need one. Tokens travel in a header, never in cookies, so no credentials mode.
      await app.register(fastifyCors, {
        origin: corsOrigins.includes('*') ? '*' : [...corsOrigins],
        methods: ['GET', 'POST'],
        allowedHeaders: ['authorization', 'content-type'],
        maxAge: 600,
      });
    }

    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'NetSpectra HTTP API', version: '1', description: 'REST over the query service, Grafana JSON datasource protocol, service routes. docs/http-api.md.' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });

    // Open routes: liveness, readiness, the dashboard's files.
    app.get('/healthz', { schema: SERVICE_SCHEMAS.healthz }, async () => ({ status: 'ok' }));
    app.get('/readyz', { schema: SERVICE_SCHEMAS.readyz }, async (_request, reply) => {
      const health = await withDeadline(service.health(), queryTimeoutMs).catch((error: unknown) => ({ ok: false, status: `NOT_SERVING: ${(error as Error).message}` }));
      if (!health.ok) return reply.code(503).send(errorBody('NS_ERR_QUERY_STORE', `the store is not ready: ${health.status}`));
      return { status: 'ready', store: health.status };
    });
    this.#registerStatic(app);

    // Everything else needs the token: registered in its own context, so the hook covers only these routes.
    await app.register(async (secured) => this.#registerSecured(app, secured, queryTimeoutMs, nowMs));
    await app.ready();
    return app;
  }

  /** The routes behind the token: this document, Prometheus, REST and Grafana. */
  async #registerSecured(app: FastifyInstance, secured: FastifyInstance, queryTimeoutMs: number, nowMs: () => number): Promise<void> {
    const service = this.#options.queryService;
    secured.addHook('onRequest', async (request, reply) => {
      if (this.#authorised(request)) return;
      this.#metrics.unauthorized++;
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="netspectra"')
        .send(errorBody('NS_ERR_HTTP_UNAUTHORIZED', this.#tokenDigests.length > 0 && request.headers.authorization === undefined ? 'this API requires a token: send Authorization: Bearer <token> (api.auth_tokens)' : 'the token is not one of api.auth_tokens'));
    });
    secured.get('/openapi.json', { schema: SERVICE_SCHEMAS.openapi }, async () => app.swagger());
    secured.get('/metrics', { schema: SERVICE_SCHEMAS.metrics }, async (_request, reply) => {
      const health = await withDeadline(service.health(), queryTimeoutMs).catch(() => ({ ok: false }));
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(this.#metrics.render(health.ok, this.#cache));
    });
    const routeOptions = { queryService: cachedQueries(service, this.#cache), queryTimeoutMs, nowMs };
    // awaited one by one: the routes (and /openapi.json's paths) keep this order
    for (const plugin of [...REST_ROUTES, ...GRAFANA_ROUTES]) await secured.register(plugin, routeOptions);
  }

  #staticRoot(): string | undefined {
    const root = this.#options.staticRoot;
    if (root === undefined) return undefined;
    const absolute = resolve(root);
    return existsSync(join(absolute, 'index.html')) && statSync(absolute).isDirectory() ? absolute : undefined;
  }

  #registerStatic(app: FastifyInstance): void {
    const root = this.#staticRoot();
    if (root === undefined) {
      app.get('/', { schema: SERVICE_SCHEMAS.notBuiltPage }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(NOT_BUILT_PAGE));
      return;
    }
    void app.register(fastifyStatic, { root, prefix: '/', wildcard: true, index: ['index.html'], dotfiles: 'deny', schemaHide: true, cacheControl: true, maxAge: 0 });
  }

  #isApiPath(url: string): boolean {
    const path = url.split('?')[0] ?? '';
    return API_PREFIXES.some((prefix) => path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
  }

  async #notFound(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if ((request.method === 'GET' || request.method === 'HEAD') && !this.#isApiPath(request.url)) {
      // the single-page app routes in the browser: any other page is its index.html
      const root = this.#staticRoot();
      if (root !== undefined) return reply.type('text/html; charset=utf-8').sendFile('index.html', root);
      return reply.code(404).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    }
    return reply.code(404).send(errorBody('NS_ERR_HTTP_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 100)} (docs/http-api.md, /openapi.json)`));
  }

  async #sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (isNetSpectraError(error)) return reply.code(statusOf(error.code)).send(errorBody(error.code, error.message));
    if (error.validation !== undefined) {
      const where = error.validationContext === 'querystring' ? 'parameter' : error.validationContext === 'body' ? 'body' : (error.validationContext ?? 'request');
      return reply.code(400).send(errorBody('NS_ERR_HTTP_REQUEST', `invalid ${where}: ${validationText(error)}`));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody('NS_ERR_HTTP_REQUEST', clientErrorText(error, this.#options.bodyLimit ?? 65_536)));
    if (status === 503) return reply.code(503).send(errorBody('NS_ERR_QUERY_STORE', error.message));
    this.#log(`netspectra api: internal error on ${request.method} ${request.routeOptions.url ?? 'unmatched'}: ${error.stack ?? error.message}`);
    return reply.code(500).send(errorBody('NS_ERR_HTTP_INTERNAL', 'the HTTP API failed on this request (a bug: the server log has the details)'));
  }
}

/** Ajv's first error as a sentence naming the parameter. */
function validationText(error: FastifyError): string {
  const first = error.validation?.[0];
  if (first === undefined) return error.message;
  const params = first.params;
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (first.keyword === 'additionalProperties') return `unknown ${path === '' ? '' : `${path}.`}${String(params.additionalProperty)} (see /openapi.json for the parameters of this route)`;
  if (first.keyword === 'required') return `${path === '' ? '' : `${path}.`}${String(params.missingProperty)} is required`;
  return `${path === '' ? 'the value' : path} ${first.message ?? 'is invalid'}`;
}

function clientErrorText(error: FastifyError, bodyLimit: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `the request body is larger than the limit (${bodyLimit} bytes)`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'the body must be JSON (Content-Type: application/json)';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the body is empty: send a JSON object';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return `the body is not valid JSON: ${error.message}`;
    default:
      return error instanceof SyntaxError ? `the body is not valid JSON: ${error.message}` : error.message;
  }
}
