/**
 * The three file formats of the probe's persistence, as encoders into byte chunks (no I/O here).
 * One encoder instance belongs to one file series and remembers what the current file needs
 * (the pcap file's link type, the pcapng interfaces already described).
 *
 * pcap and pcapng write the **original frames** (CapturedFrames), not headers rebuilt from the
 * decoded five fields: an analyst opening the file expects what was captured (link-layer header,
 * TCP flags and sequence numbers, payload up to the snaplen: a SYN flood is visible only in the
 * flags), the original Go2NetSpectra wrote the raw frames too, and the round trip through any
 * decoder is then exact by construction. Its one flaw, which we fix, is that it declared every
 * file Ethernet: we write each frame's own link type.
 */
import type { Buffer } from 'node:buffer';
import type { CapturedFrames } from '../../decode/captured-frames.js';
import { MAX_KEPT_FRAME_BYTES } from '../../decode/captured-frames.js';
import { PCAP_MAGIC_NANOSECONDS } from '../../decode/pcap.js';
import { PCAPNG_SECTION_HEADER } from '../../decode/pcapng.js';
import { formatAddressWords } from '../../model/ip.js';
import type { PacketBatch } from '../../model/packet.js';
import { isWireTimestamp, writeUnixNanos } from '../../wire/unix-nanos.js';

/** `pcap`: classic libpcap, nanosecond magic. `pcapng`: one section, one interface per link type, ns resolution. `jsonl`: one JSON object per packet. */
export type PersistenceFormat = 'pcap' | 'pcapng' | 'jsonl';
export const PERSISTENCE_FORMATS: readonly PersistenceFormat[] = ['pcap', 'pcapng', 'jsonl'];

/** The packets of one `offer()` call: a batch, its frames, and the frame arena as a Buffer. */
export interface OfferedPackets {
  batch: PacketBatch;
  frames: CapturedFrames | undefined;
  /** `frames.bytes` viewed as a Buffer, so records copy frames without a view per packet. */
  arena: Buffer | undefined;
}

export interface RecordEncoder {
  /** File name extension, without the dot. */
  readonly extension: string;
  /** Whether records are made of the original frames (CapturedFrames required). */
  readonly needsFrames: boolean;
  /** Bytes packet `i` adds to the current file, or -1 when the format cannot represent it. */
  measure(packets: OfferedPackets, i: number): number;
  /** True when packet `i` cannot join the current file and needs a new one (pcap: another link type). */
  conflicts(packets: OfferedPackets, i: number): boolean;
  /** Forget the current file and write the header of a new one that starts with packet `i`; returns the new `at`. */
  startFile(target: Buffer, at: number, packets: OfferedPackets, i: number): number;
  /** Largest header `startFile` writes. */
  readonly maxHeaderBytes: number;
  /** Write packet `i` (exactly the bytes `measure` announced just before); returns the new `at`. */
  writeRecord(target: Buffer, at: number, packets: OfferedPackets, i: number): number;
}

export function createRecordEncoder(format: PersistenceFormat): RecordEncoder {
  switch (format) {
    case 'pcap':
      return new PcapEncoder();
    case 'pcapng':
      return new PcapngEncoder();
    case 'jsonl':
      return new JsonLinesEncoder();
  }
}

const PCAP_FILE_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;
const UINT32_LIMIT = 4294967296;

/**
 * Classic pcap, little-endian, nanosecond magic (a1b23c4d) so no timestamp digit is lost, snaplen
 * 262,144. A pcap file has one link type: a frame of another link type (several replayed files,
 * a pcapng with several interfaces) starts the next file of the series.
 */
class PcapEncoder implements RecordEncoder {
  readonly extension = 'pcap';
  readonly needsFrames = true;
  readonly maxHeaderBytes = PCAP_FILE_HEADER_BYTES;
  #linkType = -1;

  measure(packets: OfferedPackets, i: number): number {
    const seconds = packets.batch.tsSeconds[i]!;
    // The record's seconds field is an unsigned 32-bit count: 1970 to 2106.
    if (!(seconds >= 0 && seconds < UINT32_LIMIT)) return -1;
    return PCAP_RECORD_HEADER_BYTES + packets.frames!.lengths[i]!;
  }

  conflicts(packets: OfferedPackets, i: number): boolean {
    return packets.frames!.linkTypes[i] !== this.#linkType;
  }

