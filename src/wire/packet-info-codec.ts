/**
 * The original's NATS payload (docs/compatibility.md): one Thrift `PacketInfo` per message, in the binary
 * protocol, with no message envelope — what Go's `TSerializer` writes for a bare struct:
 *
 *   field header = type byte + field id (i16, big-endian), then the value; i32 and i64 big-endian;
 *   binary = i32 length + bytes; a struct ends with a stop byte (0).
 *
 *   PacketInfo { 1: i64 timestamp_unix_nano, 2: FiveTuple { 1: binary src_ip, 2: binary dst_ip,
 *                3: i32 src_port, 4: i32 dst_port, 5: i32 protocol }, 3: i64 length }
 *
 * Written by hand instead of going through the generated `PacketInfo` class because this is the
 * hot path of every probe and engine: the thrift library builds each message from 27 small
 * Buffers (one per field header and value), an Int64 object per i64, a Buffer per address and a
 * struct object per message, and throws RangeErrors or plain Errors on bad input. Here a packet is
 * written straight from the PacketBatch columns into a caller's buffer and read straight back into
 * the columns: no object, Buffer or BigInt per packet (bench/wire-bench.ts measures the ratio).
 * test/wire checks that the bytes are exactly the library's, both ways.
 *
 * Decoding is strict about the contract and tolerant about the encoding, like the generated
 * readers: fields may come in any order, unknown fields (any type, nested structs, lists, sets,
 * maps, to a depth of 64) are skipped, a field whose type does not match is skipped as unknown, a
 * repeated field replaces the earlier one. Anything else is a NetSpectraError with code
 * NS_ERR_WIRE_MALFORMED, and nothing is appended: a truncated payload, trailing bytes, a negative
 * or impossible length, an unknown type byte, a missing required field, an address that is not 4
 * or 16 bytes (or a source and destination of different sizes), and out-of-range values — a port
 * outside 0..65535, a protocol outside 0..255, a negative timestamp, a length below 0 or above
 * 2^32 − 1. Out-of-range values are rejected rather than clamped or truncated: they can only come
 * from a broken or foreign publisher, and a clamped value would silently merge garbage into real
 * flows; the subscriber drops such a payload and counts it. Work is linear in the payload
 * size and nothing is allocated except the error.
 */
import { NetSpectraError } from '../model/errors.js';
import type { PacketBatch } from '../model/packet.js';
import { isWireTimestamp, storeUnixNanos, writeUnixNanos } from './unix-nanos.js';
import { ViewCache } from './view-cache.js';

/** Thrift type ids (TType) of the binary protocol. */
export const ThriftType = {
  stop: 0,
  bool: 2,
  byte: 3,
  double: 4,
  i16: 6,
  i32: 8,
  i64: 10,
  string: 11,
  struct: 12,
  map: 13,
  set: 14,
  list: 15,
  uuid: 16,
} as const;

const T_STOP = ThriftType.stop;
const T_I32 = ThriftType.i32;
const T_I64 = ThriftType.i64;
const T_STRING = ThriftType.string;
const T_STRUCT = ThriftType.struct;

/** Bytes of a PacketInfo carrying IPv4 addresses. */
export const PACKET_INFO_IPV4_BYTES = 70;
/** Bytes of a PacketInfo carrying IPv6 addresses: the largest one. */
export const PACKET_INFO_IPV6_BYTES = 94;
/** Nesting allowed in skipped values, as in the Thrift libraries (Go, Java and Node.js use 64). */
export const MAX_THRIFT_DEPTH = 64;

/** Size of a value of each type when it is fixed (0: variable; -1: not a valid type byte). */
const FIXED_BYTES = new Int8Array(256).fill(-1);
/** Smallest encoding of a value of each type, to refuse container sizes the payload cannot hold. */
const MIN_BYTES = new Int8Array(256).fill(-1);
for (const [type, fixed, min] of [
  [ThriftType.bool, 1, 1],
  [ThriftType.byte, 1, 1],
  [ThriftType.double, 8, 8],
  [ThriftType.i16, 2, 2],
  [ThriftType.i32, 4, 4],
  [ThriftType.i64, 8, 8],
  [ThriftType.uuid, 16, 16],
  [ThriftType.string, 0, 4], // i32 length
  [ThriftType.struct, 0, 1], // stop byte
  [ThriftType.map, 0, 6], // key type, value type, i32 size
  [ThriftType.set, 0, 5], // element type, i32 size
  [ThriftType.list, 0, 5],
] as const) {
  FIXED_BYTES[type] = fixed;
  MIN_BYTES[type] = min;
}

