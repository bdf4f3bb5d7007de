/**
 * The engine: fans packet batches out to the task units of a pool of worker threads
 * (`aggregator.num_workers`) and of the calling thread, which takes the share the plan leaves it
 * after its own work of reading and decoding (all of it when `workers` is 0).
 *
 * Batches are SharedArrayBuffers shared read-only with every worker (no copy); a batch goes back
 * to the pool when every worker has answered for it. Each worker handles its messages in order, so
 * a snapshot or reset requested after a batch always sees that batch.
 */
import { Worker } from 'node:worker_threads';
import { NetSpectraError } from '../model/errors.js';
import { BatchPool, DEFAULT_BATCH_CAPACITY, type PacketBatch } from '../model/packet.js';
import { allocateFlowColumns, type ExactTaskSnapshot, type FlowColumns, type TaskSnapshot } from '../model/snapshot.js';
import { TaskRunner } from './task-runner.js';
import { planUnits, type EngineTasks } from './task-plan.js';
import type { FromWorker, ToWorker, UnitStats, WorkerInit } from './worker-protocol.js';

export interface EngineOptions {
  tasks: EngineTasks;
  /**
   * Worker threads. The calling thread always runs a share of the tasks as well; 0 runs every
   * task on it. @default os.availableParallelism()
   */
  workers: number;
  /** Packets per batch. @default 8192 */
  batchCapacity?: number;
  /** Batches handed to workers and not yet finished before `submit` waits. @default 16 */
  maxInFlight?: number;
}

export interface TaskStats {
  name: string;
  kind: 'exact' | 'sketch';
  memoryBytes: number;
  /** Exact tasks: distinct keys; sketches: 0. */
  flows: number;
}

/** The reader's own cost in the units of task-plan.ts (seconds of a core on the benchmark trace: reading and decoding). */
const READER_COST = 1.8;

interface Pending {
  remaining: number;
  resolve: (replies: FromWorker[]) => void;
  reject: (error: Error) => void;
  replies: FromWorker[];
}

export class Engine implements AsyncDisposable {
  readonly pool: BatchPool;
  readonly #options: EngineOptions;
  readonly #workers: Worker[] = [];
  #inline: TaskRunner | undefined;
  readonly #pending = new Map<number, Pending>();
  readonly #batchesInFlight = new Map<number, PacketBatch>();
  #nextId = 1;
  #failure: NetSpectraError | undefined;
  #drainWaiters: (() => void)[] = [];
  #started = false;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.pool = new BatchPool(options.batchCapacity ?? DEFAULT_BATCH_CAPACITY, options.workers > 0);
  }

  get workerCount(): number {
    return this.#options.workers;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const workers = Math.max(0, this.#options.workers);
    // The calling thread takes a share too (it has the reader's work already): with N workers the
    // plan has N + 1 slots, slot 0 running inline. On 2 cores this keeps both busy.
    const plan = planUnits(this.#options.tasks, workers + 1, [workers === 0 ? 0 : READER_COST]);
    this.#inline = new TaskRunner(plan[0]!);
    const ready: Promise<void>[] = [];
    plan.slice(1).forEach((units, index) => {
      if (units.length === 0) return;
      const workerIndex = index + 1;
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { workerIndex, units } satisfies WorkerInit });
      this.#workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onReady = (message: FromWorker): void => {
            if (message.type === 'ready') {
              worker.off('message', onReady);
              resolve();
            }
          };
          worker.on('message', onReady);
          worker.once('error', reject);
        }),
      );
      worker.on('message', (message: FromWorker) => this.#onMessage(message));
      worker.on('error', (error) => this.#fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.#fail(new Error(`worker ${workerIndex} exited with code ${code}`));
      });
    });
    await Promise.all(ready);
  }

  /**
   * Hand a batch to the tasks. The engine owns it from here and returns it to `pool` when done.
   * Resolves once the batch is queued; waits while too many batches are in flight.
   */
  async submit(batch: PacketBatch): Promise<void> {
    this.#throwIfFailed();
    if (batch.count === 0) {
      this.pool.release(batch);
      return;
    }
    if (this.#workers.length === 0) {
      this.#inline?.ingest(batch);
      this.pool.release(batch);
      return;
    }
    const maxInFlight = this.#options.maxInFlight ?? 16;
    while (this.#batchesInFlight.size >= maxInFlight) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
      this.#throwIfFailed();
    }
    const id = this.#nextId++;
    this.#batchesInFlight.set(id, batch);
    const done = this.#expect(id);
    done.then(
      () => {
        this.#batchesInFlight.delete(id);
        this.pool.release(batch);
        this.#wakeOne();
      },
      () => {
        this.#batchesInFlight.delete(id);
        this.#wakeAll();
      },
    );
    this.#broadcast({ type: 'batch', id, buffer: batch.buffer as SharedArrayBuffer, capacity: batch.capacity, count: batch.count });
    // the workers start on it while this thread does its own share
    this.#inline?.ingest(batch);
  }

  /**
   * Snapshots of the named tasks (all when empty), exact partitions merged, after every batch
   * submitted so far. With `sinceEpoch >= 0`, exact tasks hold only the flows changed after it.
   */
  async snapshot(taskNames: readonly string[] = [], sinceEpoch = -1): Promise<TaskSnapshot[]> {
    this.#throwIfFailed();
    const snapshots: TaskSnapshot[] = this.#inline?.snapshot(taskNames, sinceEpoch) ?? [];
    if (this.#workers.length > 0) {
      const id = this.#nextId++;
      const replies = this.#expect(id);
      this.#broadcast({ type: 'snapshot', id, tasks: [...taskNames], sinceEpoch });
      for (const reply of await replies) if (reply.type === 'snapshot') snapshots.push(...reply.snapshots);
    }
    return mergePartitions(snapshots, this.#taskOrder());
  }

  /** Forget all task state (a new measurement period). */
  async reset(): Promise<void> {
    this.#throwIfFailed();
    this.#inline?.reset();
    if (this.#workers.length === 0) return;
    const id = this.#nextId++;
    const done = this.#expect(id);
    this.#broadcast({ type: 'reset', id });
    await done;
  }

  /** Memory and flow counts per task (partitions summed). */
  async stats(): Promise<TaskStats[]> {
    this.#throwIfFailed();
    const units: UnitStats[] = this.#inline?.stats() ?? [];
    if (this.#workers.length > 0) {
      const id = this.#nextId++;
      const replies = this.#expect(id);
      this.#broadcast({ type: 'stats', id });
      units.push(...(await replies).flatMap((reply) => (reply.type === 'stats' ? reply.units : [])));
    }
    const merged = new Map<string, TaskStats>();
    for (const unit of units) {
      const into = merged.get(unit.name);
      if (into === undefined) merged.set(unit.name, { ...unit });
      else {
        into.memoryBytes += unit.memoryBytes;
        into.flows += unit.flows;
      }
    }
    return this.#taskOrder()
      .map((name) => merged.get(name))
      .filter((s): s is TaskStats => s !== undefined);
  }

  async stop(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((w) => w.terminate()));
    this.#inline = undefined;
    for (const pending of this.#pending.values()) pending.reject(new NetSpectraError('NS_ERR_WORKER_FAILED', 'the engine was stopped'));
    this.#pending.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #taskOrder(): string[] {
    return [...this.#options.tasks.exact.map((t) => t.name), ...this.#options.tasks.sketch.map((t) => t.name)];
  }

  #expect(id: number): Promise<FromWorker[]> {
    return new Promise<FromWorker[]>((resolve, reject) => {
      this.#pending.set(id, { remaining: this.#workers.length, resolve, reject, replies: [] });
    });
  }

  #broadcast(message: ToWorker): void {
    for (const worker of this.#workers) worker.postMessage(message);
  }

  #onMessage(message: FromWorker): void {
    if (message.type === 'ready') return;
    if (message.type === 'error') {
      this.#fail(new Error(message.message));
      return;
    }
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    pending.replies.push(message);
    if (--pending.remaining === 0) {
      this.#pending.delete(message.id);
      pending.resolve(pending.replies);
    }
  }

  #fail(cause: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = new NetSpectraError('NS_ERR_WORKER_FAILED', `an engine worker failed: ${cause.message}`, { cause });
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
    this.#wakeAll();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  #wakeOne(): void {
    this.#drainWaiters.shift()?.();
  }

  #wakeAll(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** Concatenate the partitions of each exact task (their keys are disjoint) and order tasks as configured. */
