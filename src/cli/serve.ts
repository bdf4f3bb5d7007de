/**
 * `netspectra serve`: the one-machine product — capture (live or files), engine, embedded store,
 * alerter and the query plane in one process. The composition is serve-service.ts; this is the
 * command line.
 */
import { splitAddress } from '../api/thrift-query-server.js';
import { loadConfig } from '../config/load.js';
import { DEFAULT_STATIC_ROOT } from './api.js';
import { parseListenAddress, type ListenAddress } from '../api/metrics-server.js';
import { ServeService, type ServeSource, type ServeStopResult } from '../pipeline/serve-service.js';
import type { CliIo } from './io.js';
import { durationFlag, integerFlag, parseCommand, readPemFile, reportError, StopRequest, usageError } from './io.js';
import { SERVE_HELP } from './help.js';

export async function runServe(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(io, argv, SERVE_HELP, {
      iface: { type: 'string' },
      filter: { type: 'string' },
      snaplen: { type: 'string' },
      file: { type: 'string', multiple: true },
      'exit-when-done': { type: 'boolean', default: false },
      config: { type: 'string' },
      store: { type: 'string' },
      'snapshot-interval': { type: 'string' },
      workers: { type: 'string' },
      'no-alerts': { type: 'boolean', default: false },
      'rpc-listen': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'http-listen': { type: 'string' },
      static: { type: 'string' },
      'no-http': { type: 'boolean', default: false },
      'metrics-listen': { type: 'string' },
      'no-metrics': { type: 'boolean', default: false },
  }, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;

  // Stop requests may come while starting: remembered, acted on once started.
  using stop = new StopRequest((signal) => {
    io.stderr.write(`netspectra serve: ${signal} again: exiting without the final snapshot\n`);
    process.exit(130);
  });
  let service: ServeService | undefined;
  try {
    const files = [...(values.file ?? []), ...positionals];
    if (positionals.length > 0 && values.file === undefined) invalid(`unexpected argument "${positionals[0]}": capture files follow --file (see --help)`);
    if (values.iface !== undefined && files.length > 0) invalid('give either --iface NAME or --file CAPTURE, not both (one clock: the wall clock live, packet time for files)');
    if (values.iface === undefined) {
      for (const flag of ['filter', 'snaplen'] as const) if (values[flag] !== undefined) invalid(`--${flag} applies to live capture (--iface) only`);
    }
    if (values['exit-when-done'] && files.length === 0) invalid('--exit-when-done applies to --file only');
    if (values['metrics-listen'] !== undefined && values['no-metrics']) invalid('--metrics-listen and --no-metrics cannot be combined');
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) invalid('--tls-cert and --tls-key go together');
    const config = loadConfig(values.config === undefined ? {} : { file: values.config });

    const source: ServeSource =
      values.iface !== undefined
        ? {
            kind: 'live',
            iface: values.iface,
            ...(values.filter === undefined ? {} : { filter: values.filter }),
            ...(values.snaplen === undefined ? {} : { snaplen: integerFlag('--snaplen', values.snaplen, 64, 262_144) }),
          }
        : files.length > 0
          ? { kind: 'files', files }
          : { kind: 'store' };
    const snapshotIntervalMs = values['snapshot-interval'] === undefined ? undefined : durationFlag('--snapshot-interval', values['snapshot-interval'], 100);
    if (snapshotIntervalMs !== undefined && source.kind === 'store') invalid('--snapshot-interval needs a source (--iface or --file)');
    const rpcListenAddr = values['rpc-listen'] ?? config.api.rpcListenAddr;
    try {
      splitAddress(rpcListenAddr);
    } catch {
      invalid(`--rpc-listen expects HOST:PORT (e.g. 127.0.0.1:50051), got "${rpcListenAddr}"`);
    }
    if (values['no-http']) {
      for (const flag of ['http-listen', 'static'] as const) if (values[flag] !== undefined) invalid(`--${flag} and --no-http cannot be combined`);
    }
    const httpListenAddr = values['http-listen'] ?? config.api.httpListenAddr;
    try {
      splitAddress(httpListenAddr);
    } catch {
      invalid(`--http-listen expects HOST:PORT (e.g. 127.0.0.1:8080), got "${httpListenAddr}"`);
    }
    let metricsListen: ListenAddress | undefined;
    if (!values['no-metrics']) {
      const text = values['metrics-listen'] ?? '127.0.0.1:9464';
      metricsListen = parseListenAddress(text) ?? invalid(`--metrics-listen expects HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, :9464), got "${text}"`);
    }
    const certFile = values['tls-cert'] ?? (config.api.rpcTlsCertFile === '' ? undefined : config.api.rpcTlsCertFile);
    const keyFile = values['tls-key'] ?? (config.api.rpcTlsKeyFile === '' ? undefined : config.api.rpcTlsKeyFile);
    const rpcTls = certFile === undefined || keyFile === undefined ? undefined : { cert: readPemFile(certFile, 'the TLS certificate'), key: readPemFile(keyFile, 'the TLS key') };
    const workers = values.workers === undefined ? undefined : integerFlag('--workers', values.workers, 0, 256);

    service = new ServeService({
      config,
      source,
      ...(values.store === undefined ? {} : { storePath: values.store }),
      ...(snapshotIntervalMs === undefined ? {} : { snapshotIntervalMs }),
      ...(workers === undefined ? {} : { workers }),
      rpcListenAddr,
      ...(rpcTls === undefined ? {} : { rpcTls }),
      ...(values['no-http'] ? {} : { http: { listenAddr: httpListenAddr, authTokens: config.api.authTokens, corsOrigins: config.api.corsOrigins, staticRoot: values.static ?? DEFAULT_STATIC_ROOT } }),
      ...(metricsListen === undefined ? {} : { metricsListen }),
      ...(values['no-alerts'] ? { alerting: false } : {}),
      log: (line) => io.stderr.write(`netspectra serve: ${line}\n`),
      notifierStreams: { stdout: io.stderr, stderr: io.stderr },
    });
    const running = service;
    const exitWhenDone = values['exit-when-done'];
    running.once('failed', () => stop.request());
    running.once('filesDone', (counters) => {
      const d = counters.decoded;
      io.stderr.write(
        `netspectra serve: ${files.length} capture file(s) read: ${d.frames} frames, ${d.ipFrames} IP packets (${d.ipBytes} bytes), ` +
          `${counters.snapshots.exact + counters.snapshots.sketch} snapshots in ${running.storePath}; ` +
          `${exitWhenDone ? 'exiting' : 'serving them until SIGINT/SIGTERM'}\n`,
      );
      if (exitWhenDone) stop.request();
    });
    await service.start();
    const rpc = service.rpcAddress!;
    const what = source.kind === 'live' ? `capturing on ${source.iface}${source.filter === undefined ? '' : ` (filter "${source.filter}")`}` : source.kind === 'files' ? `reading ${files.length} capture file(s)` : 'serving the store as it is (no capture)';
    io.stderr.write(
      `netspectra serve: ${what}; store ${service.storePath}; QueryService (Thrift${rpcTls === undefined ? '' : ' over TLS'}) listening on ${formatHost(rpc.host)}:${rpc.port}` +
        `${service.httpUrl === undefined ? '' : `; HTTP API and dashboard on ${service.httpUrl}/ (${config.api.authTokens.length === 0 ? 'no authentication' : `bearer tokens: ${config.api.authTokens.length}`})`}` +
        `${service.metricsUrl === undefined ? '' : `; metrics ${service.metricsUrl}/metrics`}\n`,
    );
    await stop.requested;
    io.stderr.write('netspectra serve: stopping\n');
    const result = await service.stop();
    io.stderr.write(summary(result, source));
    if (result.failure !== undefined) return reportError(io, result.failure);
    for (const error of result.counters.inputErrors) reportError(io, error);
    return result.finalWriteErrors.length > 0 || result.counters.inputErrors.length > 0 ? 1 : 0;
  } catch (error) {
    await service?.stop();
    return reportError(io, error);
  }
}

function summary(result: ServeStopResult, source: ServeSource): string {
  if (source.kind === 'store') return 'netspectra serve: stopped\n';
  const c = result.counters;
  const drops = c.capture === undefined ? '' : `, kernel drops ${c.capture.droppedByKernel}`;
  const final = result.failure !== undefined && result.failure.code !== 'NS_ERR_CAPTURE_LIVE' ? 'no final snapshot (the engine failed)' : result.finalWriteErrors.length > 0 ? `the final snapshot failed for ${result.finalWriteErrors.length} writer(s)` : 'final snapshot written';
  return `netspectra serve: stopped: ${c.decoded.frames} frames, ${c.decoded.ipFrames} IP packets counted${drops}; ${final}\n`;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function invalid(message: string): never {
  throw usageError(message);
}
