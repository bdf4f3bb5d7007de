import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseConfig } from '../../src/config/schema.js';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import { NetSpectraError } from '../../src/model/errors.js';
import type { SnapshotWriter } from '../../src/model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot } from '../../src/model/snapshot.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { decodeSnapshotFile, encodeSnapshotFile } from '../../src/store/snapshot-file.js';
import { SpoolingWriter } from '../../src/store/spooling-writer.js';
import { concatBytes } from '../decode/capture-writer.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { exactSnapshot, sketchSnapshot } from '../kit/snapshots.js';

test('snapshot file: exact columns and sketch lists round-trip; a truncated or foreign file is refused', () => {
  const { snapshot } = exactSnapshot(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], 3000, 5);
  for (const original of [snapshot, sketchSnapshot]) {
    const bytes = concatBytes(encodeSnapshotFile(original));
    assert.equal(bytes.length % 8, 0);
    const back = decodeSnapshotFile(bytes);
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(original)));
    if (original.tasks[0]!.kind === 'exact') {
      const a = (original.tasks[0] as ExactTaskSnapshot).flows;
      const b = (back.tasks[0] as ExactTaskSnapshot).flows;
      assert.deepEqual([...b.keys], [...a.keys.subarray(0, a.count * a.keyWords)]);
      assert.deepEqual([...b.firstNanos], [...a.firstNanos.subarray(0, a.count)]);
      assert.deepEqual([...b.bytes], [...a.bytes.subarray(0, a.count)]);
      assert.throws(() => decodeSnapshotFile(bytes.subarray(0, bytes.length - 8)), /truncated/);
    }
  }
  assert.throws(() => decodeSnapshotFile(new TextEncoder().encode('hello, world')), /not a NetSpectra snapshot file/);
});

