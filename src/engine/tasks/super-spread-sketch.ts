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
 * Hashing: each packet's flow key and element key are hashed once (murmur3, their own seeds). A
 * row's flow hash is the flow hash remixed with the row's seed (`remix32`, as in the heavy-hitter
 * sketch, whose header explains why rows stay independent: only flows with equal 32-bit hashes
 * share every bucket), its bucket that hash range-reduced; the (flow, element) pair hash is the
 * element hash mixed with the row's flow hash, so pairs are independent across rows and flows for
 * the price of two integer finalisers per row. Registers' word and bit offset come from small
 * tables, the geometric value from `clz32` (base 0.5) or a scan of precomputed thresholds base^r
 * (no logarithm per packet). The common one-address keys (SrcIP → DstIP and back) are read straight
 * from the batch's address columns; a chunk's keys are hashed in one small loop and its elements
 * offered to the rows in another, which V8 compiles better than one large loop.
 *
 * State per bucket: the registers, then (one Float64Array, side by side so a sampled element
 * touches one cache line for both) the sampling probability p and the counter, and the key.
 *
 * The random choices (rounding of 1/p, decay) come from a seeded xoshiro128** generator, so results
 * depend only on the seed and the packet order (not on batch boundaries), and `reset` rewinds it
 * together with the registers, keys, counters and every sampling probability (which the original's
 * reset forgot, so its next period under-counted by the previous period's saturation).
 */
import type { PacketBatch } from '../../model/packet.js';
import { KeySpec } from '../../model/flow-key.js';
import { deriveSeed, murmur3Finalize, murmur3Mix, rangeShift, remix32 } from '../../model/hash.js';
import type { SketchEntry, SketchTask, SketchTaskParams, SuperSpreaderSnapshot } from './sketch-contract.js';
import { compareEntries } from './sketch-contract.js';

const TWO_POW_32 = 4294967296;

/** Seed indices of the non-row purposes, far from the row indices 0..depth-1. */
const PURPOSE_ELEMENT = 0x100;
const PURPOSE_RANDOM = 0x200;
const PURPOSE_FLOW = 0x300;

/**
 * Packets per pass: a pass hashes the chunk's flow and element keys (small loops, specialised by
 * key shape), then offers the elements to the rows. Two small loops compile better than one large
 * one: V8 then inlines every hash step instead of running out of inlining budget.
 */
const CHUNK = 256;

/** Key shapes with a fast path: one address field (and optionally Protocol), 5 words. */
const SHAPE_GENERAL = 0;
const SHAPE_SRC_ADDRESS = 1;
const SHAPE_DST_ADDRESS = 2;

function shapeOf(spec: KeySpec): number {
  if (spec.hasSrcPort || spec.hasDstPort || spec.hasSrcIP === spec.hasDstIP) return SHAPE_GENERAL;
  return spec.hasSrcIP ? SHAPE_SRC_ADDRESS : SHAPE_DST_ADDRESS;
}

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
  readonly #registerMask: number;
  /** Registers are packed whole into 32-bit words (none straddles two words). */
  readonly #registersPerWord: number;
  readonly #wordsPerBucket: number;
  readonly #halfBase: boolean;
  /**
   * General base: the geometric value of a hash u is 1 + #{r ≥ 1 : u + 0.5 < base^r · 2^32}, i.e.
   * P(value > r) = base^r; thresholds for r = 1 .. 2^size − 1 (a scan from the bottom: values are small).
   */
  readonly #valueThresholds: Float64Array;
  /** Register → its word within a bucket's registers, and its bit offset there. */
  readonly #registerWord: Uint16Array;
  readonly #registerShift: Uint8Array;
  /** Buckets and registers from hashes: see `rangeShift`. */
  readonly #columnShift: number;
  readonly #columnScale: number;
  readonly #registerIndexShift: number;
  readonly #registerIndexScale: number;
  readonly #flowShape: number;
  readonly #elementShape: number;
  readonly #flowProtocolMask: number;
  readonly #elementProtocolMask: number;
  /** base^r / m for r in 0..2^size − 1, with 0 at the top (a saturated register never samples). */
  readonly #samplingTerm: Float64Array;
  readonly #logDecayBase: number;
  /** Per row: the seed remixing the flow hash into the row's hash. */
  readonly #rowSeeds: Int32Array;
  readonly #flowSeed: number;
  readonly #elementSeed: number;
  readonly #randomSeed: number;

  readonly #registers: Uint32Array;
  /**
   * Per bucket, side by side (one cache line for a sampled element): at 2·bucket the probability
   * that a new element samples, at 2·bucket + 1 the key's estimated spread (real-valued: weights
   * 1/p are not integers).
   */
  readonly #state: Float64Array;
  readonly #keys: Uint32Array;
  /** xoshiro128** state. */
  readonly #random = new Uint32Array(4);

  /** A packet's flow and element keys (reused: no allocation per packet). */
  readonly #flowKey: Uint32Array;
  readonly #elementKey: Uint32Array;
  /** The flow and element hashes of the chunk's packets. */
  readonly #flowHashes = new Int32Array(CHUNK);
  readonly #elementHashes = new Int32Array(CHUNK);

  constructor(params: SketchTaskParams) {
    this.name = params.name;
    this.#params = params;
    this.#flowSpec = new KeySpec(params.flowFields);
    this.#elementSpec = new KeySpec(params.elementFields);
    this.#flowWords = this.#flowSpec.words;
    this.#elementWords = this.#elementSpec.words;
    this.#width = params.width;
    this.#depth = params.depth;
    this.#registerMask = (1 << params.size) - 1;
    this.#registersPerWord = Math.floor(32 / params.size);
    this.#wordsPerBucket = Math.ceil(params.m / this.#registersPerWord);
    this.#halfBase = params.base === 0.5;
    this.#valueThresholds = new Float64Array(this.#registerMask + 1);
    for (let r = 1; r <= this.#registerMask; r++) this.#valueThresholds[r] = params.base ** r * TWO_POW_32;
    this.#registerWord = new Uint16Array(params.m);
    this.#registerShift = new Uint8Array(params.m);
    for (let register = 0; register < params.m; register++) {
      this.#registerWord[register] = Math.floor(register / this.#registersPerWord);
      this.#registerShift[register] = (register % this.#registersPerWord) * params.size;
    }
    this.#columnShift = rangeShift(params.width);
    this.#columnScale = params.width / TWO_POW_32;
    this.#registerIndexShift = rangeShift(params.m);
    this.#registerIndexScale = params.m / TWO_POW_32;
    this.#flowShape = shapeOf(this.#flowSpec);
    this.#elementShape = shapeOf(this.#elementSpec);
    this.#flowProtocolMask = this.#flowSpec.hasProtocol ? 0xff : 0;
    this.#elementProtocolMask = this.#elementSpec.hasProtocol ? 0xff : 0;
    this.#samplingTerm = new Float64Array(this.#registerMask + 1);
    for (let r = 0; r < this.#registerMask; r++) this.#samplingTerm[r] = params.base ** r / params.m;
    this.#logDecayBase = Math.log(params.b);
    this.#rowSeeds = new Int32Array(params.depth);
    for (let row = 0; row < params.depth; row++) this.#rowSeeds[row] = deriveSeed(params.seed, row);
    this.#flowSeed = deriveSeed(params.seed, PURPOSE_FLOW);
    this.#elementSeed = deriveSeed(params.seed, PURPOSE_ELEMENT);
    this.#randomSeed = deriveSeed(params.seed, PURPOSE_RANDOM);

    const buckets = params.width * params.depth;
    this.#registers = new Uint32Array(buckets * this.#wordsPerBucket);
    this.#state = new Float64Array(2 * buckets);
    this.#keys = new Uint32Array(buckets * this.#flowWords);
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
    const addresses = this.#flowShape !== SHAPE_GENERAL && this.#elementShape !== SHAPE_GENERAL;
    for (let from = 0; from < batch.count; from += CHUNK) {
      const count = Math.min(CHUNK, batch.count - from);
      if (addresses) this.#hashAddresses(batch, from, count);
      else this.#hashGeneral(batch, from, count);
      this.#updateRows(batch, from, count);
    }
  }

  /**
   * The fast path for a flow and an element of one address each (+ Protocol), e.g. SrcIP → DstIP:
   * both keys (`[address 4 words][family << 8 | protocol]`, the `KeySpec` layout) are read straight
   * from the batch and hashed inline, one murmur3 hash per key and packet.
   */
  #hashAddresses(batch: PacketBatch, from: number, count: number): void {
    const family = batch.family;
    const protocol = batch.protocol;
    const flowAddress = this.#flowShape === SHAPE_DST_ADDRESS ? batch.dstAddr : batch.srcAddr;
    const elementAddress = this.#elementShape === SHAPE_DST_ADDRESS ? batch.dstAddr : batch.srcAddr;
    const flowProtocolMask = this.#flowProtocolMask;
    const elementProtocolMask = this.#elementProtocolMask;
    const flowSeed = this.#flowSeed | 0;
    const elementSeed = this.#elementSeed | 0;
    const flowHashes = this.#flowHashes;
    const elementHashes = this.#elementHashes;
    for (let j = 0; j < count; j++) {
      const i = from + j;
      const a = i * 4;
      let f = flowSeed;
      let e = elementSeed;
      for (let w = 0; w < 4; w++) {
        f = murmur3Mix(f, flowAddress[a + w]!);
        e = murmur3Mix(e, elementAddress[a + w]!);
      }
      flowHashes[j] = murmur3Finalize(murmur3Mix(f, (family[i]! << 8) | (protocol[i]! & flowProtocolMask)), 20);
      elementHashes[j] = murmur3Finalize(murmur3Mix(e, (family[i]! << 8) | (protocol[i]! & elementProtocolMask)), 20);
    }
  }

  /** Any other keys: extracted by `KeySpec` into the scratch keys, then hashed. */
  #hashGeneral(batch: PacketBatch, from: number, count: number): void {
    const flowSpec = this.#flowSpec;
    const elementSpec = this.#elementSpec;
    const flowKey = this.#flowKey;
    const elementKey = this.#elementKey;
    for (let j = 0; j < count; j++) {
      flowSpec.extract(batch, from + j, flowKey, 0);
      elementSpec.extract(batch, from + j, elementKey, 0);
      this.#flowHashes[j] = hashKey(flowKey, 0, this.#flowWords, this.#flowSeed);
      this.#elementHashes[j] = hashKey(elementKey, 0, this.#elementWords, this.#elementSeed);
    }
  }

  /** Offer each packet's element to its flow's bucket in every row. */
  #updateRows(batch: PacketBatch, from: number, count: number): void {
    const flowHashes = this.#flowHashes;
    const elementHashes = this.#elementHashes;
    const rowSeeds = this.#rowSeeds;
    const depth = this.#depth;
    const registers = this.#registers;
    const registerWord = this.#registerWord;
    const registerShift = this.#registerShift;
    const registerMask = this.#registerMask;
    const registerIndexShift = this.#registerIndexShift;
    const registerIndexScale = this.#registerIndexScale;
    const columnShift = this.#columnShift;
    const columnScale = this.#columnScale;
    const width = this.#width;
    const wordsPerBucket = this.#wordsPerBucket;
    const halfBase = this.#halfBase;
    const thresholds = this.#valueThresholds;
    for (let j = 0; j < count; j++) {
      const flowHash = flowHashes[j]!;
      const elementHash = elementHashes[j]!;
      for (let row = 0; row < depth; row++) {
        const rowHash = remix32(flowHash, rowSeeds[row]!);
        const bucket = row * width + (columnShift < 32 ? rowHash >>> columnShift : ((rowHash >>> 0) * columnScale) | 0);
        // Two finalisers of (element hash, row hash): one gives the geometric value, the other the
        // register, so both are independent of each other and of the bucket choice.
        const pairHash = finalize(elementHash ^ rowHash, 0x7feb352d, 0x846ca68b);
        const indexHash = finalize(pairHash, 0x21f0aaad, 0x735a2d97);
        let value: number;
        if (halfBase) {
          value = Math.clz32(pairHash) + 1;
          if (value > registerMask) value = registerMask;
        } else {
          const u = pairHash + 0.5;
          value = 1;
          while (value < registerMask && u < thresholds[value]!) value++;
        }
        const register = registerIndexShift < 32 ? indexHash >>> registerIndexShift : (indexHash * registerIndexScale) | 0;
        const wordAt = bucket * wordsPerBucket + registerWord[register]!;
        const shift = registerShift[register]!;
        const word = registers[wordAt]!;
        const old = (word >>> shift) & registerMask;
        // Not new to this bucket's sampler, or not sampled: nothing to count. The common case.
        if (value <= old) continue;
        registers[wordAt] = (word & ~(registerMask << shift)) | (value << shift);
        this.#sampled(batch, from + j, bucket, old, value);
      }
    }
  }

  reset(): void {
    this.#registers.fill(0);
    // Empty registers: every new element samples (p = 1); no key, counter 0.
    const state = this.#state;
    for (let at = 0; at < state.length; at += 2) {
      state[at] = 1;
      state[at + 1] = 0;
    }
    this.#keys.fill(0);
    this.#random[0] = this.#randomSeed;
    this.#random[1] = 0x9e3779b9;
    this.#random[2] = 0x243f6a88;
    this.#random[3] = 0xb7e15162;
  }

  memoryBytes(): number {
    return this.#registers.byteLength + this.#state.byteLength + this.#keys.byteLength;
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
        if (this.#state[2 * bucket + 1] === 0) continue;
        const at = bucket * flowWords;
        let seenInEarlierRow = false;
        for (let earlier = 0; earlier < row && !seenInEarlierRow; earlier++) {
          const other = this.#bucketOf(keys, at, earlier);
          seenInEarlierRow = this.#state[2 * other + 1] !== 0 && sameKeyAt(keys, other * flowWords, keys, at, flowWords);
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

  /** A register of `bucket` rose from `old` to `value` for packet `packet`: credit 1/p to its flow (HeavyKeeper). */
  #sampled(batch: PacketBatch, packet: number, bucket: number, old: number, value: number): void {
    this.#flowSpec.extract(batch, packet, this.#flowKey, 0);
    const state = this.#state;
    const probability = state[2 * bucket]!;
    state[2 * bucket] = probability - this.#samplingTerm[old]! + this.#samplingTerm[value]!;
    const weight = 1 / probability;
    const keyAt = bucket * this.#flowWords;
    let counter = state[2 * bucket + 1]!;
    if (counter > 0 && sameKeyAt(this.#keys, keyAt, this.#flowKey, 0, this.#flowWords)) {
      state[2 * bucket + 1] = counter + weight;
      return;
    }
    if (counter <= 0) {
      for (let w = 0; w < this.#flowWords; w++) this.#keys[keyAt + w] = this.#flowKey[w]!;
      state[2 * bucket + 1] = weight;
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
        for (let w = 0; w < this.#flowWords; w++) this.#keys[keyAt + w] = this.#flowKey[w]!;
        counter = units + 1;
        break;
      }
    }
    state[2 * bucket + 1] = counter;
  }

  #bucketOf(words: Uint32Array, at: number, row: number): number {
    const rowHash = remix32(hashKey(words, at, this.#flowWords, this.#flowSeed), this.#rowSeeds[row]!);
    return row * this.#width + (this.#columnShift < 32 ? rowHash >>> this.#columnShift : ((rowHash >>> 0) * this.#columnScale) | 0);
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
      const counter = this.#state[2 * bucket + 1]!;
      if (counter > largest && sameKeyAt(this.#keys, bucket * this.#flowWords, words, at, this.#flowWords)) largest = counter;
    }
    if (largest === 0) return 0;
    let sum = 0;
    let rows = 0;
    for (let row = 0; row < this.#depth; row++) {
      const bucket = this.#bucketOf(words, at, row);
      const counter = this.#state[2 * bucket + 1]!;
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

/** `murmur3Words` over a Uint32Array only (a call site of its own, so it stays monomorphic). */
function hashKey(words: Uint32Array, at: number, count: number, seed: number): number {
  let h = seed;
  for (let i = 0; i < count; i++) h = murmur3Mix(h, words[at + i]!);
  return murmur3Finalize(h, count * 4);
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
