/**
 * Exact 64-bit integers from doubles, as two little-endian 32-bit words, without a BigInt per
 * value: the stores write millions of them per snapshot. Only multiplications and divisions by
 * powers of two on values below 2^53, so every step is exact (and about 3× faster than `%`).
 */

const TWO_16 = 65536;
const TWO_32 = 4294967296;

/** An unsigned integer below 2^53 as words `out[at]` (low) and `out[at + 1]` (high). */
export function uint64Words(value: number, out: Uint32Array, at: number): void {
  const high = Math.floor(value / TWO_32);
  out[at] = value - high * TWO_32;
  out[at + 1] = high;
}

/**
 * `seconds * 1e9 + nanos` as an exact int64 (nanoseconds since the epoch; 0 ≤ seconds < 2^33 and
 * 0 ≤ nanos < 1e9: int64 nanoseconds end in 2262). With seconds = sh·2^16 + sl and
 * sh·1e9 = ah·2^16 + al, the value is ah·2^32 + (al·2^16 + sl·1e9 + nanos), every term below 2^53.
 */
export function nanosWords(seconds: number, nanos: number, out: Uint32Array, at: number): void {
  const secondsHigh = Math.floor(seconds / TWO_16);
  const a = secondsHigh * 1e9; // < 2^47
  const aHigh = Math.floor(a / TWO_16);
  const rest = (a - aHigh * TWO_16) * TWO_16 + (seconds - secondsHigh * TWO_16) * 1e9 + nanos; // < 2^47 + 2^46
  const restHigh = Math.floor(rest / TWO_32);
  out[at] = rest - restHigh * TWO_32;
  out[at + 1] = aHigh + restHigh;
}
