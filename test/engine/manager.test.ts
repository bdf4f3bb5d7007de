import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { Manager } from '../../src/engine/manager.js';
import type { SnapshotWriter } from '../../src/model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot } from '../../src/model/snapshot.js';
import { fillBatches, randomPackets, type RandomPacket } from '../kit/random-packets.js';

/** A writer that keeps what it is given, so the schedule can be checked. */
class RecordingWriter implements SnapshotWriter {
  readonly description = 'recording';
  readonly snapshots: GroupSnapshot[] = [];
  started = false;
  async start(): Promise<void> {
    this.started = true;
  }
  async write(snapshot: GroupSnapshot): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1)); // writes finish after the packet path moved on
    this.snapshots.push(snapshot);
  }
  async stop(): Promise<void> {}
}

function packetsTotal(snapshot: GroupSnapshot): number {
  const task = snapshot.tasks[0] as ExactTaskSnapshot;
  let sum = 0;
  for (let i = 0; i < task.flows.count; i++) sum += task.flows.packets[i]!;
  return sum;
}

async function run(packets: readonly RandomPacket[], intervalMs: number, periodMs: number, workers: number, batchCapacity = 256) {
  const engine = new Engine({ workers, batchCapacity, tasks: { exact: [{ name: 'per_src', keyFields: ['SrcIP'], seed: 1 }], sketch: [] } });
  const writer = new RecordingWriter();
  const manager = new Manager({ engine, periodMs, groups: [{ name: 'exact', taskNames: ['per_src'], writers: [{ writer, intervalMs }] }] });
  await engine.start();
  try {
    for (const source of fillBatches(packets, batchCapacity)) {
      const batch = engine.pool.acquire();
      for (let i = 0; i < source.count; i++) batch.copyPacketFrom(source, i);
      await manager.ingest(batch);
    }
    const finals = await manager.finish();
    return { writer, finals };
  } finally {
    await engine.stop();
  }
}

/** In-order packets: exactly one per 10 ms from a whole second. */
function evenPackets(count: number, start = 1_700_000_000): RandomPacket[] {
  return randomPackets(count, 5).map((p, i) => ({ ...p, seconds: start + Math.floor(i / 100), nanos: (i % 100) * 10_000_000 }));
}

test('snapshots fall on interval boundaries of packet time and count every packet before them', async () => {
  const packets = evenPackets(1000); // 10 s of capture time
  const { writer } = await run(packets, 2000, 3_600_000, 1);
  const times = writer.snapshots.map((s) => `${s.time.seconds - 1_700_000_000}:${s.reason}`);
  // 1_700_000_000 is a multiple of 2 s, so boundaries at +2, +4, +6, +8 s; then the final at the last packet
  assert.deepEqual(times, ['2:interval', '4:interval', '6:interval', '8:interval', '9:final']);
  // cumulative counters within the period: 200 packets per 2 s
  assert.deepEqual(
    writer.snapshots.map(packetsTotal),
    [200, 400, 600, 800, 1000],
  );
});

test('the period resets all tasks after a snapshot of everything before the boundary', async () => {
  const packets = evenPackets(1000);
  const { writer, finals } = await run(packets, 2000, 5000, 2);
  const seen = writer.snapshots.map((s) => [s.time.seconds - 1_700_000_000, s.reason, packetsTotal(s), s.periodId - 1_700_000_000]);
  assert.deepEqual(seen, [
    [2, 'interval', 200, 0],
    [4, 'interval', 400, 0],
    [5, 'period-end', 500, 0],
    [6, 'interval', 100, 5],
    [8, 'interval', 300, 5],
    [9, 'final', 500, 5],
  ]);
  assert.equal(packetsTotal(finals[0]!), 500);
});

test('results do not depend on batch size or worker count', async () => {
  const packets = randomPackets(5000, 77);
  const a = await run(packets, 1000, 60_000, 0, 97);
  const b = await run(packets, 1000, 60_000, 3, 1024);
  assert.deepEqual(
    a.writer.snapshots.map((s) => [s.time, s.reason, packetsTotal(s)]),
    b.writer.snapshots.map((s) => [s.time, s.reason, packetsTotal(s)]),
  );
  assert.ok(a.writer.snapshots.length > 3);
});

test('a quiet gap in the capture does not produce a snapshot per empty interval', async () => {
  const packets = [...evenPackets(100), ...evenPackets(100, 1_700_000_000 + 3600)];
  const { writer } = await run(packets, 1000, 86_400_000, 1);
  assert.ok(writer.snapshots.length <= 4, `got ${writer.snapshots.length} snapshots`);
  assert.equal(packetsTotal(writer.snapshots.at(-1)!), 200);
});

