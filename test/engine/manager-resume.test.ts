/**
 * The Manager options of JetStream durable mode (docs/pipeline.md): resuming a period that began
 * before the process started, aligned periods, period ends stamped when they are taken, and the
 * period-end barrier that keeps every write of the new period behind the owner's checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { Manager } from '../../src/engine/manager.js';
import type { SnapshotWriter } from '../../src/model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot } from '../../src/model/snapshot.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';

class RecordingWriter implements SnapshotWriter {
  readonly description = 'recording';
  readonly snapshots: GroupSnapshot[] = [];
  /** What happened, in order, with the barrier's events. */
  readonly log: string[];
  constructor(log: string[]) {
    this.log = log;
  }
  async start(): Promise<void> {}
  async write(snapshot: GroupSnapshot): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.snapshots.push(snapshot);
    this.log.push(`write ${snapshot.reason} period ${snapshot.periodId}`);
  }
  async stop(): Promise<void> {}
}

function packetsTotal(snapshot: GroupSnapshot): number {
  const task = snapshot.tasks[0] as ExactTaskSnapshot;
  let sum = 0;
  for (let i = 0; i < task.flows.count; i++) sum += task.flows.packets[i]!;
  return sum;
}

test('resume: the first period starts at the given time, no snapshot falls before the start, a late period end is stamped when taken, and the new period’s writes wait for the barrier', async () => {
  const log: string[] = [];
  const writer = new RecordingWriter(log);
  const engine = new Engine({ workers: 0, batchCapacity: 256, tasks: { exact: [{ name: 'per_src', keyFields: ['SrcIP'], seed: 1 }], sketch: [] } });
  // the process starts at 1_700_000_025.3 s; the checkpointed period began at 1_700_000_000 (10 s periods)
  let now = 1_700_000_025_300;
  let release: () => void = () => undefined;
  const barriers: { periodId: number; periodStartMs: number; failed: number }[] = [];
  const manager = new Manager({
    engine,
    periodMs: 10_000,
    clock: 'wall',
    now: () => now,
    firstPeriodStartMs: 1_700_000_000_000,
    lateTimestampAfterMs: 0,
    groups: [{ name: 'exact', taskNames: ['per_src'], writers: [{ writer, intervalMs: 2000 }] }],
    periodEndBarrier: async (next, written) => {
      const failed = await written;
      log.push(`barrier reached for period ${next.periodId}`);
      barriers.push({ ...next, failed });
      await new Promise<void>((resolve) => (release = resolve));
      log.push(`checkpoint of period ${next.periodId}`);
    },
  });
  await engine.start();
  try {
    const packets = randomPackets(200, 3, 50, 1_500_000_000);
    const feed = async (from: number, to: number): Promise<void> => {
      for (const source of fillBatches(packets.slice(from, to), 256)) {
        const batch = engine.pool.acquire();
        for (let i = 0; i < source.count; i++) batch.copyPacketFrom(source, i);
        await manager.ingest(batch);
      }
    };
    await feed(0, 100); // the replay, before any tick
    assert.equal(manager.periodId, 1_700_000_000, 'the resumed period');
    assert.equal(manager.periodStartMs, 1_700_000_000_000);
    await manager.tick(); // long past the period's end (…010): it ends now
    assert.equal(manager.periodId, 1_700_000_020, 'the new period is aligned to the period length');
    await feed(100, 200);
    now += 2000; // 1_700_000_027.3: an interval snapshot of the new period is due (…026)
    await manager.tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // the period-end snapshot is written, the interval snapshot of the new period waits for the barrier
    assert.deepEqual(log, ['write period-end period 1700000000', 'barrier reached for period 1700000020']);
    release();
    const finals = await manager.finish();
    assert.equal(packetsTotal(finals[0]!), 100);
  } finally {
    await engine.stop();
  }
  assert.deepEqual(log, [
    'write period-end period 1700000000',
    'barrier reached for period 1700000020',
    'checkpoint of period 1700000020',
    'write interval period 1700000020',
    'write final period 1700000020',
  ]);
  assert.deepEqual(barriers, [{ periodId: 1_700_000_020, periodStartMs: 1_700_000_020_000, failed: 0 }]);
  const [periodEnd, interval] = writer.snapshots;
  // stamped when taken (25.3 s), not at the boundary (10 s): newer than any row of an earlier process
  assert.deepEqual(periodEnd!.time, { seconds: 1_700_000_025, nanos: 300_000_000 });
  assert.equal(packetsTotal(periodEnd!), 100, 'every replayed packet in the resumed period');
  // the first interval snapshot after the resume is after the process started, on an interval boundary
  assert.deepEqual(interval!.time, { seconds: 1_700_000_026, nanos: 0 });
  assert.equal(packetsTotal(interval!), 100);
});

test('aligned periods: without a start, the first period begins at the last multiple of the period since the epoch', async () => {
  const engine = new Engine({ workers: 0, batchCapacity: 256, tasks: { exact: [{ name: 'per_src', keyFields: ['SrcIP'], seed: 1 }], sketch: [] } });
  const manager = new Manager({ engine, periodMs: 60_000, clock: 'wall', now: () => 1_700_000_123_456, alignPeriods: true, groups: [{ name: 'exact', taskNames: ['per_src'], writers: [] }] });
  await engine.start();
  try {
    await manager.tick();
    // 1_700_000_100_000 = 28_333_335 whole minutes since the epoch
    assert.equal(manager.periodStartMs, 1_700_000_100_000);
    assert.equal(manager.periodId, 1_700_000_100);
  } finally {
    await engine.stop();
  }
});