function mergePartitions(snapshots: readonly TaskSnapshot[], order: readonly string[]): TaskSnapshot[] {
  const byName = new Map<string, TaskSnapshot[]>();
  for (const s of snapshots) {
    const list = byName.get(s.name);
    if (list === undefined) byName.set(s.name, [s]);
    else list.push(s);
  }
  const out: TaskSnapshot[] = [];
  for (const name of order) {
    const parts = byName.get(name);
    if (parts === undefined) continue;
    const first = parts[0]!;
    if (first.kind !== 'exact' || parts.length === 1) {
      out.push(first);
      continue;
    }
    const exactParts = parts as ExactTaskSnapshot[];
    out.push({
      ...first,
      memoryBytes: exactParts.reduce((sum, p) => sum + p.memoryBytes, 0),
      flows: concatColumns(exactParts.map((p) => p.flows)),
    });
  }
  return out;
}

export function concatColumns(parts: readonly FlowColumns[]): FlowColumns {
  const count = parts.reduce((sum, p) => sum + p.count, 0);
  const keyWords = parts[0]?.keyWords ?? 1;
  // partitions of a task are snapshotted together, so they close the same epoch
  const withIds = parts.every((p) => p.ids !== undefined);
  const out = allocateFlowColumns(count, keyWords, parts[0]?.epoch ?? 0, parts[0]?.sinceEpoch ?? -1, withIds);
  let at = 0;
  for (const p of parts) {
    out.keys.set(p.keys.subarray(0, p.count * keyWords), at * keyWords);
    out.packets.set(p.packets.subarray(0, p.count), at);
    out.bytes.set(p.bytes.subarray(0, p.count), at);
    out.firstSeconds.set(p.firstSeconds.subarray(0, p.count), at);
    out.firstNanos.set(p.firstNanos.subarray(0, p.count), at);
    out.lastSeconds.set(p.lastSeconds.subarray(0, p.count), at);
    out.lastNanos.set(p.lastNanos.subarray(0, p.count), at);
    out.changedEpoch.set(p.changedEpoch.subarray(0, p.count), at);
    if (withIds) out.ids!.set(p.ids!.subarray(0, p.count), at);
    at += p.count;
  }
  return out;
}
