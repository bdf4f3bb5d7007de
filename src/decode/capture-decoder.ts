/**
 * The streaming front of capture decoding: sniffs the format from the first bytes, feeds chunks of
 * any size to the pcap or pcapng reader, and hands out batches of IP packets.
 *
 * Chunks are parsed in place. Only a unit (file header, record, block) cut by a chunk boundary is
 * copied, into a carry buffer that grows to at most that one unit; the copy takes just the bytes the
 * unit needs, so memory stays at one record plus the chunk however the input is sliced.
 */
import type { NetSpectraError } from '../model/errors.js';
import type { BatchPool, PacketBatch } from '../model/packet.js';
import type { CaptureFormatReader } from './capture-format.js';
import { CapturedFrames } from './captured-frames.js';
import { captureError } from './capture-format.js';
import type { DecodeStats } from './decode-stats.js';
import { emptyDecodeStats } from './decode-stats.js';
import { FrameDecoder } from './frame-decoder.js';
import { PcapReader, isPcapMagic } from './pcap.js';
import { PcapngReader, isPcapngMagic } from './pcapng.js';

export type { DecodeStats, Timestamp } from './decode-stats.js';
export { emptyDecodeStats, mergeDecodeStats } from './decode-stats.js';

const MAGIC_LENGTH = 4;
const INITIAL_CARRY_BYTES = 64 * 1024;

export interface CaptureDecoderOptions {
  /** Name of the input (file name) used in error messages. */
  name: string;
  /** Where batches come from; the consumer releases each batch it received back to it. */
  pool: BatchPool;
  /**
   * Also keep the original bytes of each batch's frames ({@link CaptureDecoder.frames}), for a
   * consumer that writes them out again (the probe's pcap persistence).
   * @default false
   */
  keepFrames?: boolean;
  /**
   * Hand out the batch at the end of every input chunk, even partly filled, instead of only full
   * ones: for live capture, where packets must not wait for thousands of others (tcpdump delivers
   * a chunk per pipe read).
   * @default false
   */
  yieldPartialBatches?: boolean;
}

export class CaptureDecoder {
  readonly stats: DecodeStats = emptyDecodeStats();
  /** Damage that stopped decoding (truncated file, bad header, huge record …), if any. Packets before it are kept. */
  error: NetSpectraError | undefined;
  readonly #name: string;
  readonly #pool: BatchPool;
  readonly #keepFrames: boolean;
  readonly #yieldPartialBatches: boolean;
  #frames: FrameDecoder | undefined;
  #reader: CaptureFormatReader | undefined;
  #carry = new Uint8Array(0);
  #carryLength = 0;
  /** Offset in the input of the first byte not yet consumed. */
  #streamOffset = 0;
  #started = false;

  constructor(options: CaptureDecoderOptions) {
    this.#name = options.name;
    this.#pool = options.pool;
    this.#keepFrames = options.keepFrames ?? false;
    this.#yieldPartialBatches = options.yieldPartialBatches ?? false;
  }

  /**
   * With `keepFrames`: the original frames of the batch `decode()` yielded last, slot for slot.
   * Valid until the consumer asks for the next batch (the arena is then reused); undefined
   * without `keepFrames` or before the first batch.
   */
  get frames(): CapturedFrames | undefined {
    return this.#frames?.captured;
  }

