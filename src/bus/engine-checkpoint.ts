/**
 * An engine's checkpoint in JetStream mode (docs/pipeline.md, "JetStream durable mode"): where a
 * restarted engine with the same ownership resumes, kept in a JetStream KV bucket.
 *
 * The checkpoint is "the last snapshot point": it is written after a period-end snapshot reached
 * every writer, and names the period that began at that reset and, per subject, the first stream
 * sequence of that period. Engine state is in memory and exact tasks are cumulative within a
 * period, so a restarted engine replays the stream from there into the same period of the same run
 * (`runId`): the newest row per flow per period then counts every packet once.
 *
 * The key is derived from what decides which packets an engine counts — stream, subject, payload
 * format, partition count and owned partitions — so any engine started with the same ownership
 * (on this host or another) finds it, and engines of one cluster never share one.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { NatsConnection } from './nats-connection.js';

/** @default bucket of every engine's checkpoint */
export const CHECKPOINT_BUCKET = 'netspectra_engine_checkpoints';

export interface EngineCheckpoint {
  /** Format of this value. */
  version: 1;
  /** The run the rows of this period belong to (ClickHouse RunId). */
  runId: string;
  /** The period in progress (Manager periodId: its start in seconds since the epoch). */
  periodId: number;
  periodStartMs: number;
  /** Per subject, the first stream sequence of the period (where a replay starts). */
  resumeSequences: Record<string, number>;
  /** Who wrote it and when (for operators). */
  engineId: string;
  writtenAtMs: number;
}

export interface CheckpointIdentity {
  stream: string;
  subject: string;
  format: string;
  partitions: number;
  /** Owned partitions as written by PartitionOwnership.toString(), e.g. `0,2,4-7`. */
  owned: string;
}

/** KV keys allow letters, digits and `-_=./`; everything else becomes `_`. */
export function checkpointKey(identity: CheckpointIdentity): string {
  const clean = (text: string): string => text.replace(/[^A-Za-z0-9_=-]/g, '_');
  return `${clean(identity.stream)}.${clean(identity.subject)}.${clean(identity.format)}.p${identity.partitions}.o${clean(identity.owned)}`;
}

export class CheckpointStore {
  readonly #connection: NatsConnection;
  readonly #bucket: string;
  readonly key: string;
  #kv: KV | undefined;
  /** Checkpoints written by this process. */
  writes = 0;
  /** The last checkpoint read or written. */
  last: EngineCheckpoint | undefined;

  constructor(connection: NatsConnection, identity: CheckpointIdentity, bucket = CHECKPOINT_BUCKET) {
    this.#connection = connection;
    this.#bucket = bucket;
    this.key = checkpointKey(identity);
  }

  async start(): Promise<void> {
    try {
      this.#kv = await new Kvm(this.#connection.core).create(this.#bucket, { history: 5 });
    } catch (error) {
      throw new NetSpectraError('NS_ERR_NATS_JETSTREAM', `cannot open the JetStream KV bucket ${this.#bucket} for engine checkpoints: ${errorMessage(error)} (start the server with nats-server -js)`, {
        cause: error,
      });
    }
  }

  /** The stored checkpoint, or undefined when there is none (or it is unreadable, which is logged by the caller). */
  async read(): Promise<EngineCheckpoint | undefined> {
    const entry = await this.#store().get(this.key);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const value = parseCheckpoint(entry.string());
    if (value === undefined) throw new NetSpectraError('NS_ERR_NATS_JETSTREAM', `the checkpoint ${this.#bucket}/${this.key} is not a NetSpectra engine checkpoint; delete it to start from the beginning of the stream`);
    this.last = value;
    return value;
  }

  async write(checkpoint: EngineCheckpoint): Promise<void> {
    await this.#store().put(this.key, JSON.stringify(checkpoint));
    this.writes++;
    this.last = checkpoint;
  }

  #store(): KV {
    if (this.#kv === undefined) throw new NetSpectraError('NS_ERR_NATS_JETSTREAM', 'the checkpoint store is not started');
    return this.#kv;
  }
}

/** A checkpoint from its JSON, or undefined when it is not one. */
export function parseCheckpoint(text: string): EngineCheckpoint | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<EngineCheckpoint>;
  const sequences = v.resumeSequences;
  if (
    v.version !== 1 ||
    typeof v.runId !== 'string' ||
    !Number.isSafeInteger(v.periodId) ||
    !Number.isFinite(v.periodStartMs) ||
    typeof sequences !== 'object' ||
    sequences === null ||
    !Object.values(sequences).every((s) => Number.isSafeInteger(s) && s >= 1)
  ) {
    return undefined;
  }
  return { version: 1, runId: v.runId, periodId: v.periodId!, periodStartMs: v.periodStartMs!, resumeSequences: { ...sequences }, engineId: String(v.engineId ?? ''), writtenAtMs: Number(v.writtenAtMs ?? 0) };
}
