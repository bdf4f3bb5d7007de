/**
 * Durable consumption of the packet stream (JetStream mode, docs/pipeline.md): one ordered
 * consumer per subject this engine listens on, each starting at a stream sequence of its own (the
 * engine's checkpoint, or the beginning of the stream), turned into PacketBatches for the engine.
 *
 * Why this shape:
 * - One consumer per subject: nats-server before 2.10 has no `filter_subjects`, and one cursor per
 *   subject is what a checkpoint records anyway.
 * - Ordered consumers need no acknowledgements and are recreated by the client from the last
 *   sequence it saw when the server restarts or a heartbeat is missed, so nothing is skipped or
 *   delivered twice within a process; across processes the checkpoint says where to start.
 * - Batches end at message boundaries wherever possible (a message that does not fit the batch
 *   starts the next one), and every delivery says whether it does (`atMessageBoundary`): only at a
 *   boundary does `positions()` describe exactly what the engine has, so only there may the engine
 *   take a period reset whose position it checkpoints.
 * - Backpressure instead of loss: when the engine is behind, the pumps stop pulling and the
 *   messages wait in the stream.
 *
 * Malformed payloads are counted and skipped (their position still advances), as in core mode.
 */
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { isNetSpectraError, errorMessage } from '../model/errors.js';
import type { BatchPool, PacketBatch } from '../model/packet.js';
import { DecodedPayload, decodePayload } from '../wire/index.js';
import type { NatsConnection } from './nats-connection.js';
import { SequenceTracker } from './sequence-tracker.js';
import { Wakeup } from './wakeup.js';

export interface JetStreamPacketConsumerOptions {
  /** The stream (`probe.stream`). */
  stream: string;
  /** Subjects to consume, one consumer each. */
  subjects: readonly string[];
  /** Per subject, the first stream sequence to deliver; missing or ≤ 1: the beginning of the stream. */
  startSequences?: Readonly<Record<string, number>>;
  pool: BatchPool;
  /** Longest a packet waits in a partly filled batch, ms. @default 200 */
  maxDelayMs?: number;
  /** An empty delivery (a heartbeat, `batch` undefined) is made when nothing arrived for this long, ms. @default 250 */
  heartbeatMs?: number;
  /** Messages held decoded-but-not-yet-handed-over before the pumps pause. @default 256 */
  maxQueuedMessages?: number;
  /** Messages each consumer pulls ahead per request (bounded memory: messages can be 1 MB). @default 16 */
  pullMessages?: number;
}

/** What `deliveries()` yields. */
export interface JetStreamDelivery {
  /** Packets for the engine (owned by the receiver from here), or undefined for a heartbeat. */
  batch: PacketBatch | undefined;
  /** Every message decoded so far is wholly in the batches delivered so far (`positions()` is exact). */
  atMessageBoundary: boolean;
}

export interface JetStreamSubjectState {
  subject: string;
  /** Last stream sequence wholly handed over (start − 1 before the first). */
  position: number;
  /** Messages of this subject left in the stream after the last one received (the consumer's lag). */
  pending: number;
  /** Messages received. */
  received: number;
}

export interface JetStreamConsumerStats {
  messages: number;
  packets: number;
  malformed: number;
  /** Batch-stream sequence gaps (should stay 0 in durable mode). */
  missing: number;
  lastError: string | undefined;
  /** Sum of `pending` over the subjects. */
  pending: number;
}

interface Arrival {
  subject: number;
  sequence: number;
  pending: number;
  payload: Uint8Array;
}

interface SubjectCursor extends JetStreamSubjectState {
  /** Messages pending when the consumer was created: the backlog to replay before being caught up. */
  backlog: number;
  caughtUp: boolean;
}

export class JetStreamPacketConsumer implements AsyncDisposable {
  readonly #connection: NatsConnection;
  readonly #options: JetStreamPacketConsumerOptions;
  readonly #cursors: SubjectCursor[];
  readonly #queue: Arrival[] = [];
  readonly #tracker = new SequenceTracker();
  readonly #iterators: ConsumerMessages[] = [];
  #pumps: Promise<void>[] = [];
  readonly #wakeup = new Wakeup();
  #room: (() => void)[] = [];
  #closed = false;
  readonly #stats = { messages: 0, packets: 0, malformed: 0, lastError: undefined as string | undefined };

  constructor(connection: NatsConnection, options: JetStreamPacketConsumerOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#cursors = options.subjects.map((subject) => ({ subject, position: Math.max(1, options.startSequences?.[subject] ?? 1) - 1, pending: 0, received: 0, backlog: 0, caughtUp: false }));
  }

