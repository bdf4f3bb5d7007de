/**
 * One persistence worker: the only writer of its own series of files. Packets are encoded into
 * byte chunks as they are offered (synchronously, in the capture path, which never waits for the
 * disk); an asynchronous loop writes the chunks in order, one write in flight at a time. A chunk
 * belongs to exactly one file, so rotation is decided when a packet is encoded, independently of
 * how fast the disk is, and a file is flushed and closed before the next one is opened.
 *
 * Rotation follows packet time, like tcpdump's `-G` (which also rotates only when a packet
 * arrives): a replayed capture is cut where its own clock crosses the boundary, and live capture
 * sees no difference. Boundaries are multiples of the interval since the epoch (1h: on the hour).
 */
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import type { OfferedPackets, RecordEncoder } from './record-encoders.js';

/** One open file of a series. The default implementation is a node:fs FileHandle. */
export interface PersistenceFile {
  /** Write all of `bytes` at the end of the file. */
  write(bytes: Uint8Array): Promise<void>;
  /** Flush to stable storage and close. */
  close(): Promise<void>;
  /** Cut the file to `length` bytes (drops a record half written when the disk failed). */
  truncate(length: number): Promise<void>;
}

/** Creates `path`, failing with code EEXIST when it exists (a series never overwrites a file). */
export type OpenPersistenceFile = (path: string) => Promise<PersistenceFile>;

/** What a series reports to its owner, which holds the budget shared by all series. */
export interface SeriesOwner {
  /** Packets and bytes that reached a file. */
  written(packets: number, bytes: number): void;
  /** Packets and bytes accepted but never written (the disk failed). */
  lost(packets: number, bytes: number): void;
  fileOpened(path: string): void;
  /** A write, open or close failed: persistence stops. */
  failed(cause: unknown, path: string): void;
  /** True once persistence has failed. */
  readonly hasFailed: boolean;
}

export interface FileSeriesOptions {
  directory: string;
  prefix: string;
  /** 1-based worker number, part of every file name of the series. */
  worker: number;
  encoder: RecordEncoder;
  /** A file is closed before it would exceed this; 0: no limit. */
  maxFileBytes: number;
  /** Rotation interval of packet time, ms; 0: none. */
  rotateMs: number;
  openFile: OpenPersistenceFile;
}

/** Chunk size: large writes, and few chunks for a full queue. */
const CHUNK_BYTES = 1024 * 1024;
/** Empty chunks kept for reuse per series. */
const SPARE_CHUNKS = 2;
/** Sequence numbers tried when names are taken (files of an earlier run in the same folder). */
const MAX_NAME_ATTEMPTS = 100_000;

/** Identity of one file of the series; the name is chosen when it is opened. */
interface FileTicket {
  /** Packet time of its first packet, whole seconds: the UTC timestamp of its name. */
  readonly firstSeconds: number;
}

interface Chunk {
  file: FileTicket;
  buffer: Buffer;
  used: number;
  packets: number;
}

interface OpenFile {
  readonly ticket: FileTicket;
  readonly path: string;
  readonly file: PersistenceFile;
  /** Bytes written successfully. */
  length: number;
}

export class FileSeries {
  readonly #owner: SeriesOwner;
  readonly #options: FileSeriesOptions;
  readonly #encoder: RecordEncoder;
  // Encoding side, synchronous.
  #ticket: FileTicket | undefined;
  #fileBytes = 0;
  #fileRecords = 0;
  #intervalEnd = Infinity;
  #fill: Chunk | undefined;
  readonly #queue: Chunk[] = [];
  readonly #spare: Buffer[] = [];
  // Writing side, asynchronous.
  #looping = false;
  #loop: Promise<void> = Promise.resolve();
  #kickScheduled = false;
  #open: OpenFile | undefined;
  #sequence = 1;
  /** The file being opened or written, for the error message when that fails. */
  #path: string;

  constructor(owner: SeriesOwner, options: FileSeriesOptions) {
    this.#owner = owner;
    this.#options = options;
    this.#encoder = options.encoder;
    this.#path = options.directory;
  }

  /** Bytes packet `i` would add to the current file, -1 when the format cannot hold it. */
  measure(packets: OfferedPackets, i: number): number {
    return this.#encoder.measure(packets, i);
  }

