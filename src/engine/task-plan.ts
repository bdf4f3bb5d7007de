/**
 * Which worker runs what. Results never depend on the plan: a sketch task always lives whole on one
 * thread, and an exact task split across threads is split by key hash, so partitions hold disjoint
 * keys whose union is the task.
 *
 * With at least as many tasks as workers, whole tasks are dealt out by estimated cost (longest
 * first, onto the least-loaded worker): no packet is hashed twice for the same task. With more
 * workers than tasks, every exact task is split into one partition per worker (each worker then
 * hashes every packet but updates only its share of the keys) and sketches are dealt round-robin.
 *
 * Derived tasks: when whole tasks are dealt out, an exact task whose key fields are a strict
 * subset of another exact task's (per_src_ip of per_five_tuple) is not fed packets at all; it
 * rides along with that source task and is rebuilt from the source's flows at every snapshot
 * (ExactFlowTable.rebuildFrom — exact, since packets, bytes, min and max are decomposable). One
 * pass over the source's flows per snapshot replaces a hash lookup per packet: on the benchmark
 * trace, 5 snapshots × 400,000 flows instead of 5,000,000 lookups. Of several possible sources
 * the one with the fewest fields (fewest flows) is taken.
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
  // a derived task costs per snapshot, not per packet: a small share of its source's cost
  if (unit.kind === 'exact') return 1 + new KeySpec(unit.params.keyFields).words / 5 + 0.2 * (unit.derived?.length ?? 0);
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
    const derivedOf = deriveExactTasks(tasks.exact);
    for (const unit of whole) {
      if (unit.kind !== 'exact') continue;
      const derived = tasks.exact.filter((t) => derivedOf.get(t.name) === unit.params.name);
      if (derived.length > 0) unit.derived = derived;
    }
    const dealt = whole.filter((unit) => unit.kind !== 'exact' || !derivedOf.has(unit.params.name));
    // with fewer units than threads once derived tasks ride along, a thread may stay without tasks
    return dealWhole(dealt, threads, reserved);
  }
  for (const params of tasks.exact) {
    for (let w = 0; w < threads; w++) plan[w]!.push({ kind: 'exact', params, partition: w, partitions: threads });
  }
  // sketches to the threads with the least reserved load first
  const order = Array.from({ length: threads }, (_, w) => w).sort((a, b) => (reserved[a] ?? 0) - (reserved[b] ?? 0) || a - b);
  tasks.sketch.forEach((params, i) => plan[order[i % threads]!]!.push({ kind: 'sketch', params }));
  return plan;
}

/** Whole units onto threads by estimated cost, longest first onto the least-loaded thread. */
function dealWhole(units: readonly TaskUnit[], threads: number, reserved: readonly number[]): TaskUnit[][] {
  const plan: TaskUnit[][] = Array.from({ length: threads }, () => []);
  const load = Array.from({ length: threads }, (_, w) => reserved[w] ?? 0);
  const byCost = units.map((unit, order) => ({ unit, order, cost: costOf(unit) })).sort((a, b) => b.cost - a.cost || a.order - b.order);
  for (const { unit, cost } of byCost) {
    let target = 0;
    for (let w = 1; w < threads; w++) if (load[w]! < load[target]!) target = w;
    plan[target]!.push(unit);
    load[target]! += cost;
  }
  return plan;
}

/**
 * Which exact tasks can be derived from which: task name → source task name. A source is never
 * itself derived; among several candidates the one with the fewest key fields wins.
 */
export function deriveExactTasks(exact: readonly ExactTaskParams[]): Map<string, string> {
  const fieldsOf = (t: ExactTaskParams): Set<string> => new Set(t.keyFields);
  const isStrictSubset = (a: Set<string>, b: Set<string>): boolean => a.size < b.size && [...a].every((f) => b.has(f));
  const derivedOf = new Map<string, string>();
  // widest keys first: a wide task is decided (as a source) before the narrower ones that use it
  const byWidth = [...exact].sort((a, b) => b.keyFields.length - a.keyFields.length);
  for (const task of byWidth) {
    const sources = byWidth.filter((u) => u !== task && !derivedOf.has(u.name) && isStrictSubset(fieldsOf(task), fieldsOf(u)));
    if (sources.length === 0) continue;
    const source = sources.reduce((best, u) => (u.keyFields.length < best.keyFields.length ? u : best));
    derivedOf.set(task.name, source.name);
  }
  return derivedOf;
}
