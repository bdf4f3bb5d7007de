/**
 * The task units one thread owns, and the three things that can happen to them. Used by every
 * worker thread and, with no workers, directly on the calling thread.
 */
import type { PacketBatch } from '../model/packet.js';
import type { TaskSnapshot } from '../model/snapshot.js';
import { ExactTask } from './tasks/exact-task.js';
import type { SketchTask } from './tasks/sketch-contract.js';
import { createSketchTask } from './tasks/sketch-task.js';
import type { TaskUnit, UnitStats } from './worker-protocol.js';

export class TaskRunner {
  readonly #exact: ExactTask[] = [];
  readonly #sketches: SketchTask[] = [];

  constructor(units: readonly TaskUnit[]) {
    for (const unit of units) {
      if (unit.kind === 'exact') this.#exact.push(new ExactTask(unit.params, unit.partition, unit.partitions, unit.derived ?? [], unit.bySource === true));
      else this.#sketches.push(createSketchTask(unit.params));
    }
  }

  ingest(batch: PacketBatch): void {
    for (const task of this.#exact) task.ingest(batch);
    for (const task of this.#sketches) task.ingest(batch);
  }

  /** Snapshots of the named tasks this runner holds (all when `names` is empty). */
  snapshot(names: readonly string[], sinceEpoch = -1): TaskSnapshot[] {
    const wanted = (name: string): boolean => names.length === 0 || names.includes(name);
    const out: TaskSnapshot[] = [];
    for (const task of this.#exact) {
      out.push(...task.derivedSnapshots(wanted, sinceEpoch));
      if (wanted(task.name)) out.push(task.snapshot(sinceEpoch));
    }
    for (const task of this.#sketches) if (wanted(task.name)) out.push(task.snapshot());
    return out;
  }

  reset(): void {
    for (const task of this.#exact) task.reset();
    for (const task of this.#sketches) task.reset();
  }

  stats(): UnitStats[] {
    return [
      ...this.#exact.flatMap((t) => [
        { name: t.name, kind: 'exact' as const, memoryBytes: t.memoryBytes(), flows: t.flowCount },
        ...t.derivedStats().map((d) => ({ ...d, kind: 'exact' as const })),
      ]),
      ...this.#sketches.map((t) => ({ name: t.name, kind: 'sketch' as const, memoryBytes: t.memoryBytes(), flows: 0 })),
    ];
  }
}