  /**
   * Encode packet `i` (`size` from `measure` just before), starting a new file first when the
   * rotation rules say so. Returns the bytes it queued (the record, plus a file header).
   */
  append(packets: OfferedPackets, i: number, size: number): number {
    const { batch } = packets;
    const options = this.#options;
    const encoder = this.#encoder;
    const seconds = batch.tsSeconds[i]!;
    const timeMs = options.rotateMs > 0 ? seconds * 1000 + batch.tsNanos[i]! / 1e6 : 0;
    let queued = 0;
    if (
      this.#ticket === undefined ||
      encoder.conflicts(packets, i) ||
      (options.maxFileBytes > 0 && this.#fileRecords > 0 && this.#fileBytes + size > options.maxFileBytes) ||
      timeMs >= this.#intervalEnd
    ) {
      const ticket: FileTicket = { firstSeconds: seconds };
      this.#ticket = ticket;
      this.#fileRecords = 0;
      this.#intervalEnd = options.rotateMs > 0 ? (Math.floor(timeMs / options.rotateMs) + 1) * options.rotateMs : Infinity;
      const fill = this.#room(encoder.maxHeaderBytes);
      const at = fill.used;
      fill.used = encoder.startFile(fill.buffer, at, packets, i);
      queued = fill.used - at;
      this.#fileBytes = queued;
      // What the record needs can change with the new file (a pcapng interface to describe).
      size = encoder.measure(packets, i);
    }
    const fill = this.#room(size);
    fill.used = encoder.writeRecord(fill.buffer, fill.used, packets, i);
    fill.packets++;
    this.#fileBytes += size;
    this.#fileRecords++;
    this.#kick();
    return queued + size;
  }

  /** Write everything queued, then flush and close the current file. */
  async finish(): Promise<void> {
    while (this.#looping) await this.#loop;
    if (!this.#owner.hasFailed) this.#startLoop();
    while (this.#looping) await this.#loop;
    if (this.#owner.hasFailed) return;
    try {
      await this.#close();
    } catch (error) {
      this.#owner.failed(error, this.#path);
    }
  }

  /** Persistence failed: forget what is queued. Returns the packets and bytes forgotten. */
  abandon(): { packets: number; bytes: number } {
    let packets = 0;
    let bytes = 0;
    for (const chunk of this.#queue) {
      packets += chunk.packets;
      bytes += chunk.used;
    }
    this.#queue.length = 0;
    if (this.#fill !== undefined) {
      packets += this.#fill.packets;
      bytes += this.#fill.used;
      this.#fill = undefined;
    }
    // If the loop is idle, the open file is closed here; otherwise the loop closes it on its way out.
    if (!this.#looping && this.#open !== undefined) {
      this.#looping = true;
      this.#loop = this.#closeAfterFailure().finally(() => {
        this.#looping = false;
      });
    }
    return { packets, bytes };
  }

  /** The fill chunk of the current file with room for `bytes` more. */
  #room(bytes: number): Chunk {
    let fill = this.#fill;
    if (fill !== undefined && fill.file === this.#ticket && fill.buffer.length - fill.used >= bytes) return fill;
    this.#seal();
    const reused = bytes <= CHUNK_BYTES ? this.#spare.pop() : undefined;
    fill = { file: this.#ticket!, buffer: reused ?? Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes)), used: 0, packets: 0 };
    this.#fill = fill;
    return fill;
  }

  #seal(): void {
    const fill = this.#fill;
    if (fill === undefined) return;
    this.#fill = undefined;
    if (fill.used > 0) this.#queue.push(fill);
    else this.#recycle(fill);
  }

  #recycle(chunk: Chunk): void {
    if (chunk.buffer.length === CHUNK_BYTES && this.#spare.length < SPARE_CHUNKS) this.#spare.push(chunk.buffer);
  }

  /**
   * Start the write loop once the current synchronous work is done, so that a whole offered batch
   * goes out in one write rather than its first packet alone.
   */
  #kick(): void {
    if (this.#looping || this.#kickScheduled) return;
    this.#kickScheduled = true;
    queueMicrotask(() => {
      this.#kickScheduled = false;
      this.#startLoop();
    });
  }

  #startLoop(): void {
    if (this.#looping || this.#owner.hasFailed) return;
    this.#looping = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    let inFlight: Chunk | undefined;
    try {
      for (;;) {
        if (this.#owner.hasFailed) {
          await this.#closeAfterFailure();
          return;
        }
        let chunk = this.#queue.shift();
        if (chunk === undefined) {
          // Nothing sealed: take what the fill chunk holds rather than wait for it to fill up.
          if (this.#fill === undefined || this.#fill.used === 0) return;
          chunk = this.#fill;
          this.#fill = undefined;
        }
        inFlight = chunk;
        if (this.#open?.ticket !== chunk.file) {
          await this.#close();
          await this.#openFor(chunk.file);
        }
        const open = this.#open!;
        await open.file.write(chunk.buffer.subarray(0, chunk.used));
        open.length += chunk.used;
        inFlight = undefined;
        this.#owner.written(chunk.packets, chunk.used);
        this.#recycle(chunk);
      }
    } catch (error) {
      if (inFlight !== undefined) this.#owner.lost(inFlight.packets, inFlight.used);
      this.#owner.failed(error, this.#path);
      await this.#closeAfterFailure();
    } finally {
      this.#looping = false;
    }
  }

  /** The name the next file would get: `<prefix>-<UTC of its first packet>-w<worker>-<sequence>.<ext>`. */
  #nextPath(ticket: FileTicket): string {
    const { directory, prefix, worker, encoder } = this.#options;
    const sequence = String(this.#sequence).padStart(4, '0');
    return join(directory, `${prefix}-${compactUtc(ticket.firstSeconds)}-w${worker}-${sequence}.${encoder.extension}`);
  }

  async #openFor(ticket: FileTicket): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const path = this.#nextPath(ticket);
      this.#path = path;
      this.#sequence++;
      try {
        const file = await this.#options.openFile(path);
        this.#open = { ticket, path, file, length: 0 };
        this.#owner.fileOpened(path);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= MAX_NAME_ATTEMPTS) throw error;
      }
    }
  }

  async #close(): Promise<void> {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    this.#path = open.path;
    await open.file.close();
  }

  /** Leave the file as it was after its last complete write, and close it; errors are moot now. */
  async #closeAfterFailure(): Promise<void> {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    await open.file.truncate(open.length).catch(() => undefined);
    await open.file.close().catch(() => undefined);
  }
}

/** `20260101T000000Z` for whole seconds since the epoch. */
export function compactUtc(seconds: number): string {
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) return 'unknown-time';
  const iso = date.toISOString(); // 2026-01-01T00:00:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
