/**
 * Leader election for the singleton duties of a cluster of engines (the alerter, coordinated
 * period resets): a lease held as one key of a JetStream KV bucket whose entries expire after
 * `ttlMs` (the bucket's max age).
 *
 * - Acquire: `create(key)` succeeds only when the key is absent or deleted, so one engine wins.
 * - Hold: the holder rewrites the key every `ttlMs / 3` with `update(key, revision)`, which fails if
 *   anyone else wrote it in between; a failed renewal (or one that cannot reach the server for a
 *   whole TTL) ends the lease locally before the server could give it to another engine, so two
 *   engines never both believe they lead for longer than one renewal interval.
 * - Hand over: a stopping holder deletes the key, so a follower takes over at its next attempt; a
 *   crashed holder's key expires after `ttlMs` and a follower takes over within `ttlMs` plus one
 *   attempt interval.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from './nats-connection.js';

export interface LeaderLeaseOptions {
  /** KV bucket of the leases. @default "netspectra_leases" */
  bucket?: string;
  /** Lease name (one per duty), e.g. `engine-leader`. */
  key: string;
  /** This engine's id (stored as the value, shown in metrics). */
  holderId: string;
  /** Lease lifetime, ms: how long a crashed leader keeps the lease. @default 3000 */
  ttlMs?: number;
  /** Called when this engine becomes leader (true) or stops being leader (false). */
  onChange?: (leader: boolean) => void;
}

export class LeaderLease {
  readonly #connection: NatsConnection;
  readonly #options: Required<Omit<LeaderLeaseOptions, 'onChange'>> & Pick<LeaderLeaseOptions, 'onChange'>;
  #kv: KV | undefined;
  #timer: NodeJS.Timeout | undefined;
  #revision = 0;
  #leader = false;
  /** When the lease was last confirmed by the server (ms, monotonic). */
  #confirmedAt = 0;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Times this engine became leader. */
  acquisitions = 0;

  constructor(connection: NatsConnection, options: LeaderLeaseOptions) {
    this.#connection = connection;
    this.#options = { bucket: 'netspectra_leases', ttlMs: 3000, ...options };
  }

  get leader(): boolean {
    return this.#leader;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#kv = await new Kvm(this.#connection.core).create(this.#options.bucket, { history: 1, ttl: this.#options.ttlMs });
    await this.#tick();
    this.#schedule();
  }

  /** Give the lease up (delete the key if held) and stop trying. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    if (this.#leader && this.#kv !== undefined) {
      try {
        await this.#kv.delete(this.#options.key, { previousSeq: this.#revision });
      } catch {
        // someone else holds it already, or the server is gone: nothing to hand over
      }
    }
    this.#setLeader(false);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#tick().finally(() => this.#schedule());
    }, Math.max(50, Math.floor(this.#options.ttlMs / 3)));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const kv = this.#kv;
    if (kv === undefined || this.#stopped) return;
    const value = new TextEncoder().encode(this.#options.holderId);
    try {
      if (this.#leader) {
        this.#revision = await kv.update(this.#options.key, value, this.#revision);
      } else {
        this.#revision = await kv.create(this.#options.key, value);
      }
      this.#confirmedAt = performance.now();
      this.#setLeader(true);
    } catch {
      // create: someone else leads; update: we lost the lease (or cannot reach the server)
      if (this.#leader && performance.now() - this.#confirmedAt < this.#options.ttlMs * (2 / 3) && !(await this.#heldByOther(kv))) return;
      this.#setLeader(false);
    }
  }

  /** Whether the key now names another holder (a lost lease) rather than the server being unreachable. */
  async #heldByOther(kv: KV): Promise<boolean> {
    try {
      const entry = await kv.get(this.#options.key);
      return entry === null || entry.operation !== 'PUT' || entry.string() !== this.#options.holderId;
    } catch {
      return false;
    }
  }

  #setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader) this.acquisitions++;
    this.#options.onChange?.(leader);
  }
}
