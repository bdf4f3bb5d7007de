/**
 * One NATS connection with the lifecycle every NetSpectra component has (inert constructor,
 * `start()` / `stop()`, async dispose), reconnecting on its own for as long as the process runs,
 * and counting what happened to it so `/metrics` can show it.
 *
 * Core NATS is at-most-once: while the connection is down the client keeps what is published in
 * its reconnect buffer (up to `reconnectBufferBytes`) and sends it after reconnecting; a server
 * restart loses what the server had not yet delivered. Loss is therefore measured end to end, by
 * the sequence numbers of the batched payload format (see sequence-tracker.ts), not guessed here.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection as CoreConnection, Subscription } from '@nats-io/nats-core';
import { NetSpectraError, errorMessage } from '../model/errors.js';

export interface NatsConnectionOptions {
  /** `nats://host:port`, or several, comma-separated. */
  url: string;
  /** Shown by the server (`connz`), e.g. `netspectra-probe`. */
  name: string;
  /** How long to wait for the first connection, ms. @default 5000 */
  connectTimeoutMs?: number;
  /** Delay between reconnect attempts, ms. @default 250 */
  reconnectWaitMs?: number;
  /**
   * Longest `stop()` waits for the drain (delivering what is in flight) before closing outright,
   * ms: a drain needs the server, and while it is away it would wait for the next reconnect.
   * @default 5000
   */
  drainTimeoutMs?: number;
}

export interface NatsConnectionStats {
  disconnects: number;
  reconnects: number;
  /** Messages published / received through this connection. */
  published: number;
  publishedBytes: number;
  received: number;
  receivedBytes: number;
  /** Server-reported slow-consumer events for our subscriptions (messages dropped by the server). */
  slowConsumer: number;
  connected: boolean;
}

export class NatsConnection {
  readonly #options: NatsConnectionOptions;
  #connection: CoreConnection | undefined;
  #statusLoop: Promise<void> | undefined;
  readonly #stats: NatsConnectionStats = { disconnects: 0, reconnects: 0, published: 0, publishedBytes: 0, received: 0, receivedBytes: 0, slowConsumer: 0, connected: false };

  constructor(options: NatsConnectionOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    if (this.#connection !== undefined) return;
    try {
      this.#connection = await connect({
        servers: this.#options.url.split(',').map((s) => s.trim()),
        name: this.#options.name,
        timeout: this.#options.connectTimeoutMs ?? 5000,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.#options.reconnectWaitMs ?? 250,
        reconnectJitter: 50,
        pingInterval: 10_000,
      });
    } catch (error) {
      throw new NetSpectraError('NS_ERR_NATS_CONNECT', `cannot connect to NATS at ${this.#options.url}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    this.#stats.connected = true;
    const connection = this.#connection;
    this.#statusLoop = (async () => {
      for await (const status of connection.status()) {
        if (status.type === 'disconnect') {
          this.#stats.disconnects++;
          this.#stats.connected = false;
        } else if (status.type === 'reconnect') {
          this.#stats.reconnects++;
          this.#stats.connected = true;
        } else if (status.type === 'slowConsumer') {
          this.#stats.slowConsumer++;
        }
      }
    })();
  }

  /** Counters since start (a copy). */
  get stats(): NatsConnectionStats {
    return { ...this.#stats };
  }

  /** The client connection, for adapters that need more (JetStream, KV). */
  get core(): CoreConnection {
    if (this.#connection === undefined) throw new NetSpectraError('NS_ERR_NATS_CONNECT', `the NATS connection to ${this.#options.url} is not started`);
    return this.#connection;
  }

  /** Publish one message (buffered by the client; see `flush`). */
  publish(subject: string, payload: Uint8Array): void {
    this.core.publish(subject, payload);
    this.#stats.published++;
    this.#stats.publishedBytes += payload.byteLength;
  }

  /** Wait until the server has everything published so far (a round trip). */
  async flush(): Promise<void> {
    await this.core.flush();
  }

  /**
   * Call `onMessage` with the payload of every message on `subject` (wildcards allowed), counted in
   * `stats`. With `queue`, the server gives each message to one member of the queue group.
   */
  subscribe(subject: string, onMessage: (payload: Uint8Array) => void, queue?: string): Subscription {
    return this.core.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (error, message) => {
        if (error !== null) return;
        this.#stats.received++;
        this.#stats.receivedBytes += message.data.byteLength;
        onMessage(message.data);
      },
    });
  }

  /** The same messages as an async iterable of payloads (for a consumer that pulls). */
  async *messages(subject: string, queue?: string): AsyncGenerator<Uint8Array> {
    const subscription: Subscription = this.core.subscribe(subject, queue === undefined ? {} : { queue });
    try {
      for await (const message of subscription) {
        this.#stats.received++;
        this.#stats.receivedBytes += message.data.byteLength;
        yield message.data;
      }
    } finally {
      subscription.unsubscribe();
    }
  }

  /** Drain (deliver what is in flight, then close). */
  async stop(): Promise<void> {
    const connection = this.#connection;
    if (connection === undefined) return;
    this.#connection = undefined;
    try {
      if (!connection.isClosed()) await withDeadline(connection.drain(), this.#options.drainTimeoutMs ?? 5000);
    } catch {
      await connection.close();
    }
    await this.#statusLoop;
    this.#stats.connected = false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** `promise`, or a rejection once `ms` have passed (the promise itself runs on). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
