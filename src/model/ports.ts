/**
 * The ports between the core and its adapters. The engine produces GroupSnapshots; writers
 * (embedded store, ClickHouse, files) consume them; the query plane reads stores through FlowQueryStore.
 */
import type { AlertRecord } from './alert.js';
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
