/**
 * Core NATS as a packet source (model/ports PacketSource) for an engine: PacketSubscriber's
 * batches, kept to the sources this engine owns (bus/PartitionOwnership). With the batch format the
 * engine subscribes to its own partitions' subjects, so a foreign packet means a probe publishing
 * with other `--partitions` (counted, warned once); with the original's PacketInfo format every
 * engine receives everything and keeps the packets whose source address it owns.
 *
 * The JetStream source (jetstream-packet-source.ts) shares the ownership filter and the metric
 * families defined here.
 */
import type { PrometheusText } from '../model/prometheus-text.js';
import type { BatchPool, PacketBatch } from '../model/packet.js';
import type { PacketSource, PacketSourceStats, SourceContext } from '../model/ports.js';
import type { NatsConnection } from './nats-connection.js';
import { PacketSubscriber } from './packet-subscriber.js';
import type { PartitionOwnership } from './partition-ownership.js';

/** `batch`: partitioned packet batches on `<subject>.<p>`; `packet-info`: the original's one PacketInfo per message on `<subject>`. */
export type EngineFormat = 'batch' | 'packet-info';

export interface NatsSourceCounters {
  /** Packets decoded from NATS payloads. */
  packetsReceived: number;
  /** PacketInfo packets left to the engine that owns their source (key-owner rule). */
  packetsNotOwned: number;
  /** Batch-format packets whose source hashes to a partition this engine does not own: a probe with other `--partitions`. */
  packetsForeignPartition: number;
  messages: number;
  malformed: number;
  /** Messages missing from batch streams (sequence gaps). */
  missing: number;
  /** Messages dropped because the engine was behind (core NATS only). */
  overflow: number;
  /** The last payload that did not decode: its error code and message. */
  lastError: string | undefined;
}

export interface NatsSourceOptions {
  /** `probe.subject`. */
  subject: string;
  format: EngineFormat;
  /** The partitions this engine owns (a single engine owns them all). */
  ownership: PartitionOwnership;
  /** Longest a packet waits in a partly filled batch before it is delivered, ms. @default 200 */
  maxDelayMs?: number;
  /** Log lines (no trailing newline). @default none */
  log?: (line: string) => void;
}

export interface NatsPacketSourceOptions extends NatsSourceOptions {
  /** NATS messages held while the engine is busy before new ones are dropped (and counted). @default 1024 for batch, 65536 for packet-info */
  maxQueuedMessages?: number;
  /** Longest `stop()` waits for the server to deliver what it sent before the unsubscription, ms. @default 2000 */
  drainTimeoutMs?: number;
}

/** What both NATS sources share: subjects, the ownership filter, counters and metric families. */
export abstract class NatsSource implements PacketSource {
  readonly description: string;
  readonly inputs: readonly string[];
  protected readonly connection: NatsConnection;
  protected readonly options: NatsSourceOptions;
  protected pool: BatchPool | undefined;
  readonly #counters = { batches: 0, packets: 0, packetsNotOwned: 0, packetsForeignPartition: 0 };
  #foreignWarned = false;

  constructor(connection: NatsConnection, options: NatsSourceOptions) {
    this.connection = connection;
    this.options = options;
    this.inputs = this.subjects;
    this.description = `nats:${this.inputs.join(',')}`;
  }

  abstract readonly timing: PacketSource['timing'];

  /** The NATS subjects this source listens on. */
  get subjects(): string[] {
    return this.options.format === 'batch' ? this.options.ownership.subjects(this.options.subject) : [this.options.subject];
  }

