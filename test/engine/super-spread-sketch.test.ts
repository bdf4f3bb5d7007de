import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { SuperSpreadSketch } from '../../src/engine/tasks/super-spread-sketch.js';
import { createSketchTask, SUPER_SPREAD_DEFAULTS } from '../../src/engine/tasks/sketch-task.js';
import type { SketchTask, SketchTaskParams, SuperSpreaderSnapshot } from '../../src/engine/tasks/sketch-contract.js';
import type { PacketSpec, Traffic } from './synthetic-traffic.js';
import { accuracy, batchOf, exactTotals, feed, generateTraffic, truthAtThreshold } from './synthetic-traffic.js';

function params(overrides: Partial<SketchTaskParams> = {}): SketchTaskParams {
  return {
    name: 'ss_src_dst',
    sktType: 1,
    flowFields: ['SrcIP'],
    elementFields: ['DstIP'],
    sizeThreshold: 0,
    ...SUPER_SPREAD_DEFAULTS,
    seed: 1,
    ...overrides,
  };
}

function spreaders(task: SketchTask): SuperSpreaderSnapshot {
  const snapshot = task.snapshot();
  if (snapshot.kind !== 'super_spreader') throw new Error(`expected a super spreader snapshot, got ${snapshot.kind}`);
  return snapshot;
}

function valueOf(snapshot: SuperSpreaderSnapshot, flowText: string): number | undefined {
  return snapshot.spreaders.find((e) => e.flowText === flowText)?.value;
}

describe('SuperSpread: accuracy on 1M packets (many small flows, spreaders on both sides of the threshold)', () => {
  let traffic: Traffic;
  before(() => {
    traffic = generateTraffic({
      seed: 23,
      packets: 700_000,
      flows: 80_000,
      zipf: 1.1,
      sources: 40_000,
      destinations: 30_000,
      ipv6Fraction: 0.1,
      spreaders: [
        // over the default threshold of 256, some of them close to it
        { count: 40, minSpread: 300, maxSpread: 6000, maxPacketsPerTarget: 4 },
        // busy but under it: must not be reported
        { count: 150, minSpread: 20, maxSpread: 200, maxPacketsPerTarget: 4 },
      ],
      synFlood: 60_000,
    });
  });

  const cases: [string, Partial<SketchTaskParams>, 'src' | 'dst'][] = [
    ['SrcIP → DstIP at the default threshold (256), 4096 × 2, m 128', {}, 'src'],
    ['DstIP → SrcIP (the SYN-flood victim and busy servers)', { flowFields: ['DstIP'], elementFields: ['SrcIP'] }, 'dst'],
  ];
  for (const [label, overrides, side] of cases) {
    it(`F1 ≥ 0.95 and median relative error ≤ 10%: ${label}`, () => {
      const config = params(overrides);
      const task = createSketchTask(config);
      assert.ok(task.memoryBytes() <= 1024 * 1024, `memory ${task.memoryBytes()}`);
      feed(traffic, 8192, (batch) => task.ingest(batch));
      const truth = truthAtThreshold(traffic, exactTotals(traffic, side).spread, config.countThreshold);
      const result = accuracy(spreaders(task).spreaders, truth);
      assert.ok(truth.size >= (side === 'src' ? 40 : 1), `the trace has ${truth.size} true spreaders`);
      assert.ok(result.f1 >= 0.95, `F1 ${result.f1} (${JSON.stringify(result)})`);
      assert.ok(result.medianRelativeError <= 0.1, `median relative error ${result.medianRelativeError}`);
    });
  }
});

