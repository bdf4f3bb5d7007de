/**
 * `netspectra api` (alias `ns-api`): the query gateway. Opens the configured store read-only and
 * serves, over the query service (src/query), the Thrift QueryService and the HTTP API (REST,
 * Grafana, /metrics, the dashboard; src/api) — either can be turned off.
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_DUCKDB_PATH } from '../config/defaults.js';
import { loadConfig } from '../config/load.js';
import type { NetSpectraConfig } from '../config/schema.js';
import type { FlowQueryStore } from '../model/ports.js';
import { QueryService } from '../query/query-service.js';
import { ThriftQueryServer, splitAddress } from '../api/thrift-query-server.js';
import { createHttpApi, type HttpApi } from '../api/http-server.js';
import { ClickHouseQueryStore } from '../store/clickhouse-query.js';
import { DuckDbQueryStore } from '../store/duckdb-query.js';
import type { CliIo } from './io.js';
import { normaliseGoFlags, parseCommand, readPemFile, reportError, StopRequest, usageError } from './io.js';
import { API_HELP } from './help.js';

/** web/dist of the package (dist/src/cli/api.js → the package root). */
export const DEFAULT_STATIC_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/** The read side of the store a config (or --store) names; not started. */
export function queryStoreFor(config: NetSpectraConfig, storeFile: string | undefined): FlowQueryStore {
  if (storeFile !== undefined) return new DuckDbQueryStore({ path: storeFile });
  const writers = [...config.aggregator.exact.writers, ...config.aggregator.sketch.writers].filter((w) => w.enabled);
  const clickhouse = writers.find((w) => w.type === 'clickhouse' && w.clickhouse !== undefined);
  if (clickhouse?.clickhouse !== undefined) return new ClickHouseQueryStore({ connection: clickhouse.clickhouse });
  const duckdb = writers.find((w) => w.type === 'duckdb');
  return new DuckDbQueryStore({ path: duckdb?.path ?? DEFAULT_DUCKDB_PATH });
}

export async function runApi(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(io, normaliseGoFlags(argv), API_HELP, {
    config: { type: 'string' },
    store: { type: 'string' },
    listen: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'http-listen': { type: 'string' },
    static: { type: 'string' },
    'no-http': { type: 'boolean', default: false },
    'no-thrift': { type: 'boolean', default: false },
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  using stop = new StopRequest();
  let store: FlowQueryStore | undefined;
  let server: ThriftQueryServer | undefined;
  let http: HttpApi | undefined;
  try {
    const config = loadConfig(values.config === undefined ? {} : { file: values.config });
    const listenAddr = values.listen ?? config.api.rpcListenAddr;
    try {
      splitAddress(listenAddr);
    } catch {
      throw usageError(`--listen expects HOST:PORT (e.g. 127.0.0.1:50051), got "${listenAddr}"`);
    }
    const httpListenAddr = values['http-listen'] ?? config.api.httpListenAddr;
    try {
      splitAddress(httpListenAddr);
    } catch {
      throw usageError(`--http-listen expects HOST:PORT (e.g. 127.0.0.1:8080), got "${httpListenAddr}"`);
    }
    if (values['no-http'] && values['no-thrift']) throw usageError('--no-http and --no-thrift together would serve nothing');
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw usageError('--tls-cert and --tls-key go together');
    const certFile = values['tls-cert'] ?? (config.api.rpcTlsCertFile === '' ? undefined : config.api.rpcTlsCertFile);
    const keyFile = values['tls-key'] ?? (config.api.rpcTlsKeyFile === '' ? undefined : config.api.rpcTlsKeyFile);
    const tls = certFile === undefined || keyFile === undefined ? undefined : { cert: readPemFile(certFile, 'the TLS certificate'), key: readPemFile(keyFile, 'the TLS key') };
    store = queryStoreFor(config, values.store);
    await store.start();
    const queryService = new QueryService(store);
    if (!values['no-thrift']) {
      server = new ThriftQueryServer(queryService, {
        listenAddr,
        ...(tls === undefined ? {} : { tls }),
        onConnectionError: (error) => io.stderr.write(`netspectra api: a client connection was closed: ${error.message}\n`),
      });
      await server.start();
      const { host, port } = server.address;
      io.stderr.write(`netspectra api: QueryService (Thrift${tls === undefined ? '' : ' over TLS'}) listening on ${host.includes(':') ? `[${host}]` : host}:${port}, store ${store.description}\n`);
    }
    if (!values['no-http']) {
      http = createHttpApi({
        queryService,
        authTokens: config.api.authTokens,
        corsOrigins: config.api.corsOrigins,
        listenAddr: httpListenAddr,
        staticRoot: values.static ?? DEFAULT_STATIC_ROOT,
        log: (line) => io.stderr.write(`${line}\n`),
      });
      await http.start();
      const tokens = config.api.authTokens.length;
      io.stderr.write(`netspectra api: HTTP API listening on ${http.url} (${tokens === 0 ? 'no authentication' : `bearer tokens: ${tokens}`}), store ${store.description}\n`);
    }
    await stop.requested;
    io.stderr.write('netspectra api: stopping\n');
    return 0;
  } catch (error) {
    return reportError(io, error);
  } finally {
    await http?.stop();
    await server?.stop();
    await store?.stop();
  }
}
