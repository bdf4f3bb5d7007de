import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import { ExactTask } from '../../src/engine/tasks/exact-task.js';
import { Engine } from '../../src/engine/engine.js';
import type { ExactTaskSnapshot, FlowColumns } from '../../src/model/snapshot.js';
import type { KeyFieldName } from '../../src/model/flow.js';
import { fillBatches, ingestDistinctFlows, randomPackets, referenceFlows, type ReferenceFlow } from '../kit/random-packets.js';

const FIELD_SETS: KeyFieldName[][] = [
  ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'],
  ['SrcIP'],
  ['DstIP', 'Protocol'],
  ['SrcPort'],
  ['DstPort', 'SrcIP'],
  ['Protocol'],
];

function columnsToMap(spec: KeySpec, flows: FlowColumns): Map<string, ReferenceFlow> {
  const out = new Map<string, ReferenceFlow>();
  for (let i = 0; i < flows.count; i++) {
    const key = spec.toObject(flows.keys, i * flows.keyWords) as Record<string, string | number>;
    const id = JSON.stringify(key);
    assert.equal(out.has(id), false, `duplicate key ${id}`);
    out.set(id, {
      key,
      packets: flows.packets[i]!,
      bytes: flows.bytes[i]!,
      first: BigInt(flows.firstSeconds[i]!) * 1_000_000_000n + BigInt(flows.firstNanos[i]!),
      last: BigInt(flows.lastSeconds[i]!) * 1_000_000_000n + BigInt(flows.lastNanos[i]!),
    });
  }
  return out;
}

function assertSameFlows(actual: Map<string, ReferenceFlow>, expected: Map<string, ReferenceFlow>, label: string): void {
  assert.equal(actual.size, expected.size, `${label}: flow count`);
  for (const [id, want] of expected) {
    const got = actual.get(id);
    assert.ok(got !== undefined, `${label}: missing flow ${id}`);
    assert.deepEqual(got, want, `${label}: flow ${id}`);
  }
}

test('KeySpec keeps canonical field order and fully defined keys', () => {
  const spec = new KeySpec(['Protocol', 'SrcIP']);
  assert.deepEqual(spec.fields, ['SrcIP', 'Protocol']);
  assert.equal(spec.words, 5);
  const [batch] = fillBatches(randomPackets(1, 1), 4);
  const out = new Uint32Array(6).fill(0xdeadbeef);
  spec.extract(batch!, 0, out, 0);
  // every word of the key written, and the word after it untouched
  assert.equal(out[5], 0xdeadbeef);
  assert.notEqual(out[4], 0xdeadbeef);
  assert.equal(out[4]! >>> 8, batch!.family[0]);
});

test('exact flow table equals a naive reference for every key-field subset', () => {
  const packets = randomPackets(60_000, 42);
  const batches = fillBatches(packets, 1000);
  for (const fields of FIELD_SETS) {
    const spec = new KeySpec(fields);
    const table = new ExactFlowTable(spec, 7);
    for (const b of batches) table.ingest(b);
    assertSameFlows(columnsToMap(spec, table.toColumns()), referenceFlows(packets, fields), fields.join('+'));
    assert.equal(table.size, referenceFlows(packets, fields).size);
  }
});

test('IPv4 a.b.c.d and IPv6 ::ffff:a.b.c.d are different flows', () => {
  const packets = randomPackets(20_000, 3, 6).filter((p) => p.src[3] === 0x0a000001);
  const families = new Set(packets.map((p) => p.family));
  assert.deepEqual([...families].sort(), [4, 6]);
  const spec = new KeySpec(['SrcIP']);
  const table = new ExactFlowTable(spec);
  for (const b of fillBatches(packets, 512)) table.ingest(b);
  const keys = [...columnsToMap(spec, table.toColumns()).keys()];
  assert.ok(keys.includes(JSON.stringify({ SrcIP: '10.0.0.1' })));
  assert.ok(keys.includes(JSON.stringify({ SrcIP: '::ffff:10.0.0.1' })));
});

test('clear() forgets every flow and the table is reusable', () => {
  const spec = new KeySpec(['SrcIP', 'DstIP']);
  const table = new ExactFlowTable(spec);
  const first = randomPackets(5000, 11);
  for (const b of fillBatches(first, 700)) table.ingest(b);
  assert.ok(table.size > 0);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(table.toColumns().count, 0);
  const second = randomPackets(3000, 12, 50, 1_800_000_000);
  for (const b of fillBatches(second, 700)) table.ingest(b);
  assertSameFlows(columnsToMap(spec, table.toColumns()), referenceFlows(second, ['SrcIP', 'DstIP']), 'after clear');
});

test('timestamps keep nanosecond precision far from the first packet', () => {
  const spec = new KeySpec(['Protocol']);
  const table = new ExactFlowTable(spec);
  const packets = randomPackets(2, 5);
  packets[0] = { ...packets[0]!, protocol: 6, seconds: 1_700_000_000, nanos: 1 };
  packets[1] = { ...packets[1]!, protocol: 6, seconds: 1_700_000_000 + 90 * 86400, nanos: 999_999_999 };
  for (const b of fillBatches(packets, 4)) table.ingest(b);
  const flow = table.get(new Uint32Array([6]));
  assert.deepEqual(flow && [flow.firstSeconds, flow.firstNanos, flow.lastSeconds, flow.lastNanos], [1_700_000_000, 1, 1_700_000_000 + 90 * 86400, 999_999_999]);
});

