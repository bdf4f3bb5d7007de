import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveExactTasks, planUnits, type EngineTasks } from '../../src/engine/task-plan.js';
import type { SketchTaskParams } from '../../src/engine/tasks/sketch-task.js';

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
      for (const units of plan) {
        for (const unit of units) {
          const name = unit.params.name;
          const parts = seen.get(name) ?? new Set<number>();
          const partition = unit.kind === 'exact' ? unit.partition : 0;
          assert.ok(!parts.has(partition), `${name} partition ${partition} planned twice`);
          parts.add(partition);
          seen.set(name, parts);
          if (unit.kind === 'exact') assert.ok(unit.partition < unit.partitions);
          // a derived task rides along with its (whole) source
          if (unit.kind !== 'exact') continue;
          for (const derived of unit.derived ?? []) {
            assert.equal(unit.partitions, 1, 'only a whole task is a source');
            assert.ok(!seen.has(derived.name), `${derived.name} planned twice`);
            seen.set(derived.name, new Set([0]));
          }
        }
      }
      for (const name of ['per_five_tuple', 'per_src_ip', 'ss_src_dst', 'cm_src_left']) {
        const parts = seen.get(name);
        assert.ok(parts !== undefined, `${name} not planned for ${threads} threads`);
        const expected = name.startsWith('per_') && threads > 4 ? threads : 1;
        assert.equal(parts.size, expected, `${name} with ${threads} threads`);
      }
    }
  }
});

test('whole tasks go to the least-loaded thread, counting what is reserved', () => {
  const plan = planUnits(tasks, 2, [100]);
  assert.deepEqual(plan[0], [], 'a thread already busy with reading gets nothing when the other can take it all');
  const balanced = planUnits(tasks, 3, [2]);
  assert.ok(balanced.every((units) => units.length > 0), 'three threads, four tasks: each thread works');
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
