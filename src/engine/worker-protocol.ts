/**
 * Messages between the engine (main thread) and its worker threads: typed unions, batches passed
 * as SharedArrayBuffers (no copy), snapshots returned in shared columns (see allocateFlowColumns).
 */
import type { TaskSnapshot } from '../model/snapshot.js';
import type { ExactTaskParams } from './tasks/exact-task.js';
import type { SketchTaskParams } from './tasks/sketch-contract.js';

/** A piece of work a worker owns: a whole sketch task, or one partition of an exact task's keys. */
export type TaskUnit =
  | {
      kind: 'exact';
      params: ExactTaskParams;
      partition: number;
      partitions: number;
      /** Partitioned by a hash of the source address rather than of the whole key (see task-plan.ts). */
      bySource?: boolean;
      derived?: ExactTaskParams[];
    }
  | { kind: 'sketch'; params: SketchTaskParams };

export interface WorkerInit {
  workerIndex: number;
  units: TaskUnit[];
}

export type ToWorker =
  | { type: 'batch'; id: number; buffer: SharedArrayBuffer; capacity: number; count: number }
  | { type: 'snapshot'; id: number; tasks: string[]; sinceEpoch: number }
  | { type: 'reset'; id: number }
  | { type: 'stats'; id: number };

export interface UnitStats {
  name: string;
  kind: 'exact' | 'sketch';
  memoryBytes: number;
  flows: number;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'batch-done'; id: number }
  | { type: 'snapshot'; id: number; snapshots: TaskSnapshot[] }
  | { type: 'reset-done'; id: number }
  | { type: 'stats'; id: number; units: UnitStats[] }
  | { type: 'error'; id: number; message: string; stack?: string };
