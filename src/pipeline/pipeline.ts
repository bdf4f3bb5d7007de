/**
 * The pipeline: one packet source (model/ports PacketSource) through the engine under a Manager to
 * the writers of the config, with the alerter and the alert recorder — what `analyze`, `serve` and
 * `engine` each run, assembled once (docs/internals.md).
 *
 * Lifecycle: the constructor is inert. `start()` resumes a resumable source's run (JetStream),
 * builds and starts the engine's workers, the writers and the alerter side by side, removes what
 * an earlier process of a resumed run stored from its period on, starts the source and begins
 * moving its batches into the engine. When the source ends (capture files read, a stopped source
 * drained) the final snapshot is written and `done` resolves. `stop()` stops the source
 * gracefully, waits for that, and stops engine, recorder and writers; it never throws.
 *
 * Time follows the source (SourceTiming): packet time for capture files; the wall clock on a timer
 * (`tick()` every `tickMs`) for live sources; the source's own calls for JetStream, which also
 * records every period reset (its period-end barrier).
 *
 * Failure: an error of the source or the engine is the pipeline's one failure (`failed` event,
 * `failure`); the owner should stop it. After an engine failure nothing more is counted or written;
 * a source that failed (tcpdump lost) still gets its final snapshot of what was counted.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AlertRecorder } from '../alerting/alert-recorder.js';
import type { Alerter } from '../alerting/alerter.js';
import { alerterFromConfig, scheduleAlerter } from '../alerting/alerter-setup.js';
import type { NotifierStats } from '../alerting/notification-dispatcher.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { Engine, type TaskStats } from '../engine/engine.js';
import { Manager } from '../engine/manager.js';
import type { AlertAnalyst, Notifier } from '../model/alert.js';
import { NetSpectraError, errorMessage, isNetSpectraError } from '../model/errors.js';
import { isResumableSource, type PacketSource, type ResumePoint, type SnapshotWriter, type TaskGroup } from '../model/ports.js';
import type { PrometheusText } from '../model/prometheus-text.js';
import type { GroupSnapshot, TaskGroupName } from '../model/snapshot.js';
import type { InstrumentedWriter } from '../store/instrumented-writer.js';
import { SpoolingWriter } from '../store/spooling-writer.js';
import { ThreadedWriter } from '../store/threaded-writer.js';
import { engineTasksOf } from './engine-tasks.js';
import { addAlertMetrics, addEngineMetrics } from './pipeline-metrics.js';
import { buildWriterSet, measureWriters, startAll, stopAll, writerHealthReasons } from './writer-set.js';

export interface PipelineAlerting {
  notifiers: readonly Notifier[];
  /** The AI service's analyst (alerter.ai_analysis). */
  analyst?: AlertAnalyst;
  /** @default the built-in analyst; null for none */
  fallbackAnalyst?: AlertAnalyst | null;
}

export interface PipelineOptions {
  config: NetSpectraConfig;
  source: PacketSource;
  /** The command, recorded with the run in the embedded store and with every alert notice. */
  tool: 'analyze' | 'serve' | 'engine';
  /** Written with every row where the store has the column (ClickHouse `EngineId`) and with alert notices. */
  engineId: string;
  /** Identifies this run's rows (RunId). @default a random UUID; a resumable source's run when it resumes one */
  runId?: string;
  /** Engine worker threads. @default config.aggregator.numWorkers */
  workers?: number;
  /** Embedded store file; undefined → the config's duckdb writers; null → no embedded store. */
  store?: string | null;
  /** Folder under every file writer's root path (several engines writing beside each other). */
  fileSubfolder?: string;
  /** Rule evaluation (`alerter.*`, when enabled and with rules); false: none. @default no notifiers, the built-in analyst */
  alerting?: false | PipelineAlerting;
  /**
   * Wall clock: periods on multiples of aggregator.period since the epoch, so every engine of a
   * cluster resets at the same instants with the same PeriodId. @default false (the first period starts with the pipeline)
   */
  alignPeriods?: boolean;
  /** Wall clock (`timing: 'wall'`): how often due snapshots and period resets are taken, ms. @default 250 */
  tickMs?: number;
  /** Operational lines: warnings, writers failing and recovering (no trailing newline). @default none */
  log?: (line: string) => void;
  /**
   * Called once the engine and the writers run, before the source starts: the owner opens what must
   * be up before the first packet (servers over the store, the leader lease). A failure fails start.
   */
  beforeReading?: () => Promise<void>;
  /** Every snapshot taken (interval, period end, final, alerter checks). */
  onSnapshot?: (snapshot: GroupSnapshot) => void;
  /** The last snapshots of every period, the final one included (offline analysis folds them). */
  onPeriodEnd?: (snapshots: Promise<GroupSnapshot[]> | readonly GroupSnapshot[]) => void;
}

