/**
 * The live engine service behind `netspectra engine` (docs/pipeline.md): NATS → PacketSubscriber →
 * (key-owner filter) → Manager in wall-clock mode → Engine → writers, plus leader election and a
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
import { CheckpointStore, type EngineCheckpoint } from '../bus/engine-checkpoint.js';
import { JetStreamPacketConsumer } from '../bus/jetstream-packet-consumer.js';
import { ensurePacketStream } from '../bus/jetstream-stream.js';
import { alerterFromConfig, scheduleAlerter } from '../alerting/alerter-setup.js';
import type { Alerter } from '../alerting/alerter.js';
import { AlertRecorder } from '../alerting/alert-recorder.js';
import { NotificationDispatcher } from '../alerting/notification-dispatcher.js';
import { notifiersFromConfig, type NotifierStreams } from '../alerting/notifiers/index.js';
import { AlertRelayPublisher, AlertRelayReceiver } from '../bus/alert-relay.js';
import { LeaderLease } from '../bus/leader-lease.js';
import { NatsConnection } from '../bus/nats-connection.js';
import { PacketSubscriber, type PacketSubscriberStats } from '../bus/packet-subscriber.js';
import type { PartitionOwnership } from '../bus/partition-ownership.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { Engine, type TaskStats } from '../engine/engine.js';
import type { EngineTasks } from '../engine/task-plan.js';
import { Manager, type TaskGroup } from '../engine/manager.js';
import { NetSpectraError } from '../model/errors.js';
import type { PacketBatch } from '../model/packet.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { TaskGroupName } from '../model/snapshot.js';
import type { InstrumentedWriter } from '../store/instrumented-writer.js';
import { engineTasksOf } from './analysis.js';
import { MetricsServer, type Health, type ListenAddress } from './metrics-server.js';
import { PrometheusText } from './prometheus-text.js';
import { addEngineMetrics, buildWriterSet, configuredAnalyst, measureWriters, startAll, stopAll, writerHealthReasons } from './writers.js';

/** `batch`: partitioned packet batches on `<subject>.<p>`; `packet-info`: the original's one PacketInfo per message on `<subject>`. */
export type EngineFormat = 'batch' | 'packet-info';

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
  #runId: string = randomUUID();
  #consumer: JetStreamPacketConsumer | undefined;
  #checkpoints: CheckpointStore | undefined;
  /** JetStream mode: whether start found a checkpoint, i.e. continues a run that may have rows stored. */
  #continuesRun = false;
  /** JetStream mode: period resets held back because the engine was still replaying. */
  #heldTicks = 0;
  #checkpointFailures = 0;
  #checkpointsSkipped = 0;
  #connection: NatsConnection | undefined;
  #engine: Engine | undefined;
  #manager: Manager | undefined;
  #subscriber: PacketSubscriber | undefined;
  #lease: LeaderLease | undefined;
  #metricsServer: MetricsServer | undefined;
  #writers: InstrumentedWriter[] = [];
  #alerter: Alerter | undefined;
  /** Stores every alert notice in the writers' stores (docs/alerting.md, "Storage"). */
  #alertRecorder: AlertRecorder | undefined;
  /** Cluster mode: the leader's deliveries of every engine's relayed notifications. */
  #alertDispatcher: NotificationDispatcher | undefined;
  #alertRelay: AlertRelayReceiver | undefined;
  #startedWriters: SnapshotWriter[] = [];
  #tickTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #consuming: Promise<void> | undefined;
  #stopping: Promise<EngineStopResult> | undefined;
  #failure: NetSpectraError | undefined;
  #startedAt = 0;
  #startedWall = 0;
  #nats = { disconnects: 0, reconnects: 0 };
  readonly #counters = { packetsAccepted: 0, packetsNotOwned: 0, packetsForeignPartition: 0, batches: 0 };
  readonly #snapshots: Record<TaskGroupName, number> = { exact: 0, sketch: 0 };
  #foreignWarned = false;

  constructor(options: EngineServiceOptions) {
    super();
    this.options = options;
  }

  /**
   * Identifies the rows this process writes (RunId column); in JetStream mode the run of the
   * checkpoint this engine resumed, so the replayed rows and the crashed process's are one run.
   */
  get runId(): string {
    return this.#runId;
  }

  /** JetStream mode: the checkpoint resumed or last written (undefined in core mode or before start). */
  get checkpoint(): EngineCheckpoint | undefined {
    return this.#checkpoints?.last;
  }

  /** JetStream mode: whether the replay of the backlog found at start is done. */
  get caughtUp(): boolean {
    return this.#consumer?.caughtUp ?? true;
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
    const durable = this.#consumer?.stats;
    const subscriber: PacketSubscriberStats =
      durable !== undefined
        ? { messages: durable.messages, packets: durable.packets, malformed: durable.malformed, missing: durable.missing, overflow: 0, lastError: durable.lastError }
        : (this.#subscriber?.stats ?? { messages: 0, packets: 0, malformed: 0, missing: 0, overflow: 0, lastError: undefined });
    return {
      packetsReceived: subscriber.packets,
      ...this.#counters,
      messages: subscriber.messages,
      malformed: subscriber.malformed,
      missing: subscriber.missing,
      overflow: subscriber.overflow,
      snapshots: { ...this.#snapshots },
    };
  }

  async start(): Promise<void> {
    if (this.#startedAt > 0) return;
    const o = this.options;
    this.#startedAt = performance.now();
    this.#startedWall = Date.now();
    try {
      this.#connection = new NatsConnection({ url: o.natsUrl, name: `netspectra-engine ${o.engineId}`, connectTimeoutMs: o.connectTimeoutMs ?? 5000, drainTimeoutMs: this.#shutdownMs() });
      await this.#connection.start();
      const resumed = o.jetstream === undefined ? undefined : await this.#resume(o.jetstream);

      const tasks = engineTasksOf(o.config);
      const engine = new Engine({ tasks, workers: o.workers ?? o.config.aggregator.numWorkers });
      this.#engine = engine;
      const set = buildWriterSet({
        config: o.config,
        tasks,
        runId: this.runId,
        store: o.store,
        inputs: this.subjects,
        tool: 'engine',
        clickhouse: { engineId: o.engineId },
        ...(o.fileSubfolder === undefined ? {} : { fileSubfolder: o.fileSubfolder }),
      });
      this.#alertRecorder = new AlertRecorder({ sinks: set.alertSinks, runId: this.runId, engineId: o.engineId, source: 'engine', onWarning: (line) => this.#log(line) });
      const { writers, groups } = measureWriters(set, (line) => this.#log(line));
      this.#writers = writers;
      // before the manager, which takes the groups' writers as they are
      this.#alerter = await this.#setUpAlerting(groups, tasks);
      this.#manager = new Manager({
        engine,
        groups,
        periodMs: o.config.aggregator.periodMs,
        clock: 'wall',
        // periods on multiples of aggregator.period since the epoch: every engine of a cluster
        // resets at the same instants and gives a period the same id, without messages
        alignPeriods: true,
        onSnapshot: (snapshot) => this.#snapshots[snapshot.group]++,
        ...(resumed === undefined
          ? {}
          : {
              firstPeriodStartMs: resumed.periodStartMs,
              // a period end is stamped when it is taken: its rows are newer than any row an
              // earlier process wrote for the period, even when it was held back by a replay
              lateTimestampAfterMs: 0,
              periodEndBarrier: (next, written) => this.#checkpointAt(next, written),
            }),
      });
      this.#startedWriters = await startAll(this.#alerter === undefined ? this.#writers : [...this.#writers, this.#alerter], [engine.start()]);
      if (resumed !== undefined && this.#continuesRun) {
        // the replay writes the period again, into the same run: writers whose rows carry growth
        // first remove what the previous process wrote of it (and after it), or it would count twice
        const from = { runId: this.runId, periodId: resumed.periodId };
        for (const writer of this.#writers) await writer.forgetFrom(from);
      }

      if (o.metricsListen !== undefined) {
        this.#metricsServer = new MetricsServer({ listen: o.metricsListen, metrics: () => this.metricsText(), health: () => this.health() });
        await this.#metricsServer.start();
      }
      if (o.leaderElection) {
        this.#lease = new LeaderLease(this.#connection, {
          key: 'engine-leader',
          holderId: o.engineId,
          ttlMs: o.leaderTtlMs ?? 3000,
          onChange: (leader) => {
            this.#log(leader ? `${o.engineId} is now the leader` : `${o.engineId} is no longer the leader`);
            this.emit('leader', leader);
          },
        });
        try {
          await this.#lease.start();
        } catch (error) {
          this.#lease = undefined;
          throw new NetSpectraError(
            'NS_ERR_NATS_JETSTREAM',
            `leader election needs JetStream on the NATS server at ${o.natsUrl} (start it with nats-server -js), or run with --no-leader-election: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        }
      } else {
        this.emit('leader', true);
      }

      if (resumed !== undefined) {
        this.#consumer = new JetStreamPacketConsumer(this.#connection, {
          stream: o.jetstream!.stream,
          subjects: this.subjects,
          startSequences: resumed.resumeSequences,
          pool: engine.pool,
          maxDelayMs: o.maxDelayMs ?? 200,
          heartbeatMs: o.tickMs ?? DEFAULT_TICK_MS,
          pullMessages: o.format === 'batch' ? 16 : 1024,
          maxQueuedMessages: o.format === 'batch' ? 64 : 8192,
        });
        await this.#consumer.start();
        // snapshots and resets are driven by the consume loop, at message boundaries
        this.#tickTimer = setInterval(() => this.#noteConnection(), o.tickMs ?? DEFAULT_TICK_MS);
        this.#consuming = this.#consumeDurably();
      } else {
        this.#subscriber = new PacketSubscriber(this.#connection, {
          subjects: this.subjects,
          pool: engine.pool,
          maxDelayMs: o.maxDelayMs ?? 200,
          maxQueuedMessages: o.maxQueuedMessages ?? (o.format === 'batch' ? 1024 : 65_536),
        });
        await this.#subscriber.start();
        this.#tickTimer = setInterval(() => this.#tick(), o.tickMs ?? DEFAULT_TICK_MS);
        this.#consuming = this.#consume();
      }
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
    if (this.#failure !== undefined) reasons.push(`engine failed: ${this.#failure.message}`);
    if (this.#connection !== undefined && !this.#connection.stats.connected) reasons.push(`NATS disconnected from ${this.options.natsUrl} (reconnecting)`);
    reasons.push(...writerHealthReasons(this.#writers, this.#stopping !== undefined));
    return { ok: reasons.length === 0, reasons };
  }

  /** Every metric in the Prometheus text format. */
  async metricsText(): Promise<string> {
    const o = this.options;
    const c = this.counters;
    const nats = this.#connection?.stats;
    let taskStats: TaskStats[] = [];
    if (this.#engine !== undefined && this.#failure === undefined && this.#stopping === undefined) {
      try {
        taskStats = await this.#engine.stats();
      } catch {
        // stopping or failed meanwhile: no task figures in this scrape
      }
    }
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
      .single(
        'netspectra_engine_lag_seconds',
        'gauge',
        'Wall clock minus the newest packet timestamp counted (capture to count; includes the probe and NATS; 0 before the first packet). Grows while the engine falls behind.',
        this.#lagSeconds(),
      )
      .single('netspectra_engine_packets_received_total', 'counter', 'Packets decoded from NATS payloads.', c.packetsReceived)
      .single('netspectra_engine_packets_accepted_total', 'counter', 'Packets handed to the engine (sources this engine owns).', c.packetsAccepted)
      .single('netspectra_engine_packets_not_owned_total', 'counter', 'PacketInfo packets left to the engine owning their source (key-owner rule).', c.packetsNotOwned)
      .single(
        'netspectra_engine_packets_foreign_partition_total',
        'counter',
        'Batch-format packets whose source hashes to a partition this engine does not own: a probe publishing with another --partitions.',
        c.packetsForeignPartition,
      )
      .single('netspectra_engine_batches_total', 'counter', 'Packet batches handed to the engine.', c.batches)
      .single('netspectra_engine_messages_total', 'counter', 'NATS messages received.', c.messages)
      .single('netspectra_engine_malformed_payloads_total', 'counter', 'NATS payloads that did not decode (dropped).', c.malformed)
      .single('netspectra_engine_missing_messages_total', 'counter', 'Batch messages missing from their stream (sequence gaps: lost by core NATS).', c.missing)
      .single('netspectra_engine_overflow_dropped_messages_total', 'counter', 'NATS messages dropped because the engine was behind.', c.overflow)
      .single('netspectra_nats_connected', 'gauge', '1 while connected to NATS.', nats?.connected === true ? 1 : 0)
      .single('netspectra_nats_disconnects_total', 'counter', 'Times the NATS connection was lost.', nats?.disconnects ?? 0)
      .single('netspectra_nats_reconnects_total', 'counter', 'Times the NATS connection was re-established.', nats?.reconnects ?? 0)
      .single('netspectra_nats_slow_consumer_total', 'counter', 'Slow-consumer events reported by the NATS client (messages dropped for us).', nats?.slowConsumer ?? 0);
    const writers = this.#writers.map((w) => w.measurements);
    addEngineMetrics(text, taskStats, c.snapshots, writers)
      .family(
        'netspectra_engine_snapshot_last_write_seconds',
        'gauge',
        'Duration of the last snapshot write per writer.',
        writers.map((m) => ({ value: m.lastWriteSeconds, labels: { writer: m.description } })),
      )
      .family(
        'netspectra_engine_snapshot_rows_total',
        'counter',
        'Rows written per writer (writers that count them).',
        writers.flatMap((m) => (m.rows === undefined ? [] : [{ value: m.rows, labels: { writer: m.description } }])),
      )
      .single('netspectra_engine_leader_election', 'gauge', '1 when this engine takes part in leader election.', o.leaderElection ? 1 : 0)
      .single('netspectra_engine_leader', 'gauge', '1 while this engine does the singleton duties (the leader, or alone without election).', this.isLeader ? 1 : 0)
      .single('netspectra_engine_leader_acquisitions_total', 'counter', 'Times this engine became the leader.', this.#lease?.acquisitions ?? 0);
    const alerts = this.#alerter?.stats();
    if (alerts !== undefined) {
      // with the relay, the engine's own notifier is the relay; the leader's deliveries are the dispatcher's
      const delivery = this.#alertDispatcher?.stats() ?? alerts.notifiers;
      text
        .single('netspectra_alert_evaluations_total', 'counter', 'Rule evaluations (snapshots the alerter checked).', alerts.evaluations)
        .single('netspectra_alert_notifications_total', 'counter', 'Notifications this engine produced (firing, repeat, resolved).', alerts.notifications)
        .single('netspectra_alert_analysis_failures_total', 'counter', 'Analyses that failed or missed their deadline (the built-in analysis went instead).', alerts.analysisFailures)
        .single('netspectra_alert_relay_received_total', 'counter', 'Notifications received on the relay subject (cluster mode).', this.#alertRelay?.stats.received ?? 0)
        .single('netspectra_alert_relay_malformed_total', 'counter', 'Relay payloads that were not a notification (dropped).', this.#alertRelay?.stats.malformed ?? 0)
        .single('netspectra_alert_notices_stored_total', 'counter', 'Alert notices written to the stores (summed over the stores).', this.#alertRecorder?.stats().written ?? 0)
        .single('netspectra_alert_store_failures_total', 'counter', 'Writes of alert notices to a store that failed (NS_ERR_ALERT_STORE).', this.#alertRecorder?.stats().failed ?? 0)
        .family('netspectra_alert_deliveries_total', 'counter', 'Notifications delivered per notifier.', delivery.map((n) => ({ value: n.delivered, labels: { notifier: n.name } })))
        .family('netspectra_alert_delivery_failures_total', 'counter', 'Failed or dropped deliveries per notifier.', delivery.map((n) => ({ value: n.failed + n.dropped, labels: { notifier: n.name } })));
    }
    const consumer = this.#consumer;
    if (consumer !== undefined) {
      const checkpoint = this.#checkpoints?.last;
      const subjects = consumer.subjects;
      text
        .family(
          'netspectra_engine_jetstream_pending_messages',
          'gauge',
          'Messages of a subject still in the stream after the last one received (the consumer lag).',
          subjects.map((s) => ({ value: s.pending, labels: { subject: s.subject } })),
        )
        .family(
          'netspectra_engine_jetstream_position',
          'gauge',
          'Last stream sequence of a subject wholly handed to the engine.',
          subjects.map((s) => ({ value: s.position, labels: { subject: s.subject } })),
        )
        .single('netspectra_engine_jetstream_caught_up', 'gauge', '1 once the backlog found at start (the replay from the checkpoint) is consumed.', consumer.caughtUp ? 1 : 0)
        .single('netspectra_engine_jetstream_held_ticks_total', 'counter', 'Snapshot and period-end checks held back while replaying.', this.#heldTicks)
        .single('netspectra_engine_checkpoint_period_id', 'gauge', 'Period of the last checkpoint read or written (its start, seconds since the epoch).', checkpoint?.periodId ?? 0)
        .single('netspectra_engine_checkpoint_written_time_seconds', 'gauge', 'When the last checkpoint was written, seconds since the epoch.', (checkpoint?.writtenAtMs ?? 0) / 1000)
        .single('netspectra_engine_checkpoint_writes_total', 'counter', 'Checkpoints written by this process.', this.#checkpoints?.writes ?? 0)
        .single('netspectra_engine_checkpoint_failures_total', 'counter', 'Checkpoint writes that failed and were retried.', this.#checkpointFailures)
        .single('netspectra_engine_checkpoint_skipped_total', 'counter', 'Period ends not checkpointed because a period-end snapshot write failed.', this.#checkpointsSkipped);
    }
    return text.toString();
  }

  /**
   * The alerter (docs/alerting.md): every engine evaluates the rules on the traffic it owns. Alone,
   * it delivers its notifications itself; with leader election, every engine publishes them on the
   * relay subject and only the current leader delivers what arrives there — one notification per
   * alert in the cluster, and the next leader takes over when one dies.
   */
  async #setUpAlerting(groups: TaskGroup[], tasks: EngineTasks): Promise<Alerter | undefined> {
    const o = this.options;
    if (o.alerting === false) return undefined;
    const config = o.config;
    const notifiers = notifiersFromConfig(config, o.notifierStreams ?? { stdout: process.stdout, stderr: process.stderr });
    const relay = o.leaderElection && notifiers.length > 0;
    const alerter = alerterFromConfig(
      config,
      [...tasks.exact, ...tasks.sketch].map((t) => t.name),
      {
        notifiers: relay ? [new AlertRelayPublisher(this.#connection!, { engineId: o.engineId })] : notifiers,
        ...configuredAnalyst(config, notifiers.length),
        onWarning: (line) => this.#log(line),
        ...(this.#alertRecorder === undefined || this.#alertRecorder.sinkCount === 0 ? {} : { onNotices: (notices) => this.#alertRecorder!.record(notices) }),
      },
    );
    if (alerter === undefined) return undefined;
    scheduleAlerter(groups, alerter, config);
    if (relay) {
      const dispatcher = new NotificationDispatcher({
        notifiers,
        timeoutMs: config.alerter.notifiers.timeoutMs,
        onFailure: (failure) => this.#log(`alert notification not delivered: ${failure.error.toDisplayString()}`),
      });
      this.#alertDispatcher = dispatcher;
      this.#alertRelay = new AlertRelayReceiver(this.#connection!, {
        onNotification: (notification) => {
          if (this.isLeader) dispatcher.dispatch(Promise.resolve(notification));
        },
      });
      await this.#alertRelay.start();
    }
    return alerter;
  }

  #lagSeconds(): number {
    const latest = this.#manager?.latestPacketMs ?? Number.NaN;
    return Number.isFinite(latest) ? Math.max(0, (Date.now() - latest) / 1000) : 0;
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
    if (connection !== undefined) {
      const { disconnects, reconnects } = connection.stats;
      if (disconnects > this.#nats.disconnects) this.#log(`lost the NATS connection to ${this.options.natsUrl}; reconnecting`);
      if (reconnects > this.#nats.reconnects) this.#log(`reconnected to NATS`);
      this.#nats = { disconnects, reconnects };
    }
  }

  /** Take what is due (snapshots, a period reset); never two ticks at once. Also notices NATS outages for the log. */
  #tick(): void {
    this.#noteConnection();
    if (this.#ticking !== undefined || this.#manager === undefined || this.#failure !== undefined) return;
    this.#ticking = this.#manager
      .tick()
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        this.#ticking = undefined;
      });
  }

  async #consume(): Promise<void> {
    const subscriber = this.#subscriber!;
    try {
      for await (const batch of subscriber.batches()) await this.#ingest(batch);
    } catch (error) {
      // what is still queued is lost with the engine; the owner stops the service (`failed` event)
      this.#fail(error);
      subscriber.stop();
    }
  }

  /**
   * JetStream mode: the replay source is also the clock's driver. Snapshots and period resets are
   * taken only at message boundaries (so a checkpoint's position is exact) and not at all while
   * the backlog found at start is replayed: a period that ended meanwhile ends once the replay is
   * done, so no message of the old period is counted in the new one (docs/pipeline.md).
   */
  async #consumeDurably(): Promise<void> {
    const consumer = this.#consumer!;
    const manager = this.#manager!;
    const tickMs = this.options.tickMs ?? DEFAULT_TICK_MS;
    let lastTick = performance.now();
    let replaying = !consumer.caughtUp;
    if (replaying) this.#log(`replaying the stream from the checkpoint (${consumer.stats.pending} messages)`);
    try {
      for await (const delivery of consumer.deliveries()) {
        if (delivery.batch !== undefined) await this.#ingest(delivery.batch);
        if (!delivery.atMessageBoundary || performance.now() - lastTick < tickMs || this.#failure !== undefined) continue;
        lastTick = performance.now();
        if (!consumer.caughtUp) {
          this.#heldTicks++;
          continue;
        }
        if (replaying) {
          replaying = false;
          this.#log(`caught up with the stream after replaying ${consumer.stats.messages} messages`);
        }
        await manager.tick();
      }
    } catch (error) {
      this.#fail(error);
      consumer.stop();
    }
  }

  async #ingest(batch: PacketBatch): Promise<void> {
    const manager = this.#manager!;
    const engine = this.#engine!;
    const ownership = this.options.ownership;
    const filter = this.options.format === 'packet-info' && !ownership.ownsAll;
    const check = this.options.format === 'batch' && !ownership.ownsAll;
    if (filter) {
      this.#counters.packetsNotOwned += ownership.keepOwned(batch);
      if (batch.count === 0) {
        engine.pool.release(batch);
        return;
      }
    } else if (check) {
      const foreign = ownership.countForeign(batch);
      if (foreign > 0) {
        this.#counters.packetsForeignPartition += foreign;
        if (!this.#foreignWarned) {
          this.#foreignWarned = true;
          this.#log(
            `packets arrive whose source belongs to a partition this engine does not own: the probe publishes with another --partitions than ${ownership.partitions}; counted as netspectra_engine_packets_foreign_partition_total`,
          );
        }
      }
    }
    this.#counters.batches++;
    this.#counters.packetsAccepted += batch.count;
    await manager.ingest(batch);
  }

  /**
   * JetStream mode, at start: make sure the stream exists, read this engine's checkpoint (or write
   * a first one, so that even a crash in the first period resumes the same run and period).
   */
  async #resume(jetstream: NonNullable<EngineServiceOptions['jetstream']>): Promise<EngineCheckpoint> {
    const o = this.options;
    const connection = this.#connection!;
    const stream = await ensurePacketStream(connection, { stream: jetstream.stream, subject: o.subject, maxAgeMs: jetstream.maxAgeMs, maxBytes: jetstream.maxBytes });
    const store = new CheckpointStore(connection, { stream: jetstream.stream, subject: o.subject, format: o.format, partitions: o.ownership.partitions, owned: o.ownership.toString() });
    this.#checkpoints = store;
    await store.start();
    const found = await store.read();
    if (found !== undefined) {
      this.#runId = found.runId;
      this.#continuesRun = true;
      const oldest = stream.state.first_seq;
      const agedOut = Object.entries(found.resumeSequences).filter(([, sequence]) => sequence < oldest && sequence > 1);
      if (agedOut.length > 0) {
        this.#log(
          `the checkpoint resumes ${agedOut.map(([subject, sequence]) => `${subject} at ${sequence}`).join(', ')}, but the stream's oldest message is ${oldest}: what aged out before (probe.stream_max_age, probe.stream_max_bytes) is lost`,
        );
      }
      this.#log(`resuming run ${found.runId}, period ${found.periodId} (${new Date(found.periodStartMs).toISOString()}) from checkpoint ${store.key}, written by ${found.engineId}`);
      return found;
    }
    const periodMs = o.config.aggregator.periodMs;
    const periodStartMs = Math.floor(Date.now() / periodMs) * periodMs;
    const first: EngineCheckpoint = {
      version: 1,
      runId: this.#runId,
      periodId: Math.floor(periodStartMs / 1000),
      periodStartMs,
      resumeSequences: Object.fromEntries(this.subjects.map((subject) => [subject, 1])),
      engineId: o.engineId,
      writtenAtMs: Date.now(),
    };
    await store.write(first);
    this.#log(`no checkpoint ${store.key}: consuming the stream from its beginning in run ${this.#runId}`);
    return first;
  }

  /**
   * The period-end barrier (JetStream mode): once every writer wrote the period-end snapshot,
   * checkpoint the period just begun with the positions the reset was taken at. No write of the
   * new period starts before this settles, so the store never holds a row of a period whose start
   * is not checkpointed; while NATS is away the checkpoint is retried and the writers (then the
   * consume loop, then the stream) wait — nothing is lost.
   */
  async #checkpointAt(next: { periodId: number; periodStartMs: number }, written: Promise<number>): Promise<void> {
    // called at the reset itself: the consumer stands at the boundary the reset was taken at
    const positions = this.#consumer!.positions();
    const failed = await written;
    if (failed > 0) {
      // the period's last rows are incomplete in some writer: keep the old checkpoint (a crash replays the period again)
      this.#checkpointsSkipped++;
      this.#log(`period ${next.periodId} not checkpointed: ${failed} snapshot write(s) of the period end failed`);
      return;
    }
    const checkpoint: EngineCheckpoint = {
      version: 1,
      runId: this.#runId,
      periodId: next.periodId,
      periodStartMs: next.periodStartMs,
      resumeSequences: Object.fromEntries(Object.entries(positions).map(([subject, position]) => [subject, position + 1])),
      engineId: this.options.engineId,
      writtenAtMs: Date.now(),
    };
    let wait = 250;
    for (;;) {
      try {
        await this.#checkpoints!.write(checkpoint);
        this.emit('checkpoint', checkpoint);
        return;
      } catch (error) {
        this.#checkpointFailures++;
        if (this.#stopping !== undefined) return;
        if (this.#checkpointFailures === 1 || wait >= 2000) this.#log(`checkpoint not written (retrying): ${error instanceof Error ? error.message : String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(2000, wait * 2);
      }
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error instanceof NetSpectraError ? error : new NetSpectraError('NS_ERR_WORKER_FAILED', `the engine failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    this.#log(`${this.#failure.code}: ${this.#failure.message}`);
    this.emit('failed', this.#failure);
  }

  async #stop(): Promise<EngineStopResult> {
    const limit = this.#shutdownMs();
    // Hand the lease over first (a follower takes the duties while this engine finishes), and stop
    // subscribing: the server delivers what it sent before the unsubscription, then the batches end.
    this.#consumer?.stop();
    await Promise.all([withTimeout(this.#lease?.stop(), limit), this.#subscriber?.drain(limit)]);
    if (!this.options.leaderElection && this.#startedAt > 0) this.emit('leader', false);
    await this.#consuming;
    clearInterval(this.#tickTimer);
    await this.#ticking;
    let finalWriteErrors: NetSpectraError[] = [];
    let taskStats: TaskStats[] = [];
    const manager = this.#manager;
    // Stopped while replaying, a final snapshot would hold part of the period only, newer than the
    // earlier process's fuller rows: leave them; the next start replays the period again.
    const partialReplay = this.#consumer !== undefined && !this.#consumer.caughtUp;
    if (partialReplay) this.#log('stopped while replaying: no final snapshot (the next start replays the period from the checkpoint)');
    if (manager !== undefined && this.#startedWriters.length > 0 && this.#failure === undefined && !partialReplay) {
      const before = manager.writeErrors.length;
      try {
        await manager.finish();
      } catch (error) {
        this.#fail(error);
      }
      finalWriteErrors = manager.writeErrors.slice(before);
      for (const error of finalWriteErrors) this.#log(`final snapshot not written: ${error.code}: ${error.message}`);
    }
    if (this.#engine !== undefined && this.#failure === undefined) {
      try {
        taskStats = await this.#engine.stats();
      } catch {
        // failed meanwhile: reported below
      }
    }
    await this.#teardown();
    return {
      counters: this.counters,
      taskStats,
      finalWriteErrors,
      writeErrors: manager?.writeErrors.length ?? 0,
      failure: this.#failure,
      elapsedSeconds: this.#startedAt === 0 ? 0 : (performance.now() - this.#startedAt) / 1000,
    };
  }

  /** Release everything that was started, in reverse order; never throws. */
  async #teardown(): Promise<void> {
    clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    this.#subscriber?.stop();
    this.#consumer?.stop();
    const limit = this.#shutdownMs();
    await withTimeout(this.#lease?.stop(), limit).catch(() => undefined);
    await this.#engine?.stop().catch(() => undefined);
    // the final snapshot's alert notices reach the store's writer thread before it is stopped
    await this.#alertRecorder?.stop();
    await stopAll(this.#startedWriters).catch((error: unknown) => this.#log(`stopping the writers: ${error instanceof Error ? error.message : String(error)}`));
    this.#startedWriters = [];
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
