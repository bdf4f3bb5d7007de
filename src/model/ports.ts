/**
 * The ports between the core and its adapters. Packet sources (capture files, live capture, NATS,
 * JetStream) produce PacketBatches; the engine turns them into GroupSnapshots; writers (embedded
 * store, ClickHouse, files) consume those; the query plane reads stores through FlowQueryStore.
 */
import type { AlertRecord } from './alert.js';
import type { NetSpectraError } from './errors.js';
import type { BatchPool, PacketBatch } from './packet.js';
import type { PrometheusText } from './prometheus-text.js';
import type { GroupSnapshot, TaskGroupName } from './snapshot.js';
import type {
  ActiveAlertQuery,
  AlertQuery,
  FlowListQuery,
  FlowRangeQuery,
  FlowTotals,
  SeriesPoint,
  SeriesQuery,
  SketchList,
  SketchListQuery,
  SketchSnapshotInfo,
  StoreHealth,
  StoredTask,
  TaskTotals,
  TimeRangeNs,
} from './query.js';

export interface SnapshotWriter {
  /** For messages, e.g. `duckdb:netspectra.duckdb`. */
  readonly description: string;
  /**
   * True when the writer stores only what changed since the previous snapshot it was given: the
   * manager may then hand it delta snapshots (FlowColumns.sinceEpoch), which saves copying every
   * flow at every interval.
   */
  readonly acceptsDeltas?: boolean;
  /** Rows written since start, for writers that count them (metrics). */
  readonly rowsWritten?: number;
  start(): Promise<void>;
  write(snapshot: GroupSnapshot): Promise<void>;
  stop(): Promise<void>;
  /**
   * For writers whose rows carry growth since the previous row (ClickHouse): remove what this
   * engine wrote for `runId` from period `periodId` on, before a JetStream engine replays that
   * period into the same run (docs/pipeline.md). Ordered with the writes (after every write
   * already made, before any that follows).
   */
  forgetFrom?(from: RunPeriod): Promise<void>;
}

/** A run and the period (PeriodId, s) from which on its rows are meant. */
export interface RunPeriod {
  runId: string;
  periodId: number;
}

/** A writer and how often the engine's manager hands it a snapshot of its group. */
export interface ScheduledWriter {
  writer: SnapshotWriter;
  /** Milliseconds of (packet) time between snapshots. */
  intervalMs: number;
}

/**
 * One task group as the manager drives it: its tasks and its scheduled writers. Here rather than in
 * the engine because the composition roots and the alerter (which adds itself to the groups whose
 * tasks its rules watch) build and extend these lists without depending on the engine.
 */
export interface TaskGroup {
  name: TaskGroupName;
  /** Names of the engine tasks in this group. */
  taskNames: readonly string[];
  writers: readonly ScheduledWriter[];
}

/**
 * The read side of a flow store, for the query plane (src/query). Requests arrive validated; the
 * meaning of ranges and totals over cumulative snapshots is defined in model/query.ts.
 */
export interface FlowQueryStore {
  /** For messages, e.g. `duckdb:netspectra.duckdb` (never a password). */
  readonly description: string;
  /**
   * A number that changes whenever what the store holds may have changed (a snapshot or alerts
   * written): caches keep answers while it stays the same. Absent when the store cannot tell
   * (ClickHouse: other processes write it); caches then rely on their TTL alone.
   */
  readonly version?: () => number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the store answers; never throws. */
  health(): Promise<StoreHealth>;
  tasks(): Promise<StoredTask[]>;
  /** Totals per exact task over a range. */
  flowTotals(query: FlowRangeQuery): Promise<TaskTotals[]>;
  /** Flows (or groups of them) of one task over a range, ordered and paged. */
  flows(query: FlowListQuery): Promise<FlowTotals[]>;
  /** Bytes, packets and flows per bucket, per task. */
  series(query: SeriesQuery): Promise<SeriesPoint[]>;
  /** One sketch list of the newest snapshot in the range, largest values first. */
  sketchList(query: SketchListQuery): Promise<SketchList>;
  /** A sketch task's snapshots in the range, newest first. */
  sketchSnapshots(taskName: string, range: TimeRangeNs, limit: number): Promise<SketchSnapshotInfo[]>;
}