  startFile(target: Buffer, at: number, packets: OfferedPackets, i: number): number {
    this.#linkType = packets.frames!.linkTypes[i]!;
    target.writeUInt32LE(PCAP_MAGIC_NANOSECONDS, at);
    target.writeUInt16LE(2, at + 4);
    target.writeUInt16LE(4, at + 6);
    target.writeInt32LE(0, at + 8); // thiszone
    target.writeUInt32LE(0, at + 12); // sigfigs
    target.writeUInt32LE(MAX_KEPT_FRAME_BYTES, at + 16);
    target.writeUInt32LE(this.#linkType, at + 20);
    return at + PCAP_FILE_HEADER_BYTES;
  }

  writeRecord(target: Buffer, at: number, packets: OfferedPackets, i: number): number {
    const { batch } = packets;
    const frames = packets.frames!;
    const offset = frames.offsets[i]!;
    const length = frames.lengths[i]!;
    target.writeUInt32LE(batch.tsSeconds[i]!, at);
    target.writeUInt32LE(batch.tsNanos[i]!, at + 4);
    target.writeUInt32LE(length, at + 8);
    target.writeUInt32LE(batch.wireLength[i]!, at + 12);
    packets.arena!.copy(target, at + PCAP_RECORD_HEADER_BYTES, offset, offset + length);
    return at + PCAP_RECORD_HEADER_BYTES + length;
  }
}

const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_INTERFACE_DESCRIPTION = 1;
const PCAPNG_ENHANCED_PACKET = 6;
const SHB_OPTION_USER_APPLICATION = 4;
const IDB_OPTION_TSRESOL = 9;
const USER_APPLICATION = 'NetSpectra probe';
/** SHB: 28 bytes + the user-application option (4 + text padded to 4) + end of options (4). */
const PCAPNG_SECTION_HEADER_BYTES = 28 + 4 + ((USER_APPLICATION.length + 3) & ~3) + 4;
/** IDB: 20 bytes + if_tsresol (4 + 1 padded to 4) + end of options (4). */
const PCAPNG_INTERFACE_DESCRIPTION_BYTES = 20 + 8 + 4;
const PCAPNG_ENHANCED_PACKET_OVERHEAD = 32;
/** Interfaces are 32-bit ids, but link types are 16-bit in an IDB. */
const MAX_PCAPNG_LINK_TYPE = 0xffff;

/**
 * pcapng, little-endian: one Section Header Block, an Interface Description Block (if_tsresol 9:
 * nanoseconds) for each link type met in the file, right before its first packet, and Enhanced
 * Packet Blocks. Unlike pcap, frames of several link types share a file.
 */
class PcapngEncoder implements RecordEncoder {
  readonly extension = 'pcapng';
  readonly needsFrames = true;
  readonly maxHeaderBytes = PCAPNG_SECTION_HEADER_BYTES;
  /** Interface id of each link type described in the current file. */
  readonly #interfaces = new Map<number, number>();
  /** Scratch for splitting a nanosecond count into the block's two 32-bit words. */
  readonly #nanos = new DataView(new ArrayBuffer(8));

  measure(packets: OfferedPackets, i: number): number {
    const { batch } = packets;
    const frames = packets.frames!;
    const linkType = frames.linkTypes[i]!;
    if (linkType > MAX_PCAPNG_LINK_TYPE || !isWireTimestamp(batch.tsSeconds[i]!, batch.tsNanos[i]!)) return -1;
    const record = PCAPNG_ENHANCED_PACKET_OVERHEAD + ((frames.lengths[i]! + 3) & ~3);
    return this.#interfaces.has(linkType) ? record : record + PCAPNG_INTERFACE_DESCRIPTION_BYTES;
  }

  conflicts(): boolean {
    return false;
  }

  startFile(target: Buffer, at: number): number {
    this.#interfaces.clear();
    const start = at;
    target.writeUInt32LE(PCAPNG_SECTION_HEADER, at);
    target.writeUInt32LE(PCAPNG_SECTION_HEADER_BYTES, at + 4);
    target.writeUInt32LE(PCAPNG_BYTE_ORDER_MAGIC, at + 8);
    target.writeUInt16LE(1, at + 12);
    target.writeUInt16LE(0, at + 14);
    // Section length -1: not known in advance (the file is written as a stream).
    target.writeInt32LE(-1, at + 16);
    target.writeInt32LE(-1, at + 20);
    at += 24;
    target.writeUInt16LE(SHB_OPTION_USER_APPLICATION, at);
    target.writeUInt16LE(USER_APPLICATION.length, at + 2);
    const padded = (USER_APPLICATION.length + 3) & ~3;
    target.fill(0, at + 4, at + 4 + padded);
    target.write(USER_APPLICATION, at + 4, 'latin1');
    at += 4 + padded;
    target.writeUInt32LE(0, at); // opt_endofopt
    target.writeUInt32LE(PCAPNG_SECTION_HEADER_BYTES, at + 4);
    return start + PCAPNG_SECTION_HEADER_BYTES;
  }

