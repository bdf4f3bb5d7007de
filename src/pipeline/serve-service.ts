/**
 * The one-machine product behind `netspectra serve`: a packet source (live capture through tcpdump,
 * or capture files), the engine under a Manager, the embedded store, the alerter, and the query
 * plane (Thrift QueryService, the HTTP API and dashboard, Prometheus metrics) in one process.
 *
 * Queries run on the store owner's database: the DuckDB store stays on its writer thread (so the
 * packet path is what `analyze` runs), and that thread answers queries on connections of its own
 * (ThreadedWriter.queryStore, docs/cli.md "serve"). A second DuckDB instance on the file would not
 * see later writes, and another process cannot open it while it is written.
 *
 * Time: live capture uses the wall clock (snapshots every snapshot_interval, `tick()` every
 * `tickMs`); capture files are read as fast as possible in packet time, exactly as `analyze` reads
 * them, and a final snapshot is written when the last file is done — then the results are served
 * until the service is stopped.
 *
 * Lifecycle: the constructor is inert; `start()` opens the store, engine, alerter and servers, and
 * only then begins reading; `stop()` stops the source (tcpdump hands over what it still has), counts
 * the last packets, writes the final snapshot, and closes servers, engine and store.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { TlsOptions } from 'node:tls';
import { notifiersFromConfig, type NotifierStreams } from '../alerting/notifiers/index.js';
import { createHttpApi, type HttpApi } from '../api/http-server.js';
import { MetricsServer, type Health, type ListenAddress } from '../api/metrics-server.js';
import { ThriftQueryServer } from '../api/thrift-query-server.js';
import { CaptureFileSource, LiveCaptureSource } from '../capture/capture-sources.js';
import { DEFAULT_DUCKDB_PATH, DEFAULT_SNAPSHOT_INTERVAL_MS } from '../config/defaults.js';
import type { NetSpectraConfig, WriterConfig } from '../config/schema.js';
import { emptyDecodeStats, type DecodeStats } from '../decode/index.js';
import { NetSpectraError } from '../model/errors.js';
import type { FlowQueryStore } from '../model/ports.js';
import { PrometheusText } from '../model/prometheus-text.js';
import type { TaskGroupName } from '../model/snapshot.js';
import { QueryService } from '../query/query-service.js';
import { DuckDbQueryStore } from '../store/duckdb-query.js';
import { Pipeline } from './pipeline.js';
import { configuredAnalyst } from './writer-set.js';

export type ServeSource =
  | { kind: 'live'; iface: string; filter?: string; snaplen?: number }
  | { kind: 'files'; files: readonly string[] }
  /** No capture: serve what the store already holds (opened read-only). */
  | { kind: 'store' };

export interface ServeOptions {
  config: NetSpectraConfig;
  source: ServeSource;
  /** The embedded store file. @default the first enabled duckdb writer's path, else netspectra.duckdb */
  storePath?: string;
  /**
   * Snapshot interval of the embedded store's writers (a live dashboard wants seconds, not the
   * original's minute). @default each duckdb writer's snapshot_interval; 60 s for one serve adds
   */
  snapshotIntervalMs?: number;
  /** Engine worker threads. @default config.aggregator.numWorkers */
  workers?: number;
  /** `host:port` of the Thrift QueryService; port 0 takes a free one. @default config.api.rpcListenAddr */
  rpcListenAddr?: string;
  /** TLS for the Thrift QueryService. @default plain TCP */
  rpcTls?: TlsOptions;
  /**
   * The HTTP API (REST, Grafana, /metrics of the API) and the dashboard; undefined: none.
   * `listenAddr` port 0 takes a free port.
   */
  http?: { listenAddr: string; authTokens: readonly string[]; corsOrigins?: readonly string[]; staticRoot: string };
  /** Where the serve process's own /metrics and /healthz listen; undefined: no endpoint. */
  metricsListen?: ListenAddress;
  /** Evaluate the alerter's rules (alerter.*). @default true */
  alerting?: boolean;
  /** How often due snapshots and period resets are taken in live mode, ms. @default 250 */
  tickMs?: number;
  /** Log lines (no trailing newline). @default none */
  log?: (line: string) => void;
  /** Where the log notifier writes (alerter.notifiers.log). @default process.stdout / process.stderr */
  notifierStreams?: NotifierStreams;
}