// Which required fields a payload has shown (a later five_tuple clears the tuple's bits).
const SEEN_TIMESTAMP = 1;
const SEEN_FIVE_TUPLE = 2;
const SEEN_LENGTH = 4;
const SEEN_SRC_IP = 8;
const SEEN_DST_IP = 16;
const SEEN_SRC_PORT = 32;
const SEEN_DST_PORT = 64;
const SEEN_PROTOCOL = 128;
const SEEN_TUPLE_FIELDS = SEEN_SRC_IP | SEEN_DST_IP | SEEN_SRC_PORT | SEEN_DST_PORT | SEEN_PROTOCOL;
const SEEN_ALL = SEEN_TIMESTAMP | SEEN_FIVE_TUPLE | SEEN_LENGTH | SEEN_TUPLE_FIELDS;
const REQUIRED_NAMES: readonly [number, string][] = [
  [SEEN_TIMESTAMP, '1: timestamp_unix_nano'],
  [SEEN_FIVE_TUPLE, '2: five_tuple'],
  [SEEN_LENGTH, '3: length'],
  [SEEN_SRC_IP, 'five_tuple 1: src_ip'],
  [SEEN_DST_IP, 'five_tuple 2: dst_ip'],
  [SEEN_SRC_PORT, 'five_tuple 3: src_port'],
  [SEEN_DST_PORT, 'five_tuple 4: dst_port'],
  [SEEN_PROTOCOL, 'five_tuple 5: protocol'],
];

function malformed(reason: string, offset: number): NetSpectraError {
  return new NetSpectraError('NS_ERR_WIRE_MALFORMED', `malformed PacketInfo payload at byte ${offset}: ${reason}`, { location: { offset } });
}

function truncated(needed: number, at: number, end: number): NetSpectraError {
  return malformed(`truncated: ${needed} more bytes needed, ${Math.max(0, end - at)} left`, at);
}

/** Bytes the PacketInfo of packet `index` takes: 70 for IPv4, 94 for IPv6. */
export function packetInfoBytes(batch: PacketBatch, index: number): number {
  const family = batch.family[index];
  if (family === 4) return PACKET_INFO_IPV4_BYTES;
  if (family === 6) return PACKET_INFO_IPV6_BYTES;
  throw unrepresentable(batch, index);
}

function unrepresentable(batch: PacketBatch, index: number): NetSpectraError {
  return new NetSpectraError(
    'NS_ERR_WIRE_UNREPRESENTABLE',
    `packet ${index} cannot be encoded: family ${batch.family[index]}, timestamp ${batch.tsSeconds[index]} s + ${batch.tsNanos[index]} ns ` +
      '(the wire carries families 4 and 6 and i64 nanoseconds from 1970 to 2262)',
  );
}

function writeFieldHeader(view: DataView, at: number, type: number, id: number): void {
  view.setUint8(at, type);
  view.setInt16(at + 1, id);
}

function writeAddressField(view: DataView, at: number, id: number, words: Uint32Array, word: number, addressBytes: number): number {
  writeFieldHeader(view, at, T_STRING, id);
  view.setUint32(at + 3, addressBytes);
  if (addressBytes === 4) {
    // IPv4 is held IPv4-mapped ([0, 0, 0xffff, v4]); only the last word travels.
    view.setUint32(at + 7, words[word + 3]!);
    return at + 11;
  }
  view.setUint32(at + 7, words[word]!);
  view.setUint32(at + 11, words[word + 1]!);
  view.setUint32(at + 15, words[word + 2]!);
  view.setUint32(at + 19, words[word + 3]!);
  return at + 23;
}

function writeI32Field(view: DataView, at: number, id: number, value: number): number {
  writeFieldHeader(view, at, T_I32, id);
  view.setInt32(at + 3, value);
  return at + 7;
}

const encodeViews = new ViewCache();
const decodeViews = new ViewCache();

/**
 * Encode packet `index` of `batch` as a PacketInfo into `out` at `offset`, field by field in id
 * order as the Go and Node.js Thrift libraries write it. Returns the bytes written (70 or 94, see
 * {@link packetInfoBytes}).
 *
 * @throws NetSpectraError NS_ERR_WIRE_UNREPRESENTABLE when the packet's family is neither 4 nor 6
 *   or its timestamp is outside 1970..2262 (an i64 count of nanoseconds)
 * @throws RangeError when `index` is not a packet of the batch or `out` has no room (a caller bug)
 */
