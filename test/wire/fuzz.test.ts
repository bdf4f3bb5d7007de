/**
 * Fuzzing bounded in time: random mutations of valid payloads of both wire formats, decoded with
 * decodePayload into batches that already hold packets. Nothing but a NetSpectraError with a wire
 * code may escape, decoding must end, a refused message must leave the batch as it was, and what
 * is accepted must be well-formed packets — for a PacketInfo, the very packet the thrift library
 * reads from the same bytes. A seeded PRNG makes every failure reproducible: the message prints
 * the seed; NS_FUZZ_SEED=<seed> replays it first, NS_FUZZ_MS sets the time budget (default 3 s).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetSpectraError } from '../../src/model/errors.js';
import { PacketBatch } from '../../src/model/packet.js';
import { DecodedPayload } from '../../src/wire/decoded-payload.js';
import { encodePacketBatch } from '../../src/wire/packet-batch-codec.js';
import { encodePacketInfoBytes } from '../../src/wire/packet-info-codec.js';
import { decodePayload } from '../../src/wire/payload.js';
import type { WirePacket } from './wire-helpers.js';
import { addressBuffer, batchOf, libraryDecode, libraryEncode, libraryPacket, packetAt, packetsOf, prng, putPacket, randomWirePackets } from './wire-helpers.js';

const BUDGET_MS = Number(process.env.NS_FUZZ_MS ?? 3_000);
const FIRST_SEED = Number(process.env.NS_FUZZ_SEED ?? 0x3153);
const EDGE_VALUES = [0, 1, 3, 4, 5, 15, 16, 17, 24, 0x7fffffff, 0xffffffff, 0x80000000, 0xfffffffc, 1 << 20, (1 << 20) + 1];

function corpus(): Uint8Array[] {
  const packets = randomWirePackets(60, 99);
  const batch = batchOf(packets);
  const items: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) items.push(libraryEncode(packets[i]!), encodePacketInfoBytes(batch, i + 8));
  // A PacketInfo with unknown fields (a list of structs, a map, a string) before and inside the tuple.
  const v4 = encodePacketInfoBytes(batch, packets.findIndex((p) => p.family === 4));
  const unknownList = [15, 0, 9, 12, 0, 0, 0, 2, 8, 0, 1, 0, 0, 0, 7, 0, 0];
  const unknownMap = [13, 0, 10, 11, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0, 0, 0, 2];
  items.push(Uint8Array.of(...unknownList, ...v4.subarray(0, 14), ...unknownMap, ...v4.subarray(14)));
  for (const [start, end] of [[0, 0], [0, 1], [10, 15], [0, 40], [20, 60]] as const) {
    items.push(encodePacketBatch(batch, start, end, { streamId: start, sequence: BigInt(end) }));
  }
  return items;
}

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const pick = (limit: number): number => Math.floor(random() * Math.max(1, limit));
  const mutations = 1 + pick(4);
  for (let m = 0; m < mutations && bytes.length > 0; m++) {
    switch (pick(7)) {
      case 0:
        bytes[pick(bytes.length)]! ^= 1 << pick(8);
        break;
      case 1:
        bytes[pick(bytes.length)] = pick(256);
        break;
      case 2:
        bytes = bytes.slice(0, pick(bytes.length));
        break;
      case 3: {
        const at = pick(bytes.length + 1);
        bytes = Uint8Array.of(...bytes.subarray(0, at), ...Array.from({ length: 1 + pick(16) }, () => pick(256)), ...bytes.subarray(at));
        break;
      }
      case 4: {
        // Lengths, sizes and counts are big-endian 32-bit values at any offset: put an edge value in one.
        if (bytes.length < 4) break;
        const at = pick(bytes.length - 3);
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, EDGE_VALUES[pick(EDGE_VALUES.length)]!);
        break;
      }
      case 5: {
        // A Thrift type byte where a field header may start.
        bytes[pick(bytes.length)] = [0, 2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16, 17, 0x4e][pick(15)]!;
        break;
      }
      default: {
        const from = pick(bytes.length);
        bytes = Uint8Array.of(...bytes.subarray(0, from), ...bytes.subarray(Math.min(bytes.length, from + pick(32))));
      }
    }
  }
  return bytes;
}

function assertWellFormed(p: WirePacket): void {
  assert.ok(p.family === 4 || p.family === 6, `family ${p.family}`);
  assert.ok(p.nanos < 1e9 && p.seconds >= 0 && Number.isInteger(p.seconds), `timestamp ${p.seconds}.${p.nanos}`);
  if (p.family === 4) {
    assert.deepEqual(p.src.slice(0, 3), [0, 0, 0xffff]);
    assert.deepEqual(p.dst.slice(0, 3), [0, 0, 0xffff]);
  }
}

/** Decode one payload into batches of `capacity` that start with `prefill`; returns what was appended. */
function decodeChecked(input: Uint8Array, prefill: readonly WirePacket[], capacity: number): WirePacket[] {
  const appended: WirePacket[] = [];
  const result = new DecodedPayload();
  let batch = batchOf(prefill, capacity);
  let calls = 0;
  for (;;) {
    const before = packetsOf(batch);
    try {
      decodePayload(input, batch, result.next, result);
    } catch (error) {
      assert.ok(error instanceof NetSpectraError, `not a NetSpectraError: ${error instanceof Error ? error.stack : String(error)}`);
      assert.match(error.code, /^NS_ERR_WIRE_(MALFORMED|VERSION)$/);
      const offset = error.location.offset;
      assert.ok(offset !== undefined && offset >= 0 && offset <= input.length, `error offset ${offset} of ${input.length}`);
      assert.equal(calls, 0, 'a message accepted once must be accepted again from result.next');
      assert.deepEqual(packetsOf(batch), before, 'a refused message changed the batch');
      return [];
    }
    calls++;
    assert.deepEqual(packetsOf(batch, 0, before.length), before, 'packets already in the batch changed');
    assert.equal(batch.count, before.length + result.appended);
    const added = packetsOf(batch, before.length);
    added.forEach(assertWellFormed);
    appended.push(...added);
    if (result.complete) break;
    assert.ok(calls <= result.packets + 1, 'decoding does not progress');
    batch = new PacketBatch(capacity); // the full batch is handed on
  }
  assert.equal(appended.length, result.packets);
  return appended;
}

