/**
 * The whole-run view of an offline analysis that crossed measurement periods. Each period ends with
 * a snapshot and a reset; the report of `analyze` must still account every packet of the input, so
 * the last snapshot of every period is folded in here:
 *
 * - exact tasks: exactly, key by key (packets and bytes summed, first seen min, last seen max);
 * - heavy hitters: per flow, the sum of its per-period estimates, over the flows reported in at
 *   least one period (a flow under the threshold in every period is not recovered — a sketch
 *   keeps no more than that);
 * - super-spreaders: per flow, the largest per-period estimate (distinct counts do not add up
 *   across periods: the same destinations may recur).
 *
 * With a single period (the usual case) the snapshot passes through untouched.
 */
import type { ExactTaskSnapshot, GroupSnapshot, SketchEntry, TaskSnapshot } from '../model/snapshot.js';
import { KeySpec } from '../model/flow-key.js';
import { ExactFlowTable } from './tasks/exact-flow-table.js';
import { compareEntries } from './tasks/sketch-contract.js';

export class RunAccumulator {
  readonly #pending: Promise<GroupSnapshot[]>[] = [];
  #periods: GroupSnapshot[][] = [];

  /** Number of periods added so far. */
  get periods(): number {
    return this.#pending.length;
  }

  /** The last snapshots of one period, one per task group (as the engine will deliver them). */
  addPeriod(snapshots: Promise<GroupSnapshot[]> | readonly GroupSnapshot[]): void {
    const period = Promise.resolve(snapshots).then((list) => [...list]);
    // A failure is the engine's and is reported by whoever waits for it (result(), the manager's
    // finish()); until then it must not count as an unhandled rejection.
    period.catch(() => undefined);
    this.#pending.push(period);
  }

  /** One snapshot per group covering every period added. */
  async result(): Promise<GroupSnapshot[]> {
    this.#periods = await Promise.all(this.#pending);
    const last = this.#periods.at(-1);
    if (last === undefined) return [];
    if (this.#periods.length === 1) return last;
    return last.map((group) => ({
      ...group,
      tasks: group.tasks.map((task) => this.#merge(task, this.#periods.map((p) => p.find((g) => g.group === group.group)?.tasks.find((t) => t.name === task.name)))),
    }));
  }

  #merge(latest: TaskSnapshot, versions: (TaskSnapshot | undefined)[]): TaskSnapshot {
    const all = versions.filter((v): v is TaskSnapshot => v !== undefined && v.kind === latest.kind);
    switch (latest.kind) {
      case 'exact': {
        const table = new ExactFlowTable(new KeySpec(latest.keyFields));
        for (const v of all as ExactTaskSnapshot[]) table.mergeColumns(v.flows);
        return { ...latest, flows: table.toColumns(-1) };
      }
      case 'heavy_hitter':
        return {
          ...latest,
          byCount: combine(all.flatMap((v) => (v.kind === 'heavy_hitter' ? [v.byCount] : [])), (a, b) => a + b),
          bySize: combine(all.flatMap((v) => (v.kind === 'heavy_hitter' ? [v.bySize] : [])), (a, b) => a + b),
        };
      case 'super_spreader':
        return { ...latest, spreaders: combine(all.flatMap((v) => (v.kind === 'super_spreader' ? [v.spreaders] : [])), Math.max) };
    }
  }
}

function combine(lists: readonly SketchEntry[][], fold: (a: number, b: number) => number): SketchEntry[] {
  const byFlow = new Map<string, SketchEntry>();
  for (const list of lists) {
    for (const entry of list) {
      const seen = byFlow.get(entry.flowText);
      byFlow.set(entry.flowText, seen === undefined ? { ...entry } : { ...seen, value: fold(seen.value, entry.value) });
    }
  }
  return [...byFlow.values()].sort(compareEntries);
}
