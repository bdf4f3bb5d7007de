/**
 * Shared by the wire tests: random packets with edge values, packets read back out of a batch, and
 * the reference — the thrift npm library with the generated PacketInfo — to write and read
 * payloads without any network (TBufferedTransport hands its bytes to a flush callback and reads
 * from a buffer given to its receiver).
 */
import { Int64, TBinaryProtocol, TBufferedTransport } from 'thrift';
import type { TProtocol } from 'thrift';
import { PacketBatch } from '../../src/model/packet.js';
import { FiveTuple, PacketInfo } from '../../src/wire/gen/netspectra_types.js';
import { MAX_WIRE_SECONDS } from '../../src/wire/unix-nanos.js';
import { prng } from '../kit/random-packets.js';

export { prng };

/** One packet as plain values, for comparisons. */
export interface WirePacket {
  seconds: number;
  nanos: number;
  wireLength: number;
  family: number;
  src: number[];
  dst: number[];
  srcPort: number;
  dstPort: number;
  protocol: number;
}

/** The generated .d.ts files declare fields only; the classes also have read() and write(). */
interface ThriftStruct {
  read(input: TProtocol): void;
  write(output: TProtocol): void;
}

function asStruct(value: PacketInfo): ThriftStruct {
  return value as unknown as ThriftStruct;
}

export function packetAt(batch: PacketBatch, i: number): WirePacket {
  return {
    seconds: batch.tsSeconds[i]!,
    nanos: batch.tsNanos[i]!,
    wireLength: batch.wireLength[i]!,
    family: batch.family[i]!,
    src: [...batch.srcAddr.subarray(i * 4, i * 4 + 4)],
    dst: [...batch.dstAddr.subarray(i * 4, i * 4 + 4)],
    srcPort: batch.srcPort[i]!,
    dstPort: batch.dstPort[i]!,
    protocol: batch.protocol[i]!,
  };
}

export function packetsOf(batch: PacketBatch, start = 0, end = batch.count): WirePacket[] {
  const out: WirePacket[] = [];
  for (let i = start; i < end; i++) out.push(packetAt(batch, i));
  return out;
}

export function putPacket(batch: PacketBatch, p: WirePacket): void {
  const i = batch.count++;
  batch.tsSeconds[i] = p.seconds;
  batch.tsNanos[i] = p.nanos;
  batch.wireLength[i] = p.wireLength;
  batch.family[i] = p.family;
  batch.srcAddr.set(p.src, i * 4);
  batch.dstAddr.set(p.dst, i * 4);
  batch.srcPort[i] = p.srcPort;
  batch.dstPort[i] = p.dstPort;
  batch.protocol[i] = p.protocol;
}

export function batchOf(packets: readonly WirePacket[], capacity = Math.max(1, packets.length)): PacketBatch {
  const batch = new PacketBatch(capacity);
  for (const p of packets) putPacket(batch, p);
  return batch;
}

/**
 * `count` random packets, about half IPv6, with the edges of every field mixed in: timestamps 0,
 * the last nanosecond an i64 holds (2262), second boundaries and 2^32 s; ports 0 and 65535;
 * protocols 0..255; wire lengths 0 and 2^32 − 1.
 */