export interface PipelineEvents {
  /** The source ended and the final snapshot was written (or could not be). */
  done: [];
  failed: [error: NetSpectraError];
}

export interface PipelineResult {
  /** Task sizes after the final snapshot (empty when the engine failed). */
  taskStats: TaskStats[];
  /** Errors of the final snapshot's writes. */
  finalWriteErrors: NetSpectraError[];
  /** Every write error since start, in order. */
  writeErrors: NetSpectraError[];
  /** The failure that ended the pipeline, if any. */
  failure: NetSpectraError | undefined;
  /** Whether the final snapshot was taken (not after an engine failure, nor when stopped in a replay). */
  finalSnapshot: boolean;
}

export interface PipelineCounters {
  /** Batches handed to the engine. */
  batches: number;
  /** Packets handed to the engine. */
  packets: number;
  snapshots: Record<TaskGroupName, number>;
}

const DEFAULT_TICK_MS = 250;

export class Pipeline extends EventEmitter<PipelineEvents> implements AsyncDisposable {
  readonly options: Readonly<PipelineOptions>;
  readonly source: PacketSource;
  #runId: string;
  #engine: Engine | undefined;
  #manager: Manager | undefined;
  #groups: TaskGroup[] = [];
  #writers: InstrumentedWriter[] = [];
  #storePath: string | undefined;
  #alerter: Alerter | undefined;
  #recorder: AlertRecorder | undefined;
  #startedWriters: SnapshotWriter[] = [];
  #tickTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #running: Promise<void> | undefined;
  #stopping: Promise<PipelineResult> | undefined;
  #started = false;
  #done = false;
  #failure: NetSpectraError | undefined;
  #engineFailed = false;
  #finalSnapshot = false;
  #finalWriteErrors: NetSpectraError[] = [];
  readonly #counters = { batches: 0, packets: 0 };
  readonly #snapshots: Record<TaskGroupName, number> = { exact: 0, sketch: 0 };

  constructor(options: PipelineOptions) {
    super();
    this.options = options;
    this.source = options.source;
    this.#runId = options.runId ?? randomUUID();
  }

  /** The run this pipeline's rows belong to (a resumed one's after `start()`). */
  get runId(): string {
    return this.#runId;
  }

  /** The task groups with their (measured) writers, once started. */
  get groups(): readonly TaskGroup[] {
    return this.#groups;
  }

  /** Every distinct writer, measured, once started. */
  get writers(): readonly InstrumentedWriter[] {
    return this.#writers;
  }

  get alerter(): Alerter | undefined {
    return this.#alerter;
  }

  get engine(): Engine | undefined {
    return this.#engine;
  }

  /** The embedded store's file, when there is one. */
  get storePath(): string | undefined {
    return this.#storePath;
  }

  /** The embedded store's writer (its thread answers queries too), when there is one. */
  get embeddedStore(): ThreadedWriter | undefined {
    const writer = this.#writers.find((w) => w.inner instanceof ThreadedWriter)?.inner;
    return writer instanceof ThreadedWriter ? writer : undefined;
  }

