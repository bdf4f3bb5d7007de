/**
 * An exact task (`aggregator.exact.tasks[]`): per key of the configured fields, packets, bytes,
 * first seen (min) and last seen (max). One partition of it when the worker pool splits its keys.
 */
import type { PacketBatch } from '../../model/packet.js';
import type { ExactTaskSnapshot } from '../../model/snapshot.js';
import type { KeyFieldName } from '../../model/flow.js';
import { KeySpec } from '../../model/flow-key.js';
import { ExactFlowTable } from './exact-flow-table.js';

export interface ExactTaskParams {
  name: string;
  keyFields: readonly KeyFieldName[];
  /** Hash seed of the table (and of the partitioning, so every partition must share it). */
  seed: number;
}

/** A task whose key fields are a subset of its source's: computed from the source's flows at each snapshot. */
interface DerivedTask {
  name: string;
  table: ExactFlowTable;
}

export class ExactTask {
  readonly name: string;
  readonly spec: KeySpec;
  readonly partition: number;
  readonly partitions: number;
  /** Partitioned by source address (every flow of a source in one partition), not by whole key. */
  readonly bySource: boolean;
  #table: ExactFlowTable;
  readonly #derived: DerivedTask[];

  /** @param derived tasks to compute from this one's flows instead of from packets (see task-plan.ts) */
  constructor(params: ExactTaskParams, partition = 0, partitions = 1, derived: readonly ExactTaskParams[] = [], bySource = false) {
    this.name = params.name;
    this.spec = new KeySpec(params.keyFields);
    this.partition = partition;
    this.partitions = partitions;
    this.bySource = bySource;
    this.#table = new ExactFlowTable(this.spec, params.seed);
    this.#derived = derived.map((d) => ({ name: d.name, table: new ExactFlowTable(new KeySpec(d.keyFields), d.seed) }));
  }

  /** Names of the tasks derived from this one. */
  get derivedNames(): string[] {
    return this.#derived.map((d) => d.name);
  }

  /**
   * Snapshots of the derived tasks that `wanted` accepts, rebuilt from this task's flows. Take them
   * before this task's own snapshot, which closes the epoch they share.
   */
  derivedSnapshots(wanted: (name: string) => boolean, sinceEpoch = -1): ExactTaskSnapshot[] {
    const out: ExactTaskSnapshot[] = [];
    for (const derived of this.#derived) {
      if (!wanted(derived.name)) continue;
      // rebuilt in this task's entry order, which only grows within a period: its entries keep their places too
      derived.table.rebuildFrom(this.#table);
      out.push({ kind: 'exact', name: derived.name, keyFields: [...derived.table.spec.fields], memoryBytes: derived.table.memoryBytes(), flows: derived.table.toColumns(sinceEpoch, this.partition, this.partitions) });
    }
    return out;
  }

  /** Flows and memory of the derived tasks now (rebuilt for the question: one pass over this task's flows). */
  derivedStats(): { name: string; flows: number; memoryBytes: number }[] {
    return this.#derived.map((d) => {
      d.table.rebuildFrom(this.#table);
      return { name: d.name, flows: d.table.size, memoryBytes: d.table.memoryBytes() };
    });
  }

  get flowCount(): number {
    return this.#table.size;
  }

  ingest(batch: PacketBatch): void {
    this.#table.ingest(batch, this.partition, this.partitions, this.bySource);
  }

  reset(): void {
    this.#table.clear();
    for (const derived of this.#derived) derived.table.clear();
  }

  memoryBytes(): number {
    return this.#table.memoryBytes();
  }

  /** @param sinceEpoch -1 for every flow, else only those changed after that epoch */
  snapshot(sinceEpoch = -1): ExactTaskSnapshot {
    return {
      kind: 'exact',
      name: this.name,
      keyFields: [...this.spec.fields],
      memoryBytes: this.#table.memoryBytes(),
      flows: this.#table.toColumns(sinceEpoch, this.partition, this.partitions),
    };
  }
}
