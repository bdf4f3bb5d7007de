/**
 * The REST routes over a real socket, on a store written by the real DuckDB writer: every answer
 * equals the query service's (the same numbers as Thrift), checked against a reference computed
 * from the packets where it is simple, and times given in every accepted form mean the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceFlows } from '../kit/random-packets.js';
import { BATCHES, NOW_MS, S, jsonOf, startWorld, type HttpWorld } from './http-kit.js';

type Row = { task: string; key: Record<string, unknown>; bytes: number; packets: number; firstSeenNs: string; firstSeenMs: number; lastSeenNs: string; lastSeenMs: number };

const rowOf = (f: { taskName: string; key: object; bytes: number; packets: number; firstSeenNs: bigint; lastSeenNs: bigint }): Row => ({
  task: f.taskName,
  key: { ...f.key },
  bytes: f.bytes,
  packets: f.packets,
  firstSeenNs: String(f.firstSeenNs),
  firstSeenMs: Number(f.firstSeenNs / 1_000_000n),
  lastSeenNs: String(f.lastSeenNs),
  lastSeenMs: Number(f.lastSeenNs / 1_000_000n),
});

describe('HTTP API: REST routes', () => {
  let world: HttpWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world?.close());

  test('health and tasks', async () => {
    assert.deepEqual(await jsonOf(await world.call('/api/v1/health')), { ok: true, status: 'SERVING' });
    const { tasks } = await jsonOf<{ tasks: unknown[] }>(await world.call('/api/v1/tasks'));
    assert.deepEqual(
      tasks,
      (await world.service.tasks()).map((t) => ({ name: t.name, kind: t.kind, keyFields: t.keyFields })),
    );
    assert.deepEqual(
      tasks.map((t) => (t as { name: string }).name),
      ['five', 'hh_src', 'per_src', 'ss_src'],
    );
  });

  test('aggregate: all time and a range equal the service and the packets, whatever form the times take', async () => {
    const all = await jsonOf<{ totals: { task: string; bytes: number; packets: number; flows: number }[] }>(await world.call('/api/v1/aggregate'));
    const packets = BATCHES.flatMap((b) => b.packets);
    const reference = referenceFlows(packets, ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
    const five = all.totals.find((t) => t.task === 'five')!;
    assert.deepEqual(five, {
      task: 'five',
      bytes: packets.reduce((sum, p) => sum + p.length, 0),
      packets: packets.length,
      flows: reference.size,
    });
    // (1_700_000_060, 1_700_000_180]: the second and third snapshots, across the period reset
    const expected = (await world.service.aggregateFlows({ startNs: 1_700_000_060n * S, endNs: 1_700_000_180n * S })).map((t) => ({
      task: t.taskName,
      bytes: t.bytes,
      packets: t.packets,
      flows: t.flows,
    }));
    const inRange = [...BATCHES[1]!.packets, ...BATCHES[2]!.packets];
    assert.equal(expected.find((t) => t.task === 'five')!.packets, inRange.length);
    const forms: [string, string][] = [
      ['1700000060', '1700000180'], // unix seconds
      ['1700000060000', '1700000180000'], // milliseconds
      ['1700000060000000000', '1700000180000000000'], // nanoseconds
      ['2023-11-14T22:14:20Z', '2023-11-14T23:16:20%2B01:00'], // RFC 3339
      ['-3m', 'now-1m'], // relative to the test clock (NOW_MS = 1_700_000_240 s)
    ];
    for (const [start, end] of forms) {
      const answer = await jsonOf<{ range: Record<string, unknown>; totals: unknown }>(await world.call(`/api/v1/aggregate?start=${start}&end=${end}`));
      assert.deepEqual(answer.totals, expected, `${start} .. ${end}`);
      assert.deepEqual(answer.range, { startNs: '1700000060000000000', startMs: 1_700_000_060_000, endNs: '1700000180000000000', endMs: 1_700_000_180_000 }, `${start} .. ${end}`);
    }
    // a filter and one task
    const filtered = await jsonOf<{ totals: unknown[] }>(await world.call('/api/v1/aggregate?task=per_src&src_ip=10.0.0.1'));
    const [one] = await world.service.aggregateFlows({ taskName: 'per_src', srcIP: '10.0.0.1' });
    assert.deepEqual(filtered.totals, [{ task: 'per_src', bytes: one!.bytes, packets: one!.packets, flows: 1 }]);
    assert.equal(one!.packets, referenceFlows(packets, ['SrcIP']).get(JSON.stringify({ SrcIP: '10.0.0.1' }))!.packets);
  });

  test('top flows, sources and destinations equal the service', async () => {
    const flows = await jsonOf<{ flows: Row[]; by: string; groupBy: unknown }>(await world.call('/api/v1/top/flows?task=five&limit=5&by=packets'));
    assert.equal(flows.by, 'packets');
    assert.equal(flows.groupBy, null);
    assert.deepEqual(flows.flows, (await world.service.top({ taskName: 'five', limit: 5, by: 'packets' })).map(rowOf));
    const sources = await jsonOf<{ flows: Row[]; groupBy: unknown }>(await world.call('/api/v1/top/sources?task=five&limit=3&start=1700000060'));
    assert.deepEqual(sources.groupBy, ['SrcIP']);
    assert.deepEqual(sources.flows, (await world.service.top({ taskName: 'five', limit: 3, groupBy: ['SrcIP'], startNs: 1_700_000_060n * S })).map(rowOf));
    assert.deepEqual(Object.keys(sources.flows[0]!.key), ['SrcIP']);
    const destinations = await jsonOf<{ flows: Row[] }>(await world.call('/api/v1/top/destinations?task=five&limit=3&protocol=6'));
    assert.deepEqual(destinations.flows, (await world.service.top({ taskName: 'five', limit: 3, groupBy: ['DstIP'], filter: { protocol: 6 } })).map(rowOf));
    const grouped = await jsonOf<{ flows: Row[] }>(await world.call('/api/v1/top/flows?task=five&group_by=SrcIP,DstPort&limit=4'));
    assert.deepEqual(grouped.flows, (await world.service.top({ taskName: 'five', limit: 4, groupBy: ['SrcIP', 'DstPort'] })).map(rowOf));
  });

  test('flow search pages neither repeat nor skip, and nextOffset ends the paging', async () => {
    const everything = await world.service.search({ taskName: 'per_src', orderBy: 'lastSeen', descending: false, limit: 10_000 });
    const seen: Row[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null) {
      const page: { flows: Row[]; nextOffset: number | null; offset: number } = await jsonOf(await world.call(`/api/v1/flows?task=per_src&order=last_seen&dir=asc&limit=20&offset=${offset}`));
      assert.equal(page.offset, offset);
      seen.push(...page.flows);
      offset = page.nextOffset;
      pages++;
    }
    assert.equal(pages, Math.floor(everything.length / 20) + 1);
    assert.deepEqual(seen, everything.map(rowOf));
    const filtered = await jsonOf<{ flows: Row[] }>(await world.call('/api/v1/flows?task=five&dst_port=80&order=bytes'));
    assert.ok(filtered.flows.length > 0);
    assert.ok(filtered.flows.every((f) => f.key.DstPort === 80));
  });

  test('series: every bucket, equal to the service, summing to the aggregate', async () => {
    const answer = await jsonOf<{ bucketNs: string; bucketMs: number; points: { task: string; startNs: string; startMs: number; bytes: number; packets: number; flows: number }[] }>(
      await world.call('/api/v1/series?task=five&start=1700000000&end=1700000240&bucket=60s'),
    );
    assert.equal(answer.bucketNs, '60000000000');
    assert.equal(answer.bucketMs, 60_000);
    const expected = await world.service.series({ taskName: 'five', startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S, bucketNs: 60n * S });
    assert.deepEqual(
      answer.points,
      expected.map((p) => ({ task: p.taskName, startNs: String(p.bucketStartNs), startMs: Number(p.bucketStartNs / 1_000_000n), bytes: p.bytes, packets: p.packets, flows: p.flows })),
    );
    assert.deepEqual(
      answer.points.map((p) => p.packets),
      [1500, 1500, 1500, 0],
    );
    // without an end: until now (the test clock); bucket as milliseconds; every exact task
    const open = await jsonOf<{ range: { endMs: number }; points: { task: string }[] }>(await world.call('/api/v1/series?start=-4m&bucket=120000'));
    assert.equal(open.range.endMs, NOW_MS);
    assert.deepEqual(
      open.points.map((p) => p.task),
      ['five', 'five', 'per_src', 'per_src'],
    );
  });

  test('trace: a flow across the period reset; 404 for none', async () => {
    const [top] = await world.service.top({ taskName: 'five', limit: 1, by: 'packets' });
    const key = top!.key;
    const query = `task=five&src_ip=${key.SrcIP}&dst_ip=${key.DstIP}&src_port=${key.SrcPort}&dst_port=${key.DstPort}&protocol=${key.Protocol}`;
    const answer = await jsonOf(await world.call(`/api/v1/trace?${query}`));
    const lifecycle = await world.service.traceFlow({
      taskName: 'five',
      flowKeys: Object.fromEntries(Object.entries(key).map(([k, v]) => [k, String(v)])),
    });
    assert.deepEqual(answer, {
      task: 'five',
      key,
      firstSeenNs: String(lifecycle.firstSeenNs),
      firstSeenMs: Number(lifecycle.firstSeenNs / 1_000_000n),
      lastSeenNs: String(lifecycle.lastSeenNs),
      lastSeenMs: Number(lifecycle.lastSeenNs / 1_000_000n),
      packets: top!.packets,
      bytes: top!.bytes,
    });
    const missing = await jsonOf<{ error: { code: string } }>(await world.call('/api/v1/trace?task=five&src_ip=192.0.2.99'), 404);
    assert.equal(missing.error.code, 'NS_ERR_QUERY_NOT_FOUND');
  });

  test('heavy hitters, super-spreaders and sketch snapshots', async () => {
    const bytes = await jsonOf(await world.call('/api/v1/heavy-hitters?task=hh_src&type=bytes&end=1700000100'));
    assert.deepEqual(bytes, { task: 'hh_src', type: 'bytes', snapshotNs: '1700000060000000000', snapshotMs: 1_700_000_060_000, entries: [{ flow: '10.0.0.1', value: 90000 }] });
    const packets = await jsonOf(await world.call('/api/v1/heavy-hitters?task=hh_src&limit=1'));
    const list = await world.service.heavyHitters({ taskName: 'hh_src', type: 0, limit: 1 });
    assert.deepEqual(packets, { task: 'hh_src', type: 'packets', snapshotNs: String(list.snapshotNs), snapshotMs: 1_700_000_180_000, entries: list.entries });
    assert.deepEqual(list.entries, [{ flow: '2001:db8::1', value: 1200 }]);
    const none = await jsonOf(await world.call('/api/v1/super-spreaders?task=ss_src&end=1700000001'));
    assert.deepEqual(none, { task: 'ss_src', type: 'spread', snapshotNs: null, snapshotMs: null, entries: [] });
    const spreaders = await jsonOf<{ entries: unknown[] }>(await world.call('/api/v1/super-spreaders?task=ss_src'));
    assert.deepEqual(spreaders.entries, [
      { flow: '10.9.9.8', value: 500 },
      { flow: '10.9.9.9', value: 100 },
    ]);
    const snapshots = await jsonOf<{ snapshots: unknown[] }>(await world.call('/api/v1/sketch-snapshots?task=hh_src&limit=10'));
    assert.deepEqual(
      snapshots.snapshots,
      (await world.service.sketchSnapshots({ taskName: 'hh_src', limit: 10 })).map((s) => ({
        timeNs: String(s.timestampNs),
        timeMs: Number(s.timestampNs / 1_000_000n),
        type: ['packets', 'bytes', 'spread'][s.type],
        entries: s.entries,
      })),
    );
    const wrongKind = await jsonOf<{ error: { code: string } }>(await world.call('/api/v1/heavy-hitters?task=ss_src'), 400);
    assert.equal(wrongKind.error.code, 'NS_ERR_QUERY_TASK');
  });
});
