/**
 * Which worker runs what. Results never depend on the plan: a sketch task always lives whole on one
 * thread, and an exact task split across threads is split by key hash, so partitions hold disjoint
 * keys whose union is the task.
 *
 * With at least as many tasks as workers, whole tasks are dealt out by estimated cost (longest
 * first, onto the least-loaded worker): no packet is hashed twice for the same task — unless one
 * exact task outweighs the rest so much that splitting it by source address across the workers
 * (splitBySource) gives a lower busiest thread. With more
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
import type { SketchTaskParams } from './tasks/sketch-contract.js';
import { KeySpec } from '../model/flow-key.js';
import type { TaskUnit } from './worker-protocol.js';

export interface EngineTasks {
  exact: readonly ExactTaskParams[];
  sketch: readonly SketchTaskParams[];
}

/**
 * Relative cost of a whole task, in seconds of one core on the benchmark trace (5M packets, 200k
 * flows; profiled per thread): the exact 5-tuple table with per_src_ip derived from it 3.4 s,
 * SuperSpread 0.8 s, a depth-4 heavy-hitter sketch 0.35 s, reading and decoding about 1.8 s (the
 * engine reserves that on its own thread). Wider keys cost more to hash and compare, and an exact
 * table's misses grow with its flows.
 */
function costOf(unit: TaskUnit): number {
  // a derived task costs per snapshot, not per packet: a small share of its source's cost
  if (unit.kind === 'exact') return 0.6 + 0.25 * new KeySpec(unit.params.keyFields).words + 0.2 * (unit.derived?.length ?? 0);
  return unit.params.sktType === 1 ? 0.8 : 0.15 + 0.05 * unit.params.depth;
}

/** What a thread pays per packet to skip the sources of other partitions (a hash of the address). */
const SOURCE_SPLIT_COST = 0.1;

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
    const plan = dealWhole(dealt, threads, reserved);
    const split = splitBySource(dealt, threads, reserved);
    return split !== undefined && maxLoad(split, reserved) < maxLoad(plan, reserved) ? split : plan;
  }
  for (const params of tasks.exact) {
    for (let w = 0; w < threads; w++) plan[w]!.push({ kind: 'exact', params, partition: w, partitions: threads });
  }
  // sketches to the threads with the least reserved load first
  const order = Array.from({ length: threads }, (_, w) => w).sort((a, b) => (reserved[a] ?? 0) - (reserved[b] ?? 0) || a - b);
  tasks.sketch.forEach((params, i) => plan[order[i % threads]!]!.push({ kind: 'sketch', params }));
  return plan;
}

/**
 * The heaviest exact task split across the threads that have nothing reserved (the engine's
 * workers, not the reader's thread), by a hash of the source address, and the other units dealt
 * around it — for when one exact table would otherwise keep one thread busy while the others wait
 * (on the benchmark, the 5-tuple table's thread was busy 3.4 s while the SuperSpread's idled 80 %).
 * Only a task whose key holds SrcIP, and whose derived tasks' keys all do, can be split so: every
 * flow of a source then lives in one partition, and so does every derived flow.
 */
function splitBySource(units: readonly TaskUnit[], threads: number, reserved: readonly number[]): TaskUnit[][] | undefined {
  const free = Array.from({ length: threads }, (_, w) => w).filter((w) => (reserved[w] ?? 0) === 0);
  if (free.length < 2) return undefined;
  const hasSource = (params: ExactTaskParams): boolean => params.keyFields.includes('SrcIP');
  const candidates = units.filter((u): u is Extract<TaskUnit, { kind: 'exact' }> => u.kind === 'exact' && hasSource(u.params) && (u.derived ?? []).every(hasSource));
  if (candidates.length === 0) return undefined;
  const heaviest = candidates.reduce((best, u) => (costOf(u) > costOf(best) ? u : best));
  const plan: TaskUnit[][] = Array.from({ length: threads }, () => []);
  const load = Array.from({ length: threads }, (_, w) => reserved[w] ?? 0);
  const share = costOf(heaviest) / free.length + SOURCE_SPLIT_COST;
  free.forEach((w, partition) => {
    plan[w]!.push({ ...heaviest, partition, partitions: free.length, bySource: true });
    load[w]! += share;
  });
  dealOnto(plan, load, units.filter((u) => u !== heaviest));
  return plan;
}

/** The largest estimated load of a plan's threads. */
function maxLoad(plan: readonly TaskUnit[][], reserved: readonly number[]): number {
  return Math.max(
    ...plan.map((units, w) => {
      let load = reserved[w] ?? 0;
      for (const unit of units) load += unit.kind === 'exact' && unit.partitions > 1 ? costOf(unit) / unit.partitions + SOURCE_SPLIT_COST : costOf(unit);
      return load;
    }),
  );
}

/** Whole units onto threads by estimated cost, longest first onto the least-loaded thread. */
function dealWhole(units: readonly TaskUnit[], threads: number, reserved: readonly number[]): TaskUnit[][] {
  const plan: TaskUnit[][] = Array.from({ length: threads }, () => []);
  dealOnto(plan, Array.from({ length: threads }, (_, w) => reserved[w] ?? 0), units);
  return plan;
}

function dealOnto(plan: TaskUnit[][], load: number[], units: readonly TaskUnit[]): void {
  const threads = plan.length;
  const byCost = units.map((unit, order) => ({ unit, order, cost: costOf(unit) })).sort((a, b) => b.cost - a.cost || a.order - b.order);
  for (const { unit, cost } of byCost) {
    let target = 0;
    for (let w = 1; w < threads; w++) if (load[w]! < load[target]!) target = w;
    plan[target]!.push(unit);
    load[target]! += cost;
  }
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
