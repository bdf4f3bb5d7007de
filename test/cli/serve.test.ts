/**
 * `netspectra serve` as a child process on loopback ports it picks (port 0, read back from its log): a real capture of the shared corpus
 * read, stored and queried over Thrift while serve runs (totals per 5-tuple equal tshark's truth),
 * its metrics, a clean SIGTERM after which the DuckDB file opens read-only with the same totals,
 * serving an existing store without a source, damaged input, usage errors, and a live capture on
 * `lo` (when tcpdump can capture here) whose datagrams are counted and queryable while serve runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ThriftQueryClient } from '../../src/api/thrift-query-client.js';
import { int64ToBig } from '../../src/api/thrift-query-server.js';
import { serveConfig, servedStorePath } from '../../src/pipeline/serve-service.js';
import { parseConfig } from '../../src/config/index.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { ThreadedWriter } from '../../src/store/threaded-writer.js';
import { AggregationRequest, FlowFilter, FlowListRequest, HealthCheckRequest } from '../../src/wire/gen/netspectra_types.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';
import { FIVE_TUPLE, exactSnapshot } from '../kit/snapshots.js';
import { liveCaptureSkip } from '../kit/live-capture.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const shared = sharedPcaps();
const pcaps = shared.dir;
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const execFileAsync = promisify(execFile);

interface TruthFlow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  packets: number;
  bytes: number;
}
// read only when the shared captures are here (their tests are skipped otherwise)
const truth = shared.skip === false ? (JSON.parse(readFileSync(join(pcaps, 'truth', 'example.pcap.json'), 'utf8')) as { ip_frames: number; flows: TruthFlow[] }) : { ip_frames: 0, flows: [] };
const truthBytes = truth.flows.reduce((sum, f) => sum + f.bytes, 0);
const flowId = (f: { src: string; dst: string; sport: number; dport: number; proto: number }): string => `${f.src} ${f.dst} ${f.sport} ${f.dport} ${f.proto}`;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cli, ...args], { maxBuffer: 1 << 24, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A serve child: its stderr so far, a wait for a line, and its exit. */
class ServeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr = '';
  readonly #waiters: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdout!.resume();
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      for (const waiter of [...this.#waiters]) {
        const match = waiter.pattern.exec(this.stderr);
        if (match !== null) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    });
  }

  /** Resolve when stderr matches; fail when serve exits first or after `ms`. */
  async waitFor(pattern: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    const now = pattern.exec(this.stderr);
    if (now !== null) return now;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<RegExpExecArray>((resolve) => this.#waiters.push({ pattern, resolve })),
        this.exited.then((code) => Promise.reject(new Error(`serve exited (${code}) before ${pattern}: ${this.stderr}`))),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms: ${this.stderr}`)), ms))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /**
   * The addresses serve listens on, from the line it prints once listening (asked for port 0, it
   * names the ports it got): Thrift `HOST:PORT`, and the HTTP API and metrics base URLs when on.
   */
  async listening(): Promise<{ rpcAddr: string; httpUrl: string | undefined; metricsUrl: string | undefined }> {
    const [line] = await this.waitFor(/QueryService \(Thrift[^)]*\) listening on .*\n/);
    return {
      rpcAddr: /listening on ([^;\n]+)/.exec(line)![1]!,
      httpUrl: /HTTP API and dashboard on (\S+)\//.exec(line)?.[1],
      metricsUrl: /metrics (\S+)\/metrics/.exec(line)?.[1],
    };
  }
}

/** Every flow of a task over Thrift, as `src dst sport dport proto` → [packets, bytes]. */
async function thriftFlows(client: ThriftQueryClient, taskName: string, filter?: FlowFilter): Promise<Map<string, [number, number]>> {
  const response = await client.call('SearchFlows', (c) => c.SearchFlows(new FlowListRequest({ task_name: taskName, limit: 10_000, ...(filter === undefined ? {} : { filter }) })));
  return new Map(
    response.flows.map((f) => [
      flowId({ src: f.key.SrcIP!, dst: f.key.DstIP!, sport: Number(f.key.SrcPort), dport: Number(f.key.DstPort), proto: Number(f.key.Protocol) }),
      [Number(int64ToBig(f.total_packets)), Number(int64ToBig(f.total_bytes))],
    ]),
  );
}

async function metricValue(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('serve stores every task group in one embedded store file, at --snapshot-interval when given', () => {
  const config = parseConfig(
    'aggregator:\n  exact:\n    writers:\n      - type: duckdb\n        snapshot_interval: 30s\n        duckdb:\n          path: "mine.duckdb"\n' +
      '  sketch:\n    writers:\n      - type: text\n        snapshot_interval: 20s\n        text:\n          root_path: "sketches"\n',
  );
  assert.equal(servedStorePath(config, undefined), 'mine.duckdb');
  assert.equal(servedStorePath(config, 'given.duckdb'), 'given.duckdb');
  const asIs = serveConfig(config, 'mine.duckdb', undefined);
  assert.deepEqual(
    asIs.aggregator.exact.writers.map((w) => [w.type, w.snapshotIntervalMs, w.path]),
    [['duckdb', 30_000, 'mine.duckdb']],
  );
  // the sketch group had no store: it gets one beside its text writer
  assert.deepEqual(
    asIs.aggregator.sketch.writers.map((w) => [w.type, w.snapshotIntervalMs, w.path ?? w.rootPath]),
    [
      ['text', 20_000, 'sketches'],
      ['duckdb', 60_000, 'mine.duckdb'],
    ],
  );
  const fast = serveConfig(config, 'given.duckdb', 2000);
  assert.deepEqual(
    [...fast.aggregator.exact.writers, ...fast.aggregator.sketch.writers].map((w) => [w.type, w.snapshotIntervalMs, w.path ?? w.rootPath]),
    [
      ['duckdb', 2000, 'given.duckdb'],
      ['text', 20_000, 'sketches'],
      ['duckdb', 2000, 'given.duckdb'],
    ],
  );
});

test('the writer thread answers queries on its own store: each snapshot is visible once written; refused after stop', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-serve-thread-'));
  const writer = new ThreadedWriter({ kind: 'duckdb', options: { path: join(dir, 'thread.duckdb'), runId: 'run-1', inputs: [], tool: 'test' } });
  try {
    const reads = writer.queryStore();
    await assert.rejects(reads.tasks(), { code: 'NS_ERR_QUERY_STORE' });
    await writer.start();
    const first = exactSnapshot(FIVE_TUPLE, 3000, 11);
    const task = first.snapshot.tasks[0]!.name;
    await writer.write(first.snapshot);
    const end = { endNs: 2_000_000_000_000_000_000n };
    const totalsOf = (packets: { length: number }[]): [number, number] => [packets.length, packets.reduce((sum, p) => sum + p.length, 0)];
    const [afterFirst] = await reads.flowTotals({ taskName: task, range: end, filter: {} });
    assert.deepEqual([afterFirst?.packets, afterFirst?.bytes], totalsOf(first.packets));
    // a later period's snapshot: a new segment per flow, summed with the first
    const second = exactSnapshot(FIVE_TUPLE, 2000, 12);
    await writer.write({ ...second.snapshot, periodId: first.snapshot.periodId + 86_400, time: { seconds: first.snapshot.time.seconds + 86_400, nanos: 0 } });
    const [afterSecond] = await reads.flowTotals({ taskName: task, range: end, filter: {} });
    assert.deepEqual([afterSecond?.packets, afterSecond?.bytes], totalsOf([...first.packets, ...second.packets]));
    assert.equal((await reads.health()).ok, true);
    // queries side by side on the thread's connections
    const parallel = await Promise.all(Array.from({ length: 6 }, () => reads.flowTotals({ taskName: task, range: end, filter: {} })));
    assert.ok(parallel.every((totals) => totals[0]?.packets === afterSecond?.packets));
    await writer.stop();
    await assert.rejects(reads.flowTotals({ taskName: task, range: end, filter: {} }), { code: 'NS_ERR_QUERY_STORE' });
    assert.equal((await reads.health()).ok, false);
  } finally {
    await writer.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve --help documents the sources and the shutdown; usage errors exit 2 with a clear message', async () => {
  const help = await run(['serve', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--iface NAME', '--file CAPTURE', '--store FILE', '--snapshot-interval', '--rpc-listen', '--http-listen', '--exit-when-done', 'SIGTERM']) assert.ok(help.stdout.includes(flag), flag);
  const cases: [string[], RegExp][] = [
    [['--iface', 'lo', '--file', join(pcaps, 'example.pcap')], /NS_ERR_USAGE: give either --iface NAME or --file CAPTURE, not both/],
    [['--filter', 'udp', '--file', join(pcaps, 'example.pcap')], /NS_ERR_USAGE: --filter applies to live capture \(--iface\) only/],
    [['--exit-when-done'], /NS_ERR_USAGE: --exit-when-done applies to --file only/],
    [['--file', join(pcaps, 'example.pcap'), '--rpc-listen', 'nowhere'], /NS_ERR_USAGE: --rpc-listen expects HOST:PORT/],
    [['--file', join(pcaps, 'example.pcap'), '--http-listen', 'nowhere'], /NS_ERR_USAGE: --http-listen expects HOST:PORT/],
    [['--file', join(pcaps, 'example.pcap'), '--no-http', '--static', 'web'], /NS_ERR_USAGE: --static and --no-http cannot be combined/],
    [['--file', join(pcaps, 'example.pcap'), '--snapshot-interval', 'often'], /NS_ERR_USAGE: --snapshot-interval expects a duration/],
    [[join(pcaps, 'example.pcap')], /NS_ERR_USAGE: unexpected argument .*capture files follow --file/],
    [['--bogus'], /NS_ERR_USAGE: Unknown option '--bogus'/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(['serve', ...args])));
  for (const [index, [args, message]] of cases.entries()) {
    const result = results[index]!;
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});

describe('serve --file on a real capture', { skip: shared.skip }, () => {
  let dir = '';
  let storePath = '';
  let serve: ServeProcess;
  let rpcAddr = '';
  let metricsUrl = '';
  let httpUrl = '';
  const token = 'serve-test-token';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ns-serve-'));
    storePath = join(dir, 'served.duckdb');
    const config = join(dir, 'serve.yaml');
    await writeFile(config, `api:\n  auth_tokens: ["${token}"]\n`);
    serve = new ServeProcess([
      '--file',
      join(pcaps, 'example.pcap'),
      '--config',
      config,
      '--store',
      storePath,
      '--rpc-listen',
      '127.0.0.1:0',
      '--http-listen',
      '127.0.0.1:0',
      '--metrics-listen',
      '127.0.0.1:0',
      '--workers',
      '1',
    ]);
    const listening = await serve.listening();
    rpcAddr = listening.rpcAddr;
    httpUrl = listening.httpUrl!;
    metricsUrl = listening.metricsUrl!;
    await serve.waitFor(/1 capture file\(s\) read: .*serving them until SIGINT\/SIGTERM/);
  });

  after(async () => {
    serve?.kill();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('while serve runs, Thrift answers from its store: totals and every 5-tuple equal the tshark truth', async () => {
    await using client = await ThriftQueryClient.connect(rpcAddr);
    const health = await client.call('HealthCheck', (c) => c.HealthCheck(new HealthCheckRequest()));
    assert.equal(health.status, 'SERVING');
    const totals = await client.call('AggregateFlows', (c) => c.AggregateFlows(new AggregationRequest({ task_name: 'per_five_tuple' })));
    assert.deepEqual(
      totals.summaries.map((s) => [s.task_name, Number(int64ToBig(s.total_packets)), Number(int64ToBig(s.total_bytes)), Number(int64ToBig(s.flow_count))]),
      [['per_five_tuple', truth.ip_frames, truthBytes, truth.flows.length]],
    );
    const flows = await thriftFlows(client, 'per_five_tuple');
    assert.equal(flows.size, truth.flows.length);
    for (const f of truth.flows) assert.deepEqual(flows.get(flowId(f)), [f.packets, f.bytes], flowId(f));
    // the per-source task agrees with the truth summed by source
    const bySource = new Map<string, number>();
    for (const f of truth.flows) bySource.set(f.src, (bySource.get(f.src) ?? 0) + f.packets);
    const sources = await client.call('TopFlows', (c) => c.TopFlows(new FlowListRequest({ task_name: 'per_src_ip', order_by: 'packets', limit: 1 })));
    assert.equal(Number(int64ToBig(sources.flows[0]!.total_packets)), Math.max(...bySource.values()));
  });

  test('while serve runs, the HTTP API answers the same (with the configured token) and serves the dashboard', async () => {
    const get = (path: string, auth = true): Promise<Response> => fetch(`${httpUrl}${path}`, auth ? { headers: { authorization: `Bearer ${token}` } } : {});
    assert.equal((await get('/api/v1/aggregate?task=per_five_tuple', false)).status, 401);
    const aggregate = (await (await get('/api/v1/aggregate?task=per_five_tuple')).json()) as { totals: { task: string; packets: number; bytes: number; flows: number }[] };
    assert.deepEqual(aggregate.totals, [{ task: 'per_five_tuple', packets: truth.ip_frames, bytes: truthBytes, flows: truth.flows.length }]);
    const flowPage = (await (await get('/api/v1/flows?task=per_five_tuple&limit=1000')).json()) as { flows: { key: Record<string, string | number>; packets: number; bytes: number }[] };
    const flows = new Map(
      flowPage.flows.map((f) => [flowId({ src: String(f.key.SrcIP), dst: String(f.key.DstIP), sport: Number(f.key.SrcPort), dport: Number(f.key.DstPort), proto: Number(f.key.Protocol) }), [f.packets, f.bytes]]),
    );
    assert.equal(flows.size, truth.flows.length);
    for (const f of truth.flows) assert.deepEqual(flows.get(flowId(f)), [f.packets, f.bytes], flowId(f));
    const ready = await get('/readyz', false);
    assert.equal(ready.status, 200);
    const dashboard = await get('/', false);
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.headers.get('content-type') ?? '', /text\/html/);
    const page = join(root, 'web', 'dist', 'index.html');
    // the built dashboard when there is one, else the API's page saying it is not built
    if (existsSync(page)) assert.equal(await dashboard.text(), readFileSync(page, 'utf8'));
    else assert.match(await dashboard.text(), /dashboard is not built/);
  });

  test('metrics and health report what was read', async () => {
    assert.equal(await metricValue(metricsUrl, 'netspectra_serve_ip_packets_total'), truth.ip_frames);
    assert.equal(await metricValue(metricsUrl, 'netspectra_serve_files_done'), 1);
    assert.equal(await metricValue(metricsUrl, 'netspectra_engine_writer_up'), 1);
    const health = await fetch(`${metricsUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  test('SIGTERM exits 0; the store then opens read-only (as netspectra api opens it) with the same totals', async () => {
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr);
    assert.match(serve.stderr, /stopped: 4631 frames, 4631 IP packets counted; final snapshot written/);
    await using store = new DuckDbQueryStore({ path: storePath });
    await store.start();
    const service = new QueryService(store);
    assert.deepEqual(await service.aggregateFlows({ taskName: 'per_five_tuple' }), [{ taskName: 'per_five_tuple', packets: truth.ip_frames, bytes: truthBytes, flows: truth.flows.length }]);
    const flows = await service.search({ taskName: 'per_five_tuple', limit: 10_000 });
    const ours = new Map(flows.map((f) => [flowId({ src: f.key.SrcIP!, dst: f.key.DstIP!, sport: f.key.SrcPort!, dport: f.key.DstPort!, proto: f.key.Protocol! }), [f.packets, f.bytes]]));
    for (const f of truth.flows) assert.deepEqual(ours.get(flowId(f)), [f.packets, f.bytes], flowId(f));
  });

  test('without a source, serve serves the store as it is', async () => {
    const again = new ServeProcess(['--store', storePath, '--rpc-listen', '127.0.0.1:0', '--no-metrics', '--no-http']);
    try {
      await again.waitFor(/serving the store as it is \(no capture\)/);
      await using client = await ThriftQueryClient.connect((await again.listening()).rpcAddr);
      const totals = await client.call('AggregateFlows', (c) => c.AggregateFlows(new AggregationRequest({ task_name: 'per_five_tuple' })));
      assert.equal(Number(int64ToBig(totals.summaries[0]!.total_packets)), truth.ip_frames);
      again.child.kill('SIGTERM');
      assert.equal(await again.exited, 0, again.stderr);
    } finally {
      again.kill();
    }
  });
});

