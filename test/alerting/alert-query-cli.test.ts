/**
 * Stored alerts over the Thrift QueryService: `netspectra api` (a child process) serves an embedded
 * store holding alert notices; `netspectra query alerts` (another) reads them, filtered, paged and
 * as active alerts; bad requests come back with their codes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertRecord } from '../../src/alerting/alert-recorder.js';
import type { AlertNotice } from '../../src/alerting/alert-lifecycle.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BASE = 1_700_000_000;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

function notice(kind: AlertNotice['kind'], offset: number, rule: string, flowText: string, value: number): AlertNotice {
  const at = { seconds: BASE + offset, nanos: 0 };
  return {
    kind,
    alert: {
      id: `${rule}|${flowText}`,
      rule,
      taskName: flowText === '' ? 'per_src_ip' : 'hh_dst',
      taskKind: flowText === '' ? 'exact' : 'heavy_hitter',
      metric: flowText === '' ? 'packets_per_second' : 'heavy_hitter_count',
      operator: '>',
      threshold: flowText === '' ? 800.5 : 10000,
      flowText,
      flow: flowText === '' ? {} : { DstIP: flowText },
      value,
      status: kind === 'resolved' ? 'resolved' : 'firing',
      since: at,
      firedAt: at,
      at,
      flowFields: flowText === '' ? ['SrcIP'] : ['DstIP'],
      evidence: [{ flowText: '10.1.1.1', flow: { SrcIP: '10.1.1.1' }, packets: 42 }],
    },
  };
}

let dir: string;
let api: ChildProcess | undefined;
let addr: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ns-alert-cli-'));
  const path = join(dir, 'store.duckdb');
  const store = new DuckDbStore({ path, runId: 'run-1', inputs: [], tool: 'test' });
  await store.start();
  const context = { runId: 'run-1', engineId: 'engine-a', source: 'engine' };
  await store.writeAlerts([notice('firing', 10, 'Potential_SYN_Flood', '10.0.0.7', 20314), notice('firing', 10, 'Packet_Rate_Spike', '', 950.25)].map((n) => alertRecord(n, context)));
  await store.writeAlerts([notice('resolved', 70, 'Packet_Rate_Spike', '', 950.25)].map((n) => alertRecord(n, context)));
  await store.stop();
  api = spawn(process.execPath, [cli, 'api', '--store', path, '--listen', '127.0.0.1:0', '--no-http'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  addr = await new Promise<string>((resolve, reject) => {
    api!.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (\S+),/.exec(stderr);
      if (match !== null) resolve(match[1]!);
    });
    api!.once('exit', () => reject(new Error(`netspectra api exited: ${stderr}`)));
  });
});

after(async () => {
  if (api !== undefined && api.exitCode === null) {
    const exited = new Promise((resolve) => api!.once('exit', resolve));
    api.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

interface AlertRow {
  at: string;
  atNs: string;
  kind: string;
  id: string;
  flow: string;
  flowKey: Record<string, string>;
  value: number;
  threshold: number;
  evidence: unknown;
  engineId: string;
}

async function json(args: string[]): Promise<AlertRow[]> {
  const result = await run(['query', 'alerts', '--addr', addr, '--json', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as AlertRow[];
}

test('query alerts: every notice newest first, with its fields; filters, pages and the active alerts', async () => {
  const all = await json(['--limit', '100']);
  assert.deepEqual(
    all.map((r) => [r.at, r.kind, r.id, r.value]),
    [
      ['2023-11-14T22:14:30.000Z', 'resolved', 'Packet_Rate_Spike|', 950.25],
      ['2023-11-14T22:13:30.000Z', 'firing', 'Packet_Rate_Spike|', 950.25],
      ['2023-11-14T22:13:30.000Z', 'firing', 'Potential_SYN_Flood|10.0.0.7', 20314],
    ],
  );
  const flood = all[2]!;
  assert.deepEqual([flood.atNs, flood.flow, flood.flowKey, flood.threshold, flood.evidence, flood.engineId], [
    `${BASE + 10}000000000`,
    '10.0.0.7',
    { DstIP: '10.0.0.7' },
    10000,
    [{ flowText: '10.1.1.1', flow: { SrcIP: '10.1.1.1' }, packets: 42 }],
    'engine-a',
  ]);
  assert.deepEqual((await json(['--kind', 'resolved'])).map((r) => r.id), ['Packet_Rate_Spike|']);
  assert.deepEqual((await json(['--flow', ''])).map((r) => r.kind), ['resolved', 'firing'], 'an empty --flow selects the task-wide alerts');
  assert.deepEqual((await json(['--rule', 'Potential_SYN_Flood'])).map((r) => r.flow), ['10.0.0.7']);
  assert.deepEqual((await json(['--limit', '1', '--offset', '1'])).map((r) => r.kind), ['firing']);
  assert.deepEqual((await json(['--end', String(BASE + 30)])).length, 2);
  assert.deepEqual((await json(['--active'])).map((r) => r.id), ['Potential_SYN_Flood|10.0.0.7']);
  assert.deepEqual((await json(['--active', '--end', String(BASE + 30)])).map((r) => r.id).sort(), ['Packet_Rate_Spike|', 'Potential_SYN_Flood|10.0.0.7']);
  const table = await run(['query', 'alerts', '--addr', addr]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^TIME\s+KIND\s+RULE\s+FLOW\s+METRIC\s+VALUE\s+THRESHOLD\s+ENGINE\n/);
  assert.match(table.stdout, /resolved\s+Packet_Rate_Spike\s+\(task per_src_ip\)\s+packets_per_second\s+950\.25\s+> 800\.5\s+engine-a/);
});

test('query alerts: bad requests are refused with their codes', async () => {
  const bogus = await run(['query', 'alerts', '--addr', addr, '--kind', 'bogus']);
  assert.equal(bogus.code, 1);
  // validated by the server's query service, its code passed on
  assert.match(bogus.stderr, /^netspectra: NS_ERR_QUERY_FILTER: kind must be one of firing, repeat, resolved, got bogus\n$/);
  const mixed = await run(['query', 'alerts', '--addr', addr, '--active', '--kind', 'firing']);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /NS_ERR_USAGE: query alerts --active takes --end, --rule, --task and --limit only/);
});
