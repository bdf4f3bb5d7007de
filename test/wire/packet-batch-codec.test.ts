/** The batched wire format: round trips, splitting across batches, refusals, and decodePayload. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetSpectraError } from '../../src/model/errors.js';
import { PacketBatch } from '../../src/model/packet.js';
import { DecodedPayload } from '../../src/wire/decoded-payload.js';
import {
  MAX_PACKETS_PER_MESSAGE,
  PACKET_BATCH_HEADER_BYTES,
  decodePacketBatch,
  encodePacketBatch,
  encodePacketBatchInto,
  packetBatchMessageBytes,
  packetsThatFit,
} from '../../src/wire/packet-batch-codec.js';
import { encodePacketInfoBytes } from '../../src/wire/packet-info-codec.js';
import { decodePayload } from '../../src/wire/payload.js';
import type { WirePacket } from './wire-helpers.js';
import { batchOf, libraryEncode, packetsOf, prng, randomWirePackets } from './wire-helpers.js';

const HEADER = { streamId: 7, sequence: 42n };
const V4: WirePacket = { seconds: 1_700_000_000, nanos: 5, wireLength: 1514, family: 4, src: [0, 0, 0xffff, 0x0a000001], dst: [0, 0, 0xffff, 0xc0a80101], srcPort: 443, dstPort: 51234, protocol: 6 };
const V6: WirePacket = { ...V4, family: 6, src: [0x20010db8, 0, 0, 1], dst: [0x20010db8, 0, 0, 2], protocol: 17 };

/** Decode a whole message into batches of `capacity`, following `next` across full batches. */
function decodeAll(bytes: Uint8Array, capacity: number): { packets: WirePacket[]; result: DecodedPayload; calls: number } {
  const packets: WirePacket[] = [];
  const result = new DecodedPayload();
  let calls = 0;
  let from = 0;
  do {
    const batch = new PacketBatch(capacity);
    const returned = decodePayload(bytes, batch, from, result);
    assert.equal(returned, result, 'the result object is reused');
    assert.equal(batch.count, result.appended);
    packets.push(...packetsOf(batch));
    from = result.next;
    calls++;
  } while (!result.complete);
  return { packets, result, calls };
}

function assertRefused(bytes: Uint8Array, code: 'NS_ERR_WIRE_MALFORMED' | 'NS_ERR_WIRE_VERSION', why: string): NetSpectraError {
  const batch = batchOf([V6, V4], 8);
  const before = packetsOf(batch);
  let caught: unknown;
  try {
    decodePacketBatch(bytes, batch);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof NetSpectraError, `${why}: expected a NetSpectraError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${why}: ${caught.message}`);
  const offset = caught.location.offset;
  assert.ok(offset !== undefined && offset >= 0 && offset <= bytes.length, `${why}: offset ${offset}`);
  assert.deepEqual(packetsOf(batch), before, `${why}: the batch changed`);
  return caught;
}

function patched(bytes: Uint8Array, at: number, ...values: number[]): Uint8Array {
  const copy = bytes.slice();
  copy.set(values, at);
  return copy;
}

test('random batches round-trip through the batched format: whole, ranges, both families, empty', () => {
  const random = prng(11);
  for (let round = 0; round < 200; round++) {
    const packets = randomWirePackets(Math.floor(random() * 300), 1000 + round);
    const batch = batchOf(packets, packets.length + 5);
    const start = Math.floor(random() * (packets.length + 1));
    const end = start + Math.floor(random() * (packets.length - start + 1));
    const header = { streamId: Math.floor(random() * 2 ** 32), sequence: BigInt(Math.floor(random() * 2 ** 32)) * BigInt(Math.floor(random() * 2 ** 32)) };
    const bytes = encodePacketBatch(batch, start, end, header);
    assert.equal(bytes.length, packetBatchMessageBytes(batch, start, end));
    const v4 = packets.slice(start, end).filter((p) => p.family === 4).length;
    assert.equal(bytes.length, PACKET_BATCH_HEADER_BYTES + (end - start) * 18 + v4 * 8 + (end - start - v4) * 32);
    const { packets: decoded, result } = decodeAll(bytes, 1 + end - start);
    assert.deepEqual(decoded, packets.slice(start, end));
    assert.deepEqual({ ...result }, { format: 'packet-batch', streamId: header.streamId, sequence: header.sequence, packets: end - start, appended: end - start, next: end - start });
  }
  const empty = encodePacketBatch(new PacketBatch(1), 0, 0, { streamId: 0, sequence: 0n });
  assert.equal(empty.length, PACKET_BATCH_HEADER_BYTES);
  const { packets, result } = decodeAll(empty, 1);
  assert.deepEqual(packets, []);
  assert.equal(result.packets, 0);
  assert.equal(result.complete, true);
});

