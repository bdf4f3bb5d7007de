/**
 * The hand-written PacketInfo codec against the reference: the thrift npm library with the
 * generated PacketInfo class (what the original's Go publishers write is the same binary protocol
 * without a message envelope).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TProtocol } from 'thrift';
import { Int64 } from 'thrift';
import { NetSpectraError } from '../../src/model/errors.js';
import { PacketBatch } from '../../src/model/packet.js';
import {
  MAX_THRIFT_DEPTH,
  PACKET_INFO_IPV4_BYTES,
  PACKET_INFO_IPV6_BYTES,
  decodePacketInfo,
  encodePacketInfo,
  encodePacketInfoBytes,
  packetInfoBytes,
} from '../../src/wire/packet-info-codec.js';
import { MAX_WIRE_SECONDS, isWireTimestamp, storeUnixNanos, writeUnixNanos } from '../../src/wire/unix-nanos.js';
import type { WirePacket } from './wire-helpers.js';
import { addressBuffer, batchOf, libraryBytes, libraryDecode, libraryEncode, libraryPacket, packetsOf, prng, randomWirePackets } from './wire-helpers.js';

const NS = 1_000_000_000n;
const I64_MAX = (1n << 63n) - 1n;

const V4: WirePacket = { seconds: 1_700_000_000, nanos: 5, wireLength: 1514, family: 4, src: [0, 0, 0xffff, 0x0a000001], dst: [0, 0, 0xffff, 0xc0a80101], srcPort: 443, dstPort: 51234, protocol: 6 };
const V6: WirePacket = { ...V4, family: 6, src: [0x20010db8, 0, 0, 1], dst: [0x20010db8, 0, 0, 2], protocol: 17 };

// ---- a small writer over the library's TBinaryProtocol, to build payloads the library would ----

type Part = (protocol: TProtocol) => void;
const T = { bool: 2, byte: 3, double: 4, i16: 6, i32: 8, i64: 10, string: 11, struct: 12, map: 13, set: 14, list: 15, uuid: 16 } as const;

function field(type: number, id: number, value: Part): Part {
  return (protocol) => {
    protocol.writeFieldBegin('', type, id);
    value(protocol);
    protocol.writeFieldEnd();
  };
}
function i64(value: bigint): Part {
  const buffer = Buffer.alloc(8);
  buffer.writeBigInt64BE(BigInt.asIntN(64, value));
  return (protocol) => protocol.writeI64(new Int64(buffer));
}
const i32 = (value: number): Part => (protocol) => protocol.writeI32(value);
const binary = (bytes: Uint8Array): Part => (protocol) => protocol.writeBinary(Buffer.from(bytes));
/** Bytes written as they are, for what the library refuses to write (negative sizes, unknown types). */
const raw = (...bytes: number[]): Part => rawBytes(Uint8Array.from(bytes));
const rawBytes = (bytes: Uint8Array): Part => (protocol) => protocol.getTransport().write(Buffer.from(bytes));
function struct(...fields: Part[]): Part {
  return (protocol) => {
    for (const f of fields) f(protocol);
    protocol.writeFieldStop();
  };
}
function payload(...fields: Part[]): Uint8Array {
  return libraryBytes(struct(...fields));
}

function tupleFields(p: WirePacket): Part[] {
  return [
    field(T.string, 1, binary(addressBuffer(p.src, p.family))),
    field(T.string, 2, binary(addressBuffer(p.dst, p.family))),
    field(T.i32, 3, i32(p.srcPort)),
    field(T.i32, 4, i32(p.dstPort)),
    field(T.i32, 5, i32(p.protocol)),
  ];
}
function infoFields(p: WirePacket, tuple: Part[] = tupleFields(p)): Part[] {
  return [field(T.i64, 1, i64(BigInt(p.seconds) * NS + BigInt(p.nanos))), field(T.struct, 2, struct(...tuple)), field(T.i64, 3, i64(BigInt(p.wireLength)))];
}

function decodeOne(bytes: Uint8Array): WirePacket {
  const batch = new PacketBatch(1);
  assert.equal(decodePacketInfo(bytes, batch), true);
  return packetsOf(batch)[0]!;
}

function assertMalformed(bytes: Uint8Array, why: string): NetSpectraError {
  const batch = batchOf([V6, V4], 4);
  const before = packetsOf(batch);
  let caught: unknown;
  try {
    decodePacketInfo(bytes, batch);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof NetSpectraError, `${why}: expected a NetSpectraError, got ${String(caught)}`);
  assert.equal(caught.code, 'NS_ERR_WIRE_MALFORMED', why);
  const offset = caught.location.offset;
  assert.ok(offset !== undefined && offset >= 0 && offset <= bytes.length, `${why}: offset ${offset}`);
  assert.deepEqual(packetsOf(batch), before, `${why}: the batch changed`);
  assert.equal(batch.count, 2);
  return caught;
}

