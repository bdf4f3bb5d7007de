/**
 * Entry point of a writer thread (see threaded-writer.ts): one writer, its start, writes and stop
 * handled in order; queries (if any are asked) beside them on connections of their own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DuckDBConnection } from '@duckdb/node-api';
import { NetSpectraError, isNetSpectraError, errorMessage } from '../model/errors.js';
import type { AlertQueryStore, FlowQueryStore } from '../model/ports.js';
import { DuckDbQueryStore } from './duckdb-query.js';
import { DuckDbStore } from './duckdb-store.js';
import type { FromWriterThread, StoreQueryMethod, ToWriterThread, WriterSpec } from './threaded-writer.js';

/**
 * Connections queries are spread over. Each runs one statement at a time; two let a long query
 * (a series over a big range) not hold up every other one, and DuckDB runs a statement on the
 * thread that asked for it even with the store's single worker thread.
 */
const QUERY_CONNECTIONS = 2;

const port = parentPort;
if (port === null) throw new Error('writer thread started outside a worker thread');
const spec = workerData as WriterSpec;
const store = new DuckDbStore(spec.options);
let queue = Promise.resolve();
/** Whether queries may run: after start, until stop begins. */
let open = false;
let readers: Promise<{ connections: DuckDBConnection[]; stores: (FlowQueryStore & AlertQueryStore)[] }> | undefined;
let nextReader = 0;
const inFlight = new Set<Promise<void>>();

function answer(id: number, work: () => Promise<unknown>): Promise<void> {
  return work().then(
    (result) => port!.postMessage({ type: 'done', id, result } satisfies FromWriterThread),
    (error: unknown) =>
      port!.postMessage({
        type: 'failed',
        id,
        code: isNetSpectraError(error) ? error.code : undefined,
        message: errorMessage(error),
      } satisfies FromWriterThread),
  );
}

async function openReaders(): Promise<{ connections: DuckDBConnection[]; stores: (FlowQueryStore & AlertQueryStore)[] }> {
  const connections: DuckDBConnection[] = [];
  for (let i = 0; i < QUERY_CONNECTIONS; i++) connections.push(await store.connect());
  return { connections, stores: connections.map((connection) => new DuckDbQueryStore({ connection, description: store.description })) };
}

async function query(method: StoreQueryMethod, args: unknown[]): Promise<unknown> {
  if (!open) throw new NetSpectraError('NS_ERR_QUERY_STORE', `${store.description} is not open (starting or stopping)`);
  readers ??= openReaders();
  const { stores } = await readers;
  const reader = stores[nextReader++ % stores.length]!;
  return (reader[method] as (...a: unknown[]) => Promise<unknown>).apply(reader, args);
}

async function stop(): Promise<void> {
  open = false;
  // queries already running finish on their connections before those close
  await Promise.allSettled([...inFlight]);
  if (readers !== undefined) {
    const opened = await readers.catch(() => undefined);
    for (const connection of opened?.connections ?? []) connection.closeSync();
    readers = undefined;
  }
  await store.stop();
}

port.on('message', (message: ToWriterThread) => {
  if (message.type === 'query') {
    const running = answer(message.id, () => query(message.method, message.args));
    inFlight.add(running);
    void running.finally(() => inFlight.delete(running));
    return;
  }
  queue = queue.then(() =>
    answer(message.id, async () => {
      if (message.type === 'start') {
        await store.start();
        open = true;
      } else if (message.type === 'write') await store.write(message.snapshot);
      else if (message.type === 'alerts') await store.writeAlerts(message.records);
      else if (message.type === 'forget') await store.forgetFrom(message.from);
      else await stop();
    }),
  );
});
