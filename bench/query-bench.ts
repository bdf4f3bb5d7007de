/**
 * Query latency of the query service (src/query) over both stores: the embedded DuckDB file and a
 * private clickhouse-server (test/kit; skipped when none is installed).
 *
 * Writes `--flows` distinct 5-tuple flows per snapshot, `--snapshots` snapshots (each in its own
 * period, so every flow has one segment per snapshot and totals must add them up), through the
 * real writers; then times AggregateFlows (all time, and a range that needs the state at its
 * start), top-10 flows, top-10 sources, a 60-bucket series and a TraceFlow: best of `--runs`.
 *
 *   node dist/bench/query-bench.js [--flows N] [--snapshots N] [--runs N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KeySpec } from '../src/model/flow-key.js';
import { ExactFlowTable } from '../src/engine/tasks/exact-flow-table.js';
import type { KeyFieldName } from '../src/model/flow.js';
import type { FlowQueryStore, SnapshotWriter } from '../src/model/ports.js';
import { QueryService } from '../src/query/query-service.js';
import { ClickHouseQueryStore } from '../src/store/clickhouse-query.js';
import { ClickHouseStore } from '../src/store/clickhouse-store.js';
import { DuckDbQueryStore } from '../src/store/duckdb-query.js';
import { DuckDbStore } from '../src/store/duckdb-store.js';
import { ingestDistinctFlows } from '../test/kit/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../test/kit/clickhouse.js';

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '1000000' },
    snapshots: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
  },
});
const flows = Number(values.flows);
const snapshots = Number(values.snapshots);
const runs = Number(values.runs);
const FIVE: KeyFieldName[] = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'];
const S = 1_000_000_000n;
const BASE = 1_700_000_000;
const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function fill(writer: SnapshotWriter): Promise<number> {
  const started = performance.now();
  for (let s = 0; s < snapshots; s++) {
    const table = new ExactFlowTable(new KeySpec(FIVE));
    ingestDistinctFlows(flows, (batch) => table.ingest(batch));
    await writer.write({
      group: 'exact',
      time: { seconds: BASE + 60 * (s + 1), nanos: 0 },
      periodId: BASE + 60 * s,
      reason: 'interval',
      tasks: [{ kind: 'exact', name: 'five', keyFields: FIVE, memoryBytes: 0, flows: table.toColumns() }],
    });
  }
  return performance.now() - started;
}

async function best(run: () => Promise<unknown>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await run();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

async function measure(name: string, store: FlowQueryStore, writeMs: number): Promise<void> {
  const service = new QueryService(store);
  const rows = flows * snapshots;
  console.log(`${name}: ${fmt(rows)} flow rows written in ${fmt(writeMs)} ms`);
  const cases: [string, () => Promise<unknown>][] = [
    ['AggregateFlows, all time', () => service.aggregateFlows({})],
    ['AggregateFlows, (start, end]', () => service.aggregateFlows({ startNs: BigInt(BASE + 61) * S, endNs: BigInt(BASE + 60 * snapshots) * S })],
    ['top 10 flows by bytes', () => service.top({ taskName: 'five', limit: 10 })],
    ['top 10 sources by packets', () => service.top({ taskName: 'five', limit: 10, by: 'packets', groupBy: ['SrcIP'] })],
    ['series, 60 buckets', () => service.series({ taskName: 'five', startNs: BigInt(BASE) * S, endNs: BigInt(BASE + 600) * S, bucketNs: 10n * S })],
    ['TraceFlow', () => service.traceFlow({ taskName: 'five', flowKeys: { SrcIP: '10.0.0.0', DstIP: '192.168.0.1', SrcPort: '1', DstPort: '443', Protocol: '6' } })],
  ];
  for (const [label, run] of cases) console.log(`  ${label.padEnd(30)} ${fmt(await best(run)).padStart(7)} ms (best of ${runs})`);
}

const dir = await mkdtemp(join(tmpdir(), 'ns-query-bench-'));
try {
  const path = join(dir, 'bench.duckdb');
  const writer = new DuckDbStore({ path, runId: 'bench', inputs: [], tool: 'bench' });
  await writer.start();
  const duckWriteMs = await fill(writer);
  await writer.stop();
  const duck = new DuckDbQueryStore({ path });
  await duck.start();
  await measure('DuckDB (embedded)', duck, duckWriteMs);
  await duck.stop();
} finally {
  await rm(dir, { recursive: true, force: true });
}

if (clickHouseSkip !== false) {
  console.log(`ClickHouse: skipped (${clickHouseSkip})`);
} else {
  const server = await ClickHouseServer.start();
  try {
    const connection = { host: '127.0.0.1', port: server.httpPort, database: 'query_bench', username: server.username, password: server.password, cloud: false };
    const writer = new ClickHouseStore({ connection, runId: 'bench', engineId: 'bench' });
    await writer.start();
    const writeMs = await fill(writer);
    await writer.stop();
    const store = new ClickHouseQueryStore({ connection });
    await store.start();
    await measure('ClickHouse', store, writeMs);
    await store.stop();
  } finally {
    await server.stop();
  }
}
