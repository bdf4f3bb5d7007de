/**
 * Which worker runs what. Results never depend on the plan: a sketch task always lives whole on one
 * thread, and an exact task split across threads is split by key hash, so partitions hold disjoint
 * keys whose union is the task.
 *
 * With at least as many tasks as workers, whole tasks are dealt out by estimated cost (longest
 * first, onto the least-loaded worker): no packet is hashed twice for the same task. With more
 * workers than tasks, every exact task is split into one partition per worker (each worker then
 * hashes every packet but updates only its share of the keys) and sketches are dealt round-robin.
 */
import type { ExactTaskParams } from './tasks/exact-task.js';
import type { SketchTaskParams } from './tasks/sketch-task.js';
import { KeySpec } from './flow-key.js';
import type { TaskUnit } from './worker-protocol.js';

export interface EngineTasks {
  exact: readonly ExactTaskParams[];
  sketch: readonly SketchTaskParams[];
}

/** Relative per-packet cost, from the bench: wider keys cost more to hash and compare. */
function costOf(unit: TaskUnit): number {
  if (unit.kind === 'exact') return 1 + new KeySpec(unit.params.keyFields).words / 5;
  return unit.params.sktType === 1 ? 2 : 1 + unit.params.depth / 4;
}

/**
 * @param workers threads to plan for
 * @param reserved per-thread load already taken before any task (e.g. the reader's), in cost units
 */
export function planUnits(tasks: EngineTasks, workers: number, reserved: readonly number[] = []): TaskUnit[][] {
  const threads = Math.max(1, workers);
  const plan: TaskUnit[][] = Array.from({ length: threads }, () => []);
  const whole: TaskUnit[] = [
    ...tasks.exact.map((params): TaskUnit => ({ kind: 'exact', params, partition: 0, partitions: 1 })),
    ...tasks.sketch.map((params): TaskUnit => ({ kind: 'sketch', params })),
  ];
  if (whole.length >= threads) {
    const load = Array.from({ length: threads }, (_, w) => reserved[w] ?? 0);
    const byCost = whole.map((unit, order) => ({ unit, order, cost: costOf(unit) })).sort((a, b) => b.cost - a.cost || a.order - b.order);
    for (const { unit, cost } of byCost) {
      let target = 0;
      for (let w = 1; w < threads; w++) if (load[w]! < load[target]!) target = w;
      plan[target]!.push(unit);
      load[target]! += cost;
    }
    return plan;
  }
  for (const params of tasks.exact) {
    for (let w = 0; w < threads; w++) plan[w]!.push({ kind: 'exact', params, partition: w, partitions: threads });
  }
  // sketches to the threads with the least reserved load first
  const order = Array.from({ length: threads }, (_, w) => w).sort((a, b) => (reserved[a] ?? 0) - (reserved[b] ?? 0) || a - b);
  tasks.sketch.forEach((params, i) => plan[order[i % threads]!]!.push({ kind: 'sketch', params }));
  return plan;
}
