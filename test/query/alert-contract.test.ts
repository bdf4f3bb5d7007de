/**
 * One alert contract, both alert stores: notices written by the real writers (the embedded store,
 * ClickHouse 18.16) read back through the query service identically — every field round-trips,
 * ranges, filters and pages select what a reference over the written notices selects, and the
 * active alerts follow each engine's newest run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertRecord } from '../../src/alerting/alert-recorder.js';
import type { Alert, AlertNoticeKind, AlertRecord, AlertSink } from '../../src/model/alert.js';
import type { AlertQueryStore, FlowQueryStore } from '../../src/model/ports.js';
import { QueryService } from '../../src/query/query-service.js';
import { ClickHouseQueryStore } from '../../src/store/clickhouse-query.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { sql } from '../../src/store/clickhouse-sql.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';

const BASE = 1_700_000_000;
const ns = (seconds: number, nanos = 0): bigint => BigInt(BASE + seconds) * 1_000_000_000n + BigInt(nanos);

interface Step {
  engine: string;
  run: string;
  at: number;
  kind: AlertNoticeKind;
  rule: string;
  flowText: string;
  value: number;
}

/** Engine e1 restarts (run r1, then r2); engine e2 runs beside it (r3). */
const STEPS: Step[] = [
  { engine: 'e1', run: 'r1', at: 100, kind: 'firing', rule: 'Syn_Flood', flowText: '10.0.0.1', value: 20314 },
  { engine: 'e1', run: 'r1', at: 100, kind: 'firing', rule: 'Byte_Rate', flowText: '', value: 1234.5 },
  { engine: 'e2', run: 'r3', at: 150, kind: 'firing', rule: 'Syn_Flood', flowText: '10.0.0.5', value: 15000 },
  { engine: 'e1', run: 'r1', at: 160, kind: 'repeat', rule: 'Syn_Flood', flowText: '10.0.0.1', value: 40000 },
  { engine: 'e1', run: 'r1', at: 200, kind: 'resolved', rule: 'Byte_Rate', flowText: '', value: 1234.5 },
  { engine: 'e1', run: 'r1', at: 220, kind: 'firing', rule: 'Syn_Flood', flowText: '2001:db8::1', value: 11000 },
  { engine: 'e2', run: 'r3', at: 250, kind: 'resolved', rule: 'Syn_Flood', flowText: '10.0.0.5', value: 15000 },
  { engine: 'e1', run: 'r2', at: 300, kind: 'firing', rule: "Scan'n\"Spread\\", flowText: '10.9.9.9', value: 412 },
];

function recordOf(step: Step, index: number): AlertRecord {
  const taskWide = step.flowText === '';
  const spreader = step.rule.startsWith('Scan');
  const at = { seconds: BASE + step.at, nanos: 123_456_789 };
  const alert: Alert = {
    id: `${step.rule}|${step.flowText}`,
    rule: step.rule,
    taskName: taskWide ? 'per_src_ip' : spreader ? 'ss_src_dst' : 'hh_dst',
    taskKind: taskWide ? 'exact' : spreader ? 'super_spreader' : 'heavy_hitter',
    metric: taskWide ? 'bytes_per_second' : spreader ? 'super_spreader_spread' : 'heavy_hitter_count',
    operator: taskWide ? '>=' : '>',
    threshold: taskWide ? 1000.25 : 10000,
    flowText: step.flowText,
    flow: taskWide ? {} : spreader ? { SrcIP: step.flowText } : { DstIP: step.flowText },
    value: step.value,
    status: step.kind === 'resolved' ? 'resolved' : 'firing',
    since: { seconds: BASE + step.at - 10, nanos: index },
    firedAt: { seconds: BASE + step.at - 5, nanos: 0 },
    at,
    flowFields: taskWide ? ['SrcIP'] : spreader ? ['SrcIP'] : ['DstIP'],
    ...(spreader ? { elementFields: ['DstIP'] } : {}),
    evidence: taskWide
      ? [{ flowText: '10.1.1.1', flow: { SrcIP: '10.1.1.1' }, bytes: 70000, packets: 50 }, { flowText: '10.1.1.2', flow: { SrcIP: '10.1.1.2' }, bytes: 10 }]
      : [{ flowText: step.flowText, flow: { DstIP: step.flowText }, packets: step.value }],
  };
  return alertRecord({ kind: step.kind, alert }, { runId: step.run, engineId: step.engine, source: step.engine === 'e2' ? 'analyze' : 'engine' });
}

