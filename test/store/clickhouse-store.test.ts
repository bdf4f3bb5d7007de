/**
 * What only the ClickHouse store does (the shared behaviour is in flow-store-contract.test.ts):
 * upgrading the original's tables, refusing mismatching ones, connection and credential errors
 * with stable codes, a write that fails during an outage and succeeds when written again, the
 * growth each row carries (DeltaBytes/DeltaPackets), and queries over a table the original wrote.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../../src/config/schema.js';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import { NetSpectraError, type ErrorCode } from '../../src/model/errors.js';
import type { GroupSnapshot } from '../../src/model/snapshot.js';
import { parseAddress } from '../../src/model/ip.js';
import type { AddressMatch } from '../../src/model/query.js';
import { ClickHouseQueryStore } from '../../src/store/clickhouse-query.js';
import { identifier, sql } from '../../src/store/clickhouse-sql.js';
import { ClickHouseStore, clickHouseUrl } from '../../src/store/clickhouse-store.js';
import { fillBatches, randomPackets, referenceFlows } from '../kit/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { exactSnapshot, sketchSnapshot } from '../kit/snapshots.js';

test('the HTTP URL follows the original native port (9000 → 8123, 9440 → 8443) and `cloud` (→ https)', () => {
  assert.equal(clickHouseUrl({ host: 'localhost', port: 9000, cloud: false }), 'http://localhost:8123');
  assert.equal(clickHouseUrl({ host: 'abc.clickhouse.cloud', port: 9440, cloud: true }), 'https://abc.clickhouse.cloud:8443');
  assert.equal(clickHouseUrl({ host: 'db', port: 18123, cloud: false }), 'http://db:18123');
  assert.equal(clickHouseUrl({ host: '::1', port: 8123, cloud: false }), 'http://[::1]:8123');
});

test('a database name that is not a plain identifier is refused before anything is sent', async () => {
  const store = new ClickHouseStore({ connection: { host: '127.0.0.1', port: 1, database: 'a;DROP', username: 'default', password: '', cloud: false }, runId: 'r' });
  await assert.rejects(store.start(), (error: NetSpectraError) => error.code === 'NS_ERR_CLICKHOUSE_QUERY' && error.message.includes('an identifier is'));
});

/** The original's DDL (internal/engine/impl/{exact,sketch}/writer_clickhouse.go), verbatim. */
const ORIGINAL_FLOW_METRICS = `
CREATE TABLE IF NOT EXISTS flow_metrics (
    Timestamp   DateTime,
    TaskName    String,
    SrcIP       Nullable(String),
    DstIP       Nullable(String),
    SrcPort     Nullable(UInt16),
    DstPort     Nullable(UInt16),
    Protocol    Nullable(UInt8),
    StartTime   DateTime,
    EndTime     DateTime,
    ByteCount   UInt64,
    PacketCount UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (TaskName, Timestamp);
`;
const ORIGINAL_HEAVY_HITTERS = `
CREATE TABLE IF NOT EXISTS heavy_hitters (
    Timestamp   DateTime,
    TaskName    String,
    Flow        String,
    Value       UInt64,
	Type		UInt8
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (TaskName, Timestamp);
`;

function failsWith(code: ErrorCode, ...fragments: string[]): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof NetSpectraError, `not a NetSpectraError: ${inspect(error)}`);
    assert.equal(error.code, code, error.message);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `"${error.message}" does not mention ${fragment}`);
    return true;
  };
}

