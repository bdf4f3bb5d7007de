import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { HeavyHitterSketch } from '../../src/engine/tasks/heavy-hitter-sketch.js';
import { createSketchTask, HEAVY_HITTER_DEFAULTS } from '../../src/engine/tasks/sketch-task.js';
import type { HeavyHitterSnapshot, SketchTaskParams } from '../../src/engine/tasks/sketch-task.js';
import type { ExactTotals, PacketSpec, Traffic } from './synthetic-traffic.js';
import { accuracy, batchOf, exactTotals, feed, generateTraffic, truthAtThreshold } from './synthetic-traffic.js';

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
  it('keeps separate candidates for packets and bytes', () => {
    // One bucket: 1,000 small packets from A and 100 large ones from B. A has the packet majority,
    // B the byte majority; one shared candidate (the original) would credit B's bytes to A.
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 1000; i++) {
      packets.push({ src: '10.0.0.1', dst: '10.9.9.9', length: 64 });
      if (i % 10 === 0) packets.push({ src: '10.0.0.2', dst: '10.9.9.9', length: 1500 });
    }
    const task = createSketchTask(params({ width: 1, depth: 1, countThreshold: 500, sizeThreshold: 100_000 }));
    task.ingest(batchOf(packets));
    const snapshot = heavyHitters(task);
    assert.deepEqual(
      snapshot.byCount.map((e) => [e.flowText, e.value]),
      [['10.0.0.1', 1000]],
    );
    assert.equal(snapshot.bySize.length, 1);
    assert.equal(snapshot.bySize[0]!.flowText, '10.0.0.2');
    assert.ok(snapshot.bySize[0]!.value >= 150_000, `bytes of B ${snapshot.bySize[0]!.value}`);
  });

  it('reports exact counts for flows that own their buckets, IPv4 dotted and IPv4-mapped IPv6 apart', () => {
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 3000; i++) packets.push({ src: '192.0.2.1', dst: '198.51.100.1', length: 100 });
    for (let i = 0; i < 2000; i++) packets.push({ src: '::ffff:192.0.2.1', dst: '::ffff:198.51.100.1', length: 200 });
    for (let i = 0; i < 1000; i++) packets.push({ src: '2001:db8::1', dst: '2001:db8::2', length: 300 });
    const task = createSketchTask(params({ countThreshold: 1, sizeThreshold: 1 }));
    task.ingest(batchOf(packets));
    const snapshot = heavyHitters(task);
    assert.deepEqual(
      snapshot.byCount.map((e) => [e.flowText, e.value]),
      [
        ['192.0.2.1', 3000],
        ['::ffff:192.0.2.1', 2000],
        ['2001:db8::1', 1000],
      ],
    );
    assert.deepEqual(snapshot.byCount[0]!.flow, { SrcIP: '192.0.2.1' });
    assert.deepEqual(
      snapshot.bySize.map((e) => [e.flowText, e.value]),
      [
        ['::ffff:192.0.2.1', 400_000],
        ['192.0.2.1', 300_000],
        ['2001:db8::1', 300_000],
      ],
      'ties (300,000 bytes) are ordered by flow text',
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

  it('memoryBytes is what width, depth and the key imply (≈1.1 MiB for the SrcIP default)', () => {
    const task = createSketchTask(params());
    // 8192 × 2 buckets × (2 keys × 5 words × 4 B + 4 doubles) + per-chunk scratch + row seeds
    const table = 8192 * 2 * (2 * 5 * 4 + 4 * 8);
    assert.equal(task.memoryBytes(), HeavyHitterSketch.memoryBytesFor(params()));
    assert.ok(task.memoryBytes() >= table && task.memoryBytes() < table + 16_384, String(task.memoryBytes()));
    const fiveTuple = params({ flowFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], width: 1024, depth: 3 });
    assert.equal(createSketchTask(fiveTuple).memoryBytes(), HeavyHitterSketch.memoryBytesFor(fiveTuple));
  });
});
