import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { KeySpec } from '../../src/engine/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import { formatIPv6Words } from '../../src/model/ip.js';
import type { GroupSnapshot } from '../../src/model/snapshot.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { JsonLinesFlowWriter, TextSketchWriter } from '../../src/store/file-writers.js';
import { fillBatches, randomPackets, referenceFlows } from '../engine/random-packets.js';

function exactSnapshot(fields: ('SrcIP' | 'DstIP' | 'SrcPort' | 'DstPort' | 'Protocol')[], count: number, seed: number): { snapshot: GroupSnapshot; packets: ReturnType<typeof randomPackets> } {
  const packets = randomPackets(count, seed);
  const table = new ExactFlowTable(new KeySpec(fields));
  for (const b of fillBatches(packets, 512)) table.ingest(b);
  return {
    packets,
    snapshot: {
      group: 'exact',
      time: { seconds: 1_700_000_060, nanos: 0 },
      periodId: 1_699_920_000,
      reason: 'interval',
      tasks: [{ kind: 'exact', name: `t_${fields.join('_')}`, keyFields: fields, memoryBytes: table.memoryBytes(), flows: table.toColumns() }],
    },
  };
}

const sketchSnapshot: GroupSnapshot = {
  group: 'sketch',
  time: { seconds: 1_700_000_060, nanos: 500 },
  periodId: 1_699_920_000,
  reason: 'final',
  tasks: [
    {
      kind: 'heavy_hitter',
      name: 'cm_src_left',
      flowFields: ['SrcIP'],
      memoryBytes: 1000,
      byCount: [{ flow: { SrcIP: '10.0.0.1' }, flowText: '10.0.0.1', value: 900 }],
      bySize: [
        { flow: { SrcIP: '10.0.0.1' }, flowText: '10.0.0.1', value: 123456 },
        { flow: { SrcIP: '2001:db8::1' }, flowText: '2001:db8::1', value: 100000 },
      ],
    },
    { kind: 'super_spreader', name: 'ss_src_dst', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 2000, spreaders: [{ flow: { SrcIP: '10.9.9.9' }, flowText: '10.9.9.9', value: 5012 }] },
  ],
};

test('DuckDB store: every flow row reads back with the original columns and our additions', async () => {
  const store = new DuckDbStore({ path: ':memory:', runId: 'run-1', inputs: ['x.pcap'], tool: 'test' });
  await store.start();
  try {
    const five = exactSnapshot(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], 5000, 1);
    const src = exactSnapshot(['SrcIP'], 5000, 1);
    await store.write(five.snapshot);
    await store.write(src.snapshot);
    await store.write(sketchSnapshot);
    const rows = (await store.connection.runAndReadAll(
      `SELECT TaskName, SrcIP, DstIP, SrcPort, DstPort, Protocol, ByteCount::DOUBLE b, PacketCount::DOUBLE p,
              StartTimeNs::VARCHAR s, EndTimeNs::VARCHAR e, epoch(Timestamp) ts, TimestampNs::VARCHAR tsn, PeriodId::DOUBLE period, RunId,
              epoch_us(StartTime)::VARCHAR su
       FROM flow_metrics ORDER BY TaskName`,
    )).getRowObjectsJS();
    const reference = referenceFlows(five.packets, ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
    const fiveRows = rows.filter((r) => r.TaskName === 't_SrcIP_DstIP_SrcPort_DstPort_Protocol');
    assert.equal(fiveRows.length, reference.size);
    for (const row of fiveRows) {
      const want = reference.get(JSON.stringify({ SrcIP: row.SrcIP, DstIP: row.DstIP, SrcPort: row.SrcPort, DstPort: row.DstPort, Protocol: row.Protocol }));
      assert.ok(want, `unexpected row ${JSON.stringify(row)}`);
      assert.equal(row.p, want.packets);
      assert.equal(row.b, want.bytes);
      assert.equal(row.s, String(want.first));
      assert.equal(row.e, String(want.last));
      assert.equal(row.su, String(want.first / 1000n));
      assert.equal(row.ts, 1_700_000_060);
      assert.equal(row.tsn, '1700000060000000000');
      assert.equal(row.period, 1_699_920_000);
      assert.equal(row.RunId, 'run-1');
    }
    const srcRows = rows.filter((r) => r.TaskName === 't_SrcIP');
    assert.equal(srcRows.length, referenceFlows(src.packets, ['SrcIP']).size);
    // fields that are not in the key are NULL, as in the original's Nullable columns
    assert.ok(srcRows.every((r) => r.DstIP === null && r.SrcPort === null && r.DstPort === null && r.Protocol === null));
    const hh = (await store.connection.runAndReadAll('SELECT TaskName, Flow, Value::DOUBLE v, Type FROM heavy_hitters ORDER BY Type, Value DESC')).getRowsJS();
    assert.deepEqual(hh, [
      ['cm_src_left', '10.0.0.1', 900, 0],
      ['cm_src_left', '10.0.0.1', 123456, 1],
      ['cm_src_left', '2001:db8::1', 100000, 1],
      ['ss_src_dst', '10.9.9.9', 5012, 2],
    ]);
    // the original's query shape (newest row per flow) runs unchanged
    const latest = (await store.connection.runAndReadAll(
      "SELECT count(*)::DOUBLE FROM (SELECT SrcIP, arg_max(PacketCount, Timestamp) FROM flow_metrics WHERE TaskName = 't_SrcIP' GROUP BY SrcIP)",
    )).getRowsJS();
    assert.equal(latest[0]![0], srcRows.length);
  } finally {
    await store.stop();
  }
});

