/**
 * Heavy hitters by packets and by bytes (`skt_type: 0`, "Count-Min" in the original's config):
 * MV-Sketch (Tang, Huang, Lee; INFOCOM 2019), a d × w table of majority-vote buckets in which the
 * rows take turns deciding which metric owns the bucket's one candidate key.
 *
 * Bucket: a candidate key K, the packet total S_p and the byte total S_b of every packet hashed to
 * the bucket, and a vote counter C. Row r is owned by packets when r is even and by bytes when r is
 * odd. In its rows the owning metric runs the Boyer–Moore majority vote with weight w = 1 (packets)
 * or w = wire length (bytes): K's packets vote C += w, any other key's C −= w, and a vote that
 * would go below zero hands the bucket to the newcomer with C = w − C. The other metric only adds
 * to its total there. Invariants, for the owning metric with total S in a bucket and any key x
 * hashed to it with true weight f(x) there: S ± C is even (each update changes S + C by 0, 2w or
 * 2w − 2C), and f(x) ≤ (S + C)/2 if K = x, f(x) ≤ (S − C)/2 otherwise; so a key holding more than
 * half of the owner's total is the candidate. For the non-owning metric the bucket's total is a
 * Count-Min bound, f(x) ≤ S. A key's estimate for a metric is the minimum of its bound over the
 * rows, tightened by the wire-length limits below: an upper bound, never an underestimate, and an
 * integer. Heavy hitters for a metric are every distinct candidate of ANY row whose estimate for
 * that metric reaches the threshold: a byte row's candidate may well be a packet heavy hitter too
 * (one large flow usually wins both votes), and it is found either way.
 *
 * Wire-length limits: the sketch also keeps the smallest and the largest wire length, L and M,
 * ingested since the last reset (two compares per packet, outside the row loop); they tie the two
 * metrics together. With P and B a key's packet and byte bounds so far, the other keys of its
 * bucket in ANY row sent at least S_b − B bytes, so at least ⌈(S_b − B)/M⌉ packets, and at least
 * S_p − P packets, so at least L·(S_p − P) bytes; hence f_p ≤ S_p − ⌈(S_b − B)/M⌉ and
 * f_b ≤ S_b − L·(S_p − P), and from the key's own packets f_p ≤ ⌊B/L⌋ and f_b ≤ M·P. This mostly
 * tightens the non-owning metric's bucket total: in a byte row the packet bound of the candidate
 * drops to S_p − ⌈(S_b − C)/(2M)⌉ or below (B ≤ (S_b + C)/2), and that of any other key to
 * S_p − ⌈(S_b + C)/(2M)⌉ or below; in a packet row the byte bound of the candidate drops to
 * S_b − L·(S_p − C)/2 or below, and that of any other key to S_b − L·(S_p + C)/2 or below. Only
 * upper bounds of the key and lower bounds of the others enter (in whole packets, as the true
 * counts are), so the result is still an upper bound, and an integer. The others' bytes convert
 * into packets at the LARGEST length, so a bucket of small packets gains little, and one jumbo or
 * tiny frame loosens the limits for the rest of the period; with one length for every packet, bytes
 * are exactly L × packets and so are the estimates.
 *
 * Why one candidate per bucket, and why rows alternate: a key and its vote are what make a heavy
 * hitter findable and its bound tight, and a bucket with one key can vote on one metric only. The
 * original kept one key per bucket with a packet and a byte counter, both updated with the same
 * key, which breaks the invariant for the second metric: when a flow of many small packets (a SYN
 * flood) wins the packet vote it also takes over the byte counter that a flow of few large packets
 * had earned, so neither bound holds and byte heavy hitters are lost or misattributed. Here a
 * bucket's vote concerns one metric only, so each metric's invariant holds exactly in its own rows;
 * alternating the owner row by row gives every key ⌈d/2⌉ packet rows and ⌊d/2⌋ byte rows, so a byte
 * heavy hitter made of few large packets, outvoted by a flood of small ones in its packet row, still
 * wins its byte row if it holds the byte majority there.
 *
 * The trade-off against a separate candidate and vote per metric in every bucket (the previous
 * design, 72 bytes per bucket): each metric has half the voting rows, one instead of two at the
 * default depth 2, and the other row adds only the bucket's total (less what the wire-length limits
 * say the other keys sent), a loose bound. A flow outvoted in its one row of a metric (a larger
 * flow of that metric shares the bucket) is missed unless it is a candidate in another row, and a
 * non-candidate's estimate rests on a single (S − C)/2. The bench trace (`bench/sketch-bench.ts`:
 * 5M packets, Zipf sources, spreaders, a SYN flood) shows the cost. At the default thresholds (1024
 * packets, 1 MiB) F1 is 0.99 by packets (1.0 before) and 1.0 by bytes. At a quarter of them (256
 * packets, 256 KiB, with 610 packets hashed to an average bucket) F1 falls from 0.99 to 0.95 by
 * packets, mostly false positives among byte-row candidates whose packet estimate is only a
 * (S − C)/2 and the byte row's packet total less the others' bytes over M, and from 0.997 to 0.984
 * by bytes (0.935 and 0.981 without the wire-length limits). In exchange the table is 45 % smaller
 * and the update about a quarter cheaper (one vote per row instead of two). Reporting only the
 * candidates of a metric's own rows, or choosing the owner per bucket instead of per row, measured
 * no better overall.
 *
 * Depth 1: the single row is owned by packets, so byte heavy hitters come only from keys that hold
 * the packet majority of their bucket (their byte estimate is at most the bucket's S_b less L bytes
 * for each of the (S_p − C)/2 packets the others sent at least: an upper bound that may be loose).
 * A flow of few large packets sharing its bucket with many small ones is missed by bytes. Use
 * depth ≥ 2 whenever bytes matter.
 *
 * Keys: for a key of one address (SrcIP alone or DstIP alone, without Protocol) the candidate is just
 * the 4 address words. IPv4 addresses are held IPv4-mapped (`::ffff:a.b.c.d`, see the packet model),
 * so the family word of the `KeySpec` layout adds nothing, except in one case: an IPv6 packet whose
 * address is literally `::ffff:a.b.c.d` (addresses meant to represent IPv4 nodes inside IPv6
 * software, RFC 4291 §2.5.5.2, not normally seen on the wire) is counted here as IPv4 a.b.c.d and
 * reported as the dotted quad. The exact tasks keep the two apart. Any other key is the `KeySpec`
 * words (the meta word holds family and protocol), padded with a zero word to a multiple of 8 bytes
 * so the doubles align. Either way every key word is written and the pad is never written, so a key
 * is fully defined. Rows hash exactly the stored words, so a key read back from a bucket finds its
 * buckets in the other rows.
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
 * Memory, fixed by width × depth: per bucket the key and three Float64 counters (doubles stay exact
 * to 2^53 packets or bytes, so no period is long enough to wrap them, unlike 32-bit counters). For a
 * one-address key that is 16 + 24 = 40 bytes per bucket, 655,360 bytes (640 KiB) for the default
 * 8192 × 2; SrcIP + Protocol takes 48 bytes, a 5-tuple 64. Add the scratch key and the row seeds.
 */
