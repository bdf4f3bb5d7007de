/**
 * The exact task's flow table: open addressing over typed arrays, no Map and no string keys, so
 * it holds tens of millions of flows (a V8 Map caps at 16.7M entries) at a fixed, small cost per flow.
 *
 * Layout: a power-of-two `#slots` index (entry number + 1, 0 = empty; linear probing, load ≤ 0.5)
 * points into dense, insertion-ordered entry columns that grow by 1.5×. Dense entries make
 * snapshots a straight scan and keep the index small (4 bytes per slot).
 *
 * Per entry: key words, its 32-bit hash (checked before comparing keys), packets and bytes
 * (Float64: exact integers up to 2^53), and first/last seen as nanoseconds relative to the table's
 * `#baseSeconds` (Float64: exact to the nanosecond for 104 days after the base, the first packet's
 * second; beyond that the resolution degrades to 2 ns, 4 ns, … — never the order of min/max).
 */
import type { PacketBatch } from '../../model/packet.js';
import type { FlowColumns } from '../../model/snapshot.js';
import type { KeySpec } from '../flow-key.js';
import { murmur3Words } from '../hash.js';

const INITIAL_ENTRIES = 1024;
const NANOS_PER_SECOND = 1e9;

/** One flow as plain data (snapshots, reports, tests). */
export interface FlowRecord {
  packets: number;
  bytes: number;
  /** First packet time: whole seconds since the epoch and nanoseconds within the second. */
  firstSeconds: number;
  firstNanos: number;
  lastSeconds: number;
  lastNanos: number;
}

/**
 * Which of `partitions` worker partitions owns a key hash. The hash is remixed first: its low bits
 * index the table, and partitioning on the same bits would leave half of every table's slots empty.
 */
export function partitionOf(hash: number, partitions: number): number {
  return (Math.imul(hash ^ (hash >>> 16), 0x45d9f3b) >>> 0) % partitions;
}

export class ExactFlowTable {
  readonly spec: KeySpec;
  readonly #keyWords: number;
  readonly #seed: number;
  #slots: Int32Array;
  #mask: number;
  #count = 0;
  #entryCapacity: number;
  #keys: Uint32Array;
  #hashes: Uint32Array;
  #packets: Float64Array;
  #bytes: Float64Array;
  #first: Float64Array;
  #last: Float64Array;
  /** Whole second subtracted from every timestamp; NaN until the first packet. */
  #baseSeconds = Number.NaN;
  /** Scratch key of the packet being looked up. */
  readonly #probe: Uint32Array;

  constructor(spec: KeySpec, seed = 0x5eed) {
    this.spec = spec;
    this.#keyWords = spec.words;
    this.#seed = seed;
    this.#probe = new Uint32Array(spec.words);
    this.#entryCapacity = INITIAL_ENTRIES;
    this.#slots = new Int32Array(INITIAL_ENTRIES * 2);
    this.#mask = this.#slots.length - 1;
    this.#keys = new Uint32Array(INITIAL_ENTRIES * spec.words);
    this.#hashes = new Uint32Array(INITIAL_ENTRIES);
    this.#packets = new Float64Array(INITIAL_ENTRIES);
    this.#bytes = new Float64Array(INITIAL_ENTRIES);
    this.#first = new Float64Array(INITIAL_ENTRIES);
    this.#last = new Float64Array(INITIAL_ENTRIES);
  }

  /** Number of distinct flows. */
  get size(): number {
    return this.#count;
  }

  /** Bytes held by the table's arrays. */
  memoryBytes(): number {
    return (
      this.#slots.byteLength +
      this.#keys.byteLength +
      this.#hashes.byteLength +
      this.#packets.byteLength +
      this.#bytes.byteLength +
      this.#first.byteLength +
      this.#last.byteLength
    );
  }

