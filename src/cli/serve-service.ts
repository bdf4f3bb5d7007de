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
import { basename } from 'node:path';
import type { TlsOptions } from 'node:tls';
import { alerterFromConfig, scheduleAlerter } from '../alerting/alerter-setup.js';
import type { Alerter } from '../alerting/alerter.js';
import { notifiersFromConfig, type NotifierStreams } from '../alerting/notifiers/index.js';
import { createHttpApi, type HttpApi } from '../api/http-server.js';
import { ThriftQueryServer } from '../api/thrift-query-server.js';
import { LiveCapture } from '../capture/live-capture.js';
import { openCaptureFile } from '../capture/file-source.js';
import { DEFAULT_DUCKDB_PATH, DEFAULT_SNAPSHOT_INTERVAL_MS } from '../config/defaults.js';
import type { NetSpectraConfig, WriterConfig } from '../config/schema.js';
import { CaptureDecoder, emptyDecodeStats, mergeDecodeStats, type DecodeStats } from '../decode/index.js';
import { Engine, type TaskStats } from '../engine/engine.js';
import { Manager, type TaskGroup } from '../engine/manager.js';
import { NetSpectraError, isNetSpectraError } from '../model/errors.js';
import type { FlowQueryStore, SnapshotWriter } from '../model/ports.js';
import type { TaskGroupName } from '../model/snapshot.js';
import { QueryService } from '../query/query-service.js';
import { DuckDbQueryStore } from '../store/duckdb-query.js';
import type { InstrumentedWriter } from '../store/instrumented-writer.js';
import { ThreadedWriter } from '../store/threaded-writer.js';
import { engineTasksOf } from './analysis.js';
import { MetricsServer, type Health, type ListenAddress } from './metrics-server.js';
import { PrometheusText } from './prometheus-text.js';
import { addEngineMetrics, buildWriterSet, configuredAnalyst, measureWriters, startAll, stopAll, writerHealthReasons } from './writers.js';

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

