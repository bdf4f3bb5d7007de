/**
 * NetSpectra's batched NATS payload: many packets per message, column by column, for throughput
 * (one NATS message and one decode call per thousands of packets instead of per packet, and 26
 * bytes per IPv4 packet instead of PacketInfo's 70). docs/wire.md has the byte layout, the
 * versioning rule and the limits; in short, all big-endian:
 *
 *   0  magic "NSPB" (4E 53 50 42)  4  version (1)  5..7  reserved, 0
 *   8  stream id u32   12  sequence u64   20  packet count n u32
 *   24 timestamps i64 ns × n, wire lengths u32 × n, source ports u16 × n, destination ports
 *      u16 × n, protocols u8 × n, families u8 × n (4 or 6), then per packet its source and
 *      destination address (4 bytes each for IPv4, 16 for IPv6)
 *
 * The first byte 0x4E is not a Thrift type id (those are 0..16), so a payload is told apart from
 * a PacketInfo by its first byte (see payload.ts).
 *
 * A message is checked completely (header, every family and timestamp sign, exact size) before
 * any packet is appended, so a bad message leaves the batch as it was; the checks are one pass
 * over two narrow columns. Nothing is allocated per packet.
 */
import { NetSpectraError } from '../model/errors.js';
import type { PacketBatch } from '../model/packet.js';
import { DecodedPayload } from './decoded-payload.js';
import { storeIPv6, storeMappedIPv4 } from './packet-info-codec.js';
import { isWireTimestamp, storeUnixNanos, writeUnixNanos } from './unix-nanos.js';
import { ViewCache } from './view-cache.js';

/** "NSPB": NetSpectra packet batch. */
export const PACKET_BATCH_MAGIC = Uint8Array.of(0x4e, 0x53, 0x50, 0x42);
/** The format version this build writes and the only one it reads. */
export const PACKET_BATCH_VERSION = 1;
/** Bytes before the first column. */
export const PACKET_BATCH_HEADER_BYTES = 24;
/** Column bytes per packet before the address area: timestamp 8, length 4, ports 2 + 2, protocol 1, family 1. */
export const PACKET_BATCH_FIXED_BYTES_PER_PACKET = 18;
/**
 * Most packets one message may hold (both sides enforce it): 1,048,576, at most 52 MiB of IPv6
 * packets, below NATS's hard 64 MiB payload limit. NATS's default `max_payload` of 1 MiB is the
 * tighter bound in practice; {@link packetsThatFit} sizes messages for it.
 */
export const MAX_PACKETS_PER_MESSAGE = 1 << 20;

const TWO_POW_32 = 4294967296;
const MAX_U64 = (1n << 64n) - 1n;
const encodeViews = new ViewCache();
const decodeViews = new ViewCache();

/** What identifies a message: its publisher's stream and its place in that stream. */
export interface PacketBatchHeader {
  /** The publisher's stream (e.g. one per probe and interface), 0 .. 2^32 − 1. */
  readonly streamId: number;
  /**
   * The message's number within its stream, 0 .. 2^64 − 1, one more for every message published:
   * a subscriber counts a gap as lost messages.
   */
  readonly sequence: bigint;
}

function malformed(reason: string, offset: number): NetSpectraError {
  return new NetSpectraError('NS_ERR_WIRE_MALFORMED', `malformed packet batch message at byte ${offset}: ${reason}`, { location: { offset } });
}

function unrepresentable(batch: PacketBatch, index: number): NetSpectraError {
  return new NetSpectraError(
    'NS_ERR_WIRE_UNREPRESENTABLE',
    `packet ${index} cannot be encoded: family ${batch.family[index]}, timestamp ${batch.tsSeconds[index]} s + ${batch.tsNanos[index]} ns ` +
      '(the wire carries families 4 and 6 and i64 nanoseconds from 1970 to 2262)',
  );
}

function checkRange(batch: PacketBatch, start: number, end: number, oneMessage: boolean): void {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= batch.count)) {
    throw new RangeError(`packet range [${start}, ${end}) is not within the batch's ${batch.count} packets`);
  }
  if (oneMessage && end - start > MAX_PACKETS_PER_MESSAGE) throw new RangeError(`${end - start} packets exceed the ${MAX_PACKETS_PER_MESSAGE} a message may hold`);
}

