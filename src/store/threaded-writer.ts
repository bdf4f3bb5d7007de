/**
 * Runs a writer on its own thread. The DuckDB appender's flush is synchronous native work (about
 * 0.5 µs a row); on the main thread it stalls the reader, and with it every engine worker.
 *
 * Snapshots reach the thread without a copy: their flow columns live in SharedArrayBuffers (see
 * allocateFlowColumns), which postMessage shares; the store then picks the flows it writes.
 *
 * The thread also answers queries (`queryStore()`), for a process that both writes the store and
 * serves it (`netspectra serve`): the thread owns the only DuckDB instance on the file, so its
 * readers see every write the moment it is committed — a second instance in this process would
 * not, and another process cannot open the file while it is written. Queries run on connections of
 * their own, beside the writes rather than queued behind them. A writer that is never asked a
 * query (analyze, engine) opens nothing for them.
 */
import { Worker } from 'node:worker_threads';
import { NetSpectraError, type ErrorCode, errorMessage } from '../model/errors.js';
import type { AlertRecord, AlertSink } from '../model/alert.js';
import type { AlertQueryStore, FlowQueryStore, RunPeriod, SnapshotWriter } from '../model/ports.js';
import type { StoreHealth } from '../model/query.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import type { DuckDbStoreOptions } from './duckdb-store.js';

/** What the writer thread should build. */
export type WriterSpec = { kind: 'duckdb'; options: DuckDbStoreOptions };

/** FlowQueryStore methods the writer thread answers; their arguments and results are structured-cloned. */
export type StoreQueryMethod = 'health' | 'tasks' | 'flowTotals' | 'flows' | 'series' | 'sketchList' | 'sketchSnapshots' | 'alerts' | 'activeAlerts';

export type ToWriterThread =
  | { type: 'start'; id: number }
  | { type: 'write'; id: number; snapshot: GroupSnapshot }
  // alert notices, in order with the writes: sent before `stop`, stored before the file closes
  | { type: 'alerts'; id: number; records: readonly AlertRecord[] }
  // a resumed JetStream engine's replay is about to write these periods again (SnapshotWriter.forgetFrom)
  | { type: 'forget'; id: number; from: RunPeriod }
  | { type: 'stop'; id: number }
  | { type: 'query'; id: number; method: StoreQueryMethod; args: unknown[] };

export type FromWriterThread = { type: 'done'; id: number; result?: unknown } | { type: 'failed'; id: number; code: ErrorCode | undefined; message: string };

type QueryArgs<M extends StoreQueryMethod> = Parameters<(FlowQueryStore & AlertQueryStore)[M]>;
type QueryResult<M extends StoreQueryMethod> = Awaited<ReturnType<(FlowQueryStore & AlertQueryStore)[M]>>;

export class ThreadedWriter implements SnapshotWriter, AlertSink {
  readonly description: string;
  /** The DuckDB store writes only flows changed since its previous snapshot. */
  readonly acceptsDeltas = true;
  readonly #spec: WriterSpec;
  #worker: Worker | undefined;
  #nextId = 1;
  /** Changes ended (snapshots, alerts, forgets): the query store's version. */
  #writes = 0;
  readonly #pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  constructor(spec: WriterSpec) {
    this.#spec = spec;
    this.description = `${spec.kind}:${spec.options.path}`;
  }

  async start(): Promise<void> {
    const worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: this.#spec });
    this.#worker = worker;
    worker.on('message', (message: FromWriterThread) => {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.type === 'done') pending.resolve(message.result);
      else pending.reject(new NetSpectraError(message.code ?? 'NS_ERR_STORE_WRITE', message.message));
    });
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', (code) => {
      if (this.#pending.size > 0) this.#failAll(new Error(`the ${this.description} writer thread exited with code ${code}`));
    });
    try {
      await this.#call({ type: 'start', id: 0 });
    } catch (error) {
      // a writer that cannot start must not keep its thread (and the process) alive
      this.#worker = undefined;
      await worker.terminate();
      throw error;
    }
  }

  async write(snapshot: GroupSnapshot): Promise<void> {
    await this.#change({ type: 'write', id: 0, snapshot });
  }

  /** Alert notices into the same file by the same thread, its one writer (DuckDbStore.writeAlerts). */
  async writeAlerts(records: readonly AlertRecord[]): Promise<void> {
    if (records.length > 0) await this.#change({ type: 'alerts', id: 0, records });
  }

  /** DuckDbStore.forgetFrom on the thread, in order with the writes. */
  async forgetFrom(from: RunPeriod): Promise<void> {
    await this.#change({ type: 'forget', id: 0, from });
  }

  async stop(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    try {
      await this.#call({ type: 'stop', id: 0 });
    } finally {
      this.#worker = undefined;
      await worker.terminate();
    }
  }

  /**
   * The read side of this writer's store, answered by its thread (see the file comment). Its
   * `start()` and `stop()` do nothing: it lives while the writer is started, and refuses queries
   * (NS_ERR_QUERY_STORE) before and after.
   */
  queryStore(): FlowQueryStore & AlertQueryStore {
    const query = <M extends StoreQueryMethod>(method: M, ...args: QueryArgs<M>): Promise<QueryResult<M>> => {
      if (this.#worker === undefined) {
        return Promise.reject(new NetSpectraError('NS_ERR_QUERY_STORE', `${this.description} is not open (starting or stopped)`));
      }
      return this.#call({ type: 'query', id: 0, method, args }) as Promise<QueryResult<M>>;
    };
    return {
      description: this.description,
      // answers asked before a write ends may or may not hold it: its end changes the version
      version: () => this.#writes,
      start: async () => undefined,
      stop: async () => undefined,
      health: async (): Promise<StoreHealth> => {
        try {
          return await query('health');
        } catch (error) {
          return { ok: false, detail: `${this.description}: ${errorMessage(error)}` };
        }
      },
      tasks: () => query('tasks'),
      flowTotals: (request) => query('flowTotals', request),
      flows: (request) => query('flows', request),
      series: (request) => query('series', request),
      sketchList: (request) => query('sketchList', request),
      sketchSnapshots: (taskName, range, limit) => query('sketchSnapshots', taskName, range, limit),
      alerts: (request) => query('alerts', request),
      activeAlerts: (request) => query('activeAlerts', request),
    };
  }

  /** A message that changes the file: its end (done or failed) changes the query store's version. */
  async #change(message: ToWriterThread): Promise<void> {
    try {
      await this.#call(message);
    } finally {
      this.#writes++;
    }
  }

  #call(message: ToWriterThread): Promise<unknown> {
    const worker = this.#worker;
    if (worker === undefined) return Promise.reject(new NetSpectraError('NS_ERR_STORE_WRITE', `${this.description} is not started`));
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  }

  #failAll(cause: Error): void {
    const error = new NetSpectraError('NS_ERR_STORE_WRITE', `${this.description}: ${cause.message}`, { cause });
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
