/**
 * One query contract, every flow store: the embedded DuckDB store and ClickHouse (18.16) answer
 * the query service's questions identically. Snapshots are written by the real writers — several
 * periods, delta snapshots, two runs (engine restarts) in one period — and every answer is checked
 * against a naive reference computed from the packets: a range (start, end] holds the packets of
 * the batches whose snapshot time falls in it (model/query.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import type { KeyFieldName } from '../../src/model/flow.js';
import { formatAddressWords } from '../../src/model/ip.js';
import type { FlowQueryStore, SnapshotWriter } from '../../src/model/ports.js';
import type { FlowTotals } from '../../src/model/query.js';
import type { GroupSnapshot, SketchEntry } from '../../src/model/snapshot.js';
import { QueryService } from '../../src/query/query-service.js';
import { ClickHouseQueryStore } from '../../src/store/clickhouse-query.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { fillBatches, randomPackets, referenceFlows, type RandomPacket } from '../kit/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { FIVE_TUPLE } from '../kit/snapshots.js';

const S = 1_000_000_000n;
const sec = (seconds: number): bigint => BigInt(seconds) * S;

/** Four batches of traffic, each recorded by one snapshot: run A periods P1 (two snapshots) and P2, then run B (a restart) in P2. */
const P1 = 1_699_999_000;
const P2 = 1_700_000_250;
const BATCHES = [
  { run: 'a', period: P1, at: 1_700_000_090, packets: randomPackets(2500, 11, 120, 1_700_000_002) },
  { run: 'a', period: P1, at: 1_700_000_190, packets: randomPackets(2500, 12, 120, 1_700_000_102) },
  { run: 'a', period: P2, at: 1_700_000_290, packets: randomPackets(2500, 13, 120, 1_700_000_202) },
  { run: 'b', period: P2, at: 1_700_000_390, packets: randomPackets(2500, 14, 120, 1_700_000_302) },
];
const TASKS: { name: string; fields: KeyFieldName[] }[] = [
  { name: 'five', fields: FIVE_TUPLE },
  { name: 'per_src', fields: ['SrcIP'] },
];

const hitters = (values: [string, number][]): SketchEntry[] => values.map(([flowText, value]) => ({ flow: { SrcIP: flowText }, flowText, value }));
const SKETCHES: { at: number; run: 'a' | 'b'; byCount: SketchEntry[]; bySize: SketchEntry[]; spreaders: SketchEntry[] }[] = [
  { at: 1_700_000_190, run: 'a', byCount: hitters([['10.0.0.1', 900], ['10.0.0.2', 700]]), bySize: hitters([['10.0.0.1', 90000]]), spreaders: hitters([['10.9.9.9', 300]]) },
  {
    at: 1_700_000_390,
    run: 'b',
    byCount: hitters([['10.0.0.3', 400], ['2001:db8::1', 1200], ['10.0.0.1', 800]]),
    bySize: hitters([['10.0.0.3', 50000]]),
    spreaders: hitters([['10.9.9.8', 500], ['10.9.9.9', 100]]),
  },
];

function packetsIn(startNs: bigint | undefined, endNs: bigint): RandomPacket[] {
  return BATCHES.filter((b) => (startNs === undefined || sec(b.at) > startNs) && sec(b.at) <= endNs).flatMap((b) => b.packets);
}

function totalsOf(packets: readonly RandomPacket[], fields: readonly string[]): { bytes: number; packets: number; flows: number } {
  const flows = referenceFlows(packets, fields);
  let bytes = 0;
  let count = 0;
  for (const f of flows.values()) {
    bytes += f.bytes;
    count += f.packets;
  }
  return { bytes, packets: count, flows: flows.size };
}

const keyText = (key: object): string => JSON.stringify(key);

