/**
 * Runs a writer on its own thread. The DuckDB appender's flush is synchronous native work (about
 * 0.5 µs a row); on the main thread it stalls the reader, and with it every engine worker.
 *
 * Snapshots reach the thread without a copy: their flow columns live in SharedArrayBuffers (see
 * allocateFlowColumns), which postMessage shares; the store then picks the flows it writes.
 */
import { Worker } from 'node:worker_threads';
import { NetSpectraError, type ErrorCode } from '../model/errors.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import type { DuckDbStoreOptions } from './duckdb-store.js';

/** What the writer thread should build. */
export type WriterSpec = { kind: 'duckdb'; options: DuckDbStoreOptions };

export type ToWriterThread = { type: 'start'; id: number } | { type: 'write'; id: number; snapshot: GroupSnapshot } | { type: 'stop'; id: number };

export type FromWriterThread = { type: 'done'; id: number } | { type: 'failed'; id: number; code: ErrorCode | undefined; message: string };

export class ThreadedWriter implements SnapshotWriter {
  readonly description: string;
  /** The DuckDB store writes only flows changed since its previous snapshot. */
  readonly acceptsDeltas = true;
  readonly #spec: WriterSpec;
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

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
      if (message.type === 'done') pending.resolve();
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
    await this.#call({ type: 'write', id: 0, snapshot });
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

  #call(message: ToWriterThread): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return Promise.reject(new NetSpectraError('NS_ERR_STORE_WRITE', `${this.description} is not started`));
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
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
