/**
 * The probe's local copy of what it captures (YAML `probe.persistence`, `netspectra probe
 * --persist DIR`): N writer workers, each the only writer of its own file series, fed through one
 * bounded queue.
 *
 * Partitioning: a packet goes to the worker chosen by a symmetric hash of its two addresses, so
 * both directions of every conversation between two hosts (every TCP stream, with its ICMP errors
 * and its non-first fragments, which carry no ports) land in the same file series, where an
 * analyst following a stream finds all of it in one file. Round-robin by batch would spread each
 * stream over all the files.
 *
 * The queue: `queuePackets` packets (YAML `channel_buffer_size`) and `queueBytes` bytes over all
 * workers, counted from encoding until the bytes reached the file. When the disk is slower than
 * the capture, new packets are dropped and counted (`dropped`); `offer()` never waits, and memory
 * never grows past the bounds. The original's two defects here: its workers shared one file
 * (interleaved, corrupt output), and a full queue dropped packets without counting them.
 *
 * A disk error (ENOSPC, EACCES, EIO, ...) stops persistence as a whole: NS_ERR_PERSIST_WRITE goes
 * to `onError` once, every file is cut back to its last complete write and closed, and packets
 * offered from then on are counted as `lost`, while the capture and publishing go on.
 */
import { Buffer } from 'node:buffer';
import { constants } from 'node:fs';
import { access, mkdir, open } from 'node:fs/promises';
import type { CapturedFrames } from '../../decode/captured-frames.js';
import { remix32 } from '../../model/hash.js';
import { NetSpectraError, errorMessage } from '../../model/errors.js';
import type { PacketBatch } from '../../model/packet.js';
import type { OpenPersistenceFile, PersistenceFile, SeriesOwner } from './file-series.js';
import { FileSeries } from './file-series.js';
import type { OfferedPackets, PersistenceFormat } from './record-encoders.js';
import { createRecordEncoder } from './record-encoders.js';

export interface PacketPersistenceOptions {
  /** Folder of the files; created when missing (YAML `path`, flag `--persist DIR`). Required. */
  directory: string;
  /**
   * File format (flag `--persist-format`; YAML `encoding`: `pcap` → pcap, `text` and `gob` → jsonl).
   * @default "pcap"
   */
  format?: PersistenceFormat;
  /**
   * Writer workers, each with its own file series (YAML `num_workers`).
   * @default 4
   */
  workers?: number;
  /**
   * Packets queued at most between the capture and the disk, over all workers; more are dropped
   * and counted (YAML `channel_buffer_size`).
   * @default 10000
   */
  queuePackets?: number;
  /**
   * Bytes queued at most, over all workers (frames can be up to 256 KiB each, so the packet bound
   * alone would not bound memory).
   * @default 67108864 (64 MiB)
   */
  queueBytes?: number;
  /**
   * A file is closed and the next one opened before it would exceed this many bytes; 0: no size
   * limit (flag `--persist-max-bytes`). A single record larger than the limit gets a file of its own.
   * @default 268435456 (256 MiB)
   */
  maxFileBytes?: number;
  /**
   * A new file starts at every multiple of this much packet time, in ms; 0: no time rotation
   * (flag `--persist-rotate`).
   * @default 0
   */
  rotateMs?: number;
  /**
   * First part of every file name.
   * @default "probe"
   */
  prefix?: string;
  /** Called once, with NS_ERR_PERSIST_WRITE, when persistence stops on a disk error. */
  onError?: (error: NetSpectraError) => void;
  /**
   * Creates one file (exclusively: never overwrites). Tests pass slow or failing files.
   * @default {@link openPersistenceFile}, node:fs/promises `open(path, 'wx')`
   */
  openFile?: OpenPersistenceFile;
}

export const DEFAULT_PERSISTENCE_OPTIONS: Readonly<Required<Omit<PacketPersistenceOptions, 'directory' | 'onError' | 'openFile'>>> = Object.freeze({
  format: 'pcap',
  workers: 4,
  queuePackets: 10_000,
  queueBytes: 64 * 1024 * 1024,
  maxFileBytes: 256 * 1024 * 1024,
  rotateMs: 0,
  prefix: 'probe',
});

export interface PersistenceStats {
  /** Packets offered. Once stopped: offered = written + dropped + lost + unrepresentable. */
  offered: number;
  /** Packets whose bytes reached a file. */
  written: number;
  /** Packets refused because the queue was full (the disk was slower than the capture). */
  dropped: number;
  /** Packets not written because persistence had stopped on a disk error (or was stopped). */
  lost: number;
  /** Packets the format cannot represent (pcap: a time after 2106; pcapng: before 1970). */
  unrepresentable: number;
  /** Packets in the queue now. */
  queued: number;
  /** Bytes written to files. */
  bytesWritten: number;
  /** Files created. */
  files: number;
}

