/**
 * Publishes decoded packets on NATS in one of the two payload formats (docs/wire.md):
 *
 * - `packet-info`: the original's contract, one Thrift PacketInfo per message on `probe.subject`,
 *   so the original's engines and `sub` tools keep working. About 70 bytes and one NATS message per
 *   packet: the NATS client's per-message cost caps this at a few hundred thousand packets/s.
 * - `packet-batch`: many packets per message, and partitioned: a packet goes to partition
 *   `hash(source address) mod partitions`, published on `<subject>.<partition>`. Every packet of a
 *   source lands in the same partition, so engines that own disjoint sets of partitions own
 *   disjoint sets of sources, and every task keyed by SrcIP stays exact with no double counting
 *   (docs/pipeline.md). The hash is fixed (not seeded) so that every probe partitions alike.
 *
 * Loss accounting: each partition is its own stream, `streamId = probeId * 256 + partition`, with
 * a sequence number per message; engines count gaps (sequence-tracker.ts). A new probe process
 * draws a new random `probeId`, so its sequence starting at 0 again is a new stream.
 */
import { randomInt } from 'node:crypto';
import { murmur3Words } from '../model/hash.js';
import { PacketBatch } from '../model/packet.js';
import { PACKET_INFO_IPV6_BYTES, encodePacketBatch, encodePacketInfo, packetsThatFit } from '../wire/index.js';
import type { NatsConnection } from './nats-connection.js';

export type PublishFormat = 'packet-info' | 'packet-batch';

/**
 * Where encoded messages go: core NATS by default (fire and forget), or a JetStreamSink
 * (acknowledged, deduplicated by `id`). `id` is unique per message of this publisher and stable
 * when the same message is sent again, e.g. `<probe id>-<partition>-<sequence>`.
 */
export interface MessageSink {
  send(subject: string, payload: Uint8Array, id: string): void;
}

export interface PacketPublisherOptions {
  /** `probe.subject`; partitioned batches go to `<subject>.<partition>`. */
  subject: string;
  /** @default 'packet-batch' */
  format?: PublishFormat;
  /** Partitions of the batch format, 1..256. @default 16 */
  partitions?: number;
  /** Packets collected per partition before a message is sent. @default 4096 */
  packetsPerMessage?: number;
  /** Largest message, bytes (keep under the server's max_payload, 1 MiB by default). @default 1_000_000 */
  maxMessageBytes?: number;
  /** Identifies this probe's streams; random by default. */
  probeId?: number;
  /** Where messages go. @default core NATS publish on the connection */
  sink?: MessageSink;
}

export interface PacketPublisherStats {
  packets: number;
  messages: number;
  bytes: number;
  /** Packets that could not be encoded (a family or timestamp the format cannot carry). */
  unencodable: number;
}

/** Fixed seed of the partition hash: every probe must partition alike. */
const PARTITION_SEED = 0x4e535052;

/** The partition of a source address (4 words). */
export function partitionOfSource(words: ArrayLike<number>, at: number, partitions: number): number {
  return (murmur3Words(words, at, 4, PARTITION_SEED) >>> 0) % partitions;
}

/** The subject of a partition. */
export function partitionSubject(subject: string, partition: number): string {
  return `${subject}.${partition}`;
}

export class PacketPublisher {
  readonly #sink: MessageSink;
  readonly #subject: string;
  readonly #format: PublishFormat;
  readonly #partitions: number;
  readonly #perMessage: number;
  readonly #maxBytes: number;
  readonly #probeId: number;
  readonly #staging: PacketBatch[] = [];
  readonly #sequences: bigint[] = [];
  readonly #subjects: string[] = [];
  readonly #stats: PacketPublisherStats = { packets: 0, messages: 0, bytes: 0, unencodable: 0 };
  /** Prefix of message ids (deduplication in JetStream mode). */
  readonly #idPrefix: string;