  get stats(): PacketSourceStats {
    return { batches: this.#counters.batches, packets: this.#counters.packets, inputErrors: [] };
  }

  get counters(): NatsSourceCounters {
    return { ...this.messageCounters(), packetsNotOwned: this.#counters.packetsNotOwned, packetsForeignPartition: this.#counters.packetsForeignPartition };
  }

  async start(context: SourceContext): Promise<void> {
    this.pool = context.pool;
  }

  abstract batches(): AsyncIterable<PacketBatch>;
  abstract stop(): Promise<void>;

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  addMetrics(text: PrometheusText): void {
    const c = this.counters;
    text
      .single('netspectra_engine_packets_received_total', 'counter', 'Packets decoded from NATS payloads.', c.packetsReceived)
      .single('netspectra_engine_packets_not_owned_total', 'counter', 'PacketInfo packets left to the engine owning their source (key-owner rule).', c.packetsNotOwned)
      .single(
        'netspectra_engine_packets_foreign_partition_total',
        'counter',
        'Batch-format packets whose source hashes to a partition this engine does not own: a probe publishing with another --partitions.',
        c.packetsForeignPartition,
      )
      .single('netspectra_engine_messages_total', 'counter', 'NATS messages received.', c.messages)
      .single('netspectra_engine_malformed_payloads_total', 'counter', 'NATS payloads that did not decode (dropped).', c.malformed)
      .single('netspectra_engine_missing_messages_total', 'counter', 'Batch messages missing from their stream (sequence gaps: lost by core NATS).', c.missing)
      .single('netspectra_engine_overflow_dropped_messages_total', 'counter', 'NATS messages dropped because the engine was behind.', c.overflow);
  }

  /** Messages, payload errors and packets decoded, from the underlying consumer. */
  protected abstract messageCounters(): Omit<NatsSourceCounters, 'packetsNotOwned' | 'packetsForeignPartition'>;

  /**
   * Keep the packets this engine owns (PacketInfo format), count foreign ones (batch format).
   * Returns false, having released the batch, when nothing of it is left to deliver.
   */
  protected admit(batch: PacketBatch): boolean {
    const ownership = this.options.ownership;
    if (!ownership.ownsAll) {
      if (this.options.format === 'packet-info') {
        this.#counters.packetsNotOwned += ownership.keepOwned(batch);
        if (batch.count === 0) {
          this.pool!.release(batch);
          return false;
        }
      } else {
        const foreign = ownership.countForeign(batch);
        if (foreign > 0) {
          this.#counters.packetsForeignPartition += foreign;
          if (!this.#foreignWarned) {
            this.#foreignWarned = true;
            this.options.log?.(
              `packets arrive whose source belongs to a partition this engine does not own: the probe publishes with another --partitions than ${ownership.partitions}; counted as netspectra_engine_packets_foreign_partition_total`,
            );
          }
        }
      }
    }
    this.#counters.batches++;
    this.#counters.packets += batch.count;
    return true;
  }
}

/** Core NATS (at-most-once): subscribes at start, drains at stop. */
export class NatsPacketSource extends NatsSource {
  readonly timing = 'wall' as const;
  readonly #maxQueuedMessages: number | undefined;
  readonly #drainTimeoutMs: number;
  #subscriber: PacketSubscriber | undefined;

  constructor(connection: NatsConnection, options: NatsPacketSourceOptions) {
    super(connection, options);
    this.#maxQueuedMessages = options.maxQueuedMessages;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 2000;
  }

  /** Subscribe (the server knows the subscriptions once this returns). */
  override async start(context: SourceContext): Promise<void> {
    await super.start(context);
    const subscriber = new PacketSubscriber(this.connection, {
      subjects: this.subjects,
      pool: context.pool,
      maxDelayMs: this.options.maxDelayMs ?? 200,
      maxQueuedMessages: this.#maxQueuedMessages ?? (this.options.format === 'batch' ? 1024 : 65_536),
    });
    await subscriber.start();
    this.#subscriber = subscriber;
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    const subscriber = this.#subscriber;
    if (subscriber === undefined) throw new Error(`${this.description}: batches() before start()`);
    try {
      for await (const batch of subscriber.batches()) if (this.admit(batch)) yield batch;
    } finally {
      // what is still queued is lost with the consumer (a failed engine)
      subscriber.stop();
    }
  }

  /** Unsubscribe; the server first delivers what it sent before (at most `drainTimeoutMs`), then `batches()` ends. */
  async stop(): Promise<void> {
    await this.#subscriber?.drain(this.#drainTimeoutMs);
  }

  protected messageCounters(): Omit<NatsSourceCounters, 'packetsNotOwned' | 'packetsForeignPartition'> {
    const s = this.#subscriber?.stats;
    return { packetsReceived: s?.packets ?? 0, messages: s?.messages ?? 0, malformed: s?.malformed ?? 0, missing: s?.missing ?? 0, overflow: s?.overflow ?? 0, lastError: s?.lastError };
  }
}