// ---- timestamps ----

test('i64 nanoseconds convert exactly to and from seconds + nanoseconds (checked with BigInt)', () => {
  const random = prng(7);
  const out = new Uint8Array(8);
  const seconds = new Float64Array(1);
  const nanos = new Uint32Array(1);
  const view = new DataView(out.buffer);
  const cases: [number, number][] = [
    [0, 0],
    [0, 999_999_999],
    [1, 0],
    [4, 294_967_295],
    [4, 294_967_296],
    [65535, 999_999_999],
    [65536, 0],
    [4294967295, 999_999_999],
    [4294967296, 0],
    [MAX_WIRE_SECONDS, 854_775_807],
  ];
  for (let i = 0; i < 100_000; i++) cases.push([Math.floor(random() * (MAX_WIRE_SECONDS + 1)), Math.floor(random() * 1e9)]);
  for (const [s, n] of cases) {
    const expected = BigInt(s) * NS + BigInt(n);
    if (expected > I64_MAX) continue;
    assert.ok(isWireTimestamp(s, n));
    writeUnixNanos(view, 0, s, n);
    assert.equal(view.getBigInt64(0), expected, `${s} s + ${n} ns`);
    storeUnixNanos(view.getInt32(0), view.getUint32(4), seconds, nanos, 0);
    assert.deepEqual([seconds[0], nanos[0]], [s, n], `${expected} ns`);
  }
  for (let i = 0; i < 100_000; i++) {
    const value = BigInt.asUintN(63, BigInt(Math.floor(random() * 2 ** 32)) << 31n) ^ BigInt(Math.floor(random() * 2 ** 32));
    storeUnixNanos(Number(value >> 32n), Number(value & 0xffffffffn), seconds, nanos, 0);
    assert.equal(BigInt(seconds[0]!) * NS + BigInt(nanos[0]!), value);
  }
  for (const [s, n] of [[-1, 0], [0.5, 0], [0, 1e9], [0, -1], [MAX_WIRE_SECONDS, 854_775_808], [MAX_WIRE_SECONDS + 1, 0], [Number.NaN, 0], [0, 0.5]] as const) {
    assert.equal(isWireTimestamp(s, n), false, `${s} s + ${n} ns`);
  }
});

// ---- byte for byte against the library ----

test('the hand encoder writes exactly the bytes the thrift library writes, for 2,000 random packets', () => {
  const packets = randomWirePackets(2000, 1);
  const batch = batchOf(packets);
  const shared = new Uint8Array(packets.length * PACKET_INFO_IPV6_BYTES + 3);
  let offset = 3; // not aligned, on purpose
  let families = 0;
  for (let i = 0; i < packets.length; i++) {
    const expected = libraryEncode(packets[i]!);
    const mine = encodePacketInfoBytes(batch, i);
    assert.deepEqual(mine, expected, `packet ${i}: ${JSON.stringify(packets[i])}`);
    assert.equal(mine.length, packets[i]!.family === 4 ? PACKET_INFO_IPV4_BYTES : PACKET_INFO_IPV6_BYTES);
    assert.equal(packetInfoBytes(batch, i), mine.length);
    const written = encodePacketInfo(batch, i, shared, offset);
    assert.deepEqual(shared.subarray(offset, offset + written), expected);
    offset += written;
    families |= packets[i]!.family;
  }
  assert.equal(families, 4 | 6, 'both families were tested');
});

test('payloads written by the thrift library decode to the same packets, and the library reads ours back', () => {
  const packets = randomWirePackets(2000, 2);
  const batch = new PacketBatch(packets.length);
  for (const p of packets) assert.equal(decodePacketInfo(libraryEncode(p), batch), true);
  assert.deepEqual(packetsOf(batch), packets);
  // The same payloads as slices at odd offsets of one shared buffer (as NATS delivers them), and
  // encoded into a slice of another buffer.
  const shared = new Uint8Array(new SharedArrayBuffer(packets.length * PACKET_INFO_IPV6_BYTES + 1));
  const slices: Uint8Array[] = [];
  let offset = 1;
  for (const p of packets) {
    const bytes = libraryEncode(p);
    shared.set(bytes, offset);
    slices.push(shared.subarray(offset, offset + bytes.length));
    offset += bytes.length;
  }
  const fromSlices = new PacketBatch(packets.length);
  const encoded = new Uint8Array(PACKET_INFO_IPV6_BYTES + 10).subarray(5);
  for (const [i, slice] of slices.entries()) {
    assert.equal(decodePacketInfo(slice, fromSlices), true);
    const written = encodePacketInfo(fromSlices, i, encoded, 2);
    assert.deepEqual(encoded.subarray(2, 2 + written), slice, `packet ${i} re-encoded into a slice`);
  }
  assert.deepEqual(packetsOf(fromSlices), packets);
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i]!;
    const read = libraryPacket(libraryDecode(encodePacketInfoBytes(batch, i)));
    assert.deepEqual(read, {
      nanoseconds: BigInt(p.seconds) * NS + BigInt(p.nanos),
      length: BigInt(p.wireLength),
      src: addressBuffer(p.src, p.family),
      dst: addressBuffer(p.dst, p.family),
      srcPort: p.srcPort,
      dstPort: p.dstPort,
      protocol: p.protocol,
    });
  }
});

