/** Entry point of an engine worker thread: owns a TaskRunner and answers the engine's messages in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { PacketBatch } from '../model/packet.js';
import { TaskRunner } from './task-runner.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('engine worker started outside a worker thread');
const init = workerData as WorkerInit;
const runner = new TaskRunner(init.units);
// Views over the engine's shared batch buffers, made once per buffer.
const views = new WeakMap<SharedArrayBuffer, PacketBatch>();

port.on('message', (message: ToWorker) => {
  try {
    switch (message.type) {
      case 'batch': {
        let batch = views.get(message.buffer);
        if (batch === undefined) {
          batch = new PacketBatch(message.capacity, true, message.buffer);
          views.set(message.buffer, batch);
        }
        batch.count = message.count;
        runner.ingest(batch);
        port.postMessage({ type: 'batch-done', id: message.id } satisfies FromWorker);
        break;
      }
      case 'snapshot': {
        const snapshots = runner.snapshot(message.tasks, message.sinceEpoch);
        port.postMessage({ type: 'snapshot', id: message.id, snapshots } satisfies FromWorker);
        break;
      }
      case 'reset':
        runner.reset();
        port.postMessage({ type: 'reset-done', id: message.id } satisfies FromWorker);
        break;
      case 'stats':
        port.postMessage({ type: 'stats', id: message.id, units: runner.stats() } satisfies FromWorker);
        break;
    }
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    port.postMessage({ type: 'error', id: message.id, message: failure.message, stack: failure.stack } satisfies FromWorker);
  }
});
port.postMessage({ type: 'ready' } satisfies FromWorker);
