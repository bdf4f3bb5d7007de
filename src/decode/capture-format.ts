/**
 * What the pcap and pcapng readers share: the incremental parsing contract the streaming front
 * (CaptureDecoder) drives, the size limits, and how damage is reported.
 */
import type { ErrorCode } from '../model/errors.js';
import { NetSpectraError } from '../model/errors.js';

/**
 * Largest captured length any record may have, whatever the file's snaplen says: far above any
 * real frame (Linux BIG TCP frames are ~80 KB, the largest link-type maximum in libpcap is
 * 256 MiB for D-Bus, which we do not decode), and it bounds the memory one record can make us hold.
 */
export const HARD_RECORD_LIMIT = 16 * 1024 * 1024;

/**
 * libpcap's and Wireshark's maximum snapshot length for ordinary link types (Ethernet, raw IP, ...).
 * Like them we reject a pcap record above max(snaplen, this): such a length is damage, not data.
 */
export const DEFAULT_MAX_SNAPLEN = 262144;

/** A pcapng block may hold a maximal record plus its block header, options and trailer. */
export const MAX_PCAPNG_BLOCK_LENGTH = HARD_RECORD_LIMIT + 64 * 1024;

export interface CaptureFormatReader {
  /**
   * Consume whole units (file header, records, blocks) of `bytes[start, end)`, whose first byte
   * is at `streamOffset` in the input. Stops when the frame decoder's batch is full, at damage
   * (sets `error`), or before a unit that is not complete (sets `needed`). Returns bytes consumed.
   */
  parse(bytes: Uint8Array, start: number, end: number, streamOffset: number): number;
  /** Bytes needed from the stop position before parse() can make progress. */
  readonly needed: number;
  error: NetSpectraError | undefined;
  /** The error for an input that ends inside the unit starting at `streamOffset`. */
  truncationError(streamOffset: number): NetSpectraError;
}

/** An error naming the file and the byte offset (decompressed stream) of the faulty structure. */
export function captureError(code: ErrorCode, file: string, offset: number, problem: string): NetSpectraError {
  return new NetSpectraError(code, `${file}: ${problem} (at byte offset ${offset})`, { location: { file, offset } });
}
