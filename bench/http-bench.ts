/**
 * HTTP API latency under load on the embedded store (issue 4 §5: p99 ≤ 50 ms at 500 requests/s).
 *
 * 1. Generates (once, cached under bench/.cache/) a DuckDB store of `--flows` × `--snapshots` flow
 *    rows (default 1,000,000 × 10 = 10,000,000) through the real writer: snapshots a minute apart
 *    holding every flow's cumulative counters, a period reset halfway, plus heavy-hitter and
 *    super-spreader lists.
 * 2. Serves it with the real HTTP API (auth on, as deployed) on a loopback port, times each route
 *    alone without cache, measures the load tool's own latency floor against a server that answers
 *    at once (autocannon's rate limiting adds tens of ms at the p99 with 50 connections; 20 by
 *    default), asks every route once (dashboards already open), then drives it with autocannon in
 *    a child process at a fixed `--rate` (requests/s) for `--duration` seconds over a mix
 *    of routes — what the dashboard and Grafana ask: tasks, health, AggregateFlows over a recent
 *    range and over all time, top sources and flows, a 60-bucket series, a flow-search page, heavy
 *    hitters, Grafana's query.
 *    The API's query cache (`--cache-ttl` ms, default 2000 as deployed; 0 turns it off) lets
 *    identical requests share answers, as many dashboards refreshing the same panels would. It
 *    keeps answers while the store's version is unchanged: `--changes-every S` (default 10)
 *    changes it every S seconds, as `serve` writing a snapshot every 10 s would, so every cached
 *    answer is asked again after each change; 0 keeps it fixed, as `netspectra api` serving a
 *    file read-only (which cannot change) does.
 * 3. Prints the overall p50/p99 (autocannon), per-route p50/p99 (the server's own /metrics), the
 *    achieved rate and errors, and the ratio of p99 to the 50 ms target.
 *
 *   node dist/bench/http-bench.js [--flows N] [--snapshots N] [--rate N] [--duration S] [--connections N] [--mix all|light] [--cache-ttl MS] [--changes-every S]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createHttpApi } from '../src/api/http-server.js';
import { KeySpec } from '../src/model/flow-key.js';
import { ExactFlowTable } from '../src/engine/tasks/exact-flow-table.js';
import type { KeyFieldName } from '../src/model/flow.js';
import type { AlertQueryStore, FlowQueryStore } from '../src/model/ports.js';
import { PacketBatch } from '../src/model/packet.js';
import { QueryService } from '../src/query/query-service.js';
import { DuckDbQueryStore } from '../src/store/duckdb-query.js';
import { DuckDbStore } from '../src/store/duckdb-store.js';
import { SCHEMA_VERSION } from '../src/store/duckdb-schema.js';

interface AutocannonResult {
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
/** autocannon in its own process (http-load.ts), off the server's event loop. */
function autocannon(options: Record<string, unknown>): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./http-load.js', import.meta.url));
    child.once('message', (result) => resolve(result as AutocannonResult));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the load generator exited with ${code} before answering`)));
    child.send(options);
  });
}

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '1000000' },
    snapshots: { type: 'string', default: '10' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '30' },
    connections: { type: 'string', default: '20' },
    mix: { type: 'string', default: 'all' },
    'cache-ttl': { type: 'string', default: '2000' },
    'changes-every': { type: 'string', default: '10' },
    'generate-only': { type: 'boolean', default: false },
  },
});
const flows = Number(values.flows);
const snapshots = Number(values.snapshots);
const rate = Number(values.rate);
const duration = Number(values.duration);
const connections = Number(values.connections);
const TARGET_P99_MS = 50;
const FIVE: KeyFieldName[] = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'];
const BASE = 1_700_000_000;
const TOKEN = 'bench-token-0123456789abcdef';
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const root = new URL('../../', import.meta.url).pathname;
const cache = join(root, 'bench', '.cache');
mkdirSync(cache, { recursive: true });
// the layout in the name: a store cached by a build with another layout is generated again
const storePath = join(cache, `http-bench-${flows}x${snapshots}-layout${SCHEMA_VERSION}.duckdb`);

/** `count` distinct flows (≈ count/256 sources, 256 destinations, TCP/UDP), one packet each per call, sizes varied. */
function ingestFlows(count: number, snapshot: number, ingest: (batch: PacketBatch) => void): void {
  const batch = new PacketBatch(8192);
  for (let made = 0; made < count; made += batch.count) {
    batch.count = Math.min(batch.capacity, count - made);
    for (let i = 0; i < batch.count; i++) {
      const id = made + i;
      batch.tsSeconds[i] = BASE + 60 * snapshot + (id % 60);
      batch.tsNanos[i] = (id * 7919) % 1_000_000_000;
      batch.wireLength[i] = 40 + ((id * 2654435761) % 1461);
      batch.family[i] = 4;
      batch.protocol[i] = id % 5 === 0 ? 17 : 6;
      batch.srcAddr.set([0, 0, 0xffff, 0x0a000000 + (id >>> 8)], i * 4);
      batch.dstAddr.set([0, 0, 0xffff, 0xc0a80000 + (id & 0xff)], i * 4);
      batch.srcPort[i] = 1024 + (id % 60000);
      batch.dstPort[i] = [443, 80, 53, 22, 8080][id % 5]!;
    }
    ingest(batch);
  }
}

async function generate(): Promise<void> {
  const partial = `${storePath}.partial`;
  rmSync(partial, { force: true });
  rmSync(`${partial}.wal`, { force: true });
  const started = performance.now();
  const writer = new DuckDbStore({ path: partial, runId: 'bench', inputs: [], tool: 'http-bench' });
  await writer.start();
  let table = new ExactFlowTable(new KeySpec(FIVE));
  for (let s = 0; s < snapshots; s++) {
    // a period reset halfway: counters start again, as after aggregator.period
    if (s === Math.floor(snapshots / 2)) table = new ExactFlowTable(new KeySpec(FIVE));
    ingestFlows(flows, s, (batch) => table.ingest(batch));
    // every other snapshot, a tenth of the flows send more, so the top-N is not a tie
    if (s % 2 === 1) ingestFlows(Math.floor(flows / 10), s, (batch) => table.ingest(batch));
    await writer.write({
      group: 'exact',
      time: { seconds: BASE + 60 * (s + 1), nanos: 0 },
      periodId: s < Math.floor(snapshots / 2) ? BASE : BASE + 60 * Math.floor(snapshots / 2),
      reason: 'interval',
      tasks: [{ kind: 'exact', name: 'five', keyFields: FIVE, memoryBytes: 0, flows: table.toColumns() }],
    });
    const hitters = Array.from({ length: 100 }, (_, i) => ({ flow: { SrcIP: `10.0.${i}.0` }, flowText: `10.0.${i}.0`, value: 100_000 - i * 7 - s }));
    await writer.write({
      group: 'sketch',
      time: { seconds: BASE + 60 * (s + 1), nanos: 0 },
      periodId: BASE,
      reason: 'interval',
      tasks: [
        { kind: 'heavy_hitter', name: 'hh_src', flowFields: ['SrcIP'], memoryBytes: 0, byCount: hitters, bySize: hitters },
        { kind: 'super_spreader', name: 'ss_src', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: hitters.slice(0, 20) },
      ],
    });
    process.stdout.write(`\r  snapshot ${s + 1}/${snapshots} written`);
  }
  await writer.stop();
  renameSync(partial, storePath);
  console.log(`\r  ${fmt(flows * snapshots)} flow rows written in ${fmt((performance.now() - started) / 1000, 1)} s → ${storePath}`);
}

console.log(`== store: ${fmt(flows)} flows × ${snapshots} snapshots`);
if (existsSync(storePath)) console.log(`  cached: ${storePath}`);
else await generate();
if (values['generate-only']) process.exit(0);

const store = new DuckDbQueryStore({ path: storePath });
await store.start();
const changesEveryMs = Number(values['changes-every']) * 1000;
// the file cannot change; a store being written (serve) changes at every snapshot
const served: FlowQueryStore & AlertQueryStore = {
  description: store.description,
  version: changesEveryMs > 0 ? () => Math.floor(Date.now() / changesEveryMs) : store.version,
  start: () => store.start(),
  stop: () => store.stop(),
  health: () => store.health(),
  tasks: () => store.tasks(),
  flowTotals: (query) => store.flowTotals(query),
  flows: (query) => store.flows(query),
  series: (query) => store.series(query),
  sketchList: (query) => store.sketchList(query),
  sketchSnapshots: (taskName, range, limit) => store.sketchSnapshots(taskName, range, limit),
  alerts: (query) => store.alerts(query),
  activeAlerts: (query) => store.activeAlerts(query),
};
const service = new QueryService(served);
const cacheTtlMs = Number(values['cache-ttl']);
const api = createHttpApi({ queryService: service, authTokens: [TOKEN], listenAddr: '127.0.0.1:0', cacheTtlMs, log: (line) => console.log(`  ${line}`) });
await api.start();

const end = BASE + 60 * snapshots;
const recent = `start=${end - 120}&end=${end}`;
const grafana = JSON.stringify({
  range: { from: new Date((end - 600) * 1000).toISOString(), to: new Date(end * 1000).toISOString() },
  intervalMs: 10_000,
  targets: [{ refId: 'A', target: 'series', payload: { task: 'five', value: 'bytes', rate: true } }],
});
interface BenchRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}
const heavy: BenchRequest[] = [
  { method: 'GET', path: `/api/v1/aggregate?${recent}` },
  { method: 'GET', path: '/api/v1/aggregate' },
  { method: 'GET', path: `/api/v1/top/sources?task=five&limit=10&${recent}` },
  { method: 'GET', path: `/api/v1/top/flows?task=five&limit=10&by=packets&${recent}` },
  { method: 'GET', path: `/api/v1/series?task=five&start=${end - 600}&end=${end}&bucket=10s` },
  { method: 'GET', path: `/api/v1/flows?task=five&dst_port=22&order=last_seen&limit=50&offset=50&${recent}` },
  { method: 'POST', path: '/grafana/query', headers: { 'content-type': 'application/json' }, body: grafana },
];
const light: BenchRequest[] = [
  { method: 'GET', path: '/api/v1/tasks' },
  { method: 'GET', path: '/api/v1/health' },
  { method: 'GET', path: '/api/v1/heavy-hitters?task=hh_src&limit=20' },
  { method: 'GET', path: '/api/v1/super-spreaders?task=ss_src&limit=20' },
  { method: 'GET', path: '/api/v1/trace?task=five&src_ip=10.0.0.1&dst_ip=192.168.0.1&src_port=1281&dst_port=53&protocol=6' },
  { method: 'GET', path: '/healthz' },
];
const mix = values.mix === 'light' ? light : [...light, ...heavy];

/** One request of the mix to a server, with the token; anything but 200 stops the bench. */
async function ask(base: string, request: BenchRequest): Promise<void> {
  const response = await fetch(`${base}${request.path}`, { method: request.method, headers: { authorization: `Bearer ${TOKEN}`, ...(request.headers ?? {}) }, ...(request.body === undefined ? {} : { body: request.body }) });
  if (response.status !== 200) throw new Error(`${request.path}: HTTP ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

