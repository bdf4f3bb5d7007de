/**
 * The probe's subscribe mode (`netspectra probe --mode sub`): what arrives on NATS, one line per
 * packet — time, addresses and ports, protocol, wire length — in either payload format.
 */
import { NatsConnection } from '../bus/nats-connection.js';
import { partitionSubject } from '../bus/packet-publisher.js';
import { PacketSubscriber, type PacketSubscriberStats } from '../bus/packet-subscriber.js';
import { formatAddressWords } from '../model/ip.js';
import { BatchPool } from '../model/packet.js';
import { formatTimestamp } from '../model/time.js';

export interface PacketTailOptions {
  natsUrl: string;
  subject: string;
  /** One partition's subject only. @default `<subject>` and `<subject>.*` */
  partition?: number;
  /** Stop after this many packets. @default no limit */
  limit?: number;
  /** Where the lines go. */
  write: (line: string) => void;
}

export class PacketTail {
  readonly #options: PacketTailOptions;
  #subscriber: PacketSubscriber | undefined;
  #stopped = false;

  constructor(options: PacketTailOptions) {
    this.#options = options;
  }

  stop(): void {
    this.#stopped = true;
    this.#subscriber?.stop();
  }

  /** Print until stopped or the limit is reached; the subscriber's counters at the end. */
  async run(): Promise<PacketSubscriberStats> {
    const o = this.#options;
    const limit = o.limit ?? Infinity;
    const connection = new NatsConnection({ url: o.natsUrl, name: 'netspectra-probe-sub' });
    await connection.start();
    const pool = new BatchPool(1024);
    const subjects = o.partition === undefined ? [o.subject, `${o.subject}.*`] : [partitionSubject(o.subject, o.partition)];
    const subscriber = new PacketSubscriber(connection, { subjects, pool, maxDelayMs: 50 });
    this.#subscriber = subscriber;
    let printed = 0;
    try {
      await subscriber.start();
      if (this.#stopped) subscriber.stop();
      for await (const batch of subscriber.batches()) {
        for (let i = 0; i < batch.count && printed < limit; i++, printed++) {
          const family = batch.family[i]!;
          const src = formatAddressWords(batch.srcAddr, i * 4, family);
          const dst = formatAddressWords(batch.dstAddr, i * 4, family);
          const time = formatTimestamp({ seconds: batch.tsSeconds[i]!, nanos: batch.tsNanos[i]! }, true);
          o.write(`${time} ${src}:${batch.srcPort[i]} -> ${dst}:${batch.dstPort[i]} proto ${batch.protocol[i]} len ${batch.wireLength[i]}`);
        }
        pool.release(batch);
        if (printed >= limit) subscriber.stop();
      }
    } finally {
      await connection.stop();
    }
    return subscriber.stats;
  }
}
