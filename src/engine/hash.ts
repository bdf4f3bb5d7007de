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

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, length: number): number {
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
  for (let i = 0; i < count; i++) h = mixH(h, words[offset + i]! | 0);
  return finalize(h, count * 4);
}

/** MurmurHash3 x86_32 of a byte string, as unsigned 32-bit (the reference definition). */
export function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const j = i * 4;
    h = mixH(h, bytes[j]! | (bytes[j + 1]! << 8) | (bytes[j + 2]! << 16) | (bytes[j + 3]! << 24));
  }
  const tailAt = blocks * 4;
  const tail = bytes.length & 3;
  if (tail > 0) {
    let k = bytes[tailAt]!;
    if (tail > 1) k ^= bytes[tailAt + 1]! << 8;
    if (tail > 2) k ^= bytes[tailAt + 2]! << 16;
    h ^= mixK(k);
  }
  return finalize(h, bytes.length);
}

/** A well-mixed 32-bit seed from any integer (so seeds 0, 1, 2 … give unrelated hash functions). */
export function deriveSeed(base: number, index: number): number {
  return murmur3Words([base >>> 0, index >>> 0], 0, 2, 0x9747b28c);
}
