/**
 * Timestamps as a signed 64-bit count of nanoseconds since the Unix epoch (the wire's
 * `timestamp_unix_nano`), converted to and from the PacketBatch's seconds + nanoseconds without
 * BigInt: a BigInt per packet costs an allocation, and a plain double cannot hold 1.7e18 ns exactly
 * (2^53 ns is only 104 days). Both directions split the value so that every intermediate stays an
 * exact integer below 2^53; test/wire checks them against BigInt arithmetic.
 *
 * Only non-negative counts are valid packet times (a capture before 1970 is a clock that was not
 * set), so the range is 0 .. 2^63 − 1 ns, i.e. up to 2262-04-11T23:47:16.854775807Z.
 */
const TWO_POW_16 = 65536;
const TWO_POW_32 = 4294967296;
const NANOS_PER_SECOND = 1_000_000_000;

/** Largest whole second whose start fits in an i64 count of nanoseconds. */
export const MAX_WIRE_SECONDS = 9_223_372_036;
/** Largest nanosecond part allowed in {@link MAX_WIRE_SECONDS} (2^63 − 1 = 9,223,372,036,854,775,807). */
const MAX_NANOS_IN_LAST_SECOND = 854_775_807;

/**
 * True when `seconds` + `nanos` is a whole, non-negative instant that an i64 count of nanoseconds
 * can carry. NaN and fractional seconds are not.
 */
export function isWireTimestamp(seconds: number, nanos: number): boolean {
  return (
    seconds >= 0 &&
    Math.floor(seconds) === seconds &&
    nanos >= 0 &&
    nanos < NANOS_PER_SECOND &&
    Math.floor(nanos) === nanos &&
    (seconds < MAX_WIRE_SECONDS || (seconds === MAX_WIRE_SECONDS && nanos <= MAX_NANOS_IN_LAST_SECOND))
  );
}

/**
 * Write `seconds * 1e9 + nanos` as a big-endian i64 at byte `at` of `view`. The caller has checked
 * {@link isWireTimestamp} and the room.
 */
export function writeUnixNanos(view: DataView, at: number, seconds: number, nanos: number): void {
  // seconds = a·2^16 + b, so ns = (a·1e9)·2^16 + (b·1e9 + nanos); a·1e9 < 2^48 and b·1e9 + nanos < 2^47.
  const a = Math.floor(seconds / TWO_POW_16);
  const b = seconds - a * TWO_POW_16;
  const y = a * NANOS_PER_SECOND;
  const yHigh = Math.floor(y / TWO_POW_16);
  const z = (y - yHigh * TWO_POW_16) * TWO_POW_16 + b * NANOS_PER_SECOND + nanos; // < 2^48
  const zHigh = Math.floor(z / TWO_POW_32);
  const high = yHigh + zHigh;
  const low = z - zHigh * TWO_POW_32;
  view.setUint32(at, high);
  view.setUint32(at + 4, low);
}

/**
 * Store the i64 `high·2^32 + low` (high 0 .. 2^31 − 1: the caller has rejected negative values)
 * as whole seconds and nanoseconds into slot `index` of the two columns.
 */
export function storeUnixNanos(high: number, low: number, seconds: Float64Array, nanos: Uint32Array, index: number): void {
  // 2^32 = 4·1e9 + 294,967,296 and 2^16·294,967,296 = 19,330·1e9 + 976,710,656; with
  // high = h1·2^16 + h0 the remainder below stays under 2^46.
  const h1 = Math.floor(high / TWO_POW_16);
  const h0 = high - h1 * TWO_POW_16;
  const rest = h1 * 976_710_656 + h0 * 294_967_296 + low;
  const restSeconds = Math.floor(rest / NANOS_PER_SECOND);
  seconds[index] = high * 4 + h1 * 19_330 + restSeconds;
  nanos[index] = rest - restSeconds * NANOS_PER_SECOND;
}
