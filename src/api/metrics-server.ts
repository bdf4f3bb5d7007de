/**
 * The tiny HTTP endpoint of a long-running component: `GET /metrics` (Prometheus text 0.0.4) and
 * `GET /healthz` (200 or 503 with the reasons as JSON). Nothing else: no request body is read,
 * requests and idle connections time out, and only GET and HEAD are answered. The full HTTP API
 * (REST, Grafana) is a component of its own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import { PROMETHEUS_CONTENT_TYPE } from '../model/prometheus-text.js';

export interface ListenAddress {
  host: string;
  /** 0 picks a free port (see `MetricsServer.address`). */
  port: number;
}

export interface Health {
  ok: boolean;
  /** Why it is not ok (empty when ok). */
  reasons: string[];
}

export interface MetricsServerOptions {
  listen: ListenAddress;
  /** The metrics text, rendered per scrape. */
  metrics: () => Promise<string>;
  health: () => Health;
}

/** `host:port`, `[v6]:port` or `:port` (every interface), as a ListenAddress. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export class MetricsServer implements AsyncDisposable {
  readonly #options: MetricsServerOptions;
  #server: Server | undefined;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
  }

  /** The bound address (the real port when 0 was asked for). */
  get address(): ListenAddress {
    const bound = this.#server?.address() as AddressInfo | null | undefined;
    if (bound === null || bound === undefined) return this.#options.listen;
    return { host: bound.address, port: bound.port };
  }

  /** `http://host:port` of the bound address. */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((request, response) => {
      void this.#handle(request, response);
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new NetSpectraError('NS_ERR_LISTEN', `cannot listen on ${host}:${port} for /metrics: ${error.code ?? error.message}`, { cause: error }));
      });
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    try {
      if (path === '/metrics') {
        send(200, PROMETHEUS_CONTENT_TYPE, await this.#options.metrics());
      } else if (path === '/healthz') {
        const health = this.#options.health();
        send(health.ok ? 200 : 503, 'application/json', `${JSON.stringify(health.ok ? { status: 'ok' } : { status: 'unavailable', reasons: health.reasons })}\n`);
      } else {
        send(404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
      }
    } catch (error) {
      if (!response.headersSent) send(500, 'text/plain; charset=utf-8', `${errorMessage(error)}\n`);
      else response.destroy();
    }
  }
}