/** Write every batch and sketch list with the real writers of one store: run A, then run B. */
async function writeAll(openWriter: (run: 'a' | 'b') => Promise<SnapshotWriter>): Promise<void> {
  for (const run of ['a', 'b'] as const) {
    const writer = await openWriter(run);
    try {
      const tables = new Map<string, ExactFlowTable>();
      let period = -1;
      for (const batch of BATCHES.filter((b) => b.run === run)) {
        if (batch.period !== period) {
          period = batch.period;
          for (const task of TASKS) tables.set(task.name, new ExactFlowTable(new KeySpec(task.fields)));
        }
        for (const [, table] of tables) for (const b of fillBatches(batch.packets, 512)) table.ingest(b);
        await writer.write({
          group: 'exact',
          time: { seconds: batch.at, nanos: 0 },
          periodId: batch.period,
          reason: 'interval',
          tasks: TASKS.map((task) => ({ kind: 'exact', name: task.name, keyFields: task.fields, memoryBytes: 0, flows: tables.get(task.name)!.toColumns() })),
        });
      }
      for (const sketch of SKETCHES.filter((s) => s.run === run)) {
        const snapshot: GroupSnapshot = {
          group: 'sketch',
          time: { seconds: sketch.at, nanos: 0 },
          periodId: P1,
          reason: 'interval',
          tasks: [
            { kind: 'heavy_hitter', name: 'hh_src', flowFields: ['SrcIP'], memoryBytes: 0, byCount: sketch.byCount, bySize: sketch.bySize },
            { kind: 'super_spreader', name: 'ss_src', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: sketch.spreaders },
          ],
        };
        await writer.write(snapshot);
      }
    } finally {
      await writer.stop();
    }
  }
}

interface StoreFactory {
  name: string;
  skip: string | false;
  /** Write the scenario and open the store's read side. */
  open(): Promise<FlowQueryStore>;
  teardown(): Promise<void>;
}

function duckDbFactory(): StoreFactory {
  let dir = '';
  let reader: DuckDbQueryStore | undefined;
  return {
    name: 'DuckDB store',
    skip: false,
    async open() {
      dir = await mkdtemp(join(tmpdir(), 'ns-query-'));
      const path = join(dir, 'store.duckdb');
      await writeAll(async (run) => {
        const store = new DuckDbStore({ path, runId: `run-${run}`, inputs: [], tool: 'test' });
        await store.start();
        return store;
      });
      reader = new DuckDbQueryStore({ path });
      await reader.start();
      return reader;
    },
    async teardown() {
      await reader?.stop();
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    },
  };
}

