/**
 * The capture packet sources (model/ports PacketSource): capture files read in order as fast as
 * they decode, and live capture through tcpdump. Both run the same streaming decoder
 * (decode/CaptureDecoder) over chunks of bytes; they differ in their clock (packet time for files,
 * the wall clock live), in how they stop (a replay stops after the current batch; a live capture
 * hands over what tcpdump still has) and in what is fatal (an unreadable or damaged file is
 * recorded and the next file read; a capture that cannot start ends the source).
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { CaptureDecoder, emptyDecodeStats, mergeDecodeStats, type CapturedFrames, type DecodeStats } from '../decode/index.js';
import { isNetSpectraError, type NetSpectraError } from '../model/errors.js';
import type { BatchPool, PacketBatch } from '../model/packet.js';
import type { PrometheusText } from '../model/prometheus-text.js';
import type { PacketSource, PacketSourceStats, SourceContext, SourceTiming } from '../model/ports.js';
import { openCaptureFile } from './file-source.js';
import { LiveCapture, type LiveCaptureOptions, type LiveCaptureStats } from './live-capture.js';

/** One capture file once read: what its decoder saw, and the damage that stopped it, if any. */
export interface CaptureInputResult {
  path: string;
  stats: DecodeStats;
  error: NetSpectraError | undefined;
}

/** What both capture sources share: the decoder loop and its counters. */
abstract class DecodingSource implements PacketSource {
  abstract readonly description: string;
  abstract readonly inputs: readonly string[];
  abstract readonly timing: SourceTiming;
  readonly #keepFrames: boolean;
  #pool: BatchPool | undefined;
  /** Decode stats of the inputs finished so far; the current decoder's join them when it is done. */
  readonly #decoded = emptyDecodeStats();
  #current: CaptureDecoder | undefined;
  readonly #stats = { batches: 0, packets: 0 };
  protected readonly inputErrors: NetSpectraError[] = [];
  protected stopRequested = false;

  constructor(keepFrames: boolean) {
    this.#keepFrames = keepFrames;
  }

