/**
 * The contract every sketch task keeps, run against each implementation (one suite, many
 * implementations): batch boundaries do not matter, reset returns to a fresh state, snapshots are
 * plain sorted data, bad parameters are rejected.
 */
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { createSketchTask, HEAVY_HITTER_DEFAULTS, SUPER_SPREAD_DEFAULTS } from '../../src/engine/tasks/sketch-task.js';
import type { SketchEntry, SketchSnapshot, SketchTaskParams } from '../../src/engine/tasks/sketch-contract.js';
import type { Traffic } from './synthetic-traffic.js';
import { feed, generateTraffic } from './synthetic-traffic.js';

const implementations: [string, SketchTaskParams][] = [
  [
    'heavy hitters (skt_type 0)',
    { name: 'cm', sktType: 0, flowFields: ['SrcIP'], elementFields: ['DstIP'], ...HEAVY_HITTER_DEFAULTS, width: 512, countThreshold: 50, sizeThreshold: 40_000, m: 128, size: 5, base: 0.5, b: 1.08, seed: 3 },
  ],
  ['SuperSpread (skt_type 1)', { name: 'ss', sktType: 1, flowFields: ['SrcIP'], elementFields: ['DstIP'], sizeThreshold: 0, ...SUPER_SPREAD_DEFAULTS, width: 256, countThreshold: 20, seed: 3 }],
  [
    'SuperSpread, general base and 4-bit registers',
    { name: 'ss4', sktType: 1, flowFields: ['DstIP', 'DstPort'], elementFields: ['SrcIP'], sizeThreshold: 0, ...SUPER_SPREAD_DEFAULTS, width: 256, m: 64, size: 4, base: 0.6, countThreshold: 20, seed: 3 },
  ],
  [
    'heavy hitters, SrcIP + Protocol, width 1000 × depth 3',
    { name: 'cm3', sktType: 0, flowFields: ['Protocol', 'SrcIP'], elementFields: [], ...HEAVY_HITTER_DEFAULTS, width: 1000, depth: 3, countThreshold: 50, sizeThreshold: 40_000, m: 128, size: 5, base: 0.5, b: 1.08, seed: 3 },
  ],
  [
    'heavy hitters, 5-tuple, depth 1',
    { name: 'cm5', sktType: 0, flowFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], elementFields: [], ...HEAVY_HITTER_DEFAULTS, width: 512, depth: 1, countThreshold: 50, sizeThreshold: 40_000, m: 128, size: 5, base: 0.5, b: 1.08, seed: 3 },
  ],
];

function lists(snapshot: SketchSnapshot): SketchEntry[][] {
  return snapshot.kind === 'heavy_hitter' ? [snapshot.byCount, snapshot.bySize] : [snapshot.spreaders];
}

for (const [label, config] of implementations) {
  describe(`sketch contract: ${label}`, () => {
    let traffic: Traffic;
    before(() => {
      traffic = generateTraffic({
        seed: 5,
        packets: 60_000,
        flows: 5000,
        zipf: 1.1,
        sources: 2000,
        destinations: 1500,
        ipv6Fraction: 0.2,
        spreaders: [{ count: 8, minSpread: 30, maxSpread: 800, maxPacketsPerTarget: 3 }],
        synFlood: 3000,
      });
    });

    it('gives the same snapshot whatever the batch boundaries', () => {
      const snapshots = [8192, 1000, 97, 1].map((capacity) => {
        const task = createSketchTask(config);
        feed(traffic, capacity, (batch) => task.ingest(batch));
        return task.snapshot();
      });
      assert.ok(lists(snapshots[0]!).some((list) => list.length > 0), 'something to compare');
      for (const snapshot of snapshots.slice(1)) assert.deepEqual(snapshot, snapshots[0]);
    });

    it('after reset, behaves exactly like a new task; reset empties every list', () => {
      const reused = createSketchTask(config);
      feed(traffic, 4096, (batch) => reused.ingest(batch));
      reused.reset();
      for (const list of lists(reused.snapshot())) assert.deepEqual(list, []);
      const other = generateTraffic({ seed: 6, packets: 20_000, flows: 800, zipf: 1.2, sources: 300, destinations: 300, ipv6Fraction: 0.5, spreaders: [{ count: 3, minSpread: 100, maxSpread: 300, maxPacketsPerTarget: 2 }], synFlood: 0 });
      feed(other, 4096, (batch) => reused.ingest(batch));
      const fresh = createSketchTask(config);
      feed(other, 4096, (batch) => fresh.ingest(batch));
      assert.deepEqual(reused.snapshot(), fresh.snapshot());
    });

    it('snapshots are structured-cloneable plain data, sorted by value then flow text, at or over the threshold', () => {
      const task = createSketchTask(config);
      feed(traffic, 8192, (batch) => task.ingest(batch));
      const snapshot = task.snapshot();
      assert.deepEqual(structuredClone(snapshot), snapshot);
      assert.equal(snapshot.memoryBytes, task.memoryBytes());
      const thresholds = snapshot.kind === 'heavy_hitter' ? [config.countThreshold, config.sizeThreshold] : [config.countThreshold];
      lists(snapshot).forEach((list, i) => {
        const texts = new Set<string>();
        for (let j = 0; j < list.length; j++) {
          const entry = list[j]!;
          assert.ok(entry.value >= thresholds[i]! && Number.isInteger(entry.value), `${entry.flowText} ${entry.value}`);
          assert.ok(!texts.has(entry.flowText), `${entry.flowText} reported twice`);
          texts.add(entry.flowText);
          const previous = list[j - 1];
          if (previous !== undefined) assert.ok(previous.value > entry.value || (previous.value === entry.value && previous.flowText < entry.flowText));
          // IPv4 keys print as dotted quads, never as IPv4-mapped or left-aligned IPv6 (defect of the original).
          for (const address of [entry.flow.SrcIP, entry.flow.DstIP]) {
            if (address !== undefined) assert.match(address, /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+)$/);
          }
        }
      });
    });

    it('takes memory fixed by its parameters, not by the traffic', () => {
      const task = createSketchTask(config);
      const before = task.memoryBytes();
      feed(traffic, 8192, (batch) => task.ingest(batch));
      assert.equal(task.memoryBytes(), before);
    });
  });
}

describe('createSketchTask', () => {
  const good = implementations[1]![1];
  for (const [what, overrides] of [
    ['width 0', { width: 0 }],
    ['fractional depth', { depth: 1.5 }],
    ['no flow fields', { flowFields: [] }],
    ['m 0', { m: 0 }],
    ['size 9', { size: 9 }],
    ['base 1', { base: 1 }],
    ['b 1', { b: 1 }],
    ['negative threshold', { countThreshold: -1 }],
    ['unknown skt_type', { sktType: 2 }],
  ] as [string, Partial<SketchTaskParams>][]) {
    it(`rejects ${what}, naming the task`, () => {
      assert.throws(() => createSketchTask({ ...good, ...overrides }), (error: unknown) => error instanceof RangeError && error.message.includes("'ss'"));
    });
  }
});