// ---- tolerant reading ----

test('fields in any order, repeated fields and unknown fields of every type are read like the generated reader does', () => {
  const unknown: Part[] = [
    field(T.bool, 10, (p) => p.writeBool(true)),
    field(T.byte, 11, (p) => p.writeByte(-5)),
    field(T.double, 12, (p) => p.writeDouble(Math.PI)),
    field(T.i16, -3, (p) => p.writeI16(-2)),
    field(T.i32, 14, i32(-1)),
    field(T.i64, 15, i64(-1n)),
    field(T.string, 16, (p) => p.writeString('héllo')),
    field(T.string, 17, binary(new Uint8Array(0))),
    field(T.uuid, 18, rawBytes(Buffer.from('123e4567e89b42d3a456426614174000', 'hex'))),
    field(T.struct, 19, struct(field(T.i32, 1, i32(7)), field(T.struct, 2, struct(field(T.string, 1, (p) => p.writeString('x')))))),
    field(T.list, 20, (p) => {
      p.writeListBegin(T.struct, 2);
      struct(field(T.i64, 1, i64(1n)))(p);
      struct()(p);
      p.writeListEnd();
    }),
    field(T.set, 21, (p) => {
      p.writeSetBegin(T.i64, 3);
      for (const v of [1n, 2n, 3n]) i64(v)(p);
      p.writeSetEnd();
    }),
    field(T.map, 22, (p) => {
      p.writeMapBegin(T.string, T.list, 2);
      for (const key of ['a', 'b']) {
        p.writeString(key);
        p.writeListBegin(T.i32, 2);
        i32(1)(p);
        i32(2)(p);
        p.writeListEnd();
      }
      p.writeMapEnd();
    }),
    field(T.map, 23, (p) => {
      p.writeMapBegin(T.i16, T.double, 0);
      p.writeMapEnd();
    }),
    field(T.list, 24, (p) => {
      p.writeListBegin(T.bool, 0);
      p.writeListEnd();
    }),
  ];
  for (const expected of [V4, V6]) {
    const [timestamp, tuple, length] = infoFields(expected);
    const [src, dst, srcPort, dstPort, protocol] = tupleFields(expected);
    const variants: [string, Uint8Array][] = [
      ['canonical', payload(...infoFields(expected))],
      ['reversed', payload(length!, field(T.struct, 2, struct(protocol!, dstPort!, srcPort!, dst!, src!)), timestamp!)],
      ['unknown fields everywhere', payload(...unknown.slice(0, 5), timestamp!, ...unknown.slice(5, 10), field(T.struct, 2, struct(unknown[9]!, src!, ...unknown, dst!, srcPort!, dstPort!, protocol!)), length!, ...unknown.slice(10))],
      // A known id with another type is skipped as unknown; the right one later counts.
      ['wrong types skipped', payload(field(T.i32, 1, i32(0)), field(T.string, 3, binary(new Uint8Array(8))), field(T.i64, 2, i64(0n)), timestamp!, tuple!, field(T.struct, 2, struct(field(T.i64, 1, i64(1n)), ...tupleFields(expected), field(T.i64, 3, i64(0n)))), length!)],
      // A repeated field replaces the earlier one (the first five_tuple is another packet's).
      ['repeated fields', payload(field(T.i64, 1, i64(0n)), field(T.struct, 2, struct(...tupleFields(expected === V4 ? V6 : V4))), field(T.i64, 3, i64(99n)), ...infoFields(expected))],
    ];
    for (const [name, bytes] of variants) {
      assert.deepEqual(decodeOne(bytes), expected, name);
      assert.deepEqual(libraryPacket(libraryDecode(bytes)), libraryPacket(libraryDecode(payload(...infoFields(expected)))), `${name}: the library agrees`);
    }
  }
});