export function randomWirePackets(count: number, seed: number): WirePacket[] {
  const random = prng(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const word = (): number => pick(0x100000000);
  const edge = <T>(values: readonly T[], otherwise: () => T): T => (random() < 0.2 ? values[pick(values.length)]! : otherwise());
  const out: WirePacket[] = [];
  for (let i = 0; i < count; i++) {
    const family = random() < 0.5 ? 4 : 6;
    const [seconds, nanos] = edge<[number, number]>(
      [
        [0, 0],
        [0, 1],
        [0, 999_999_999],
        [MAX_WIRE_SECONDS, 854_775_807],
        [MAX_WIRE_SECONDS - 1, 999_999_999],
        [4294967295, 999_999_999],
        [4294967296, 0],
        [1_700_000_000, 123_456_789],
      ],
      () => [random() < 0.5 ? 1_600_000_000 + pick(400_000_000) : pick(MAX_WIRE_SECONDS), pick(1e9)],
    );
    out.push({
      seconds,
      nanos,
      wireLength: edge([0, 1, 0xffffffff, 0x80000000, 65535], () => (random() < 0.5 ? 40 + pick(1500) : word())),
      family,
      src: family === 4 ? [0, 0, 0xffff, word()] : [word(), word(), word(), word()],
      dst: family === 4 ? [0, 0, 0xffff, edge([0, 0xffffffff], word)] : [edge([0, 0xffffffff], word), word(), word(), word()],
      srcPort: edge([0, 65535], () => pick(65536)),
      dstPort: edge([0, 65535], () => pick(65536)),
      protocol: edge([0, 255, 6, 17], () => pick(256)),
    });
  }
  return out;
}

/** Bytes of the address words as they travel (4 for IPv4, 16 for IPv6). */
export function addressBuffer(words: readonly number[], family: number): Buffer {
  const buffer = Buffer.alloc(family === 4 ? 4 : 16);
  if (family === 4) buffer.writeUInt32BE(words[3]!, 0);
  else words.forEach((w, k) => buffer.writeUInt32BE(w, k * 4));
  return buffer;
}

function int64(value: bigint): Int64 {
  const buffer = Buffer.alloc(8);
  buffer.writeBigInt64BE(value);
  return new Int64(buffer);
}

/** The generated PacketInfo for a packet, with exact i64 values. */
export function libraryPacketInfo(p: WirePacket): PacketInfo {
  return new PacketInfo({
    timestamp_unix_nano: int64(BigInt(p.seconds) * 1_000_000_000n + BigInt(p.nanos)),
    five_tuple: new FiveTuple({
      src_ip: addressBuffer(p.src, p.family),
      dst_ip: addressBuffer(p.dst, p.family),
      src_port: p.srcPort,
      dst_port: p.dstPort,
      protocol: p.protocol,
    }),
    length: int64(BigInt(p.wireLength)),
  });
}

/** What the thrift library writes with TBinaryProtocol into a TBufferedTransport after `write`. */
export function libraryBytes(write: (protocol: TProtocol) => void): Uint8Array {
  let flushed: Buffer | undefined;
  const transport = new TBufferedTransport(undefined, (bytes) => {
    flushed = bytes;
  });
  const protocol = new TBinaryProtocol(transport);
  write(protocol);
  protocol.flush();
  return new Uint8Array(flushed ?? new Uint8Array(0));
}

export function libraryEncode(p: WirePacket): Uint8Array {
  return libraryBytes((protocol) => asStruct(libraryPacketInfo(p)).write(protocol));
}

/** Read a payload with the generated PacketInfo.read; throws whatever the library throws. */
export function libraryDecode(bytes: Uint8Array): PacketInfo {
  const info = new PacketInfo();
  TBufferedTransport.receiver((transport) => asStruct(info).read(new TBinaryProtocol(transport)), 0)(Buffer.from(bytes));
  return info;
}

/** A library-decoded PacketInfo as a packet (values as the wire has them, no validation). */
export function libraryPacket(info: PacketInfo): { nanoseconds: bigint; length: bigint; src: Buffer; dst: Buffer; srcPort: number; dstPort: number; protocol: number } {
  return {
    nanoseconds: info.timestamp_unix_nano.buffer.readBigInt64BE(info.timestamp_unix_nano.offset),
    length: info.length.buffer.readBigInt64BE(info.length.offset),
    src: info.five_tuple.src_ip,
    dst: info.five_tuple.dst_ip,
    srcPort: info.five_tuple.src_port,
    dstPort: info.five_tuple.dst_port,
    protocol: info.five_tuple.protocol,
  };
}