export class PacketPersistence implements SeriesOwner {
  readonly #options: Required<Omit<PacketPersistenceOptions, 'onError'>> & Pick<PacketPersistenceOptions, 'onError'>;
  readonly #series: FileSeries[];
  readonly #paths: string[] = [];
  #started = false;
  /** Between start() and stop() or a disk failure. */
  #accepting = false;
  #stopping: Promise<void> | undefined;
  #error: NetSpectraError | undefined;
  #offered = 0;
  #written = 0;
  #dropped = 0;
  #lost = 0;
  #unrepresentable = 0;
  #queuedPackets = 0;
  #queuedBytes = 0;
  #bytesWritten = 0;
  /** Callers of whenRoom() waiting for the queue to drain. */
  readonly #roomWaiters: { packets: number; resolve: () => void }[] = [];
  /** Reused for every offer: no object per call on the capture path. */
  readonly #packets: OfferedPackets = { batch: undefined as unknown as PacketBatch, frames: undefined, arena: undefined };
  readonly #needsFrames: boolean;

  constructor(options: PacketPersistenceOptions) {
    this.#options = { ...DEFAULT_PERSISTENCE_OPTIONS, openFile: openPersistenceFile, ...withoutUndefined(options) };
    const { workers, queuePackets, queueBytes, maxFileBytes, rotateMs } = this.#options;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`persistence workers must be a positive integer, got ${workers}`);
    if (!Number.isInteger(queuePackets) || queuePackets < 1) throw new RangeError(`persistence queue must hold at least one packet, got ${queuePackets}`);
    if (!(queueBytes >= 1)) throw new RangeError(`persistence queue bytes must be positive, got ${queueBytes}`);
    if (!(maxFileBytes >= 0)) throw new RangeError(`persistence file size limit must be 0 or more, got ${maxFileBytes}`);
    if (!(rotateMs >= 0)) throw new RangeError(`persistence rotation interval must be 0 or more, got ${rotateMs}`);
    this.#series = Array.from(
      { length: workers },
      (_, index) =>
        new FileSeries(this, {
          directory: this.#options.directory,
          prefix: this.#options.prefix,
          worker: index + 1,
          encoder: createRecordEncoder(this.#options.format),
          maxFileBytes,
          rotateMs,
          openFile: this.#options.openFile,
        }),
    );
    this.#needsFrames = createRecordEncoder(this.#options.format).needsFrames;
  }

  /** Whether `offer()` needs the original frames (pcap, pcapng): decode with `keepFrames`. */
  get needsFrames(): boolean {
    return this.#needsFrames;
  }

  /** Packets the queue holds at most (YAML `channel_buffer_size`). */
  get queuePackets(): number {
    return this.#options.queuePackets;
  }

  get directory(): string {
    return this.#options.directory;
  }

  get format(): PersistenceFormat {
    return this.#options.format;
  }

  /** The disk error that stopped persistence, if any. */
  get error(): NetSpectraError | undefined {
    return this.#error;
  }

  /** Files created so far, in the order they were opened. */
  get files(): readonly string[] {
    return this.#paths;
  }

  get stats(): PersistenceStats {
    return {
      offered: this.#offered,
      written: this.#written,
      dropped: this.#dropped,
      lost: this.#lost,
      unrepresentable: this.#unrepresentable,
      queued: this.#queuedPackets,
      bytesWritten: this.#bytesWritten,
      files: this.#paths.length,
    };
  }