export function encodePacketInfo(batch: PacketBatch, index: number, out: Uint8Array, offset: number): number {
  if (!(index >= 0 && index < batch.count)) throw new RangeError(`packet index ${index} is outside the batch's ${batch.count} packets`);
  const family = batch.family[index]!;
  const seconds = batch.tsSeconds[index]!;
  const nanos = batch.tsNanos[index]!;
  const addressBytes = family === 4 ? 4 : family === 6 ? 16 : 0;
  if (addressBytes === 0 || !isWireTimestamp(seconds, nanos)) throw unrepresentable(batch, index);
  const size = family === 4 ? PACKET_INFO_IPV4_BYTES : PACKET_INFO_IPV6_BYTES;
  if (!(offset >= 0 && offset + size <= out.length)) throw new RangeError(`a PacketInfo of ${size} bytes does not fit at offset ${offset} of a ${out.length}-byte buffer`);

  const view = encodeViews.of(out);
  const start = out.byteOffset + offset;
  let at = start;
  writeFieldHeader(view, at, T_I64, 1);
  writeUnixNanos(view, at + 3, seconds, nanos);
  at += 11;
  writeFieldHeader(view, at, T_STRUCT, 2);
  at = writeAddressField(view, at + 3, 1, batch.srcAddr, index * 4, addressBytes);
  at = writeAddressField(view, at, 2, batch.dstAddr, index * 4, addressBytes);
  at = writeI32Field(view, at, 3, batch.srcPort[index]!);
  at = writeI32Field(view, at, 4, batch.dstPort[index]!);
  at = writeI32Field(view, at, 5, batch.protocol[index]!);
  view.setUint8(at++, T_STOP); // end of FiveTuple
  writeFieldHeader(view, at, T_I64, 3);
  view.setUint32(at + 3, 0); // a wire length is at most 2^32 − 1: the high word is 0
  view.setUint32(at + 7, batch.wireLength[index]!);
  at += 11;
  view.setUint8(at++, T_STOP); // end of PacketInfo
  return at - start;
}

/** {@link encodePacketInfo} into a new Uint8Array of exactly the payload's size. */
export function encodePacketInfoBytes(batch: PacketBatch, index: number): Uint8Array {
  const out = new Uint8Array(index >= 0 && index < batch.count ? packetInfoBytes(batch, index) : 0);
  encodePacketInfo(batch, index, out, 0);
  return out;
}

/**
 * Decode one PacketInfo payload (the whole of `bytes`) and append the packet to `batch`: the
 * timestamp as seconds + nanoseconds, the addresses as words (IPv4 mapped), the family from the
 * address size (4 bytes: IPv4, 16: IPv6), `length` as the wire length.
 *
 * The payload is checked completely before anything is written, so a bad one leaves the batch as
 * it was.
 *
 * @returns true when the packet was appended; false when the batch is full (nothing appended:
 *   hand the batch on and decode the same payload into an emptied one)
 * @throws NetSpectraError NS_ERR_WIRE_MALFORMED (see the file comment for every case)
 */