  get stats(): PacketSourceStats {
    return { ...this.#stats, inputErrors: [...this.inputErrors] };
  }

  /** What the decoder saw over every input so far, the one being read included. */
  get decoded(): DecodeStats {
    const decoded = emptyDecodeStats();
    mergeDecodeStats(decoded, this.#decoded);
    if (this.#current !== undefined) mergeDecodeStats(decoded, this.#current.stats);
    return decoded;
  }

  /**
   * With `keepFrames`: the original frames of the batch delivered last, slot for slot (the probe's
   * pcap persistence writes them); valid until the next batch is asked for.
   */
  get frames(): CapturedFrames | undefined {
    return this.#current?.frames;
  }

  async start(context: SourceContext): Promise<void> {
    this.#pool = context.pool;
  }

  abstract batches(): AsyncIterable<PacketBatch>;
  abstract stop(): Promise<void>;

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * One input through a decoder, batch by batch. Damage of the input (and, with `recoverable`, a
   * coded error of its chunks, such as an unreadable file) is recorded and returned, not thrown.
   */
  protected async *decodeInput(
    name: string,
    chunks: AsyncIterable<Uint8Array>,
    live: boolean,
    recoverable: boolean,
  ): AsyncGenerator<PacketBatch, { stats: DecodeStats; error: NetSpectraError | undefined }> {
    if (this.#pool === undefined) throw new Error(`${this.description}: batches() before start()`);
    // live: a batch per pipe read, so packets do not wait for thousands of others
    const decoder = new CaptureDecoder({ name, pool: this.#pool, keepFrames: this.#keepFrames, yieldPartialBatches: live });
    this.#current = decoder;
    let readError: NetSpectraError | undefined;
    try {
      for await (const batch of decoder.decode(chunks)) {
        this.#stats.batches++;
        this.#stats.packets += batch.count;
        yield batch;
        // a replay stops at once; a live capture ends when tcpdump, stopped, has handed everything over
        if (!live && this.stopRequested) break;
      }
    } catch (error) {
      if (!recoverable || !isNetSpectraError(error)) throw error;
      readError = error;
    } finally {
      this.#current = undefined;
      mergeDecodeStats(this.#decoded, decoder.stats);
    }
    const damage = decoder.error ?? readError;
    if (damage !== undefined) this.inputErrors.push(damage);
    return { stats: decoder.stats, error: damage };
  }
}

export interface CaptureFileSourceOptions {
  /** pcap / pcapng files, gzip compressed or not, read in this order. */
  files: readonly string[];
  /** Keep each batch's original frames (`frames`). @default false */
  keepFrames?: boolean;
  /** Called after every batch with the bytes read so far (decompressed for gzip), the total file size and the frames decoded. */
  onProgress?: (bytesRead: number, bytesTotal: number, frames: number) => void;
}

/** Capture files, in order, in packet time. An unreadable or damaged file is recorded and the next one read. */
export class CaptureFileSource extends DecodingSource {
  readonly description: string;
  readonly inputs: readonly string[];
  readonly timing = 'packet' as const;
  readonly #options: CaptureFileSourceOptions;
  readonly #results: CaptureInputResult[] = [];

  constructor(options: CaptureFileSourceOptions) {
    super(options.keepFrames ?? false);
    this.#options = options;
    this.inputs = options.files.map((f) => basename(f));
    this.description = `files:${this.inputs.join(',')}`;
  }

  /** The files read so far, in order. */
  get results(): readonly CaptureInputResult[] {
    return this.#results;
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    const files = this.#options.files;
    const onProgress = this.#options.onProgress;
    const sizes = onProgress === undefined ? [] : await Promise.all(files.map(async (f) => (await stat(f).catch(() => undefined))?.size ?? 0));
    const bytesTotal = sizes.reduce((a, b) => a + b, 0);
    let bytesBefore = 0;
    for (const [index, path] of files.entries()) {
      if (this.stopRequested) break;
      let bytesRead = 0;
      const chunks = countBytes(openCaptureFile(path), (n) => {
        bytesRead += n;
      });
      const decoding = this.decodeInput(basename(path), chunks, false, true);
      let step = await decoding.next();
      while (step.done !== true) {
        yield step.value;
        onProgress?.(bytesBefore + bytesRead, bytesTotal, this.decoded.frames);
        step = await decoding.next();
      }
      bytesBefore += sizes[index] ?? 0;
      this.#results.push({ path, ...step.value });
    }
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
  }
}

export interface LiveCaptureSourceOptions extends LiveCaptureOptions {
  /** Keep each batch's original frames (`frames`). @default false */
  keepFrames?: boolean;
}

/** Live capture through tcpdump, on the wall clock. A capture that cannot start (or dies) ends the source with NS_ERR_CAPTURE_LIVE. */
export class LiveCaptureSource extends DecodingSource {
  readonly description: string;
  readonly inputs: readonly string[];
  readonly timing = 'wall' as const;
  readonly #capture: LiveCapture;
  readonly #iface: string;

  constructor(options: LiveCaptureSourceOptions) {
    super(options.keepFrames ?? false);
    const { keepFrames: _keepFrames, ...capture } = options;
    this.#capture = new LiveCapture(capture);
    this.#iface = options.iface;
    this.description = `iface:${options.iface}`;
    this.inputs = [this.description];
  }

  /** tcpdump's latest counters. */
  get captureStats(): LiveCaptureStats {
    return this.#capture.stats;
  }

  addMetrics(text: PrometheusText): void {
    const c = this.#capture.stats;
    text
      .single('netspectra_capture_packets_captured_total', 'counter', 'Packets tcpdump handed over (its last report).', c.captured)
      .single('netspectra_capture_packets_received_by_filter_total', 'counter', 'Packets the capture filter accepted (its last report).', c.receivedByFilter)
      .single('netspectra_capture_packets_dropped_by_kernel_total', 'counter', 'Packets the kernel dropped because the capture buffer was full.', c.droppedByKernel);
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    // what tcpdump hands over after stop() is still delivered: its stream ends on its own
    yield* this.decodeInput(this.#iface, this.#capture.chunks(), true, false);
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.#capture.stop();
  }
}

/** Pass chunks through, reporting their sizes (for progress; gzip files count decompressed bytes). */
async function* countBytes(chunks: AsyncIterable<Uint8Array>, onChunk: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    onChunk(chunk.byteLength);
    yield chunk;
  }
}
