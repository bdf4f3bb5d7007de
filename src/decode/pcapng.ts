/**
 * pcapng (draft-ietf-opsawg-pcapng): blocks of (type, total length, body, total length). Each
 * Section Header Block starts a section with its own byte order and its own interface list; the
 * Interface Description Blocks give each interface its link type, snaplen and time resolution.
 * Packets come in Enhanced (6), Simple (3) and the obsolete Packet (2) blocks; every other block
 * (name resolution, statistics, custom, ...) is skipped.
 */
import type { NetSpectraError } from '../model/errors.js';
import { u16, u32, u32be, u32le } from './bytes.js';
import type { CaptureFormatReader } from './capture-format.js';
import { MAX_PCAPNG_BLOCK_LENGTH, captureError } from './capture-format.js';
import type { FrameDecoder } from './frame-decoder.js';

export const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const INTERFACE_DESCRIPTION = 0x00000001;
const OBSOLETE_PACKET = 0x00000002;
const SIMPLE_PACKET = 0x00000003;
const ENHANCED_PACKET = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPTION_END = 0;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;

/** Smallest block, and the bytes needed to read the byte-order magic of a Section Header Block. */
const MIN_BLOCK_LENGTH = 12;
const MIN_SECTION_HEADER_LENGTH = 28;
const MIN_INTERFACE_DESCRIPTION_LENGTH = 20;
const MIN_ENHANCED_PACKET_LENGTH = 32;
const MIN_OBSOLETE_PACKET_LENGTH = 32;
const MIN_SIMPLE_PACKET_LENGTH = 16;

/** Interfaces per section at most: more is damage, and it bounds the per-interface tables. */
const MAX_INTERFACES = 65536;
const TWO_POW_32 = 4294967296;

export function isPcapngMagic(bytes: Uint8Array, at: number): boolean {
  return u32be(bytes, at) === PCAPNG_SECTION_HEADER;
}

export class PcapngReader implements CaptureFormatReader {
  needed = MIN_BLOCK_LENGTH;
  error: NetSpectraError | undefined;
  readonly #name: string;
  readonly #frames: FrameDecoder;
  #littleEndian = false;
  // Per interface of the current section.
  #linkTypes: number[] = [];
  #snapLengths: number[] = [];
  /** Timestamp units per second (if_tsresol: 10^n or 2^n; default microseconds). */
  #unitsPerSecond: number[] = [];
  /** if_tsoffset: seconds to add to every timestamp. */
  #secondsOffsets: number[] = [];
  // Result of #convertTimestamp, kept in fields to avoid an object per packet.
  #seconds = 0;
  #nanos = 0;

  constructor(name: string, frames: FrameDecoder) {
    this.#name = name;
    this.#frames = frames;
  }

