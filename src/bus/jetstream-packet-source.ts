/**
 * JetStream durable mode as a packet source (docs/pipeline.md, "JetStream durable mode"): the
 * stream is consumed from this engine's checkpoint (bus/CheckpointStore), and the source keeps the
 * clock (`timing: 'source'`). Snapshots and period resets are taken only at message boundaries, so
 * a checkpoint's position is exact, and not at all while the backlog found at start is replayed: a
 * period that ended meanwhile ends once the replay is done, so no message of the old period is
 * counted in the new one. At every period reset the pipeline's Manager calls `periodEndBarrier`,
 * which writes the checkpoint of the period begun once every writer has the period-end snapshot.
 */
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { PrometheusText } from '../model/prometheus-text.js';
import type { PacketBatch } from '../model/packet.js';
import type { ResumableSource, ResumePoint, SourceContext } from '../model/ports.js';
import { CheckpointStore, type EngineCheckpoint } from './engine-checkpoint.js';
import { JetStreamPacketConsumer } from './jetstream-packet-consumer.js';
import { ensurePacketStream } from './jetstream-stream.js';
import type { NatsConnection } from './nats-connection.js';
import { NatsSource, type NatsSourceCounters, type NatsSourceOptions } from './nats-packet-source.js';

export interface JetStreamPacketSourceOptions extends NatsSourceOptions {
  /** The stream (`probe.stream`) and the limits it is created with when missing. */
  stream: { name: string; maxAgeMs: number; maxBytes: number };
  /** Written into every checkpoint (who wrote it). */
  engineId: string;
  /** Snapshots and resets are considered at most this often, ms; also the consumer's heartbeat. @default 250 */
  tickMs?: number;
  /** Called after every checkpoint written. */
  onCheckpoint?: (checkpoint: EngineCheckpoint) => void;
}

export class JetStreamPacketSource extends NatsSource implements ResumableSource {
  readonly timing = 'source' as const;
  readonly #options: JetStreamPacketSourceOptions;
  #checkpoints: CheckpointStore | undefined;
  #resumed: EngineCheckpoint | undefined;
  #consumer: JetStreamPacketConsumer | undefined;
  #tick: (() => Promise<void>) | undefined;
  /** Period resets held back because the engine was still replaying. */
  #heldTicks = 0;
  #checkpointFailures = 0;
  #checkpointsSkipped = 0;
  #stopRequested = false;

  constructor(connection: NatsConnection, options: JetStreamPacketSourceOptions) {
    super(connection, options);
    this.#options = options;
  }

  /** Whether the replay of the backlog found at start is done (true before start). */
  get caughtUp(): boolean {
    return this.#consumer?.caughtUp ?? true;
  }

  /** The checkpoint resumed or last written. */
  get checkpoint(): EngineCheckpoint | undefined {
    return this.#checkpoints?.last;
  }