  /**
   * Yields PacketBatch objects from options.pool holding ONLY IP frames (count>0); the last one may be partial.
   * The consumer calls pool.release(batch) when done with each. Never throws for damaged input: it stops and sets `error`.
   * Errors of the chunk source itself (e.g. a read error) propagate.
   */
  async *decode(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<PacketBatch, void, undefined> {
    if (this.#started) throw new Error('CaptureDecoder.decode() may be called once per decoder');
    this.#started = true;
    const firstBatch = this.#pool.acquire();
    const frames = new FrameDecoder(firstBatch, this.#keepFrames ? new CapturedFrames(firstBatch.capacity) : undefined);
    this.#frames = frames;
    let handedOut = false;
    const pool = this.#pool;
    const stats = this.stats;
    /** Hand the batch being filled to the consumer and go on in a fresh one. */
    function* handOver(): Generator<PacketBatch, void, undefined> {
      frames.writeStats(stats);
      handedOut = true;
      yield frames.batch;
      frames.batch = pool.acquire();
      frames.captured?.clear();
      handedOut = false;
    }
    try {
      for await (const chunk of chunks) {
        let position = 0;
        while (this.error === undefined) {
          position = this.#feed(chunk, position);
          if (frames.batch.count < frames.batch.capacity) break;
          yield* handOver();
        }
        if (this.error !== undefined) break;
        if (this.#yieldPartialBatches && frames.batch.count > 0) yield* handOver();
      }
      if (this.error === undefined) this.#finish();
      frames.writeStats(this.stats);
      if (frames.batch.count > 0) {
        handedOut = true;
        yield frames.batch;
      }
    } finally {
      if (!handedOut) this.#pool.release(frames.batch);
      frames.writeStats(this.stats);
      this.#carry = new Uint8Array(0);
    }
  }

  /**
   * Parse as much of `chunk` from `position` as possible. Returns the new position; stops early only
   * when the batch is full or on damage.
   */
  #feed(chunk: Uint8Array, position: number): number {
    const frames = this.#frames!;
    while (this.error === undefined && frames.batch.count < frames.batch.capacity) {
      if (this.#carryLength > 0) {
        const needed = this.#needed();
        const take = Math.min(needed - this.#carryLength, chunk.length - position);
        if (take > 0) {
          this.#appendToCarry(chunk, position, take);
          position += take;
        }
        if (this.#carryLength < needed) return position;
        const consumed = this.#parse(this.#carry, 0, this.#carryLength);
        if (consumed > 0) {
          this.#carry.copyWithin(0, consumed, this.#carryLength);
          this.#carryLength -= consumed;
        }
        continue;
      }
      if (position >= chunk.length) return position;
      position += this.#parse(chunk, position, chunk.length);
      if (this.error !== undefined || frames.batch.count >= frames.batch.capacity) return position;
      // The rest of the chunk is the start of an incomplete unit: keep it for the next chunk.
      this.#appendToCarry(chunk, position, chunk.length - position);
      return chunk.length;
    }
    return position;
  }

  #needed(): number {
    return this.#reader === undefined ? MAGIC_LENGTH : this.#reader.needed;
  }

  #parse(bytes: Uint8Array, start: number, end: number): number {
    let consumed = 0;
    if (this.#reader === undefined) {
      if (end - start < MAGIC_LENGTH) return 0;
      this.#reader = this.#sniff(bytes, start);
      if (this.#reader === undefined) return 0;
    }
    consumed = this.#reader.parse(bytes, start, end, this.#streamOffset);
    this.#streamOffset += consumed;
    if (this.#reader.error !== undefined) this.error = this.#reader.error;
    return consumed;
  }

  #sniff(bytes: Uint8Array, at: number): CaptureFormatReader | undefined {
    const frames = this.#frames!;
    if (isPcapMagic(bytes, at)) return new PcapReader(this.#name, frames);
    if (isPcapngMagic(bytes, at)) return new PcapngReader(this.#name, frames);
    const gzip = bytes[at] === 0x1f && bytes[at + 1] === 0x8b;
    this.error = captureError(
      'NS_ERR_CAPTURE_FORMAT',
      this.#name,
      0,
      gzip ? 'gzip-compressed data reached the decoder undecompressed (open captures with openCaptureFile)' : 'not a pcap, pcapng or gzip-compressed capture',
    );
    return undefined;
  }

  /** The input ended: whatever is left in the carry buffer is an incomplete unit. */
  #finish(): void {
    if (this.#reader === undefined) {
      const problem = this.#carryLength === 0 ? 'the file is empty' : `only ${this.#carryLength} bytes, too short to be a capture`;
      this.error = captureError('NS_ERR_CAPTURE_FORMAT', this.#name, 0, problem);
      return;
    }
    if (this.#carryLength > 0) this.error = this.#reader.truncationError(this.#streamOffset);
  }

  #appendToCarry(chunk: Uint8Array, from: number, length: number): void {
    const required = this.#carryLength + length;
    if (required > this.#carry.length) {
      const grown = new Uint8Array(Math.max(required, this.#carry.length * 2, INITIAL_CARRY_BYTES));
      grown.set(this.#carry.subarray(0, this.#carryLength));
      this.#carry = grown;
    }
    this.#carry.set(chunk.subarray(from, from + length), this.#carryLength);
    this.#carryLength = required;
  }
}