test(`unknown values nested ${MAX_THRIFT_DEPTH} levels deep are skipped; deeper ones are refused`, () => {
  const nested = (levels: number): Part => {
    let value: Part = struct(field(T.i32, 1, i32(1)));
    for (let level = 1; level < levels; level++) value = struct(field(T.struct, 1, value));
    return field(T.struct, 9, value);
  };
  assert.deepEqual(decodeOne(payload(...infoFields(V4), nested(MAX_THRIFT_DEPTH - 1))), V4);
  assert.match(assertMalformed(payload(...infoFields(V4), nested(MAX_THRIFT_DEPTH)), 'too deep').message, /nested deeper than 64/);
  // Lists count as levels too, and a deep nest cannot blow the stack: list<list<…<i32>…>>.
  const levels = 10_000;
  const deepList = new Uint8Array(levels * 5 + 4);
  for (let level = 0; level < levels; level++) deepList.set([level === levels - 1 ? T.i32 : T.list, 0, 0, 0, 1], level * 5);
  assertMalformed(payload(field(T.list, 9, rawBytes(deepList)), ...infoFields(V4)), 'list nested 10,000 deep');
});

// ---- refusals ----

test('malformed payloads are refused with NS_ERR_WIRE_MALFORMED and the batch is left as it was', () => {
  const good = payload(...infoFields(V4));
  const [timestamp, tuple, length] = infoFields(V4);
  const [src, dst, srcPort, dstPort, protocol] = tupleFields(V4);
  const tupleWith = (...fields: Part[]): Part => field(T.struct, 2, struct(...fields));
  const cases: [string, Uint8Array][] = [
    ['empty payload', new Uint8Array(0)],
    ['a lone stop byte', Uint8Array.of(0)],
    ['trailing byte', Uint8Array.of(...good, 0)],
    ['trailing struct', Uint8Array.of(...good, ...good)],
    ['no timestamp', payload(tuple!, length!)],
    ['no five_tuple', payload(timestamp!, length!)],
    ['no length', payload(timestamp!, tuple!)],
    ['no src_ip', payload(timestamp!, tupleWith(dst!, srcPort!, dstPort!, protocol!), length!)],
    ['no dst_ip', payload(timestamp!, tupleWith(src!, srcPort!, dstPort!, protocol!), length!)],
    ['no src_port', payload(timestamp!, tupleWith(src!, dst!, dstPort!, protocol!), length!)],
    ['no dst_port', payload(timestamp!, tupleWith(src!, dst!, srcPort!, protocol!), length!)],
    ['no protocol', payload(timestamp!, tupleWith(src!, dst!, srcPort!, dstPort!), length!)],
    ['a later five_tuple lacking a field', payload(timestamp!, tuple!, tupleWith(src!, dst!, srcPort!, dstPort!), length!)],
    ['src_ip of 0 bytes', payload(timestamp!, tupleWith(field(T.string, 1, binary(new Uint8Array(0))), dst!, srcPort!, dstPort!, protocol!), length!)],
    ['src_ip of 5 bytes', payload(timestamp!, tupleWith(field(T.string, 1, binary(new Uint8Array(5))), dst!, srcPort!, dstPort!, protocol!), length!)],
    ['src_ip of 17 bytes', payload(timestamp!, tupleWith(field(T.string, 1, binary(new Uint8Array(17))), field(T.string, 2, binary(new Uint8Array(17))), srcPort!, dstPort!, protocol!), length!)],
    ['IPv4 source, IPv6 destination', payload(timestamp!, tupleWith(src!, field(T.string, 2, binary(new Uint8Array(16))), srcPort!, dstPort!, protocol!), length!)],
    ['negative binary size', payload(timestamp!, tupleWith(field(T.string, 1, raw(0xff, 0xff, 0xff, 0xfc)), dst!, srcPort!, dstPort!, protocol!), length!)],
    ['binary size past the end', payload(timestamp!, tupleWith(field(T.string, 1, raw(0x7f, 0xff, 0xff, 0xff)), dst!, srcPort!, dstPort!, protocol!), length!)],
    ['src_port -1', payload(timestamp!, tupleWith(src!, dst!, field(T.i32, 3, i32(-1)), dstPort!, protocol!), length!)],
    ['dst_port 65536', payload(timestamp!, tupleWith(src!, dst!, srcPort!, field(T.i32, 4, i32(65536)), protocol!), length!)],
    ['protocol 256', payload(timestamp!, tupleWith(src!, dst!, srcPort!, dstPort!, field(T.i32, 5, i32(256))), length!)],
    ['protocol -1', payload(timestamp!, tupleWith(src!, dst!, srcPort!, dstPort!, field(T.i32, 5, i32(-1))), length!)],
    ['negative timestamp', payload(field(T.i64, 1, i64(-1n)), tuple!, length!)],
    ['smallest i64 timestamp', payload(field(T.i64, 1, i64(-(1n << 63n))), tuple!, length!)],
    ['negative length', payload(timestamp!, tuple!, field(T.i64, 3, i64(-1n)))],
    ['length of 2^32', payload(timestamp!, tuple!, field(T.i64, 3, i64(1n << 32n)))],
    ['unknown field type 1 (void)', payload(field(1, 9, raw()), ...infoFields(V4))],
    ['unknown field type 17', payload(...infoFields(V4), field(17, 9, raw(0)))],
    ['unknown field type 0x4e', Uint8Array.of(0x4e, ...good)],
    ['unknown element type', payload(field(T.list, 9, raw(7, 0, 0, 0, 1, 0)), ...infoFields(V4))],
    ['unknown map value type', payload(field(T.map, 9, raw(T.i32, 99, 0, 0, 0, 0)), ...infoFields(V4))],
    ['negative list size', payload(field(T.list, 9, raw(T.i32, 0xff, 0xff, 0xff, 0xff)), ...infoFields(V4))],
    ['list larger than the payload', payload(field(T.list, 9, raw(T.struct, 0x7f, 0xff, 0xff, 0xff, 0)), ...infoFields(V4))],
    ['map larger than the payload', payload(field(T.map, 9, raw(T.i64, T.i64, 0, 0, 0, 2, ...new Uint8Array(24))), ...infoFields(V4))],
    ['negative map size', payload(field(T.map, 9, raw(T.i64, T.i64, 0x80, 0, 0, 0)), ...infoFields(V4))],
    ['negative size of a skipped string', payload(field(T.string, 9, raw(0x80, 0, 0, 0)), ...infoFields(V4))],
    ['a batch magic with a broken header', Uint8Array.of(0x4e, 0x53, 0x50, 0x42, 1)],
  ];
  for (let cut = 0; cut < good.length; cut++) cases.push([`truncated to ${cut} bytes`, good.subarray(0, cut)]);
  const v6 = payload(...infoFields(V6));
  for (let cut = 0; cut < v6.length; cut++) cases.push([`IPv6 truncated to ${cut} bytes`, v6.subarray(0, cut)]);
  for (const [why, bytes] of cases) assertMalformed(bytes, why);
  assert.match(assertMalformed(payload(timestamp!, length!), 'names the field').message, /2: five_tuple/);
});

