/**
 * The probabilistic sketch tasks of the engine (`aggregator.sketch.tasks[]`): one interface for the
 * manager and the writers, whatever the algorithm behind it.
 *
 * Concurrency: a task is owned by exactly one worker thread, and `ingest`, `reset` and `snapshot`
 * are synchronous, so an insert can never interleave with a reset (a race of the original). Snapshots
 * are plain data so they can be posted to other threads with structured clone.
 */
import type { PacketBatch } from '../../model/packet.js';
import type { SketchEntry, SketchSnapshot } from '../../model/snapshot.js';
import type { KeyField } from '../../model/flow-key.js';
import { HeavyHitterSketch } from './heavy-hitter-sketch.js';
import { SuperSpreadSketch } from './super-spread-sketch.js';

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

/**
 * Defaults for the two default tasks (see the config documentation for the reasoning):
 * `cm_src_left` (heavy hitters by SrcIP) and `ss_src_dst` (SrcIP spreading to DstIPs).
 */
export const HEAVY_HITTER_DEFAULTS = {
  width: 8192,
  depth: 2,
  /** 1 MiB in one period. */
  sizeThreshold: 1_048_576,
  /** 1024 packets in one period. */
  countThreshold: 1024,
} as const;

export const SUPER_SPREAD_DEFAULTS = {
  width: 4096,
  depth: 2,
  /** 256 distinct destinations in one period: a /24 sweep. */
  countThreshold: 256,
  m: 128,
  size: 5,
  base: 0.5,
  b: 1.08,
} as const;

export function createSketchTask(config: SketchTaskParams): SketchTask {
  validate(config);
  return config.sktType === 0 ? new HeavyHitterSketch(config) : new SuperSpreadSketch(config);
}

function validate(config: SketchTaskParams): void {
  const fail = (what: string): never => {
    throw new RangeError(`sketch task '${config.name}': ${what}`);
  };
  const positiveInt = (value: number, key: string, max: number): void => {
    if (!Number.isInteger(value) || value < 1 || value > max) fail(`${key} must be an integer in 1..${max}, got ${value}`);
  };
  if (config.sktType !== 0 && config.sktType !== 1) fail(`skt_type must be 0 or 1, got ${String(config.sktType)}`);
  if (config.flowFields.length === 0) fail('flow_fields must name at least one field');
  // 2^21 keeps `hash * width` exact in a double and the tables within reach of a typed array.
  positiveInt(config.width, 'width', 1 << 21);
  positiveInt(config.depth, 'depth', 16);
  if (!(config.countThreshold >= 0)) fail(`count_thereshold must be >= 0, got ${config.countThreshold}`);
  if (config.sktType === 0) {
    if (!(config.sizeThreshold >= 0)) fail(`size_thereshold must be >= 0, got ${config.sizeThreshold}`);
    return;
  }
  positiveInt(config.m, 'm', 1 << 16);
  positiveInt(config.size, 'size', 8);
  if (!(config.base > 0 && config.base < 1)) fail(`base must be in (0, 1), got ${config.base}`);
  if (!(config.b > 1)) fail(`b must be > 1, got ${config.b}`);
}

/** Sort order of every list: largest value first, ties by flow text so output is deterministic. */
export function compareEntries(a: SketchEntry, b: SketchEntry): number {
  if (a.value !== b.value) return b.value - a.value;
  return a.flowText < b.flowText ? -1 : a.flowText > b.flowText ? 1 : 0;
}