test('delta snapshots: a store that keeps changes only ends with every flow exact, per period', async () => {
  const { DuckDbStore } = await import('../../src/store/duckdb-store.js');
  const { referenceFlows } = await import('../kit/random-packets.js');
  const packets = randomPackets(30_000, 8, 400); // ~25 min of capture time
  const engine = new Engine({ workers: 1, batchCapacity: 512, tasks: { exact: [{ name: 'per_src', keyFields: ['SrcIP'], seed: 3 }], sketch: [] } });
  const store = new DuckDbStore({ path: ':memory:', runId: 'delta', inputs: [], tool: 'test' });
  const recorder = new RecordingWriter();
  Object.assign(recorder, { acceptsDeltas: true });
  const periodMs = 600_000;
  const manager = new Manager({
    engine,
    periodMs,
    groups: [{ name: 'exact', taskNames: ['per_src'], writers: [{ writer: store, intervalMs: 60_000 }, { writer: recorder, intervalMs: 60_000 }] }],
  });
  await store.start();
  await engine.start();
  try {
    for (const source of fillBatches(packets, 512)) {
      const batch = engine.pool.acquire();
      for (let i = 0; i < source.count; i++) batch.copyPacketFrom(source, i);
      await manager.ingest(batch);
    }
    await manager.finish();
    const intervals = recorder.snapshots.filter((s) => s.reason === 'interval').map((s) => (s.tasks[0] as ExactTaskSnapshot).flows);
    assert.ok(intervals.some((f) => f.sinceEpoch >= 0), 'interval snapshots after the first are deltas');
    assert.ok(recorder.snapshots.filter((s) => s.reason !== 'interval').every((s) => (s.tasks[0] as ExactTaskSnapshot).flows.sinceEpoch === -1), 'period ends and the final are complete');
    // per period: the newest row of every flow equals the reference over that period's packets
    // A period ends at the first packet at or past its end, in arrival order: a late packet that
    // arrives after the reset belongs to the new period (it cannot go back into a reset table).
    const msOf = (p: RandomPacket): number => p.seconds * 1000 + p.nanos / 1e6;
    let start = msOf(packets[0]!);
    let index = 0;
    const periodByPacket = new Map<RandomPacket, number>();
    for (const p of packets) {
      if (msOf(p) >= start + periodMs) {
        start += Math.floor((msOf(p) - start) / periodMs) * periodMs;
        index++;
      }
      periodByPacket.set(p, index);
    }
    const periodOf = (p: RandomPacket): number => periodByPacket.get(p)!;
    const periods = [...new Set(packets.map(periodOf))];
    assert.ok(periods.length >= 2, 'the capture spans several periods');
    const rows = (await store.connection.runAndReadAll(
      'SELECT PeriodId::DOUBLE, SrcIP, arg_max(PacketCount, TimestampNs)::DOUBLE, arg_max(ByteCount, TimestampNs)::DOUBLE FROM flow_metrics GROUP BY ALL ORDER BY 1',
    )).getRowsJS();
    const periodIds = [...new Set(rows.map((r) => r[0] as number))].sort((a, b) => a - b);
    assert.equal(periodIds.length, periods.length);
    periodIds.forEach((periodId, index) => {
      const reference = referenceFlows(packets.filter((p) => periodOf(p) === index), ['SrcIP']);
      const mine = rows.filter((r) => r[0] === periodId);
      assert.equal(mine.length, reference.size, `period ${index}: flows`);
      for (const [, ip, count, bytes] of mine) {
        const want = reference.get(JSON.stringify({ SrcIP: ip }));
        assert.deepEqual([count, bytes], [want?.packets, want?.bytes], `period ${index}: ${JSON.stringify(ip)}`);
      }
    });
  } finally {
    await engine.stop();
    await store.stop();
  }
});

test('wall clock (live): tick() takes the snapshots and the period reset due by now, whatever the packet timestamps say', async () => {
  let now = 1_700_000_000_500; // ms, half a second past a whole second
  const engine = new Engine({ workers: 1, batchCapacity: 256, tasks: { exact: [{ name: 'per_src', keyFields: ['SrcIP'], seed: 1 }], sketch: [] } });
  const writer = new RecordingWriter();
  const periods: GroupSnapshot[][] = [];
  const manager = new Manager({
    engine,
    periodMs: 10_000,
    clock: 'wall',
    now: () => now,
    groups: [{ name: 'exact', taskNames: ['per_src'], writers: [{ writer, intervalMs: 2000 }] }],
    onPeriodEnd: (snapshots) => void snapshots.then((s) => periods.push(s)),
  });
  await engine.start();
  try {
    // packets stamped years ago: a live engine goes by the wall clock, not by them
    const packets = randomPackets(300, 9, 50, 1_500_000_000);
    const feed = async (from: number, to: number): Promise<void> => {
      for (const source of fillBatches(packets.slice(from, to), 256)) {
        const batch = engine.pool.acquire();
        for (let i = 0; i < source.count; i++) batch.copyPacketFrom(source, i);
        await manager.ingest(batch);
      }
    };
    await manager.tick(); // starts the clock: period 1_700_000_000.5 .. +10 s
    await feed(0, 100);
    now += 1000;
    await manager.tick(); // 1_700_000_001.5: nothing due yet
    await feed(100, 200);
    now += 1000; // 1_700_000_002.5: the 2 s boundary passed
    await manager.tick();
    now += 8500; // 1_700_000_011.0: boundaries 4, 6, 8, 10 and the period end at 10.5 passed
    await manager.tick();
    await feed(200, 300); // into the new period
    now += 200;
    await manager.finish();
    const seen = writer.snapshots.map((s) => `${(s.time.seconds - 1_700_000_000) * 1000 + Math.round(s.time.nanos / 1e6)}:${s.reason}:${packetsTotal(s)}`);
    // the 4 s snapshot, then (quiet gap) straight to the period end at 10.5 s; then the final
    assert.deepEqual(seen, ['2000:interval:200', '4000:interval:200', '10500:period-end:200', '11200:final:100']);
    assert.equal(periods.length, 1);
    assert.equal(packetsTotal(periods[0]![0]!), 200);
  } finally {
    await engine.stop();
  }
});