/** Bytes of packet `index`'s two addresses, or 0 for a family the wire cannot carry. */
function addressPairBytes(family: number): number {
  return family === 4 ? 8 : family === 6 ? 32 : 0;
}

/**
 * Size of the message holding packets [start, end) of `batch`.
 *
 * @throws NetSpectraError NS_ERR_WIRE_UNREPRESENTABLE for a packet whose family is neither 4 nor 6
 */
export function packetBatchMessageBytes(batch: PacketBatch, start: number, end: number): number {
  checkRange(batch, start, end, true);
  let bytes = PACKET_BATCH_HEADER_BYTES + (end - start) * PACKET_BATCH_FIXED_BYTES_PER_PACKET;
  for (let i = start; i < end; i++) {
    const pair = addressPairBytes(batch.family[i]!);
    if (pair === 0) throw unrepresentable(batch, i);
    bytes += pair;
  }
  return bytes;
}

/**
 * How many packets from `start` (up to `end`) one message of at most `maxBytes` can hold — for
 * cutting a batch into messages under the NATS server's `max_payload`. 0 when not even the first
 * fits (`maxBytes` below 50 for an IPv4 packet, 74 for IPv6).
 *
 * @throws NetSpectraError NS_ERR_WIRE_UNREPRESENTABLE for a packet whose family is neither 4 nor 6
 */
export function packetsThatFit(batch: PacketBatch, start: number, end: number, maxBytes: number): number {
  checkRange(batch, start, end, false);
  const last = Math.min(end, start + MAX_PACKETS_PER_MESSAGE);
  let bytes = PACKET_BATCH_HEADER_BYTES;
  let i = start;
  for (; i < last; i++) {
    const pair = addressPairBytes(batch.family[i]!);
    if (pair === 0) throw unrepresentable(batch, i);
    bytes += PACKET_BATCH_FIXED_BYTES_PER_PACKET + pair;
    if (bytes > maxBytes) break;
  }
  return i - start;
}

/**
 * Encode packets [start, end) of `batch` as one message into `out` at `offset`; returns the bytes
 * written ({@link packetBatchMessageBytes}). An empty range makes a valid message of 0 packets
 * (it still advances the sequence, e.g. as a heartbeat).
 *
 * @throws NetSpectraError NS_ERR_WIRE_UNREPRESENTABLE when a packet's family is neither 4 nor 6 or
 *   its timestamp is outside 1970..2262; nothing is written then
 * @throws RangeError for a range outside the batch, a header value out of range or no room in
 *   `out` (caller bugs)
 */