  parse(bytes: Uint8Array, start: number, end: number, streamOffset: number): number {
    let at = start;
    const frames = this.#frames;
    const batch = frames.batch;
    const capacity = batch.capacity;
    while (batch.count < capacity) {
      const available = end - at;
      if (available < MIN_BLOCK_LENGTH) {
        this.needed = MIN_BLOCK_LENGTH;
        break;
      }
      const blockOffset = streamOffset + (at - start);
      const type = u32(bytes, at, this.#littleEndian);
      if (type === PCAPNG_SECTION_HEADER) {
        // The section's byte order is only known from its own magic; the block type reads the same both ways.
        if (u32le(bytes, at + 8) === BYTE_ORDER_MAGIC) this.#littleEndian = true;
        else if (u32be(bytes, at + 8) === BYTE_ORDER_MAGIC) this.#littleEndian = false;
        else {
          this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, 'section header block without a valid byte-order magic');
          break;
        }
      }
      const littleEndian = this.#littleEndian;
      const length = u32(bytes, at + 4, littleEndian);
      if (length < MIN_BLOCK_LENGTH || length % 4 !== 0 || length > MAX_PCAPNG_BLOCK_LENGTH) {
        this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `block of type 0x${type.toString(16)} has an invalid total length ${length}`);
        break;
      }
      if (available < length) {
        this.needed = length;
        break;
      }
      if (u32(bytes, at + length - 4, littleEndian) !== length) {
        this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `block of type 0x${type.toString(16)} has a trailing length different from its length ${length}`);
        break;
      }
      if (!this.#block(bytes, at, length, type, littleEndian, blockOffset)) break;
      at += length;
    }
    return at - start;
  }

  truncationError(streamOffset: number): NetSpectraError {
    return captureError('NS_ERR_PCAPNG_TRUNCATED', this.#name, streamOffset, 'the capture was cut short inside a pcapng block');
  }

  #fail(code: 'NS_ERR_PCAPNG_BAD_BLOCK' | 'NS_ERR_PCAPNG_BAD_INTERFACE', offset: number, problem: string): false {
    this.error = captureError(code, this.#name, offset, problem);
    return false;
  }

  /** Handle one complete block; false when it is damaged (error set). */
  #block(bytes: Uint8Array, at: number, length: number, type: number, littleEndian: boolean, blockOffset: number): boolean {
    const frames = this.#frames;
    switch (type) {
      case ENHANCED_PACKET: {
        if (length < MIN_ENHANCED_PACKET_LENGTH) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `enhanced packet block of ${length} bytes is too short`);
        const interfaceId = u32(bytes, at + 8, littleEndian);
        const capturedLength = u32(bytes, at + 20, littleEndian);
        if (capturedLength > length - MIN_ENHANCED_PACKET_LENGTH) {
          return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `enhanced packet block claims ${capturedLength} captured bytes but holds ${length - MIN_ENHANCED_PACKET_LENGTH}`);
        }
        if (interfaceId >= this.#linkTypes.length) return this.#unknownInterface(interfaceId, blockOffset);
        this.#convertTimestamp(u32(bytes, at + 12, littleEndian), u32(bytes, at + 16, littleEndian), interfaceId);
        frames.addFrame(bytes, at + 28, capturedLength, u32(bytes, at + 24, littleEndian), this.#linkTypes[interfaceId]!, this.#seconds, this.#nanos, true);
        return true;
      }
      case SIMPLE_PACKET: {
        if (length < MIN_SIMPLE_PACKET_LENGTH) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `simple packet block of ${length} bytes is too short`);
        if (this.#linkTypes.length === 0) return this.#unknownInterface(0, blockOffset);
        // A simple packet block belongs to interface 0; its captured length is implied: the
        // original length, cut by the interface's snaplen and by the block's room for data.
        const wireLength = u32(bytes, at + 8, littleEndian);
        const snapLength = this.#snapLengths[0]!;
        let capturedLength = Math.min(wireLength, length - MIN_SIMPLE_PACKET_LENGTH);
        if (snapLength !== 0 && snapLength < capturedLength) capturedLength = snapLength;
        // It has no timestamp: give it the latest time seen, so packet-time logic stays monotonic.
        const timed = frames.hasTimestamps;
        frames.addFrame(bytes, at + 12, capturedLength, wireLength, this.#linkTypes[0]!, timed ? frames.maxSeconds : 0, timed ? frames.maxNanos : 0, false);
        return true;
      }
      case OBSOLETE_PACKET: {
        if (length < MIN_OBSOLETE_PACKET_LENGTH) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `packet block of ${length} bytes is too short`);
        const interfaceId = u16(bytes, at + 8, littleEndian);
        const capturedLength = u32(bytes, at + 20, littleEndian);
        if (capturedLength > length - MIN_OBSOLETE_PACKET_LENGTH) {
          return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `packet block claims ${capturedLength} captured bytes but holds ${length - MIN_OBSOLETE_PACKET_LENGTH}`);
        }
        if (interfaceId >= this.#linkTypes.length) return this.#unknownInterface(interfaceId, blockOffset);
        this.#convertTimestamp(u32(bytes, at + 12, littleEndian), u32(bytes, at + 16, littleEndian), interfaceId);
        frames.addFrame(bytes, at + 28, capturedLength, u32(bytes, at + 24, littleEndian), this.#linkTypes[interfaceId]!, this.#seconds, this.#nanos, true);
        return true;
      }
      case INTERFACE_DESCRIPTION:
        return this.#interfaceDescription(bytes, at, length, littleEndian, blockOffset);
      case PCAPNG_SECTION_HEADER: {
        if (length < MIN_SECTION_HEADER_LENGTH) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `section header block of ${length} bytes is too short`);
        const majorVersion = u16(bytes, at + 12, littleEndian);
        if (majorVersion !== 1) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `pcapng major version ${majorVersion} is not supported`);
        this.#linkTypes = [];
        this.#snapLengths = [];
        this.#unitsPerSecond = [];
        this.#secondsOffsets = [];
        return true;
      }
      default:
        return true;
    }
  }

  #unknownInterface(interfaceId: number, blockOffset: number): false {
    return this.#fail('NS_ERR_PCAPNG_BAD_INTERFACE', blockOffset, `packet refers to interface ${interfaceId}, but the section describes ${this.#linkTypes.length}`);
  }

  #interfaceDescription(bytes: Uint8Array, at: number, length: number, littleEndian: boolean, blockOffset: number): boolean {
    if (length < MIN_INTERFACE_DESCRIPTION_LENGTH) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `interface description block of ${length} bytes is too short`);
    if (this.#linkTypes.length >= MAX_INTERFACES) return this.#fail('NS_ERR_PCAPNG_BAD_BLOCK', blockOffset, `more than ${MAX_INTERFACES} interfaces in one section`);
    let unitsPerSecond = 1e6;
    let secondsOffset = 0;
    const optionsEnd = at + length - 4;
    let option = at + 16;
    while (option + 4 <= optionsEnd) {
      const code = u16(bytes, option, littleEndian);
      const valueLength = u16(bytes, option + 2, littleEndian);
      const value = option + 4;
      if (code === OPTION_END || value + valueLength > optionsEnd) break;
      if (code === OPTION_IF_TSRESOL && valueLength >= 1) {
        // Most significant bit set: a negative power of 2, else a negative power of 10.
        const resolution = bytes[value]!;
        const exponent = resolution & 0x7f;
        unitsPerSecond = (resolution & 0x80) !== 0 ? 2 ** exponent : 10 ** exponent;
      } else if (code === OPTION_IF_TSOFFSET && valueLength >= 8) {
        const low = u32(bytes, value + (littleEndian ? 0 : 4), littleEndian);
        const high = u32(bytes, value + (littleEndian ? 4 : 0), littleEndian);
        secondsOffset = (high | 0) * TWO_POW_32 + low;
      }
      option = value + ((valueLength + 3) & ~3);
    }
    this.#linkTypes.push(u16(bytes, at + 8, littleEndian));
    this.#snapLengths.push(u32(bytes, at + 12, littleEndian));
    this.#unitsPerSecond.push(unitsPerSecond);
    this.#secondsOffsets.push(secondsOffset);
    if (unitsPerSecond > 1e6) this.#frames.nanosecondResolution = true;
    return true;
  }

  /** 64-bit tick count (high, low) of the interface's unit into #seconds and #nanos, exactly. */
  #convertTimestamp(high: number, low: number, interfaceId: number): void {
    const unitsPerSecond = this.#unitsPerSecond[interfaceId]!;
    let seconds: number;
    let remainder: number;
    if (high < 0x200000) {
      // Below 2^53 ticks a double holds the count exactly (microsecond times until the year 2255).
      const ticks = high * TWO_POW_32 + low;
      seconds = Math.floor(ticks / unitsPerSecond);
      remainder = ticks - seconds * unitsPerSecond;
    } else if (unitsPerSecond <= 2 ** 36) {
      // Long division in 16-bit digits keeps every intermediate value below 2^53.
      let rest = 0;
      seconds = 0;
      for (let position = 0; position < 4; position++) {
        const digit = position === 0 ? high >>> 16 : position === 1 ? high & 0xffff : position === 2 ? low >>> 16 : low & 0xffff;
        const current = rest * 65536 + digit;
        const quotient = Math.floor(current / unitsPerSecond);
        rest = current - quotient * unitsPerSecond;
        seconds = seconds * 65536 + quotient;
      }
      remainder = rest;
    } else {
      const ticks = (BigInt(high) << 32n) | BigInt(low);
      const units = BigInt(unitsPerSecond);
      seconds = Number(ticks / units);
      remainder = Number(ticks % units);
    }
    this.#seconds = seconds + this.#secondsOffsets[interfaceId]!;
    this.#nanos = unitsPerSecond === 1e9 ? remainder : unitsPerSecond === 1e6 ? remainder * 1000 : Math.floor((remainder * 1e9) / unitsPerSecond);
  }
}