test('forgetFrom keeps its place among spooled snapshots, also across a restart, and goes straight through when nothing is spooled', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'ns-spool-forget-'));
  const calls: string[] = [];
  let down = true;
  const unreachable = (): NetSpectraError => new NetSpectraError('NS_ERR_CLICKHOUSE_UNREACHABLE', 'the server is away');
  const inner: SnapshotWriter = {
    description: 'fake',
    start: async () => {
      if (down) throw unreachable();
    },
    write: async (snapshot) => {
      if (down) throw unreachable();
      calls.push(`write ${snapshot.time.seconds}`);
    },
    forgetFrom: async (from) => {
      if (down) throw unreachable();
      calls.push(`forget ${from.runId} ${from.periodId}`);
    },
    stop: async () => undefined,
  };
  const at = (seconds: number): GroupSnapshot => ({ ...sketchSnapshot, time: { seconds, nanos: 0 } });
  try {
    let writer = new SpoolingWriter(inner, { directory, retryMinMs: 20, retryMaxMs: 50 });
    await writer.start();
    await writer.write(at(1));
    await writer.forgetFrom({ runId: 'r', periodId: 7 });
    await writer.write(at(2));
    await writer.stop();
    assert.deepEqual(calls, []);
    assert.deepEqual((await readdir(directory)).sort(), ['000000000001.nssnap', '000000000002.nsforget', '000000000003.nssnap']);

    down = false;
    writer = new SpoolingWriter(inner, { directory, retryMinMs: 20, retryMaxMs: 50 });
    await writer.start();
    assert.ok(await writer.drain(5000));
    await writer.forgetFrom({ runId: 'r', periodId: 8 });
    await writer.stop();
    assert.deepEqual(calls, ['write 1', 'forget r 7', 'write 2', 'forget r 8']);
    assert.deepEqual(await readdir(directory), []);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

describe('spooling writer in front of a ClickHouse that goes away', { skip: clickHouseSkip }, () => {
  let server: ClickHouseServer;
  let folder: string;
  let databases = 0;
  const connection = (): Omit<ClickHouseConfig, 'spoolPath' | 'spoolMaxBytes'> => ({ host: '127.0.0.1', port: server.httpPort, database: `spool_${++databases}`, username: server.username, password: server.password, cloud: false });

  before(async () => {
    server = await ClickHouseServer.start();
    folder = await mkdtemp(join(tmpdir(), 'ns-spool-'));
  });
  after(async () => {
    await server?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  /** Snapshots of a growing per-source table: each a delta of what changed since the previous. */
  function* snapshots(count: number): Generator<{ snapshot: GroupSnapshot; latest: Map<string, number> }> {
    const table = new ExactFlowTable(new KeySpec(['SrcIP']));
    const packets = randomPackets(count * 400, 31, 60);
    const latest = new Map<string, number>();
    for (let s = 0; s < count; s++) {
      for (const batch of fillBatches(packets.slice(s * 400, (s + 1) * 400), 400)) table.ingest(batch);
      const flows = table.toColumns(s === 0 ? -1 : s - 1);
      yield {
        snapshot: { group: 'exact', time: { seconds: 1_700_000_000 + s * 60, nanos: 0 }, periodId: 1_700_000_000, reason: 'interval', tasks: [{ kind: 'exact', name: 'per_src', keyFields: ['SrcIP'], memoryBytes: 0, flows }] },
        latest,
      };
    }
  }

  async function newestPerFlow(database: string): Promise<{ rows: number; packets: number }> {
    const text = await server.query(`SELECT count(), sum(p) FROM (SELECT SrcIP, argMax(PacketCount, Timestamp) AS p FROM ${database}.flow_metrics GROUP BY SrcIP) FORMAT TabSeparated`);
    const [rows, packets] = text.trim().split('\t').map(Number);
    return { rows: rows!, packets: packets! };
  }

  test('writes through while reachable, spools in order while not, and sends the spool when the server is back: nothing lost', async () => {
    const config = connection();
    const directory = join(folder, 'a');
    const writer = new SpoolingWriter(new ClickHouseStore({ connection: config, runId: 'spool-a', engineId: 'e' }), { directory, retryMinMs: 50, retryMaxMs: 200 });
    await writer.start();
    const all = [...snapshots(6)];
    await writer.write(all[0]!.snapshot);
    await writer.write(all[1]!.snapshot);
    assert.equal(writer.stats.spooled, 0);
    await server.kill();
    await writer.write(all[2]!.snapshot);
    await writer.write(all[3]!.snapshot);
    assert.equal(writer.stats.spooled, 2);
    assert.equal(writer.stats.reachable, false);
    assert.equal((await readdir(directory)).filter((n) => n.endsWith('.nssnap')).length, 2);
    await server.restart();
    // written after the restart but still behind the spool: order is kept
    await writer.write(all[4]!.snapshot);
    await writer.write(all[5]!.snapshot);
    assert.equal(await writer.drain(20_000), true, `spool drained (last error: ${writer.lastError?.message})`);
    await writer.stop();
    const stats = writer.stats;
    assert.equal(stats.replayed, stats.spooled);
    assert.equal(stats.queued, 0);
    assert.deepEqual(await readdir(directory), []);
    // every packet of every snapshot is in the newest row per flow
    const got = await newestPerFlow(config.database);
    assert.equal(got.packets, 6 * 400);
    // each snapshot's rows exactly once (times are distinct per snapshot)
    const perSnapshot = (await server.query(`SELECT toUnixTimestamp(Timestamp) AS t, count() FROM ${config.database}.flow_metrics GROUP BY t ORDER BY t FORMAT TabSeparated`)).trim().split('\n');
    assert.equal(perSnapshot.length, 6);
    const expectedRows = all.map(({ snapshot }) => (snapshot.tasks[0] as ExactTaskSnapshot).flows.count);
    assert.deepEqual(
      perSnapshot.map((line) => Number(line.split('\t')[1])),
      expectedRows,
    );
  });

  test('a writer that starts while ClickHouse is down spools, and a later process sends what an earlier one left behind', async () => {
    const config = connection();
    const directory = join(folder, 'b');
    await server.kill();
    const first = new SpoolingWriter(new ClickHouseStore({ connection: config, runId: 'spool-b1', engineId: 'e' }), { directory, retryMinMs: 50, retryMaxMs: 100 });
    await first.start(); // no error: the server may come back
    const all = [...snapshots(3)];
    for (const { snapshot } of all) await first.write(snapshot);
    await first.stop(); // the process ends with its spool on disk
    assert.equal((await readdir(directory)).length, 3);
    await server.restart();
    const second = new SpoolingWriter(new ClickHouseStore({ connection: config, runId: 'spool-b2', engineId: 'e' }), { directory, retryMinMs: 50 });
    await second.start();
    assert.equal(await second.drain(20_000), true);
    await second.stop();
    assert.equal((await newestPerFlow(config.database)).packets, 3 * 400);
    assert.deepEqual(await readdir(directory), []);
  });

  test('a full spool refuses the next snapshot with NS_ERR_SPOOL_FULL and keeps everything before it', async () => {
    const config = connection();
    const directory = join(folder, 'c');
    const all = [...snapshots(4)];
    const size = concatBytes(encodeSnapshotFile(all[0]!.snapshot)).length;
    await server.kill();
    const writer = new SpoolingWriter(new ClickHouseStore({ connection: config, runId: 'spool-c', engineId: 'e' }), { directory, maxBytes: size * 2 + 10, retryMinMs: 50, retryMaxMs: 100 });
    await writer.start();
    await writer.write(all[0]!.snapshot);
    await writer.write(all[1]!.snapshot);
    await assert.rejects(writer.write(all[2]!.snapshot), (error: Error & { code?: string }) => error.code === 'NS_ERR_SPOOL_FULL' && error.message.includes(directory));
    assert.equal(writer.stats.refused, 1);
    await server.restart();
    assert.equal(await writer.drain(20_000), true);
    await writer.stop();
    assert.equal(writer.stats.replayed, 2);
  });

  test('a damaged spool file is set aside as .failed and the rest is still sent', async () => {
    const config = connection();
    const directory = join(folder, 'd');
    const all = [...snapshots(2)];
    await server.kill();
    const first = new SpoolingWriter(new ClickHouseStore({ connection: config, runId: 'spool-d1', engineId: 'e' }), { directory, retryMinMs: 50 });
    await first.start();
    await first.write(all[0]!.snapshot);
    await first.write(all[1]!.snapshot);
    await first.stop();
    const [firstFile] = (await readdir(directory)).sort();
    await writeFile(join(directory, firstFile!), 'garbage');
    await server.restart();
    const second = new SpoolingWriter(new ClickHouseStore({ connection: config, runId: 'spool-d2', engineId: 'e' }), { directory, retryMinMs: 50 });
    await second.start();
    assert.equal(await second.drain(20_000), true);
    await second.stop();
    assert.deepEqual(await readdir(directory), [`${firstFile}.failed`]);
    assert.match(second.lastError?.message ?? '', /snapshot/);
  });
});
