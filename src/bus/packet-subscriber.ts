/**
 * Receives packet payloads from NATS — either format, told apart per message (docs/wire.md) — and
 * turns them into PacketBatches for the engine.
 *
 * - A batch is handed over when it is full or `maxDelayMs` after its first packet, so a quiet link
 *   still reaches the engine promptly and a busy one goes in full batches.
 * - A payload that does not decode is counted (`malformed`) and dropped; the packets decoded from
 *   earlier messages are kept. Never fatal.
 * - Batch messages carry a stream id and a sequence number: gaps are counted as missing messages
 *   (core NATS is at-most-once; JetStream mode does not lose them in the first place).
 * - Backpressure: messages wait in a queue of at most `maxQueuedMessages`; beyond that they are
 *   dropped and counted (`overflow`) rather than growing memory without bound while the engine is
 *   behind. NATS itself also cuts off a consumer that falls too far behind (`slowConsumer`).
 */
import type { Subscription } from '@nats-io/nats-core';
import { isNetSpectraError } from '../model/errors.js';
import type { BatchPool, PacketBatch } from '../model/packet.js';
import { DecodedPayload, decodePayload } from '../wire/index.js';
import type { NatsConnection } from './nats-connection.js';
import { SequenceTracker, type StreamLoss } from './sequence-tracker.js';
import { Wakeup } from './wakeup.js';

export interface PacketSubscriberOptions {
  /** Subjects to listen on, e.g. `gons.packets.raw` (PacketInfo) or `gons.packets.raw.3` (a partition). */
  subjects: readonly string[];
  /** Queue group: the server gives each message to one member. @default none */
  queue?: string;
  pool: BatchPool;
  /** Longest a packet waits in a partly filled batch, ms. @default 200 */
  maxDelayMs?: number;
  /** Messages held while the engine is busy before new ones are dropped. @default 8192 */
  maxQueuedMessages?: number;
}

export interface PacketSubscriberStats {
  messages: number;
  packets: number;
  malformed: number;
  /** Messages missing from batch streams (sequence gaps). */
  missing: number;
  /** Messages dropped because the queue was full. */
  overflow: number;
  /** The last malformed payload's error message (for logs and /metrics help). */
  lastError: string | undefined;
}

export class PacketSubscriber {
  readonly #connection: NatsConnection;
  readonly #options: PacketSubscriberOptions;
  readonly #tracker = new SequenceTracker();
  readonly #queue: Uint8Array[] = [];
  readonly #wakeup = new Wakeup();
  #subscriptions: Subscription[] = [];
  #closed = false;
  readonly #stats: PacketSubscriberStats = { messages: 0, packets: 0, malformed: 0, missing: 0, overflow: 0, lastError: undefined };

  constructor(connection: NatsConnection, options: PacketSubscriberOptions) {
    this.#connection = connection;
    this.#options = options;
  }

  get stats(): PacketSubscriberStats {
    return { ...this.#stats, missing: this.#tracker.missing };
  }

  /** Subscribe (the server knows the subscriptions once this returns). */
  async start(): Promise<void> {
    const limit = this.#options.maxQueuedMessages ?? 8192;
    for (const subject of this.#options.subjects) {
      this.#subscriptions.push(
        this.#connection.subscribe(
          subject,
          (payload) => {
            if (this.#queue.length >= limit) {
              this.#stats.overflow++;
              return;
            }
            this.#queue.push(payload);
            this.#wakeup.wake();
          },
          this.#options.queue,
        ),
      );
    }
    await this.#connection.flush();
  }

  /**
   * Stop listening gracefully: unsubscribe and wait until the server has delivered everything it
   * sent before the unsubscription (a round trip), then stop. While the server is away that round
   * trip cannot happen: after `timeoutMs` it stops anyway. `batches()` then hands over what it
   * holds and ends.
   */
  async drain(timeoutMs = 2000): Promise<void> {
    const subscriptions = this.#subscriptions;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(subscriptions.map((subscription) => subscription.drain())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } catch {
      // the connection is closed already: nothing more can arrive
    } finally {
      clearTimeout(timer);
    }
    this.stop();
  }

  /** Stop listening at once; `batches()` hands over what it holds and ends. */
  stop(): void {
    this.#closed = true;
    for (const subscription of this.#subscriptions) if (!subscription.isClosed()) subscription.unsubscribe();
    this.#subscriptions = [];
    this.#wakeup.wake();
  }

  /**
   * Decoded packets, in batches from the pool (give each back with `pool.release` or to the
   * engine, which does). Ends after `stop()`.
   */
  async *batches(): AsyncGenerator<PacketBatch> {
    const pool = this.#options.pool;
    const maxDelay = this.#options.maxDelayMs ?? 200;
    const result = new DecodedPayload();
    let batch = pool.acquire();
    let firstAt = 0;
    for (;;) {
      while (this.#queue.length > 0) {
        const payload = this.#queue.shift()!;
        this.#stats.messages++;
        let from = 0;
        for (;;) {
          const before = batch.count;
          try {
            decodePayload(payload, batch, from, result);
          } catch (error) {
            batch.count = before; // nothing of a malformed message stays
            this.#stats.malformed++;
            this.#stats.lastError = isNetSpectraError(error) ? `${error.code}: ${error.message}` : String(error);
            break;
          }
          if (before === 0 && batch.count > 0) firstAt = performance.now();
          this.#stats.packets += result.appended;
          if (from === 0 && result.streamId !== undefined && result.sequence !== undefined) this.#tracker.observe(result.streamId, Number(result.sequence));
          if (result.complete) break;
          // the batch is full and the message has more: hand this batch over, go on in a new one
          yield batch;
          batch = pool.acquire();
          from = result.next;
        }
        if (batch.count === batch.capacity) {
          yield batch;
          batch = pool.acquire();
        }
      }
      if (batch.count > 0 && (this.#closed || performance.now() - firstAt >= maxDelay)) {
        yield batch;
        batch = pool.acquire();
      }
      if (this.#closed && this.#queue.length === 0) break;
      const wait = batch.count > 0 ? Math.max(1, maxDelay - (performance.now() - firstAt)) : maxDelay;
      await this.#wakeup.sleep(wait);
    }
    pool.release(batch);
  }

  /** Per-stream loss counters. */
  get streams(): StreamLoss[] {
    return this.#tracker.streams;
  }
}
