/**
 * MurmurHash3 x86_32 (Austin Appleby, public domain), written here because it is on the hot path:
 * every packet is hashed once per task, over keys already held as 32-bit words, so the word variant
 * below avoids any byte shuffling. `murmur3Words(w, …)` equals `murmur3Bytes` of the little-endian
 * serialisation of the same words, which the known-vector tests check.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/**
 * One block of MurmurHash3 x86_32: the state `h` after absorbing the 32-bit word `k`. Exported with
 * `murmur3Finalize` so hot loops can hash a key held in locals inline (no array, no call per key)
 * and still get exactly `murmur3Words` of the same words.
 */
export function murmur3Mix(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The MurmurHash3 x86_32 finalisation of state `h` after `length` bytes, as unsigned 32-bit. */
export function murmur3Finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of `count` words starting at `offset`, as unsigned 32-bit. */
export function murmur3Words(words: ArrayLike<number>, offset: number, count: number, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < count; i++) h = murmur3Mix(h, words[offset + i]! | 0);
  return murmur3Finalize(h, count * 4);
}

/** MurmurHash3 x86_32 of a byte string, as unsigned 32-bit (the reference definition). */
export function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const j = i * 4;
    h = murmur3Mix(h, bytes[j]! | (bytes[j + 1]! << 8) | (bytes[j + 2]! << 16) | (bytes[j + 3]! << 24));
  }
  const tailAt = blocks * 4;
  const tail = bytes.length & 3;
  if (tail > 0) {
    let k = bytes[tailAt]!;
    if (tail > 1) k ^= bytes[tailAt + 1]! << 8;
    if (tail > 2) k ^= bytes[tailAt + 2]! << 16;
    h ^= mixK(k);
  }
  return murmur3Finalize(h, bytes.length);
}

/**
 * murmur3's fmix32 finaliser of `hash ^ seed`, as a signed 32-bit integer (read it with `>>> 0`).
 * A bijection with full avalanche: from one murmur3 hash of a key, each seed gives a further hash
 * that behaves as independent of the others — how the sketches derive their per-row bucket choice
 * from a single hash of the key (the heavy-hitter sketch's header gives the argument).
 */
export function remix32(hash: number, seed: number): number {
  let x = hash ^ seed;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return x ^ (x >>> 16);
}

/**
 * Multiply-shift range reduction `floor(hash × n / 2^32)` of an unsigned 32-bit hash: uniform for
 * any n, no modulo bias. Returns the right shift that computes it (`hash >>> shift`) when n is a
 * power of two ≥ 2, else 32 — then compute it as `(hash × (n / 2^32)) | 0`, exact in a double for
 * n ≤ 2^21. The shift matters on hot paths: the double multiply and its conversions sit on the
 * critical path to the bucket's cache line, and cost about a quarter of a heavy-hitter update.
 */
export function rangeShift(n: number): number {
  return n >= 2 && n <= 2 ** 30 && (n & (n - 1)) === 0 ? 32 - Math.log2(n) : 32;
}

/** A well-mixed 32-bit seed from any integer (so seeds 0, 1, 2 … give unrelated hash functions). */
export function deriveSeed(base: number, index: number): number {
  // A Uint32Array, not a plain array: every other caller passes one, and a single element kind keeps
  // murmur3Words monomorphic on the hot paths that call it (the exact flow table's probe).
  return murmur3Words(Uint32Array.of(base >>> 0, index >>> 0), 0, 2, 0x9747b28c);
}
