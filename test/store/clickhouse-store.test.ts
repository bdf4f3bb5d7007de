/**
 * What only the ClickHouse store does (the shared behaviour is in flow-store-contract.test.ts):
 * upgrading the original's tables, refusing mismatching ones, connection and credential errors
 * with stable codes, and a write that fails during an outage and succeeds when written again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../../src/config/schema.js';
import { KeySpec } from '../../src/engine/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import { NetSpectraError, type ErrorCode } from '../../src/model/errors.js';
import type { GroupSnapshot } from '../../src/model/snapshot.js';
import { identifier, sql } from '../../src/store/clickhouse-sql.js';
import { ClickHouseStore, clickHouseUrl } from '../../src/store/clickhouse-store.js';
import { fillBatches, randomPackets, referenceFlows } from '../engine/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { exactSnapshot, sketchSnapshot } from './snapshots.js';

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
          ...['TimestampNs', 'StartTimeNs', 'EndTimeNs', 'PeriodId', 'RunId', 'EngineId'],
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
    } finally {
      await store.stop();
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