  constructor(connection: NatsConnection, options: PacketPublisherOptions) {
    this.#sink = options.sink ?? { send: (subject, payload) => connection.publish(subject, payload) };
    this.#subject = options.subject;
    this.#format = options.format ?? 'packet-batch';
    this.#partitions = options.partitions ?? 16;
    if (!(Number.isInteger(this.#partitions) && this.#partitions >= 1 && this.#partitions <= 256)) throw new RangeError(`partitions must be 1..256, got ${this.#partitions}`);
    this.#perMessage = options.packetsPerMessage ?? 4096;
    this.#maxBytes = options.maxMessageBytes ?? 1_000_000;
    this.#probeId = options.probeId ?? randomInt(0, 1 << 24);
    this.#idPrefix = this.#probeId.toString(36);
    for (let p = 0; p < this.#partitions; p++) {
      this.#staging.push(new PacketBatch(this.#perMessage));
      this.#sequences.push(0n);
      this.#subjects.push(partitionSubject(this.#subject, p));
    }
  }

  get probeId(): number {
    return this.#probeId;
  }

  get stats(): PacketPublisherStats {
    return { ...this.#stats };
  }

  /** Publish packets [start, end) of `batch` (default: all); the batch may be reused right after. */
  publish(batch: PacketBatch, start = 0, end = batch.count): void {
    if (this.#format === 'packet-info') {
      // One buffer for the whole range, each message a view of it: the NATS client keeps the views
      // until it writes them out, so the buffer is never reused, but one allocation (and one
      // DataView in the codec) serves every packet instead of one each.
      const out = new Uint8Array((end - start) * PACKET_INFO_IPV6_BYTES);
      let offset = 0;
      for (let i = start; i < end; i++) {
        let size: number;
        try {
          size = encodePacketInfo(batch, i, out, offset);
        } catch {
          this.#stats.unencodable++;
          continue;
        }
        this.#sink.send(this.#subject, out.subarray(offset, offset + size), `${this.#idPrefix}-i-${this.#stats.messages}`);
        offset += size;
        this.#stats.packets++;
        this.#stats.messages++;
        this.#stats.bytes += size;
      }
      return;
    }
    const partitions = this.#partitions;
    for (let i = start; i < end; i++) {
      const family = batch.family[i];
      if (family !== 4 && family !== 6) {
        this.#stats.unencodable++;
        continue;
      }
      const partition = partitions === 1 ? 0 : partitionOfSource(batch.srcAddr, i * 4, partitions);
      const staging = this.#staging[partition]!;
      staging.copyPacketFrom(batch, i);
      if (staging.count === staging.capacity) this.#send(partition);
    }
  }

  /** Send every partly filled message now (call on a timer for low latency, and before stopping). */
  flush(): void {
    if (this.#format === 'packet-info') return;
    for (let p = 0; p < this.#partitions; p++) if (this.#staging[p]!.count > 0) this.#send(p);
  }

  #send(partition: number): void {
    const staging = this.#staging[partition]!;
    let start = 0;
    while (start < staging.count) {
      let end = start + packetsThatFit(staging, start, staging.count, this.#maxBytes);
      if (end === start) end = start + 1; // cannot happen with max ≥ 100 bytes; never loop forever
      let message: Uint8Array;
      try {
        message = encodePacketBatch(staging, start, end, { streamId: this.#probeId * 256 + partition, sequence: this.#sequences[partition]! });
      } catch {
        // a timestamp outside 1970..2262: drop the message's packets, count them
        this.#stats.unencodable += end - start;
        start = end;
        continue;
      }
      const sequence = this.#sequences[partition]!;
      this.#sequences[partition] = sequence + 1n;
      this.#sink.send(this.#subjects[partition]!, message, `${this.#idPrefix}-${partition}-${sequence}`);
      this.#stats.packets += end - start;
      this.#stats.messages++;
      this.#stats.bytes += message.byteLength;
      start = end;
    }
    staging.count = 0;
  }
}
