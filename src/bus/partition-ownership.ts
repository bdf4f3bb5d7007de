/**
 * Which source partitions an engine of a cluster owns (docs/pipeline.md). Probes partition packets
 * by `partitionOfSource(source address) mod partitions`; each engine owns a set of partitions, the
 * sets of all engines being disjoint and together complete, so every source — and with it every
 * flow whose key contains SrcIP — is counted by exactly one engine.
 *
 * - Batch format: the engine subscribes to the subjects of its partitions only (`subjects()`).
 *   Packets whose source hashes elsewhere can only come from a probe partitioned differently
 *   (another `--partitions`); `countForeign` finds them so the mismatch shows in /metrics.
 * - PacketInfo format (the original's single subject): every engine receives every packet and
 *   keeps those whose source it owns (`keepOwned`, the key-owner rule).
 */
import type { PacketBatch } from '../model/packet.js';
import { partitionOfSource, partitionSubject } from './packet-publisher.js';

/** Most partitions a probe can publish (PacketPublisher's limit). */
export const MAX_PARTITIONS = 256;

export class PartitionOwnership {
  readonly partitions: number;
  /** Owned partitions, ascending. */
  readonly owned: readonly number[];
  /** 1 for an owned partition. */
  readonly #mask: Uint8Array;

  constructor(partitions: number, owned: Iterable<number>) {
    if (!(Number.isInteger(partitions) && partitions >= 1 && partitions <= MAX_PARTITIONS)) throw new RangeError(`partitions must be 1..${MAX_PARTITIONS}, got ${partitions}`);
    this.partitions = partitions;
    this.#mask = new Uint8Array(partitions);
    for (const p of owned) {
      if (!(Number.isInteger(p) && p >= 0 && p < partitions)) throw new RangeError(`partition ${p} does not exist: there are ${partitions} (0..${partitions - 1})`);
      this.#mask[p] = 1;
    }
    this.owned = [...this.#mask.keys()].filter((p) => this.#mask[p] === 1);
    if (this.owned.length === 0) throw new RangeError('an engine must own at least one partition');
  }

  /** Engine `index` of `engines` owns every partition p with p mod engines = index. */
  static roundRobin(partitions: number, engines: number, index: number): PartitionOwnership {
    if (!(Number.isInteger(engines) && engines >= 1)) throw new RangeError(`engines must be a positive integer, got ${engines}`);
    if (!(Number.isInteger(index) && index >= 0 && index < engines)) throw new RangeError(`index must be 0..${engines - 1} with ${engines} engines, got ${index}`);
    if (engines > partitions) throw new RangeError(`${engines} engines need at least as many partitions, got ${partitions}: engine ${partitions} and later would own nothing`);
    const owned: number[] = [];
    for (let p = index; p < partitions; p += engines) owned.push(p);
    return new PartitionOwnership(partitions, owned);
  }

  /** A list like `0,3,5-7` (ranges inclusive). */
  static parse(list: string, partitions: number): PartitionOwnership {
    const owned: number[] = [];
    for (const item of list.split(',').map((s) => s.trim())) {
      const range = /^(\d+)(?:-(\d+))?$/.exec(item);
      if (range === null) throw new RangeError(`"${item}" is not a partition number or a range like 5-7`);
      const from = Number(range[1]);
      const to = range[2] === undefined ? from : Number(range[2]);
      if (to < from) throw new RangeError(`the range ${item} is empty`);
      if (to >= partitions) throw new RangeError(`partition ${to} does not exist: there are ${partitions} (0..${partitions - 1})`);
      for (let p = from; p <= to; p++) owned.push(p);
    }
    return new PartitionOwnership(partitions, owned);
  }

  /** Whether this engine owns every partition (a single engine: nothing to filter). */
  get ownsAll(): boolean {
    return this.owned.length === this.partitions;
  }

  owns(partition: number): boolean {
    return this.#mask[partition] === 1;
  }

  /** The owned partitions as a short list, e.g. `0,3,5-7`. */
  toString(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.owned.length; ) {
      let j = i;
      while (j + 1 < this.owned.length && this.owned[j + 1] === this.owned[j]! + 1) j++;
      parts.push(j === i ? String(this.owned[i]) : `${this.owned[i]}-${this.owned[j]}`);
      i = j + 1;
    }
    return parts.join(',');
  }

  /** The batch-format subjects of the owned partitions. */
  subjects(subject: string): string[] {
    return this.owned.map((p) => partitionSubject(subject, p));
  }

  /** Keep only the packets whose source this engine owns, in order, in place; returns how many were dropped. */
  keepOwned(batch: PacketBatch): number {
    if (this.ownsAll) return 0;
    const total = batch.count;
    const mask = this.#mask;
    const partitions = this.partitions;
    batch.count = 0;
    for (let i = 0; i < total; i++) {
      if (mask[partitionOfSource(batch.srcAddr, i * 4, partitions)] !== 1) continue;
      // slot `count` is at or before `i`: copying forward in place never overwrites an unread packet
      if (batch.count === i) batch.count++;
      else batch.copyPacketFrom(batch, i);
    }
    return total - batch.count;
  }

  /** Packets of the batch whose source hashes to a partition this engine does not own. */
  countForeign(batch: PacketBatch): number {
    if (this.ownsAll) return 0;
    const mask = this.#mask;
    const partitions = this.partitions;
    let foreign = 0;
    for (let i = 0; i < batch.count; i++) if (mask[partitionOfSource(batch.srcAddr, i * 4, partitions)] !== 1) foreign++;
    return foreign;
  }
}
