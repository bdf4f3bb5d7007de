/**
 * Tiny writers for synthetic captures: frames (Ethernet / IPv4 / IPv6 / TCP / UDP), classic pcap
 * in any of its four magics, and pcapng blocks in either byte order.
 */
import { parseAddress } from '../../src/model/ip.js';

export class ByteWriter {
  #bytes = new Uint8Array(256);
  #length = 0;
  readonly littleEndian: boolean;

  constructor(littleEndian = false) {
    this.littleEndian = littleEndian;
  }

  get length(): number {
    return this.#length;
  }

  #reserve(count: number): number {
    if (this.#length + count > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + count));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    const at = this.#length;
    this.#length += count;
    return at;
  }

  u8(value: number): this {
    this.#bytes[this.#reserve(1)] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    const at = this.#reserve(2);
    if (this.littleEndian) {
      this.#bytes[at] = value & 0xff;
      this.#bytes[at + 1] = (value >>> 8) & 0xff;
    } else {
      this.#bytes[at] = (value >>> 8) & 0xff;
      this.#bytes[at + 1] = value & 0xff;
    }
    return this;
  }

  u32(value: number): this {
    const at = this.#reserve(4);
    for (let i = 0; i < 4; i++) {
      const shift = this.littleEndian ? 8 * i : 24 - 8 * i;
      this.#bytes[at + i] = (value >>> shift) & 0xff;
    }
    return this;
  }

  bytes(data: ArrayLike<number>): this {
    const at = this.#reserve(data.length);
    this.#bytes.set(data, at);
    return this;
  }

  zeros(count: number): this {
    this.#reserve(count);
    return this;
  }

  /** Overwrite a 32-bit value written earlier. */
  patchU32(at: number, value: number): this {
    for (let i = 0; i < 4; i++) {
      const shift = this.littleEndian ? 8 * i : 24 - 8 * i;
      this.#bytes[at + i] = (value >>> shift) & 0xff;
    }
    return this;
  }