test('fuzz: mutated payloads of both formats decode or are refused cleanly, never throw otherwise or hang', { timeout: BUDGET_MS + 60_000 }, () => {
  const inputs = corpus();
  const deadline = Date.now() + BUDGET_MS;
  let runs = 0;
  let accepted = 0;
  for (let seed = FIRST_SEED; Date.now() < deadline || runs === 0; seed++, runs++) {
    const random = prng(seed);
    const base = inputs[Math.floor(random() * inputs.length)]!;
    const input = random() < 0.05 ? base : mutate(base, random);
    const prefill = randomWirePackets(Math.floor(random() * 4), seed);
    const capacity = prefill.length + 1 + Math.floor(random() * 30);
    try {
      const packets = decodeChecked(input, prefill, capacity);
      if (packets.length > 0) accepted++;
      if (packets.length > 0 && input[0] !== 0x4e) {
        // The library's generated reader is laxer (no range checks, no trailing-byte check), so
        // whatever we accept it must read to the same packet.
        const p = packets[0]!;
        assert.deepEqual(libraryPacket(libraryDecode(input)), {
          nanoseconds: BigInt(p.seconds) * 1_000_000_000n + BigInt(p.nanos),
          length: BigInt(p.wireLength),
          src: addressBuffer(p.src, p.family),
          dst: addressBuffer(p.dst, p.family),
          srcPort: p.srcPort,
          dstPort: p.dstPort,
          protocol: p.protocol,
        });
      }
    } catch (error) {
      assert.fail(`fuzz failure with seed ${seed} (input ${Buffer.from(input).toString('hex')}); replay with NS_FUZZ_SEED=${seed}: ${error instanceof Error ? error.stack : String(error)}`);
    }
  }
  assert.ok(accepted > 0 && accepted < runs, `${accepted} of ${runs} mutated payloads accepted`);
  console.log(`wire fuzz: ${runs} mutated payloads from seed ${FIRST_SEED}, ${accepted} accepted`);
});

test('valid packets before a bad message stay in the batch, and decoding goes on after it', () => {
  const packets = randomWirePackets(30, 5);
  const source = batchOf(packets);
  const good = encodePacketBatch(source, 0, 10, { streamId: 1, sequence: 1n });
  const bad = good.slice(0, good.length - 1);
  const batch = new PacketBatch(64);
  decodePayload(good, batch);
  decodePayload(encodePacketInfoBytes(source, 10), batch);
  assert.throws(() => decodePayload(bad, batch), NetSpectraError);
  assert.throws(() => decodePayload(Uint8Array.of(10, 0, 1), batch), NetSpectraError);
  decodePayload(encodePacketBatch(source, 11, 30, { streamId: 1, sequence: 2n }), batch);
  assert.deepEqual(packetsOf(batch), packets);
  putPacket(batch, packetAt(source, 0));
  assert.equal(batch.count, 31);
});
