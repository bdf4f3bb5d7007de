/**
 * An exact task (`aggregator.exact.tasks[]`): per key of the configured fields, packets, bytes,
 * first seen (min) and last seen (max). One partition of it when the worker pool splits its keys.
 */
import type { PacketBatch } from '../../model/packet.js';
import type { ExactTaskSnapshot } from '../../model/snapshot.js';
import type { KeyFieldName } from '../../model/flow.js';
import { KeySpec } from '../flow-key.js';
import { ExactFlowTable } from './exact-flow-table.js';

export interface ExactTaskParams {
  name: string;
  keyFields: readonly KeyFieldName[];
  /** Hash seed of the table (and of the partitioning, so every partition must share it). */
  seed: number;
}

export class ExactTask {
  readonly name: string;
  readonly spec: KeySpec;
  readonly partition: number;
  readonly partitions: number;
  #table: ExactFlowTable;

  constructor(params: ExactTaskParams, partition = 0, partitions = 1) {
    this.name = params.name;
    this.spec = new KeySpec(params.keyFields);
    this.partition = partition;
    this.partitions = partitions;
    this.#table = new ExactFlowTable(this.spec, params.seed);
  }

  get flowCount(): number {
    return this.#table.size;
  }

  ingest(batch: PacketBatch): void {
    this.#table.ingest(batch, this.partition, this.partitions);
  }

  reset(): void {
    this.#table.clear();
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
      flows: this.#table.toColumns(sinceEpoch),
    };
  }
}