test('the header carries stream id and sequence at their limits, in network byte order', () => {
  const batch = batchOf([V4, V6]);
  const bytes = encodePacketBatch(batch, 0, 2, { streamId: 0xffffffff, sequence: (1n << 64n) - 1n });
  assert.deepEqual([...bytes.subarray(0, 24)], [0x4e, 0x53, 0x50, 0x42, 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 2]);
  const result = decodePayload(bytes, new PacketBatch(2));
  assert.equal(result.streamId, 0xffffffff);
  assert.equal(result.sequence, (1n << 64n) - 1n);
  assert.throws(() => encodePacketBatch(batch, 0, 2, { streamId: 2 ** 32, sequence: 0n }), RangeError);
  assert.throws(() => encodePacketBatch(batch, 0, 2, { streamId: 0, sequence: -1n }), RangeError);
  assert.throws(() => encodePacketBatch(batch, 0, 2, { streamId: 0, sequence: 1n << 64n }), RangeError);
  assert.throws(() => encodePacketBatch(batch, 1, 3, HEADER), RangeError);
  assert.throws(() => encodePacketBatch(batch, 2, 1, HEADER), RangeError);
});

test('messages are written and read at any offset of a buffer, shared or not, and a buffer without room is refused', () => {
  const packets = randomWirePackets(50, 3);
  const batch = batchOf(packets);
  const size = packetBatchMessageBytes(batch, 0, 50);
  const expected = encodePacketBatch(batch, 0, 50, HEADER);
  for (const backing of [new ArrayBuffer(size + 20), new SharedArrayBuffer(size + 20)]) {
    const out = new Uint8Array(backing).subarray(3, 3 + size + 7);
    assert.equal(encodePacketBatchInto(batch, 0, 50, HEADER, out, 7), size);
    const slice = out.subarray(7);
    assert.deepEqual(slice, expected);
    assert.deepEqual(decodeAll(slice, 50).packets, packets);
    assert.throws(() => encodePacketBatchInto(batch, 0, 50, HEADER, out, 8), RangeError);
  }
});

test('a message larger than the batch is decoded across batches from result.next', () => {
  const packets = randomWirePackets(1000, 4);
  const bytes = encodePacketBatch(batchOf(packets), 0, 1000, HEADER);
  for (const capacity of [1, 7, 999, 1000, 4096]) {
    const { packets: decoded, calls } = decodeAll(bytes, capacity);
    assert.deepEqual(decoded, packets, `capacity ${capacity}`);
    assert.equal(calls, Math.ceil(1000 / capacity));
  }
  // Appending to a batch that already holds packets fills only its free slots.
  const batch = batchOf([V4, V6], 5);
  const result = decodePacketBatch(bytes, batch);
  assert.deepEqual([result.appended, result.next, result.complete, batch.count], [3, 3, false, 5]);
  assert.deepEqual(packetsOf(batch), [V4, V6, ...packets.slice(0, 3)]);
  const full = decodePacketBatch(bytes, batch, 3);
  assert.deepEqual([full.appended, full.next], [0, 3]);
  assert.throws(() => decodePacketBatch(bytes, new PacketBatch(1), 1001), RangeError);
  assert.throws(() => decodePacketBatch(bytes, new PacketBatch(1), -1), RangeError);
});

test('packetsThatFit cuts a batch into messages under a payload limit', () => {
  const packets = randomWirePackets(5000, 5);
  const batch = batchOf(packets);
  for (const limit of [74, 100, 4096, 65536, 1024 * 1024]) {
    const decoded: WirePacket[] = [];
    for (let start = 0; start < batch.count; ) {
      const n = packetsThatFit(batch, start, batch.count, limit);
      assert.ok(n > 0, `limit ${limit}`);
      const size = packetBatchMessageBytes(batch, start, start + n);
      assert.ok(size <= limit, `${size} > ${limit}`);
      if (start + n < batch.count) assert.ok(packetBatchMessageBytes(batch, start, start + n + 1) > limit, 'the next packet would not fit');
      decoded.push(...decodeAll(encodePacketBatch(batch, start, start + n, HEADER), n).packets);
      start += n;
    }
    assert.deepEqual(decoded, packets);
  }
  assert.equal(packetsThatFit(batch, 0, 10, 73), 0);
  assert.equal(packetsThatFit(batchOf([V4]), 0, 1, 24 + 26), 1);
  assert.equal(packetsThatFit(batchOf([V6]), 0, 1, 24 + 49), 0);
});

