/**
 * End to end on a real capture: `analyze` writes an embedded store, the query service's totals per
 * 5-tuple equal the tshark truth, and `netspectra api` + `netspectra query` answer the same over
 * Thrift, as tables and JSON, with the original's flags too; bad requests exit with their codes;
 * SIGTERM stops the API cleanly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { queryStoreFor } from '../../src/cli/api.js';
import { parseFlowKeys, parseTime, renderTable } from '../../src/cli/query.js';
import { parseConfig } from '../../src/config/index.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';

const shared = sharedPcaps();
const pcaps = shared.dir;
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const nsApi = fileURLToPath(new URL('../../src/cli/ns-api.js', import.meta.url));
const execFileAsync = promisify(execFile);

interface Truth {
  ip_frames: number;
  flows: { src: string; dst: string; sport: number; dport: number; proto: number; packets: number; bytes: number }[];
}
// read only when the shared captures are here (their tests are skipped otherwise)
const truth: Truth = shared.skip === false ? (JSON.parse(readFileSync(join(pcaps, 'truth', 'example.pcap.json'), 'utf8')) as Truth) : { ip_frames: 0, flows: [] };
const flowId = (f: { src: string; dst: string; sport: number; dport: number; proto: number }): string => `${f.src} ${f.dst} ${f.sport} ${f.dport} ${f.proto}`;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cli, ...args], { maxBuffer: 1 << 26, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('query: times, flow keys and tables', () => {
  const now = 1_700_000_000_000;
  assert.equal(parseTime('--end', '1700000000', now), 1_700_000_000_000_000_000n);
  assert.equal(parseTime('--end', '1700000000.5', now), 1_700_000_000_500_000_000n);
  assert.equal(parseTime('--end', '2023-11-14T22:13:20Z', now), 1_700_000_000_000_000_000n);
  assert.equal(parseTime('--end', '2023-11-14T23:13:20+01:00', now), 1_700_000_000_000_000_000n);
  assert.equal(parseTime('--end', '2023-11-14T22:13:20.000000001Z', now), 1_700_000_000_000_000_001n);
  assert.equal(parseTime('--end', 'now', now), 1_700_000_000_000_000_000n);
  assert.equal(parseTime('--start', '-15m', now), 1_699_999_100_000_000_000n);
  for (const bad of ['yesterday', '2023-11-14', '2023-11-14T22:13:20', '-15x', '']) assert.throws(() => parseTime('--start', bad, now), { code: 'NS_ERR_USAGE' }, bad);
  assert.deepEqual(parseFlowKeys('SrcIP=1.2.3.4, DstPort = 443'), { SrcIP: '1.2.3.4', DstPort: '443' });
  assert.throws(() => parseFlowKeys('SrcIP'), { code: 'NS_ERR_USAGE' });
  assert.equal(renderTable(['A'], []), 'No data returned.\n');
  assert.equal(renderTable(['NAME', 'N'], [['x', 5], ['longer', 12]]), 'NAME     N\n------  --\nx        5\nlonger  12\n');
});

test('api picks --store, else the first enabled clickhouse writer, else the duckdb writer path', () => {
  const writers = (clickhouseEnabled: boolean): string =>
    `aggregator:\n  exact:\n    writers:\n      - type: duckdb\n        duckdb:\n          path: "mine.duckdb"\n` +
    `      - type: clickhouse\n        enabled: ${clickhouseEnabled}\n        clickhouse:\n          host: ch.example\n          port: 9000\n          database: flows\n          username: reader\n          password: "s3cret"\n`;
  assert.equal(queryStoreFor(parseConfig(writers(true)), 'given.duckdb').description, 'duckdb:given.duckdb');
  assert.equal(queryStoreFor(parseConfig(writers(true)), undefined).description, 'clickhouse:http://ch.example:8123/flows');
  assert.equal(queryStoreFor(parseConfig(writers(false)), undefined).description, 'duckdb:mine.duckdb');
  assert.equal(queryStoreFor(parseConfig(''), undefined).description, 'duckdb:netspectra.duckdb');
});

describe('query plane on a real capture', { skip: shared.skip }, () => {
  let dir = '';
  let storePath = '';
  let api: ChildProcess | undefined;
  let addr = '';
  let apiExit: Promise<number | null>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ns-query-cli-'));
    storePath = join(dir, 'example.duckdb');
    const analyzed = await run(['analyze', join(pcaps, 'example.pcap'), '--store', storePath, '--json', '--no-progress']);
    assert.equal(analyzed.code, 0, analyzed.stderr);
  });

  after(async () => {
    if (api !== undefined && api.exitCode === null) api.kill('SIGKILL');
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('AggregateFlows and the flow list of per_five_tuple equal the tshark truth', async () => {
    await using store = new DuckDbQueryStore({ path: storePath });
    await store.start();
    const service = new QueryService(store);
    const [five] = await service.aggregateFlows({ taskName: 'per_five_tuple' });
    assert.deepEqual(five, {
      taskName: 'per_five_tuple',
      packets: truth.ip_frames,
      bytes: truth.flows.reduce((sum, f) => sum + f.bytes, 0),
      flows: truth.flows.length,
    });
    const flows = await service.search({ taskName: 'per_five_tuple', limit: 10_000 });
    const ours = new Map(flows.map((f) => [flowId({ src: f.key.SrcIP!, dst: f.key.DstIP!, sport: f.key.SrcPort!, dport: f.key.DstPort!, proto: f.key.Protocol! }), [f.packets, f.bytes]]));
    assert.equal(ours.size, truth.flows.length);
    for (const f of truth.flows) assert.deepEqual(ours.get(flowId(f)), [f.packets, f.bytes], flowId(f));
  });

  test('netspectra api (ns-api) serves the store; netspectra query answers over Thrift', async () => {
    api = spawn(process.execPath, [nsApi, '--store', storePath, '--listen', '127.0.0.1:0', '--no-http'], { stdio: ['ignore', 'pipe', 'pipe'] });
    apiExit = new Promise((resolve) => api!.once('exit', (code) => resolve(code)));
    let stderr = '';
    addr = await new Promise<string>((resolve, reject) => {
      api!.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /listening on (\S+),/.exec(stderr);
        if (match !== null) resolve(match[1]!);
      });
      api!.once('exit', () => reject(new Error(`ns-api exited: ${stderr}`)));
    });

    const json = async (args: string[]): Promise<unknown> => {
      const result = await run(['query', ...args, '--addr', addr, '--json']);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    assert.deepEqual(await json(['tasks']), [
      { name: 'cm_src_left', kind: 'heavy_hitter', keyFields: [] },
      { name: 'per_five_tuple', kind: 'exact', keyFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'] },
      { name: 'per_src_ip', kind: 'exact', keyFields: ['SrcIP'] },
      // ss_src_dst found no super-spreader in this capture: no rows, so the store does not know it
    ]);
    const totals = (await json(['aggregate', '--task', 'per_five_tuple'])) as { packets: number; flows: number }[];
    assert.deepEqual(
      totals.map((t) => [t.packets, t.flows]),
      [[truth.ip_frames, truth.flows.length]],
    );
    const largest = [...truth.flows].sort((a, b) => b.bytes - a.bytes)[0]!;
    const top = (await json(['top', '--task', 'per_five_tuple', '--limit', '3'])) as { key: Record<string, string>; bytes: number; packets: number }[];
    assert.equal(top.length, 3);
    assert.deepEqual([top[0]!.key.SrcIP, top[0]!.key.DstIP, top[0]!.bytes, top[0]!.packets], [largest.src, largest.dst, largest.bytes, largest.packets]);
    const key = `SrcIP=${largest.src},DstIP=${largest.dst},SrcPort=${largest.sport},DstPort=${largest.dport},Protocol=${largest.proto}`;
    const traced = (await json(['trace', '--task', 'per_five_tuple', '--key', key])) as { packets: number; bytes: number; firstSeenNs: string };
    assert.deepEqual([traced.packets, traced.bytes], [largest.packets, largest.bytes]);
    // a series over the whole capture sums to its packets
    const start = BigInt(traced.firstSeenNs) / 1_000_000_000n - 86_400n;
    const series = (await json(['series', '--task', 'per_five_tuple', '--start', String(start), '--end', String(start + 4n * 86_400n), '--bucket', '24h'])) as { packets: number }[];
    assert.equal(series.length, 4);
    assert.equal(
      series.reduce((sum, b) => sum + b.packets, 0),
      truth.ip_frames,
    );
    const sources = (await json(['top', '--task', 'per_five_tuple', '--group-by', 'SrcIP', '--by', 'packets', '--limit', '1'])) as { key: Record<string, string>; packets: number }[];
    const bySource = new Map<string, number>();
    for (const f of truth.flows) bySource.set(f.src, (bySource.get(f.src) ?? 0) + f.packets);
    assert.equal(sources[0]!.packets, Math.max(...bySource.values()));
    const page = (await json(['flows', '--task', 'per_five_tuple', '--protocol', '17', '--order', 'packets', '--asc', '--limit', '5', '--offset', '0'])) as { packets: number }[];
    assert.deepEqual(
      page.map((f) => f.packets),
      truth.flows
        .filter((f) => f.proto === 17)
        .map((f) => f.packets)
        .sort((a, b) => a - b)
        .slice(0, 5),
    );
    const hitters = (await json(['heavy-hitters', '--task', 'cm_src_left', '--limit', '5'])) as { rank: number; flow: string; value: number }[];
    assert.ok(hitters.length > 0 && hitters[0]!.rank === 1 && hitters.every((h, i) => i === 0 || h.value <= hitters[i - 1]!.value));
    const spreaders = await run(['query', 'super-spreaders', '--task', 'ss_src_dst', '--addr', addr]);
    assert.equal(spreaders.code, 1);
    assert.match(spreaders.stderr, /NS_ERR_QUERY_TASK: .*a sketch task appears once it has reported/);

    // a table, and the original's flags
    const table = await run(['query', '-mode', 'aggregate', '-addr', addr]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TASK\s+FLOWS\s+PACKETS\s+BYTES\n/);
    assert.match(table.stdout, new RegExp(`per_five_tuple\\s+${truth.flows.length}\\s+${truth.ip_frames}\\s`));
  });

  test('refusals exit with their codes', async () => {
    const unknown = await run(['query', 'aggregate', '--task', 'nope', '--addr', addr]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^netspectra: NS_ERR_QUERY_TASK: the store holds no task named nope/);
    const badIp = await run(['query', 'top', '--task', 'per_five_tuple', '--src-ip', "1.2.3.4' --", '--addr', addr]);
    assert.equal(badIp.code, 1);
    assert.match(badIp.stderr, /NS_ERR_QUERY_FILTER/);
    const usage = await run(['query', 'trace', '--task', 'per_five_tuple', '--addr', addr]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /NS_ERR_USAGE: query trace needs --key/);
    const badTime = await run(['query', 'aggregate', '--start', 'yesterday', '--addr', addr]);
    assert.equal(badTime.code, 2);
    const nobody = await run(['query', 'tasks', '--addr', '127.0.0.1:1', '--timeout', '2s']);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /NS_ERR_API_UNREACHABLE: cannot reach the query API at 127\.0\.0\.1:1/);
  });

  test('SIGTERM stops the API cleanly', async () => {
    assert.ok(api !== undefined && api.exitCode === null, 'the API runs');
    api.kill('SIGTERM');
    assert.equal(await apiExit, 0);
  });

  test('api refuses a missing store file and a taken address', async () => {
    const missing = await run(['api', '--store', join(dir, 'nothing.duckdb'), '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NS_ERR_STORE_OPEN: cannot open the embedded store .*nothing\.duckdb for reading/);
    const badListen = await run(['api', '--store', storePath, '--listen', 'nowhere']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /--listen expects HOST:PORT/);
  });
});