/**
 * The read side of an alert store (the `alerts` table of the embedded store or ClickHouse), for the
 * query plane. Separate from FlowQueryStore: a store may hold flows without alerts (a file written
 * before alerts were stored answers with none). Requests arrive validated.
 */
export interface AlertQueryStore {
  /** Notices in the range, newest first (then by rule and flow), paged. */
  alerts(query: AlertQuery): Promise<AlertRecord[]>;
  /** The newest notice of every alert active at `endNs` (see ActiveAlertQuery), newest first. */
  activeAlerts(query: ActiveAlertQuery): Promise<AlertRecord[]>;
}

/**
 * Who moves the clock of what a source delivers (engine/Manager):
 * - `packet`: the packets' own timestamps (capture files read as fast as possible: snapshots fall
 *   on packet time, whatever the reading speed);
 * - `wall`: the wall clock, on the consumer's timer (live capture, core NATS);
 * - `source`: the wall clock, but only when the source calls `SourceContext.tick` — at points where
 *   its position is exact and recorded with a period reset (JetStream replay).
 */
export type SourceTiming = 'packet' | 'wall' | 'source';

/** What a source is given when it starts. */
export interface SourceContext {
  /** Where batches come from; whoever receives a batch releases it (the engine does). */
  pool: BatchPool;
  /** For `timing: 'source'`: take the snapshots and period reset due by now. Never called twice at once. */
  tick(): Promise<void>;
}

export interface PacketSourceStats {
  /** Batches delivered by `batches()`. */
  batches: number;
  /** Packets in them. */
  packets: number;
  /**
   * Damage that ended one input without ending the source (a truncated capture file, an
   * unreadable one among several): the packets before it were delivered. In input order.
   */
  inputErrors: readonly NetSpectraError[];
}

/**
 * Packets in batches from somewhere (docs/internals.md). Lifecycle: an inert constructor,
 * `start(context)`, then `batches()` once; it ends at the end of the input or after `stop()`.
 * `stop()` is graceful: what the source already holds (tcpdump's pipe, messages NATS sent before
 * the unsubscription) is still delivered; a replay of files stops after the current batch. A
 * failure that ends the source (tcpdump cannot capture) is thrown from `batches()` as a
 * NetSpectraError; damage of one input is recorded in `stats.inputErrors` instead.
 */
export interface PacketSource extends AsyncDisposable {
  /** For messages, e.g. `files:a.pcap,b.pcap`, `iface:eth0`, `nats:gons.packets.raw.*`. */
  readonly description: string;
  /** Names of the inputs, recorded with the run in the embedded store (file names, interface, subjects). */
  readonly inputs: readonly string[];
  readonly timing: SourceTiming;
  start(context: SourceContext): Promise<void>;
  batches(): AsyncIterable<PacketBatch>;
  /** Safe to call more than once, and before `start()`. */
  stop(): Promise<void>;
  readonly stats: PacketSourceStats;
  /** The source's own metric families. */
  addMetrics?(text: PrometheusText): void;
}

/** Where a resumed run continues: its id and the period (start) it was in. */
export interface ResumePoint {
  runId: string;
  /** PeriodId of the period to continue: its start, s since the epoch. */
  periodId: number;
  periodStartMs: number;
  /** True when an earlier process of this run may have stored rows from `periodId` on (they are replaced). */
  continuesRun: boolean;
}

/**
 * A source that records its position with every period reset and resumes from it after a restart
 * (JetStream durable mode, docs/pipeline.md). Its timing is `source`.
 */
export interface ResumableSource extends PacketSource {
  /** Before `start()`: the run and period to continue, from the source's checkpoint (or a first one for `fresh`). */
  resume(fresh: { runId: string; periodMs: number }): Promise<ResumePoint>;
  /**
   * Manager's period-end barrier: record the reset (with the source's position at it) once every
   * writer has the period-end snapshot; `written` resolves to the number of failed writes.
   */
  periodEndBarrier(next: { periodId: number; periodStartMs: number }, written: Promise<number>): Promise<void>;
  /** False while the backlog found at start is being replayed (a final snapshot would be partial). */
  readonly caughtUp: boolean;
}

export function isResumableSource(source: PacketSource): source is ResumableSource {
  return typeof (source as Partial<ResumableSource>).resume === 'function';
}