  toBytes(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** 16 bytes of an IPv6 address in any text form (including `::ffff:a.b.c.d`). */
function ipv6Bytes(text: string): number[] {
  const parsed = parseAddress(text);
  if (parsed?.family !== 6) throw new Error(`not an IPv6 address: ${text}`);
  return parsed.words.flatMap((word) => [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff]);
}

export interface L4Options {
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  /** Bytes after the 20 (TCP) or 8 (UDP) byte header, or the whole payload for other protocols. */
  payloadLength?: number;
}

function transport(options: L4Options): number[] {
  const { protocol, srcPort = 0, dstPort = 0, payloadLength = 0 } = options;
  const payload = new Array<number>(payloadLength).fill(0x5a);
  if (protocol === 6) return [srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, ...payload];
  if (protocol === 17) {
    const length = 8 + payloadLength;
    return [srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, length >> 8, length & 0xff, 0, 0, ...payload];
  }
  return payload;
}

export interface Ipv4Options extends L4Options {
  src: string;
  dst: string;
  /** Fragment offset in 8-byte units. */
  fragmentOffset?: number;
}

export function ipv4Packet(options: Ipv4Options): Uint8Array {
  const body = transport(options);
  const totalLength = 20 + body.length;
  const fragment = options.fragmentOffset ?? 0;
  return Uint8Array.from([
    0x45, 0, totalLength >> 8, totalLength & 0xff, 0, 1, fragment >> 8, fragment & 0xff, 64, options.protocol, 0, 0,
    ...ipv4Bytes(options.src), ...ipv4Bytes(options.dst), ...body,
  ]);
}

export interface Ipv6Options extends L4Options {
  src: string;
  dst: string;
  /** Extension headers to put in front, as [next-header value of the header itself, its bytes]. */
  extensions?: readonly (readonly [number, readonly number[]])[];
}

export function ipv6Packet(options: Ipv6Options): Uint8Array {
  const extensions = options.extensions ?? [];
  const body = transport(options);
  const chain: number[] = [];
  for (let i = 0; i < extensions.length; i++) {
    const [, bytes] = extensions[i]!;
    const next = i + 1 < extensions.length ? extensions[i + 1]![0] : options.protocol;
    chain.push(next, ...bytes.slice(1));
  }
  const payloadLength = chain.length + body.length;
  const firstNext = extensions.length > 0 ? extensions[0]![0] : options.protocol;
  return Uint8Array.from([
    0x60, 0, 0, 0, payloadLength >> 8, payloadLength & 0xff, firstNext, 64,
    ...ipv6Bytes(options.src), ...ipv6Bytes(options.dst), ...chain, ...body,
  ]);
}

export function ethernetFrame(etherType: number, payload: Uint8Array, vlanTags: readonly number[] = []): Uint8Array {
  const header = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  for (const tag of vlanTags) header.push(tag >> 8, tag & 0xff, 0, 7);
  header.push(etherType >> 8, etherType & 0xff);
  return concatBytes([Uint8Array.from(header), payload]);
}

export interface PcapRecord {
  data: Uint8Array;
  /** Defaults to data.length. */
  wireLength?: number;
  seconds?: number;
  /** Microseconds or nanoseconds, per the file's magic. */
  fraction?: number;
}

export interface PcapOptions {
  littleEndian?: boolean;
  nanoseconds?: boolean;
  linkType?: number;
  snaplen?: number;
  majorVersion?: number;
}

export function pcapFile(records: readonly PcapRecord[], options: PcapOptions = {}): Uint8Array {
  const writer = new ByteWriter(options.littleEndian ?? true);
  writer
    .u32(options.nanoseconds === true ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(options.majorVersion ?? 2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(options.snaplen ?? 262144)
    .u32(options.linkType ?? 1);
  for (const record of records) {
    writer
      .u32(record.seconds ?? 1_700_000_000)
      .u32(record.fraction ?? 0)
      .u32(record.data.length)
      .u32(record.wireLength ?? record.data.length)
      .bytes(record.data);
  }
  return writer.toBytes();
}

/** pcapng blocks of one byte order. Concatenate the results of several writers for multi-section files. */
export class PcapngWriter {
  readonly #writer: ByteWriter;

  constructor(littleEndian: boolean) {
    this.#writer = new ByteWriter(littleEndian);
  }

  /** A block: type, total length, body padded to 4 bytes, total length. */
  block(type: number, body: (writer: ByteWriter) => void): this {
    const writer = this.#writer;
    const start = writer.length;
    writer.u32(type).u32(0);
    body(writer);
    while ((writer.length - start) % 4 !== 0) writer.u8(0);
    const length = writer.length - start + 4;
    writer.u32(length);
    writer.patchU32(start + 4, length);
    return this;
  }

  sectionHeader(): this {
    return this.block(0x0a0d0d0a, (writer) => writer.u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff));
  }

  /** @param options raw options as [code, value bytes] */
  interfaceDescription(linkType: number, snaplen = 0, options: readonly (readonly [number, readonly number[]])[] = []): this {
    return this.block(1, (writer) => {
      writer.u16(linkType).u16(0).u32(snaplen);
      for (const [code, value] of options) {
        writer.u16(code).u16(value.length).bytes(value);
        while (writer.length % 4 !== 0) writer.u8(0);
      }
      if (options.length > 0) writer.u32(0);
    });
  }

  enhancedPacket(interfaceId: number, timestampHigh: number, timestampLow: number, data: Uint8Array, wireLength = data.length): this {
    return this.block(6, (writer) => writer.u32(interfaceId).u32(timestampHigh).u32(timestampLow).u32(data.length).u32(wireLength).bytes(data));
  }

  simplePacket(data: Uint8Array, wireLength = data.length): this {
    return this.block(3, (writer) => writer.u32(wireLength).bytes(data));
  }

  obsoletePacket(interfaceId: number, timestampHigh: number, timestampLow: number, data: Uint8Array, wireLength = data.length): this {
    return this.block(2, (writer) => writer.u16(interfaceId).u16(0).u32(timestampHigh).u32(timestampLow).u32(data.length).u32(wireLength).bytes(data));
  }

  toBytes(): Uint8Array {
    return this.#writer.toBytes();
  }
}

/** if_tsoffset option value (8 bytes, signed seconds) in the writer's byte order. */
export function int64Bytes(value: number, littleEndian: boolean): number[] {
  const writer = new ByteWriter(littleEndian);
  const high = Math.floor(value / 4294967296);
  const low = value - high * 4294967296;
  if (littleEndian) writer.u32(low).u32(high);
  else writer.u32(high).u32(low);
  return Array.from(writer.toBytes());
}