import type { PacketBatch } from '../../model/packet.js';
import { KeySpec } from '../../model/flow-key.js';
import { deriveSeed, murmur3Finalize, murmur3Mix, rangeShift, remix32 } from '../../model/hash.js';
import type { HeavyHitterSnapshot, SketchEntry, SketchTask, SketchTaskParams } from './sketch-contract.js';
import { compareEntries } from './sketch-contract.js';

const TWO_POW_32 = 4294967296;

/**
 * Bucket record: the candidate key (padded to an even number of 32-bit words), then three doubles,
 * so one update touches one 40-byte record. The metric indices double as the owner of a row
 * (`row & 1`) and as the offset of that metric's total.
 */
const PACKETS = 0;
const BYTES = 1;
const VOTE = 2;
const COUNTERS = 3;

/** Seed index of the key hash, far from the row indices 0..depth-1 (the rows' mixing seeds). */
const PURPOSE_KEY = 0x100;

/** Key shapes with a fast path: one address field (and optionally Protocol). */
const SHAPE_GENERAL = 0;
const SHAPE_SRC_ADDRESS = 1;
const SHAPE_DST_ADDRESS = 2;

/** The words of a stored key and of its record, for a flow key over `spec`. */
function layoutOf(spec: KeySpec): { keyWords: number; recordWords: number; addressOnly: boolean } {
  // One address and nothing else but the always-present meta word: the meta word is dropped.
  const addressOnly = spec.words === 5 && !spec.hasProtocol && spec.hasSrcIP !== spec.hasDstIP;
  const keyWords = addressOnly ? 4 : spec.words;
  return { keyWords, recordWords: keyWords + (keyWords & 1) + 2 * COUNTERS, addressOnly };
}

