/**
 * Heavy hitters by packets and by bytes (`skt_type: 0`, "Count-Min" in the original's config):
 * MV-Sketch (Tang, Huang, Lee; INFOCOM 2019), a d × w table of majority-vote buckets.
 *
 * Each bucket keeps, per metric, the total weight V of every packet hashed to it, a candidate key K
 * and a vote counter C (Boyer–Moore majority vote: the candidate's packets vote +w, others −w, and a
 * vote falling below zero hands the bucket to the newcomer with the surplus). Invariants: V ± C is
 * even (both change by ±w together), and for any key x hashed to the bucket, with f(x) its true
 * weight there, f(x) ≤ (V + C)/2 if K = x and f(x) ≤ (V − C)/2 otherwise. The estimate is the
 * minimum of that bound over the rows, so it never underestimates, and any key holding more than
 * half of a bucket's weight is guaranteed to be its candidate; heavy hitters are the candidates whose
 * estimate reaches the threshold.
 *
 * Packets and bytes each have their own candidate and vote. The original kept one key per bucket
 * with two counters, which breaks the invariant for the second metric: when a flow of many small
 * packets (a SYN flood) wins the packet vote it also takes over the byte counter that a flow of few
 * large packets had earned, so neither bound holds and byte heavy hitters are lost or misattributed.
 *
 * Memory: per bucket two keys of `KeySpec.words` 32-bit words and four Float64 counters (doubles
 * stay exact to 2^53 bytes, so no period is long enough to wrap, unlike 32-bit counters): 72 bytes
 * per bucket for a SrcIP key, 1.1 MiB for 8192 × 2.
 */
import type { PacketBatch } from '../../model/packet.js';
import { KeySpec } from '../flow-key.js';
import { deriveSeed, murmur3Words } from '../hash.js';
import type { HeavyHitterSnapshot, SketchEntry, SketchTask, SketchTaskParams } from './sketch-task.js';
import { compareEntries } from './sketch-task.js';

const TWO_POW_32 = 4294967296;

/**
 * Bucket record: the packet candidate key, the byte candidate key (`keyWords` 32-bit words each),
 * then four doubles — V and C for packets, V and C for bytes — so one update touches one or two
 * cache lines instead of one per array. `2 * keyWords * 4` is a multiple of 8, so the doubles align.
 */
const COUNT_TOTAL = 0;
const COUNT_VOTE = 1;
const SIZE_TOTAL = 2;
const SIZE_VOTE = 3;
const COUNTERS = 4;

/**
 * Packets handled per pass: a pass first extracts and hashes the chunk's keys (a small loop that
 * compiles well), then updates the table, whose random accesses are what bounds the throughput.
 */
const CHUNK = 256;

export class HeavyHitterSketch implements SketchTask {
  readonly name: string;
  readonly #params: SketchTaskParams;
  readonly #spec: KeySpec;
  readonly #keyWords: number;
  readonly #width: number;
  readonly #depth: number;
  readonly #seeds: Uint32Array;
  /** Record size in 32-bit words and in doubles. */
  readonly #recordWords: number;
  readonly #recordDoubles: number;
  /** The table, viewed as key words and as counters. */
  readonly #table: ArrayBuffer;
  readonly #keys: Uint32Array;
  readonly #counters: Float64Array;
  /** Keys of the chunk's packets, and their bucket (record index) per row. */
  readonly #chunkKeys: Uint32Array;
  readonly #chunkBuckets: Int32Array;

  constructor(params: SketchTaskParams) {
    this.name = params.name;
    this.#params = params;
    this.#spec = new KeySpec(params.flowFields);
    this.#keyWords = this.#spec.words;
    this.#width = params.width;
    this.#depth = params.depth;
    this.#seeds = new Uint32Array(params.depth);
    for (let row = 0; row < params.depth; row++) this.#seeds[row] = deriveSeed(params.seed, row);
    this.#recordWords = 2 * this.#keyWords + 2 * COUNTERS;
    this.#recordDoubles = this.#recordWords / 2;
    this.#table = new ArrayBuffer(params.width * params.depth * this.#recordWords * 4);
    this.#keys = new Uint32Array(this.#table);
    this.#counters = new Float64Array(this.#table);
    this.#chunkKeys = new Uint32Array(CHUNK * this.#keyWords);
    this.#chunkBuckets = new Int32Array(CHUNK * params.depth);
  }

