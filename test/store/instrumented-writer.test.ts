import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotWriter } from '../../src/model/ports.js';
import type { GroupSnapshot } from '../../src/model/snapshot.js';
import { InstrumentedWriter } from '../../src/store/instrumented-writer.js';
import { sketchSnapshot } from '../kit/snapshots.js';

test('instrumented writer: counts writes, failures, time and rows; reports only the transitions to failing and back', async () => {
  let fail = false;
  const inner: SnapshotWriter & { rowsWritten: number } = {
    description: 'fake:one',
    acceptsDeltas: true,
    rowsWritten: 0,
    async start() {},
    async write(_snapshot: GroupSnapshot) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fail) throw new Error('server away');
      this.rowsWritten += 10;
    },
    async stop() {},
  };
  const events: string[] = [];
  const writer = new InstrumentedWriter(inner, { onFailing: (w, error) => events.push(`failing ${w.description} ${(error as Error).message}`), onRecovered: (w) => events.push(`recovered ${w.description}`) });
  assert.equal(writer.description, 'fake:one');
  assert.equal(writer.acceptsDeltas, true);
  assert.equal(writer.measurements.started, false);
  await writer.start();
  await writer.write(sketchSnapshot);
  fail = true;
  for (let i = 0; i < 3; i++) await assert.rejects(writer.write(sketchSnapshot), /server away/);
  assert.equal(writer.measurements.lastError, 'server away');
  fail = false;
  await writer.write(sketchSnapshot);
  await writer.stop();
  const m = writer.measurements;
  assert.deepEqual({ ...m, writeSeconds: undefined, lastWriteSeconds: undefined }, {
    description: 'fake:one',
    started: false,
    writes: 2,
    failures: 3,
    writeSeconds: undefined,
    lastWriteSeconds: undefined,
    rows: 20,
    lastError: undefined,
  });
  assert.ok(m.writeSeconds >= 0.02 && m.lastWriteSeconds >= 0.004, JSON.stringify(m));
  assert.deepEqual(events, ['failing fake:one server away', 'recovered fake:one']);
});
