/**
 * `netspectra api` (alias `ns-api`): the query gateway. Opens the configured store read-only and
 * serves the Thrift QueryService (src/api) over the query service (src/query).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_DUCKDB_PATH } from '../config/defaults.js';
import { loadConfig } from '../config/load.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { NetSpectraError } from '../model/errors.js';
import type { FlowQueryStore } from '../model/ports.js';
import { QueryService } from '../query/query-service.js';
import { ThriftQueryServer, splitAddress } from '../api/thrift-query-server.js';
import { ClickHouseQueryStore } from '../store/clickhouse-query.js';
import { DuckDbQueryStore } from '../store/duckdb-query.js';
import type { CliIo } from './io.js';
import { normaliseGoFlags, reportError, usageError } from './io.js';

export const API_HELP = `Usage: netspectra api [options]
       ns-api [options]

Serve the Thrift QueryService of the original (buffered transport, binary protocol; its
clients work unchanged) plus NetSpectra's additions (ranges, top-N, series, flow search,
sketch snapshots; docs/query.md), over the store the engines write.

Which store: --store FILE reads that embedded DuckDB file; otherwise the first enabled
clickhouse writer of aggregator.exact.writers (then aggregator.sketch.writers) in the config;
otherwise the config's duckdb writer path (default netspectra.duckdb). The DuckDB file is
opened read-only: it cannot be read while analyze or engine is writing it.

Options:
  --config FILE        configuration in the original's schema
  --store FILE         embedded store file to serve
  --listen HOST:PORT   Thrift address (default: api.rpc_listen_addr, 127.0.0.1:50051);
                       port 0 takes a free port. Loopback unless set otherwise: the API has
                       no authentication.
  --tls-cert FILE      serve TLS with this PEM certificate (chain) ...
  --tls-key FILE       ... and this PEM private key (default: api.rpc_tls_cert_file and
                       api.rpc_tls_key_file of the config)
  -h, --help           this help

SIGINT or SIGTERM stops the server and closes the store.

Exit status: 0 stopped by a signal; 1 the store or the address could not be opened;
2 usage or configuration error.
`;

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
  let values;
  try {
    ({ values } = parseArgs({
      args: normaliseGoFlags(argv),
      strict: true,
      options: {
        config: { type: 'string' },
        store: { type: 'string' },
        listen: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return reportError(io, usageError(`${(error as Error).message}\n\n${API_HELP}`));
  }
  if (values.help) {
    io.stdout.write(API_HELP);
    return 0;
  }
  let stopRequested = false;
  let requestStop: () => void = () => {
    stopRequested = true;
  };
  const onSignal = (): void => requestStop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let store: FlowQueryStore | undefined;
  let server: ThriftQueryServer | undefined;
  try {
    const config = loadConfig(values.config === undefined ? {} : { file: values.config });
    const listenAddr = values.listen ?? config.api.rpcListenAddr;
    try {
      splitAddress(listenAddr);
    } catch {
      throw usageError(`--listen expects HOST:PORT (e.g. 127.0.0.1:50051), got "${listenAddr}"`);
    }
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw usageError('--tls-cert and --tls-key go together');
    const certFile = values['tls-cert'] ?? (config.api.rpcTlsCertFile === '' ? undefined : config.api.rpcTlsCertFile);
    const keyFile = values['tls-key'] ?? (config.api.rpcTlsKeyFile === '' ? undefined : config.api.rpcTlsKeyFile);
    const tls = certFile === undefined || keyFile === undefined ? undefined : { cert: readPem(certFile, 'the TLS certificate'), key: readPem(keyFile, 'the TLS key') };
    store = queryStoreFor(config, values.store);
    await store.start();
    server = new ThriftQueryServer(new QueryService(store), {
      listenAddr,
      ...(tls === undefined ? {} : { tls }),
      onConnectionError: (error) => io.stderr.write(`netspectra api: a client connection was closed: ${error.message}\n`),
    });
    await server.start();
    const { host, port } = server.address;
    io.stderr.write(`netspectra api: QueryService (Thrift${tls === undefined ? '' : ' over TLS'}) listening on ${host.includes(':') ? `[${host}]` : host}:${port}, store ${store.description}\n`);
    await new Promise<void>((resolve) => {
      requestStop = resolve;
      if (stopRequested) resolve();
    });
    io.stderr.write('netspectra api: stopping\n');
    return 0;
  } catch (error) {
    return reportError(io, error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server?.stop();
    await store?.stop();
  }
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new NetSpectraError('NS_ERR_USAGE', `${flag} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
}
