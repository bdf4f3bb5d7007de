/**
 * Snapshots: read-only copies of task state handed from the engine to writers and reports. Plain,
 * structured-cloneable data (typed arrays for flows), so they cross worker-thread boundaries.
 */
import type { KeyFieldName } from './flow.js';

/** Absolute time: whole seconds since the Unix epoch (UTC) and nanoseconds within the second. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** Every flow of one exact task, column-wise. Keys are `keyWords` 32-bit words each (see flow-key.ts). */
export interface FlowColumns {
  count: number;
  keyWords: number;
  keys: Uint32Array;
  packets: Float64Array;
  bytes: Float64Array;
  firstSeconds: Float64Array;
  firstNanos: Uint32Array;
  lastSeconds: Float64Array;
  lastNanos: Uint32Array;
  /**
   * Per flow, the snapshot epoch in which it last changed. A writer that already stored the
   * snapshot of epoch `e` of this period needs only the flows with `changedEpoch > e`: the newest
   * row per flow is then still the flow's cumulative state.
   */
  changedEpoch: Uint32Array;
  /** The epoch this snapshot closes (flows changed after it get a higher epoch). */
  epoch: number;
  /**
   * Per flow, a number that stays the same for the flow at every snapshot of the period by this
   * engine (its table entry and partition): a hint for writers that follow flows from snapshot to
   * snapshot (store/segment-counters.ts), which still compare the key. Not unique across engines or
   * periods; absent where snapshots were not taken from an engine's tables (e.g. read from a spool).
   */
  ids?: Uint32Array;
  /**
   * -1 for a complete snapshot; otherwise only the flows with `changedEpoch > sinceEpoch` are
   * here (a delta, for writers that store changes only; see SnapshotWriter.acceptsDeltas).
   */
  sinceEpoch: number;
}

export interface ExactTaskSnapshot {
  kind: 'exact';
  name: string;
  keyFields: KeyFieldName[];
  memoryBytes: number;
  flows: FlowColumns;
}

/** A flow key as people and JSON see it: only the task's own fields are present. */
export interface KeyObject {
  SrcIP?: string;
  DstIP?: string;
  SrcPort?: number;
  DstPort?: number;
  Protocol?: number;
}

export interface SketchEntry {
  flow: KeyObject;
  /** The key as one line (`Flow` column): field values joined by `,`. */
  flowText: string;
  value: number;
}

export interface HeavyHitterSnapshot {
  kind: 'heavy_hitter';
  name: string;
  flowFields: KeyFieldName[];
  memoryBytes: number;
  /** Flows whose packet-count estimate reaches count_thereshold, largest first. */
  byCount: SketchEntry[];
  /** Flows whose byte estimate reaches size_thereshold, largest first. */
  bySize: SketchEntry[];
}

export interface SuperSpreaderSnapshot {
  kind: 'super_spreader';
  name: string;
  flowFields: KeyFieldName[];
  elementFields: KeyFieldName[];
  memoryBytes: number;
  /** Flows whose distinct-element estimate reaches count_thereshold, largest first. */
  spreaders: SketchEntry[];
}

export type SketchSnapshot = HeavyHitterSnapshot | SuperSpreaderSnapshot;
export type TaskSnapshot = ExactTaskSnapshot | SketchSnapshot;

export type TaskGroupName = 'exact' | 'sketch';

/** One snapshot of one task group, as a writer receives it. */
export interface GroupSnapshot {
  group: TaskGroupName;
  /** Snapshot time: packet time in offline analysis, wall-clock time live. */
  time: Timestamp;
  /** Identifies the measurement period (its start time in whole seconds since the epoch). */
  periodId: number;
  /** Why the snapshot was taken. */
  reason: 'interval' | 'period-end' | 'final';
  /**
   * The run that took the snapshot, when it is not the writer's own: a spooled snapshot that a
   * later process sends (see store/spooling-writer.ts). Undefined: the writer's run.
   */
  runId?: string;
  tasks: TaskSnapshot[];
}

/**
 * Empty columns for `count` flows, all in one SharedArrayBuffer. Snapshots cross threads (engine
 * worker → main → store thread) by sharing, never by transfer: transferring detaches an
 * ArrayBuffer, and the first detach in an isolate invalidates V8's "array buffers are never
 * detached" assumption, which throws away every optimised function there that touches typed
 * arrays (the whole packet path) and makes its recompiled code check for detachment on every
 * access. That deopt-and-recompile cycle cost more than the store's writing itself.
 */
export function allocateFlowColumns(count: number, keyWords: number, epoch: number, sinceEpoch: number, withIds = false): FlowColumns {
  // doubles first, so every view is aligned
  const doubles = 4 * count;
  const words = count * keyWords + (withIds ? 4 : 3) * count;
  const buffer = new SharedArrayBuffer(doubles * 8 + words * 4);
  let at = 0;
  const f64 = (n: number): Float64Array => {
    const view = new Float64Array(buffer, at, n);
    at += n * 8;
    return view;
  };
  const u32 = (n: number): Uint32Array => {
    const view = new Uint32Array(buffer, at, n);
    at += n * 4;
    return view;
  };
  const columns: FlowColumns = {
    count,
    keyWords,
    packets: f64(count),
    bytes: f64(count),
    firstSeconds: f64(count),
    lastSeconds: f64(count),
    keys: u32(count * keyWords),
    firstNanos: u32(count),
    lastNanos: u32(count),
    changedEpoch: u32(count),
    epoch,
    sinceEpoch,
  };
  if (withIds) columns.ids = u32(count);
  return columns;
}