export function decodePacketInfo(bytes: Uint8Array, batch: PacketBatch): boolean {
  const end = bytes.length;
  const view = decodeViews.of(bytes);
  // Offsets below are within `bytes`; the view spans its whole buffer, hence `base +`.
  const base = bytes.byteOffset;
  let at = 0;
  let seen = 0;
  let timestampHigh = 0;
  let timestampLow = 0;
  let timestampAt = 0;
  let lengthHigh = 0;
  let lengthLow = 0;
  let lengthAt = 0;
  let srcIp = 0;
  let srcIpBytes = 0;
  let dstIp = 0;
  let dstIpBytes = 0;
  let srcPort = 0;
  let srcPortAt = 0;
  let dstPort = 0;
  let dstPortAt = 0;
  let protocol = 0;
  let protocolAt = 0;

  for (;;) {
    if (at >= end) throw truncated(1, at, end);
    const type = bytes[at]!;
    if (type === T_STOP) {
      at++;
      break;
    }
    if (end - at < 3) throw truncated(3, at, end);
    const id = view.getInt16(base + at + 1);
    at += 3;
    if ((id === 1 || id === 3) && type === T_I64) {
      if (end - at < 8) throw truncated(8, at, end);
      if (id === 1) {
        timestampHigh = view.getInt32(base + at);
        timestampLow = view.getUint32(base + at + 4);
        timestampAt = at;
        seen |= SEEN_TIMESTAMP;
      } else {
        lengthHigh = view.getInt32(base + at);
        lengthLow = view.getUint32(base + at + 4);
        lengthAt = at;
        seen |= SEEN_LENGTH;
      }
      at += 8;
    } else if (id === 2 && type === T_STRUCT) {
      // A repeated five_tuple replaces the earlier one as a whole, as in the generated readers.
      seen = (seen & ~SEEN_TUPLE_FIELDS) | SEEN_FIVE_TUPLE;
      for (;;) {
        if (at >= end) throw truncated(1, at, end);
        const fieldType = bytes[at]!;
        if (fieldType === T_STOP) {
          at++;
          break;
        }
        if (end - at < 3) throw truncated(3, at, end);
        const fieldId = view.getInt16(base + at + 1);
        at += 3;
        if ((fieldId === 1 || fieldId === 2) && fieldType === T_STRING) {
          if (end - at < 4) throw truncated(4, at, end);
          const size = view.getInt32(base + at);
          if (size < 0) throw malformed(`negative binary size ${size}`, at);
          at += 4;
          if (size > end - at) throw truncated(size, at, end);
          if (fieldId === 1) {
            srcIp = at;
            srcIpBytes = size;
            seen |= SEEN_SRC_IP;
          } else {
            dstIp = at;
            dstIpBytes = size;
            seen |= SEEN_DST_IP;
          }
          at += size;
        } else if (fieldId >= 3 && fieldId <= 5 && fieldType === T_I32) {
          if (end - at < 4) throw truncated(4, at, end);
          const value = view.getInt32(base + at);
          if (fieldId === 3) {
            srcPort = value;
            srcPortAt = at;
            seen |= SEEN_SRC_PORT;
          } else if (fieldId === 4) {
            dstPort = value;
            dstPortAt = at;
            seen |= SEEN_DST_PORT;
          } else {
            protocol = value;
            protocolAt = at;
            seen |= SEEN_PROTOCOL;
          }
          at += 4;
        } else {
          at = skipThriftValue(bytes, view, at, fieldType, 2);
        }
      }
    } else {
      at = skipThriftValue(bytes, view, at, type, 1);
    }
  }

  if (at !== end) throw malformed(`${end - at} bytes after the end of the PacketInfo`, at);
  if (seen !== SEEN_ALL) {
    const missing = REQUIRED_NAMES.filter(([bit]) => (seen & bit) === 0).map(([, name]) => name);
    throw malformed(`required field ${missing.join(', ')} missing`, 0);
  }
  if (srcIpBytes !== 4 && srcIpBytes !== 16) throw malformed(`src_ip is ${srcIpBytes} bytes, not 4 (IPv4) or 16 (IPv6)`, srcIp);
  if (dstIpBytes !== srcIpBytes) throw malformed(`dst_ip is ${dstIpBytes} bytes while src_ip is ${srcIpBytes}`, dstIp);
  if (timestampHigh < 0) throw malformed('negative timestamp_unix_nano (before 1970)', timestampAt);
  if (lengthHigh !== 0) throw malformed(lengthHigh < 0 ? 'negative length' : 'length over 2^32 - 1', lengthAt);
  if (srcPort >>> 16 !== 0) throw malformed(`src_port ${srcPort} outside 0..65535`, srcPortAt);
  if (dstPort >>> 16 !== 0) throw malformed(`dst_port ${dstPort} outside 0..65535`, dstPortAt);
  if (protocol >>> 8 !== 0) throw malformed(`protocol ${protocol} outside 0..255`, protocolAt);

  if (batch.count >= batch.capacity) return false;
  const slot = batch.count++;
  storeUnixNanos(timestampHigh, timestampLow, batch.tsSeconds, batch.tsNanos, slot);
  batch.wireLength[slot] = lengthLow;
  batch.srcPort[slot] = srcPort;
  batch.dstPort[slot] = dstPort;
  batch.protocol[slot] = protocol;
  const words = slot * 4;
  if (srcIpBytes === 4) {
    batch.family[slot] = 4;
    storeMappedIPv4(view, base + srcIp, batch.srcAddr, words);
    storeMappedIPv4(view, base + dstIp, batch.dstAddr, words);
  } else {
    batch.family[slot] = 6;
    storeIPv6(view, base + srcIp, batch.srcAddr, words);
    storeIPv6(view, base + dstIp, batch.dstAddr, words);
  }
  return true;
}

