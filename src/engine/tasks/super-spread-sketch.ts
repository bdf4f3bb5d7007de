/**
 * Super-spreaders (`skt_type: 1`): per flow key (e.g. SrcIP) the number of DISTINCT elements
 * (e.g. DstIP), after SuperSpread (PVLDB 17(11), 2024).
 *
 * A d × w table; each bucket holds
 *  - a sampler: `m` registers of `size` bits. An element of the bucket has a register index and a
 *    geometric value v (P(v > r) = base^r, i.e. leading zeros + 1 for base 0.5, capped at
 *    2^size − 1); it "samples" when v exceeds its register, which then takes v. A repeated element
 *    never samples again (its register already holds at least v), which is what makes the count
 *    distinct. The bucket also keeps p = (1/m) Σ_registers P(v > register) — the probability that
 *    the next NEW element samples (a saturated register contributes 0).
 *  - a HeavyKeeper key/counter: each sampled element carries weight 1/p (p read before the register
 *    update). Given the state, a new element contributes p · 1/p = 1 in expectation, so the sum of
 *    weights of one flow's elements is an unbiased estimate of its distinct count (the HIP estimator,
 *    Cohen 2015 / Ting 2014), whichever order packets and other flows' elements arrive in. The
 *    weight goes to the counter when the flow is the bucket's key; otherwise each unit of weight
 *    decrements the counter with probability b^−counter, and a counter decayed to zero hands the
 *    bucket to the newcomer, so a bucket ends up owned by its largest spreader.
 * The estimate of a flow combines the rows whose bucket it owns (see `#estimate`).
 *
 * Hashing: the flow key is hashed once per row (seed `deriveSeed(seed, row)`: bucket choice); the
 * element key once per packet (its own seed); the (flow, element) pair hash is the element hash
 * mixed with the row's flow hash, so pairs are independent across rows and flows for the price of
 * two integer finalisers per row.
 *
 * The random choices (rounding of 1/p, decay) come from a seeded xoshiro128** generator, so results
 * depend only on the seed and the packet order (not on batch boundaries), and `reset` rewinds it
 * together with the registers, keys, counters and every sampling probability (which the original's
 * reset forgot, so its next period under-counted by the previous period's saturation).
 */
import type { PacketBatch } from '../../model/packet.js';
import { KeySpec } from '../flow-key.js';
import { deriveSeed, murmur3Words } from '../hash.js';
import type { SketchEntry, SketchTask, SketchTaskParams, SuperSpreaderSnapshot } from './sketch-task.js';
import { compareEntries } from './sketch-task.js';

const TWO_POW_32 = 4294967296;

/** Seed indices of the non-row purposes, far from the row indices 0..depth-1. */
const PURPOSE_ELEMENT = 0x100;
const PURPOSE_RANDOM = 0x200;

/**
 * Owned rows within this ratio of the largest are averaged. One row's relative standard error is
 * about 0.83/√m (HIP over HyperLogLog registers: 7% for m = 128) with a longer tail upwards, so
 * honest rows essentially never differ by a factor of 2, while a row where the flow took the
 * bucket over late from another large flow holds only part of its spread.
 */
const AGREEMENT = 0.5;

export class SuperSpreadSketch implements SketchTask {
  readonly name: string;
  readonly #params: SketchTaskParams;
  readonly #flowSpec: KeySpec;
  readonly #elementSpec: KeySpec;
  readonly #flowWords: number;
  readonly #elementWords: number;
  readonly #width: number;
  readonly #depth: number;
  readonly #m: number;
  readonly #registerBits: number;
  readonly #registerMask: number;
  /** Registers are packed whole into 32-bit words (none straddles two words). */
  readonly #registersPerWord: number;
  readonly #wordsPerBucket: number;
  readonly #halfBase: boolean;
  readonly #logBase: number;
  /** base^r / m for r in 0..2^size − 1, with 0 at the top (a saturated register never samples). */
  readonly #samplingTerm: Float64Array;
  readonly #logDecayBase: number;
  readonly #flowSeeds: Uint32Array;
  readonly #elementSeed: number;
  readonly #randomSeed: number;

  readonly #registers: Uint32Array;
  /** Per bucket: probability that a new element samples. */
  readonly #samplingProbability: Float64Array;
  readonly #keys: Uint32Array;
  /** Per bucket: the key's estimated spread (real-valued: weights 1/p are not integers). */
  readonly #counters: Float64Array;
  /** xoshiro128** state. */
  readonly #random = new Uint32Array(4);

  /** The current packet's flow and element keys (reused: no allocation per packet). */
  readonly #flowKey: Uint32Array;
  readonly #elementKey: Uint32Array;