  /** The bytes a heavy-hitter sketch with these parameters allocates (table and per-chunk scratch). */
  static memoryBytesFor(params: Pick<SketchTaskParams, 'width' | 'depth' | 'flowFields'>): number {
    const keyWords = new KeySpec(params.flowFields).words;
    return params.width * params.depth * (2 * keyWords * 4 + COUNTERS * 8) + CHUNK * (keyWords + params.depth) * 4 + params.depth * 4;
  }

  ingest(batch: PacketBatch): void {
    for (let from = 0; from < batch.count; from += CHUNK) {
      const count = Math.min(CHUNK, batch.count - from);
      this.#hashChunk(batch, from, count);
      this.#updateChunk(batch, from, count);
    }
  }

  #hashChunk(batch: PacketBatch, from: number, count: number): void {
    const spec = this.#spec;
    const keys = this.#chunkKeys;
    const buckets = this.#chunkBuckets;
    const keyWords = this.#keyWords;
    const width = this.#width;
    const depth = this.#depth;
    const seeds = this.#seeds;
    for (let i = 0; i < count; i++) {
      spec.extract(batch, from + i, keys, i * keyWords);
      for (let row = 0; row < depth; row++) {
        const hash = murmur3Words(keys, i * keyWords, keyWords, seeds[row]!);
        // Multiply-shift range reduction: uniform for any width, no modulo bias.
        buckets[i * depth + row] = row * width + Math.floor((hash * width) / TWO_POW_32);
      }
    }
  }

  #updateChunk(batch: PacketBatch, from: number, count: number): void {
    const chunkKeys = this.#chunkKeys;
    const buckets = this.#chunkBuckets;
    const keyWords = this.#keyWords;
    const depth = this.#depth;
    const keys = this.#keys;
    const counters = this.#counters;
    const recordWords = this.#recordWords;
    const recordDoubles = this.#recordDoubles;
    const countersAt = keyWords; // in doubles: the counters follow the 2 * keyWords key words
    const wireLength = batch.wireLength;
    for (let i = 0; i < count; i++) {
      const keyAt = i * keyWords;
      const bytes = wireLength[from + i]!;
      for (let row = 0; row < depth; row++) {
        const bucket = buckets[i * depth + row]!;
        const countKeyAt = bucket * recordWords;
        const sizeKeyAt = countKeyAt + keyWords;
        const c = bucket * recordDoubles + countersAt;

        counters[c + COUNT_TOTAL]! += 1;
        if (sameKey(keys, countKeyAt, chunkKeys, keyAt, keyWords)) {
          counters[c + COUNT_VOTE]! += 1;
        } else {
          const vote = counters[c + COUNT_VOTE]! - 1;
          if (vote < 0) {
            for (let w = 0; w < keyWords; w++) keys[countKeyAt + w] = chunkKeys[keyAt + w]!;
            counters[c + COUNT_VOTE] = -vote;
          } else {
            counters[c + COUNT_VOTE] = vote;
          }
        }

        counters[c + SIZE_TOTAL]! += bytes;
        if (sameKey(keys, sizeKeyAt, chunkKeys, keyAt, keyWords)) {
          counters[c + SIZE_VOTE]! += bytes;
        } else {
          const vote = counters[c + SIZE_VOTE]! - bytes;
          if (vote < 0) {
            for (let w = 0; w < keyWords; w++) keys[sizeKeyAt + w] = chunkKeys[keyAt + w]!;
            counters[c + SIZE_VOTE] = -vote;
          } else {
            counters[c + SIZE_VOTE] = vote;
          }
        }
      }
    }
  }

  reset(): void {
    new Uint8Array(this.#table).fill(0);
  }

  memoryBytes(): number {
    return this.#table.byteLength + this.#chunkKeys.byteLength + this.#chunkBuckets.byteLength + this.#seeds.byteLength;
  }

  /** Estimated packets of `key` (an MV-Sketch upper bound; exact when the key owns its buckets). */
  estimateCount(key: Uint32Array): number {
    return this.#estimate(key, 0, 0, COUNT_TOTAL);
  }

  /** Estimated bytes of `key`. */
  estimateSize(key: Uint32Array): number {
    return this.#estimate(key, 0, this.#keyWords, SIZE_TOTAL);
  }

  snapshot(): HeavyHitterSnapshot {
    return {
      kind: 'heavy_hitter',
      name: this.name,
      flowFields: [...this.#spec.fields],
      memoryBytes: this.memoryBytes(),
      byCount: this.#heavyHitters(0, COUNT_TOTAL, this.#params.countThreshold),
      bySize: this.#heavyHitters(this.#keyWords, SIZE_TOTAL, this.#params.sizeThreshold),
    };
  }

  #bucketOf(words: Uint32Array, at: number, row: number): number {
    const hash = murmur3Words(words, at, this.#keyWords, this.#seeds[row]!);
    return row * this.#width + Math.floor((hash * this.#width) / TWO_POW_32);
  }

  /** Index in `#counters` of counter `slot` of `bucket`. */
  #counterAt(bucket: number, slot: number): number {
    return bucket * this.#recordDoubles + this.#keyWords + slot;
  }

  /**
   * Min over rows of (V + C)/2 where `words[at..]` is the bucket's candidate, (V − C)/2 elsewhere.
   * `keyOffset` selects the packet (0) or byte (keyWords) candidate, `total` the matching counters.
   */
  #estimate(words: Uint32Array, at: number, keyOffset: number, total: number): number {
    let estimate = Infinity;
    for (let row = 0; row < this.#depth; row++) {
      const bucket = this.#bucketOf(words, at, row);
      const volume = this.#counters[this.#counterAt(bucket, total)]!;
      const vote = this.#counters[this.#counterAt(bucket, total + 1)]!;
      const candidate = sameKey(this.#keys, bucket * this.#recordWords + keyOffset, words, at, this.#keyWords);
      const bound = candidate ? (volume + vote) / 2 : (volume - vote) / 2;
      if (bound < estimate) estimate = bound;
    }
    return estimate;
  }

  /** Every candidate (each once, from the first row that holds it) whose estimate reaches `threshold`. */
  #heavyHitters(keyOffset: number, total: number, threshold: number): SketchEntry[] {
    const keys = this.#keys;
    const keyWords = this.#keyWords;
    const entries: SketchEntry[] = [];
    for (let row = 0; row < this.#depth; row++) {
      for (let column = 0; column < this.#width; column++) {
        const bucket = row * this.#width + column;
        // V = 0: nothing ever hashed here, the zero key is not a candidate.
        if (this.#counters[this.#counterAt(bucket, total)] === 0) continue;
        const at = bucket * this.#recordWords + keyOffset;
        let seenInEarlierRow = false;
        for (let earlier = 0; earlier < row && !seenInEarlierRow; earlier++) {
          const other = this.#bucketOf(keys, at, earlier);
          seenInEarlierRow = this.#counters[this.#counterAt(other, total)] !== 0 && sameKey(keys, other * this.#recordWords + keyOffset, keys, at, keyWords);
        }
        if (seenInEarlierRow) continue;
        const value = this.#estimate(keys, at, keyOffset, total);
        if (value >= threshold && value > 0) {
          entries.push({ flow: this.#spec.toObject(keys, at), flowText: this.#spec.toText(keys, at), value });
        }
      }
    }
    return entries.sort(compareEntries);
  }
}

/**
 * Key equality, last word first: the leading words are the most often shared (IPv4-mapped addresses
 * all start 0, 0, 0xffff), so comparing from the end rejects a different key after one or two words.
 */
function sameKey(a: Uint32Array, aAt: number, b: Uint32Array, bAt: number, keyWords: number): boolean {
  for (let w = keyWords - 1; w >= 0; w--) if (a[aAt + w] !== b[bAt + w]) return false;
  return true;
}
