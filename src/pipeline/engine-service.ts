/**
 * The live engine service behind `netspectra engine` (docs/pipeline.md): the pipeline on a NATS
 * packet source (bus/NatsPacketSource, or bus/JetStreamPacketSource in durable mode), plus what a
 * cluster member adds around it: the NATS connection, leader election, the alert relay and a
 * /metrics + /healthz endpoint.
 *
 * Lifecycle: the constructor is inert; `start()` connects to NATS (NS_ERR_NATS_CONNECT when the
 * server does not answer), starts the engine's workers and every writer, the metrics endpoint, the
 * leader lease and only then subscribes; `stop()` stops subscribing (the server first delivers
 * what it already sent), hands the last batches to the engine, gives every writer a final
 * snapshot, then stops writers, engine and connection. Once connected, an outage of NATS is ridden
 * out by the connection reconnecting on its own (counted in /metrics, 503 on /healthz meanwhile).
 *
 * Ownership (which packets this engine counts) comes from a PartitionOwnership: with the batch
 * format the engine subscribes to its partitions' subjects only; with the original's PacketInfo
 * format it receives everything and keeps the packets whose source it owns.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { NotificationDispatcher } from '../alerting/notification-dispatcher.js';
import { notifiersFromConfig, type NotifierStreams } from '../alerting/notifiers/index.js';
import { MetricsServer, type Health, type ListenAddress } from '../api/metrics-server.js';
import { AlertRelayPublisher, AlertRelayReceiver } from '../bus/alert-relay.js';
import type { EngineCheckpoint } from '../bus/engine-checkpoint.js';
import { JetStreamPacketSource } from '../bus/jetstream-packet-source.js';
import { LeaderLease } from '../bus/leader-lease.js';
import { NatsConnection } from '../bus/nats-connection.js';
import { NatsPacketSource, type EngineFormat, type NatsSource } from '../bus/nats-packet-source.js';
import type { PartitionOwnership } from '../bus/partition-ownership.js';
import type { NetSpectraConfig } from '../config/schema.js';
import type { TaskStats } from '../engine/engine.js';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import { PrometheusText } from '../model/prometheus-text.js';
import type { TaskGroupName } from '../model/snapshot.js';
import { Pipeline, type PipelineAlerting } from './pipeline.js';
import { configuredAnalyst } from './writer-set.js';

export type { EngineFormat } from '../bus/nats-packet-source.js';

export interface EngineServiceOptions {
  config: NetSpectraConfig;
  /** NATS server(s), comma-separated. */
  natsUrl: string;
  /** `probe.subject`. */
  subject: string;
  format: EngineFormat;
  /** The partitions this engine owns (a single engine owns them all). */
  ownership: PartitionOwnership;
  /** Written with every row where the store has the column (ClickHouse `EngineId`), the leader lease's holder. */
  engineId: string;
  /** Take part in the `engine-leader` election (needs JetStream on the server). */
  leaderElection: boolean;
  /** Leader lease lifetime, ms. @default 3000 */
  leaderTtlMs?: number;
  /** Where /metrics and /healthz listen; undefined: no endpoint. */
  metricsListen?: ListenAddress;
  /** Engine worker threads. @default config.aggregator.numWorkers */
  workers?: number;
  /** Embedded store file; undefined → the config's duckdb writers; null → no embedded store. */
  store?: string | null;
  /** Folder under every file writer's root path (several engines writing beside each other). */
  fileSubfolder?: string;
  /** How often due snapshots and period resets are taken, ms. @default 250 */
  tickMs?: number;
  /** Longest a packet waits in a partly filled batch before it reaches the engine, ms. @default 200 */
  maxDelayMs?: number;
  /** NATS messages held while the engine is busy before new ones are dropped (and counted). @default 1024 for batch, 65536 for packet-info */
  maxQueuedMessages?: number;
  /** How long to wait for NATS at start, ms. @default 5000 */
  connectTimeoutMs?: number;
  /** Longest each shutdown step that needs the NATS server may wait for it, ms. @default 2000 */
  shutdownTimeoutMs?: number;
  /** Log lines (no trailing newline). @default none */
  log?: (line: string) => void;
  /** Where the log notifier writes (alerter.notifiers.log). @default process.stdout / process.stderr */
  notifierStreams?: NotifierStreams;
  /** Evaluate the alerter's rules (alerter.*). @default true */
  alerting?: boolean;
  /**
   * Durable mode (`probe.jetstream`): consume the stream from this engine's checkpoint instead of
   * subscribing (docs/pipeline.md, "JetStream durable mode"). @default undefined: core NATS
   */
  jetstream?: { stream: string; maxAgeMs: number; maxBytes: number };
}