export class HeavyHitterSketch implements SketchTask {
  readonly name: string;
  readonly #params: SketchTaskParams;
  readonly #spec: KeySpec;
  /** Words of a stored key: 4 for a one-address key, else `KeySpec.words`; the words hashed and compared. */
  readonly #keyWords: number;
  /** The stored key is the address alone (its `KeySpec` meta word dropped). */
  readonly #addressOnly: boolean;
  readonly #width: number;
  readonly #depth: number;
  /** A row hash's column is `floor(hash × width / 2^32)`: `hash >>> shift`, or `× scale` (see `rangeShift`). */
  readonly #shift: number;
  readonly #scale: number;
  readonly #keySeed: number;
  readonly #rowSeeds: Int32Array;
  readonly #shape: number;
  /** Record size in 32-bit words and in doubles, and the index of the first counter in doubles. */
  readonly #recordWords: number;
  readonly #recordDoubles: number;
  readonly #countersAt: number;
  /** The table, viewed as key words and as counters. */
  readonly #table: ArrayBuffer;
  readonly #keys: Uint32Array;
  readonly #counters: Float64Array;
  /** A key in the `KeySpec` layout: the current packet's (general path), or a candidate being reported. */
  readonly #key: Uint32Array;
  /** The smallest and largest wire length ingested since the last reset (Infinity and 0 while empty). */
  #minLength = Infinity;
  #maxLength = 0;
  /** What `#bound` found: a key's packet and byte estimates. */
  #packetBound = 0;
  #byteBound = 0;