// one request of each route alone, on a cold cache: what a single viewer waits for
const cold = createHttpApi({ queryService: service, authTokens: [TOKEN], listenAddr: '127.0.0.1:0', cacheTtlMs: 0, log: () => {} });
await cold.start();
// warm-up: every route once (DuckDB's caches, the task list), not measured
for (const request of mix) await ask(cold.url, request);
const single: [string, number][] = [];
for (const request of mix) {
  const started = performance.now();
  await ask(cold.url, request);
  single.push([`${request.method} ${request.path.split('?')[0]}`, performance.now() - started]);
}
await cold.stop();
console.log('== one request at a time, no cache (after a warm-up of the store)');
for (const [route, ms] of single) console.log(`  ${route.padEnd(36)} ${fmt(ms, 1).padStart(8)} ms`);

// The load tool's own floor: the same rate and connections against a server that answers at once.
// (autocannon's rate limiting alone adds tens of ms at the p99 with many connections.)
{
  const empty = createServer((_request, response) => response.end('{}')).listen(0, '127.0.0.1');
  await once(empty, 'listening');
  const { port } = empty.address() as AddressInfo;
  const floor = await autocannon({ url: `http://127.0.0.1:${port}`, pipelining: 1, connections, duration: 5, overallRate: rate });
  empty.close();
  console.log(`== the load tool alone (${rate} req/s, ${connections} connections, 5 s, a server that answers at once): p50 ${floor.latency.p50} ms, p99 ${floor.latency.p99} ms`);
}

