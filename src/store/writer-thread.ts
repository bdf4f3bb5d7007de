/** Entry point of a writer thread (see threaded-writer.ts): one writer, messages handled in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { isNetSpectraError } from '../model/errors.js';
import type { SnapshotWriter } from '../model/ports.js';
import { DuckDbStore } from './duckdb-store.js';
import type { FromWriterThread, ToWriterThread, WriterSpec } from './threaded-writer.js';

const port = parentPort;
if (port === null) throw new Error('writer thread started outside a worker thread');
const spec = workerData as WriterSpec;
const writer: SnapshotWriter = new DuckDbStore(spec.options);
let queue = Promise.resolve();

port.on('message', (message: ToWriterThread) => {
  queue = queue.then(async () => {
    try {
      if (message.type === 'start') await writer.start();
      else if (message.type === 'write') await writer.write(message.snapshot);
      else await writer.stop();
      port.postMessage({ type: 'done', id: message.id } satisfies FromWriterThread);
    } catch (error) {
      port.postMessage({
        type: 'failed',
        id: message.id,
        code: isNetSpectraError(error) ? error.code : undefined,
        message: error instanceof Error ? error.message : String(error),
      } satisfies FromWriterThread);
    }
  });
});