  /** Create the folder and check that it is writable; NS_ERR_PERSIST_WRITE when it is not. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('PacketPersistence.start() may be called once');
    this.#started = true;
    const directory = this.#options.directory;
    try {
      await mkdir(directory, { recursive: true });
      await access(directory, constants.W_OK);
    } catch (cause) {
      this.#error = persistError(directory, cause, 'the persistence folder cannot be created or written to; packets are not persisted');
      throw this.#error;
    }
    this.#accepting = this.#stopping === undefined;
  }

  /**
   * Queue packets `[start, end)` of `batch` for writing; with pcap or pcapng, `frames` are the
   * batch's original frames (CaptureDecoder `keepFrames`). Never waits: a packet that does not fit
   * in the queue is dropped and counted. The batch may be reused as soon as this returns.
   */
  offer(batch: PacketBatch, start: number, end: number, frames?: CapturedFrames): void {
    const count = end - start;
    if (count <= 0) return;
    if (!this.#started) throw new Error('PacketPersistence.offer() before start()');
    this.#offered += count;
    if (!this.#accepting) {
      this.#lost += count;
      return;
    }
    if (this.#needsFrames && (frames === undefined || frames.count < end)) {
      throw new Error(`${this.#options.format} persistence needs the original frames of the batch (CaptureDecoder option keepFrames)`);
    }
    const packets = this.#packets;
    packets.batch = batch;
    packets.frames = frames;
    packets.arena = frames === undefined ? undefined : Buffer.from(frames.bytes.buffer, frames.bytes.byteOffset, frames.bytes.byteLength);
    const series = this.#series;
    const workers = series.length;
    const queuePackets = this.#options.queuePackets;
    const queueBytes = this.#options.queueBytes;
    const srcAddr = batch.srcAddr;
    const dstAddr = batch.dstAddr;
    for (let i = start; i < end; i++) {
      const target = workers === 1 ? series[0]! : series[pairHash(srcAddr, dstAddr, i << 2) % workers]!;
      const size = target.measure(packets, i);
      if (size < 0) {
        this.#unrepresentable++;
        continue;
      }
      if (this.#queuedPackets >= queuePackets || this.#queuedBytes + size > queueBytes) {
        this.#dropped++;
        continue;
      }
      this.#queuedBytes += target.append(packets, i, size);
      this.#queuedPackets++;
    }
    packets.arena = undefined;
    packets.frames = undefined;
  }

  /**
   * `offer()` for a source that can wait without losing anything (replaying a file): waits for
   * room in the queue instead of dropping, so the source runs at the disk's pace. Offers in
   * quarters of the queue, so that encoding the next slice overlaps writing the previous ones.
   * Live capture uses `offer()`, which never waits.
   */
  async offerWithoutDropping(batch: PacketBatch, start: number, end: number, frames?: CapturedFrames): Promise<void> {
    const slice = Math.max(1, Math.floor(this.#options.queuePackets / 4));
    for (let from = start; from < end; ) {
      const to = Math.min(end, from + slice);
      await this.whenRoom(to - from);
      this.offer(batch, from, to, frames);
      from = to;
    }
  }

  /**
   * Resolves when `packets` more (at most `queuePackets`) fit in the queue, or at once when
   * persistence no longer accepts packets. The bytes bound counts as room when the queue holds at
   * most half of `queueBytes`.
   */
  whenRoom(packets: number): Promise<void> {
    if (this.#hasRoom(packets)) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push({ packets, resolve }));
  }

  #hasRoom(packets: number): boolean {
    const { queuePackets, queueBytes } = this.#options;
    return !this.#accepting || (this.#queuedPackets + Math.min(packets, queuePackets) <= queuePackets && this.#queuedBytes <= queueBytes / 2);
  }

  #wakeWaiters(): void {
    const waiters = this.#roomWaiters;
    while (waiters.length > 0 && this.#hasRoom(waiters[0]!.packets)) waiters.shift()!.resolve();
  }

  /**
   * Stop accepting packets, write everything queued, and flush and close every file. Safe to call
   * twice. Does not throw for a disk error: see `error` (and `onError`).
   */
  stop(): Promise<void> {
    this.#accepting = false;
    this.#wakeWaiters();
    this.#stopping ??= Promise.all(this.#series.map((series) => series.finish())).then(() => undefined);
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // SeriesOwner

  get hasFailed(): boolean {
    return this.#error !== undefined;
  }

  written(packets: number, bytes: number): void {
    this.#written += packets;
    this.#bytesWritten += bytes;
    this.#queuedPackets -= packets;
    this.#queuedBytes -= bytes;
    if (this.#roomWaiters.length > 0) this.#wakeWaiters();
  }

  lost(packets: number, bytes: number): void {
    this.#lost += packets;
    this.#queuedPackets -= packets;
    this.#queuedBytes -= bytes;
  }

  fileOpened(path: string): void {
    this.#paths.push(path);
  }

  failed(cause: unknown, path: string): void {
    if (this.#error !== undefined) return;
    this.#accepting = false;
    let abandoned = 0;
    for (const series of this.#series) {
      const { packets, bytes } = series.abandon();
      this.lost(packets, bytes);
      abandoned += packets;
    }
    const error = persistError(path, cause, `persistence stopped (${abandoned} queued packets not written), capture goes on`);
    this.#error = error;
    this.#wakeWaiters();
    this.#options.onError?.(error);
  }
}

/**
 * A symmetric hash of the two addresses of packet `word / 4` (4 words each): the same for A→B and
 * B→A. Each address is mixed on its own and the two are added, so the order does not matter.
 */
function pairHash(srcAddr: Uint32Array, dstAddr: Uint32Array, word: number): number {
  const a = mixAddress(srcAddr[word]!, srcAddr[word + 1]!, srcAddr[word + 2]!, srcAddr[word + 3]!);
  const b = mixAddress(dstAddr[word]!, dstAddr[word + 1]!, dstAddr[word + 2]!, dstAddr[word + 3]!);
  return remix32((a + b) | 0, 0) >>> 0;
}

function mixAddress(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0, 0x9e3779b1) ^ w1;
  h = Math.imul(h, 0x85ebca6b) ^ w2;
  h = Math.imul(h, 0xc2b2ae35) ^ w3;
  return remix32(h, 0) >>> 0;
}

/** The default file: created exclusively (`wx`), appended to, flushed to disk when closed. */
export async function openPersistenceFile(path: string): Promise<PersistenceFile> {
  const handle = await open(path, 'wx', 0o644);
  return {
    async write(bytes: Uint8Array): Promise<void> {
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
        done += bytesWritten;
      }
    },
    async close(): Promise<void> {
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
    async truncate(length: number): Promise<void> {
      await handle.truncate(length);
    },
  };
}

function persistError(path: string, cause: unknown, consequence: string): NetSpectraError {
  const reason = errorMessage(cause);
  return new NetSpectraError('NS_ERR_PERSIST_WRITE', `${path}: ${reason}; ${consequence}`, { cause, location: { file: path } });
}

function withoutUndefined<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;
}