test('memory per flow stays under 128 bytes at 1M flows', () => {
  const spec = new KeySpec(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
  const table = new ExactFlowTable(spec);
  ingestDistinctFlows(1_000_000, (batch) => table.ingest(batch));
  assert.equal(table.size, 1_000_000);
  const perFlow = table.memoryBytes() / table.size;
  assert.ok(perFlow <= 128, `memory per flow ${perFlow.toFixed(1)} B`);
});

for (const workers of [0, 1, 2, 4]) {
  test(`engine with ${workers} worker(s): exact tasks equal the reference`, async () => {
    const packets = randomPackets(40_000, 99);
    const fields: KeyFieldName[][] = [FIELD_SETS[0]!, FIELD_SETS[1]!, FIELD_SETS[2]!];
    const engine = new Engine({
      workers,
      batchCapacity: 1024,
      tasks: { exact: fields.map((keyFields, i) => ({ name: `t${i}`, keyFields, seed: 1234 })), sketch: [] },
    });
    await engine.start();
    try {
      for (const source of fillBatches(packets, 1024)) {
        const batch = engine.pool.acquire();
        for (let i = 0; i < source.count; i++) batch.copyPacketFrom(source, i);
        await engine.submit(batch);
      }
      const snapshots = (await engine.snapshot()) as ExactTaskSnapshot[];
      assert.deepEqual(
        snapshots.map((s) => s.name),
        ['t0', 't1', 't2'],
      );
      snapshots.forEach((s, i) => assertSameFlows(columnsToMap(new KeySpec(s.keyFields), s.flows), referenceFlows(packets, fields[i]!), `${workers} workers ${s.name}`));
      const stats = await engine.stats();
      assert.deepEqual(
        stats.map((s) => s.flows),
        snapshots.map((s) => s.flows.count),
      );
      await engine.reset();
      const empty = (await engine.snapshot()) as ExactTaskSnapshot[];
      assert.deepEqual(
        empty.map((s) => s.flows.count),
        [0, 0, 0],
      );
    } finally {
      await engine.stop();
    }
  });
}

test('derived task: rebuilt from its source at each snapshot, equal to counting it directly, deltas included', () => {
  const packets = randomPackets(20_000, 77);
  const source = new ExactTask({ name: 'five', keyFields: FIELD_SETS[0]!, seed: 5 }, 0, 1, [
    { name: 'src', keyFields: ['SrcIP'], seed: 6 },
    { name: 'dst_proto', keyFields: ['DstIP', 'Protocol'], seed: 7 },
    { name: 'sport', keyFields: ['SrcPort'], seed: 8 },
  ]);
  const direct = ['src', 'dst_proto', 'sport'].map((name, i) => ({ name, fields: [['SrcIP'], ['DstIP', 'Protocol'], ['SrcPort']][i] as KeyFieldName[] }));
  const all = (name: string): boolean => direct.some((d) => d.name === name);
  // first interval
  for (const b of fillBatches(packets.slice(0, 12_000), 1000)) source.ingest(b);
  const first = source.derivedSnapshots(all);
  source.snapshot();
  first.forEach((s, i) => assertSameFlows(columnsToMap(new KeySpec(s.keyFields), s.flows), referenceFlows(packets.slice(0, 12_000), direct[i]!.fields), s.name));
  // second interval touches a few sources only; the delta holds exactly the derived keys they touch
  const later = packets.slice(12_000).filter((p) => p.src[3] === packets[0]!.src[3]);
  for (const b of fillBatches(later, 1000)) source.ingest(b);
  const delta = source.derivedSnapshots(all, 0);
  source.snapshot(0);
  const upToNow = [...packets.slice(0, 12_000), ...later];
  delta.forEach((s, i) => {
    const touched = referenceFlows(later, direct[i]!.fields);
    const cumulative = referenceFlows(upToNow, direct[i]!.fields);
    const got = columnsToMap(new KeySpec(s.keyFields), s.flows);
    assert.deepEqual([...got.keys()].sort(), [...touched.keys()].sort(), `${s.name}: the delta is the touched keys`);
    for (const [key, flow] of got) assert.deepEqual(flow, cumulative.get(key), `${s.name} ${key}: cumulative counters`);
  });
  assert.deepEqual(
    source.derivedStats().map((d) => d.flows),
    direct.map((d) => referenceFlows(upToNow, d.fields).size),
  );
});

test('split by source: partitions hold disjoint sources, and with their derived SrcIP tasks they add up to the whole task', () => {
  const packets = randomPackets(30_000, 4242, 500);
  const partitions = 3;
  const parts = Array.from({ length: partitions }, (_, p) => new ExactTask({ name: 'five', keyFields: FIELD_SETS[0]!, seed: 5 }, p, partitions, [{ name: 'src', keyFields: ['SrcIP'], seed: 6 }], true));
  for (const b of fillBatches(packets, 1000)) for (const part of parts) part.ingest(b);
  const five = parts.map((part) => columnsToMap(new KeySpec(FIELD_SETS[0]!), part.snapshot().flows));
  const src = parts.map((part) => columnsToMap(new KeySpec(['SrcIP']), part.derivedSnapshots(() => true)[0]!.flows));
  // every source in exactly one partition, and every partition takes a share
  const owner = new Map<string, number>();
  src.forEach((flows, p) => {
    assert.ok(flows.size > 0, `partition ${p} is empty`);
    for (const key of flows.keys()) {
      assert.equal(owner.get(key), undefined, `source ${key} in two partitions`);
      owner.set(key, p);
    }
  });
  const union = <T>(maps: Map<string, T>[]): Map<string, T> => new Map(maps.flatMap((m) => [...m]));
  assertSameFlows(union(five), referenceFlows(packets, FIELD_SETS[0]!), 'five-tuple partitions');
  assertSameFlows(union(src), referenceFlows(packets, ['SrcIP']), 'derived per-source partitions');
});
