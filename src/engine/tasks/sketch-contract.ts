/**
 * The contract of the probabilistic sketch tasks (`aggregator.sketch.tasks[]`): the interface the
 * manager and the writers see, the parameters of one task and the order of every reported list.
 * Its own module, apart from the factory in sketch-task.ts, so the sketches implement it without
 * importing the factory that imports them.
 *
 * Concurrency: a task is owned by exactly one worker thread, and `ingest`, `reset` and `snapshot`
 * are synchronous, so an insert can never interleave with a reset (a race of the original). Snapshots
 * are plain data so they can be posted to other threads with structured clone.
 */
import type { PacketBatch } from '../../model/packet.js';
import type { SketchEntry, SketchSnapshot } from '../../model/snapshot.js';
import type { KeyField } from '../../model/flow-key.js';

// The snapshot shapes are the model's: writers and reports read them without knowing the engine.
export type { HeavyHitterSnapshot, SketchEntry, SketchSnapshot, SuperSpreaderSnapshot } from '../../model/snapshot.js';

export interface SketchTask {
  readonly name: string;
  /** Account every one of the `batch.count` packets of `batch`. */
  ingest(batch: PacketBatch): void;
  /** Forget everything: the next period starts from the state of a new task. */
  reset(): void;
  /** Bytes of state allocated by the sketch (its typed arrays). */
  memoryBytes(): number;
  /** The flows at or over the thresholds; plain structured-cloneable data. */
  snapshot(): SketchSnapshot;
}

/** The parameters of one `aggregator.sketch.tasks[]` entry, already validated and defaulted by the config. */
export interface SketchTaskParams {
  name: string;
  /** 0 = heavy hitters (called "Count-Min" in the original), 1 = SuperSpread. */
  sktType: 0 | 1;
  /** The key a result is reported for (SrcIP for `cm_src_left` and `ss_src_dst`). */
  flowFields: KeyField[];
  /** SuperSpread: what is counted distinctly per flow (DstIP for `ss_src_dst`). Unused by heavy hitters. */
  elementFields: KeyField[];
  /** Buckets per row. */
  width: number;
  /** Rows, each with its own hash function. */
  depth: number;
  /** Heavy hitters: bytes a flow needs to be reported in `bySize`. */
  sizeThreshold: number;
  /** Heavy hitters: packets a flow needs to be reported in `byCount`; SuperSpread: distinct elements. */
  countThreshold: number;
  /** SuperSpread: registers of each bucket's sampler. */
  m: number;
  /** SuperSpread: bits per register (registers saturate at 2^size - 1). */
  size: number;
  /** SuperSpread: probability that an element's geometric value exceeds r is base^r (0.5: leading zeros). */
  base: number;
  /** SuperSpread: HeavyKeeper decay base; a foreign key decrements a counter c with probability b^-c. */
  b: number;
  /** Seed of every hash function and random choice: equal seeds give equal results. */
  seed: number;
}

/** Sort order of every list: largest value first, ties by flow text so output is deterministic. */
export function compareEntries(a: SketchEntry, b: SketchEntry): number {
  if (a.value !== b.value) return b.value - a.value;
  return a.flowText < b.flowText ? -1 : a.flowText > b.flowText ? 1 : 0;
}
