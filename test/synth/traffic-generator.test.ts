import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrafficOptions } from '../../src/synth/index.js';
import { TrafficGenerator, harmonicNumber } from '../../src/synth/index.js';
import { NetSpectraError } from '../../src/model/errors.js';

// ---- an independent pcap reader: only what the checks need, written from the format specs -----

interface TruthFlow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  packets: number;
  bytes: number;
}

interface Truth {
  file: string;
  frames: number;
  bytes: number;
  captured_bytes: number;
  truncated_frames: number;
  ip_frames: number;
  ipv4_frames: number;
  ipv6_frames: number;
  ip_bytes: number;
  flow_count: number;
  flows: TruthFlow[];
  src_count: number;
  src_distinct_dsts: Record<string, number>;
  super_spreaders: { src: string; distinct_dsts: number; dport: number }[];
  syn_flood: { victim: string; port: number; packets: number } | null;
}

interface Recount {
  nanosecond: boolean;
  snaplen: number;
  frames: number;
  bytes: number;
  capturedBytes: number;
  truncated: number;
  ipv4: number;
  ipv6: number;
  firstSeconds: number;
  lastSeconds: number;
  wireLengths: Map<number, number>;
  flows: Map<string, { packets: number; bytes: number }>;
  dstsBySrc: Map<string, Set<string>>;
  synsTo: Map<string, number>;
}

function ipv6Text(bytes: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[at + i]! << 8) | bytes[at + i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on ties.
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestAt, bestLength] = [i, j - i];
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  return bestAt < 0 ? hex(groups) : `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLength))}`;
}

function read(capture: Uint8Array): Recount {
  const view = new DataView(capture.buffer, capture.byteOffset, capture.byteLength);
  const magic = view.getUint32(0, true);
  assert.ok(magic === 0xa1b2c3d4 || magic === 0xa1b23c4d, `magic ${magic.toString(16)}`);
  assert.equal(view.getUint16(4, true), 2);
  assert.equal(view.getUint16(6, true), 4);
  const snaplen = view.getUint32(16, true);
  assert.equal(view.getUint32(20, true), 1, 'LINKTYPE_ETHERNET');
  const nanosecond = magic === 0xa1b23c4d;
  const result: Recount = {
    nanosecond,
    snaplen,
    frames: 0,
    bytes: 0,
    capturedBytes: 0,
    truncated: 0,
    ipv4: 0,
    ipv6: 0,
    firstSeconds: Number.NaN,
    lastSeconds: 0,
    wireLengths: new Map(),
    flows: new Map(),
    dstsBySrc: new Map(),
    synsTo: new Map(),
  };
  let previous = -Infinity;
  let o = 24;
  while (o < capture.length) {
    assert.ok(o + 16 <= capture.length, 'record header cut short');
    const seconds = view.getUint32(o, true);
    const fraction = view.getUint32(o + 4, true);
    assert.ok(fraction < (nanosecond ? 1e9 : 1e6), 'fraction within the second');
    const time = seconds + fraction / (nanosecond ? 1e9 : 1e6);
    assert.ok(time >= previous, `timestamps go back at record ${result.frames}`);
    previous = time;
    if (result.frames === 0) result.firstSeconds = time;
    result.lastSeconds = time;
    const captured = view.getUint32(o + 8, true);
    const wire = view.getUint32(o + 12, true);
    assert.ok(captured <= snaplen && captured <= wire && captured === Math.min(snaplen, wire), 'captured = min(snaplen, wire)');
    const p = o + 16;
    assert.ok(p + captured <= capture.length, 'record data cut short');
    result.frames++;
    result.bytes += wire;
    result.capturedBytes += captured;
    if (captured < wire) result.truncated++;
    result.wireLengths.set(wire, (result.wireLengths.get(wire) ?? 0) + 1);

    const etherType = view.getUint16(p + 12);
    let src: string;
    let dst: string;
    let proto: number;
    let l4: number;
    if (etherType === 0x0800) {
      assert.equal(capture[p + 14], 0x45, 'IPv4 without options');
      assert.equal(view.getUint16(p + 16), wire - 14, 'IPv4 total length = wire length - 14');
      proto = capture[p + 23]!;
      src = capture.subarray(p + 26, p + 30).join('.');
      dst = capture.subarray(p + 30, p + 34).join('.');
      l4 = p + 34;
      result.ipv4++;
    } else {
      assert.equal(etherType, 0x86dd);
      assert.equal(capture[p + 14]! >>> 4, 6);
      assert.equal(view.getUint16(p + 18), wire - 14 - 40, 'IPv6 payload length = wire length - 54');
      proto = capture[p + 20]!;
      src = ipv6Text(capture, p + 22);
      dst = ipv6Text(capture, p + 38);
      l4 = p + 54;
      result.ipv6++;
    }
    let sport = 0;
    let dport = 0;
    if (proto === 6 || proto === 17) {
      sport = view.getUint16(l4);
      dport = view.getUint16(l4 + 2);
    }
    if (proto === 6) {
      const headerLength = (capture[l4 + 12]! >>> 4) * 4;
      assert.ok(headerLength >= 20 && l4 + headerLength <= p + wire, 'TCP header inside the packet');
      if (capture[l4 + 13] === 0x02) result.synsTo.set(`${dst}|${dport}`, (result.synsTo.get(`${dst}|${dport}`) ?? 0) + 1);
    } else if (proto === 17) {
      assert.equal(view.getUint16(l4 + 4), wire - (l4 - p), 'UDP length = rest of the packet');
    } else {
      assert.ok(proto === 1 || proto === 58, `protocol ${proto}`);
    }
    const key = `${src}|${dst}|${sport}|${dport}|${proto}`;
    const flow = result.flows.get(key) ?? { packets: 0, bytes: 0 };
    flow.packets++;
    flow.bytes += wire;
    result.flows.set(key, flow);
    const dsts = result.dstsBySrc.get(src) ?? new Set<string>();
    dsts.add(dst);
    result.dstsBySrc.set(src, dsts);
    o = p + captured;
  }
  return result;
}