export function encodePacketBatchInto(batch: PacketBatch, start: number, end: number, header: PacketBatchHeader, out: Uint8Array, offset: number): number {
  const size = packetBatchMessageBytes(batch, start, end);
  const { streamId, sequence } = header;
  if (!(Number.isInteger(streamId) && streamId >= 0 && streamId < TWO_POW_32)) throw new RangeError(`stream id ${streamId} is not a 32-bit unsigned integer`);
  if (!(sequence >= 0n && sequence <= MAX_U64)) throw new RangeError(`sequence ${sequence} is not a 64-bit unsigned integer`);
  if (!(Number.isInteger(offset) && offset >= 0 && offset + size <= out.length)) {
    throw new RangeError(`a packet batch message of ${size} bytes does not fit at offset ${offset} of a ${out.length}-byte buffer`);
  }
  const tsSeconds = batch.tsSeconds;
  const tsNanos = batch.tsNanos;
  for (let i = start; i < end; i++) if (!isWireTimestamp(tsSeconds[i]!, tsNanos[i]!)) throw unrepresentable(batch, i);

  const count = end - start;
  const view = encodeViews.of(out);
  const base = out.byteOffset + offset;
  out.set(PACKET_BATCH_MAGIC, offset);
  view.setUint32(base + 4, PACKET_BATCH_VERSION << 24); // version, then reserved bytes 5..7 = 0
  view.setUint32(base + 8, streamId);
  view.setBigUint64(base + 12, sequence);
  view.setUint32(base + 20, count);

  const timestamps = base + PACKET_BATCH_HEADER_BYTES;
  const lengths = timestamps + 8 * count;
  const srcPorts = lengths + 4 * count;
  const dstPorts = srcPorts + 2 * count;
  const protocols = dstPorts + 2 * count;
  const families = protocols + count;
  let address = families + count;
  const { wireLength, srcPort, dstPort, protocol, family, srcAddr, dstAddr } = batch;
  for (let i = start, k = 0; i < end; i++, k++) {
    writeUnixNanos(view, timestamps + 8 * k, tsSeconds[i]!, tsNanos[i]!);
    view.setUint32(lengths + 4 * k, wireLength[i]!);
    view.setUint16(srcPorts + 2 * k, srcPort[i]!);
    view.setUint16(dstPorts + 2 * k, dstPort[i]!);
    view.setUint8(protocols + k, protocol[i]!);
    const packetFamily = family[i]!;
    view.setUint8(families + k, packetFamily);
    const word = i * 4;
    if (packetFamily === 4) {
      view.setUint32(address, srcAddr[word + 3]!);
      view.setUint32(address + 4, dstAddr[word + 3]!);
      address += 8;
    } else {
      for (let w = 0; w < 4; w++) {
        view.setUint32(address + 4 * w, srcAddr[word + w]!);
        view.setUint32(address + 16 + 4 * w, dstAddr[word + w]!);
      }
      address += 32;
    }
  }
  return address - base;
}

/** {@link encodePacketBatchInto} into a new Uint8Array of exactly the message's size. */
export function encodePacketBatch(batch: PacketBatch, start: number, end: number, header: PacketBatchHeader): Uint8Array {
  const out = new Uint8Array(packetBatchMessageBytes(batch, start, end));
  encodePacketBatchInto(batch, start, end, header, out, 0);
  return out;
}

/** True when `bytes` starts like a packet batch message (its first byte is not a Thrift type). */
export function isPacketBatchMessage(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === PACKET_BATCH_MAGIC[0];
}

/**
 * Decode a packet batch message (the whole of `bytes`) and append its packets, from the message's
 * packet `fromPacket` on, to `batch` — as many as the batch has room for. When the message holds
 * more than that, `result.next` says where to go on: hand the full batch on and decode the same
 * message again into an emptied one from `result.next`, until `result.complete`. Each call checks
 * the whole message again (one pass over two narrow columns), so a message is never half-trusted.
 *
 * @param result reused for the answer when given (a subscriber keeps one), else a new one
 * @throws NetSpectraError NS_ERR_WIRE_MALFORMED (not this format, truncated, a count the bytes
 *   cannot hold or over {@link MAX_PACKETS_PER_MESSAGE}, a family other than 4 or 6, a negative
 *   timestamp, bytes after the end) or NS_ERR_WIRE_VERSION (a version other than 1, reserved bytes
 *   set); the batch is unchanged then
 * @throws RangeError when `fromPacket` is not 0 .. the message's packet count (a caller bug)
 */