// the served API's cache warmed as by dashboards already open: every route asked once
for (const request of mix) await ask(api.url, request);

const [load1] = loadavg();
console.log(
  `== load: ${rate} requests/s for ${duration} s, ${connections} connections, mix "${values.mix}" (${mix.length} routes, round robin), cache ${cacheTtlMs} ms, ` +
    (changesEveryMs > 0 ? `store changes every ${changesEveryMs / 1000} s` : 'store never changes (a file served read-only)'),
);
console.log(`  machine: ${cpus().length} CPUs, load average before ${load1!.toFixed(2)}`);
// how long the server's event loop was held up (requests wait for it, whatever their handler costs)
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const result = await autocannon({
  url: api.url,
  // one request per connection at a time, as browsers and Grafana do
  pipelining: 1,
  // a slow answer is a latency to report, not a timeout to drop from the statistics
  timeout: 120,
  connections,
  duration,
  overallRate: rate,
  headers: { authorization: `Bearer ${TOKEN}` },
  requests: mix,
});
loopDelay.disable();
const [loadAfter] = loadavg();
const metrics = await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
const quantile = (route: string, q: string): number => {
  const match = new RegExp(`^netspectra_http_request_duration_seconds\\{route="${route.replace(/[/]/g, '\\/')}",quantile="${q}"\\} (\\S+)$`, 'm').exec(metrics);
  return match === null ? NaN : Number(match[1]) * 1000;
};
console.log('  route (server side, last 1,024 requests each)      p50 ms    p99 ms');
for (const route of [...new Set(mix.map((r) => r.path.split('?')[0]!))]) console.log(`  ${route.padEnd(46)} ${fmt(quantile(route, '0.5'), 1).padStart(8)}  ${fmt(quantile(route, '0.99'), 1).padStart(8)}`);
console.log(`  requests: ${fmt(result.requests.total)} in ${result.duration} s (${fmt(result.requests.average)} /s), errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}`);
console.log(`  latency (client side): p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);
console.log(`  p99 / target (${TARGET_P99_MS} ms at ${rate} req/s): ${(result.latency.p99 / TARGET_P99_MS).toFixed(2)} ${result.latency.p99 <= TARGET_P99_MS ? '(met)' : '(missed)'}`);
console.log(`  server event loop delay: p50 ${fmt(loopDelay.percentile(50) / 1e6, 1)} ms, p99 ${fmt(loopDelay.percentile(99) / 1e6, 1)} ms, max ${fmt(loopDelay.max / 1e6, 1)} ms`);
console.log(`  load average after: ${loadAfter!.toFixed(2)}`);
const cacheLine = /^netspectra_http_query_cache_total\{result="hit"\} (\d+)$/m.exec(metrics);
const staleLine = /^netspectra_http_query_cache_total\{result="stale"\} (\d+)$/m.exec(metrics);
const missLine = /^netspectra_http_query_cache_total\{result="miss"\} (\d+)$/m.exec(metrics);
console.log(`  query cache: ${cacheLine?.[1] ?? 0} hits, ${staleLine?.[1] ?? 0} stale answers given while renewed, ${missLine?.[1] ?? 0} store calls`);

await api.stop();
await store.stop();
