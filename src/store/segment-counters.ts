/**
 * Each stored flow row carries, besides the flow's cumulative counters, its **growth since the
 * flow's previous row of the same segment** (DeltaBytes/DeltaPackets; docs/query.md): range totals,
 * top-N and series then add up rows instead of finding every segment's newest state, which on
 * 10M rows is the difference between a plain column sum and a 10M-group aggregation.
 *
 * A store remembers, per task, the counters it last stored for every flow of the current segment
 * (this run, this period) and subtracts. Written here rather than with a Map: it runs once per
 * stored row (millions per snapshot) on the writer's hot path, and a V8 Map caps at 16.7M entries:
 * typed-array open addressing, with shortcuts past the hash lookup (see SegmentCounters) that
 * bring a row from about 300 ns to 30–70 ns on a million-flow segment.
 *
 * A write that fails must not advance the counters (its rows are written again, by the spool or
 * the next snapshot): `deltas()` only looks up and inserts zeroed entries; `commit()` after a
 * successful write stores the new counters.
 */
import type { FlowColumns } from '../model/snapshot.js';
import { murmur3Words } from '../model/hash.js';

const SEED = 0x5e6d3e47;
const INITIAL_ENTRIES = 1024;

/** One snapshot's growth per row, aligned with the snapshot's flow index. */
export interface SnapshotDeltas {
  /** Per flow: packets and bytes grown since its previous stored row (0 when not stored now). */
  packets: Float64Array;
  bytes: Float64Array;
  /** Per flow: its counter entry, -1 when the row is not stored by this write. */
  entries: Int32Array;
  /** Sums over the stored rows, and how many of them grew (packets > 0). */
  totalPackets: number;
  totalBytes: number;
  growing: number;
}

/**
 * The newest stored counters of every flow of one task's current segment.
 *
 * Hash lookups are the slow part: a million-flow segment's slots are 8 MiB, and a random read in
 * them costs about 150 ns on the project's VM, more than everything else a row costs. Shortcuts
 * avoid most of them, without changing any result (a shortcut's entry is used only when its key
 * is the flow's):
 * - a snapshot holds each key once, so into an empty segment (a period's first snapshot) every
 *   flow is appended without a lookup, and the slots are filled only when a lookup is needed;
 * - snapshots taken from an engine carry a per-flow id that stays the same within the period
 *   (FlowColumns.ids): the entry last seen with that id is compared first — sequential reads,
 *   even for delta snapshots that skip most flows. Snapshots without ids (a spool file of an
 *   older build) take the hash lookup.
 */
export class SegmentCounters {
  readonly keyWords: number;
  #slots = new Int32Array(INITIAL_ENTRIES * 2);
  #mask = INITIAL_ENTRIES * 2 - 1;
  #keys: Uint32Array;
  #packets = new Float64Array(INITIAL_ENTRIES);
  #bytes = new Float64Array(INITIAL_ENTRIES);
  #count = 0;
  /** Entries [0, #indexed) are in the slots. */
  #indexed = 0;
  /** Per entry its key's hash once it is in the slots: growing the slots does not hash keys again. */
  #hashes = new Uint32Array(INITIAL_ENTRIES);
  /** Per FlowColumns id: its entry + 1 (0: none yet). */
  #byId = new Int32Array(INITIAL_ENTRIES);

  constructor(keyWords: number) {
    this.keyWords = keyWords;
    this.#keys = new Uint32Array(INITIAL_ENTRIES * keyWords);
  }

  /** Flows remembered. */
  get size(): number {
    return this.#count;
  }

  /** A new segment (period or run): every flow starts again from zero. */
  clear(): void {
    this.#slots.fill(0);
    this.#count = 0;
    this.#indexed = 0;
    this.#byId.fill(0);
  }

