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
import { LeaderLease } from '../bus/leader-lease.js';
import { NatsConnection } from '../bus/nats-connection.js';
import { PacketSubscriber, type PacketSubscriberStats } from '../bus/packet-subscriber.js';
import type { PartitionOwnership } from '../bus/partition-ownership.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { Engine, type TaskStats } from '../engine/engine.js';
import { Manager, type TaskGroup } from '../engine/manager.js';
import { NetSpectraError } from '../model/errors.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { TaskGroupName } from '../model/snapshot.js';
import { InstrumentedWriter } from '../store/instrumented-writer.js';
import { engineTasksOf } from './analysis.js';
import { MetricsServer, type Health, type ListenAddress } from './metrics-server.js';
import { PrometheusText } from './prometheus-text.js';
import { buildWriterSet, startAll, stopAll } from './writers.js';

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
}

export interface EngineServiceEvents {
  /** This engine became (true) or stopped being (false) the leader. */
  leader: [leader: boolean];
  /** The engine failed while running (a worker died); the service should be stopped. */
  failed: [error: NetSpectraError];
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
  /** Identifies the rows this process writes (RunId column). */
  readonly runId = randomUUID();
  #connection: NatsConnection | undefined;
  #engine: Engine | undefined;
  #manager: Manager | undefined;
  #subscriber: PacketSubscriber | undefined;
  #lease: LeaderLease | undefined;
  #metricsServer: MetricsServer | undefined;
  #writers: InstrumentedWriter[] = [];
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
    const subscriber: PacketSubscriberStats = this.#subscriber?.stats ?? { messages: 0, packets: 0, malformed: 0, missing: 0, overflow: 0, lastError: undefined };
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
      // every distinct writer measured once, whichever groups share it
      const measured = new Map<SnapshotWriter, InstrumentedWriter>();
      for (const writer of set.writers) {
        measured.set(
          writer,
          new InstrumentedWriter(writer, {
            onFailing: (w, error) => this.#log(`writer ${w.description} failed: ${error instanceof Error ? error.message : String(error)} (retried at the next snapshot)`),
            onRecovered: (w) => this.#log(`writer ${w.description} writes again`),
          }),
        );
      }
      this.#writers = [...measured.values()];
      const groups: TaskGroup[] = set.groups.map((group) => ({ ...group, writers: group.writers.map((w) => ({ ...w, writer: measured.get(w.writer)! })) }));
      this.#manager = new Manager({
        engine,
        groups,
        periodMs: o.config.aggregator.periodMs,
        clock: 'wall',
        onSnapshot: (snapshot) => this.#snapshots[snapshot.group]++,
      });
      this.#startedWriters = await startAll(this.#writers, [engine.start()]);

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

      this.#subscriber = new PacketSubscriber(this.#connection, {
        subjects: this.subjects,
        pool: engine.pool,
        maxDelayMs: o.maxDelayMs ?? 200,
        maxQueuedMessages: o.maxQueuedMessages ?? (o.format === 'batch' ? 1024 : 65_536),
      });
      await this.#subscriber.start();
      this.#tickTimer = setInterval(() => this.#tick(), o.tickMs ?? DEFAULT_TICK_MS);
      this.#consuming = this.#consume();
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
    for (const writer of this.#writers) {
      const m = writer.measurements;
      if (!m.started && this.#stopping === undefined) reasons.push(`writer ${m.description} is not started`);
      else if (m.lastError !== undefined) reasons.push(`writer ${m.description}: last write failed: ${m.lastError}`);
    }
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
      .single('netspectra_nats_slow_consumer_total', 'counter', 'Slow-consumer events reported by the NATS client (messages dropped for us).', nats?.slowConsumer ?? 0)
      .family(
        'netspectra_engine_task_flows',
        'gauge',
        'Distinct keys held by an exact task (0 for sketches).',
        taskStats.map((t) => ({ value: t.flows, labels: { task: t.name, kind: t.kind } })),
      )
      .family(
        'netspectra_engine_task_memory_bytes',
        'gauge',
        'Memory held by a task.',
        taskStats.map((t) => ({ value: t.memoryBytes, labels: { task: t.name, kind: t.kind } })),
      )
      .family(
        'netspectra_engine_snapshots_total',
        'counter',
        'Snapshots taken per task group (interval, period end and final).',
        (Object.keys(c.snapshots) as TaskGroupName[]).map((group) => ({ value: c.snapshots[group], labels: { group } })),
      );
    const writers = this.#writers.map((w) => w.measurements);
    text
      .family(
        'netspectra_engine_snapshot_writes_total',
        'counter',
        'Snapshots written successfully per writer.',
        writers.map((m) => ({ value: m.writes, labels: { writer: m.description } })),
      )
      .family(
        'netspectra_engine_snapshot_write_seconds',
        'summary',
        'Time spent writing snapshots per writer (successful or not).',
        writers.flatMap((m) => [
          { value: m.writeSeconds, labels: { writer: m.description }, suffix: '_sum' },
          { value: m.writes + m.failures, labels: { writer: m.description }, suffix: '_count' },
        ]),
      )
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
      .family(
        'netspectra_engine_writer_errors_total',
        'counter',
        'Failed snapshot writes per writer.',
        writers.map((m) => ({ value: m.failures, labels: { writer: m.description } })),
      )
      .family(
        'netspectra_engine_writer_up',
        'gauge',
        '1 when the writer is started and its last write succeeded.',
        writers.map((m) => ({ value: m.started && m.lastError === undefined ? 1 : 0, labels: { writer: m.description } })),
      )
      .single('netspectra_engine_leader_election', 'gauge', '1 when this engine takes part in leader election.', o.leaderElection ? 1 : 0)
      .single('netspectra_engine_leader', 'gauge', '1 while this engine does the singleton duties (the leader, or alone without election).', this.isLeader ? 1 : 0)
      .single('netspectra_engine_leader_acquisitions_total', 'counter', 'Times this engine became the leader.', this.#lease?.acquisitions ?? 0);
    return text.toString();
  }

  #shutdownMs(): number {
    return this.options.shutdownTimeoutMs ?? 2000;
  }

  #log(line: string): void {
    this.options.log?.(line);
  }

  /** Take what is due (snapshots, a period reset); never two ticks at once. Also notices NATS outages for the log. */
  #tick(): void {
    const connection = this.#connection;
    if (connection !== undefined) {
      const { disconnects, reconnects } = connection.stats;
      if (disconnects > this.#nats.disconnects) this.#log(`lost the NATS connection to ${this.options.natsUrl}; reconnecting`);
      if (reconnects > this.#nats.reconnects) this.#log(`reconnected to NATS`);
      this.#nats = { disconnects, reconnects };
    }
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
    const manager = this.#manager!;
    const engine = this.#engine!;
    const ownership = this.options.ownership;
    const filter = this.options.format === 'packet-info' && !ownership.ownsAll;
    const check = this.options.format === 'batch' && !ownership.ownsAll;
    try {
      for await (const batch of subscriber.batches()) {
        if (filter) {
          this.#counters.packetsNotOwned += ownership.keepOwned(batch);
          if (batch.count === 0) {
            engine.pool.release(batch);
            continue;
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
    } catch (error) {
      // what is still queued is lost with the engine; the owner stops the service (`failed` event)
      this.#fail(error);
      subscriber.stop();
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
    await Promise.all([withTimeout(this.#lease?.stop(), limit), this.#subscriber?.drain(limit)]);
    if (!this.options.leaderElection && this.#startedAt > 0) this.emit('leader', false);
    await this.#consuming;
    clearInterval(this.#tickTimer);
    await this.#ticking;
    let finalWriteErrors: NetSpectraError[] = [];
    let taskStats: TaskStats[] = [];
    const manager = this.#manager;
    if (manager !== undefined && this.#startedWriters.length > 0 && this.#failure === undefined) {
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
    const limit = this.#shutdownMs();
    await withTimeout(this.#lease?.stop(), limit).catch(() => undefined);
    await this.#engine?.stop().catch(() => undefined);
    await stopAll(this.#startedWriters).catch((error: unknown) => this.#log(`stopping the writers: ${error instanceof Error ? error.message : String(error)}`));
    this.#startedWriters = [];
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