test('a full batch makes decodePacketInfo return false and append nothing', () => {
  const batch = batchOf([V4], 1);
  assert.equal(decodePacketInfo(libraryEncode(V6), batch), false);
  assert.deepEqual(packetsOf(batch), [V4]);
  // A malformed payload is still refused when the batch is full.
  assert.throws(() => decodePacketInfo(Uint8Array.of(0), batch), NetSpectraError);
});

test('packets the wire cannot carry are refused with NS_ERR_WIRE_UNREPRESENTABLE, caller bugs with RangeError', () => {
  const out = new Uint8Array(PACKET_INFO_IPV6_BYTES);
  const bad: [string, Partial<WirePacket>][] = [
    ['family 0', { family: 0 }],
    ['family 5', { family: 5 }],
    ['negative seconds', { seconds: -1 }],
    ['fractional seconds', { seconds: 1.5 }],
    ['after 2262', { seconds: MAX_WIRE_SECONDS + 1 }],
    ['the nanosecond after the i64 maximum', { seconds: MAX_WIRE_SECONDS, nanos: 854_775_808 }],
    ['nanos of 1e9', { nanos: 1_000_000_000 }],
    ['NaN seconds', { seconds: Number.NaN }],
  ];
  for (const [why, change] of bad) {
    const batch = batchOf([{ ...V4, ...change }]);
    assert.throws(() => encodePacketInfo(batch, 0, out, 0), (error: unknown) => error instanceof NetSpectraError && error.code === 'NS_ERR_WIRE_UNREPRESENTABLE', why);
  }
  const batch = batchOf([V6]);
  assert.throws(() => encodePacketInfo(batch, 1, out, 0), RangeError);
  assert.throws(() => encodePacketInfo(batch, 0, out, 1), RangeError);
  assert.throws(() => encodePacketInfo(batch, 0, new Uint8Array(93), 0), RangeError);
  assert.throws(() => encodePacketInfoBytes(batch, -1), RangeError);
});