function generate(options: TrafficOptions): { capture: Uint8Array; truth: Truth; generator: TrafficGenerator } {
  const generator = new TrafficGenerator(options, 1 << 16); // small chunks: exercises chunk boundaries
  const chunks = [...generator];
  const capture = new Uint8Array(Buffer.concat(chunks));
  const truth = JSON.parse([...generator.truthJson('test.pcap')].join('')) as Truth;
  return { capture, truth, generator };
}

const MIXED: TrafficOptions = { packets: 60_000, flows: 2_000, spreaders: 4, spreadDestinations: 500, synFloodPackets: 5_000, ipv6Fraction: 0.25, seed: 99 };

describe('TrafficGenerator', () => {
  it('writes a valid capture whose truth matches an independent recount', () => {
    const { capture, truth } = generate(MIXED);
    const recount = read(capture);
    assert.equal(recount.frames, MIXED.packets);
    assert.equal(recount.snaplen, 96);
    assert.equal(recount.nanosecond, false);
    const start = Date.parse('2025-01-01T00:00:00Z') / 1000;
    assert.ok(recount.firstSeconds >= start && recount.lastSeconds <= start + 300);

    assert.equal(truth.file, 'test.pcap');
    assert.equal(truth.frames, recount.frames);
    assert.equal(truth.bytes, recount.bytes);
    assert.equal(truth.captured_bytes, recount.capturedBytes);
    assert.equal(truth.truncated_frames, recount.truncated);
    assert.equal(truth.ip_frames, recount.frames);
    assert.equal(truth.ip_bytes, recount.bytes);
    assert.equal(truth.ipv4_frames, recount.ipv4);
    assert.equal(truth.ipv6_frames, recount.ipv6);

    assert.equal(truth.flow_count, recount.flows.size);
    assert.equal(truth.flows.length, recount.flows.size);
    for (const flow of truth.flows) {
      const counted = recount.flows.get(`${flow.src}|${flow.dst}|${flow.sport}|${flow.dport}|${flow.proto}`);
      assert.deepEqual(counted, { packets: flow.packets, bytes: flow.bytes }, `flow ${JSON.stringify(flow)}`);
    }
    for (let i = 1; i < truth.flows.length; i++) {
      const [a, b] = [truth.flows[i - 1]!, truth.flows[i]!];
      assert.ok(a.packets > b.packets || (a.packets === b.packets && a.bytes >= b.bytes), 'flows sorted like truth.sh');
    }

    assert.equal(truth.src_count, recount.dstsBySrc.size);
    assert.equal(Object.keys(truth.src_distinct_dsts).length, recount.dstsBySrc.size);
    for (const [src, dsts] of recount.dstsBySrc) assert.equal(truth.src_distinct_dsts[src], dsts.size, `distinct dsts of ${src}`);

    assert.equal(truth.super_spreaders.length, MIXED.spreaders);
    for (const spreader of truth.super_spreaders) {
      assert.equal(spreader.distinct_dsts, MIXED.spreadDestinations);
      assert.equal(recount.dstsBySrc.get(spreader.src)?.size, MIXED.spreadDestinations, `spreader ${spreader.src}`);
    }
    assert.ok(truth.syn_flood !== null);
    assert.equal(truth.syn_flood.packets, MIXED.synFloodPackets);
    assert.equal(truth.syn_flood.port, 80);
    // Ordinary clients may also open connections to the victim, so at least the flood.
    assert.ok((recount.synsTo.get(`${truth.syn_flood.victim}|80`) ?? 0) >= MIXED.synFloodPackets!);
  });

  it('produces realistic wire lengths, all consistent with the headers', () => {
    const { capture } = generate({ packets: 50_000, flows: 500, seed: 5 });
    const lengths = read(capture).wireLengths;
    const share = (predicate: (length: number) => boolean): number => {
      let n = 0;
      for (const [length, count] of lengths) if (predicate(length)) n += count;
      return n / 50_000;
    };
    assert.ok(share((l) => l === 1514) > 0.15, 'full-size segments');
    assert.ok(share((l) => l <= 94) > 0.15, 'bare ACKs and small packets');
    assert.ok(share((l) => l === 590) > 0.005, '576-byte datagrams');
    assert.ok(lengths.size > 100, 'a spread of sizes, not a handful');
  });

  it('is byte-identical for the same seed and differs for another seed', () => {
    const options: TrafficOptions = { packets: 20_000, flows: 300, spreaders: 1, spreadDestinations: 100, synFloodPackets: 500, ipv6Fraction: 0.2, seed: 3 };
    const first = generate(options);
    const again = generate(options);
    assert.ok(Buffer.from(first.capture).equals(Buffer.from(again.capture)));
    assert.deepEqual(first.truth, again.truth);
    const other = generate({ ...options, seed: 4 });
    assert.equal(other.capture.length > 0, true);
    assert.ok(!Buffer.from(first.capture).equals(Buffer.from(other.capture)));
  });

  it('does not depend on the chunk size', () => {
    const options: TrafficOptions = { packets: 10_000, flows: 100, seed: 8 };
    const small = Buffer.concat([...new TrafficGenerator(options, 4096)]);
    const large = Buffer.concat([...new TrafficGenerator(options)]);
    assert.ok(small.equals(large));
  });

  it('sizes flows by Zipf: the top flow takes its expected share', () => {
    const flows = 1_000;
    const packets = 100_000;
    const { truth } = generate({ packets, flows, zipfExponent: 1.1, seed: 21 });
    const expectedTop = 1 + (packets - flows) / harmonicNumber(flows, 1.1);
    const top = truth.flows[0]!.packets;
    assert.ok(Math.abs(top - expectedTop) < 0.1 * expectedTop, `top flow ${top} vs expected ${expectedTop.toFixed(0)}`);
    // Heavier tail for a smaller exponent.
    const flat = generate({ packets, flows, zipfExponent: 0.6, seed: 21 }).truth.flows[0]!.packets;
    assert.ok(flat < top / 3);
    assert.ok(truth.flows.every((flow) => flow.packets >= 1));
  });

  it('makes about the requested fraction of flows IPv6', () => {
    const flows = 3_000;
    const { truth } = generate({ packets: 30_000, flows, ipv6Fraction: 0.3, seed: 12 });
    const v6 = truth.flows.filter((flow) => flow.src.includes(':')).length;
    assert.ok(Math.abs(v6 / flows - 0.3) < 0.04, `IPv6 share ${v6 / flows}`);
    const none = generate({ packets: 5_000, flows: 200, ipv6Fraction: 0, seed: 12 }).truth;
    assert.equal(none.ipv6_frames, 0);
    const all = generate({ packets: 5_000, flows: 200, ipv6Fraction: 1, seed: 12 }).truth;
    assert.equal(all.ipv4_frames, 0);
  });

  it('writes nanosecond timestamps and honours start, duration and snaplen', () => {
    const { capture, truth } = generate({ packets: 5_000, flows: 50, nanosecond: true, start: '2030-06-01T12:00:00.250Z', durationSeconds: 2, snaplen: 128, seed: 2 });
    const recount = read(capture);
    assert.equal(recount.nanosecond, true);
    assert.equal(recount.snaplen, 128);
    const start = Date.parse('2030-06-01T12:00:00.250Z') / 1000;
    assert.ok(recount.firstSeconds >= start - 1e-9 && recount.lastSeconds <= start + 2 + 1e-9);
    assert.equal(truth.truncated_frames, recount.truncated);
  });

  it('keeps tiny configurations working (one flow, host pools of one)', () => {
    for (const flows of [1, 2, 7, 40]) {
      const { capture, truth } = generate({ packets: 200, flows, seed: flows });
      assert.equal(read(capture).frames, 200);
      assert.equal(truth.flow_count, flows);
    }
  });

  it('lowers the default flow count to what spreaders and flood leave', () => {
    const { capture, truth } = generate({ packets: 1_000, spreaders: 1, spreadDestinations: 900, synFloodPackets: 90, seed: 4 });
    assert.equal(read(capture).frames, 1_000);
    assert.equal(truth.flow_count, 10 + 900 + 90);
    assert.equal(truth.super_spreaders[0]!.distinct_dsts, 900);
  });

  it('rejects configurations it cannot honour, naming the field', () => {
    const field = (options: TrafficOptions): string | undefined => {
      try {
        new TrafficGenerator(options);
      } catch (error) {
        assert.ok(error instanceof NetSpectraError);
        assert.equal(error.code, 'NS_ERR_CONFIG_INVALID_VALUE');
        return error.location.key;
      }
      return undefined;
    };
    assert.equal(field({ packets: 100, flows: 50, synFloodPackets: 60 }), 'packets');
    assert.equal(field({ packets: 0 }), 'packets');
    assert.equal(field({ packets: 100, zipfExponent: 0 }), 'zipfExponent');
    assert.equal(field({ packets: 100, ipv6Fraction: 1.5 }), 'ipv6Fraction');
    assert.equal(field({ packets: 100, snaplen: 60 }), 'snaplen');
    assert.equal(field({ packets: 100, start: 'yesterday' }), 'start');
    assert.equal(field({ packets: 100, durationSeconds: 0 }), 'durationSeconds');
    assert.equal(field({ packets: 100, seed: -1 }), 'seed');
    assert.equal(field({ packets: 100 }), undefined);
  });

  it('hands out the truth only after the last chunk', () => {
    const generator = new TrafficGenerator({ packets: 100, flows: 5 });
    assert.throws(() => generator.summary());
    for (const _chunk of generator);
    assert.equal(generator.summary().frames, 100);
  });
});