export interface ServeEvents {
  /** Capture files: every file was read and the final snapshot written; the results are served. */
  filesDone: [summary: ServeCounters];
  /** The source or the engine failed while running; the service should be stopped. */
  failed: [error: NetSpectraError];
}

export interface ServeCounters {
  /** What the decoder saw, over every input so far. */
  decoded: DecodeStats;
  /** Batches handed to the engine. */
  batches: number;
  /** Per input file: damage that stopped its decoding (the packets before it are counted). */
  inputErrors: NetSpectraError[];
  snapshots: Record<TaskGroupName, number>;
  /** Live capture: tcpdump's counters. */
  capture: { captured: number; receivedByFilter: number; droppedByKernel: number } | undefined;
}

export interface ServeStopResult {
  counters: ServeCounters;
  /** Errors of the final snapshot's writes. */
  finalWriteErrors: NetSpectraError[];
  /** Every write error since start. */
  writeErrors: number;
  /** The failure that stopped the service, if any. */
  failure: NetSpectraError | undefined;
}

/**
 * The config serve runs: one embedded store file for every group (a group whose writers hold no
 * enabled duckdb writer gets one, so everything the engine computes can be asked for), at
 * `snapshotIntervalMs` when given.
 */
export function serveConfig(config: NetSpectraConfig, storePath: string, snapshotIntervalMs: number | undefined): NetSpectraConfig {
  const withStore = (writers: readonly WriterConfig[]): WriterConfig[] => {
    const adjusted = writers.map((w) => (w.type === 'duckdb' && w.enabled ? { ...w, path: storePath, ...(snapshotIntervalMs === undefined ? {} : { snapshotIntervalMs }) } : w));
    if (!adjusted.some((w) => w.type === 'duckdb' && w.enabled)) {
      adjusted.push({ type: 'duckdb', enabled: true, snapshotIntervalMs: snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS, path: storePath });
    }
    return adjusted;
  };
  const aggregator = config.aggregator;
  return {
    ...config,
    aggregator: {
      ...aggregator,
      exact: { ...aggregator.exact, writers: withStore(aggregator.exact.writers) },
      sketch: { ...aggregator.sketch, writers: withStore(aggregator.sketch.writers) },
    },
  };
}

/** The store file serve uses: `--store`, else the first enabled duckdb writer's path, else the default. */
export function servedStorePath(config: NetSpectraConfig, storePath: string | undefined): string {
  if (storePath !== undefined) return storePath;
  const writer = [...config.aggregator.exact.writers, ...config.aggregator.sketch.writers].find((w) => w.type === 'duckdb' && w.enabled);
  return writer?.path ?? DEFAULT_DUCKDB_PATH;
}

export class ServeService extends EventEmitter<ServeEvents> implements AsyncDisposable {
  readonly options: Readonly<ServeOptions>;
  readonly runId = randomUUID();
  readonly storePath: string;
  #source: CaptureFileSource | LiveCaptureSource | undefined;
  #pipeline: Pipeline | undefined;
  #queryStore: FlowQueryStore | undefined;
  #queryService: QueryService | undefined;
  #thrift: ThriftQueryServer | undefined;
  #http: HttpApi | undefined;
  #metricsServer: MetricsServer | undefined;
  #stopping: Promise<ServeStopResult> | undefined;
  #startedAt = 0;
  #startedWall = 0;

  constructor(options: ServeOptions) {
    super();
    this.options = options;
    this.storePath = servedStorePath(options.config, options.storePath);
  }

  /** The query service over the served store, once started (the HTTP API mounts it). */
  get queryService(): QueryService | undefined {
    return this.#queryService;
  }

