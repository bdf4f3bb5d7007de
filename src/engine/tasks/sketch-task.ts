/**
 * The sketch tasks' factory: validates one `aggregator.sketch.tasks[]` entry and builds the
 * algorithm its `skt_type` names. The interface they share is in sketch-contract.ts.
 */
import { describeLimit, TASK_LIMITS, withinLimit, type NumberLimit } from '../../model/task-limits.js';
import { HeavyHitterSketch } from './heavy-hitter-sketch.js';
import type { SketchTask, SketchTaskParams } from './sketch-contract.js';
import { SuperSpreadSketch } from './super-spread-sketch.js';

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
  validateSketchTask(config);
  return config.sktType === 0 ? new HeavyHitterSketch(config) : new SuperSpreadSketch(config);
}

/**
 * The engine's own guard, run by `createSketchTask` before anything is allocated: the config loader
 * already refused anything outside TASK_LIMITS (the same table), so a RangeError here is a caller's
 * bug, not a user's mistake.
 */
export function validateSketchTask(config: SketchTaskParams): void {
  const fail = (what: string): never => {
    throw new RangeError(`sketch task '${config.name}': ${what}`);
  };
  const check = (limit: NumberLimit, value: number): void => {
    if (!withinLimit(limit, value)) fail(`${limit.key} must be ${describeLimit(limit)}, got ${value}`);
  };
  const limits = TASK_LIMITS.sketch;
  if (config.sktType !== 0 && config.sktType !== 1) fail(`skt_type must be 0 or 1, got ${String(config.sktType)}`);
  if (config.flowFields.length === 0) fail('flow_fields must name at least one field');
  check(limits.width, config.width);
  check(limits.depth, config.depth);
  check(limits.buckets, config.width * config.depth);
  check(limits.countThreshold, config.countThreshold);
  check(limits.seed, config.seed);
  if (config.sktType === 0) {
    check(limits.sizeThreshold, config.sizeThreshold);
    return;
  }
  if (config.elementFields.length === 0) fail('element_fields must name at least one field');
  check(limits.m, config.m);
  check(limits.size, config.size);
  check(limits.registers, config.width * config.depth * config.m);
  check(limits.base, config.base);
  check(limits.b, config.b);
}