/** 4 address bytes at byte `at` of `view` as the IPv4-mapped words [0, 0, 0xffff, v4]. */
export function storeMappedIPv4(view: DataView, at: number, words: Uint32Array, word: number): void {
  words[word] = 0;
  words[word + 1] = 0;
  words[word + 2] = 0xffff;
  words[word + 3] = view.getUint32(at);
}

/** 16 address bytes at byte `at` of `view` as four big-endian words. */
export function storeIPv6(view: DataView, at: number, words: Uint32Array, word: number): void {
  words[word] = view.getUint32(at);
  words[word + 1] = view.getUint32(at + 4);
  words[word + 2] = view.getUint32(at + 8);
  words[word + 3] = view.getUint32(at + 12);
}

/**
 * Skip one value of Thrift type `type` starting at `at` of `bytes` (a field of no interest),
 * returning the offset after it; `view` spans `bytes`' buffer (see decodePacketInfo). `depth` is
 * the value's nesting level; deeper than {@link MAX_THRIFT_DEPTH} is refused, so the recursion is
 * bounded. Container sizes are checked against the bytes left before any element is looked at,
 * and every element takes at least one byte, so the work is linear in the payload size.
 */
export function skipThriftValue(bytes: Uint8Array, view: DataView, at: number, type: number, depth: number): number {
  if (depth > MAX_THRIFT_DEPTH) throw malformed(`values nested deeper than ${MAX_THRIFT_DEPTH} levels`, at);
  const end = bytes.length;
  const fixed = FIXED_BYTES[type]!;
  if (fixed > 0) {
    if (end - at < fixed) throw truncated(fixed, at, end);
    return at + fixed;
  }
  switch (type) {
    case ThriftType.string: {
      if (end - at < 4) throw truncated(4, at, end);
      const size = view.getInt32(bytes.byteOffset + at);
      if (size < 0) throw malformed(`negative binary size ${size}`, at);
      if (size > end - at - 4) throw truncated(size, at + 4, end);
      return at + 4 + size;
    }
    case ThriftType.struct: {
      for (;;) {
        if (at >= end) throw truncated(1, at, end);
        const fieldType = bytes[at]!;
        if (fieldType === T_STOP) return at + 1;
        if (end - at < 3) throw truncated(3, at, end);
        at = skipThriftValue(bytes, view, at + 3, fieldType, depth + 1);
      }
    }
    case ThriftType.list:
    case ThriftType.set: {
      if (end - at < 5) throw truncated(5, at, end);
      const elementType = bytes[at]!;
      const size = view.getInt32(bytes.byteOffset + at + 1);
      return skipElements(bytes, view, at + 5, elementType, -1, size, depth, at);
    }
    case ThriftType.map: {
      if (end - at < 6) throw truncated(6, at, end);
      const size = view.getInt32(bytes.byteOffset + at + 2);
      return skipElements(bytes, view, at + 6, bytes[at]!, bytes[at + 1]!, size, depth, at);
    }
    default:
      throw malformed(`unknown Thrift type ${type}`, at);
  }
}

/** The `size` elements of a list or set (`valueType` -1) or map, starting at `at`. */
function skipElements(bytes: Uint8Array, view: DataView, at: number, keyType: number, valueType: number, size: number, depth: number, headerAt: number): number {
  const end = bytes.length;
  const keyMin = MIN_BYTES[keyType]!;
  const valueMin = valueType < 0 ? 0 : MIN_BYTES[valueType]!;
  if (keyMin < 0) throw malformed(`unknown Thrift element type ${keyType}`, headerAt);
  if (valueMin < 0) throw malformed(`unknown Thrift element type ${valueType}`, headerAt + 1);
  if (size < 0) throw malformed(`negative container size ${size}`, headerAt);
  if (size > (end - at) / (keyMin + valueMin)) throw malformed(`${size} elements cannot fit in the ${end - at} bytes left`, headerAt);
  const keyFixed = FIXED_BYTES[keyType]!;
  const valueFixed = valueType < 0 ? 0 : FIXED_BYTES[valueType]!;
  if (keyFixed > 0 && (valueType < 0 || valueFixed > 0)) return at + size * (keyFixed + valueFixed);
  for (let i = 0; i < size; i++) {
    at = skipThriftValue(bytes, view, at, keyType, depth + 1);
    if (valueType >= 0) at = skipThriftValue(bytes, view, at, valueType, depth + 1);
  }
  return at;
}
