import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { HeavyHitterSketch } from '../../src/engine/tasks/heavy-hitter-sketch.js';
import { createSketchTask, HEAVY_HITTER_DEFAULTS } from '../../src/engine/tasks/sketch-task.js';
import type { HeavyHitterSnapshot, SketchTaskParams } from '../../src/engine/tasks/sketch-contract.js';
import { KeySpec } from '../../src/model/flow-key.js';
import type { KeyField } from '../../src/model/flow-key.js';
import { PacketBatch } from '../../src/model/packet.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';
import type { RandomPacket } from '../kit/random-packets.js';
import type { ExactTotals, PacketSpec, Traffic } from './synthetic-traffic.js';
import { accuracy, batchOf, exactTotals, feed, generateTraffic, hostText, Random, truthAtThreshold } from './synthetic-traffic.js';

function params(overrides: Partial<SketchTaskParams> = {}): SketchTaskParams {
  return {
    name: 'cm_src_left',
    sktType: 0,
    flowFields: ['SrcIP'],
    elementFields: ['DstIP'],
    ...HEAVY_HITTER_DEFAULTS,
    m: 128,
    size: 5,
    base: 0.5,
    b: 1.08,
    seed: 1,
    ...overrides,
  };
}

function heavyHitters(task: ReturnType<typeof createSketchTask>): HeavyHitterSnapshot {
  const snapshot = task.snapshot();
  if (snapshot.kind !== 'heavy_hitter') throw new Error(`expected a heavy hitter snapshot, got ${snapshot.kind}`);
  return snapshot;
}

describe('heavy-hitter sketch: accuracy on 1M packets (Zipf 1.1 background, spreaders, SYN flood)', () => {
  let traffic: Traffic;
  let exact: ExactTotals;
  before(() => {
    traffic = generateTraffic({
      seed: 11,
      packets: 900_000,
      flows: 60_000,
      zipf: 1.1,
      sources: 30_000,
      destinations: 20_000,
      ipv6Fraction: 0.1,
      spreaders: [{ count: 10, minSpread: 500, maxSpread: 5000, maxPacketsPerTarget: 3 }],
      synFlood: 50_000,
    });
    exact = exactTotals(traffic, 'src');
  });

  for (const [label, countThreshold, sizeThreshold] of [
    ['default thresholds (1024 packets, 1 MiB)', HEAVY_HITTER_DEFAULTS.countThreshold, HEAVY_HITTER_DEFAULTS.sizeThreshold],
    ['low thresholds (128 packets, 128 KiB)', 128, 131_072],
  ] as const) {
    it(`F1 ≥ 0.98 by packets and by bytes at ${label}, 8192 × 2`, () => {
      const task = createSketchTask(params({ countThreshold, sizeThreshold }));
      feed(traffic, 8192, (batch) => task.ingest(batch));
      const snapshot = heavyHitters(task);
      const byCount = accuracy(snapshot.byCount, truthAtThreshold(traffic, exact.packets, countThreshold));
      const bySize = accuracy(snapshot.bySize, truthAtThreshold(traffic, exact.bytes, sizeThreshold));
      assert.ok(byCount.truePositives + byCount.falseNegatives >= 50, 'the trace must have enough heavy hitters to be a test');
      assert.ok(byCount.f1 >= 0.98, `F1 by packets ${byCount.f1} (${JSON.stringify(byCount)})`);
      assert.ok(bySize.f1 >= 0.98, `F1 by bytes ${bySize.f1} (${JSON.stringify(bySize)})`);
      assert.ok(byCount.medianRelativeError <= 0.01 && bySize.medianRelativeError <= 0.01);
    });
  }

  it('never underestimates a reported flow (MV-Sketch bound)', () => {
    const task = createSketchTask(params({ countThreshold: 128, sizeThreshold: 131_072 }));
    feed(traffic, 8192, (batch) => task.ingest(batch));
    const snapshot = heavyHitters(task);
    const packets = truthAtThreshold(traffic, exact.packets, 1);
    const bytes = truthAtThreshold(traffic, exact.bytes, 1);
    for (const entry of snapshot.byCount) assert.ok(entry.value >= (packets.get(entry.flowText) ?? 0), entry.flowText);
    for (const entry of snapshot.bySize) assert.ok(entry.value >= (bytes.get(entry.flowText) ?? 0), entry.flowText);
  });
});

