/**
 * The JetStream stream of durable mode (docs/pipeline.md, "JetStream durable mode"): every subject
 * the probes publish on (`<subject>` for PacketInfo, `<subject>.<partition>` for batches), kept
 * on disk with limits retention, so an engine can read it again from any sequence still retained.
 *
 * Probes and engines both call `ensurePacketStream` before they use it — whichever starts first
 * creates the stream, the other finds it — and it is idempotent: an existing stream is updated
 * only when its subjects or limits differ from the configuration.
 */
import { jetstreamManager, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { NatsConnection } from './nats-connection.js';

export interface PacketStreamOptions {
  /** Stream name (`probe.stream`). */
  stream: string;
  /** `probe.subject`; the stream holds it and `<subject>.*`. */
  subject: string;
  /** Messages older than this leave the stream, ms (`probe.stream_max_age`). */
  maxAgeMs: number;
  /** The stream's size limit, bytes (`probe.stream_max_bytes`). */
  maxBytes: number;
}

/**
 * Deduplication window: a probe resending a message whose acknowledgement was lost (a NATS
 * restart) does so within seconds, so two minutes is ample — and it may not exceed the max age.
 */
const DUPLICATE_WINDOW_MS = 120_000;

/** The subjects of the stream. */
export function packetStreamSubjects(subject: string): string[] {
  return [subject, `${subject}.*`];
}

/** Create the stream, or bring an existing one to these subjects and limits; returns its info. */
export async function ensurePacketStream(connection: NatsConnection, options: PacketStreamOptions): Promise<StreamInfo> {
  const subjects = packetStreamSubjects(options.subject);
  const wanted: Partial<StreamConfig> = {
    subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(options.maxAgeMs),
    max_bytes: options.maxBytes,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, options.maxAgeMs)),
    num_replicas: 1,
  };
  try {
    const manager = await jetstreamManager(connection.core);
    let info: StreamInfo;
    try {
      info = await manager.streams.info(options.stream);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      return await manager.streams.add({ name: options.stream, ...wanted });
    }
    const current = info.config;
    const same =
      current.subjects.length === subjects.length &&
      subjects.every((s) => current.subjects.includes(s)) &&
      current.max_age === wanted.max_age &&
      current.max_bytes === wanted.max_bytes &&
      current.duplicate_window === wanted.duplicate_window;
    if (same) return info;
    // storage and retention cannot change in place; subjects and limits can
    return await manager.streams.update(options.stream, { subjects, max_age: wanted.max_age!, max_bytes: wanted.max_bytes!, duplicate_window: wanted.duplicate_window! });
  } catch (error) {
    const reason = errorMessage(error);
    const hint = /overlap/i.test(reason)
      ? 'another stream holds these subjects: give every probe and engine of this subject the same probe.stream'
      : 'is JetStream on? (nats-server -js)';
    throw new NetSpectraError('NS_ERR_NATS_JETSTREAM', `cannot create or update the JetStream stream ${options.stream} (subjects ${subjects.join(', ')}): ${reason}; ${hint}`, { cause: error });
  }
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}