function clickHouseFactory(): StoreFactory {
  let server: ClickHouseServer | undefined;
  let reader: ClickHouseQueryStore | undefined;
  return {
    name: 'ClickHouse store',
    skip: clickHouseSkip,
    async open() {
      server = await ClickHouseServer.start({ timezone: 'America/New_York' });
      const connection = { host: '127.0.0.1', port: server.httpPort, database: 'query_contract', username: server.username, password: server.password, cloud: false };
      await writeAll(async (run) => {
        const store = new ClickHouseStore({ connection, runId: `run-${run}`, engineId: `engine-${run}` });
        await store.start();
        return store;
      });
      reader = new ClickHouseQueryStore({ connection });
      await reader.start();
      return reader;
    },
    async teardown() {
      await reader?.stop();
      await server?.stop();
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

for (const factory of [duckDbFactory(), clickHouseFactory()]) {
  describe(`query contract: ${factory.name}`, { skip: factory.skip }, () => {
    let store: FlowQueryStore;
    let service: QueryService;
    before(async () => {
      store = await factory.open();
      service = new QueryService(store, { nowNs: () => sec(1_700_000_400) });
    });
    after(() => factory.teardown());

    test('health reports the store, and tasks lists every task with its kind and key fields', async () => {
      assert.deepEqual(await service.health(), { ok: true, status: 'SERVING' });
      const tasks = await service.tasks();
      assert.deepEqual(
        tasks.map((t) => [t.name, t.kind, t.kind === 'exact' ? t.keyFields : []]),
        [
          ['five', 'exact', FIVE_TUPLE],
          ['hh_src', 'heavy_hitter', []],
          ['per_src', 'exact', ['SrcIP']],
          ['ss_src', 'super_spreader', []],
        ],
      );
    });

    test('AggregateFlows: totals over all time sum every period and both runs', async () => {
      const totals = await service.aggregateFlows({});
      const everything = packetsIn(undefined, sec(2_000_000_000));
      assert.deepEqual(
        totals,
        TASKS.map((task) => ({ taskName: task.name, ...totalsOf(everything, task.fields) })),
      );
      // what the original's newest-row-per-flow would have said is less: it dropped earlier periods and runs
      assert.ok(totals[0]!.packets === 10_000);
    });

    test('AggregateFlows: ranges (start, end], end only, and filters', async () => {
      const cases: [bigint | undefined, bigint][] = [
        [undefined, sec(1_700_000_190)], // the original's end-only request: from the beginning
        [sec(1_700_000_090), sec(1_700_000_290)], // needs the state at the start (a delta within P1) and a new period
        [sec(1_700_000_190), sec(1_700_000_400)], // a period and a restart
        [sec(1_700_000_100), sec(1_700_000_150)], // no snapshot inside
      ];
      for (const [startNs, endNs] of cases) {
        const want = totalsOf(packetsIn(startNs, endNs), FIVE_TUPLE);
        const got = await service.aggregateFlows({ taskName: 'five', startNs, endNs });
        assert.deepEqual(got, want.packets === 0 ? [] : [{ taskName: 'five', ...want }], `range ${startNs}..${endNs}`);
      }
      // filters: a source address (IPv4 and IPv6), a port, a protocol
      const all = packetsIn(undefined, sec(1_700_000_400));
      const v6 = all.find((p) => p.family === 6)!;
      const v4 = all.find((p) => p.family === 4)!;
      for (const [filter, keep] of [
        [{ srcIP: formatAddressWords(v4.src, 0, 4) }, (p: RandomPacket) => p.family === 4 && p.src.join() === v4.src.join()],
        [{ srcIP: formatAddressWords(v6.src, 0, 6) }, (p: RandomPacket) => p.family === 6 && p.src.join() === v6.src.join()],
        [{ dstPort: 443, protocol: 6 }, (p: RandomPacket) => p.dstPort === 443 && p.protocol === 6],
      ] as const) {
        const want = totalsOf(all.filter(keep), FIVE_TUPLE);
        assert.deepEqual(await service.aggregateFlows({ taskName: 'five', ...filter }), [{ taskName: 'five', ...want }], JSON.stringify(filter));
      }
      // an IPv4 source filter on a task keyed by SrcIP only; the IPv4-mapped IPv6 form is another address
      const source = formatAddressWords(v4.src, 0, 4);
      const want = totalsOf(all.filter((p) => p.family === 4 && p.src.join() === v4.src.join()), ['SrcIP']);
      assert.deepEqual(await service.aggregateFlows({ taskName: 'per_src', srcIP: source }), [{ taskName: 'per_src', ...want }]);
    });

    test('TraceFlow: the lifetime and totals of a flow across periods and runs', async () => {
      const all = packetsIn(undefined, sec(1_700_000_400));
      const reference = referenceFlows(all, FIVE_TUPLE);
      const p1Keys = new Set(referenceFlows(BATCHES[0]!.packets, FIVE_TUPLE).keys());
      const runBKeys = new Set(referenceFlows(BATCHES[3]!.packets, FIVE_TUPLE).keys());
      const [id, flow] = [...reference].find(([key]) => p1Keys.has(key) && runBKeys.has(key))!;
      const flowKeys = Object.fromEntries(Object.entries(flow.key).map(([k, v]) => [k, String(v)]));
      assert.deepEqual(await service.traceFlow({ taskName: 'five', flowKeys }), { firstSeenNs: flow.first, lastSeenNs: flow.last, packets: flow.packets, bytes: flow.bytes }, id);
      // end only: the batches recorded by then
      const early = referenceFlows(packetsIn(undefined, sec(1_700_000_190)), FIVE_TUPLE).get(id)!;
      const traced = await service.traceFlow({ taskName: 'five', flowKeys, endNs: sec(1_700_000_190) });
      assert.deepEqual([traced.packets, traced.bytes, traced.firstSeenNs, traced.lastSeenNs], [early.packets, early.bytes, early.first, early.last]);
      await rejectsWith(service.traceFlow({ taskName: 'five', flowKeys: { ...flowKeys, SrcPort: '1' } }), 'NS_ERR_QUERY_NOT_FOUND');
      await rejectsWith(service.traceFlow({ taskName: 'per_src', flowKeys: { DstPort: '80' } }), 'NS_ERR_QUERY_FILTER', /no DstPort/);
      await rejectsWith(service.traceFlow({ taskName: 'five', flowKeys: { Color: 'red' } }), 'NS_ERR_QUERY_FILTER', /unsupported flow key/);
    });

    test('top flows and top sources over a range match the reference', async () => {
      const startNs = sec(1_700_000_090);
      const endNs = sec(1_700_000_400);
      const packets = packetsIn(startNs, endNs);
      const check = (got: FlowTotals[], fields: KeyFieldName[], by: 'bytes' | 'packets', limit: number): void => {
        const reference = [...referenceFlows(packets, fields).values()].sort((a, b) => b[by] - a[by]);
        assert.equal(got.length, Math.min(limit, reference.length));
        assert.deepEqual(
          got.map((f) => f[by]),
          reference.slice(0, limit).map((f) => f[by]),
        );
        const byKey = new Map([...referenceFlows(packets, fields).values()].map((f) => [keyText(f.key), f]));
        for (const flow of got) {
          const want = byKey.get(keyText(flow.key));
          assert.ok(want, `unknown key ${keyText(flow.key)}`);
          assert.deepEqual([flow.bytes, flow.packets], [want.bytes, want.packets]);
        }
      };
      check(await service.top({ taskName: 'five', startNs, endNs, by: 'bytes', limit: 15 }), FIVE_TUPLE, 'bytes', 15);
      check(await service.top({ taskName: 'five', startNs, endNs, by: 'packets', groupBy: ['SrcIP'], limit: 8 }), ['SrcIP'], 'packets', 8);
      check(await service.top({ taskName: 'five', startNs, endNs, groupBy: ['DstPort', 'Protocol'], limit: 100 }), ['DstPort', 'Protocol'], 'bytes', 100);
      await rejectsWith(service.top({ taskName: 'per_src', groupBy: ['DstIP'], limit: 5 }), 'NS_ERR_QUERY_FILTER', /its key fields are SrcIP/);
    });

    test('flow search: filters, ordering and pages that together list every matching flow once', async () => {
      const filter = { protocol: 17 };
      const reference = referenceFlows(packetsIn(undefined, sec(1_700_000_400)).filter((p) => p.protocol === 17), FIVE_TUPLE);
      const seen = new Map<string, FlowTotals>();
      let previous = Infinity;
      for (let offset = 0; offset < 10_000; offset += 13) {
        const page = await service.search({ taskName: 'five', filter, orderBy: 'packets', descending: true, limit: 13, offset });
        for (const flow of page) {
          assert.ok(flow.packets <= previous, 'ordered by packets, descending');
          previous = flow.packets;
          assert.ok(!seen.has(keyText(flow.key)), `listed twice: ${keyText(flow.key)}`);
          seen.set(keyText(flow.key), flow);
        }
        if (page.length < 13) break;
      }
      assert.equal(seen.size, reference.size);
      for (const flow of reference.values()) {
        const got = seen.get(keyText(flow.key));
        assert.deepEqual(got && [got.packets, got.bytes, got.firstSeenNs, got.lastSeenNs], [flow.packets, flow.bytes, flow.first, flow.last], keyText(flow.key));
      }
      const oldest = await service.search({ taskName: 'five', orderBy: 'firstSeen', descending: false, limit: 1 });
      const first = [...referenceFlows(packetsIn(undefined, sec(1_700_000_400)), FIVE_TUPLE).values()].reduce((a, b) => (b.first < a ? b.first : a), 2n ** 62n);
      assert.equal(oldest[0]?.firstSeenNs, first);
    });

    test('time series: buckets hold the traffic their snapshots recorded and sum to the range total', async () => {
      for (const [startSeconds, bucketSeconds] of [
        [1_699_999_990, 100],
        [1_699_999_990, 200],
        [1_700_000_095, 100], // starts between two snapshots of a period: the state at the start is subtracted
      ] as const) {
        const startNs = sec(startSeconds);
        const bucketNs = sec(bucketSeconds);
        const endNs = sec(1_700_000_400);
        const points = await service.series({ taskName: 'five', startNs, endNs, bucketNs });
        const buckets = Number((endNs - startNs + bucketNs - 1n) / bucketNs);
        assert.equal(points.length, buckets, 'every bucket, empty ones as zeros');
        for (const [i, point] of points.entries()) {
          const from = startNs + BigInt(i) * bucketNs;
          assert.equal(point.bucketStartNs, from);
          const want = totalsOf(packetsIn(from, from + bucketNs > endNs ? endNs : from + bucketNs), FIVE_TUPLE);
          assert.deepEqual({ bytes: point.bytes, packets: point.packets, flows: point.flows }, want, `bucket ${i} of ${startSeconds}/${bucketSeconds}`);
        }
        const [total] = await service.aggregateFlows({ taskName: 'five', startNs, endNs });
        assert.equal(points.reduce((sum, p) => sum + p.packets, 0), total!.packets);
        assert.equal(points.reduce((sum, p) => sum + p.bytes, 0), total!.bytes);
      }
      // filtered to a key, every task
      const v4 = BATCHES[0]!.packets.find((p) => p.family === 4)!;
      const source = formatAddressWords(v4.src, 0, 4);
      const points = await service.series({ startNs: sec(1_699_999_990), endNs: sec(1_700_000_390), bucketNs: sec(100), filter: { srcIP: source } });
      assert.deepEqual([...new Set(points.map((p) => p.taskName))], ['five', 'per_src']);
      const mine = (p: RandomPacket): boolean => p.family === 4 && p.src.join() === v4.src.join();
      for (const point of points.filter((p) => p.taskName === 'per_src')) {
        const want = totalsOf(packetsIn(point.bucketStartNs, point.bucketStartNs + sec(100)).filter(mine), ['SrcIP']);
        assert.deepEqual([point.packets, point.bytes, point.flows], [want.packets, want.bytes, want.flows]);
      }
      await rejectsWith(service.series({ startNs: sec(1), endNs: sec(1_700_000_000), bucketNs: sec(1) }), 'NS_ERR_QUERY_RANGE', /buckets/);
      await rejectsWith(service.series({ startNs: sec(1), bucketNs: 10n }), 'NS_ERR_QUERY_LIMIT', /1 ms/);
    });

    test('heavy hitters and super-spreaders: the newest snapshot in the range, largest first', async () => {
      const latest = SKETCHES[1]!;
      const values = (entries: SketchEntry[], limit = 100): { flow: string; value: number }[] =>
        entries
          .map((e) => ({ flow: e.flowText, value: e.value }))
          .sort((a, b) => b.value - a.value)
          .slice(0, limit);
      assert.deepEqual(await service.heavyHitters({ taskName: 'hh_src', type: 0, limit: 10 }), { snapshotNs: sec(latest.at), entries: values(latest.byCount) });
      assert.deepEqual(await service.heavyHitters({ taskName: 'hh_src', type: 0, limit: 2 }), { snapshotNs: sec(latest.at), entries: values(latest.byCount, 2) });
      assert.deepEqual(await service.heavyHitters({ taskName: 'hh_src', type: 1, limit: 10, endNs: sec(1_700_000_300) }), { snapshotNs: sec(SKETCHES[0]!.at), entries: values(SKETCHES[0]!.bySize) });
      assert.deepEqual(await service.heavyHitters({ taskName: 'ss_src', type: 2, limit: 10 }), { snapshotNs: sec(latest.at), entries: values(latest.spreaders) });
      assert.deepEqual(await service.heavyHitters({ taskName: 'ss_src', type: 2, limit: 10, endNs: sec(1_700_000_000) }), { snapshotNs: undefined, entries: [] });
      assert.deepEqual(
        (await service.sketchSnapshots({ taskName: 'hh_src', limit: 10 })).map((s) => [s.timestampNs, s.type, s.entries]),
        [
          [sec(latest.at), 0, 3],
          [sec(latest.at), 1, 1],
          [sec(SKETCHES[0]!.at), 0, 2],
          [sec(SKETCHES[0]!.at), 1, 1],
        ],
      );
      await rejectsWith(service.heavyHitters({ taskName: 'hh_src', type: 2, limit: 10 }), 'NS_ERR_QUERY_TASK', /heavy-hitter task/);
      await rejectsWith(service.heavyHitters({ taskName: 'five', type: 0, limit: 10 }), 'NS_ERR_QUERY_TASK');
      await rejectsWith(service.heavyHitters({ taskName: 'hh_src', type: 3, limit: 10 }), 'NS_ERR_QUERY_FILTER');
    });

    test('bad and hostile requests are refused with codes; bound values never change a statement', async () => {
      await rejectsWith(service.aggregateFlows({ startNs: sec(5), endNs: sec(5) }), 'NS_ERR_QUERY_RANGE', /before its end/);
      await rejectsWith(service.aggregateFlows({ endNs: -1n }), 'NS_ERR_QUERY_RANGE');
      await rejectsWith(service.aggregateFlows({ srcIP: "1.2.3.4' OR '1'='1" }), 'NS_ERR_QUERY_FILTER', /not an IPv4 or IPv6/);
      await rejectsWith(service.aggregateFlows({ dstPort: 70000 }), 'NS_ERR_QUERY_FILTER', /dst_port/);
      await rejectsWith(service.aggregateFlows({ protocol: 1.5 }), 'NS_ERR_QUERY_FILTER');
      await rejectsWith(service.aggregateFlows({ taskName: "five' OR 1=1 --" }), 'NS_ERR_QUERY_TASK', /no task named/);
      await rejectsWith(service.aggregateFlows({ taskName: 'a\u0000b' }), 'NS_ERR_QUERY_TASK');
      await rejectsWith(service.top({ taskName: 'five', limit: 0 }), 'NS_ERR_QUERY_LIMIT');
      await rejectsWith(service.search({ taskName: 'five', limit: 5, offset: 10_001 }), 'NS_ERR_QUERY_LIMIT');
      await rejectsWith(service.search({ taskName: 'five', limit: 5, orderBy: 'Value; DROP TABLE x' }), 'NS_ERR_QUERY_FILTER');
      // straight at the store, past validation: quotes and backslashes are data
      for (const name of ["five' OR '1'='1", "five\\' OR 1=1 --", 'five"; DROP TABLE flow_metrics; --']) {
        assert.deepEqual(await store.flowTotals({ taskName: name, range: { endNs: sec(2_000_000_000) }, filter: {} }), []);
        assert.deepEqual(await store.sketchList({ taskName: name, type: 0, range: { endNs: sec(2_000_000_000) }, limit: 5 }), { snapshotNs: undefined, entries: [] });
      }
      assert.equal((await service.aggregateFlows({ taskName: 'five' }))[0]?.packets, 10_000, 'the data is still there');
    });
  });
}