export function decodePacketBatch(bytes: Uint8Array, batch: PacketBatch, fromPacket = 0, result = new DecodedPayload()): DecodedPayload {
  const length = bytes.length;
  for (let i = 0; i < 4; i++) {
    if (i >= length) throw malformed(`truncated: ${length} bytes, the header alone has ${PACKET_BATCH_HEADER_BYTES}`, length);
    if (bytes[i] !== PACKET_BATCH_MAGIC[i]) throw malformed('not a packet batch message (magic "NSPB" expected)', i);
  }
  // The version is checked before the rest of the header, whose size a later version may change.
  if (length < 5) throw malformed(`truncated: ${length} bytes, the header alone has ${PACKET_BATCH_HEADER_BYTES}`, length);
  const version = bytes[4]!;
  if (version !== PACKET_BATCH_VERSION) {
    throw new NetSpectraError('NS_ERR_WIRE_VERSION', `packet batch message of format version ${version}; this build reads version ${PACKET_BATCH_VERSION} only`, { location: { offset: 4 } });
  }
  if (length < PACKET_BATCH_HEADER_BYTES) throw malformed(`truncated: ${length} bytes, the header alone has ${PACKET_BATCH_HEADER_BYTES}`, length);
  if ((bytes[5]! | bytes[6]! | bytes[7]!) !== 0) {
    throw new NetSpectraError('NS_ERR_WIRE_VERSION', 'packet batch message with reserved header bytes 5..7 set: written by a newer version', { location: { offset: 5 } });
  }
  const view = decodeViews.of(bytes);
  // Offsets below are within `bytes`; the view spans its whole buffer, hence `base +`.
  const base = bytes.byteOffset;
  const count = view.getUint32(base + 20);
  if (count > MAX_PACKETS_PER_MESSAGE) throw malformed(`packet count ${count} over the limit of ${MAX_PACKETS_PER_MESSAGE}`, 20);
  const timestamps = PACKET_BATCH_HEADER_BYTES;
  const lengths = timestamps + 8 * count;
  const srcPorts = lengths + 4 * count;
  const dstPorts = srcPorts + 2 * count;
  const protocols = dstPorts + 2 * count;
  const families = protocols + count;
  const addresses = families + count;
  if (addresses > length) throw malformed(`truncated: ${count} packets need at least ${addresses} bytes, the message has ${length}`, 20);
  if (!(Number.isInteger(fromPacket) && fromPacket >= 0 && fromPacket <= count)) throw new RangeError(`fromPacket ${fromPacket} is not within the message's ${count} packets`);

  // One pass: the address area's size (and where packet fromPacket's addresses start), every
  // family and every timestamp's sign, so decoding below cannot fail half-way.
  let expected = addresses;
  let firstAddress = addresses;
  for (let k = 0; k < count; k++) {
    if (k === fromPacket) firstAddress = expected;
    const pair = addressPairBytes(bytes[families + k]!);
    if (pair === 0) throw malformed(`packet ${k} has family ${bytes[families + k]}, not 4 or 6`, families + k);
    if (bytes[timestamps + 8 * k]! >= 0x80) throw malformed(`packet ${k} has a negative timestamp (before 1970)`, timestamps + 8 * k);
    expected += pair;
  }
  if (expected > length) throw malformed(`truncated: the addresses of ${count} packets end at byte ${expected}, the message has ${length}`, length);
  if (expected < length) throw malformed(`${length - expected} bytes after the end of the message`, expected);

  const appended = Math.min(count - fromPacket, batch.capacity - batch.count);
  const { tsSeconds, tsNanos, wireLength, srcPort, dstPort, protocol, family, srcAddr, dstAddr } = batch;
  let address = base + firstAddress;
  for (let k = fromPacket, slot = batch.count, last = fromPacket + appended; k < last; k++, slot++) {
    const timestamp = base + timestamps + 8 * k;
    storeUnixNanos(view.getInt32(timestamp), view.getUint32(timestamp + 4), tsSeconds, tsNanos, slot);
    wireLength[slot] = view.getUint32(base + lengths + 4 * k);
    srcPort[slot] = view.getUint16(base + srcPorts + 2 * k);
    dstPort[slot] = view.getUint16(base + dstPorts + 2 * k);
    protocol[slot] = bytes[protocols + k]!;
    const packetFamily = bytes[families + k]!;
    family[slot] = packetFamily;
    const word = slot * 4;
    if (packetFamily === 4) {
      storeMappedIPv4(view, address, srcAddr, word);
      storeMappedIPv4(view, address + 4, dstAddr, word);
      address += 8;
    } else {
      storeIPv6(view, address, srcAddr, word);
      storeIPv6(view, address + 16, dstAddr, word);
      address += 32;
    }
  }
  batch.count += appended;

  result.format = 'packet-batch';
  result.streamId = view.getUint32(base + 8);
  result.sequence = view.getBigUint64(base + 12);
  result.packets = count;
  result.appended = appended;
  result.next = fromPacket + appended;
  return result;
}
