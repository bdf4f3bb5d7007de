/**
 * Alert notices in the embedded store: a file written before alerts were stored still opens (the
 * table is added within layout 2) and keeps its flows; a foreign `alerts` table is refused; the
 * writer thread stores notices in the same file, in order, up to its stop. And the recorder: a
 * ClickHouse that is down is reported with NS_ERR_ALERT_STORE and does not hold up the embedded
 * store; once it is back, it gets the next notices.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { AlertRecorder, alertRecord } from '../../src/alerting/alert-recorder.js';
import type { AlertNotice } from '../../src/alerting/alert-lifecycle.js';
import type { Alert, AlertRecord } from '../../src/model/alert.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { ClickHouseQueryStore } from '../../src/store/clickhouse-query.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { ThreadedWriter } from '../../src/store/threaded-writer.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { exactSnapshot } from '../kit/snapshots.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ns-alert-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function notice(kind: AlertNotice['kind'], seconds: number, flowText = '10.0.0.1'): AlertNotice {
  const at = { seconds, nanos: 0 };
  const alert: Alert = {
    id: `Flood|${flowText}`,
    rule: 'Flood',
    taskName: 'hh_dst',
    taskKind: 'heavy_hitter',
    metric: 'heavy_hitter_count',
    operator: '>',
    threshold: 100,
    flowText,
    flow: { DstIP: flowText },
    value: 150 + seconds % 7,
    status: kind === 'resolved' ? 'resolved' : 'firing',
    since: at,
    firedAt: at,
    at,
    flowFields: ['DstIP'],
    evidence: [{ flowText, flow: { DstIP: flowText }, packets: 150 }],
  };
  return { kind, alert };
}

const context = { runId: 'run-1', engineId: 'engine-1', source: 'test' };

async function flowPackets(path: string): Promise<number> {
  const reader = new DuckDbQueryStore({ path });
  await reader.start();
  try {
    return (await new QueryService(reader).aggregateFlows({})).reduce((sum, t) => sum + t.packets, 0);
  } finally {
    await reader.stop();
  }
}

async function storedAlerts(path: string): Promise<AlertRecord[]> {
  const reader = new DuckDbQueryStore({ path });
  await reader.start();
  try {
    return await new QueryService(reader).alerts({ limit: 1000 });
  } finally {
    await reader.stop();
  }
}

test('a store file written before alerts were stored still opens for reading and writing; it gets the table and keeps its flows', async () => {
  const path = join(dir, 'older.duckdb');
  const { snapshot, packets } = exactSnapshot(['SrcIP'], 3000, 5);
  const old = new DuckDbStore({ path, runId: 'old-run', inputs: [], tool: 'test' });
  await old.start();
  await old.write(snapshot);
  await old.stop();
  // what a file of the previous build holds: layout 2 without the alerts table
  {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run('DROP TABLE alerts');
    connection.closeSync();
    instance.closeSync();
  }
  // read-only (the query plane cannot add the table): no alerts, the flows as before
  assert.deepEqual(await storedAlerts(path), []);
  assert.equal(await flowPackets(path), packets.length);
  // a writer of this build opens it, adds the table and stores notices beside the old flows
  const store = new DuckDbStore({ path, runId: 'new-run', inputs: [], tool: 'test' });
  await store.start();
  const records = [notice('firing', 1_700_000_100), notice('resolved', 1_700_000_200)].map((n) => alertRecord(n, context));
  await store.writeAlerts(records);
  await store.stop();
  assert.deepEqual(await storedAlerts(path), [...records].reverse());
  assert.equal(await flowPackets(path), packets.length);
});

test('a file whose alerts table is not NetSpectra\'s is refused with NS_ERR_STORE_SCHEMA, never appended to', async () => {
  const path = join(dir, 'foreign.duckdb');
  const first = new DuckDbStore({ path, runId: 'a', inputs: [], tool: 'test' });
  await first.start();
  await first.stop();
  {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run('DROP TABLE alerts');
    await connection.run('CREATE TABLE alerts (id INTEGER, message VARCHAR)');
    connection.closeSync();
    instance.closeSync();
  }
  const store = new DuckDbStore({ path, runId: 'b', inputs: [], tool: 'test' });
  await assert.rejects(store.start(), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'NS_ERR_STORE_SCHEMA');
    assert.match(error.message, /alerts table with the columns \(id, message\)/);
    return true;
  });
});

test('the writer thread stores notices in the file it writes snapshots to, in order, including those sent right before stop', async () => {
  const path = join(dir, 'threaded.duckdb');
  const writer = new ThreadedWriter({ kind: 'duckdb', options: { path, runId: 'run-1', inputs: [], tool: 'test' } });
  await writer.start();
  const { snapshot, packets } = exactSnapshot(['SrcIP', 'DstIP'], 2000, 9);
  const batches = Array.from({ length: 50 }, (_, i) => [alertRecord(notice(i % 2 === 0 ? 'firing' : 'resolved', 1_700_000_000 + i), context)]);
  // not awaited one by one: the messages queue up behind a snapshot write, as in a busy engine
  const pending = [writer.write(snapshot), ...batches.map((records) => writer.writeAlerts(records))];
  const last = writer.writeAlerts([alertRecord(notice('firing', 1_700_000_999, '10.0.0.9'), context)]);
  try {
    // the thread also answers alert queries on the open file (netspectra serve), seeing what it wrote
    await Promise.all([...pending, last]);
    const live = new QueryService(writer.queryStore());
    assert.equal((await live.alerts({ limit: 1000 })).length, 51);
    assert.deepEqual((await live.activeAlerts({ limit: 10 })).map((r) => r.flowText), ['10.0.0.9'], 'the last of the 50 notices resolved 10.0.0.1');
  } finally {
    await writer.stop();
  }
  await Promise.all([...pending, last]);
  await assert.rejects(writer.writeAlerts(batches[0]!), /not started/);
  const stored = await storedAlerts(path);
  assert.equal(stored.length, 51);
  assert.deepEqual(stored[0]!.flowText, '10.0.0.9', 'the notice sent just before stop');
  assert.deepEqual(stored.slice(1).reverse(), batches.flat());
  assert.equal(await flowPackets(path), packets.length);
});

test('the recorder writes every sink in order; a ClickHouse that is down costs a warning (NS_ERR_ALERT_STORE) per write, not the other store; once it is back the next notices reach it', { skip: clickHouseSkip }, async () => {
  const path = join(dir, 'recorder.duckdb');
  const duckdb = new DuckDbStore({ path, runId: 'run-1', inputs: [], tool: 'test' });
  await duckdb.start();
  const clickhouse = await ClickHouseServer.start();
  try {
    const connection = { host: '127.0.0.1', port: clickhouse.httpPort, database: 'recorder', username: clickhouse.username, password: clickhouse.password, cloud: false };
    const alertStore = new ClickHouseStore({ connection, runId: 'run-1', engineId: 'engine-1' });
    const warnings: string[] = [];
    const recorder = new AlertRecorder({
      sinks: [{ sink: duckdb }, { sink: alertStore, start: () => alertStore.start(), stop: () => alertStore.stop() }],
      ...context,
      onWarning: (line) => warnings.push(line),
      retryStartMs: 1000,
    });
    await clickhouse.kill();
    recorder.record([notice('firing', 1_700_000_001)]);
    recorder.record([]);
    recorder.record([notice('repeat', 1_700_000_002), notice('firing', 1_700_000_002, '10.0.0.2')]);
    await recorder.drain();
    assert.equal(warnings.length, 2, warnings.join('\n'));
    for (const line of warnings) {
      assert.match(line, /^NS_ERR_ALERT_STORE: cannot write \d alert notice\(s\) to clickhouse:http:\/\/127\.0\.0\.1:\d+\/recorder: NS_ERR_CLICKHOUSE_UNREACHABLE: /);
      assert.ok(!line.includes(clickhouse.password));
    }
    assert.match(warnings[1]!, /\(not retried before .*\)$/, 'within retryStartMs of a failed start, no new connection attempt');
    await clickhouse.restart();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    recorder.record([notice('resolved', 1_700_000_003)]);
    await recorder.stop();
    assert.equal(warnings.length, 2, 'written once the server is back');
    assert.deepEqual(recorder.stats(), { written: 4 + 1, failed: 2 });
    await duckdb.stop();
    assert.deepEqual(
      (await storedAlerts(path)).map((r) => `${r.atNs / 1_000_000_000n}:${r.kind}:${r.flowText}`),
      // newest first, then by flow
      ['1700000003:resolved:10.0.0.1', '1700000002:repeat:10.0.0.1', '1700000002:firing:10.0.0.2', '1700000001:firing:10.0.0.1'],
      'the embedded store got every notice, whatever ClickHouse did',
    );
    const reader = new ClickHouseQueryStore({ connection });
    await reader.start();
    try {
      assert.deepEqual(
        (await new QueryService(reader).alerts({ limit: 10 })).map((r) => `${r.kind}:${r.flowText}:${r.runId}`),
        ['resolved:10.0.0.1:run-1'],
        'ClickHouse has the notices written after it came back',
      );
    } finally {
      await reader.stop();
    }
  } finally {
    await duckdb.stop();
    await clickhouse.stop();
  }
});

test('stopping the recorder waits for a hanging store at most its timeout, then warns and goes on', async () => {
  // a peer that accepts connections and never answers: a ClickHouse behind a black hole
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as AddressInfo).port;
  try {
    const store = new ClickHouseStore({ connection: { host: '127.0.0.1', port, database: 'hole', username: 'default', password: 'secret-pw', cloud: false }, runId: 'r', requestTimeoutMs: 60_000 });
    const warnings: string[] = [];
    const recorder = new AlertRecorder({ sinks: [{ sink: store, start: () => store.start(), stop: () => store.stop() }], ...context, onWarning: (line) => warnings.push(line) });
    recorder.record([notice('firing', 1_700_000_001)]);
    const started = performance.now();
    await recorder.stop(400);
    const waited = performance.now() - started;
    assert.ok(waited >= 390 && waited < 5000, `waited ${waited} ms`);
    assert.deepEqual(warnings, ['NS_ERR_ALERT_STORE: alert notices still being written after 400 ms at shutdown were abandoned']);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