const DEFAULT_TICK_MS = 250;

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
  #engine: Engine | undefined;
  #manager: Manager | undefined;
  #writers: InstrumentedWriter[] = [];
  #alerter: Alerter | undefined;
  #startedWriters: SnapshotWriter[] = [];
  #queryStore: FlowQueryStore | undefined;
  #queryService: QueryService | undefined;
  #thrift: ThriftQueryServer | undefined;
  #http: HttpApi | undefined;
  #metricsServer: MetricsServer | undefined;
  #live: LiveCapture | undefined;
  #reading: Promise<void> | undefined;
  #tickTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopping: Promise<ServeStopResult> | undefined;
  #stopRequested = false;
  /** The final snapshot was written (end of the files); nothing is counted after it. */
  #finished = false;
  #finalWriteErrors: NetSpectraError[] = [];
  #failure: NetSpectraError | undefined;
  #startedAt = 0;
  #startedWall = 0;
  readonly #decoded: DecodeStats = emptyDecodeStats();
  /** The decoder of the input being read (its stats join #decoded when it is done). */
  #currentDecoder: CaptureDecoder | undefined;
  #batches = 0;
  readonly #inputErrors: NetSpectraError[] = [];
  readonly #snapshots: Record<TaskGroupName, number> = { exact: 0, sketch: 0 };

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
    return this.#finished && this.options.source.kind === 'files';
  }

  get counters(): ServeCounters {
    const decoded = emptyDecodeStats();
    mergeDecodeStats(decoded, this.#decoded);
    if (this.#currentDecoder !== undefined) mergeDecodeStats(decoded, this.#currentDecoder.stats);
    return {
      decoded,
      batches: this.#batches,
      inputErrors: [...this.#inputErrors],
      snapshots: { ...this.#snapshots },
      capture: this.#live?.stats,
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
      } else {
        await this.#startPipeline();
      }
      this.#queryService = new QueryService(this.#queryStore!);
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
    } catch (error) {
      await this.#teardown();
      this.#startedAt = 0;
      throw error;
    }
    if (o.source.kind !== 'store') this.#reading = this.#read();
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
    if (this.#failure !== undefined) reasons.push(`failed: ${this.#failure.message}`);
    reasons.push(...writerHealthReasons(this.#writers, this.#stopping !== undefined));
    return { ok: reasons.length === 0, reasons };
  }

  /** Every metric in the Prometheus text format (the engine's names where the meaning is the same). */
  async metricsText(): Promise<string> {
    const o = this.options;
    const c = this.counters;
    let taskStats: TaskStats[] = [];
    if (this.#engine !== undefined && this.#failure === undefined && this.#stopping === undefined) {
      try {
        taskStats = await this.#engine.stats();
      } catch {
        // stopping or failed meanwhile: no task figures in this scrape
      }
    }
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
    if (c.capture !== undefined) {
      text
        .single('netspectra_capture_packets_captured_total', 'counter', 'Packets tcpdump handed over (its last report).', c.capture.captured)
        .single('netspectra_capture_packets_received_by_filter_total', 'counter', 'Packets the capture filter accepted (its last report).', c.capture.receivedByFilter)
        .single('netspectra_capture_packets_dropped_by_kernel_total', 'counter', 'Packets the kernel dropped because the capture buffer was full.', c.capture.droppedByKernel);
    }
    addEngineMetrics(text, taskStats, c.snapshots, this.#writers.map((w) => w.measurements));
    const alerts = this.#alerter?.stats();
    if (alerts !== undefined) {
      text
        .single('netspectra_alert_evaluations_total', 'counter', 'Rule evaluations (snapshots the alerter checked).', alerts.evaluations)
        .single('netspectra_alert_notifications_total', 'counter', 'Notifications produced (firing, repeat, resolved).', alerts.notifications)
        .single('netspectra_alert_analysis_failures_total', 'counter', 'Analyses that failed or missed their deadline (the built-in analysis went instead).', alerts.analysisFailures)
        .family('netspectra_alert_deliveries_total', 'counter', 'Notifications delivered per notifier.', alerts.notifiers.map((n) => ({ value: n.delivered, labels: { notifier: n.name } })))
        .family('netspectra_alert_delivery_failures_total', 'counter', 'Failed or dropped deliveries per notifier.', alerts.notifiers.map((n) => ({ value: n.failed + n.dropped, labels: { notifier: n.name } })));
    }
    return text.toString();
  }

  async #startPipeline(): Promise<void> {
    const o = this.options;
    const source = o.source;
    const config = serveConfig(o.config, this.storePath, o.snapshotIntervalMs);
    const tasks = engineTasksOf(config);
    const engine = new Engine({ tasks, workers: o.workers ?? config.aggregator.numWorkers });
    this.#engine = engine;
    const set = buildWriterSet({
      config,
      tasks,
      runId: this.runId,
      store: this.storePath,
      inputs: source.kind === 'live' ? [`iface:${source.iface}`] : source.kind === 'files' ? source.files.map((f) => basename(f)) : [],
      tool: 'serve',
      // like analyze: configured ClickHouse writers get the snapshots too (queries read the embedded store)
      clickhouse: { engineId: `serve-${hostname()}` },
      onWarning: (line) => this.#log(line),
    });
    const store = set.writers.find((w): w is ThreadedWriter => w instanceof ThreadedWriter);
    if (store === undefined) throw new NetSpectraError('NS_ERR_STORE_OPEN', `serve found no embedded store writer for ${this.storePath}`);
    const { writers, groups } = measureWriters(set, (line) => this.#log(line));
    this.#writers = writers;
    this.#alerter = this.#setUpAlerting(config, groups, [...tasks.exact, ...tasks.sketch].map((t) => t.name));
    this.#manager = new Manager({
      engine,
      groups,
      periodMs: config.aggregator.periodMs,
      clock: source.kind === 'live' ? 'wall' : 'packet',
      onSnapshot: (snapshot) => this.#snapshots[snapshot.group]++,
    });
    this.#startedWriters = await startAll(this.#alerter === undefined ? this.#writers : [...this.#writers, this.#alerter], [engine.start()]);
    this.#queryStore = store.queryStore();
  }

  #setUpAlerting(config: NetSpectraConfig, groups: TaskGroup[], taskNames: string[]): Alerter | undefined {
    if (this.options.alerting === false) return undefined;
    const notifiers = notifiersFromConfig(config, this.options.notifierStreams ?? { stdout: process.stdout, stderr: process.stderr });
    const alerter = alerterFromConfig(config, taskNames, {
      notifiers,
      ...configuredAnalyst(config, notifiers.length),
      onWarning: (line) => this.#log(line),
    });
    if (alerter !== undefined) scheduleAlerter(groups, alerter, config);
    return alerter;
  }

  /** Read the source into the engine; at its end (files done, capture stopped or lost) write the final snapshot. */
  async #read(): Promise<void> {
    const source = this.options.source;
    const manager = this.#manager!;
    try {
      if (source.kind === 'live') {
        this.#live = new LiveCapture({ iface: source.iface, ...(source.filter === undefined ? {} : { filter: source.filter }), ...(source.snaplen === undefined ? {} : { snaplen: source.snaplen }) });
        this.#tickTimer = setInterval(() => this.#tick(), this.options.tickMs ?? DEFAULT_TICK_MS);
        // what tcpdump hands over after stop() is still counted: its stream ends on its own
        await this.#decode(source.iface, this.#live.chunks(), true);
      } else if (source.kind === 'files') {
        for (const path of source.files) {
          if (this.#stopRequested) break;
          await this.#decode(basename(path), openCaptureFile(path), false);
        }
      }
    } catch (error) {
      // a lost capture still gets its final snapshot below (what was counted is right); a failed
      // engine makes finish() throw again, which changes nothing
      this.#fail(error);
    }
    clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    await this.#ticking;
    try {
      const before = manager.writeErrors.length;
      await manager.finish();
      this.#finalWriteErrors = manager.writeErrors.slice(before);
      for (const error of this.#finalWriteErrors) this.#log(`final snapshot not written: ${error.code}: ${error.message}`);
      this.#finished = true;
      if (source.kind === 'files' && !this.#stopRequested && this.#failure === undefined) this.emit('filesDone', this.counters);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** One input through the decoder into the manager; damage of the input is recorded, not thrown. */
  async #decode(name: string, chunks: AsyncIterable<Uint8Array>, live: boolean): Promise<void> {
    const manager = this.#manager!;
    // live: a batch per pipe read, so packets do not wait for thousands of others
    const decoder = new CaptureDecoder({ name, pool: this.#engine!.pool, yieldPartialBatches: live });
    this.#currentDecoder = decoder;
    let readError: NetSpectraError | undefined;
    try {
      for await (const batch of decoder.decode(chunks)) {
        this.#batches++;
        await manager.ingest(batch);
        // a file stops at once; a live capture ends when tcpdump, stopped, has handed everything over
        if (!live && this.#stopRequested) break;
      }
    } catch (error) {
      // an unreadable file is reported like a damaged one; the capture's own failure is fatal
      if (live || !isNetSpectraError(error) || error.code === 'NS_ERR_WORKER_FAILED') throw error;
      readError = error;
    } finally {
      this.#currentDecoder = undefined;
      mergeDecodeStats(this.#decoded, decoder.stats);
    }
    const damage = decoder.error ?? readError;
    if (damage !== undefined) {
      this.#inputErrors.push(damage);
      this.#log(`${damage.code}: ${damage.message}`);
    }
  }

  /** Take what is due (snapshots, a period reset); never two ticks at once. */
  #tick(): void {
    if (this.#ticking !== undefined || this.#manager === undefined || this.#failure !== undefined) return;
    this.#ticking = this.#manager
      .tick()
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        this.#ticking = undefined;
      });
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = isNetSpectraError(error) ? error : new NetSpectraError('NS_ERR_WORKER_FAILED', `serve failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    this.#log(`${this.#failure.code}: ${this.#failure.message}`);
    this.emit('failed', this.#failure);
  }

  async #stop(): Promise<ServeStopResult> {
    this.#stopRequested = true;
    await this.#live?.stop();
    await this.#reading;
    const manager = this.#manager;
    await this.#teardown();
    return {
      counters: this.counters,
      finalWriteErrors: this.#finalWriteErrors,
      writeErrors: manager?.writeErrors.length ?? 0,
      failure: this.#failure,
    };
  }

  /** Release everything that was started, servers first (they read the store), in reverse order; never throws. */
  async #teardown(): Promise<void> {
    clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    await this.#live?.stop().catch(() => undefined);
    await this.#thrift?.stop().catch(() => undefined);
    await this.#http?.stop().catch(() => undefined);
    await this.#metricsServer?.stop().catch(() => undefined);
    await this.#engine?.stop().catch(() => undefined);
    await stopAll(this.#startedWriters).catch((error: unknown) => this.#log(`stopping the writers: ${error instanceof Error ? error.message : String(error)}`));
    this.#startedWriters = [];
    await this.#queryStore?.stop().catch(() => undefined);
  }

  #log(line: string): void {
    this.options.log?.(line);
  }
}
