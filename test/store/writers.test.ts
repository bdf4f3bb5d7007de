/** Store- and writer-specific behaviour; what every flow store must do is in flow-store-contract.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { JsonLinesFlowWriter, TextSketchWriter } from '../../src/store/file-writers.js';
import { randomPackets, referenceFlows } from '../kit/random-packets.js';
import { exactSnapshot, sketchSnapshot } from '../kit/snapshots.js';

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