  /**
   * Make sure the stream exists and read this engine's checkpoint, or write a first one for `fresh`
   * (so that even a crash in the first period resumes the same run and period).
   */
  async resume(fresh: { runId: string; periodMs: number }): Promise<ResumePoint> {
    const o = this.#options;
    const stream = await ensurePacketStream(this.connection, { stream: o.stream.name, subject: o.subject, maxAgeMs: o.stream.maxAgeMs, maxBytes: o.stream.maxBytes });
    const store = new CheckpointStore(this.connection, { stream: o.stream.name, subject: o.subject, format: o.format, partitions: o.ownership.partitions, owned: o.ownership.toString() });
    this.#checkpoints = store;
    await store.start();
    const found = await store.read();
    if (found !== undefined) {
      const oldest = stream.state.first_seq;
      const agedOut = Object.entries(found.resumeSequences).filter(([, sequence]) => sequence < oldest && sequence > 1);
      if (agedOut.length > 0) {
        this.#log(
          `the checkpoint resumes ${agedOut.map(([subject, sequence]) => `${subject} at ${sequence}`).join(', ')}, but the stream's oldest message is ${oldest}: what aged out before (probe.stream_max_age, probe.stream_max_bytes) is lost`,
        );
      }
      this.#log(`resuming run ${found.runId}, period ${found.periodId} (${new Date(found.periodStartMs).toISOString()}) from checkpoint ${store.key}, written by ${found.engineId}`);
      this.#resumed = found;
      return { runId: found.runId, periodId: found.periodId, periodStartMs: found.periodStartMs, continuesRun: true };
    }
    const periodStartMs = Math.floor(Date.now() / fresh.periodMs) * fresh.periodMs;
    const first: EngineCheckpoint = {
      version: 1,
      runId: fresh.runId,
      periodId: Math.floor(periodStartMs / 1000),
      periodStartMs,
      resumeSequences: Object.fromEntries(this.subjects.map((subject) => [subject, 1])),
      engineId: o.engineId,
      writtenAtMs: Date.now(),
    };
    await store.write(first);
    this.#log(`no checkpoint ${store.key}: consuming the stream from its beginning in run ${fresh.runId}`);
    this.#resumed = first;
    return { runId: first.runId, periodId: first.periodId, periodStartMs, continuesRun: false };
  }

  override async start(context: SourceContext): Promise<void> {
    const resumed = this.#resumed;
    if (resumed === undefined) throw new NetSpectraError('NS_ERR_NATS_JETSTREAM', `${this.description}: start() before resume()`);
    await super.start(context);
    this.#tick = () => context.tick();
    const batchFormat = this.options.format === 'batch';
    const consumer = new JetStreamPacketConsumer(this.connection, {
      stream: this.#options.stream.name,
      subjects: this.subjects,
      startSequences: resumed.resumeSequences,
      pool: context.pool,
      maxDelayMs: this.options.maxDelayMs ?? 200,
      heartbeatMs: this.#tickMs(),
      pullMessages: batchFormat ? 16 : 1024,
      maxQueuedMessages: batchFormat ? 64 : 8192,
    });
    await consumer.start();
    this.#consumer = consumer;
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    const consumer = this.#consumer;
    const tick = this.#tick;
    if (consumer === undefined || tick === undefined) throw new Error(`${this.description}: batches() before start()`);
    const tickMs = this.#tickMs();
    let lastTick = performance.now();
    let replaying = !consumer.caughtUp;
    if (replaying) this.#log(`replaying the stream from the checkpoint (${consumer.stats.pending} messages)`);
    try {
      for await (const delivery of consumer.deliveries()) {
        if (delivery.batch !== undefined && this.admit(delivery.batch)) yield delivery.batch;
        if (!delivery.atMessageBoundary || performance.now() - lastTick < tickMs) continue;
        lastTick = performance.now();
        if (!consumer.caughtUp) {
          this.#heldTicks++;
          continue;
        }
        if (replaying) {
          replaying = false;
          this.#log(`caught up with the stream after replaying ${consumer.stats.messages} messages`);
        }
        await tick();
      }
    } finally {
      consumer.stop();
    }
  }

  /** Stop consuming: what was received is delivered, the rest stays in the stream for the next start. */
  async stop(): Promise<void> {
    this.#stopRequested = true;
    this.#consumer?.stop();
  }

  /**
   * Once every writer wrote the period-end snapshot, checkpoint the period just begun with the
   * positions the reset was taken at. No write of the new period starts before this settles, so the
   * store never holds a row of a period whose start is not checkpointed; while NATS is away the
   * checkpoint is retried and the writers (then the consume loop, then the stream) wait — nothing
   * is lost. A failed period-end write keeps the old checkpoint (a crash replays the period again).
   */
  async periodEndBarrier(next: { periodId: number; periodStartMs: number }, written: Promise<number>): Promise<void> {
    // called at the reset itself: the consumer stands at the boundary the reset was taken at
    const positions = this.#consumer!.positions();
    const failed = await written;
    if (failed > 0) {
      this.#checkpointsSkipped++;
      this.#log(`period ${next.periodId} not checkpointed: ${failed} snapshot write(s) of the period end failed`);
      return;
    }
    const checkpoint: EngineCheckpoint = {
      version: 1,
      runId: this.#resumed!.runId,
      periodId: next.periodId,
      periodStartMs: next.periodStartMs,
      resumeSequences: Object.fromEntries(Object.entries(positions).map(([subject, position]) => [subject, position + 1])),
      engineId: this.#options.engineId,
      writtenAtMs: Date.now(),
    };
    let wait = 250;
    for (;;) {
      try {
        await this.#checkpoints!.write(checkpoint);
        this.#options.onCheckpoint?.(checkpoint);
        return;
      } catch (error) {
        this.#checkpointFailures++;
        if (this.#stopRequested) return;
        if (this.#checkpointFailures === 1 || wait >= 2000) this.#log(`checkpoint not written (retrying): ${errorMessage(error)}`);
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(2000, wait * 2);
      }
    }
  }

  override addMetrics(text: PrometheusText): void {
    super.addMetrics(text);
    const consumer = this.#consumer;
    if (consumer === undefined) return;
    const checkpoint = this.#checkpoints?.last;
    const subjects = consumer.subjects;
    text
      .family(
        'netspectra_engine_jetstream_pending_messages',
        'gauge',
        'Messages of a subject still in the stream after the last one received (the consumer lag).',
        subjects.map((s) => ({ value: s.pending, labels: { subject: s.subject } })),
      )
      .family('netspectra_engine_jetstream_position', 'gauge', 'Last stream sequence of a subject wholly handed to the engine.', subjects.map((s) => ({ value: s.position, labels: { subject: s.subject } })))
      .single('netspectra_engine_jetstream_caught_up', 'gauge', '1 once the backlog found at start (the replay from the checkpoint) is consumed.', consumer.caughtUp ? 1 : 0)
      .single('netspectra_engine_jetstream_held_ticks_total', 'counter', 'Snapshot and period-end checks held back while replaying.', this.#heldTicks)
      .single('netspectra_engine_checkpoint_period_id', 'gauge', 'Period of the last checkpoint read or written (its start, seconds since the epoch).', checkpoint?.periodId ?? 0)
      .single('netspectra_engine_checkpoint_written_time_seconds', 'gauge', 'When the last checkpoint was written, seconds since the epoch.', (checkpoint?.writtenAtMs ?? 0) / 1000)
      .single('netspectra_engine_checkpoint_writes_total', 'counter', 'Checkpoints written by this process.', this.#checkpoints?.writes ?? 0)
      .single('netspectra_engine_checkpoint_failures_total', 'counter', 'Checkpoint writes that failed and were retried.', this.#checkpointFailures)
      .single('netspectra_engine_checkpoint_skipped_total', 'counter', 'Period ends not checkpointed because a period-end snapshot write failed.', this.#checkpointsSkipped);
  }

  protected messageCounters(): Omit<NatsSourceCounters, 'packetsNotOwned' | 'packetsForeignPartition'> {
    const s = this.#consumer?.stats;
    return { packetsReceived: s?.packets ?? 0, messages: s?.messages ?? 0, malformed: s?.malformed ?? 0, missing: s?.missing ?? 0, overflow: 0, lastError: s?.lastError };
  }

  #tickMs(): number {
    return this.#options.tickMs ?? 250;
  }

  #log(line: string): void {
    this.options.log?.(line);
  }
}
