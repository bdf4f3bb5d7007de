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
 * Hashing: the key is hashed ONCE per packet (murmur3, `#keySeed`), and each row's column comes
 * from that hash remixed with the row's seed (`remix32`: murmur3's fmix32 of hash ^ rowSeed), then
 * range-reduced by multiply-shift (a plain shift for a power-of-two width). Why the rows stay
 * independent enough: fmix32 is a bijection with full avalanche, and the rows feed it inputs that
 * differ by a random 32-bit mask, so for two keys with DIFFERENT hashes the rows' column choices
 * behave as independent uniform draws (a collision in one row says nothing about another). The one
 * dependence is that two keys with EQUAL 32-bit hashes collide in every row: probability 2^−32 per
 * pair, against w^−d for an all-rows collision of independent rows (1.5 × 10^−8 at 8192 × 2), so at
 * the default depth it adds about 1.5% to an already rare event; a much deeper sketch cannot push
 * its all-rows collision rate below 2^−32. Either way the bounds above hold (they do not depend on
 * the hash), only the accuracy does. One hash instead of one per row, read straight from the
 * batch's address column for the common one-address keys, is most of the speed-up over the
 * original port; the shift instead of a double multiply is most of the rest (the multiply and its
 * conversions sit on the critical path to the bucket's cache lines).
 *
 * Memory: per bucket two keys of `KeySpec.words` 32-bit words and four Float64 counters (doubles
 * stay exact to 2^53 bytes, so no period is long enough to wrap, unlike 32-bit counters): 72 bytes
 * per bucket for a SrcIP key, 1.1 MiB for 8192 × 2. Uint32 packet counters would make the record
 * 64 bytes (1 MiB), but a 32-bit packet counter wraps after 4.3 G packets in one bucket — under
 * half a minute of a 148 Mpps flood, within one default period — and the 64-byte record measured
 * no faster: the update is bound by computation, not by the table's cache lines.
 */
import type { PacketBatch } from '../../model/packet.js';
import { KeySpec } from '../flow-key.js';
import { deriveSeed, murmur3Finalize, murmur3Mix, rangeShift, remix32 } from '../hash.js';
import type { HeavyHitterSnapshot, SketchEntry, SketchTask, SketchTaskParams } from './sketch-task.js';
import { compareEntries } from './sketch-task.js';

const TWO_POW_32 = 4294967296;

/**
 * Bucket record: the packet candidate key, the byte candidate key (`keyWords` 32-bit words each),
 * then four doubles — V and C for packets, V and C for bytes — so one update touches two cache
 * lines instead of one per array. `2 * keyWords * 4` is a multiple of 8, so the doubles align.
 */
const COUNT_TOTAL = 0;
const COUNT_VOTE = 1;
const SIZE_TOTAL = 2;
const SIZE_VOTE = 3;
const COUNTERS = 4;

/** Seed index of the key hash, far from the row indices 0..depth-1 (the rows' mixing seeds). */
const PURPOSE_KEY = 0x100;

/** Key shapes with a fast path: one address field (and optionally Protocol), 5 words. */
const SHAPE_GENERAL = 0;
const SHAPE_SRC_ADDRESS = 1;
const SHAPE_DST_ADDRESS = 2;

export class HeavyHitterSketch implements SketchTask {
  readonly name: string;
  readonly #params: SketchTaskParams;
  readonly #spec: KeySpec;
  readonly #keyWords: number;
  readonly #width: number;
  readonly #depth: number;
  /** A row hash's column is `floor(hash × width / 2^32)`: `hash >>> shift`, or `× scale` (see `rangeShift`). */
  readonly #shift: number;
  readonly #scale: number;
  readonly #keySeed: number;
  readonly #rowSeeds: Int32Array;
  readonly #shape: number;
  /** 0xff when Protocol is a key field (the meta word's low byte), else 0. */
  readonly #protocolMask: number;
  /** Record size in 32-bit words and in doubles. */
  readonly #recordWords: number;
  readonly #recordDoubles: number;
  /** The table, viewed as key words and as counters. */
  readonly #table: ArrayBuffer;
  readonly #keys: Uint32Array;
  readonly #counters: Float64Array;
  /** The current packet's key (general path only). */
  readonly #key: Uint32Array;

  constructor(params: SketchTaskParams) {
    this.name = params.name;
    this.#params = params;
    this.#spec = new KeySpec(params.flowFields);
    this.#keyWords = this.#spec.words;
    this.#width = params.width;
    this.#depth = params.depth;
    this.#shift = rangeShift(params.width);
    this.#scale = params.width / TWO_POW_32;
    this.#keySeed = deriveSeed(params.seed, PURPOSE_KEY);
    this.#rowSeeds = new Int32Array(params.depth);
    for (let row = 0; row < params.depth; row++) this.#rowSeeds[row] = deriveSeed(params.seed, row);
    const spec = this.#spec;
    const onlyAddress = !spec.hasSrcPort && !spec.hasDstPort && spec.hasSrcIP !== spec.hasDstIP;
    this.#shape = !onlyAddress ? SHAPE_GENERAL : spec.hasSrcIP ? SHAPE_SRC_ADDRESS : SHAPE_DST_ADDRESS;
    this.#protocolMask = spec.hasProtocol ? 0xff : 0;
    this.#recordWords = 2 * this.#keyWords + 2 * COUNTERS;
    this.#recordDoubles = this.#recordWords / 2;
    this.#table = new ArrayBuffer(params.width * params.depth * this.#recordWords * 4);
    this.#keys = new Uint32Array(this.#table);
    this.#counters = new Float64Array(this.#table);
    this.#key = new Uint32Array(this.#keyWords);
  }

  /** The bytes a heavy-hitter sketch with these parameters allocates (table, key scratch, row seeds). */
  static memoryBytesFor(params: Pick<SketchTaskParams, 'width' | 'depth' | 'flowFields'>): number {
    const keyWords = new KeySpec(params.flowFields).words;
    return params.width * params.depth * (2 * keyWords * 4 + COUNTERS * 8) + keyWords * 4 + params.depth * 4;
  }

  ingest(batch: PacketBatch): void {
    if (this.#shape === SHAPE_SRC_ADDRESS) this.#ingestAddress(batch, batch.srcAddr);
    else if (this.#shape === SHAPE_DST_ADDRESS) this.#ingestAddress(batch, batch.dstAddr);
    else this.#ingestGeneral(batch);
  }

  /**
   * The fast path for a key of one address (+ Protocol): `[address 4 words][family << 8 | protocol]`
   * (the `KeySpec` layout), read straight from the batch into locals and hashed inline.
   */
  #ingestAddress(batch: PacketBatch, address: Uint32Array): void {
    const count = batch.count;
    const family = batch.family;
    const protocol = batch.protocol;
    const wireLength = batch.wireLength;
    const protocolMask = this.#protocolMask;
    // `| 0`: an int32 local, not a tagged number converted on every use.
    const keySeed = this.#keySeed | 0;
    const rowSeeds = this.#rowSeeds;
    const depth = this.#depth;
    const width = this.#width;
    const shift = this.#shift;
    const scale = this.#scale;
    const keys = this.#keys;
    const counters = this.#counters;
    // keyWords = 5: 18 words (9 doubles) per record, the counters from double 5.
    for (let i = 0; i < count; i++) {
      const a = i * 4;
      const k0 = address[a]!;
      const k1 = address[a + 1]!;
      const k2 = address[a + 2]!;
      const k3 = address[a + 3]!;
      // No Protocol in the key (the usual case): skip the protocol column altogether.
      const k4 = (family[i]! << 8) | (protocolMask === 0 ? 0 : protocol[i]! & protocolMask);
      let h = murmur3Mix(keySeed, k0);
      h = murmur3Mix(h, k1);
      h = murmur3Mix(h, k2);
      h = murmur3Mix(h, k3);
      h = murmur3Mix(h, k4);
      const hash = murmur3Finalize(h, 20);
      const bytes = wireLength[i]!;
      for (let row = 0; row < depth; row++) {
        const rowHash = remix32(hash, rowSeeds[row]!);
        const bucket = row * width + (shift < 32 ? rowHash >>> shift : ((rowHash >>> 0) * scale) | 0);
        const p = bucket * 18;
        const s = p + 5;
        const c = bucket * 9 + 5;

        counters[c + COUNT_TOTAL]! += 1;
        let vote = counters[c + COUNT_VOTE]!;
        // The last address word first: it tells IPv4 keys (all 0, 0, 0xffff, v4) apart.
        if (keys[p + 3] === k3 && keys[p] === k0 && keys[p + 1] === k1 && keys[p + 2] === k2 && keys[p + 4] === k4) {
          vote += 1;
        } else if (vote >= 1) {
          vote -= 1;
        } else {
          // vote − 1 < 0: the newcomer takes the bucket with the surplus 1 − vote.
          keys[p] = k0;
          keys[p + 1] = k1;
          keys[p + 2] = k2;
          keys[p + 3] = k3;
          keys[p + 4] = k4;
          vote = 1 - vote;
        }
        counters[c + COUNT_VOTE] = vote;

        counters[c + SIZE_TOTAL]! += bytes;
        vote = counters[c + SIZE_VOTE]!;
        if (keys[s + 3] === k3 && keys[s] === k0 && keys[s + 1] === k1 && keys[s + 2] === k2 && keys[s + 4] === k4) {
          vote += bytes;
        } else if (vote >= bytes) {
          vote -= bytes;
        } else {
          keys[s] = k0;
          keys[s + 1] = k1;
          keys[s + 2] = k2;
          keys[s + 3] = k3;
          keys[s + 4] = k4;
          vote = bytes - vote;
        }
        counters[c + SIZE_VOTE] = vote;
      }
    }
  }

  /** Any other key: extracted by `KeySpec` into a scratch key, then the same update word by word. */
  #ingestGeneral(batch: PacketBatch): void {
    const count = batch.count;
    const spec = this.#spec;
    const key = this.#key;
    const keyWords = this.#keyWords;
    const keySeed = this.#keySeed;
    const rowSeeds = this.#rowSeeds;
    const depth = this.#depth;
    const width = this.#width;
    const shift = this.#shift;
    const scale = this.#scale;
    const keys = this.#keys;
    const counters = this.#counters;
    const recordWords = this.#recordWords;
    const recordDoubles = this.#recordDoubles;
    const wireLength = batch.wireLength;
    for (let i = 0; i < count; i++) {
      spec.extract(batch, i, key, 0);
      const hash = hashKey(key, 0, keyWords, keySeed);
      const bytes = wireLength[i]!;
      for (let row = 0; row < depth; row++) {
        const rowHash = remix32(hash, rowSeeds[row]!);
        const bucket = row * width + (shift < 32 ? rowHash >>> shift : ((rowHash >>> 0) * scale) | 0);
        const p = bucket * recordWords;
        const s = p + keyWords;
        const c = bucket * recordDoubles + keyWords;

        counters[c + COUNT_TOTAL]! += 1;
        let vote = counters[c + COUNT_VOTE]!;
        if (sameKey(keys, p, key, 0, keyWords)) {
          vote += 1;
        } else if (vote >= 1) {
          vote -= 1;
        } else {
          for (let w = 0; w < keyWords; w++) keys[p + w] = key[w]!;
          vote = 1 - vote;
        }
        counters[c + COUNT_VOTE] = vote;

        counters[c + SIZE_TOTAL]! += bytes;
        vote = counters[c + SIZE_VOTE]!;
        if (sameKey(keys, s, key, 0, keyWords)) {
          vote += bytes;
        } else if (vote >= bytes) {
          vote -= bytes;
        } else {
          for (let w = 0; w < keyWords; w++) keys[s + w] = key[w]!;
          vote = bytes - vote;
        }
        counters[c + SIZE_VOTE] = vote;
      }
    }
  }

  reset(): void {
    new Uint8Array(this.#table).fill(0);
  }

  memoryBytes(): number {
    return this.#table.byteLength + this.#key.byteLength + this.#rowSeeds.byteLength;
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
    const rowHash = remix32(hashKey(words, at, this.#keyWords, this.#keySeed), this.#rowSeeds[row]!);
    return row * this.#width + (this.#shift < 32 ? rowHash >>> this.#shift : ((rowHash >>> 0) * this.#scale) | 0);
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

/** `murmur3Words` over a Uint32Array only (a call site of its own, so it stays monomorphic). */
function hashKey(words: Uint32Array, at: number, count: number, seed: number): number {
  let h = seed;
  for (let i = 0; i < count; i++) h = murmur3Mix(h, words[at + i]!);
  return murmur3Finalize(h, count * 4);
}
