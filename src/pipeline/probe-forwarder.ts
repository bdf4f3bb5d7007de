/**
 * The probe's pipeline (`netspectra probe`, docs/pipeline.md): a capture source (live, or files
 * replayed at a pace) → bus/PacketPublisher on NATS (core, or JetStream with acknowledgements) and,
 * beside it, the optional local copy (capture/persistence/PacketPersistence).
 *
 * Lifecycle: the constructor is inert; `run()` connects, publishes until the source ends (files
 * read, or a live capture stopped), flushes and closes; `stop()` asks the source to stop: a replay
 * stops after the current slice, a live capture hands over what tcpdump still has. A second
 * `stop()` gives up on what JetStream has not acknowledged yet.
 */
import { JetStreamSink } from '../bus/jetstream-sink.js';
import { ensurePacketStream } from '../bus/jetstream-stream.js';
import { NatsConnection } from '../bus/nats-connection.js';
import { PacketPublisher, type PublishFormat, type PacketPublisherStats } from '../bus/packet-publisher.js';
import { CaptureFileSource, LiveCaptureSource } from '../capture/capture-sources.js';
import { PacketPersistence, type PacketPersistenceOptions } from '../capture/persistence/index.js';
import type { LiveCaptureStats } from '../capture/live-capture.js';
import { errorMessage } from '../model/errors.js';
import { BatchPool, type PacketBatch } from '../model/packet.js';

export type Pace = { kind: 'max' } | { kind: 'rate'; pps: number } | { kind: 'speed'; factor: number };

export interface ProbeForwarderOptions {
  natsUrl: string;
  subject: string;
  format: PublishFormat;
  partitions: number;
  /** Durable mode: the stream and its limits. @default core NATS */
  jetstream?: { stream: string; maxAgeMs: number; maxBytes: number };
  source: { kind: 'live'; iface: string; filter?: string; snaplen?: number } | { kind: 'files'; files: readonly string[]; pace: Pace };
  /** The local copy of what is published. @default none */
  persist?: Omit<PacketPersistenceOptions, 'onError'>;
  /** Problems that do not stop the probe (a damaged capture, the disk of the local copy); each makes the exit status 1. */
  onError?: (error: unknown) => void;
  /** Operational lines (no trailing newline). */
  log?: (line: string) => void;
}

export interface ProbeResult {
  frames: number;
  publisher: PacketPublisherStats;
  seconds: number;
  capture: LiveCaptureStats | undefined;
  jetstream: JetStreamSink['stats'] | undefined;
  persistence: { stats: PacketPersistence['stats']; format: string; directory: string } | undefined;
  /** Whether anything went wrong on the way (reported through onError). */
  failed: boolean;
}

export class ProbeForwarder {
  readonly #options: ProbeForwarderOptions;
  readonly #pool = new BatchPool();
  #source: CaptureFileSource | LiveCaptureSource | undefined;
  #sink: JetStreamSink | undefined;
  #stopping = false;
  #failed = false;

  constructor(options: ProbeForwarderOptions) {
    this.#options = options;
  }