  writeRecord(target: Buffer, at: number, packets: OfferedPackets, i: number): number {
    const { batch } = packets;
    const frames = packets.frames!;
    const linkType = frames.linkTypes[i]!;
    let interfaceId = this.#interfaces.get(linkType);
    if (interfaceId === undefined) {
      interfaceId = this.#interfaces.size;
      this.#interfaces.set(linkType, interfaceId);
      target.writeUInt32LE(PCAPNG_INTERFACE_DESCRIPTION, at);
      target.writeUInt32LE(PCAPNG_INTERFACE_DESCRIPTION_BYTES, at + 4);
      target.writeUInt16LE(linkType, at + 8);
      target.writeUInt16LE(0, at + 10);
      target.writeUInt32LE(MAX_KEPT_FRAME_BYTES, at + 12);
      target.writeUInt16LE(IDB_OPTION_TSRESOL, at + 16);
      target.writeUInt16LE(1, at + 18);
      target.writeUInt32LE(9, at + 20); // 10^-9 s, then 3 bytes of padding
      target.writeUInt32LE(0, at + 24); // opt_endofopt
      target.writeUInt32LE(PCAPNG_INTERFACE_DESCRIPTION_BYTES, at + 28);
      at += PCAPNG_INTERFACE_DESCRIPTION_BYTES;
    }
    const offset = frames.offsets[i]!;
    const length = frames.lengths[i]!;
    const blockLength = PCAPNG_ENHANCED_PACKET_OVERHEAD + ((length + 3) & ~3);
    writeUnixNanos(this.#nanos, 0, batch.tsSeconds[i]!, batch.tsNanos[i]!);
    target.writeUInt32LE(PCAPNG_ENHANCED_PACKET, at);
    target.writeUInt32LE(blockLength, at + 4);
    target.writeUInt32LE(interfaceId, at + 8);
    target.writeUInt32LE(this.#nanos.getUint32(0), at + 12);
    target.writeUInt32LE(this.#nanos.getUint32(4), at + 16);
    target.writeUInt32LE(length, at + 20);
    target.writeUInt32LE(batch.wireLength[i]!, at + 24);
    packets.arena!.copy(target, at + 28, offset, offset + length);
    const end = at + blockLength;
    target.fill(0, at + 28 + length, end - 4);
    target.writeUInt32LE(blockLength, end - 4);
    return end;
  }
}

const MIN_ISO_SECONDS = -62_167_219_200; // 0000-01-01T00:00:00Z
const MAX_ISO_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

/**
 * JSON lines, one object per packet: `{"ts","src","dst","sport","dport","proto","len"}` with `ts`
 * ISO-8601 UTC to the nanosecond, addresses as dotted quads or RFC 5952 IPv6 (an IPv4-mapped IPv6
 * address keeps its `::ffff:` form, so the family is never lost) and `len` the wire length. The
 * original's `text` and `gob` encodings both map here: a line per packet that any tool reads,
 * instead of a Go-only gob stream and a text format without a parser.
 */
class JsonLinesEncoder implements RecordEncoder {
  readonly extension = 'jsonl';
  readonly needsFrames = false;
  readonly maxHeaderBytes = 0;
  /** The line `measure` built, written by the next `writeRecord`. */
  #line = '';
  /** `"ts":"YYYY-MM-DDTHH:MM:SS.` of `#second`: one Date per second of packets, not per packet. */
  #secondPrefix = '';
  #second = Number.NaN;

  measure(packets: OfferedPackets, i: number): number {
    const { batch } = packets;
    const seconds = batch.tsSeconds[i]!;
    if (seconds !== this.#second) {
      // ISO-8601's four-digit years: 0000 to 9999.
      if (!(seconds >= MIN_ISO_SECONDS && seconds <= MAX_ISO_SECONDS)) return -1;
      const date = new Date(seconds * 1000);
      this.#second = seconds;
      this.#secondPrefix = `{"ts":"${date.toISOString().slice(0, 19)}.`;
    }
    const family = batch.family[i]!;
    const src = formatAddressWords(batch.srcAddr, i * 4, family);
    const dst = formatAddressWords(batch.dstAddr, i * 4, family);
    const nanos = String(batch.tsNanos[i]!).padStart(9, '0');
    this.#line = `${this.#secondPrefix}${nanos}Z","src":"${src}","dst":"${dst}","sport":${batch.srcPort[i]!},"dport":${batch.dstPort[i]!},"proto":${batch.protocol[i]!},"len":${batch.wireLength[i]!}}\n`;
    // ASCII only: characters are bytes.
    return this.#line.length;
  }

  conflicts(): boolean {
    return false;
  }

  startFile(_target: Buffer, at: number): number {
    return at;
  }

  writeRecord(target: Buffer, at: number): number {
    return at + target.write(this.#line, at, 'latin1');
  }
}