  /**
   * The growth of every flow with `changedEpoch > since` (all of them when `since` is -1) over
   * its counters last committed; a flow counted lower than before (a replay's early snapshot)
   * grew by 0. Does not change the stored counters, only adds zeroed entries for new flows.
   */
  deltas(flows: FlowColumns, since: number): SnapshotDeltas {
    if (flows.keyWords !== this.keyWords) throw new Error(`segment counters of ${this.keyWords}-word keys got ${flows.keyWords}-word keys`);
    const n = flows.count;
    const out: SnapshotDeltas = { packets: new Float64Array(n), bytes: new Float64Array(n), entries: new Int32Array(n).fill(-1), totalPackets: 0, totalBytes: 0, growing: 0 };
    const kw = this.keyWords;
    const keys = flows.keys;
    const empty = this.#count === 0;
    const ids = flows.ids;
    // ids are about entries × partitions; a larger one (wrapped, or not an engine's) goes without a hint
    const idLimit = Math.max(8 * (this.#count + n), 1 << 20);
    for (let f = 0; f < n; f++) {
      if (flows.changedEpoch[f]! <= since) continue;
      const at = f * kw;
      const id = ids === undefined ? idLimit : ids[f]!;
      let entry = -1;
      if (id < idLimit) {
        if (id >= this.#byId.length) this.#growIds(id);
        entry = this.#byId[id]! - 1;
        if (entry >= 0 && !this.#same(entry, keys, at)) entry = -1;
      }
      if (entry < 0) {
        entry = empty ? this.#append(keys, at) : this.#findOrInsert(keys, at);
        if (id < idLimit) this.#byId[id] = entry + 1;
      }
      const dp = flows.packets[f]! - this.#packets[entry]!;
      const db = flows.bytes[f]! - this.#bytes[entry]!;
      out.entries[f] = entry;
      if (dp > 0) {
        out.packets[f] = dp;
        out.totalPackets += dp;
        out.growing++;
      }
      if (db > 0) {
        out.bytes[f] = db;
        out.totalBytes += db;
      }
    }
    return out;
  }

  /** Remember the counters of the rows `deltas` prepared, once they are stored. */
  commit(flows: FlowColumns, deltas: SnapshotDeltas): void {
    const entries = deltas.entries;
    for (let f = 0; f < flows.count; f++) {
      const entry = entries[f]!;
      if (entry < 0) continue;
      if (flows.packets[f]! > this.#packets[entry]!) this.#packets[entry] = flows.packets[f]!;
      if (flows.bytes[f]! > this.#bytes[entry]!) this.#bytes[entry] = flows.bytes[f]!;
    }
  }

  /**
   * Counters of a flow already stored by someone else (read back from the store): a store that
   * meets a segment it did not write itself, e.g. a spooled snapshot of an earlier process.
   */
  remember(keys: Uint32Array, at: number, packets: number, bytes: number): void {
    const entry = this.#findOrInsert(keys, at);
    if (packets > this.#packets[entry]!) this.#packets[entry] = packets;
    if (bytes > this.#bytes[entry]!) this.#bytes[entry] = bytes;
  }

  #same(entry: number, keys: Uint32Array, at: number): boolean {
    const stored = this.#keys;
    const kw = this.keyWords;
    const e = entry * kw;
    for (let i = kw - 1; i >= 0; i--) if (stored[e + i] !== keys[at + i]) return false;
    return true;
  }

  /** The key's entry, through the slots (filled first with the entries appended without them). */
  #findOrInsert(keys: Uint32Array, at: number): number {
    this.#indexAll();
    const hash = murmur3Words(keys, at, this.keyWords, SEED);
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const stored = this.#slots[slot]!;
      if (stored === 0) break;
      if (this.#same(stored - 1, keys, at)) return stored - 1;
    }
    const entry = this.#append(keys, at);
    this.#index(entry, hash);
    return entry;
  }

  /** A new entry with zero counters, not yet in the slots. */
  #append(keys: Uint32Array, at: number): number {
    const entry = this.#count;
    if (entry === this.#packets.length) this.#growEntries();
    this.#count = entry + 1;
    // a word at a time: subarray() would make an object per row
    const kw = this.keyWords;
    const stored = this.#keys;
    for (let i = 0, e = entry * kw; i < kw; i++) stored[e + i] = keys[at + i]!;
    this.#packets[entry] = 0;
    this.#bytes[entry] = 0;
    return entry;
  }

  /** Put the entries appended without slots into them. */
  #indexAll(): void {
    for (let entry = this.#indexed; entry < this.#count; entry++) this.#index(entry, murmur3Words(this.#keys, entry * this.keyWords, this.keyWords, SEED));
  }

  /** Put the next entry not in the slots (`entry` === #indexed) into them. */
  #index(entry: number, hash: number): void {
    this.#hashes[entry] = hash;
    if ((entry + 1) * 2 > this.#slots.length) this.#growSlots();
    let slot = hash & this.#mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & this.#mask;
    this.#slots[slot] = entry + 1;
    this.#indexed = entry + 1;
  }

  #growIds(id: number): void {
    let length = this.#byId.length * 2;
    while (length <= id) length *= 2;
    const byId = new Int32Array(length);
    byId.set(this.#byId);
    this.#byId = byId;
  }

  #growEntries(): void {
    const capacity = Math.ceil(this.#packets.length * 1.5);
    const keys = new Uint32Array(capacity * this.keyWords);
    keys.set(this.#keys);
    this.#keys = keys;
    const packets = new Float64Array(capacity);
    packets.set(this.#packets);
    this.#packets = packets;
    const bytes = new Float64Array(capacity);
    bytes.set(this.#bytes);
    this.#bytes = bytes;
    const hashes = new Uint32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
  }

  /** Twice the slots (at least two per entry), the indexed entries placed again. */
  #growSlots(): void {
    let length = this.#slots.length * 2;
    while (length < (this.#count + 1) * 2) length *= 2;
    const slots = new Int32Array(length);
    const mask = length - 1;
    const hashes = this.#hashes;
    for (let entry = 0; entry < this.#indexed; entry++) {
      let slot = hashes[entry]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

/** A store's segment counters of every exact task, by task name (a handful of tasks: a Map is fine). */
export class TaskSegmentCounters {
  readonly #tasks = new Map<string, SegmentCounters>();

  /** The task's counters; `newSegment` (a new period or run for it) starts them again. */
  of(taskName: string, keyWords: number, newSegment: boolean): SegmentCounters {
    let counters = this.#tasks.get(taskName);
    if (counters === undefined || counters.keyWords !== keyWords) {
      counters = new SegmentCounters(keyWords);
      this.#tasks.set(taskName, counters);
    } else if (newSegment) {
      counters.clear();
    }
    return counters;
  }
}