test('serve --exit-when-done on a capture cut short: exit 1 with the code, the packets before the damage stored', { skip: shared.skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-serve-damaged-'));
  try {
    const storePath = join(dir, 'damaged.duckdb');
    const damaged = JSON.parse(readFileSync(join(pcaps, 'truth', 'http-mime-truncated-input.pcap.json'), 'utf8')) as { ip_frames: number };
    const result = await run(['serve', '--file', join(pcaps, 'http-mime-truncated-input.pcap'), '--store', storePath, '--rpc-listen', '127.0.0.1:0', '--no-http', '--no-metrics', '--exit-when-done']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /netspectra: NS_ERR_PCAP_\w+: .*http-mime-truncated-input\.pcap/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    await using store = new DuckDbQueryStore({ path: storePath });
    await store.start();
    const [totals] = await new QueryService(store).aggregateFlows({ taskName: 'per_five_tuple' });
    assert.equal(totals?.packets, damaged.ip_frames);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve stores the alerter\'s notices like analyze: the same rules on the same capture give the same notices in both stores', { skip: shared.skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-serve-alerts-'));
  try {
    const configFile = join(dir, 'alerts.yaml');
    await writeFile(
      configFile,
      `alerter:
  check_interval: 10s
  rules:
    - {name: Busy_Flow, task_name: per_five_tuple, metric: total_packets, operator: ">", threshold: 100}
aggregator:
  num_workers: 1
`,
    );
    const capture = join(pcaps, 'example.pcap');
    const analyzed = await run(['analyze', capture, '--config', configFile, '--store', join(dir, 'analyze.duckdb'), '--no-notify', '--no-progress', '--json']);
    assert.equal(analyzed.code, 0, analyzed.stderr);
    const served = await run(['serve', '--file', capture, '--config', configFile, '--store', join(dir, 'serve.duckdb'), '--rpc-listen', '127.0.0.1:0', '--no-http', '--no-metrics', '--exit-when-done']);
    assert.equal(served.code, 0, served.stderr);
    const notices = async (path: string): Promise<string[]> => {
      await using store = new DuckDbQueryStore({ path });
      await store.start();
      const records = await new QueryService(store).alerts({ limit: 1000 });
      return records.map((r) => `${r.kind} ${r.rule} ${r.flowText} ${r.value} ${r.atNs}`).sort();
    };
    const fromAnalyze = await notices(join(dir, 'analyze.duckdb'));
    assert.ok(fromAnalyze.length > 0, 'the rule fires on this capture');
    assert.deepEqual(await notices(join(dir, 'serve.duckdb')), fromAnalyze);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve --iface lo: datagrams sent over loopback are counted and queryable while serve runs, and stored at SIGTERM', { skip: liveCaptureSkip() }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-serve-live-'));
  // The datagrams' destination: a port bound here, so no other test's traffic passes the filter.
  const receiver = createSocket('udp4');
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
  const port = receiver.address().port;
  const storePath = join(dir, 'live.duckdb');
  const serve = new ServeProcess(['--iface', 'lo', '--filter', `udp and dst port ${port}`, '--store', storePath, '--snapshot-interval', '500ms', '--rpc-listen', '127.0.0.1:0', '--no-http', '--metrics-listen', '127.0.0.1:0', '--workers', '1']);
  const warmUp = createSocket('udp4');
  const measured = createSocket('udp4');
  const send = (socket: Socket, size: number): Promise<void> => new Promise((resolve, reject) => socket.send(Buffer.alloc(size), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  try {
    await serve.waitFor(/capturing on lo/);
    const { rpcAddr, metricsUrl } = await serve.listening();
    // tcpdump needs a moment to open the interface: warm up from another source port until serve counts something
    const deadline = Date.now() + 30_000; // seconds on a loaded machine (test files run in parallel)
    while (((await metricValue(metricsUrl!, 'netspectra_serve_ip_packets_total')) ?? 0) === 0) {
      assert.ok(Date.now() < deadline, `serve counted nothing: ${serve.stderr}`);
      await send(warmUp, 10);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise<void>((resolve) => measured.bind(0, '127.0.0.1', resolve));
    const sourcePort = measured.address().port;
    const count = 200;
    for (let i = 0; i < count; i++) await send(measured, 100 + i);
    // Ethernet (lo) 14 + IPv4 20 + UDP 8 + payload
    const bytes = Array.from({ length: count }, (_, i) => 14 + 20 + 8 + 100 + i).reduce((a, b) => a + b, 0);
    const key = flowId({ src: '127.0.0.1', dst: '127.0.0.1', sport: sourcePort, dport: port, proto: 17 });

    await using client = await ThriftQueryClient.connect(rpcAddr);
    let seen: [number, number] | undefined;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      try {
        seen = (await thriftFlows(client, 'per_five_tuple', new FlowFilter({ src_port: sourcePort }))).get(key);
      } catch (error) {
        // before the first snapshot the store knows no task yet
        if ((error as { code?: string }).code !== 'NS_ERR_QUERY_TASK') throw error;
      }
      if (seen !== undefined && seen[0] === count) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(seen, [count, bytes], `the measured flow over Thrift while serving: ${serve.stderr}`);
    client.close();

    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr);
    assert.match(serve.stderr, /kernel drops 0; final snapshot written/);
    await using store = new DuckDbQueryStore({ path: storePath });
    await store.start();
    const [flow] = await new QueryService(store).search({ taskName: 'per_five_tuple', filter: { srcPort: sourcePort }, limit: 10 });
    assert.deepEqual([flow?.packets, flow?.bytes], [count, bytes]);
  } finally {
    warmUp.close();
    measured.close();
    receiver.close();
    serve.kill();
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve --iface on an interface that does not exist: exit 1 with NS_ERR_CAPTURE_LIVE and tcpdump\'s reason, no stack', { skip: liveCaptureSkip() }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-serve-noif-'));
  try {
    const result = await run(['serve', '--iface', 'no-such-if0', '--store', join(dir, 'x.duckdb'), '--rpc-listen', '127.0.0.1:0', '--no-http', '--no-metrics']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /netspectra: NS_ERR_CAPTURE_LIVE: cannot capture on no-such-if0/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
