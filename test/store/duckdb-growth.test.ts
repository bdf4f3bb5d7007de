/**
 * The embedded store's rows carry their growth since the previous row of their segment: checked
 * row by row over delta snapshots and a period reset, and end to end through a crash-resume of the
 * same run (forgetFrom, through the writer thread), where the replay must not count twice.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import type { GroupSnapshot } from '../../src/model/snapshot.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { ThreadedWriter } from '../../src/store/threaded-writer.js';
import { fillBatches, randomPackets, type RandomPacket } from '../kit/random-packets.js';
import { FIVE_TUPLE } from '../kit/snapshots.js';

const dir = await mkdtemp(join(tmpdir(), 'ns-duckdb-growth-'));
after(() => rm(dir, { recursive: true, force: true }));

const P1 = 1_700_000_000;
const P2 = 1_700_000_300;

/** Three batches: two snapshots of period P1 (the second a delta), one of P2 after a reset. */
function traffic(): { packets: RandomPacket[]; snapshots: GroupSnapshot[] } {
  const batches = [randomPackets(3000, 41, 200, P1 + 1), randomPackets(3000, 42, 200, P1 + 101), randomPackets(3000, 43, 200, P2 + 1)];
  let table = new ExactFlowTable(new KeySpec(FIVE_TUPLE));
  const snapshots: GroupSnapshot[] = [];
  for (const [i, packets] of batches.entries()) {
    if (i === 2) table = new ExactFlowTable(new KeySpec(FIVE_TUPLE));
    for (const batch of fillBatches(packets, 512)) table.ingest(batch);
    const at = i === 2 ? P2 + 100 : P1 + 100 * (i + 1);
    // the delta a store that holds the previous snapshot gets (epoch 0 was stored): changed flows only
    const flows = i === 1 ? table.toColumns(0) : table.toColumns();
    snapshots.push({ group: 'exact', time: { seconds: at, nanos: 0 }, periodId: i === 2 ? P2 : P1, reason: 'interval', tasks: [{ kind: 'exact', name: 'five', keyFields: FIVE_TUPLE, memoryBytes: 0, flows }] });
  }
  return { packets: batches.flat(), snapshots };
}

const sum = (packets: RandomPacket[]): { packets: number; bytes: number } => ({ packets: packets.length, bytes: packets.reduce((total, p) => total + p.length, 0) });

test("every row's growth is its packets and bytes since the previous row of its segment; snapshots hold the sums", async () => {
  const path = join(dir, 'rows.duckdb');
  const { packets, snapshots } = traffic();
  const store = new DuckDbStore({ path, runId: 'run', inputs: [], tool: 'test' });
  await store.start();
  for (const snapshot of snapshots) await store.write(snapshot);
  const rows = (
    await store.connection.runAndReadAll(
      `SELECT s.PeriodId, s.TimestampNs, r.PacketCount, r.ByteCount, r.DeltaPackets, r.DeltaBytes,
         coalesce(lag(r.PacketCount) OVER w, 0) AS prevPackets, coalesce(lag(r.ByteCount) OVER w, 0) AS prevBytes
       FROM flow_metrics_raw r JOIN snapshots s USING (SnapshotId)
       WINDOW w AS (PARTITION BY s.PeriodId, r.Family, r.SrcHi, r.SrcLo, r.DstHi, r.DstLo, r.SrcPort, r.DstPort, r.Protocol ORDER BY s.TimestampNs)`,
    )
  ).getRowObjectsJS();
  assert.ok(rows.length > 3000);
  for (const row of rows) {
    assert.equal(row.DeltaPackets, BigInt(row.PacketCount as bigint) - BigInt(row.prevPackets as bigint));
    assert.equal(row.DeltaBytes, BigInt(row.ByteCount as bigint) - BigInt(row.prevBytes as bigint));
    assert.ok(Number(row.DeltaPackets) > 0, 'a delta snapshot holds only flows that grew');
  }
  const [totals] = (await store.connection.runAndReadAll('SELECT sum(Packets)::BIGINT AS p, sum(Bytes)::BIGINT AS b, sum(Flows)::BIGINT AS f FROM snapshots')).getRowObjectsJS();
  assert.deepEqual([Number(totals!.p), Number(totals!.b), Number(totals!.f)], [sum(packets).packets, sum(packets).bytes, rows.length]);
  await store.stop();
});

test('a resumed run forgets what it wrote from the resumed period on, so its replay counts once (through the writer thread)', async () => {
  const path = join(dir, 'resume.duckdb');
  const { packets, snapshots } = traffic();
  const crashed = new ThreadedWriter({ kind: 'duckdb', options: { path, runId: 'run-r', inputs: [], tool: 'test' } });
  await crashed.start();
  for (const snapshot of snapshots) await crashed.write(snapshot);
  await crashed.stop();
  // the engine restarts, resumes period P2 of the same run and replays it from its start
  const resumed = new ThreadedWriter({ kind: 'duckdb', options: { path, runId: 'run-r', inputs: [], tool: 'test' } });
  await resumed.start();
  await resumed.forgetFrom({ runId: 'run-r', periodId: P2 });
  await resumed.write(snapshots[2]!);
  const live = new QueryService(resumed.queryStore());
  const [total] = await live.aggregateFlows({ taskName: 'five' });
  await resumed.stop();
  assert.deepEqual({ packets: total!.packets, bytes: total!.bytes }, sum(packets));

  // without forgetting, the replay would have been counted on top of the crashed process's rows
  const reader = new DuckDbQueryStore({ path });
  await reader.start();
  const [again] = await new QueryService(reader).aggregateFlows({ taskName: 'five' });
  await reader.stop();
  assert.deepEqual({ packets: again!.packets, bytes: again!.bytes }, sum(packets));
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  const periods = (await connection.runAndReadAll('SELECT PeriodId, count(*) AS n FROM snapshots GROUP BY PeriodId ORDER BY PeriodId')).getRowsJS();
  connection.closeSync();
  instance.closeSync();
  assert.deepEqual(periods, [
    [BigInt(P1), 2n],
    [BigInt(P2), 1n],
  ], "P2's snapshot of the crashed process is gone, P1's stay");
});
