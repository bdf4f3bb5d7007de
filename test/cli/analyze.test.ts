import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';
import { runAnalysis } from '../../src/pipeline/offline-analysis.js';
import type { ExactTaskSnapshot } from '../../src/model/snapshot.js';
import { KeySpec } from '../../src/model/flow-key.js';
import type { ReportJson } from '../../src/pipeline/analysis-report.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';

const root = new URL('../../../', import.meta.url).pathname;
const shared = sharedPcaps();
const pcaps = shared.dir;
const skip = shared.skip;
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const alias = join(root, 'dist', 'src', 'cli', 'pcap-analyzer.js');
const run = promisify(execFile);

interface Truth {
  frames: number;
  bytes: number;
  ip_frames: number;
  tshark_exit_status: number;
  flows: { src: string; dst: string; sport: number; dport: number; proto: number; packets: number; bytes: number }[];
}

async function cliRun(args: string[], bin = cli): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // a command that hangs fails the test instead of blocking the suite
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { maxBuffer: 1 << 26, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const captures = skip === false ? readdirSync(pcaps).filter((f) => /\.(pcap|pcapng)$/.test(f)) : [];

test('analyze: per_five_tuple equals the tshark truth for every shared capture', { skip }, async () => {
  assert.ok(captures.length >= 40, `expected the shared corpus, found ${captures.length} captures in ${pcaps}`);
  for (const name of captures) {
    const truth = JSON.parse(readFileSync(join(pcaps, 'truth', `${name}.json`), 'utf8')) as Truth;
    const result = await runAnalysis({ files: [join(pcaps, name)], config: DEFAULT_CONFIG, workers: 0, store: null });
    if (truth.tshark_exit_status !== 0 && truth.frames === 0) {
      // "no truth": tshark could not open the file; we must refuse it with a code, not count garbage
      assert.equal(result.totals.frames, 0, name);
      assert.ok(result.files[0]!.error !== undefined, `${name}: expected an error`);
      continue;
    }
    assert.equal(result.totals.frames, truth.frames, `${name}: frames`);
    assert.equal(result.totals.bytes, truth.bytes, `${name}: bytes`);
    assert.equal(result.totals.ipFrames, truth.ip_frames, `${name}: IP frames`);
    assert.equal(result.files[0]!.error !== undefined, truth.tshark_exit_status !== 0, `${name}: damage reported`);
    const exact = result.finals.find((g) => g.group === 'exact')!.tasks.find((t) => t.name === 'per_five_tuple') as ExactTaskSnapshot;
    const spec = new KeySpec(exact.keyFields);
    const ours = new Map<string, [number, number]>();
    for (let i = 0; i < exact.flows.count; i++) {
      const k = spec.toObject(exact.flows.keys, i * exact.flows.keyWords);
      ours.set(`${k.SrcIP} ${k.DstIP} ${k.SrcPort} ${k.DstPort} ${k.Protocol}`, [exact.flows.packets[i]!, exact.flows.bytes[i]!]);
    }
    assert.equal(ours.size, truth.flows.length, `${name}: flow count`);
    for (const f of truth.flows) {
      assert.deepEqual(ours.get(`${f.src} ${f.dst} ${f.sport} ${f.dport} ${f.proto}`), [f.packets, f.bytes], `${name}: flow ${f.src} ${f.dst} ${f.sport} ${f.dport} ${f.proto}`);
    }
  }
});

test('analyze --json prints exactly one JSON object with the documented fields', { skip }, async () => {
  const { code, stdout, stderr } = await cliRun(['analyze', join(pcaps, 'example.pcap'), '--json', '--no-store', '--top', '3']);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const report = JSON.parse(lines[0]!) as ReportJson;
  assert.deepEqual(report.files.map((f) => [f.file.endsWith('example.pcap'), f.frames, f.error]), [[true, 4631, null]]);
  assert.deepEqual(report.packets, { total: 4631, ip: 4631, nonIp: 0, malformed: 0 });
  assert.equal(report.bytes, 3_738_523);
  assert.equal(report.firstPacket, '2013-05-02T20:20:33.491822Z'); // the first record's header; µs capture: six digits
  assert.ok(report.elapsedSeconds > 0 && report.packetsPerSecond > 0);
  assert.deepEqual(
    report.tasks.map((t) => [t.name, t.kind]),
    [
      ['per_five_tuple', 'exact'],
      ['per_src_ip', 'exact'],
      ['ss_src_dst', 'super_spreader'],
      ['cm_src_left', 'heavy_hitter'],
    ],
  );
  const five = report.tasks[0]!;
  assert.ok(five.kind === 'exact');
  assert.equal(five.flows, 271);
  assert.equal(five.packets, 4631);
  assert.equal(five.top.length, 3);
  assert.deepEqual(Object.keys(five.top[0]!.key), ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
  // the largest flow of example.pcap by bytes (truth.sh orders by packets; this one has the most bytes)
  assert.deepEqual(five.top[0]!.key, { SrcIP: '212.199.202.9', DstIP: '10.0.0.6', SrcPort: 80, DstPort: 44150, Protocol: 6 });
  const perSrc = report.tasks[1]!;
  assert.ok(perSrc.kind === 'exact');
  assert.deepEqual(Object.keys(perSrc.top[0]!.key), ['SrcIP']);
  const cm = report.tasks[3]!;
  assert.ok(cm.kind === 'heavy_hitter');
  // 212.199.202.9 sends 2,347 packets and 3,045,615 bytes: over both default thresholds (1024 packets, 1 MiB)
  assert.deepEqual(cm.byCount.map((e) => e.flow), [{ SrcIP: '212.199.202.9' }, { SrcIP: '10.0.0.6' }]);
  assert.ok(cm.byCount[0]!.value >= 2347);
  assert.deepEqual(cm.bySize.map((e) => e.flow), [{ SrcIP: '212.199.202.9' }]);
});

test('analyze: a damaged capture still prints the report, names the code on stderr and exits 1', { skip }, async () => {
  const { code, stdout, stderr } = await cliRun(['analyze', join(pcaps, 'http-mime-truncated-input.pcap'), '--json', '--no-store']);
  assert.equal(code, 1);
  assert.match(stderr, /NS_ERR_PCAP_TRUNCATED: .*http-mime-truncated-input\.pcap.*2715459/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  const report = JSON.parse(stdout) as ReportJson;
  assert.equal(report.packets.total, 2696);
  assert.equal(report.files[0]!.error!.code, 'NS_ERR_PCAP_TRUNCATED');
});

test('analyze: usage and configuration errors exit 2 with a code; a missing file exits 1', async () => {
  const none = await cliRun(['analyze']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /NS_ERR_USAGE/);
  const unknown = await cliRun(['analyze', '--bogus', 'x.pcap']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /NS_ERR_USAGE: .*--bogus/);
  const workers = await cliRun(['analyze', '--workers', 'lots', 'x.pcap']);
  assert.equal(workers.code, 2);
  assert.match(workers.stderr, /--workers expects an integer/);
  const dir = await mkdtemp(join(tmpdir(), 'ns-cli-'));
  try {
    const config = join(dir, 'bad.yaml');
    await writeFile(config, 'aggregator:\n  period: "1h"\n  widht: 3\n');
    const bad = await cliRun(['analyze', join(pcaps, 'example.pcap'), '--config', config, '--no-store']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /NS_ERR_CONFIG_UNKNOWN_KEY: .*aggregator\.widht/);
    // a store that cannot be opened: a clear error, and the process ends (its writer thread too)
    const storeIsDir = await cliRun(['analyze', join(pcaps, 'example.pcap'), '--store', dir]);
    assert.equal(storeIsDir.code, 1);
    assert.match(storeIsDir.stderr, /NS_ERR_STORE_OPEN: cannot open the embedded store/);
    const missing = await cliRun(['analyze', join(dir, 'nope.pcap'), '--no-store', '--json']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NS_ERR_CAPTURE_OPEN: .*nope\.pcap/);
    assert.equal((JSON.parse(missing.stdout) as ReportJson).packets.total, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const help = await cliRun(['analyze', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--flows-out FILE/);
});

test('analyze: several files, --flows-out, --store and the pcap-analyzer alias', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-cli-'));
  try {
    const flowsOut = join(dir, 'flows.jsonl');
    const store = join(dir, 'ns.duckdb');
    const files = [join(pcaps, 'sll.pcap'), join(pcaps, 'raw_ip.pcap')];
    const { code, stdout, stderr } = await cliRun([...files, '--flows-out', flowsOut, '--store', store], alias);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /NetSpectra capture analysis/);
    assert.match(stdout, /Frames\s+618\b/);
    const truths = files.map((f) => JSON.parse(readFileSync(join(pcaps, 'truth', `${f.split('/').pop()}.json`), 'utf8')) as Truth);
    const lines = (await readFile(flowsOut, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { task: string; key: Record<string, unknown>; packets: number; bytes: number });
    const five = lines.filter((l) => l.task === 'per_five_tuple');
    // the two captures share no 5-tuple, so their flows simply add up
    assert.equal(five.length, truths[0]!.flows.length + truths[1]!.flows.length);
    assert.equal(five.reduce((s, l) => s + l.packets, 0), truths[0]!.ip_frames + truths[1]!.ip_frames);
    assert.ok(lines.some((l) => l.task === 'per_src_ip'));
    assert.ok(existsSync(store));
    const db = await DuckDBInstance.create(store);
    const connection = await db.connect();
    try {
      const rows = (await connection.runAndReadAll(
        "SELECT SrcIP, DstIP, SrcPort, DstPort, Protocol, arg_max(PacketCount, Timestamp)::DOUBLE, arg_max(ByteCount, Timestamp)::DOUBLE FROM flow_metrics WHERE TaskName = 'per_five_tuple' GROUP BY ALL",
      )).getRowsJS();
      const expected = new Map(truths.flatMap((t) => t.flows).map((f) => [`${f.src} ${f.dst} ${f.sport} ${f.dport} ${f.proto}`, [f.packets, f.bytes]]));
      assert.equal(rows.length, expected.size);
      for (const [src, dst, sport, dport, proto, packets, bytes] of rows) assert.deepEqual([packets, bytes], expected.get([src, dst, sport, dport, proto].map(String).join(' ')));
      const runs = (await connection.runAndReadAll('SELECT Tool, Inputs FROM runs')).getRowsJS();
      assert.deepEqual(runs, [['analyze', 'sll.pcap\nraw_ip.pcap']]);
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('gen-pcap then analyze: the generated super-spreaders and the SYN flood source are found', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ns-cli-'));
  try {
    const pcap = join(dir, 'gen.pcap');
    const gen = await cliRun(['gen-pcap', '--out', pcap, '--packets', '60000', '--flows', '2000', '--spreaders', '3', '--spread', '400', '--syn-flood', '5000', '--seed', '11']);
    assert.equal(gen.code, 0, gen.stderr);
    const truth = JSON.parse(await readFile(`${pcap}.truth.json`, 'utf8')) as Truth & { super_spreaders: { src: string; distinct_dsts: number }[] };
    const { code, stdout, stderr } = await cliRun(['analyze', pcap, '--json', '--no-store', '--workers', '2']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as ReportJson;
    assert.equal(report.packets.total, truth.frames);
    const five = report.tasks.find((t) => t.name === 'per_five_tuple');
    assert.ok(five?.kind === 'exact');
    assert.equal(five.flows, truth.flows.length);
    const ss = report.tasks.find((t) => t.name === 'ss_src_dst');
    assert.ok(ss?.kind === 'super_spreader');
    const found = new Set(ss.spreaders.map((s) => s.flow.SrcIP));
    for (const spreader of truth.super_spreaders) assert.ok(found.has(spreader.src), `spreader ${spreader.src} not reported`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