  constructor(params: SketchTaskParams) {
    this.name = params.name;
    this.#params = params;
    this.#spec = new KeySpec(params.flowFields);
    const layout = layoutOf(this.#spec);
    this.#keyWords = layout.keyWords;
    this.#addressOnly = layout.addressOnly;
    this.#width = params.width;
    this.#depth = params.depth;
    this.#shift = rangeShift(params.width);
    this.#scale = params.width / TWO_POW_32;
    this.#keySeed = deriveSeed(params.seed, PURPOSE_KEY);
    this.#rowSeeds = new Int32Array(params.depth);
    for (let row = 0; row < params.depth; row++) this.#rowSeeds[row] = deriveSeed(params.seed, row);
    const spec = this.#spec;
    const oneAddress = !spec.hasSrcPort && !spec.hasDstPort && spec.hasSrcIP !== spec.hasDstIP;
    this.#shape = !oneAddress ? SHAPE_GENERAL : spec.hasSrcIP ? SHAPE_SRC_ADDRESS : SHAPE_DST_ADDRESS;
    this.#recordWords = layout.recordWords;
    this.#recordDoubles = layout.recordWords / 2;
    this.#countersAt = this.#recordDoubles - COUNTERS;
    this.#table = new ArrayBuffer(params.width * params.depth * layout.recordWords * 4);
    this.#keys = new Uint32Array(this.#table);
    this.#counters = new Float64Array(this.#table);
    this.#key = new Uint32Array(spec.words);
  }

  /** The bytes a heavy-hitter sketch with these parameters allocates (table, key scratch, row seeds). */
  static memoryBytesFor(params: Pick<SketchTaskParams, 'width' | 'depth' | 'flowFields'>): number {
    const spec = new KeySpec(params.flowFields);
    return params.width * params.depth * layoutOf(spec).recordWords * 4 + spec.words * 4 + params.depth * 4;
  }

  ingest(batch: PacketBatch): void {
    if (this.#shape === SHAPE_SRC_ADDRESS) this.#ingestAddress(batch, batch.srcAddr);
    else if (this.#shape === SHAPE_DST_ADDRESS) this.#ingestAddress(batch, batch.dstAddr);
    else this.#ingestGeneral(batch);
  }

  /**
   * The fast path for a key of one address: the 4 address words, plus the `KeySpec` meta word
   * `family << 8 | protocol` when Protocol is a key field, read straight from the batch into locals
   * and hashed inline (the same words, so the same hash, as `hashKey` of the stored key).
   */
  #ingestAddress(batch: PacketBatch, address: Uint32Array): void {
    const count = batch.count;
    const family = batch.family;
    const protocol = batch.protocol;
    const wireLength = batch.wireLength;
    const withMeta = !this.#addressOnly;
    // `| 0`: an int32 local, not a tagged number converted on every use.
    const keySeed = this.#keySeed | 0;
    const rowSeeds = this.#rowSeeds;
    const depth = this.#depth;
    const width = this.#width;
    const shift = this.#shift;
    const scale = this.#scale;
    const keys = this.#keys;
    const counters = this.#counters;
    const recordWords = this.#recordWords;
    const recordDoubles = this.#recordDoubles;
    const countersAt = this.#countersAt;
    let minLength = this.#minLength;
    let maxLength = this.#maxLength;
    for (let i = 0; i < count; i++) {
      const a = i * 4;
      const k0 = address[a]!;
      const k1 = address[a + 1]!;
      const k2 = address[a + 2]!;
      const k3 = address[a + 3]!;
      let h = murmur3Mix(keySeed, k0);
      h = murmur3Mix(h, k1);
      h = murmur3Mix(h, k2);
      h = murmur3Mix(h, k3);
      // No Protocol in the key (the usual case): the family and protocol columns are never read.
      const k4 = withMeta ? (family[i]! << 8) | protocol[i]! : 0;
      const hash = withMeta ? murmur3Finalize(murmur3Mix(h, k4), 20) : murmur3Finalize(h, 16);
      const bytes = wireLength[i]!;
      if (bytes < minLength) minLength = bytes;
      if (bytes > maxLength) maxLength = bytes;
      for (let row = 0; row < depth; row++) {
        const rowHash = remix32(hash, rowSeeds[row]!);
        const bucket = row * width + (shift < 32 ? rowHash >>> shift : ((rowHash >>> 0) * scale) | 0);
        const p = bucket * recordWords;
        const c = bucket * recordDoubles + countersAt;
        counters[c + PACKETS]! += 1;
        counters[c + BYTES]! += bytes;
        // Even rows vote by packets, odd rows by bytes.
        const weight = (row & 1) === PACKETS ? 1 : bytes;
        let vote = counters[c + VOTE]!;
        // The last address word first: it tells IPv4 keys (all 0, 0, 0xffff, v4) apart.
        if (keys[p + 3] === k3 && keys[p] === k0 && keys[p + 1] === k1 && keys[p + 2] === k2 && (!withMeta || keys[p + 4] === k4)) {
          vote += weight;
        } else if (vote >= weight) {
          vote -= weight;
        } else {
          // vote − weight < 0: the newcomer takes the bucket with the surplus weight − vote.
          keys[p] = k0;
          keys[p + 1] = k1;
          keys[p + 2] = k2;
          keys[p + 3] = k3;
          if (withMeta) keys[p + 4] = k4;
          vote = weight - vote;
        }
        counters[c + VOTE] = vote;
      }
    }
    this.#minLength = minLength;
    this.#maxLength = maxLength;
  }

  /** Any other key: extracted by `KeySpec` into the scratch key, then the same update word by word. */
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
    const countersAt = this.#countersAt;
    const wireLength = batch.wireLength;
    let minLength = this.#minLength;
    let maxLength = this.#maxLength;
    for (let i = 0; i < count; i++) {
      spec.extract(batch, i, key, 0);
      const hash = hashKey(key, 0, keyWords, keySeed);
      const bytes = wireLength[i]!;
      if (bytes < minLength) minLength = bytes;
      if (bytes > maxLength) maxLength = bytes;
      for (let row = 0; row < depth; row++) {
        const rowHash = remix32(hash, rowSeeds[row]!);
        const bucket = row * width + (shift < 32 ? rowHash >>> shift : ((rowHash >>> 0) * scale) | 0);
        const p = bucket * recordWords;
        const c = bucket * recordDoubles + countersAt;
        counters[c + PACKETS]! += 1;
        counters[c + BYTES]! += bytes;
        const weight = (row & 1) === PACKETS ? 1 : bytes;
        let vote = counters[c + VOTE]!;
        if (sameKey(keys, p, key, 0, keyWords)) {
          vote += weight;
        } else if (vote >= weight) {
          vote -= weight;
        } else {
          for (let w = 0; w < keyWords; w++) keys[p + w] = key[w]!;
          vote = weight - vote;
        }
        counters[c + VOTE] = vote;
      }
    }
    this.#minLength = minLength;
    this.#maxLength = maxLength;
  }

  reset(): void {
    new Uint8Array(this.#table).fill(0);
    this.#minLength = Infinity;
    this.#maxLength = 0;
  }

  memoryBytes(): number {
    return this.#table.byteLength + this.#key.byteLength + this.#rowSeeds.byteLength;
  }

  /**
   * Estimated packets of `key`, a key in the `KeySpec` layout (an upper bound; exact when the key
   * owns its buckets). For a one-address key the meta word is ignored, as in the table.
   */
  estimateCount(key: Uint32Array): number {
    this.#bound(key, 0, hashKey(key, 0, this.#keyWords, this.#keySeed));
    return this.#packetBound;
  }

  /** Estimated bytes of `key`, a key in the `KeySpec` layout (an upper bound). */
  estimateSize(key: Uint32Array): number {
    this.#bound(key, 0, hashKey(key, 0, this.#keyWords, this.#keySeed));
    return this.#byteBound;
  }

  snapshot(): HeavyHitterSnapshot {
    const { byCount, bySize } = this.#heavyHitters(this.#params.countThreshold, this.#params.sizeThreshold);
    return {
      kind: 'heavy_hitter',
      name: this.name,
      flowFields: [...this.#spec.fields],
      memoryBytes: this.memoryBytes(),
      byCount,
      bySize,
    };
  }

  /** The bucket of row `row` for a key whose hash is `hash`. */
  #bucketOf(hash: number, row: number): number {
    const rowHash = remix32(hash, this.#rowSeeds[row]!);
    return row * this.#width + (this.#shift < 32 ? rowHash >>> this.#shift : ((rowHash >>> 0) * this.#scale) | 0);
  }

  /**
   * The packet and byte estimates of the key at `words[at..]` (into `#packetBound`, `#byteBound`):
   * first each row's own bounds, (S ± C)/2 for the metric that owns the row and S for the other,
   * then the wire-length limits of the file comment. Why the second pass is safe: it subtracts only
   * what the OTHER keys of a bucket must have sent, given upper bounds P ≤ S_p and B ≤ S_b of this
   * key (so no term goes negative); Math.ceil and Math.floor round to whole packets, which the true
   * counts are.
   */
  #bound(words: Uint32Array, at: number, hash: number): void {
    const counters = this.#counters;
    const depth = this.#depth;
    let packets = Infinity;
    let bytes = Infinity;
    for (let row = 0; row < depth; row++) {
      const bucket = this.#bucketOf(hash, row);
      const c = bucket * this.#recordDoubles + this.#countersAt;
      const vote = sameKey(this.#keys, bucket * this.#recordWords, words, at, this.#keyWords) ? counters[c + VOTE]! : -counters[c + VOTE]!;
      const rowPackets = (row & 1) === PACKETS ? (counters[c + PACKETS]! + vote) / 2 : counters[c + PACKETS]!;
      const rowBytes = (row & 1) === BYTES ? (counters[c + BYTES]! + vote) / 2 : counters[c + BYTES]!;
      if (rowPackets < packets) packets = rowPackets;
      if (rowBytes < bytes) bytes = rowBytes;
    }
    const minLength = this.#minLength;
    const maxLength = this.#maxLength;
    // Nothing ingested (every total is 0), or only zero-length packets: no limits to apply.
    if (maxLength > 0) {
      for (let row = 0; row < depth; row++) {
        const c = this.#bucketOf(hash, row) * this.#recordDoubles + this.#countersAt;
        const rowPackets = counters[c + PACKETS]! - Math.ceil((counters[c + BYTES]! - bytes) / maxLength);
        if (rowPackets < packets) packets = rowPackets;
        const rowBytes = counters[c + BYTES]! - minLength * (counters[c + PACKETS]! - packets);
        if (rowBytes < bytes) bytes = rowBytes;
      }
      if (minLength > 0 && Math.floor(bytes / minLength) < packets) packets = Math.floor(bytes / minLength);
      if (maxLength * packets < bytes) bytes = maxLength * packets;
    }
    this.#packetBound = packets;
    this.#byteBound = bytes;
  }

  /**
   * Every candidate of every row (each once, from the first row that holds it) whose estimate
   * reaches a threshold, by packets and by bytes.
   */
  #heavyHitters(countThreshold: number, sizeThreshold: number): { byCount: SketchEntry[]; bySize: SketchEntry[] } {
    const keys = this.#keys;
    const counters = this.#counters;
    const keyWords = this.#keyWords;
    const byCount: SketchEntry[] = [];
    const bySize: SketchEntry[] = [];
    for (let row = 0; row < this.#depth; row++) {
      for (let column = 0; column < this.#width; column++) {
        const bucket = row * this.#width + column;
        // S_p = 0: nothing ever hashed here, the zero key is not a candidate.
        if (counters[bucket * this.#recordDoubles + this.#countersAt + PACKETS] === 0) continue;
        const at = bucket * this.#recordWords;
        const hash = hashKey(keys, at, keyWords, this.#keySeed);
        let seenInEarlierRow = false;
        for (let earlier = 0; earlier < row && !seenInEarlierRow; earlier++) {
          const other = this.#bucketOf(hash, earlier);
          seenInEarlierRow = counters[other * this.#recordDoubles + this.#countersAt + PACKETS] !== 0 && sameKey(keys, other * this.#recordWords, keys, at, keyWords);
        }
        if (seenInEarlierRow) continue;
        this.#bound(keys, at, hash);
        const packets = this.#packetBound;
        const bytes = this.#byteBound;
        if (packets >= countThreshold && packets > 0) byCount.push(this.#entry(at, packets));
        if (bytes >= sizeThreshold && bytes > 0) bySize.push(this.#entry(at, bytes));
      }
    }
    return { byCount: byCount.sort(compareEntries), bySize: bySize.sort(compareEntries) };
  }

  /** The candidate at `#keys[at..]` as a reported entry (each entry gets its own flow object). */
  #entry(at: number, value: number): SketchEntry {
    const spec = this.#spec;
    if (!this.#addressOnly) return { flow: spec.toObject(this.#keys, at), flowText: spec.toText(this.#keys, at), value };
    // Rebuild the `KeySpec` layout: the address, then the meta word with the family the stored
    // words imply (IPv4-mapped means IPv4, see the file comment).
    const key = this.#key;
    for (let w = 0; w < 4; w++) key[w] = this.#keys[at + w]!;
    const ipv4 = key[0] === 0 && key[1] === 0 && key[2] === 0xffff;
    key[4] = (ipv4 ? 4 : 6) << 8;
    return { flow: spec.toObject(key, 0), flowText: spec.toText(key, 0), value };
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