  get stats(): JetStreamConsumerStats {
    return { ...this.#stats, missing: this.#tracker.missing, pending: this.#cursors.reduce((sum, c) => sum + c.pending, 0) };
  }

  /** Per subject: position, pending, received (copies). */
  get subjects(): JetStreamSubjectState[] {
    return this.#cursors.map(({ subject, position, pending, received }) => ({ subject, position, pending, received }));
  }

  /** Per subject, the last stream sequence wholly handed over (exact at a message boundary). */
  positions(): Record<string, number> {
    return Object.fromEntries(this.#cursors.map((c) => [c.subject, c.position]));
  }

  /** Every subject has handed over the backlog it had when consumption started (sticky). */
  get caughtUp(): boolean {
    return this.#cursors.every((c) => c.caughtUp);
  }

  /** Create the consumers (the stream must exist) and start pulling. */
  async start(): Promise<void> {
    const client = jetstream(this.#connection.core);
    const pull = this.#options.pullMessages ?? 16;
    for (let index = 0; index < this.#cursors.length; index++) {
      const cursor = this.#cursors[index]!;
      const consumer = await client.consumers.get(this.#options.stream, {
        filter_subjects: cursor.subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: cursor.position + 1,
      });
      cursor.backlog = (await consumer.info(true)).num_pending;
      cursor.pending = cursor.backlog;
      cursor.caughtUp = cursor.backlog === 0;
      // short pull requests: their heartbeats tell a restarted server (which forgot the ordered
      // consumer) within seconds, and the client recreates it from the last sequence seen
      const messages = await consumer.consume({ max_messages: pull, expires: 5000 });
      this.#iterators.push(messages);
      this.#pumps.push(this.#pump(index, messages));
    }
  }

  /** Stop pulling; `deliveries()` hands over what it holds and ends. */
  stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const messages of this.#iterators) messages.stop();
    for (const wake of this.#room.splice(0)) wake();
    this.#wakeup.wake();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    await Promise.all(this.#pumps);
  }

  async #pump(subject: number, messages: ConsumerMessages): Promise<void> {
    const limit = this.#options.maxQueuedMessages ?? 256;
    try {
      for await (const message of messages) {
        while (this.#queue.length >= limit && !this.#closed) await new Promise<void>((resolve) => this.#room.push(resolve));
        if (this.#closed) break;
        this.#queue.push({ subject, sequence: message.seq, pending: message.info.pending, payload: message.data });
        this.#wakeup.wake();
      }
    } catch (error) {
      // the connection closed under the iterator: nothing more arrives
      this.#stats.lastError ??= errorMessage(error);
    }
  }

  /**
   * Batches from the pool for the engine, and a heartbeat (no batch) whenever nothing arrived for
   * `heartbeatMs`, so the receiver can act at message boundaries on a quiet stream. Ends after `stop()`.
   */
  async *deliveries(): AsyncGenerator<JetStreamDelivery> {
    const pool = this.#options.pool;
    const maxDelay = this.#options.maxDelayMs ?? 200;
    const heartbeat = this.#options.heartbeatMs ?? 250;
    const result = new DecodedPayload();
    let batch = pool.acquire();
    let firstAt = 0;
    let lastYield = performance.now();
    for (;;) {
      while (this.#queue.length > 0) {
        const arrival = this.#queue.shift()!;
        const wake = this.#room.shift();
        wake?.();
        const cursor = this.#cursors[arrival.subject]!;
        this.#stats.messages++;
        // a message that does not fit what is left of the batch starts the next one
        if (batch.count > 0 && batch.count + packetsIn(arrival.payload) > batch.capacity) {
          yield { batch, atMessageBoundary: true };
          lastYield = performance.now();
          batch = pool.acquire();
        }
        let from = 0;
        for (;;) {
          const before = batch.count;
          try {
            decodePayload(arrival.payload, batch, from, result);
          } catch (error) {
            batch.count = before;
            this.#stats.malformed++;
            this.#stats.lastError = isNetSpectraError(error) ? `${error.code}: ${error.message}` : String(error);
            break;
          }
          if (before === 0 && batch.count > 0) firstAt = performance.now();
          this.#stats.packets += result.appended;
          if (from === 0 && result.streamId !== undefined && result.sequence !== undefined) this.#tracker.observe(result.streamId, Number(result.sequence));
          if (result.complete) break;
          // larger than a whole batch: hand over the full part, the message goes on in the next
          yield { batch, atMessageBoundary: false };
          lastYield = performance.now();
          batch = pool.acquire();
          from = result.next;
        }
        cursor.position = arrival.sequence;
        cursor.pending = arrival.pending;
        cursor.received++;
        if (!cursor.caughtUp && (arrival.pending === 0 || cursor.received >= cursor.backlog)) cursor.caughtUp = true;
        if (batch.count === batch.capacity) {
          yield { batch, atMessageBoundary: true };
          lastYield = performance.now();
          batch = pool.acquire();
        }
      }
      const now = performance.now();
      if (batch.count > 0 && (this.#closed || now - firstAt >= maxDelay)) {
        yield { batch, atMessageBoundary: true };
        lastYield = performance.now();
        batch = pool.acquire();
      } else if (batch.count === 0 && now - lastYield >= heartbeat) {
        yield { batch: undefined, atMessageBoundary: true };
        lastYield = performance.now();
      }
      if (this.#closed && this.#queue.length === 0) break;
      if (this.#queue.length > 0) continue;
      const wait = batch.count > 0 ? Math.max(1, maxDelay - (performance.now() - firstAt)) : Math.max(1, heartbeat - (performance.now() - lastYield));
      await this.#wakeup.sleep(wait);
    }
    pool.release(batch);
  }
}

/** Packets in a payload without decoding it: a batch's header count, else one PacketInfo. */
function packetsIn(payload: Uint8Array): number {
  if (payload.length >= 24 && payload[0] === 0x4e) return new DataView(payload.buffer, payload.byteOffset + 20, 4).getUint32(0, false);
  return 1;
}