export interface EngineServiceEvents {
  /** This engine became (true) or stopped being (false) the leader. */
  leader: [leader: boolean];
  /** The engine failed while running (a worker died); the service should be stopped. */
  failed: [error: NetSpectraError];
  /** JetStream mode: a checkpoint was written (after a period end reached every writer). */
  checkpoint: [checkpoint: EngineCheckpoint];
}

export interface EngineCounters {
  /** Packets decoded from NATS payloads. */
  packetsReceived: number;
  /** Packets handed to the engine (owned by this engine). */
  packetsAccepted: number;
  /** PacketInfo packets left to the engine that owns their source (key-owner rule). */
  packetsNotOwned: number;
  /** Batch-format packets whose source hashes to a partition this engine does not own: a probe with other `--partitions`. */
  packetsForeignPartition: number;
  /** Batches handed to the engine. */
  batches: number;
  messages: number;
  malformed: number;
  /** Messages missing from batch streams (sequence gaps). */
  missing: number;
  /** Messages dropped because the engine was behind. */
  overflow: number;
  snapshots: Record<TaskGroupName, number>;
}

export interface EngineStopResult {
  counters: EngineCounters;
  /** Task sizes just before stopping (empty when the engine had failed). */
  taskStats: TaskStats[];
  /** Errors of the final snapshot's writes (the process should exit 1 when there are any). */
  finalWriteErrors: NetSpectraError[];
  /** Every write error since start. */
  writeErrors: number;
  /** The engine failure, if the service stopped because of one. */
  failure: NetSpectraError | undefined;
  elapsedSeconds: number;
}

const DEFAULT_TICK_MS = 250;

export class EngineService extends EventEmitter<EngineServiceEvents> implements AsyncDisposable {
  readonly options: Readonly<EngineServiceOptions>;
  #connection: NatsConnection | undefined;
  #source: NatsSource | undefined;
  #pipeline: Pipeline | undefined;
  #lease: LeaderLease | undefined;
  #metricsServer: MetricsServer | undefined;
  /** Cluster mode: the leader's deliveries of every engine's relayed notifications. */
  #alertDispatcher: NotificationDispatcher | undefined;
  #alertRelay: AlertRelayReceiver | undefined;
  #stopping: Promise<EngineStopResult> | undefined;
  #startedAt = 0;
  #startedWall = 0;
  #nats = { disconnects: 0, reconnects: 0 };
  #outageTimer: NodeJS.Timeout | undefined;
  readonly #initialRunId = randomUUID();

  constructor(options: EngineServiceOptions) {
    super();
    this.options = options;
  }

  /**
   * Identifies the rows this process writes (RunId column); in JetStream mode the run of the
   * checkpoint this engine resumed, so the replayed rows and the crashed process's are one run.
   */
  get runId(): string {
    return this.#pipeline?.runId ?? this.#initialRunId;
  }

  /** JetStream mode: the checkpoint resumed or last written (undefined in core mode or before start). */
  get checkpoint(): EngineCheckpoint | undefined {
    return this.#source instanceof JetStreamPacketSource ? this.#source.checkpoint : undefined;
  }

  /** JetStream mode: whether the replay of the backlog found at start is done. */
  get caughtUp(): boolean {
    return this.#source instanceof JetStreamPacketSource ? this.#source.caughtUp : true;
  }