  /** Stop reading; a second call also abandons what JetStream has not acknowledged. */
  stop(): void {
    if (this.#stopping) this.#sink?.stop();
    this.#stopping = true;
    void this.#source?.stop();
  }

  async run(): Promise<ProbeResult> {
    const o = this.#options;
    const connection = new NatsConnection({ url: o.natsUrl, name: 'netspectra-probe' });
    await connection.start();
    if (o.jetstream !== undefined) {
      try {
        await ensurePacketStream(connection, { ...o.jetstream, subject: o.subject });
      } catch (error) {
        await connection.stop();
        throw error;
      }
      let reported = 0;
      this.#sink = new JetStreamSink(connection, {
        // one line per outage, not per message
        onRetry: (error) => {
          if (performance.now() - reported > 5000) o.log?.(`JetStream publish not acknowledged (${errorMessage(error)}); retrying, the replay waits`);
          reported = performance.now();
        },
      });
    }
    const sink = this.#sink;
    const publisher = new PacketPublisher(connection, { subject: o.subject, format: o.format, partitions: o.partitions, ...(sink === undefined ? {} : { sink }) });
    const persistence = await this.#openPersistence();
    const keepFrames = persistence?.needsFrames === true;
    const from = o.source;
    const source =
      from.kind === 'live'
        ? new LiveCaptureSource({ iface: from.iface, ...(from.filter === undefined ? {} : { filter: from.filter }), ...(from.snaplen === undefined ? {} : { snaplen: from.snaplen }), keepFrames })
        : new CaptureFileSource({ files: from.files, keepFrames });
    this.#source = source;
    // live traffic: partly filled messages go out at least every 100 ms
    const flusher = setInterval(() => publisher.flush(), 100);
    flusher.unref();
    const started = performance.now();
    const live = source instanceof LiveCaptureSource;
    try {
      await source.start({ pool: this.#pool, tick: async () => undefined });
      if (this.#stopping) await source.stop();
      await this.#forward(source, publisher, persistence);
      publisher.flush();
      await sink?.flush();
      await connection.flush();
    } finally {
      clearInterval(flusher);
      await source.stop();
      // writes what is still queued, then flushes and closes every file
      await persistence?.stop();
      await connection.stop();
    }
    for (const error of source.stats.inputErrors) this.#error(error);
    if (sink !== undefined && sink.stats.abandoned > 0) this.#failed = true;
    return {
      frames: source.decoded.frames,
      publisher: publisher.stats,
      seconds: (performance.now() - started) / 1000,
      capture: live ? source.captureStats : undefined,
      jetstream: sink?.stats,
      persistence: persistence === undefined ? undefined : { stats: persistence.stats, format: persistence.format, directory: persistence.directory },
      failed: this.#failed,
    };
  }

  /** Every batch of the source, in paced slices, to the publisher and the local copy. */
  async #forward(source: CaptureFileSource | LiveCaptureSource, publisher: PacketPublisher, persistence: PacketPersistence | undefined): Promise<void> {
    const live = source instanceof LiveCaptureSource;
    const pacer = new Pacer(this.#options.source.kind === 'files' ? this.#options.source.pace : { kind: 'max' });
    for await (const batch of source.batches()) {
      // what tcpdump hands over after the stop signal is still published; a replay stops at once
      for (let start = 0; start < batch.count && (live || !this.#stopping); ) {
        const end = await pacer.due(batch, start);
        publisher.publish(batch, start, end);
        // durable mode: wait while the acknowledgement window is full (the server is slow or away)
        await this.#sink?.ready();
        if (persistence !== undefined) {
          // live: never wait for the disk (a full queue drops and counts); a replay loses nothing by waiting
          if (live) persistence.offer(batch, start, end, source.frames);
          else await persistence.offerWithoutDropping(batch, start, end, source.frames);
        }
        start = end;
      }
      this.#pool.release(batch);
    }
  }

  async #openPersistence(): Promise<PacketPersistence | undefined> {
    const persist = this.#options.persist;
    if (persist === undefined) return undefined;
    // reported as it happens: a live probe may run for days after its disk filled up
    const persistence = new PacketPersistence({ ...persist, onError: (error) => this.#error(error) });
    try {
      await persistence.start();
      return persistence;
    } catch (error) {
      // capture and publishing are worth more than the local copy: go on without it
      this.#error(error);
      return undefined;
    }
  }

  #error(error: unknown): void {
    this.#failed = true;
    this.#options.onError?.(error);
  }
}

/**
 * Replay pacing: how many packets from `start` are due now, sleeping until the next one is. Works
 * in slices of at most 256 packets so a slow replay does not send a whole batch in one burst.
 */
export class Pacer {
  readonly #pace: Pace;
  #wallStart = Number.NaN;
  #captureStart = Number.NaN;
  #sent = 0;

  constructor(pace: Pace) {
    this.#pace = pace;
  }

  async due(batch: PacketBatch, start: number): Promise<number> {
    const end = Math.min(batch.count, start + 256);
    if (this.#pace.kind === 'max') return batch.count;
    if (Number.isNaN(this.#wallStart)) {
      this.#wallStart = performance.now();
      this.#captureStart = batch.tsSeconds[start]! * 1000 + batch.tsNanos[start]! / 1e6;
    }
    const dueAt =
      this.#pace.kind === 'rate'
        ? this.#wallStart + (this.#sent * 1000) / this.#pace.pps
        : this.#wallStart + (batch.tsSeconds[start]! * 1000 + batch.tsNanos[start]! / 1e6 - this.#captureStart) / this.#pace.factor;
    const wait = dueAt - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 1000)));
    if (this.#pace.kind === 'rate') {
      // as many as are due by now, at least one
      const due = Math.floor(((performance.now() - this.#wallStart) * this.#pace.pps) / 1000) - this.#sent;
      const take = Math.max(1, Math.min(end - start, due));
      this.#sent += take;
      return start + take;
    }
    return end;
  }
}