describe('ClickHouse store against a private server', { skip: clickHouseSkip }, () => {
  let server: ClickHouseServer;
  let databases = 0;
  const connection = (database = `store_${++databases}`): Omit<ClickHouseConfig, 'spoolPath' | 'spoolMaxBytes'> => ({
    host: '127.0.0.1',
    port: server.httpPort,
    database,
    username: server.username,
    password: server.password,
    cloud: false,
  });
  /** A client on `database`, as the original and its dashboards connect. */
  const originalClient = (database: string) => createClient({ url: server.url, username: server.username, password: server.password, database });

  before(async () => {
    server = await ClickHouseServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  test("an original table gets our columns appended (even by two engines at once); the original's inserts and queries keep working", async () => {
    const database = 'original_schema';
    await server.query(`CREATE DATABASE ${database}`);
    const original = originalClient(database);
    try {
      await original.command({ query: ORIGINAL_FLOW_METRICS });
      await original.command({ query: ORIGINAL_HEAVY_HITTERS });
      // a row the original wrote before the upgrade
      await original.insert({
        table: 'flow_metrics',
        format: 'JSONEachRow',
        values: [{ Timestamp: 1_600_000_000, TaskName: 'old', SrcIP: '10.1.1.1', DstIP: null, SrcPort: null, DstPort: null, Protocol: null, StartTime: 1_599_999_990, EndTime: 1_599_999_999, ByteCount: 10, PacketCount: 1 }],
      });
      const a = new ClickHouseStore({ connection: connection(database), runId: 'run-a', engineId: 'a' });
      const b = new ClickHouseStore({ connection: connection(database), runId: 'run-b', engineId: 'b' });
      await Promise.all([a.start(), b.start()]);
      try {
        const columns = await a.select<{ table: string; name: string; type: string; default_expression: string }>(
          sql`SELECT table, name, type, default_expression FROM system.columns WHERE database = ${database}`, // in table order (18.16 has no `position`)
        );
        const names = (table: string) => columns.filter((c) => c.table === table).map((c) => c.name);
        assert.deepEqual(names('flow_metrics'), [
          ...['Timestamp', 'TaskName', 'SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol', 'StartTime', 'EndTime', 'ByteCount', 'PacketCount'],
          ...['TimestampNs', 'StartTimeNs', 'EndTimeNs', 'PeriodId', 'RunId', 'EngineId', 'DeltaBytes', 'DeltaPackets', 'HasDeltas', 'KeyHash'],
        ]);
        assert.deepEqual(names('heavy_hitters'), ['Timestamp', 'TaskName', 'Flow', 'Value', 'Type', 'TimestampNs', 'PeriodId', 'RunId', 'EngineId']);

        const five = exactSnapshot(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], 2000, 5);
        await a.write(five.snapshot);
        await b.write(sketchSnapshot);
        // the original inserts only its own columns, after the upgrade too
        await original.insert({
          table: 'heavy_hitters',
          format: 'JSONEachRow',
          values: [{ Timestamp: 1_700_000_120, TaskName: 'old_hh', Flow: '10.0.0.9', Value: 5, Type: 0 }],
        });
        const rows = await (await original.query({ query: 'SELECT TaskName, count() AS n, any(RunId) AS run, any(EngineId) AS engine FROM flow_metrics GROUP BY TaskName ORDER BY TaskName', format: 'JSONEachRow' })).json();
        assert.deepEqual(rows, [
          { TaskName: 'old', n: '1', run: '', engine: '' },
          { TaskName: 't_SrcIP_DstIP_SrcPort_DstPort_Protocol', n: String(referenceFlows(five.packets, ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']).size), run: 'run-a', engine: 'a' },
        ]);
        // rows of the original get nanosecond times derived from their seconds
        const old = await a.select<Record<string, string>>(sql`SELECT TimestampNs, StartTimeNs, EndTimeNs, PeriodId FROM ${identifier(database, 'flow_metrics')} WHERE TaskName = 'old'`);
        assert.deepEqual(old, [{ TimestampNs: '1600000000000000000', StartTimeNs: '1599999990000000000', EndTimeNs: '1599999999000000000', PeriodId: '0' }]);
        const hh = await (await original.query({ query: 'SELECT TaskName, Flow, Value, Type, EngineId FROM heavy_hitters ORDER BY TaskName, Type, Value', format: 'JSONEachRow' })).json();
        assert.deepEqual(hh, [
          { TaskName: 'cm_src_left', Flow: '10.0.0.1', Value: '900', Type: 0, EngineId: 'b' },
          { TaskName: 'cm_src_left', Flow: '2001:db8::1', Value: '100000', Type: 1, EngineId: 'b' },
          { TaskName: 'cm_src_left', Flow: '10.0.0.1', Value: '123456', Type: 1, EngineId: 'b' },
          { TaskName: 'old_hh', Flow: '10.0.0.9', Value: '5', Type: 0, EngineId: '' },
          { TaskName: 'ss_src_dst', Flow: '10.9.9.9', Value: '5012', Type: 2, EngineId: 'b' },
        ]);
        // a restart finds every column in place and changes nothing
        const again = new ClickHouseStore({ connection: connection(database), runId: 'run-c' });
        await again.start();
        await again.stop();
      } finally {
        await a.stop();
        await b.stop();
      }
    } finally {
      await original.close();
    }
  });

  test('a table whose columns have other types is refused, named, and left alone', async () => {
    const database = 'mismatch';
    await server.query(`CREATE DATABASE ${database}`);
    await server.query(`CREATE TABLE ${database}.flow_metrics (Timestamp DateTime, TaskName String, SrcIP Nullable(String), DstIP Nullable(String),
      SrcPort Nullable(UInt32), DstPort Nullable(UInt16), Protocol Nullable(UInt8), StartTime DateTime, EndTime DateTime, ByteCount UInt64, PacketCount UInt64)
      ENGINE = MergeTree() ORDER BY (TaskName, Timestamp)`);
    const store = new ClickHouseStore({ connection: connection(database), runId: 'r' });
    await assert.rejects(store.start(), failsWith('NS_ERR_CLICKHOUSE_SCHEMA', 'mismatch.flow_metrics.SrcPort', 'Nullable(UInt32)', 'Nullable(UInt16)'));
    const columns = await server.query(`SELECT count() FROM system.columns WHERE database = '${database}' AND table = 'flow_metrics'`);
    assert.equal(columns.trim(), '11', 'no column was added');

    await server.query(`CREATE DATABASE missing_original`);
    await server.query(`CREATE TABLE missing_original.heavy_hitters (Timestamp DateTime, TaskName String, Value UInt64, Type UInt8) ENGINE = MergeTree() ORDER BY Timestamp`);
    const other = new ClickHouseStore({ connection: connection('missing_original'), runId: 'r' });
    await assert.rejects(other.start(), failsWith('NS_ERR_CLICKHOUSE_SCHEMA', 'missing_original.heavy_hitters has no column Flow'));
  });

  test('a wrong password is NS_ERR_CLICKHOUSE_AUTH, naming the server and the user but never the password', async () => {
    const password = 'not-the-Password-42';
    const store = new ClickHouseStore({ connection: { ...connection(), password }, runId: 'r' });
    await assert.rejects(store.start(), (error: NetSpectraError) => {
      failsWith('NS_ERR_CLICKHOUSE_AUTH', server.url, 'user "default"', 'Wrong password', 'clickhouse.password')(error);
      assert.ok(!inspect(error, { depth: 10 }).includes(password), 'the password appears in the error');
      return true;
    });
    assert.ok(!store.description.includes(password));
    const unknownUser = new ClickHouseStore({ connection: { ...connection(), username: 'nobody' }, runId: 'r' });
    await assert.rejects(unknownUser.start(), failsWith('NS_ERR_CLICKHOUSE_AUTH', 'user "nobody"'));
  });

  test('an unreachable server is NS_ERR_CLICKHOUSE_UNREACHABLE, quickly, with the address to check', async () => {
    const closed = await ClickHouseServer.start();
    const port = closed.httpPort;
    await closed.stop();
    const store = new ClickHouseStore({ connection: { ...connection(), port }, runId: 'r' });
    const started = performance.now();
    await assert.rejects(store.start(), failsWith('NS_ERR_CLICKHOUSE_UNREACHABLE', `http://127.0.0.1:${port}`, 'ECONNREFUSED', 'clickhouse.host/port'));
    assert.ok(performance.now() - started < 5000);
    const unknownHost = new ClickHouseStore({ connection: { ...connection(), host: 'no-such-host.invalid' }, runId: 'r' });
    await assert.rejects(unknownHost.start(), failsWith('NS_ERR_CLICKHOUSE_UNREACHABLE', 'no-such-host.invalid'));
  });

  test('a write that fails in an outage can be written again after it; nothing is lost or skipped', async () => {
    const store = new ClickHouseStore({ connection: connection('outage'), runId: 'r', requestTimeoutMs: 5000 });
    await store.start();
    try {
      const table = new ExactFlowTable(new KeySpec(['SrcIP']));
      const all = randomPackets(3000, 8, 300);
      const snapshot = (seconds: number): GroupSnapshot => ({
        group: 'exact',
        time: { seconds, nanos: 0 },
        periodId: 1,
        reason: 'interval',
        tasks: [{ kind: 'exact', name: 'per_src', keyFields: ['SrcIP'], memoryBytes: 0, flows: table.toColumns() }],
      });
      for (const b of fillBatches(all.slice(0, 2000), 512)) table.ingest(b);
      await store.write(snapshot(1_700_000_100));
      const later = all.slice(2000, 2100);
      for (const b of fillBatches(later, 512)) table.ingest(b);
      const second = snapshot(1_700_000_200);

      await server.kill();
      await assert.rejects(store.write(second), failsWith('NS_ERR_CLICKHOUSE_UNREACHABLE', server.url));
      await server.restart();
      await store.write(second); // what a spool does: the same snapshot, again

      const changed = referenceFlows(later, ['SrcIP']).size;
      const perSnapshot = await store.select<{ t: number; n: string }>(
        sql`SELECT toUnixTimestamp(Timestamp) AS t, count() AS n FROM ${identifier('outage', 'flow_metrics')} GROUP BY t ORDER BY t`,
      );
      assert.deepEqual(perSnapshot, [
        { t: 1_700_000_100, n: String(referenceFlows(all.slice(0, 2000), ['SrcIP']).size) },
        { t: 1_700_000_200, n: String(changed) },
      ]);
      const latest = await store.select<{ SrcIP: string; p: string }>(sql`SELECT SrcIP, argMax(PacketCount, Timestamp) AS p FROM ${identifier('outage', 'flow_metrics')} GROUP BY SrcIP`);
      const reference = referenceFlows(all.slice(0, 2100), ['SrcIP']);
      assert.equal(latest.length, reference.size);
      for (const { SrcIP, p } of latest) assert.equal(Number(p), reference.get(JSON.stringify({ SrcIP }))?.packets);
      // the failed write did not advance the counters: the growth of the rows adds up to every packet once
      const grown = async (): Promise<Map<string, number>> => {
        const rows = await store.select<{ SrcIP: string; p: string }>(sql`SELECT SrcIP, sum(DeltaPackets) AS p FROM ${identifier('outage', 'flow_metrics')} GROUP BY SrcIP`);
        return new Map(rows.map(({ SrcIP, p }) => [JSON.stringify({ SrcIP }), Number(p)]));
      };
      assert.deepEqual(await grown(), new Map([...reference].map(([key, flow]) => [key, flow.packets])));

      // a spooled snapshot of this run, written by another process (a later start): its store
      // reads the run's counters back, so the rows carry only what grew
      for (const b of fillBatches(all.slice(2100), 512)) table.ingest(b);
      const nextProcess = new ClickHouseStore({ connection: connection('outage'), runId: 'r-later', requestTimeoutMs: 5000 });
      await nextProcess.start();
      try {
        await nextProcess.write({ ...snapshot(1_700_000_300), runId: 'r' });
      } finally {
        await nextProcess.stop();
      }
      assert.deepEqual(await grown(), new Map([...referenceFlows(all, ['SrcIP'])].map(([key, flow]) => [key, flow.packets])));
    } finally {
      await store.stop();
    }
  });

  test("every row carries its growth since the flow's previous row of its segment: snapshots, a period reset, a restart", async () => {
    const database = 'deltas';
    const packets = randomPackets(4000, 21, 40);
    const steps = [
      { run: 'a', period: 1_700_000_000, at: 1_700_000_030, packets: packets.slice(0, 1000) },
      { run: 'a', period: 1_700_000_000, at: 1_700_000_060, packets: packets.slice(1000, 2000) },
      { run: 'a', period: 1_700_000_060, at: 1_700_000_090, packets: packets.slice(2000, 3000) },
      { run: 'b', period: 1_700_000_060, at: 1_700_000_120, packets: packets.slice(3000) },
    ] as const;
    const stores = new Map(['a', 'b'].map((run) => [run, new ClickHouseStore({ connection: connection(database), runId: run, engineId: 'e' })]));
    let table = new ExactFlowTable(new KeySpec(['SrcIP']));
    for (const [i, step] of steps.entries()) {
      const store = stores.get(step.run)!;
      if (i === 0 || step.period !== steps[i - 1]!.period || step.run !== steps[i - 1]!.run) {
        table = new ExactFlowTable(new KeySpec(['SrcIP']));
        await store.start();
      }
      for (const b of fillBatches(step.packets, 512)) table.ingest(b);
      await store.write({ group: 'exact', time: { seconds: step.at, nanos: 0 }, periodId: step.period, reason: 'interval', tasks: [{ kind: 'exact', name: 'per_src', keyFields: ['SrcIP'], memoryBytes: 0, flows: table.toColumns() }] });
    }
    for (const store of stores.values()) await store.stop();

    const reader = new ClickHouseStore({ connection: connection(database), runId: 'reader' });
    await reader.start();
    try {
      const rows = await reader.select<{ segment: string; SrcIP: string; PacketCount: string; ByteCount: string; DeltaPackets: string; DeltaBytes: string }>(
        sql`SELECT concat(RunId, '/', toString(PeriodId), '/', SrcIP) AS segment, SrcIP, PacketCount, ByteCount, DeltaPackets, DeltaBytes
            FROM ${identifier(database, 'flow_metrics')} ORDER BY segment, TimestampNs`,
      );
      let previous = { segment: '', packets: 0, bytes: 0 };
      let grewFromEarlierRow = 0;
      const sums = new Map<string, number>();
      for (const row of rows) {
        if (row.segment !== previous.segment) previous = { segment: row.segment, packets: 0, bytes: 0 };
        else grewFromEarlierRow++;
        assert.equal(Number(row.DeltaPackets), Number(row.PacketCount) - previous.packets, row.segment);
        assert.equal(Number(row.DeltaBytes), Number(row.ByteCount) - previous.bytes, row.segment);
        previous = { segment: row.segment, packets: Number(row.PacketCount), bytes: Number(row.ByteCount) };
        const key = JSON.stringify({ SrcIP: row.SrcIP });
        sums.set(key, (sums.get(key) ?? 0) + Number(row.DeltaPackets));
      }
      assert.ok(grewFromEarlierRow > 0, 'some flows have several rows in one segment');
      assert.deepEqual(sums, new Map([...referenceFlows(packets, ['SrcIP'])].map(([key, flow]) => [key, flow.packets])));
    } finally {
      await reader.stop();
    }
  });

  test("a table the original and an older build wrote (rows without growth) is totalled with ours: totals, flows, series", async () => {
    const database = 'original_rows';
    await server.query(`CREATE DATABASE ${database}`);
    const original = originalClient(database);
    const row = (seconds: number, SrcIP: string, packets: number, bytes: number): Record<string, unknown> => ({
      Timestamp: seconds,
      TaskName: 'per_src',
      SrcIP,
      DstIP: null,
      SrcPort: null,
      DstPort: null,
      Protocol: null,
      StartTime: 1_599_999_990,
      EndTime: seconds - 1,
      ByteCount: bytes,
      PacketCount: packets,
    });
    try {
      await original.command({ query: ORIGINAL_FLOW_METRICS });
      // cumulative rows, the newest per flow being its state: 198.18.0.1 grows 1 → 3 packets
      await original.insert({ table: 'flow_metrics', format: 'JSONEachRow', values: [row(1_600_000_000, '198.18.0.1', 1, 100), row(1_600_000_100, '198.18.0.1', 3, 300), row(1_600_000_100, '198.18.0.2', 2, 50)] });
    } finally {
      await original.close();
    }
    const ours = exactSnapshot(['SrcIP'], 1500, 31);
    const store = new ClickHouseStore({ connection: connection(database), runId: 'run', engineId: 'e' });
    await store.start();
    await store.write({ ...ours.snapshot, tasks: ours.snapshot.tasks.map((task) => ({ ...task, name: 'per_src' })) });
    await store.stop();
    const reference = referenceFlows(ours.packets, ['SrcIP']);
    const mine = [...reference.values()].reduce((sum, flow) => ({ packets: sum.packets + flow.packets, bytes: sum.bytes + flow.bytes }), { packets: 0, bytes: 0 });
    // rows of a NetSpectra build before the growth columns: run, engine and period set, no growth
    // (HasDeltas 0): 198.18.0.3 grows 2 → 5 packets in one period, then 4 in the next
    await server.query(
      `INSERT INTO ${database}.flow_metrics (Timestamp, TaskName, SrcIP, StartTime, EndTime, ByteCount, PacketCount, TimestampNs, StartTimeNs, EndTimeNs, PeriodId, RunId, EngineId) VALUES ` +
        [
          [1_600_000_200, 2, 20, 1_600_000_150],
          [1_600_000_260, 5, 50, 1_600_000_150],
          [1_600_000_320, 4, 40, 1_600_000_300],
        ]
          .map(([at, packets, bytes, period]) => `(${at}, 'per_src', '198.18.0.3', ${period}, ${at! - 1}, ${bytes}, ${packets}, ${at}000000000, ${period}000000000, ${at! - 1}000000000, ${period}, 'older-build', 'e')`)
          .join(', '),
    );

    const reader = new ClickHouseQueryStore({ connection: connection(database) });
    await reader.start();
    try {
      const S = 1_000_000_000n;
      const totals = (startNs: bigint | undefined, endNs: bigint) => reader.flowTotals({ taskName: 'per_src', range: startNs === undefined ? { endNs } : { startNs, endNs }, filter: {} });
      assert.deepEqual(await totals(undefined, 2_000_000_000n * S), [{ taskName: 'per_src', packets: 5 + 9 + mine.packets, bytes: 350 + 90 + mine.bytes, flows: 3 + reference.size }]);
      assert.deepEqual(await totals(1_600_000_000n * S, 1_600_000_100n * S), [{ taskName: 'per_src', packets: 4, bytes: 250, flows: 2 }]);
      assert.deepEqual(await totals(1_600_000_200n * S, 1_600_000_320n * S), [{ taskName: 'per_src', packets: 3 + 4, bytes: 30 + 40, flows: 1 }], "the older build's rows: growth within a period, then a new period");
      assert.deepEqual(await totals(1_650_000_000n * S, 2_000_000_000n * S), [{ taskName: 'per_src', packets: mine.packets, bytes: mine.bytes, flows: reference.size }]);

      const address = (text: string): AddressMatch => ({ text, ...parseAddress(text)! });
      const flows = await reader.flows({ taskName: 'per_src', range: { endNs: 2_000_000_000n * S }, filter: { SrcIP: address('198.18.0.1') }, groupBy: ['SrcIP'], orderBy: 'bytes', descending: true, limit: 10, offset: 0 });
      assert.deepEqual(flows, [{ taskName: 'per_src', key: { SrcIP: '198.18.0.1' }, packets: 3, bytes: 300, firstSeenNs: 1_599_999_990n * S, lastSeenNs: 1_600_000_099n * S }]);
      const top = await reader.flows({ taskName: 'per_src', range: { endNs: 2_000_000_000n * S }, filter: {}, groupBy: ['SrcIP'], orderBy: 'packets', descending: true, limit: 10_000, offset: 0 });
      assert.equal(top.length, reference.size + 3);
      assert.deepEqual(top.find((flow) => flow.key.SrcIP === '198.18.0.2')?.packets, 2);

      const series = await reader.series({ taskName: 'per_src', range: { startNs: 1_599_999_950n * S, endNs: 1_600_000_150n * S }, bucketNs: 100n * S, filter: {} });
      assert.deepEqual(
        series.map((point) => [point.bucketStartNs, point.packets, point.bytes, point.flows]),
        [
          [1_599_999_950n * S, 1, 100, 1],
          [1_600_000_050n * S, 4, 250, 2],
        ],
      );
    } finally {
      await reader.stop();
    }
  });

  test('values a column cannot hold are refused before anything is sent', async () => {
    const store = new ClickHouseStore({ connection: connection(), runId: 'r' });
    await store.start();
    try {
      const bad = exactSnapshot(['SrcIP'], 10, 1);
      await assert.rejects(store.write({ ...bad.snapshot, time: { seconds: 2 ** 32, nanos: 0 } }), failsWith('NS_ERR_CLICKHOUSE_QUERY', "outside DateTime's range"));
      await assert.rejects(
        store.write({ ...sketchSnapshot, tasks: [{ kind: 'super_spreader', name: 's', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: [{ flow: {}, flowText: 'x', value: Number.NaN }] }] }),
        failsWith('NS_ERR_CLICKHOUSE_QUERY', 'not a count'),
      );
      assert.equal(store.rowsWritten, 0);
    } finally {
      await store.stop();
    }
  });
});