describe('heavy-hitter sketch: semantics', () => {
  // One bucket per row: 1,000 small packets from A and 100 large ones from B, interleaved. A has the
  // packet majority, B the byte majority (150,000 bytes against 64,000).
  function packetMajorityAndByteMajority(): PacketSpec[] {
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 1000; i++) {
      packets.push({ src: '10.0.0.1', dst: '10.9.9.9', length: 64 });
      if (i % 10 === 0) packets.push({ src: '10.0.0.2', dst: '10.9.9.9', length: 1500 });
    }
    return packets;
  }

  it('rows alternate owners: row 0 votes by packets, row 1 by bytes, and every candidate is reported by both metrics', () => {
    // A shared candidate voted by packets (the original) would credit B's bytes to A.
    const task = createSketchTask(params({ width: 1, depth: 2, countThreshold: 50, sizeThreshold: 50_000 }));
    task.ingest(batchOf(packetMajorityAndByteMajority()));
    const snapshot = heavyHitters(task);
    // A: row 0 (S + C)/2 = (1100 + 900)/2; B: (1100 − 900)/2, found as row 1's candidate.
    assert.deepEqual(
      snapshot.byCount.map((e) => [e.flowText, e.value]),
      [
        ['10.0.0.1', 1000],
        ['10.0.0.2', 100],
      ],
    );
    // B: row 1 (S + C)/2 = (214,000 + 86,000)/2; A: (214,000 − 86,000)/2, found as row 0's candidate.
    assert.deepEqual(
      snapshot.bySize.map((e) => [e.flowText, e.value]),
      [
        ['10.0.0.2', 150_000],
        ['10.0.0.1', 64_000],
      ],
    );
  });

  it('depth 1: the only row votes by packets, so bytes are reported for packet-majority keys only', () => {
    const task = new HeavyHitterSketch(params({ width: 1, depth: 1, countThreshold: 50, sizeThreshold: 50_000 }));
    task.ingest(batchOf(packetMajorityAndByteMajority()));
    const snapshot = heavyHitters(task);
    assert.deepEqual(
      snapshot.byCount.map((e) => [e.flowText, e.value]),
      [['10.0.0.1', 1000]],
    );
    // A's bytes: the bucket's total less what the others must have sent, at least S_p − P = 1100 −
    // 1000 packets of at least 64 bytes: 214,000 − 6,400, an upper bound. B is not a candidate anywhere.
    assert.deepEqual(
      snapshot.bySize.map((e) => [e.flowText, e.value]),
      [['10.0.0.1', 207_600]],
    );
    // B's estimate is exact though: at most (1100 − 900)/2 = 100 packets, the others at least 1000
    // packets of ≥ 64 bytes (214,000 − 64,000), and 100 packets of ≤ 1500 bytes (150,000).
    const b = Uint32Array.of(0, 0, 0xffff, 0x0a000002, 4 << 8);
    assert.equal(task.estimateCount(b), 100);
    assert.equal(task.estimateSize(b), 150_000);
  });

  it('wire-length limits: with one packet length L, the byte estimate of every key is L × its packet estimate', () => {
    // L ≤ length ≤ L makes bytes = L × packets for every key, and the bounds keep that: B ≤ L·P and
    // P ≤ ⌊B/L⌋. Votes alone give no such link (a packet row bounds bytes by the bucket's S_b only).
    const packets = randomPackets(20_000, 5, 300).map((p) => ({ ...p, length: 576 }));
    const sketch = new HeavyHitterSketch(params({ width: 64, depth: 3 }));
    for (const batch of fillBatches(packets, 4096)) sketch.ingest(batch);
    const key = Uint32Array.of(0, 0, 0xffff, 0, 4 << 8);
    let nonZero = 0;
    for (const p of packets.slice(0, 2000)) {
      key.set(p.src, 0);
      const count = sketch.estimateCount(key);
      assert.equal(sketch.estimateSize(key), 576 * count, p.src.join(','));
      if (count > 0) nonZero++;
    }
    assert.ok(nonZero > 0);
  });

  it('finds byte heavy hitters of few large packets sharing every bucket with a flood of small packets', () => {
    // 400,000 60-byte packets from 100,000 spoofed sources put ~390 flood packets in every bucket,
    // about 4 for each large packet of a heavy hitter: the packet votes go to the flood's keys,
    // the byte row's vote to the heavy hitter.
    const heavy = Array.from({ length: 8 }, (_, i) => `192.0.2.${i + 1}`);
    const batch = new PacketBatch(400_000 + heavy.length * 100);
    const random = new Random(17);
    let next = 0;
    const add = (v4: number, length: number): void => {
      const i = next++;
      batch.srcAddr.set([0, 0, 0xffff, v4 >>> 0], i * 4);
      batch.dstAddr.set([0, 0, 0xffff, 0xcb007101], i * 4);
      batch.family[i] = 4;
      batch.protocol[i] = 6;
      batch.wireLength[i] = length;
    };
    for (let i = 0; i < 400_000; i++) {
      add(0xc6000000 + random.below(100_000), 60);
      if (i % 500 === 0) add(0xc0000201 + ((i / 500) % heavy.length), 1500);
    }
    batch.count = next;
    const width = 1024;
    const task = createSketchTask(params({ width, countThreshold: 1e12, sizeThreshold: 100_000 }));
    task.ingest(batch);
    const snapshot = heavyHitters(task);
    assert.deepEqual(snapshot.bySize.map((e) => e.flowText).sort(), heavy);
    for (const entry of snapshot.bySize) assert.ok(entry.value >= 150_000 && entry.value < 160_000, `${entry.flowText} ${entry.value}`);
    // Voting by packets in every row (what depth 1 does) finds none of them: they lose every packet vote.
    const packetVotesOnly = createSketchTask(params({ width, depth: 1, countThreshold: 1e12, sizeThreshold: 100_000 }));
    packetVotesOnly.ingest(batch);
    const found = heavyHitters(packetVotesOnly).bySize.filter((e) => heavy.includes(e.flowText));
    assert.deepEqual(found, []);
  });

  // The length limits enter every bound, so the lengths vary in ways that stress them: 40-byte
  // frames (the smallest), 9000-byte jumbo frames far above the rest, one length for all, and
  // lengths tied to the key (a source sends only tiny or only jumbo frames).
  const lengthMixes: [string, (p: RandomPacket, i: number) => number][] = [
    ['40..1499 bytes', (p, i) => (i % 89 === 0 ? 40 : p.length)],
    ['40..1499 bytes and 9000-byte jumbo frames', (p, i) => (i % 500 === 0 ? 9000 : i % 89 === 0 ? 40 : p.length)],
    ['one length (576 bytes)', () => 576],
    ['40 or 9000 bytes by source', (p) => ((p.src[3] ^ p.src[0]) & 1 ? 9000 : 40)],
  ];

  for (const [label, flowFields, width, depth] of [
    ['SrcIP, width 64 × 2 (address-only fast path)', ['SrcIP'], 64, 2],
    ['DstIP, width 1000 × 3 (multiply range reduction, odd depth)', ['DstIP'], 1000, 3],
    ['SrcIP + Protocol (fast path with the meta word)', ['SrcIP', 'Protocol'], 1024, 2],
    ['SrcIP + DstPort, width 1024 × 4 (general path)', ['SrcIP', 'DstPort'], 1024, 4],
    ['5-tuple (general path)', ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], 16384, 2],
  ] as [string, KeyField[], number, number][]) {
    for (const [lengths, lengthOf] of lengthMixes) {
      it(`never underestimates any key, by packets or by bytes: ${label}, ${lengths}`, () => {
        const spec = new KeySpec(flowFields);
        const addressOnly = spec.words === 5 && !spec.hasProtocol;
        const sketch = new HeavyHitterSketch(params({ flowFields, width, depth }));
        // Keys as the sketch identifies them: an address-only key is its 4 address words (IPv4-mapped
        // IPv6 counts as IPv4), any other key all its KeySpec words.
        const truth = new Map<string, { key: Uint32Array; packets: number; bytes: number }>();
        const key = new Uint32Array(spec.words);
        const trace = randomPackets(30_000, 41, 400).map((p, i) => ({ ...p, length: lengthOf(p, i) }));
        for (const batch of fillBatches(trace, 4096)) {
          sketch.ingest(batch);
          for (let i = 0; i < batch.count; i++) {
            spec.extract(batch, i, key, 0);
            const id = Array.from(addressOnly ? key.subarray(0, 4) : key).join(',');
            const flow = truth.get(id) ?? { key: key.slice(), packets: 0, bytes: 0 };
            flow.packets += 1;
            flow.bytes += batch.wireLength[i]!;
            truth.set(id, flow);
          }
        }
        let exactPackets = 0;
        let exactBytes = 0;
        for (const [id, flow] of truth) {
          const packets = sketch.estimateCount(flow.key);
          const bytes = sketch.estimateSize(flow.key);
          assert.ok(packets >= flow.packets && packets <= 30_000 && Number.isInteger(packets), `${id}: ${packets} packets < ${flow.packets}`);
          assert.ok(bytes >= flow.bytes && Number.isInteger(bytes), `${id}: ${bytes} bytes < ${flow.bytes}`);
          if (packets === flow.packets) exactPackets++;
          if (bytes === flow.bytes) exactBytes++;
        }
        // Enough keys sharing buckets to be a test, and bounds that still say something: some are exact.
        assert.ok(truth.size >= 50, `${truth.size} keys`);
        assert.ok(exactPackets > 0 && exactBytes > 0, `exact: ${exactPackets} by packets, ${exactBytes} by bytes of ${truth.size}`);
      });
    }
  }

  it('never underestimates on the Zipf trace either, for every source, with tiny and jumbo frames', () => {
    const traffic = generateTraffic({ seed: 23, packets: 200_000, flows: 20_000, zipf: 1.1, sources: 8000, destinations: 4000, ipv6Fraction: 0.2, spreaders: [], synFlood: 20_000 });
    // Beyond the trace's 60..1514 bytes: every frame of one source in 50 is a 9000-byte jumbo frame,
    // and one frame in 331 of the others is 40 bytes.
    for (let p = 0; p < traffic.packetCount; p++) {
      if (traffic.src[p]! % 50 === 0) traffic.wireLength[p] = 9000;
      else if (p % 331 === 0) traffic.wireLength[p] = 40;
    }
    const exact = exactTotals(traffic, 'src');
    const sketch = new HeavyHitterSketch(params({ width: 2048 }));
    feed(traffic, 8192, (batch) => sketch.ingest(batch));
    const key = new Uint32Array(5);
    for (let host = 0; host < traffic.hostCount; host++) {
      if (exact.packets[host] === 0) continue;
      key.set(traffic.hostWords.subarray(host * 4, host * 4 + 4));
      key[4] = traffic.hostFamily[host]! << 8;
      assert.ok(sketch.estimateCount(key) >= exact.packets[host]!, `${hostText(traffic, host)} packets`);
      assert.ok(sketch.estimateSize(key) >= exact.bytes[host]!, `${hostText(traffic, host)} bytes`);
    }
  });

  it('counts an IPv6 packet from ::ffff:a.b.c.d as IPv4 a.b.c.d for an address-only key, and reports IPv4 dotted', () => {
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 3000; i++) packets.push({ src: '192.0.2.1', dst: '198.51.100.1', length: 100 });
    for (let i = 0; i < 2000; i++) packets.push({ src: '::ffff:192.0.2.1', dst: '::ffff:198.51.100.1', length: 200 });
    for (let i = 0; i < 1000; i++) packets.push({ src: '2001:db8::1', dst: '2001:db8::2', length: 300 });
    for (let i = 0; i < 10; i++) packets.push({ src: '::', dst: '2001:db8::2', length: 40 });
    const task = createSketchTask(params({ countThreshold: 1, sizeThreshold: 1 }));
    task.ingest(batchOf(packets));
    const snapshot = heavyHitters(task);
    assert.deepEqual(
      snapshot.byCount.map((e) => [e.flowText, e.value]),
      [
        ['192.0.2.1', 5000],
        ['2001:db8::1', 1000],
        // The all-zero key is a real candidate only where packets hashed (empty buckets hold zeros too).
        ['::', 10],
      ],
    );
    assert.deepEqual(snapshot.byCount[0]!.flow, { SrcIP: '192.0.2.1' });
    assert.deepEqual(snapshot.byCount[1]!.flow, { SrcIP: '2001:db8::1' });
    assert.deepEqual(
      snapshot.bySize.map((e) => [e.flowText, e.value]),
      [
        ['192.0.2.1', 700_000],
        ['2001:db8::1', 300_000],
        ['::', 400],
      ],
    );
  });

  it('keeps IPv4 and IPv4-mapped IPv6 apart when the key has more than the address (the family is stored)', () => {
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 300; i++) packets.push({ src: '192.0.2.1', dst: '198.51.100.1', length: 100 });
    for (let i = 0; i < 400; i++) packets.push({ src: '::ffff:192.0.2.1', dst: '::ffff:198.51.100.1', length: 200 });
    const task = createSketchTask(params({ flowFields: ['SrcIP', 'Protocol'], countThreshold: 1, sizeThreshold: 1 }));
    task.ingest(batchOf(packets));
    const snapshot = heavyHitters(task);
    assert.deepEqual(
      snapshot.byCount.map((e) => [e.flowText, e.value]),
      [
        ['::ffff:192.0.2.1,6', 400],
        ['192.0.2.1,6', 300],
      ],
    );
    assert.deepEqual(
      snapshot.bySize.map((e) => [e.flowText, e.value]),
      [
        ['::ffff:192.0.2.1,6', 80_000],
        ['192.0.2.1,6', 30_000],
      ],
    );
  });

  it('builds multi-field keys with ports and protocol', () => {
    const task = createSketchTask(params({ flowFields: ['Protocol', 'DstPort', 'SrcIP'], countThreshold: 2, sizeThreshold: 1e12 }));
    task.ingest(
      batchOf([
        { src: '10.0.0.1', dst: '10.0.0.2', dstPort: 443, protocol: 6 },
        { src: '10.0.0.1', dst: '10.0.0.3', dstPort: 443, protocol: 6 },
        { src: '10.0.0.1', dst: '10.0.0.2', dstPort: 443, protocol: 17 },
      ]),
    );
    const snapshot = heavyHitters(task);
    assert.deepEqual(snapshot.flowFields, ['SrcIP', 'DstPort', 'Protocol']);
    assert.deepEqual(snapshot.byCount, [{ flow: { SrcIP: '10.0.0.1', DstPort: 443, Protocol: 6 }, flowText: '10.0.0.1,443,6', value: 2 }]);
    assert.deepEqual(snapshot.bySize, []);
  });

  it('reset clears every key, total and vote', () => {
    const task = new HeavyHitterSketch(params({ width: 64, countThreshold: 1, sizeThreshold: 1 }));
    const packets = packetMajorityAndByteMajority();
    task.ingest(batchOf(packets));
    const fresh = new HeavyHitterSketch(params({ width: 64, countThreshold: 1, sizeThreshold: 1 }));
    assert.notDeepEqual(task.snapshot(), fresh.snapshot());
    task.reset();
    assert.deepEqual(task.snapshot(), fresh.snapshot());
    assert.deepEqual(heavyHitters(task).byCount, []);
    const a = Uint32Array.of(0, 0, 0xffff, 0x0a000001, 4 << 8);
    assert.equal(task.estimateCount(a), 0);
    assert.equal(task.estimateSize(a), 0);
    // Leftover candidates or votes would change what the same traffic gives after the reset.
    const other = packets.map((p) => ({ ...p, src: p.src === '10.0.0.1' ? '10.0.0.3' : p.src }));
    task.ingest(batchOf(other));
    fresh.ingest(batchOf(other));
    assert.deepEqual(task.snapshot(), fresh.snapshot());
    assert.equal(task.estimateCount(a), 0);
  });

  it('reset forgets the wire-length limits too, and an empty sketch reports nothing', () => {
    const a = Uint32Array.of(0, 0, 0xffff, 0x0a000001, 4 << 8);
    const b = Uint32Array.of(0, 0, 0xffff, 0x0a000002, 4 << 8);
    const task = new HeavyHitterSketch(params({ width: 1, depth: 1, countThreshold: 1, sizeThreshold: 1 }));
    assert.deepEqual([heavyHitters(task).byCount, heavyHitters(task).bySize], [[], []]);
    assert.deepEqual([task.estimateCount(a), task.estimateSize(a)], [0, 0]);
    // A period with a 40-byte and a 9000-byte frame, then one with 64..1500 bytes only: as in the
    // depth-1 test above, A's bytes are 214,000 − 64 × 100 and B's 150,000. Limits left over from
    // the first period (40..9000) would give 210,000 and 174,000.
    task.ingest(batchOf([...packetMajorityAndByteMajority(), { src: '10.0.0.3', dst: '10.9.9.9', length: 40 }, { src: '10.0.0.3', dst: '10.9.9.9', length: 9000 }]));
    task.reset();
    assert.deepEqual([heavyHitters(task).byCount, heavyHitters(task).bySize], [[], []]);
    task.ingest(batchOf(packetMajorityAndByteMajority()));
    assert.equal(task.estimateSize(a), 207_600);
    assert.equal(task.estimateSize(b), 150_000);
  });

  it('memory: 40-byte buckets for an address-only key, 655,360 bytes of table for the 8192 × 2 default', () => {
    const task = new HeavyHitterSketch(params());
    // 8192 × 2 × (4 key words + 3 doubles) + the 5-word scratch key + 2 row seeds
    assert.equal(task.memoryBytes(), 655_360 + 5 * 4 + 2 * 4);
    assert.equal(HeavyHitterSketch.memoryBytesFor(params()), task.memoryBytes());
    assert.equal(heavyHitters(task).memoryBytes, task.memoryBytes());
    assert.equal(HeavyHitterSketch.memoryBytesFor(params({ flowFields: ['DstIP'] })), task.memoryBytes());
    // Other keys: the KeySpec words padded to 8 bytes, then 24 bytes of counters.
    const withProtocol = params({ flowFields: ['SrcIP', 'Protocol'], width: 1000, depth: 3 });
    assert.equal(new HeavyHitterSketch(withProtocol).memoryBytes(), 1000 * 3 * (24 + 24) + 5 * 4 + 3 * 4);
    assert.equal(HeavyHitterSketch.memoryBytesFor(withProtocol), 1000 * 3 * 48 + 5 * 4 + 3 * 4);
    const fiveTuple = params({ flowFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], width: 1024, depth: 3 });
    assert.equal(new HeavyHitterSketch(fiveTuple).memoryBytes(), 1024 * 3 * (40 + 24) + 10 * 4 + 3 * 4);
    assert.equal(HeavyHitterSketch.memoryBytesFor(fiveTuple), 1024 * 3 * 64 + 10 * 4 + 3 * 4);
  });
});
