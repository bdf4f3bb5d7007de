/**
 * The one table of limits on task parameters (`aggregator.exact.tasks[]`, `aggregator.sketch.tasks[]`).
 * The config loader refuses a value outside it (NS_ERR_CONFIG_INVALID_VALUE, naming the range), and
 * the engine checks the same table again as an internal guard, so every configuration that loads
 * also builds: the two can no longer disagree (the loader once accepted `size: 16`, which the engine
 * then refused at start).
 *
 * Every value must also be a finite number. Keys are the config's field names; `key` is what
 * messages call the parameter (the YAML key, typos of the original included).
 */

export interface NumberLimit {
  /** The YAML key, or the product of keys a cross-field limit bounds. */
  readonly key: string;
  readonly min: number;
  /** Undefined: no upper bound besides being finite. */
  readonly max?: number;
  readonly integer: boolean;
  /** The bound itself is not allowed (`base` in (0, 1), `b` > 1). */
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
}

const UINT32_MAX = 0xffff_ffff;

const limit = (key: string, min: number, max: number | undefined, integer: boolean, exclusive: { min?: boolean; max?: boolean } = {}): NumberLimit =>
  Object.freeze({
    key,
    min,
    ...(max === undefined ? {} : { max }),
    integer,
    ...(exclusive.min === true ? { minExclusive: true } : {}),
    ...(exclusive.max === true ? { maxExclusive: true } : {}),
  });

export const TASK_LIMITS = Object.freeze({
  exact: Object.freeze({
    /**
     * Read so the original's configs load, where it set the locked partitions of the flow table;
     * the engine does not use it (a task's table belongs to one worker, or is split by key hash).
     */
    numShards: limit('num_shards', 1, 65536, true),
  }),
  sketch: Object.freeze({
    /**
     * Buckets per row. 2^21 keeps `hash × width` exact in a double (the column of a 32-bit hash)
     * and a row's table well within what a typed array can hold.
     */
    width: limit('width', 1, 2 ** 21, true),
    /**
     * Rows. Each costs one bucket update per packet, and past a few rows accuracy no longer improves:
     * keys with equal 32-bit hashes share every row's bucket whatever the depth.
     */
    depth: limit('depth', 1, 16, true),
    /** Heavy hitters: bytes; exact as long as the engine's double counters are (2^53). */
    sizeThreshold: limit('size_thereshold', 0, Number.MAX_SAFE_INTEGER, true),
    /** Heavy hitters: packets; SuperSpread: distinct elements. Exact up to 2^53, as above. */
    countThreshold: limit('count_thereshold', 0, Number.MAX_SAFE_INTEGER, true),
    /**
     * SuperSpread: registers per bucket. At 2^16 one row's relative error is already 0.3 %
     * (0.83/√m), and a register's word within its bucket fits the engine's 16-bit lookup table.
     */
    m: limit('m', 1, 65536, true),
    /**
     * SuperSpread: bits per register. 8 bits count 255 geometric levels, beyond any real spread
     * (base 0.5 reaches level 255 with probability 2^-255); wider registers only waste memory.
     */
    size: limit('size', 1, 8, true),
    /** SuperSpread: P(level > r) = base^r, a probability strictly between 0 and 1. */
    base: limit('base', 0, 1, false, { min: true, max: true }),
    /** SuperSpread: a foreign key decays a counter c with probability b^-c, so b must exceed 1. */
    b: limit('b', 1, undefined, false, { min: true }),
    /** Hash seed: the 32-bit seed of murmur3. */
    seed: limit('seed', 0, UINT32_MAX, true),
    /**
     * Cross-field: buckets of the whole table. A heavy-hitter bucket takes at most 64 bytes (a
     * 5-tuple key and three counters), a SuperSpread bucket at most 56 besides its registers, so
     * these parts of a sketch stay within 1 GiB; the per-field maxima together (2^25 buckets) would
     * not fit many machines.
     */
    buckets: limit('width × depth', 1, 2 ** 24, true),
    /**
     * Cross-field, SuperSpread: registers of the whole table. A register takes at most one byte
     * (sizes 7 and 8 pack four into a 32-bit word), so at most 1 GiB; the per-field maxima together
     * (2^41 registers) exceed what a typed array can hold and the sketch could not be built.
     */
    registers: limit('width × depth × m', 1, 2 ** 30, true),
  }),
});

/** Whether `value` is a finite number inside `limit`. */
export function withinLimit(limit: NumberLimit, value: number): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (limit.integer && !Number.isInteger(value)) return false;
  if (limit.minExclusive === true ? value <= limit.min : value < limit.min) return false;
  if (limit.max !== undefined && (limit.maxExclusive === true ? value >= limit.max : value > limit.max)) return false;
  return true;
}

/** The allowed values in words, for messages: `an integer from 1 to 8`, `a number greater than 0 and less than 1`. */
export function describeLimit(limit: NumberLimit): string {
  if (limit.integer && limit.minExclusive !== true && limit.maxExclusive !== true) {
    return limit.max === undefined ? `an integer of at least ${limit.min}` : `an integer from ${limit.min} to ${limit.max}`;
  }
  const kind = limit.integer ? 'an integer' : 'a number';
  const low = limit.minExclusive === true ? `greater than ${limit.min}` : `at least ${limit.min}`;
  if (limit.max === undefined) return `${kind} ${low}`;
  const high = limit.maxExclusive === true ? `less than ${limit.max}` : `at most ${limit.max}`;
  return `${kind} ${low} and ${high}`;
}
