/**
 * The sketch tasks' factory: validates one `aggregator.sketch.tasks[]` entry and builds the
 * algorithm its `skt_type` names. The interface they share is in sketch-contract.ts.
 */
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