  constructor(params: SketchTaskParams) {
    this.name = params.name;
    this.#params = params;
    this.#flowSpec = new KeySpec(params.flowFields);
    this.#elementSpec = new KeySpec(params.elementFields);
    this.#flowWords = this.#flowSpec.words;
    this.#elementWords = this.#elementSpec.words;
    this.#width = params.width;
    this.#depth = params.depth;
    this.#m = params.m;
    this.#registerBits = params.size;
    this.#registerMask = (1 << params.size) - 1;
    this.#registersPerWord = Math.floor(32 / params.size);
    this.#wordsPerBucket = Math.ceil(params.m / this.#registersPerWord);
    this.#halfBase = params.base === 0.5;
    this.#logBase = Math.log(params.base);
    this.#samplingTerm = new Float64Array(this.#registerMask + 1);
    for (let r = 0; r < this.#registerMask; r++) this.#samplingTerm[r] = params.base ** r / params.m;
    this.#logDecayBase = Math.log(params.b);
    this.#flowSeeds = new Uint32Array(params.depth);
    for (let row = 0; row < params.depth; row++) this.#flowSeeds[row] = deriveSeed(params.seed, row);
    this.#elementSeed = deriveSeed(params.seed, PURPOSE_ELEMENT);
    this.#randomSeed = deriveSeed(params.seed, PURPOSE_RANDOM);

    const buckets = params.width * params.depth;
    this.#registers = new Uint32Array(buckets * this.#wordsPerBucket);
    this.#samplingProbability = new Float64Array(buckets);
    this.#keys = new Uint32Array(buckets * this.#flowWords);
    this.#counters = new Float64Array(buckets);
    this.#flowKey = new Uint32Array(this.#flowWords);
    this.#elementKey = new Uint32Array(this.#elementWords);
    this.reset();
  }

  /** The bytes of state a SuperSpread sketch with these parameters allocates. */
  static memoryBytesFor(params: Pick<SketchTaskParams, 'width' | 'depth' | 'flowFields' | 'm' | 'size'>): number {
    const registerWords = Math.ceil(params.m / Math.floor(32 / params.size));
    const keyWords = new KeySpec(params.flowFields).words;
    return params.width * params.depth * (registerWords * 4 + 8 + keyWords * 4 + 8);
  }

  ingest(batch: PacketBatch): void {
    const flowSpec = this.#flowSpec;
    const elementSpec = this.#elementSpec;
    const flowKey = this.#flowKey;
    const elementKey = this.#elementKey;
    const flowWords = this.#flowWords;
    const elementWords = this.#elementWords;
    const elementSeed = this.#elementSeed;
    const width = this.#width;
    const depth = this.#depth;
    const m = this.#m;
    const flowSeeds = this.#flowSeeds;
    const registers = this.#registers;
    const registersPerWord = this.#registersPerWord;
    const wordsPerBucket = this.#wordsPerBucket;
    const registerBits = this.#registerBits;
    const registerMask = this.#registerMask;
    const halfBase = this.#halfBase;
    const logBase = this.#logBase;
    for (let i = 0; i < batch.count; i++) {
      flowSpec.extract(batch, i, flowKey, 0);
      elementSpec.extract(batch, i, elementKey, 0);
      const elementHash = murmur3Words(elementKey, 0, elementWords, elementSeed);
      for (let row = 0; row < depth; row++) {
        const flowHash = murmur3Words(flowKey, 0, flowWords, flowSeeds[row]!);
        const bucket = row * width + Math.floor((flowHash * width) / TWO_POW_32);
        // Two finalisers of (element hash, flow hash): one gives the geometric value, the other the
        // register, so both are independent of each other and of the bucket choice.
        const pairHash = finalize(elementHash ^ flowHash, 0x7feb352d, 0x846ca68b);
        const indexHash = finalize(pairHash, 0x21f0aaad, 0x735a2d97);
        let value = halfBase ? Math.clz32(pairHash) + 1 : 1 + Math.floor(Math.log((pairHash + 0.5) / TWO_POW_32) / logBase);
        if (value > registerMask) value = registerMask;
        const register = Math.floor((indexHash * m) / TWO_POW_32);
        const wordAt = bucket * wordsPerBucket + ((register / registersPerWord) | 0);
        const shift = (register % registersPerWord) * registerBits;
        const old = (registers[wordAt]! >>> shift) & registerMask;
        // Not new to this bucket's sampler, or not sampled: nothing to count. The common case.
        if (value <= old) continue;
        registers[wordAt] = (registers[wordAt]! & ~(registerMask << shift)) | (value << shift);
        this.#sampled(bucket, old, value);
      }
    }
  }

  reset(): void {
    this.#registers.fill(0);
    // Empty registers: every new element samples.
    this.#samplingProbability.fill(1);
    this.#keys.fill(0);
    this.#counters.fill(0);
    this.#random[0] = this.#randomSeed;
    this.#random[1] = 0x9e3779b9;
    this.#random[2] = 0x243f6a88;
    this.#random[3] = 0xb7e15162;
  }

  memoryBytes(): number {
    return this.#registers.byteLength + this.#samplingProbability.byteLength + this.#keys.byteLength + this.#counters.byteLength;
  }

  /** Estimated number of distinct elements of the flow whose key words are `key`; 0 if no bucket holds it. */
  estimate(key: Uint32Array): number {
    return this.#estimate(key, 0);
  }

  snapshot(): SuperSpreaderSnapshot {
    const keys = this.#keys;
    const flowWords = this.#flowWords;
    const threshold = this.#params.countThreshold;
    const spreaders: SketchEntry[] = [];
    for (let row = 0; row < this.#depth; row++) {
      for (let column = 0; column < this.#width; column++) {
        const bucket = row * this.#width + column;
        if (this.#counters[bucket] === 0) continue;
        const at = bucket * flowWords;
        let seenInEarlierRow = false;
        for (let earlier = 0; earlier < row && !seenInEarlierRow; earlier++) {
          const other = this.#bucketOf(keys, at, earlier);
          seenInEarlierRow = this.#counters[other] !== 0 && sameKeyAt(keys, other * flowWords, keys, at, flowWords);
        }
        if (seenInEarlierRow) continue;
        const value = Math.round(this.#estimate(keys, at));
        if (value >= threshold && value > 0) {
          spreaders.push({ flow: this.#flowSpec.toObject(keys, at), flowText: this.#flowSpec.toText(keys, at), value });
        }
      }
    }
    return {
      kind: 'super_spreader',
      name: this.name,
      flowFields: [...this.#flowSpec.fields],
      elementFields: [...this.#elementSpec.fields],
      memoryBytes: this.memoryBytes(),
      spreaders: spreaders.sort(compareEntries),
    };
  }

  /** A register of `bucket` rose from `old` to `value`: credit 1/p to the bucket's key (HeavyKeeper). */
  #sampled(bucket: number, old: number, value: number): void {
    const probability = this.#samplingProbability[bucket]!;
    this.#samplingProbability[bucket] = probability - this.#samplingTerm[old]! + this.#samplingTerm[value]!;
    const weight = 1 / probability;
    const keyAt = bucket * this.#flowWords;
    let counter = this.#counters[bucket]!;
    if (counter > 0 && sameKeyAt(this.#keys, keyAt, this.#flowKey, 0, this.#flowWords)) {
      this.#counters[bucket] = counter + weight;
      return;
    }
    if (counter <= 0) {
      this.#keys.set(this.#flowKey, keyAt);
      this.#counters[bucket] = weight;
      return;
    }
    // A foreign key: `units` decay trials (the weight rounded at random, which keeps its mean), each
    // succeeding with probability b^−counter. Rather than one draw per unit, draw the gap to the next
    // success (geometric), so the cost is one draw per decrement however large the weight.
    const whole = Math.floor(weight);
    let units = whole + (this.#nextRandom() < weight - whole ? 1 : 0);
    while (units > 0) {
      const decay = Math.exp(-counter * this.#logDecayBase);
      const gap = decay >= 1 ? 1 : 1 + Math.floor(Math.log(1 - this.#nextRandom()) / Math.log1p(-decay));
      if (gap > units) break;
      units -= gap;
      counter -= 1;
      if (counter <= 0) {
        // The unit that emptied the bucket and those left belong to the newcomer.
        this.#keys.set(this.#flowKey, keyAt);
        counter = units + 1;
        break;
      }
    }
    this.#counters[bucket] = counter;
  }

  #bucketOf(words: Uint32Array, at: number, row: number): number {
    const hash = murmur3Words(words, at, this.#flowWords, this.#flowSeeds[row]!);
    return row * this.#width + Math.floor((hash * this.#width) / TWO_POW_32);
  }

  /**
   * Each row whose bucket the flow owns holds an unbiased estimate, less what collisions decayed
   * away (decay only ever lowers a counter). The estimate is the mean of the owned rows that agree
   * with the largest within AGREEMENT: averaging independent rows shrinks the error by √rows, and
   * a row that lost a contest with another large flow is left out rather than dragging the mean.
   */
  #estimate(words: Uint32Array, at: number): number {
    let largest = 0;
    for (let row = 0; row < this.#depth; row++) {
      const bucket = this.#bucketOf(words, at, row);
      const counter = this.#counters[bucket]!;
      if (counter > largest && sameKeyAt(this.#keys, bucket * this.#flowWords, words, at, this.#flowWords)) largest = counter;
    }
    if (largest === 0) return 0;
    let sum = 0;
    let rows = 0;
    for (let row = 0; row < this.#depth; row++) {
      const bucket = this.#bucketOf(words, at, row);
      const counter = this.#counters[bucket]!;
      if (counter >= AGREEMENT * largest && sameKeyAt(this.#keys, bucket * this.#flowWords, words, at, this.#flowWords)) {
        sum += counter;
        rows++;
      }
    }
    return sum / rows;
  }

  /** xoshiro128** (Blackman, Vigna), uniform in [0, 1). */
  #nextRandom(): number {
    const s = this.#random;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9);
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return (result >>> 0) / TWO_POW_32;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A 32-bit integer finaliser (xor-shift-multiply; multipliers from Wellons' hash prospector). */
function finalize(x: number, multiplier1: number, multiplier2: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, multiplier1);
  x ^= x >>> 15;
  x = Math.imul(x, multiplier2);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Key equality, last word first (leading words, e.g. the IPv4-mapped prefix, are the most shared). */
function sameKeyAt(a: Uint32Array, aAt: number, b: Uint32Array, bAt: number, words: number): boolean {
  for (let w = words - 1; w >= 0; w--) if (a[aAt + w] !== b[bAt + w]) return false;
  return true;
}