test('decodePayload tells a PacketInfo from a packet batch message', () => {
  const batch = new PacketBatch(4);
  const info = decodePayload(libraryEncode(V6), batch);
  assert.deepEqual({ ...info }, { format: 'packet-info', streamId: undefined, sequence: undefined, packets: 1, appended: 1, next: 1 });
  const ours = decodePayload(encodePacketInfoBytes(batchOf([V4]), 0), batch, 0, info);
  assert.equal(ours, info);
  assert.equal(ours.format, 'packet-info');
  const message = decodePayload(encodePacketBatch(batchOf([V4, V6]), 0, 2, HEADER), batch, 0, info);
  assert.deepEqual({ ...message }, { format: 'packet-batch', streamId: 7, sequence: 42n, packets: 2, appended: 2, next: 2 });
  assert.deepEqual(packetsOf(batch), [V6, V4, V4, V6]);
  const full = decodePayload(libraryEncode(V4), batch);
  assert.deepEqual([full.appended, full.next, full.complete], [0, 0, false]);
  assert.throws(() => decodePayload(libraryEncode(V4), batch, 1), RangeError);
  for (const bytes of [new Uint8Array(0), Uint8Array.of(0x0a), Uint8Array.of(0x4e)]) {
    assert.throws(() => decodePayload(bytes, batch), (error: unknown) => error instanceof NetSpectraError && error.code === 'NS_ERR_WIRE_MALFORMED');
  }
});

test('malformed messages are refused and the batch is left as it was', () => {
  const packets = [V4, V6, V4, V6, V6];
  const good = encodePacketBatch(batchOf(packets), 0, packets.length, HEADER);
  const count = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const families = 24 + 5 * 17;
  const malformed: [string, Uint8Array][] = [
    ['wrong magic', patched(good, 0, 0x4e, 0x53, 0x50, 0x43)],
    ['magic of another format', patched(good, 1, 0x54)],
    ['count one larger than the data', patched(good, 20, ...count(6))],
    ['count one smaller than the data', patched(good, 20, ...count(4))],
    ['count 0 with data', patched(good, 20, ...count(0))],
    ['count 2^32 - 1', patched(good, 20, ...count(0xffffffff))],
    ['count 2^31', patched(good, 20, ...count(0x80000000))],
    ['count at the limit without the data', patched(good, 20, ...count(MAX_PACKETS_PER_MESSAGE))],
    ['count over the limit', patched(good, 20, ...count(MAX_PACKETS_PER_MESSAGE + 1))],
    ['family 0', patched(good, families, 0)],
    ['family 5', patched(good, families + 4, 5)],
    ['family 4 where the addresses are IPv6', patched(good, families + 1, 4)],
    ['family 6 where the addresses are IPv4', patched(good, families + 2, 6)],
    ['negative timestamp', patched(good, 24 + 8, 0x80)],
    ['trailing byte', Uint8Array.of(...good, 0)],
    ['two messages in one payload', Uint8Array.of(...good, ...good)],
  ];
  for (let cut = 0; cut < good.length; cut++) malformed.push([`truncated to ${cut} bytes`, good.subarray(0, cut)]);
  for (const [why, bytes] of malformed) assertRefused(bytes, 'NS_ERR_WIRE_MALFORMED', why);
  assert.match(assertRefused(patched(good, 20, ...count(MAX_PACKETS_PER_MESSAGE)), 'NS_ERR_WIRE_MALFORMED', 'message').message, /truncated: 1048576 packets need at least/);

  for (const [why, bytes] of [
    ['version 0', patched(good, 4, 0)],
    ['version 2', patched(good, 4, 2)],
    ['version 255 with a shorter header', Uint8Array.of(0x4e, 0x53, 0x50, 0x42, 255)],
    ['reserved byte 5 set', patched(good, 5, 1)],
    ['reserved byte 7 set', patched(good, 7, 0x80)],
  ] as const) {
    assertRefused(bytes, 'NS_ERR_WIRE_VERSION', why);
  }
});

test('packets the wire cannot carry are refused with NS_ERR_WIRE_UNREPRESENTABLE', () => {
  for (const change of [{ family: 0 }, { family: 16 }, { seconds: -1 }, { nanos: 1e9 }, { seconds: 2 ** 40 }] as Partial<WirePacket>[]) {
    const batch = batchOf([V4, { ...V6, ...change }]);
    const isCode = (error: unknown): boolean => error instanceof NetSpectraError && error.code === 'NS_ERR_WIRE_UNREPRESENTABLE';
    assert.throws(() => encodePacketBatch(batch, 0, 2, HEADER), isCode, JSON.stringify(change));
    assert.deepEqual(packetsOf(batchOf([V4])), [V4]);
    assert.equal(encodePacketBatch(batch, 0, 1, HEADER).length, 24 + 26, 'the packets before it still encode');
  }
});
