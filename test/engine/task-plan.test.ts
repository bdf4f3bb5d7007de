import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveExactTasks, planUnits, type EngineTasks } from '../../src/engine/task-plan.js';
import type { SketchTaskParams } from '../../src/engine/tasks/sketch-contract.js';

const sketch = (name: string, sktType: 0 | 1): SketchTaskParams => ({
  name,
  sktType,
  flowFields: ['SrcIP'],
  elementFields: ['DstIP'],
  width: 1024,
  depth: 2,
  sizeThreshold: 1,
  countThreshold: 1,
  m: 128,
  size: 5,
  base: 0.5,
  b: 1.08,
  seed: 1,
});

const tasks: EngineTasks = {
  exact: [
    { name: 'per_five_tuple', keyFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], seed: 1 },
    { name: 'per_src_ip', keyFields: ['SrcIP'], seed: 1 },
  ],
  sketch: [sketch('ss_src_dst', 1), sketch('cm_src_left', 0)],
};

test('every task is planned exactly once, or split into partitions that cover its keys once', () => {
  for (let threads = 1; threads <= 8; threads++) {
    for (const reserved of [[], [2], [5, 0, 1]]) {
      const plan = planUnits(tasks, threads, reserved);
      assert.equal(plan.length, threads);
      const seen = new Map<string, Set<number>>();
      const partitionsOf = new Map<string, number>();
      const take = (name: string, partition: number, partitions: number): void => {
        const parts = seen.get(name) ?? new Set<number>();
        assert.ok(!parts.has(partition), `${name} partition ${partition} planned twice`);
        assert.ok(partition < partitions);
        parts.add(partition);
        seen.set(name, parts);
        assert.equal(partitionsOf.get(name) ?? partitions, partitions, `${name}: partitions of one task agree`);
        partitionsOf.set(name, partitions);
      };
      for (const units of plan) {
        for (const unit of units) {
          if (unit.kind !== 'exact') {
            take(unit.params.name, 0, 1);
            continue;
          }
          take(unit.params.name, unit.partition, unit.partitions);
          // a derived task rides along with its source: whole, or split by source when every key holds SrcIP
          const derived = unit.derived ?? [];
          if (derived.length > 0 && unit.partitions > 1) {
            assert.equal(unit.bySource, true, 'a split source task is split by source address');
            assert.ok([unit.params, ...derived].every((t) => t.keyFields.includes('SrcIP')));
          }
          for (const d of derived) take(d.name, unit.partition, unit.partitions);
        }
      }
      for (const name of ['per_five_tuple', 'per_src_ip', 'ss_src_dst', 'cm_src_left']) {
        const parts = seen.get(name);
        assert.ok(parts !== undefined, `${name} not planned for ${threads} threads`);
        assert.equal(parts.size, partitionsOf.get(name), `${name} with ${threads} threads: every partition once`);
        if (name.startsWith('per_') && threads > 4) assert.equal(parts.size, threads, 'more threads than tasks: exact tasks split over all');
      }
    }
  }
});

test('whole tasks go to the least-loaded thread, counting what is reserved; a dominant exact task is split by source over the free threads', () => {
  const plan = planUnits(tasks, 2, [100]);
  assert.deepEqual(plan[0], [], 'a thread already busy with reading gets nothing when the other can take it all');
  // the engine's case: the reader's thread and two workers; the 5-tuple table (with per_src_ip
  // derived) outweighs both sketches together, so each worker takes half of its sources
  const engine = planUnits(tasks, 3, [1.8]);
  const fiveTuple = engine.map((units) => units.filter((u) => u.kind === 'exact' && u.params.name === 'per_five_tuple'));
  assert.deepEqual(
    fiveTuple.map((units) => units.map((u) => (u.kind === 'exact' ? [u.partition, u.partitions, u.bySource, (u.derived ?? []).map((d) => d.name)] : []))),
    [[], [[0, 2, true, ['per_src_ip']]], [[1, 2, true, ['per_src_ip']]]],
  );
  assert.equal(engine.flat().length, 4, 'both sketches whole, beside the partitions');
  // no SrcIP in the key: never split by source (a key split would cost every thread every hash)
  const byPort = planUnits({ exact: [{ name: 'per_dport', keyFields: ['DstPort'], seed: 1 }], sketch: tasks.sketch }, 3, [1.8]);
  assert.ok(byPort.flat().every((u) => u.kind !== 'exact' || u.partitions === 1));
  // a derived task without SrcIP would be split across partitions: its source stays whole
  const mixed = planUnits(
    {
      exact: [
        { name: 'five', keyFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], seed: 1 },
        { name: 'dport', keyFields: ['DstPort'], seed: 1 },
      ],
      sketch: tasks.sketch,
    },
    3,
    [1.8],
  );
  assert.ok(mixed.flat().every((u) => u.kind !== 'exact' || u.partitions === 1));
});

test('derived tasks: a strict subset of another exact task rides along with the narrowest such source', () => {
  const exact = [
    { name: 'five', keyFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] as const, seed: 1 },
    { name: 'pair', keyFields: ['SrcIP', 'DstIP'] as const, seed: 1 },
    { name: 'src', keyFields: ['SrcIP'] as const, seed: 1 },
    { name: 'dport', keyFields: ['DstPort'] as const, seed: 1 },
    { name: 'proto_sport', keyFields: ['Protocol', 'SrcPort'] as const, seed: 1 },
    { name: 'pair_again', keyFields: ['DstIP', 'SrcIP'] as const, seed: 1 },
  ].map((t) => ({ ...t, keyFields: [...t.keyFields] }));
  assert.deepEqual(
    [...deriveExactTasks(exact)].sort(),
    [
      ['dport', 'five'],
      ['pair', 'five'],
      ['pair_again', 'five'],
      ['proto_sport', 'five'],
      ['src', 'five'],
    ].sort(),
    'equal key sets are not subsets of each other; pair is derived itself, so it is no source',
  );
  const plan = planUnits({ exact, sketch: [] }, 1);
  assert.deepEqual(
    plan[0]!.map((u) => u.params.name),
    ['five'],
  );
  assert.deepEqual(
    plan[0]!.flatMap((u) => (u.kind === 'exact' ? (u.derived ?? []).map((d) => d.name) : [])).sort(),
    ['dport', 'pair', 'pair_again', 'proto_sport', 'src'],
  );
});
