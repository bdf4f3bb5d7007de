/**
 * Publishing into JetStream with acknowledgements (durable mode, docs/pipeline.md): every message
 * is sent with a `Nats-Msg-Id` and counts as delivered only once the stream acknowledged it.
 *
 * - Pipelined: up to `maxInFlight` messages await their acknowledgement at once (one round trip
 *   per message would cap a probe at a few thousand messages/s). `ready()` waits while the window
 *   is full: that is the probe's backpressure — a replay pauses rather than drops.
 * - Retried: a message whose acknowledgement does not come (the server restarts, the connection
 *   is down) is sent again with the same id after a growing pause, for as long as the sink runs.
 *   If the server had stored it and only the acknowledgement was lost, the stream's duplicate
 *   window recognises the id and stores nothing twice (counted as `duplicates`).
 * - A retried message may land after messages sent later: order in the stream is not guaranteed
 *   across an outage. Engines do not need it (counts are sums, first/last seen are min/max).
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { MessageSink } from './packet-publisher.js';
import type { NatsConnection } from './nats-connection.js';

export interface JetStreamSinkOptions {
  /** Messages awaiting acknowledgement at most. @default 256 */
  maxInFlight?: number;
  /** How long one attempt waits for its acknowledgement, ms. @default 5000 */
  ackTimeoutMs?: number;
  /** First pause before a retry, ms; doubled per failure of the same message up to `maxRetryWaitMs`. @default 100 */
  retryWaitMs?: number;
  /** @default 2000 */
  maxRetryWaitMs?: number;
  /** Told about each failed attempt (for a log line), with the message's id. */
  onRetry?: (error: unknown, id: string) => void;
}

export interface JetStreamSinkStats {
  /** Messages the stream acknowledged (stored, or recognised as duplicates). */
  acknowledged: number;
  /** Acknowledgements that said the id was stored already (a resend after a lost acknowledgement). */
  duplicates: number;
  /** Attempts that failed and were retried. */
  retries: number;
  /** Messages still awaiting acknowledgement. */
  inFlight: number;
  /** Messages given up on because the sink was stopped before they were acknowledged. */
  abandoned: number;
}

export class JetStreamSink implements MessageSink {
  readonly #client: JetStreamClient;
  readonly #maxInFlight: number;
  readonly #ackTimeoutMs: number;
  readonly #retryWaitMs: number;
  readonly #maxRetryWaitMs: number;
  readonly #onRetry: ((error: unknown, id: string) => void) | undefined;
  readonly #stats: JetStreamSinkStats = { acknowledged: 0, duplicates: 0, retries: 0, inFlight: 0, abandoned: 0 };
  /** Resolved whenever a message leaves the window. */
  #waiters: (() => void)[] = [];
  #stopped = false;

  constructor(connection: NatsConnection, options: JetStreamSinkOptions = {}) {
    this.#client = jetstream(connection.core);
    this.#maxInFlight = options.maxInFlight ?? 256;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.#retryWaitMs = options.retryWaitMs ?? 100;
    this.#maxRetryWaitMs = options.maxRetryWaitMs ?? 2000;
    this.#onRetry = options.onRetry;
  }

  get stats(): JetStreamSinkStats {
    return { ...this.#stats };
  }

  send(subject: string, payload: Uint8Array, id: string): void {
    this.#stats.inFlight++;
    void this.#deliver(subject, payload, id).finally(() => {
      this.#stats.inFlight--;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    });
  }

  /** Resolves once fewer than `maxInFlight` messages await acknowledgement. */
  async ready(): Promise<void> {
    while (this.#stats.inFlight >= this.#maxInFlight) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves once every message sent so far is acknowledged (or abandoned by `stop()`). */
  async flush(): Promise<void> {
    while (this.#stats.inFlight > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Stop retrying: messages not acknowledged yet are abandoned (and counted) after their current attempt. */
  stop(): void {
    this.#stopped = true;
  }

  async #deliver(subject: string, payload: Uint8Array, id: string): Promise<void> {
    let wait = this.#retryWaitMs;
    for (;;) {
      try {
        const ack = await this.#client.publish(subject, payload, { msgID: id, timeout: this.#ackTimeoutMs, retries: 1 });
        this.#stats.acknowledged++;
        if (ack.duplicate) this.#stats.duplicates++;
        return;
      } catch (error) {
        if (this.#stopped) {
          this.#stats.abandoned++;
          return;
        }
        this.#stats.retries++;
        this.#onRetry?.(error, id);
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(this.#maxRetryWaitMs, wait * 2);
      }
    }
  }
}