  /**
   * Account every packet of the batch. With `partitions > 1`, only the packets whose key hash falls
   * in `partition` are taken (the worker pool splits one task's keys across threads this way).
   */
  ingest(batch: PacketBatch, partition = 0, partitions = 1): void {
    const n = batch.count;
    if (n === 0) return;
    if (Number.isNaN(this.#baseSeconds)) this.#baseSeconds = batch.tsSeconds[0]!;
    const spec = this.spec;
    const probe = this.#probe;
    const words = this.#keyWords;
    const seed = this.#seed;
    const base = this.#baseSeconds;
    for (let i = 0; i < n; i++) {
      spec.extract(batch, i, probe, 0);
      const hash = murmur3Words(probe, 0, words, seed);
      if (partitions > 1 && partitionOf(hash, partitions) !== partition) continue;
      const entry = this.#findOrInsert(hash);
      const time = (batch.tsSeconds[i]! - base) * NANOS_PER_SECOND + batch.tsNanos[i]!;
      const length = batch.wireLength[i]!;
      if (this.#packets[entry] === 0) {
        this.#first[entry] = time;
        this.#last[entry] = time;
      } else {
        // min/max, not "last processed": capture files are not always in time order.
        if (time < this.#first[entry]!) this.#first[entry] = time;
        if (time > this.#last[entry]!) this.#last[entry] = time;
      }
      this.#packets[entry]! += 1;
      this.#bytes[entry]! += length;
    }
  }

  /** The flow with the given key words, or undefined. */
  get(key: ArrayLike<number>): FlowRecord | undefined {
    for (let w = 0; w < this.#keyWords; w++) this.#probe[w] = key[w]!;
    const hash = murmur3Words(this.#probe, 0, this.#keyWords, this.#seed);
    const entry = this.#find(hash);
    return entry < 0 ? undefined : this.#record(entry);
  }

  /** Forget every flow (period reset); keeps the allocated capacity. */
  clear(): void {
    this.#slots.fill(0);
    this.#count = 0;
    this.#packets.fill(0);
    this.#baseSeconds = Number.NaN;
  }

  /** Copy the table into fresh, transferable columns (a read-only snapshot). */
  toColumns(): FlowColumns {
    const n = this.#count;
    const kw = this.#keyWords;
    const out: FlowColumns = {
      count: n,
      keyWords: kw,
      keys: this.#keys.slice(0, n * kw),
      packets: this.#packets.slice(0, n),
      bytes: this.#bytes.slice(0, n),
      firstSeconds: new Float64Array(n),
      firstNanos: new Uint32Array(n),
      lastSeconds: new Float64Array(n),
      lastNanos: new Uint32Array(n),
    };
    for (let e = 0; e < n; e++) {
      this.#split(this.#first[e]!, out.firstSeconds, out.firstNanos, e);
      this.#split(this.#last[e]!, out.lastSeconds, out.lastNanos, e);
    }
    return out;
  }

  #split(relative: number, seconds: Float64Array, nanos: Uint32Array, at: number): void {
    const whole = Math.floor(relative / NANOS_PER_SECOND);
    seconds[at] = this.#baseSeconds + whole;
    nanos[at] = relative - whole * NANOS_PER_SECOND;
  }

  #record(entry: number): FlowRecord {
    const seconds = new Float64Array(2);
    const nanos = new Uint32Array(2);
    this.#split(this.#first[entry]!, seconds, nanos, 0);
    this.#split(this.#last[entry]!, seconds, nanos, 1);
    return {
      packets: this.#packets[entry]!,
      bytes: this.#bytes[entry]!,
      firstSeconds: seconds[0]!,
      firstNanos: nanos[0]!,
      lastSeconds: seconds[1]!,
      lastNanos: nanos[1]!,
    };
  }

  #sameKey(entry: number): boolean {
    const kw = this.#keyWords;
    const at = entry * kw;
    for (let w = 0; w < kw; w++) if (this.#keys[at + w] !== this.#probe[w]) return false;
    return true;
  }

  #find(hash: number): number {
    let slot = hash & this.#mask;
    for (;;) {
      const stored = this.#slots[slot]!;
      if (stored === 0) return -1;
      const entry = stored - 1;
      if (this.#hashes[entry] === hash && this.#sameKey(entry)) return entry;
      slot = (slot + 1) & this.#mask;
    }
  }

  #findOrInsert(hash: number): number {
    let slot = hash & this.#mask;
    for (;;) {
      const stored = this.#slots[slot]!;
      if (stored === 0) break;
      const entry = stored - 1;
      if (this.#hashes[entry] === hash && this.#sameKey(entry)) return entry;
      slot = (slot + 1) & this.#mask;
    }
    const entry = this.#count;
    if (entry === this.#entryCapacity) {
      this.#growEntries();
    }
    if ((entry + 1) * 2 > this.#slots.length) {
      this.#growSlots();
      // the slot found above is stale after a rehash
      slot = hash & this.#mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & this.#mask;
    }
    this.#count = entry + 1;
    this.#slots[slot] = entry + 1;
    this.#hashes[entry] = hash;
    this.#keys.set(this.#probe, entry * this.#keyWords);
    this.#packets[entry] = 0;
    this.#bytes[entry] = 0;
    return entry;
  }

  #growEntries(): void {
    const capacity = Math.ceil(this.#entryCapacity * 1.5);
    const grow = <T extends Float64Array | Uint32Array>(old: T, make: (n: number) => T, perEntry = 1): T => {
      const next = make(capacity * perEntry);
      next.set(old);
      return next;
    };
    this.#keys = grow(this.#keys, (n) => new Uint32Array(n), this.#keyWords);
    this.#hashes = grow(this.#hashes, (n) => new Uint32Array(n));
    this.#packets = grow(this.#packets, (n) => new Float64Array(n));
    this.#bytes = grow(this.#bytes, (n) => new Float64Array(n));
    this.#first = grow(this.#first, (n) => new Float64Array(n));
    this.#last = grow(this.#last, (n) => new Float64Array(n));
    this.#entryCapacity = capacity;
  }

  #growSlots(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let e = 0; e < this.#count; e++) {
      let slot = this.#hashes[e]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = e + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}
