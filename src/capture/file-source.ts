/**
 * Capture files as a stream of large chunks for CaptureDecoder, gunzipped on the fly when the file
 * starts with the gzip magic (1f 8b), so `.pcap.gz` and `.pcapng.gz` work without a temporary file.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { NetSpectraError, errorMessage } from '../model/errors.js';

/** Read size: large reads amortise the per-chunk cost of the stream and the decoder. */
export const CAPTURE_READ_CHUNK_BYTES = 4 * 1024 * 1024;

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Yield the (decompressed) bytes of a capture file. Errors are NetSpectraErrors naming the file. */
export async function* openCaptureFile(path: string): AsyncIterable<Uint8Array> {
  let gzipped: boolean;
  try {
    const handle = await open(path, 'r');
    try {
      const head = new Uint8Array(2);
      const { bytesRead } = await handle.read(head, 0, 2, 0);
      gzipped = bytesRead === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
    } finally {
      await handle.close();
    }
  } catch (cause) {
    throw openError(path, cause);
  }
  if (!gzipped) {
    yield* readPlainFile(path);
    return;
  }
  const file = createReadStream(path, { highWaterMark: CAPTURE_READ_CHUNK_BYTES });
  let stream: Readable = file;
  if (gzipped) {
    const gunzip = createGunzip({ chunkSize: CAPTURE_READ_CHUNK_BYTES });
    // pipe() does not forward errors: a read error of the file must end the gunzip stream too.
    file.on('error', (cause) => gunzip.destroy(cause));
    stream = file.pipe(gunzip);
  }
  let offset = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      offset += chunk.length;
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    }
  } catch (cause) {
    if (gzipped && !isFileSystemError(cause)) {
      throw new NetSpectraError('NS_ERR_CAPTURE_GZIP', `${path}: the gzip stream is damaged after ${offset} decompressed bytes: ${errorMessage(cause)}`, {
        cause,
        location: { file: path, offset },
      });
    }
    throw openError(path, cause);
  } finally {
    file.destroy();
    stream.destroy();
  }
}

/**
 * A plain file through two alternating buffers, the next read in flight while the consumer decodes
 * the current chunk. Reusing two buffers instead of allocating one per chunk spares the collector
 * half a gigabyte of garbage per 500 MB capture. A chunk stays valid until the one after the next
 * is requested; the decoder copies any record tail it keeps across chunks.
 */
async function* readPlainFile(path: string): AsyncGenerator<Uint8Array> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw openError(path, cause);
  }
  const buffers = [new Uint8Array(CAPTURE_READ_CHUNK_BYTES), new Uint8Array(CAPTURE_READ_CHUNK_BYTES)];
  const readInto = (buffer: Uint8Array, at: number) => handle.read(buffer, 0, buffer.length, at);
  let pending = readInto(buffers[0]!, 0);
  try {
    let position = 0;
    let turn = 0;
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await pending);
      } catch (cause) {
        throw openError(path, cause);
      }
      if (bytesRead === 0) return;
      const current = buffers[turn]!;
      position += bytesRead;
      turn ^= 1;
      pending = readInto(buffers[turn]!, position);
      yield current.subarray(0, bytesRead);
    }
  } finally {
    // a consumer that stops early leaves one read in flight: let it settle before closing
    await pending.catch(() => undefined);
    await handle.close();
  }
}

function openError(path: string, cause: unknown): NetSpectraError {
  return new NetSpectraError('NS_ERR_CAPTURE_OPEN', `${path}: cannot read the capture file: ${errorMessage(cause)}`, { cause, location: { file: path } });
}

function isFileSystemError(cause: unknown): boolean {
  return cause instanceof Error && 'syscall' in cause;
}

