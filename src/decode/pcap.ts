/**
 * Classic libpcap files: a 24-byte file header, then records of a 16-byte header (seconds,
 * fraction, captured length, wire length) and the captured bytes. The magic gives the byte order
 * and whether the fraction is in microseconds (a1b2c3d4) or nanoseconds (a1b23c4d).
 */
import type { NetSpectraError } from '../model/errors.js';
import { u16, u32 } from './bytes.js';
import type { CaptureFormatReader } from './capture-format.js';
import { DEFAULT_MAX_SNAPLEN, HARD_RECORD_LIMIT, captureError } from './capture-format.js';
import type { FrameDecoder } from './frame-decoder.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/**
 * The link type field's lower 26 bits hold the link type; the upper bits may carry the FCS
 * length (libpcap's LT_LINKTYPE mask).
 */
const LINKTYPE_MASK = 0x03ffffff;

/** True when the first 4 bytes are one of the four pcap magics. */
export function isPcapMagic(bytes: Uint8Array, at: number): boolean {
  const be = u32(bytes, at, false);
  const le = u32(bytes, at, true);
  return be === PCAP_MAGIC_MICROSECONDS || be === PCAP_MAGIC_NANOSECONDS || le === PCAP_MAGIC_MICROSECONDS || le === PCAP_MAGIC_NANOSECONDS;
}

export class PcapReader implements CaptureFormatReader {
  needed = FILE_HEADER_LENGTH;
  error: NetSpectraError | undefined;
  readonly #name: string;
  readonly #frames: FrameDecoder;
  #headerRead = false;
  #littleEndian = false;
  #nanosecondFractions = false;
  #linkType = 0;
  #recordLimit = DEFAULT_MAX_SNAPLEN;

  constructor(name: string, frames: FrameDecoder) {
    this.#name = name;
    this.#frames = frames;
  }

  parse(bytes: Uint8Array, start: number, end: number, streamOffset: number): number {
    let at = start;
    if (!this.#headerRead) {
      if (end - at < FILE_HEADER_LENGTH) {
        this.needed = FILE_HEADER_LENGTH;
        return 0;
      }
      if (!this.#readFileHeader(bytes, at, streamOffset)) return 0;
      at += FILE_HEADER_LENGTH;
    }
    const frames = this.#frames;
    const littleEndian = this.#littleEndian;
    const nanosecondFractions = this.#nanosecondFractions;
    const linkType = this.#linkType;
    const recordLimit = this.#recordLimit;
    const batch = frames.batch;
    const capacity = batch.capacity;
    // One DataView per call, not per field: V8 compiles its reads to single loads, measurably
    // faster than assembling the 4 record-header words byte by byte.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    while (batch.count < capacity) {
      const available = end - at;
      if (available < RECORD_HEADER_LENGTH) {
        this.needed = RECORD_HEADER_LENGTH;
        break;
      }
      const capturedLength = view.getUint32(at + 8, littleEndian);
      if (capturedLength > recordLimit) {
        this.error = captureError(
          'NS_ERR_PCAP_RECORD_TOO_LARGE',
          this.#name,
          streamOffset + (at - start),
          `record of ${capturedLength} captured bytes is larger than the maximum of ${recordLimit}; the file is damaged`,
        );
        break;
      }
      if (available - RECORD_HEADER_LENGTH < capturedLength) {
        this.needed = RECORD_HEADER_LENGTH + capturedLength;
        break;
      }
      let seconds = view.getUint32(at, littleEndian);
      let fraction = view.getUint32(at + 4, littleEndian);
      const wireLength = view.getUint32(at + 12, littleEndian);
      // A fraction of a second or more is invalid but seen; carry it into the seconds.
      if (nanosecondFractions) {
        if (fraction >= 1e9) {
          seconds += Math.floor(fraction / 1e9);
          fraction %= 1e9;
        }
      } else {
        if (fraction >= 1e6) {
          seconds += Math.floor(fraction / 1e6);
          fraction %= 1e6;
        }
        fraction *= 1000;
      }
      frames.addFrame(bytes, at + RECORD_HEADER_LENGTH, capturedLength, wireLength, linkType, seconds, fraction, true);
      at += RECORD_HEADER_LENGTH + capturedLength;
    }
    return at - start;
  }

  truncationError(streamOffset: number): NetSpectraError {
    if (!this.#headerRead) return captureError('NS_ERR_PCAP_BAD_HEADER', this.#name, streamOffset, 'the file ends inside the 24-byte pcap file header');
    return captureError('NS_ERR_PCAP_TRUNCATED', this.#name, streamOffset, 'the capture was cut short inside a record');
  }

  #readFileHeader(bytes: Uint8Array, at: number, streamOffset: number): boolean {
    const magicBigEndian = u32(bytes, at, false);
    const magicLittleEndian = u32(bytes, at, true);
    if (magicLittleEndian === PCAP_MAGIC_MICROSECONDS || magicLittleEndian === PCAP_MAGIC_NANOSECONDS) {
      this.#littleEndian = true;
      this.#nanosecondFractions = magicLittleEndian === PCAP_MAGIC_NANOSECONDS;
    } else if (magicBigEndian === PCAP_MAGIC_MICROSECONDS || magicBigEndian === PCAP_MAGIC_NANOSECONDS) {
      this.#littleEndian = false;
      this.#nanosecondFractions = magicBigEndian === PCAP_MAGIC_NANOSECONDS;
    } else {
      this.error = captureError('NS_ERR_PCAP_BAD_HEADER', this.#name, streamOffset, 'not a pcap magic number');
      return false;
    }
    const majorVersion = u16(bytes, at + 4, this.#littleEndian);
    const minorVersion = u16(bytes, at + 6, this.#littleEndian);
    if (majorVersion !== 2) {
      this.error = captureError('NS_ERR_PCAP_BAD_HEADER', this.#name, streamOffset, `pcap version ${majorVersion}.${minorVersion} is not supported (major version must be 2)`);
      return false;
    }
    const snaplen = u32(bytes, at + 16, this.#littleEndian);
    this.#linkType = u32(bytes, at + 20, this.#littleEndian) & LINKTYPE_MASK;
    this.#recordLimit = Math.min(HARD_RECORD_LIMIT, Math.max(snaplen, DEFAULT_MAX_SNAPLEN));
    this.#frames.nanosecondResolution ||= this.#nanosecondFractions;
    this.#headerRead = true;
    return true;
  }
}