const RECORDS = STEPS.map(recordOf);
/** The reference order: newest first, then rule, flow, engine, kind (byte order, as both stores compare). */
const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const newestFirst = (records: readonly AlertRecord[]): AlertRecord[] =>
  [...records].sort((a, b) => (a.atNs === b.atNs ? cmp(a.rule, b.rule) || cmp(a.flowText, b.flowText) || cmp(a.engineId, b.engineId) || cmp(a.kind, b.kind) : a.atNs > b.atNs ? -1 : 1));

/** Written per engine and run, in time order within each, as the recorder does. */
async function writeAll(open: (run: string) => Promise<AlertSink & { stop(): Promise<void> }>): Promise<void> {
  for (const run of ['r1', 'r2', 'r3']) {
    const sink = await open(run);
    try {
      const mine = RECORDS.filter((r) => r.runId === run);
      // one evaluation's notices arrive together
      for (const at of [...new Set(mine.map((r) => r.atNs))]) await sink.writeAlerts(mine.filter((r) => r.atNs === at));
    } finally {
      await sink.stop();
    }
  }
}

interface StoreFactory {
  name: string;
  skip: string | false;
  open(): Promise<FlowQueryStore & AlertQueryStore>;
  teardown(): Promise<void>;
}

function duckDbFactory(): StoreFactory {
  let dir = '';
  let reader: DuckDbQueryStore | undefined;
  return {
    name: 'DuckDB store',
    skip: false,
    async open() {
      dir = await mkdtemp(join(tmpdir(), 'ns-alert-contract-'));
      const path = join(dir, 'store.duckdb');
      await writeAll(async (run) => {
        const store = new DuckDbStore({ path, runId: run, inputs: [], tool: 'test' });
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
      server = await ClickHouseServer.start({ timezone: 'Asia/Kolkata' });
      const connection = { host: '127.0.0.1', port: server.httpPort, database: 'alert_contract', username: server.username, password: server.password, cloud: false };
      // before any writer: a reader of a database without alerts answers with none
      const early = new ClickHouseQueryStore({ connection });
      await early.start();
      assert.deepEqual(await early.alerts({ range: { endNs: ns(1000) }, limit: 10, offset: 0 }), []);
      await early.stop();
      await writeAll(async (run) => {
        const store = new ClickHouseStore({ connection, runId: run, engineId: 'ignored' });
        await store.start();
        return store;
      });
      const types = await (async () => {
        await using store = new ClickHouseStore({ connection, runId: 'x' });
        await store.start();
        return store.select<{ name: string; type: string }>(sql`SELECT name, type FROM system.columns WHERE database = 'alert_contract' AND table = 'alerts'`);
      })();
      assert.deepEqual(
        types.filter((c) => ['Timestamp', 'TimestampNs', 'Threshold', 'FiredAtNs'].includes(c.name)).map((c) => `${c.name} ${c.type}`),
        ['Timestamp DateTime', 'TimestampNs Int64', 'Threshold Float64', 'FiredAtNs Nullable(Int64)'],
      );
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

const ids = (records: readonly AlertRecord[]): string[] => records.map((r) => `${(r.atNs - ns(0, 123_456_789)) / 1_000_000_000n}/${r.engineId}/${r.kind}/${r.id}`);

for (const factory of [duckDbFactory(), clickHouseFactory()]) {
  describe(`alert contract: ${factory.name}`, { skip: factory.skip }, () => {
    let store: FlowQueryStore & AlertQueryStore;
    let service: QueryService;
    before(async () => {
      store = await factory.open();
      service = new QueryService(store);
    });
    after(() => factory.teardown());

    test('every notice round-trips field for field (ns times, fractions, JSON flow and evidence, quotes and backslashes), newest first', async () => {
      const all = await service.alerts({ limit: 100 });
      assert.deepEqual(all, newestFirst(RECORDS));
    });

    test('ranges (start, end], filters on rule, task, kind and flow, and pages', async () => {
      const within = (r: AlertRecord, start: bigint, end: bigint): boolean => r.atNs > start && r.atNs <= end;
      for (const [start, end] of [
        [ns(150, 123_456_789), ns(220, 123_456_789)], // start exclusive, end inclusive, to the nanosecond
        [ns(0), ns(100, 123_456_788)],
        [ns(0), ns(100, 123_456_789)],
      ] as const) {
        assert.deepEqual(ids(await service.alerts({ startNs: start, endNs: end, limit: 100 })), ids(newestFirst(RECORDS.filter((r) => within(r, start, end)))), `${start}..${end}`);
      }
      const cases: [Parameters<QueryService['alerts']>[0], (r: AlertRecord) => boolean][] = [
        [{ rule: 'Syn_Flood', limit: 100 }, (r) => r.rule === 'Syn_Flood'],
        [{ kind: 'resolved', limit: 100 }, (r) => r.kind === 'resolved'],
        [{ flow: '', limit: 100 }, (r) => r.flowText === ''],
        [{ flow: '2001:db8::1', limit: 100 }, (r) => r.flowText === '2001:db8::1'],
        [{ taskName: 'hh_dst', kind: 'firing', limit: 100 }, (r) => r.taskName === 'hh_dst' && r.kind === 'firing'],
        [{ rule: "Scan'n\"Spread\\", limit: 100 }, (r) => r.rule.startsWith('Scan')],
      ];
      for (const [request, keep] of cases) assert.deepEqual(ids(await service.alerts(request)), ids(newestFirst(RECORDS.filter(keep))), JSON.stringify(request));
      const pages: AlertRecord[] = [];
      for (let offset = 0; offset < RECORDS.length + 3; offset += 3) pages.push(...(await service.alerts({ limit: 3, offset })));
      assert.deepEqual(ids(pages), ids(newestFirst(RECORDS)), 'pages list every notice once, in order');
    });

    test('active alerts: per engine its newest run, per alert its newest notice unless resolved', async () => {
      // in the end: e1 restarted (run r2 fired the scan only); e2's flood resolved
      assert.deepEqual(ids(await service.activeAlerts({ limit: 100 })), ['300/e1/firing/Scan\'n"Spread\\|10.9.9.9']);
      // at 230 s: e1 still in r1 (its flood repeated, the rate resolved, a second victim fired), e2's flood firing
      const at230 = await service.activeAlerts({ endNs: ns(230), limit: 100 });
      assert.deepEqual(ids(at230), ['220/e1/firing/Syn_Flood|2001:db8::1', '160/e1/repeat/Syn_Flood|10.0.0.1', '150/e2/firing/Syn_Flood|10.0.0.5']);
      assert.equal(at230[1]!.value, 40000, 'the newest notice of the alert, with its latest value');
      assert.deepEqual(ids(await service.activeAlerts({ endNs: ns(230), limit: 2 })), ids(at230).slice(0, 2));
      assert.deepEqual(ids(await service.activeAlerts({ endNs: ns(230), rule: 'Byte_Rate', limit: 10 })), []);
      assert.deepEqual(ids(await service.activeAlerts({ endNs: ns(120), rule: 'Byte_Rate', taskName: 'per_src_ip', limit: 10 })), ['100/e1/firing/Byte_Rate|']);
      assert.deepEqual(await service.activeAlerts({ endNs: ns(50), limit: 10 }), []);
    });

    test('bad and hostile requests are refused with codes; bound values never change a statement', async () => {
      await rejectsWith(service.alerts({ kind: 'active', limit: 5 }), 'NS_ERR_QUERY_FILTER', /kind must be one of firing, repeat, resolved/);
      await rejectsWith(service.alerts({ rule: '', limit: 5 }), 'NS_ERR_QUERY_FILTER', /rule/);
      await rejectsWith(service.alerts({ rule: 'a\nb', limit: 5 }), 'NS_ERR_QUERY_FILTER');
      await rejectsWith(service.alerts({ flow: 'x'.repeat(2000), limit: 5 }), 'NS_ERR_QUERY_FILTER', /flow/);
      await rejectsWith(service.alerts({ taskName: 'a\u0000b', limit: 5 }), 'NS_ERR_QUERY_TASK');
      await rejectsWith(service.alerts({ limit: 0 }), 'NS_ERR_QUERY_LIMIT');
      await rejectsWith(service.alerts({ limit: 5, offset: -1 }), 'NS_ERR_QUERY_LIMIT');
      await rejectsWith(service.alerts({ startNs: ns(10), endNs: ns(10), limit: 5 }), 'NS_ERR_QUERY_RANGE');
      await rejectsWith(service.activeAlerts({ endNs: -5n, limit: 5 }), 'NS_ERR_QUERY_RANGE');
      for (const rule of ["Syn_Flood' OR '1'='1", "Syn_Flood\\' OR 1=1 --", 'x"; DROP TABLE alerts; --']) {
        assert.deepEqual(await store.alerts({ range: { endNs: ns(1000) }, rule, limit: 10, offset: 0 }), []);
        assert.deepEqual(await store.activeAlerts({ endNs: ns(1000), rule, limit: 10 }), []);
      }
      assert.equal((await service.alerts({ limit: 100 })).length, RECORDS.length, 'the notices are still there');
    });
  });
}