describe('SuperSpread: semantics', () => {
  it('counts distinct elements: 100,000 packets to one destination are a spread of 1', () => {
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 100_000; i++) packets.push({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1024 + (i % 60000) });
    const task = createSketchTask(params({ countThreshold: 1 }));
    task.ingest(batchOf(packets));
    assert.deepEqual(spreaders(task).spreaders, [{ flow: { SrcIP: '10.0.0.1' }, flowText: '10.0.0.1', value: 1 }]);
  });

  it('repeated packets leave the state exactly as a single packet per element would', () => {
    const once: PacketSpec[] = [];
    const repeated: PacketSpec[] = [];
    for (let i = 0; i < 3000; i++) {
      const packet = { src: `10.0.${i % 3}.1`, dst: `172.16.${i >> 8}.${i & 0xff}` };
      once.push(packet);
      for (let r = 0; r < 1 + (i % 7); r++) repeated.push(packet);
    }
    // A tiny table so that the three sources share buckets and the HeavyKeeper decay is exercised.
    const config = params({ width: 2, depth: 2, countThreshold: 1 });
    const a = createSketchTask(config);
    const b = createSketchTask(config);
    a.ingest(batchOf(once));
    b.ingest(batchOf(repeated));
    a.ingest(batchOf(once)); // the same elements again: nothing new
    assert.deepEqual(spreaders(a), spreaders(b));
  });

  it('estimates the spread of a lone spreader within 20% (about 4 standard errors)', () => {
    for (const spread of [10, 300, 5000, 40_000]) {
      const packets: PacketSpec[] = [];
      for (let i = 0; i < spread; i++) packets.push({ src: '192.0.2.7', dst: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}` });
      const task = createSketchTask(params({ countThreshold: 1 }));
      task.ingest(batchOf(packets));
      const estimate = valueOf(spreaders(task), '192.0.2.7') ?? 0;
      assert.ok(Math.abs(estimate - spread) <= Math.max(1, 0.2 * spread), `spread ${spread}: estimate ${estimate}`);
    }
  });

  it('keeps IPv4 and IPv4-mapped IPv6 flows and elements apart', () => {
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 400; i++) {
      // the IPv4 source reaches 10.1.x.y over IPv4 only
      packets.push({ src: '192.0.2.1', dst: `10.1.${i >> 8}.${i & 0xff}` });
      // the IPv6 source with the same 32 low bits reaches the same numbers both as IPv4-mapped IPv6…
      packets.push({ src: '::ffff:192.0.2.1', dst: `::ffff:10.1.${i >> 8}.${i & 0xff}` });
    }
    const task = createSketchTask(params({ countThreshold: 1 }));
    task.ingest(batchOf(packets));
    const snapshot = spreaders(task);
    const v4 = valueOf(snapshot, '192.0.2.1') ?? 0;
    const v6 = valueOf(snapshot, '::ffff:192.0.2.1') ?? 0;
    assert.ok(Math.abs(v4 - 400) <= 40 && Math.abs(v6 - 400) <= 40, `v4 ${v4}, v6 ${v6}`);

    // …and an element seen over both families is two elements.
    const both = createSketchTask(params({ flowFields: ['DstPort'], elementFields: ['DstIP'], countThreshold: 1 }));
    const mixed: PacketSpec[] = [];
    for (let i = 0; i < 300; i++) {
      mixed.push({ src: '192.0.2.1', dst: `10.1.${i >> 8}.${i & 0xff}`, dstPort: 22 });
      mixed.push({ src: '::ffff:192.0.2.1', dst: `::ffff:10.1.${i >> 8}.${i & 0xff}`, dstPort: 22 });
    }
    both.ingest(batchOf(mixed));
    const spread = valueOf(spreaders(both), '22') ?? 0;
    assert.ok(Math.abs(spread - 600) <= 60, `spread over both families ${spread}`);
  });

  it('reset forgets everything, including the sampling probabilities', () => {
    const first: PacketSpec[] = [];
    for (let i = 0; i < 20_000; i++) first.push({ src: `10.0.0.${i % 5}`, dst: `172.16.${i >> 8}.${i & 0xff}` });
    const second: PacketSpec[] = [];
    for (let i = 0; i < 2000; i++) second.push({ src: '10.0.0.9', dst: `172.17.${i >> 8}.${i & 0xff}` });
    const config = params({ width: 4, depth: 2, countThreshold: 1 });
    const reused = createSketchTask(config);
    reused.ingest(batchOf(first));
    reused.reset();
    assert.deepEqual(spreaders(reused).spreaders, []);
    reused.ingest(batchOf(second));
    const fresh = createSketchTask(config);
    fresh.ingest(batchOf(second));
    // Saturated registers or a stale sampling probability would make the reused sketch
    // under-count (weights 1/p too small); equality shows the whole state was reset.
    assert.deepEqual(spreaders(reused), spreaders(fresh));
    const estimate = valueOf(spreaders(reused), '10.0.0.9') ?? 0;
    assert.ok(Math.abs(estimate - 2000) <= 200, `estimate after reset ${estimate}`);
  });

  it('memoryBytes is what width, depth, m and size imply, under 1 MiB for the default', () => {
    const task = createSketchTask(params());
    // 4096 × 2 buckets × (22 words of 6 five-bit registers + p + 5-word key + counter)
    assert.equal(task.memoryBytes(), 4096 * 2 * (22 * 4 + 8 + 5 * 4 + 8));
    assert.equal(task.memoryBytes(), SuperSpreadSketch.memoryBytesFor(params()));
    assert.ok(task.memoryBytes() <= 1024 * 1024);
    const other = params({ m: 64, size: 4, width: 1000, depth: 3, flowFields: ['SrcIP', 'DstPort'] });
    assert.equal(createSketchTask(other).memoryBytes(), 1000 * 3 * (8 * 4 + 8 + 6 * 4 + 8));
  });
});