  get counters(): PipelineCounters {
    return { ...this.#counters, snapshots: { ...this.#snapshots } };
  }

  /** Whether the source ended and the final snapshot was written. */
  get isDone(): boolean {
    return this.#done;
  }

  get failure(): NetSpectraError | undefined {
    return this.#failure;
  }

  /** Wall clock minus the newest packet time counted, s (0 before the first packet). */
  get lagSeconds(): number {
    const latest = this.#manager?.latestPacketMs ?? Number.NaN;
    return Number.isFinite(latest) ? Math.max(0, (Date.now() - latest) / 1000) : 0;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    try {
      await this.#start();
    } catch (error) {
      await this.#teardown();
      throw error;
    }
  }

  /** Stop the source, let its last batches in, write the final snapshot, stop everything. Same result when called again. */
  stop(): Promise<PipelineResult> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Why the pipeline makes its process not ready (empty when fine). */
  healthReasons(stopping: boolean): string[] {
    const reasons: string[] = [];
    if (this.#failure !== undefined) reasons.push(`failed: ${this.#failure.message}`);
    reasons.push(...writerHealthReasons(this.#writers, stopping || this.#stopping !== undefined));
    return reasons;
  }

  /**
   * The pipeline's metric families (engine, source, tasks, snapshots, writers, alerts), under the
   * engine's names. `deliveries` replaces the alerter's own delivery counters (an engine whose
   * notifications are delivered by the cluster's leader).
   */
  async addMetrics(text: PrometheusText, deliveries?: readonly NotifierStats[]): Promise<void> {
    let taskStats: TaskStats[] = [];
    if (this.#engine !== undefined && this.#failure === undefined && this.#stopping === undefined && this.#started) {
      try {
        taskStats = await this.#engine.stats();
      } catch {
        // stopping or failed meanwhile: no task figures in this scrape
      }
    }
    // capture to count means something for live sources only: a capture file's packets are old
    if (this.source.timing !== 'packet') {
      text.single(
        'netspectra_engine_lag_seconds',
        'gauge',
        'Wall clock minus the newest packet timestamp counted (capture to count; includes the probe and NATS; 0 before the first packet). Grows while the engine falls behind.',
        this.lagSeconds,
      );
    }
    text
      .single('netspectra_engine_packets_accepted_total', 'counter', 'Packets handed to the engine (sources this engine owns).', this.#counters.packets)
      .single('netspectra_engine_batches_total', 'counter', 'Packet batches handed to the engine.', this.#counters.batches);
    this.source.addMetrics?.(text);
    addEngineMetrics(
      text,
      taskStats,
      this.#snapshots,
      this.#writers.map((w) => w.measurements),
    );
    const alerts = this.#alerter?.stats();
    if (alerts !== undefined) addAlertMetrics(text, alerts, this.#recorder?.stats(), deliveries);
  }

  async #start(): Promise<void> {
    const o = this.options;
    const source = this.source;
    const config = o.config;
    let resumed: ResumePoint | undefined;
    if (isResumableSource(source)) {
      resumed = await source.resume({ runId: this.#runId, periodMs: config.aggregator.periodMs });
      this.#runId = resumed.runId;
    }
    const tasks = engineTasksOf(config);
    const engine = new Engine({ tasks, workers: o.workers ?? config.aggregator.numWorkers });
    this.#engine = engine;
    const set = buildWriterSet({
      config,
      tasks,
      runId: this.#runId,
      store: o.store,
      inputs: source.inputs,
      tool: o.tool,
      clickhouse: { engineId: o.engineId },
      ...(o.fileSubfolder === undefined ? {} : { fileSubfolder: o.fileSubfolder }),
      onWarning: (line) => this.#log(line),
    });
    this.#storePath = set.storePath;
    // every alert notice goes to the stores the snapshots go to (docs/alerting.md, "Storage")
    const recorder = new AlertRecorder({ sinks: set.alertSinks, runId: this.#runId, engineId: o.engineId, source: o.tool, onWarning: (line) => this.#log(line) });
    this.#recorder = recorder;
    const { writers, groups } = measureWriters(set, (line) => this.#log(line));
    this.#writers = writers;
    this.#groups = groups;
    if (o.alerting !== false) {
      // before the manager, which takes the groups' writers as they are
      this.#alerter = alerterFromConfig(
        config,
        [...tasks.exact, ...tasks.sketch].map((t) => t.name),
        {
          ...(o.alerting ?? {}),
          onWarning: (line) => this.#log(line),
          ...(recorder.sinkCount === 0 ? {} : { onNotices: (notices) => recorder.record(notices) }),
        },
      );
      // evaluated like a writer at every check_interval, at every period end and on the final snapshot
      if (this.#alerter !== undefined) scheduleAlerter(groups, this.#alerter, config);
    }
    this.#manager = new Manager({
      engine,
      groups,
      periodMs: config.aggregator.periodMs,
      clock: source.timing === 'packet' ? 'packet' : 'wall',
      ...(o.alignPeriods === true ? { alignPeriods: true } : {}),
      onSnapshot: (snapshot) => {
        this.#snapshots[snapshot.group]++;
        o.onSnapshot?.(snapshot);
      },
      ...(o.onPeriodEnd === undefined ? {} : { onPeriodEnd: o.onPeriodEnd }),
      ...(resumed === undefined || !isResumableSource(source)
        ? {}
        : {
            firstPeriodStartMs: resumed.periodStartMs,
            // a period end is stamped when it is taken: its rows are newer than any row an
            // earlier process wrote for the period, even when it was held back by a replay
            lateTimestampAfterMs: 0,
            periodEndBarrier: (next, written) => source.periodEndBarrier(next, written),
          }),
    });
    // writers (the store loads DuckDB on its own thread) and engine workers start side by side
    this.#startedWriters = await startAll(this.#alerter === undefined ? this.#writers : [...this.#writers, this.#alerter], [engine.start()]);
    if (resumed?.continuesRun === true) {
      // the replay writes the period again, into the same run: writers whose rows carry growth
      // first remove what the previous process wrote of it (and after it), or it would count twice
      const from = { runId: this.#runId, periodId: resumed.periodId };
      for (const writer of this.#writers) await writer.forgetFrom(from);
    }
    await o.beforeReading?.();
    await source.start({ pool: engine.pool, tick: () => this.#tick() });
    if (source.timing === 'wall') this.#tickTimer = setInterval(() => void this.#tick(), o.tickMs ?? DEFAULT_TICK_MS);
    this.#running = this.#run();
  }

  /** The batch loop: the source into the engine, then the final snapshot. */
  async #run(): Promise<void> {
    const manager = this.#manager!;
    const pool = this.#engine!.pool;
    try {
      for await (const batch of this.source.batches()) {
        if (this.#engineFailed) {
          pool.release(batch);
          break;
        }
        this.#counters.batches++;
        this.#counters.packets += batch.count;
        try {
          await manager.ingest(batch);
        } catch (error) {
          this.#failEngine(error);
          break;
        }
      }
    } catch (error) {
      // the source failed (a lost capture): what was counted still gets its final snapshot
      this.#fail(error);
    }
    clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    await this.#ticking;
    const source = this.source;
    const partialReplay = isResumableSource(source) && !source.caughtUp;
    // Stopped while replaying, a final snapshot would hold part of the period only, newer than the
    // earlier process's fuller rows: leave them; the next start replays the period again.
    if (partialReplay) this.#log('stopped while replaying: no final snapshot (the next start replays the period from the checkpoint)');
    if (!this.#engineFailed && !partialReplay) {
      const before = manager.writeErrors.length;
      try {
        const finals = manager.finish();
        this.options.onPeriodEnd?.(finals);
        await finals;
        this.#finalSnapshot = true;
      } catch (error) {
        this.#failEngine(error);
      }
      this.#finalWriteErrors = manager.writeErrors.slice(before);
      for (const error of this.#finalWriteErrors) this.#log(`final snapshot not written: ${error.code}: ${error.message}`);
    }
    this.#done = true;
    this.emit('done');
  }

  /** Take what is due (snapshots, a period reset); never two ticks at once, none after a failure. */
  #tick(): Promise<void> {
    if (this.#ticking !== undefined || this.#manager === undefined || this.#engineFailed || this.#done) return this.#ticking ?? Promise.resolve();
    this.#ticking = this.#manager
      .tick()
      .catch((error: unknown) => this.#failEngine(error))
      .finally(() => {
        this.#ticking = undefined;
      });
    return this.#ticking;
  }

  #failEngine(error: unknown): void {
    this.#engineFailed = true;
    this.#fail(error);
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = isNetSpectraError(error) ? error : new NetSpectraError('NS_ERR_WORKER_FAILED', `the engine failed: ${errorMessage(error)}`, { cause: error });
    this.#log(`${this.#failure.code}: ${this.#failure.message}`);
    this.emit('failed', this.#failure);
  }

  async #stop(): Promise<PipelineResult> {
    await this.source.stop().catch((error: unknown) => this.#log(`stopping ${this.source.description}: ${errorMessage(error)}`));
    await this.#running;
    let taskStats: TaskStats[] = [];
    if (this.#engine !== undefined && !this.#engineFailed && this.#running !== undefined) {
      try {
        taskStats = await this.#engine.stats();
      } catch {
        // failed meanwhile: reported by the failure
      }
    }
    await this.#teardown();
    return {
      taskStats,
      finalWriteErrors: this.#finalWriteErrors,
      writeErrors: [...(this.#manager?.writeErrors ?? [])],
      failure: this.#failure,
      finalSnapshot: this.#finalSnapshot,
    };
  }

  /** Release everything that was started, in reverse order; never throws. */
  async #teardown(): Promise<void> {
    clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    await this.source.stop().catch(() => undefined);
    await this.#engine?.stop().catch(() => undefined);
    // the final snapshot's alert notices reach the store's writer thread before it is stopped
    await this.#recorder?.stop();
    await stopAll(this.#startedWriters).catch((error: unknown) => this.#log(`stopping the writers: ${errorMessage(error)}`));
    for (const writer of this.#startedWriters) {
      const inner = (writer as Partial<InstrumentedWriter>).inner ?? writer;
      if (!(inner instanceof SpoolingWriter) || inner.stats.queued === 0) continue;
      this.#log(
        `${inner.stats.queued} snapshot(s) for ${inner.description} are waiting in the spool: the server did not answer; the next analyze or engine run with the same writer sends them`,
      );
    }
    this.#startedWriters = [];
  }

  #log(line: string): void {
    this.options.log?.(line);
  }
}