test('DuckDB store reports a clear error for a path it cannot create', async () => {
  const store = new DuckDbStore({ path: '/nonexistent-dir/x/y.duckdb', runId: 'r', inputs: [], tool: 'test' });
  await assert.rejects(store.start(), (error: Error & { code?: string }) => error.code === 'NS_ERR_STORE_OPEN' && error.message.includes('/nonexistent-dir/x/y.duckdb'));
});

test('file writers keep the original folder layout', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ns-writers-'));
  try {
    const five = exactSnapshot(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], 2000, 4);
    const flows = new JsonLinesFlowWriter(root);
    const text = new TextSketchWriter(root);
    await flows.start();
    await text.start();
    await flows.write(five.snapshot);
    await text.write(sketchSnapshot);
    const folder = join(root, '20231114-221420');
    assert.deepEqual((await readdir(folder)).sort(), ['cm_src_left', 'ss_src_dst', 't_SrcIP_DstIP_SrcPort_DstPort_Protocol']);
    const lines = (await readFile(join(folder, 't_SrcIP_DstIP_SrcPort_DstPort_Protocol', 'flows.jsonl'), 'utf8')).trim().split('\n');
    const reference = referenceFlows(five.packets, ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
    assert.equal(lines.length, reference.size);
    const first = JSON.parse(lines[0]!) as { key: object; packets: number; bytes: number; firstSeen: string };
    const want = reference.get(JSON.stringify(first.key));
    assert.equal(first.packets, want?.packets);
    assert.match(first.firstSeen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const summary = JSON.parse(await readFile(join(folder, 't_SrcIP_DstIP_SrcPort_DstPort_Protocol', 'summary.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(summary.total_flows, reference.size);
    assert.equal(summary.total_packets, 2000);
    assert.equal(await readFile(join(folder, 'cm_src_left', 'size_hh.txt'), 'utf8'), '10.0.0.1 123456\n2001:db8::1 100000\n');
    assert.equal(await readFile(join(folder, 'cm_src_left', 'count_hh.txt'), 'utf8'), '10.0.0.1 900\n');
    assert.equal(await readFile(join(folder, 'ss_src_dst', 'spread_ss.txt'), 'utf8'), '10.9.9.9 5012\n');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('DuckDB store writes only flows changed since its previous snapshot of the period, and the newest row per flow stays exact', async () => {
  const store = new DuckDbStore({ path: ':memory:', runId: 'run-2', inputs: [], tool: 'test' });
  await store.start();
  try {
    const spec = new KeySpec(['SrcIP']);
    const table = new ExactFlowTable(spec);
    const all = randomPackets(4000, 21, 300);
    const snapshotAt = async (seconds: number, periodId: number): Promise<void> => {
      await store.write({
        group: 'exact',
        time: { seconds, nanos: 0 },
        periodId,
        reason: 'interval',
        tasks: [{ kind: 'exact', name: 'per_src', keyFields: ['SrcIP'], memoryBytes: 0, flows: table.toColumns() }],
      });
    };
    for (const b of fillBatches(all.slice(0, 3000), 512)) table.ingest(b);
    await snapshotAt(1_700_000_100, 1);
    // a few packets from only two sources
    const later = all.slice(3000).filter((p) => p.src[3] === all[0]!.src[3] || p.src[3] === all[1]!.src[3]);
    for (const b of fillBatches(later, 512)) table.ingest(b);
    await snapshotAt(1_700_000_200, 1);
    const counts = (await store.connection.runAndReadAll('SELECT epoch(Timestamp)::BIGINT, count(*)::INTEGER FROM flow_metrics GROUP BY 1 ORDER BY 1')).getRowsJS();
    const sourcesChanged = new Set(later.map((p) => `${p.family}:${p.src.join('.')}`)).size;
    assert.ok(sourcesChanged >= 2);
    assert.deepEqual(counts, [
      [1_700_000_100n, referenceFlows(all.slice(0, 3000), ['SrcIP']).size],
      [1_700_000_200n, sourcesChanged],
    ]);
    const latest = (await store.connection.runAndReadAll('SELECT SrcIP, arg_max(PacketCount, Timestamp)::DOUBLE FROM flow_metrics GROUP BY SrcIP')).getRowsJS();
    const reference = referenceFlows([...all.slice(0, 3000), ...later], ['SrcIP']);
    assert.equal(latest.length, reference.size);
    for (const [ip, packets] of latest) assert.equal(packets, reference.get(JSON.stringify({ SrcIP: ip }))?.packets, JSON.stringify(ip));
    // a new period writes every flow again, even unchanged ones
    await snapshotAt(1_700_000_300, 2);
    const inPeriod2 = (await store.connection.runAndReadAll('SELECT count(*)::INTEGER FROM flow_metrics WHERE PeriodId = 2')).getRowsJS();
    assert.equal(inPeriod2[0]![0], reference.size);
  } finally {
    await store.stop();
  }
});

test('DuckDB store: the view prints IPv6 as RFC 5952, exactly as the engine does, for every shape of zero runs', async () => {
  const store = new DuckDbStore({ path: ':memory:', runId: 'run-v6', inputs: [], tool: 'test' });
  await store.start();
  try {
    // Addresses built from groups that are mostly zero, so every run length, position and tie occurs.
    let state = 12345;
    const random = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 4294967296;
    };
    const addresses: number[][] = [
      [0, 0, 0, 0],
      [0, 0, 0, 1],
      [0x20010db8, 0, 0, 1],
      [0x20010db8, 0, 1, 0],
      [0x20010db8, 0x00010000, 0, 0x00010000],
      [0, 0, 0xffff, 0xc0000201], // IPv4-mapped in an IPv6 packet
      [0xfe800000, 0, 0x0211_22ff, 0xfe334455],
      [0x00010000, 0, 0, 0],
    ];
    for (let i = 0; i < 3000; i++) {
      const words: number[] = [];
      for (let w = 0; w < 4; w++) {
        const group = (): number => (random() < 0.6 ? 0 : random() < 0.5 ? 1 + Math.floor(random() * 15) : Math.floor(random() * 65536));
        words.push(((group() << 16) | group()) >>> 0);
      }
      addresses.push(words);
    }
    const keyWords = new KeySpec(['SrcIP']).words;
    const keys = new Uint32Array(addresses.length * keyWords);
    addresses.forEach((words, i) => {
      keys.set(words, i * keyWords);
      keys[i * keyWords + 4] = 6 << 8;
    });
    const count = addresses.length;
    await store.write({
      group: 'exact',
      time: { seconds: 1_700_000_000, nanos: 0 },
      periodId: 1,
      reason: 'final',
      tasks: [
        {
          kind: 'exact',
          name: 'v6',
          keyFields: ['SrcIP'],
          memoryBytes: 0,
          flows: {
            count,
            keyWords,
            keys,
            packets: new Float64Array(count).map((_, i) => i + 1),
            bytes: new Float64Array(count).fill(100),
            firstSeconds: new Float64Array(count).fill(1_700_000_000),
            firstNanos: new Uint32Array(count),
            lastSeconds: new Float64Array(count).fill(1_700_000_000),
            lastNanos: new Uint32Array(count),
            changedEpoch: new Uint32Array(count),
            epoch: 0,
            sinceEpoch: -1,
          },
        },
      ],
    });
    const rows = (await store.connection.runAndReadAll('SELECT PacketCount::INTEGER, SrcIP FROM flow_metrics ORDER BY 1')).getRowsJS();
    assert.equal(rows.length, count);
    for (const [packets, text] of rows) assert.equal(text, formatIPv6Words(addresses[(packets as number) - 1]!, 0), JSON.stringify(addresses[(packets as number) - 1]));
  } finally {
    await store.stop();
  }
});

test('DuckDB store: a second run appends to the same file; a file with another layout is refused, not appended to', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'ns-layout-'));
  try {
    const path = join(folder, 'store.duckdb');
    for (const runId of ['first', 'second']) {
      const store = new DuckDbStore({ path, runId, inputs: [], tool: 'test' });
      await store.start();
      await store.write(exactSnapshot(['SrcIP'], 500, 3).snapshot);
      await store.stop();
    }
    const reader = new DuckDbStore({ path, runId: 'third', inputs: [], tool: 'test' });
    await reader.start();
    const perRun = (await reader.connection.runAndReadAll('SELECT RunId, count(*)::INTEGER, count(DISTINCT Timestamp)::INTEGER FROM flow_metrics GROUP BY 1 ORDER BY 1')).getRowsJS();
    await reader.stop();
    const flows = referenceFlows(randomPackets(500, 3), ['SrcIP']).size;
    assert.deepEqual(perRun, [
      ['first', flows, 1],
      ['second', flows, 1],
    ]);

    // the layout of an earlier version: the same table names, no netspectra_schema
    const old = join(folder, 'old.duckdb');
    const instance = await DuckDBInstance.create(old);
    const connection = await instance.connect();
    await connection.run('CREATE TABLE flow_metrics_raw (TimestampNs BIGINT, TaskId USMALLINT, SrcIPv6 VARCHAR)');
    connection.closeSync();
    instance.closeSync();
    const refused = new DuckDbStore({ path: old, runId: 'r', inputs: [], tool: 'test' });
    await assert.rejects(refused.start(), (error: Error & { code?: string }) => error.code === 'NS_ERR_STORE_SCHEMA' && error.message.includes(old) && error.message.includes('--store'));
    const check = await DuckDBInstance.create(old);
    const after = await check.connect();
    const tables = (await after.runAndReadAll("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")).getRowsJS();
    after.closeSync();
    check.closeSync();
    assert.deepEqual(tables, [['flow_metrics_raw']], 'the refused file is left untouched');
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
