/**
 * A synthetic capture and its ground truth written to files (gen-pcap, the benchmark's trace, the
 * tests): the generator's chunks stream to disk while the next ones are generated.
 */
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { NetSpectraError, isNetSpectraError } from '../model/errors.js';
import { TrafficGenerator, type TrafficOptions, type TruthSummary } from './traffic-generator.js';

export interface CaptureFiles {
  readonly pcapPath: string;
  readonly truthPath: string;
  /** Name recorded in the truth's `file` field. @default basename(pcapPath) */
  readonly fileName?: string;
}

export interface CaptureResult {
  readonly summary: TruthSummary;
  /** Size of the pcap file. */
  readonly fileBytes: number;
  readonly seconds: number;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Truth text is gathered into writes of about this many characters. */
const TRUTH_WRITE_CHARS = 1 << 20;

/**
 * Generate the capture into `files.pcapPath` and its truth into `files.truthPath`. Memory stays
 * at a few chunks plus the generator's per-flow tables, whatever the packet count: each chunk is
 * written while the next one is generated, and the truth JSON is streamed in pieces.
 */
export async function writeSyntheticCapture(options: TrafficOptions, files: CaptureFiles): Promise<CaptureResult> {
  const started = performance.now();
  const generator = new TrafficGenerator(options);
  let fileBytes = 0;
  await withFile(files.pcapPath, async (handle) => {
    let pending: Promise<void> | undefined;
    for (const chunk of generator) {
      if (pending !== undefined) await pending;
      pending = writeAll(handle, chunk);
      fileBytes += chunk.length;
    }
    await pending;
  });
  await withFile(files.truthPath, async (handle) => {
    let text = '';
    for (const piece of generator.truthJson(files.fileName ?? basename(files.pcapPath))) {
      text += piece;
      if (text.length >= TRUTH_WRITE_CHARS) {
        await writeAll(handle, Buffer.from(text));
        text = '';
      }
    }
    await writeAll(handle, Buffer.from(text));
  });
  return { summary: generator.summary(), fileBytes, seconds: (performance.now() - started) / 1000 };
}

async function withFile(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  let handle: FileHandle;
  try {
    await mkdir(dirname(path), { recursive: true });
    handle = await open(path, 'w');
  } catch (error) {
    throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot create ${path}: ${(error as Error).message}`, { cause: error, location: { file: path } });
  }
  try {
    await write(handle);
  } catch (error) {
    throw isNetSpectraError(error) ? error : new NetSpectraError('NS_ERR_STORE_WRITE', `cannot write ${path}: ${(error as Error).message}`, { cause: error, location: { file: path } });
  } finally {
    await handle.close();
  }
}