  /** The Thrift QueryService's bound address, once started. */
  get rpcAddress(): { host: string; port: number } | undefined {
    return this.#thrift?.address;
  }

  /** The HTTP API's base URL (`http://host:port`), once started with one. */
  get httpUrl(): string | undefined {
    return this.#http?.url;
  }

  /** The metrics endpoint's base URL (`http://host:port`), once started with one. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
  }

  /** Capture files: whether every file was read and the final snapshot written. */
  get filesDone(): boolean {
    return this.#pipeline?.isDone === true && this.options.source.kind === 'files';
  }

  get counters(): ServeCounters {
    const source = this.#source;
    const pipeline = this.#pipeline?.counters;
    return {
      decoded: source?.decoded ?? emptyDecodeStats(),
      batches: pipeline?.batches ?? 0,
      inputErrors: [...(source?.stats.inputErrors ?? [])],
      snapshots: pipeline?.snapshots ?? { exact: 0, sketch: 0 },
      capture: source instanceof LiveCaptureSource ? source.captureStats : undefined,
    };
  }

  async start(): Promise<void> {
    if (this.#startedAt > 0) return;
    this.#startedAt = performance.now();
    this.#startedWall = Date.now();
    const o = this.options;
    try {
      if (o.source.kind === 'store') {
        const store = new DuckDbQueryStore({ path: this.storePath });
        await store.start();
        this.#queryStore = store;
        await this.#startServers(store);
      } else {
        // the servers start before the first packet is read
        await this.#startPipeline(o.source);
      }
    } catch (error) {
      await this.#teardown();
      this.#startedAt = 0;
      throw error;
    }
  }

  /**
   * Stop reading, count what the source still hands over, write the final snapshot (unless the
   * files' one was written already), close everything. Safe to call more than once.
   */
  stop(): Promise<ServeStopResult> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Ready when started, not failed or stopping, and every writer's last write succeeded. */
  health(): Health {
    const reasons: string[] = [];
    if (this.#startedAt === 0) reasons.push('not started');
    if (this.#stopping !== undefined) reasons.push('stopping');
    if (this.#pipeline !== undefined) reasons.push(...this.#pipeline.healthReasons(this.#stopping !== undefined));
    return { ok: reasons.length === 0, reasons };
  }

  /** Every metric in the Prometheus text format (the engine's names where the meaning is the same). */
  async metricsText(): Promise<string> {
    const o = this.options;
    const c = this.counters;
    const source = o.source.kind === 'live' ? `iface:${o.source.iface}` : o.source.kind === 'files' ? 'files' : 'store';
    const text = new PrometheusText();
    text
      .single('netspectra_serve_info', 'gauge', 'This serve process: its source and store.', 1, { source, store: this.storePath, run_id: this.runId })
      .single('netspectra_serve_uptime_seconds', 'gauge', 'Seconds since serve started.', this.#startedAt === 0 ? 0 : (performance.now() - this.#startedAt) / 1000)
      .single('netspectra_serve_start_time_seconds', 'gauge', 'Start time, seconds since the Unix epoch.', this.#startedWall / 1000)
      .single('netspectra_serve_frames_total', 'counter', 'Frames read from the source.', c.decoded.frames)
      .single('netspectra_serve_ip_packets_total', 'counter', 'IP packets counted by the engine.', c.decoded.ipFrames)
      .single('netspectra_serve_ip_bytes_total', 'counter', 'Wire bytes of the IP packets counted.', c.decoded.ipBytes)
      .single('netspectra_serve_non_ip_frames_total', 'counter', 'Frames without an IP header (skipped).', c.decoded.nonIpFrames)
      .single('netspectra_serve_batches_total', 'counter', 'Packet batches handed to the engine.', c.batches)
      .single('netspectra_serve_input_errors_total', 'counter', 'Inputs whose decoding stopped at damage.', c.inputErrors.length)
      .single('netspectra_serve_files_done', 'gauge', '1 once every capture file was read and its final snapshot written.', this.filesDone ? 1 : 0);
    await this.#pipeline?.addMetrics(text);
    return text.toString();
  }

  async #startPipeline(kind: Exclude<ServeSource, { kind: 'store' }>): Promise<void> {
    const o = this.options;
    const config = serveConfig(o.config, this.storePath, o.snapshotIntervalMs);
    const source =
      kind.kind === 'live'
        ? new LiveCaptureSource({ iface: kind.iface, ...(kind.filter === undefined ? {} : { filter: kind.filter }), ...(kind.snaplen === undefined ? {} : { snaplen: kind.snaplen }) })
        : new CaptureFileSource({ files: kind.files });
    this.#source = source;
    const notifiers = o.alerting === false ? [] : notifiersFromConfig(config, o.notifierStreams ?? { stdout: process.stdout, stderr: process.stderr });
    const pipeline: Pipeline = new Pipeline({
      config,
      source,
      tool: 'serve',
      runId: this.runId,
      // like analyze: configured ClickHouse writers get the snapshots too (queries read the embedded store)
      engineId: `serve-${hostname()}`,
      store: this.storePath,
      ...(o.workers === undefined ? {} : { workers: o.workers }),
      ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
      alerting: o.alerting === false ? false : { notifiers, ...configuredAnalyst(config, notifiers.length) },
      log: (line) => this.#log(line),
      beforeReading: async () => {
        const store = pipeline.embeddedStore;
        if (store === undefined) throw new NetSpectraError('NS_ERR_STORE_OPEN', `serve found no embedded store writer for ${this.storePath}`);
        this.#queryStore = store.queryStore();
        await this.#startServers(this.#queryStore);
      },
    });
    this.#pipeline = pipeline;
    pipeline.once('failed', (error) => this.emit('failed', error));
    pipeline.once('done', () => {
      if (kind.kind === 'files' && this.#stopping === undefined && pipeline.failure === undefined) this.emit('filesDone', this.counters);
    });
    await pipeline.start();
  }

  /** The query plane over the served store: Thrift, the HTTP API and dashboard, metrics. */
  async #startServers(store: FlowQueryStore): Promise<void> {
    const o = this.options;
    this.#queryService = new QueryService(store);
    this.#thrift = new ThriftQueryServer(this.#queryService, {
      listenAddr: o.rpcListenAddr ?? o.config.api.rpcListenAddr,
      ...(o.rpcTls === undefined ? {} : { tls: o.rpcTls }),
      onConnectionError: (error) => this.#log(`a query client connection was closed: ${error.message}`),
    });
    await this.#thrift.start();
    if (o.http !== undefined) {
      this.#http = createHttpApi({
        queryService: this.#queryService,
        authTokens: o.http.authTokens,
        corsOrigins: o.http.corsOrigins ?? [],
        listenAddr: o.http.listenAddr,
        staticRoot: o.http.staticRoot,
        log: (line) => this.#log(line),
      });
      await this.#http.start();
    }
    if (o.metricsListen !== undefined) {
      this.#metricsServer = new MetricsServer({ listen: o.metricsListen, metrics: () => this.metricsText(), health: () => this.health() });
      await this.#metricsServer.start();
    }
  }

  async #stop(): Promise<ServeStopResult> {
    const result = await this.#pipeline?.stop();
    await this.#teardown();
    return {
      counters: this.counters,
      finalWriteErrors: result?.finalWriteErrors ?? [],
      writeErrors: result?.writeErrors.length ?? 0,
      failure: result?.failure,
    };
  }

  /** Release everything that was started, servers first (they read the store), in reverse order; never throws. */
  async #teardown(): Promise<void> {
    await this.#thrift?.stop().catch(() => undefined);
    await this.#http?.stop().catch(() => undefined);
    await this.#metricsServer?.stop().catch(() => undefined);
    await this.#pipeline?.stop();
    await this.#queryStore?.stop().catch(() => undefined);
  }

  #log(line: string): void {
    this.options.log?.(line);
  }
}