  /** Whether this engine does the cluster's singleton duties (always, without leader election). */
  get isLeader(): boolean {
    if (this.#lease !== undefined) return this.#lease.leader;
    return !this.options.leaderElection && this.#startedAt > 0 && this.#stopping === undefined;
  }

  /** The metrics endpoint's base URL (`http://host:port`), once started with one. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
  }

  /** The NATS subjects this engine listens on. */
  get subjects(): string[] {
    return this.options.format === 'batch' ? this.options.ownership.subjects(this.options.subject) : [this.options.subject];
  }

  get counters(): EngineCounters {
    const source = this.#source?.counters;
    const pipeline = this.#pipeline?.counters;
    return {
      packetsReceived: source?.packetsReceived ?? 0,
      packetsAccepted: pipeline?.packets ?? 0,
      packetsNotOwned: source?.packetsNotOwned ?? 0,
      packetsForeignPartition: source?.packetsForeignPartition ?? 0,
      batches: pipeline?.batches ?? 0,
      messages: source?.messages ?? 0,
      malformed: source?.malformed ?? 0,
      missing: source?.missing ?? 0,
      overflow: source?.overflow ?? 0,
      snapshots: pipeline?.snapshots ?? { exact: 0, sketch: 0 },
    };
  }

  async start(): Promise<void> {
    if (this.#startedAt > 0) return;
    const o = this.options;
    this.#startedAt = performance.now();
    this.#startedWall = Date.now();
    try {
      const connection = new NatsConnection({ url: o.natsUrl, name: `netspectra-engine ${o.engineId}`, connectTimeoutMs: o.connectTimeoutMs ?? 5000, drainTimeoutMs: this.#shutdownMs() });
      this.#connection = connection;
      await connection.start();
      const log = (line: string): void => this.#log(line);
      const sourceOptions = { subject: o.subject, format: o.format, ownership: o.ownership, maxDelayMs: o.maxDelayMs ?? 200, log };
      this.#source =
        o.jetstream === undefined
          ? new NatsPacketSource(connection, {
              ...sourceOptions,
              ...(o.maxQueuedMessages === undefined ? {} : { maxQueuedMessages: o.maxQueuedMessages }),
              drainTimeoutMs: this.#shutdownMs(),
            })
          : new JetStreamPacketSource(connection, {
              ...sourceOptions,
              stream: { name: o.jetstream.stream, maxAgeMs: o.jetstream.maxAgeMs, maxBytes: o.jetstream.maxBytes },
              engineId: o.engineId,
              tickMs: o.tickMs ?? DEFAULT_TICK_MS,
              onCheckpoint: (checkpoint) => this.emit('checkpoint', checkpoint),
            });
      const pipeline = new Pipeline({
        config: o.config,
        source: this.#source,
        tool: 'engine',
        engineId: o.engineId,
        runId: this.#initialRunId,
        ...(o.workers === undefined ? {} : { workers: o.workers }),
        ...(o.store === undefined ? {} : { store: o.store }),
        ...(o.fileSubfolder === undefined ? {} : { fileSubfolder: o.fileSubfolder }),
        ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
        alerting: o.alerting === false ? false : await this.#alerting(connection),
        // periods on multiples of aggregator.period since the epoch: every engine of a cluster
        // resets at the same instants and gives a period the same id, without messages
        alignPeriods: true,
        log,
        beforeReading: () => this.#beforeReading(connection),
      });
      this.#pipeline = pipeline;
      pipeline.once('failed', (error) => this.emit('failed', error));
      await pipeline.start();
      this.#outageTimer = setInterval(() => this.#noteConnection(), o.tickMs ?? DEFAULT_TICK_MS);
    } catch (error) {
      await this.#teardown();
      this.#startedAt = 0;
      throw error;
    }
  }

  /**
   * Stop subscribing, let the engine take the last batches, write a final snapshot to every
   * writer, stop everything. Safe to call more than once (the same result).
   */
  stop(): Promise<EngineStopResult> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** 200 when NATS is connected, the engine runs and every writer's last write succeeded. */
  health(): Health {
    const reasons: string[] = [];
    if (this.#startedAt === 0) reasons.push('not started');
    if (this.#stopping !== undefined) reasons.push('stopping');
    if (this.#connection !== undefined && !this.#connection.stats.connected) reasons.push(`NATS disconnected from ${this.options.natsUrl} (reconnecting)`);
    if (this.#pipeline !== undefined) reasons.push(...this.#pipeline.healthReasons(this.#stopping !== undefined).map((r) => (r.startsWith('failed: ') ? `engine ${r}` : r)));
    return { ok: reasons.length === 0, reasons };
  }

  /** Every metric in the Prometheus text format. */
  async metricsText(): Promise<string> {
    const o = this.options;
    const nats = this.#connection?.stats;
    const text = new PrometheusText();
    text
      .single('netspectra_engine_info', 'gauge', 'This engine: its id, payload format, subject and owned partitions.', 1, {
        engine_id: o.engineId,
        format: o.format,
        subject: o.subject,
        partitions: String(o.ownership.partitions),
        owned: o.ownership.toString(),
      })
      .single('netspectra_engine_uptime_seconds', 'gauge', 'Seconds since the engine started.', this.#startedAt === 0 ? 0 : (performance.now() - this.#startedAt) / 1000)
      .single('netspectra_engine_start_time_seconds', 'gauge', 'Start time, seconds since the Unix epoch.', this.#startedWall / 1000)
      .single('netspectra_nats_connected', 'gauge', '1 while connected to NATS.', nats?.connected === true ? 1 : 0)
      .single('netspectra_nats_disconnects_total', 'counter', 'Times the NATS connection was lost.', nats?.disconnects ?? 0)
      .single('netspectra_nats_reconnects_total', 'counter', 'Times the NATS connection was re-established.', nats?.reconnects ?? 0)
      .single('netspectra_nats_slow_consumer_total', 'counter', 'Slow-consumer events reported by the NATS client (messages dropped for us).', nats?.slowConsumer ?? 0)
      .single('netspectra_engine_leader_election', 'gauge', '1 when this engine takes part in leader election.', o.leaderElection ? 1 : 0)
      .single('netspectra_engine_leader', 'gauge', '1 while this engine does the singleton duties (the leader, or alone without election).', this.isLeader ? 1 : 0)
      .single('netspectra_engine_leader_acquisitions_total', 'counter', 'Times this engine became the leader.', this.#lease?.acquisitions ?? 0);
    if (this.#pipeline?.alerter !== undefined) {
      text
        .single('netspectra_alert_relay_received_total', 'counter', 'Notifications received on the relay subject (cluster mode).', this.#alertRelay?.stats.received ?? 0)
        .single('netspectra_alert_relay_malformed_total', 'counter', 'Relay payloads that were not a notification (dropped).', this.#alertRelay?.stats.malformed ?? 0);
    }
    // with the relay, the engine's own notifier is the relay; the leader's deliveries are the dispatcher's
    await this.#pipeline?.addMetrics(text, this.#alertDispatcher?.stats());
    return text.toString();
  }

  /**
   * The alerter's delivery (docs/alerting.md): every engine evaluates the rules on the traffic it
   * owns. Alone, it delivers its notifications itself; with leader election, every engine publishes
   * them on the relay subject and only the current leader delivers what arrives there — one
   * notification per alert in the cluster, and the next leader takes over when one dies.
   */
  async #alerting(connection: NatsConnection): Promise<PipelineAlerting> {
    const o = this.options;
    const config = o.config;
    const notifiers = notifiersFromConfig(config, o.notifierStreams ?? { stdout: process.stdout, stderr: process.stderr });
    const analyst = configuredAnalyst(config, notifiers.length);
    if (!o.leaderElection || notifiers.length === 0) return { notifiers, ...analyst };
    const dispatcher = new NotificationDispatcher({
      notifiers,
      timeoutMs: config.alerter.notifiers.timeoutMs,
      onFailure: (failure) => this.#log(`alert notification not delivered: ${failure.error.toDisplayString()}`),
    });
    this.#alertDispatcher = dispatcher;
    this.#alertRelay = new AlertRelayReceiver(connection, {
      onNotification: (notification) => {
        if (this.isLeader) dispatcher.dispatch(Promise.resolve(notification));
      },
    });
    await this.#alertRelay.start();
    return { notifiers: [new AlertRelayPublisher(connection, { engineId: o.engineId })], ...analyst };
  }

  /** Once engine and writers run, before subscribing: the metrics endpoint and the leader lease. */
  async #beforeReading(connection: NatsConnection): Promise<void> {
    const o = this.options;
    if (o.metricsListen !== undefined) {
      this.#metricsServer = new MetricsServer({ listen: o.metricsListen, metrics: () => this.metricsText(), health: () => this.health() });
      await this.#metricsServer.start();
    }
    if (!o.leaderElection) {
      this.emit('leader', true);
      return;
    }
    const lease = new LeaderLease(connection, {
      key: 'engine-leader',
      holderId: o.engineId,
      ttlMs: o.leaderTtlMs ?? 3000,
      onChange: (leader) => {
        this.#log(leader ? `${o.engineId} is now the leader` : `${o.engineId} is no longer the leader`);
        this.emit('leader', leader);
      },
    });
    try {
      await lease.start();
    } catch (error) {
      throw new NetSpectraError(
        'NS_ERR_NATS_JETSTREAM',
        `leader election needs JetStream on the NATS server at ${o.natsUrl} (start it with nats-server -js), or run with --no-leader-election: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    this.#lease = lease;
  }

  #shutdownMs(): number {
    return this.options.shutdownTimeoutMs ?? 2000;
  }

  #log(line: string): void {
    this.options.log?.(line);
  }

  /** Notices NATS outages for the log. */
  #noteConnection(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    const { disconnects, reconnects } = connection.stats;
    if (disconnects > this.#nats.disconnects) this.#log(`lost the NATS connection to ${this.options.natsUrl}; reconnecting`);
    if (reconnects > this.#nats.reconnects) this.#log(`reconnected to NATS`);
    this.#nats = { disconnects, reconnects };
  }

  async #stop(): Promise<EngineStopResult> {
    // Hand the lease over first (a follower takes the duties while this engine finishes), and stop
    // subscribing: the server delivers what it sent before the unsubscription, then the batches end.
    const [, result] = await Promise.all([withTimeout(this.#lease?.stop(), this.#shutdownMs()), this.#pipeline?.stop()]);
    if (!this.options.leaderElection && this.#startedAt > 0) this.emit('leader', false);
    await this.#teardown();
    return {
      counters: this.counters,
      taskStats: result?.taskStats ?? [],
      finalWriteErrors: result?.finalWriteErrors ?? [],
      writeErrors: result?.writeErrors.length ?? 0,
      failure: result?.failure,
      elapsedSeconds: this.#startedAt === 0 ? 0 : (performance.now() - this.#startedAt) / 1000,
    };
  }

  /** Release everything that was started, in reverse order; never throws. */
  async #teardown(): Promise<void> {
    clearInterval(this.#outageTimer);
    this.#outageTimer = undefined;
    const limit = this.#shutdownMs();
    await withTimeout(this.#lease?.stop(), limit).catch(() => undefined);
    await this.#pipeline?.stop();
    // after the alerter (a writer) has sent its last notifications: the relay may still deliver them
    await withTimeout(this.#alertRelay === undefined ? undefined : this.#connection?.flush(), limit).catch(() => undefined);
    this.#alertRelay?.stop();
    await withTimeout(this.#alertDispatcher?.close(), limit).catch(() => undefined);
    await this.#connection?.stop().catch(() => undefined);
    await this.#metricsServer?.stop().catch(() => undefined);
  }
}

/** Wait for `promise` at most `ms` (it runs on); undefined resolves at once. */
async function withTimeout(promise: Promise<void> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
