/**
 * `netspectra engine`: leader election between engines, /metrics and /healthz, a clean stop on
 * SIGTERM of the real command, and its errors — against a private nats-server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { PacketPublisher, partitionSubject } from '../../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';
import { EngineService } from '../../src/pipeline/engine-service.js';
import { fillBatches, randomPackets, referenceFlows } from '../kit/random-packets.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { closedPort } from '../kit/ports.js';
import { configFrom, parseMetrics, waitFor } from './engine-kit.js';

const skip = natsSkip();
const root = new URL('../../../', import.meta.url).pathname;
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const alias = join(root, 'dist', 'src', 'cli', 'ns-engine.js');
const run = promisify(execFile);

async function cliRun(args: string[], bin = cli): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Publish `packets` random packets in the batch format over `partitions`; returns how many went out. */
async function publishRandom(url: string, count: number, seed: number, partitions: number): Promise<ReturnType<typeof randomPackets>> {
  await using connection = new NatsConnection({ url, name: 'test-probe' });
  await connection.start();
  const publisher = new PacketPublisher(connection, { subject: 'gons.packets.raw', partitions, packetsPerMessage: 500 });
  const packets = randomPackets(count, seed);
  for (const batch of fillBatches(packets, 1000)) publisher.publish(batch);
  publisher.flush();
  await connection.flush();
  assert.equal(publisher.stats.packets, count);
  return packets;
}

/** Newest PacketCount per flow of a task, summed, from an embedded store file. */
async function storedPackets(path: string, task: string): Promise<{ flows: number; packets: number }> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT, coalesce(sum(p), 0)::BIGINT FROM (SELECT arg_max(PacketCount, TimestampNs) AS p FROM flow_metrics WHERE TaskName = '${task}' GROUP BY SrcIP, DstIP, SrcPort, DstPort, Protocol)`,
    );
    const [flows, packets] = reader.getRows()[0]!;
    connection.closeSync();
    return { flows: Number(flows), packets: Number(packets) };
  } finally {
    instance.closeSync();
  }
}

test('leader election: of two engines exactly one leads; when it stops, the other takes over within seconds', { skip }, async () => {
  await using server = await NatsServer.start();
  const engine = (index: number): EngineService =>
    new EngineService({
      config: DEFAULT_CONFIG,
      natsUrl: server.url,
      subject: 'gons.packets.raw',
      format: 'batch',
      ownership: PartitionOwnership.roundRobin(16, 2, index),
      engineId: `leader-${index}`,
      leaderElection: true,
      leaderTtlMs: 1500,
      store: null,
      workers: 0,
    });
  const [a, b] = [engine(0), engine(1)];
  const changes: string[] = [];
  a.on('leader', (leader) => changes.push(`a ${leader}`));
  b.on('leader', (leader) => changes.push(`b ${leader}`));
  try {
    await a.start();
    await b.start();
    assert.deepEqual([a.isLeader, b.isLeader], [true, false], 'the first to start leads');
    // stays so over several renewals
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual([a.isLeader, b.isLeader], [true, false]);
    assert.deepEqual(changes, ['a true']);
    const stopping = a.stop();
    const handover = await waitFor(() => b.isLeader, 30_000, 'the follower leads');
    await stopping;
    assert.equal(a.isLeader, false);
    assert.deepEqual(changes, ['a true', 'a false', 'b true']);
    assert.ok(handover < 3000, `handover took ${handover.toFixed(0)} ms`);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('/metrics counts what happened, /healthz says 200, 503 while NATS is gone, 200 after it reconnected; a stop without NATS still writes the final snapshot', { skip }, async () => {
  await using server = await NatsServer.start();
  const dir = await mkdtemp(join(tmpdir(), 'ns-engine-metrics-'));
  const store = join(dir, 'engine.duckdb');
  const config = configFrom(`
aggregator:
  types: [exact]
  period: 720h # engine periods fall on multiples of the period since the epoch: no reset during the test
  exact:
    writers:
      - { type: duckdb, snapshot_interval: 1s, duckdb: { path: "${store}" } }
    tasks:
      - { name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol] }
`);
  const service = new EngineService({
    config,
    natsUrl: server.url,
    subject: 'gons.packets.raw',
    format: 'batch',
    ownership: PartitionOwnership.roundRobin(4, 1, 0),
    engineId: 'metrics-0',
    leaderElection: false,
    metricsListen: { host: '127.0.0.1', port: 0 },
    workers: 1,
    shutdownTimeoutMs: 500,
  });
  try {
    await service.start();
    const base = service.metricsUrl!;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const packets = await publishRandom(server.url, 6000, 31, 4);
    // one payload that is not a packet batch
    {
      await using connection = new NatsConnection({ url: server.url, name: 'garbage' });
      await connection.start();
      connection.publish(partitionSubject('gons.packets.raw', 2), new Uint8Array([0x4e, 0x53, 0x50, 0x42, 9, 9, 9]));
      await connection.flush();
    }
    await waitFor(() => service.counters.packetsAccepted === 6000 && service.counters.malformed === 1 && service.counters.snapshots.exact >= 1, 30_000, () => JSON.stringify(service.counters));
    await waitFor(async () => parseMetrics(await (await fetch(`${base}/metrics`)).text()).get('netspectra_engine_snapshot_writes_total{writer="duckdb:' + store + '"}')! >= 1, 30_000, 'a snapshot written');

    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    const metrics = parseMetrics(text);
    const writer = `writer="duckdb:${store}"`;
    const flows = referenceFlows(packets, ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']).size;
    const expect: Record<string, number> = {
      netspectra_engine_packets_received_total: 6000,
      netspectra_engine_packets_accepted_total: 6000,
      netspectra_engine_packets_not_owned_total: 0,
      netspectra_engine_packets_foreign_partition_total: 0,
      netspectra_engine_malformed_payloads_total: 1,
      netspectra_engine_missing_messages_total: 0,
      netspectra_engine_overflow_dropped_messages_total: 0,
      netspectra_nats_connected: 1,
      netspectra_nats_disconnects_total: 0,
      netspectra_nats_reconnects_total: 0,
      'netspectra_engine_task_flows{task="per_five_tuple",kind="exact"}': flows,
      [`netspectra_engine_writer_errors_total{${writer}}`]: 0,
      [`netspectra_engine_writer_up{${writer}}`]: 1,
      netspectra_engine_leader_election: 0,
      netspectra_engine_leader: 1,
      'netspectra_engine_info{engine_id="metrics-0",format="batch",subject="gons.packets.raw",partitions="4",owned="0-3"}': 1,
    };
    for (const [name, value] of Object.entries(expect)) assert.equal(metrics.get(name), value, `${name}\n${text}`);
    // 12 messages of at most 500 packets per partition, and the garbage one
    assert.ok(metrics.get('netspectra_engine_messages_total')! >= 13, text);
    assert.ok(metrics.get('netspectra_engine_batches_total')! >= 1);
    assert.ok(metrics.get('netspectra_engine_task_memory_bytes{task="per_five_tuple",kind="exact"}')! > flows * 50);
    assert.ok(metrics.get('netspectra_engine_snapshots_total{group="exact"}')! >= 1);
    assert.ok(metrics.get(`netspectra_engine_snapshot_write_seconds_count{${writer}}`)! >= 1);
    assert.ok(metrics.get(`netspectra_engine_snapshot_write_seconds_sum{${writer}}`)! > 0);
    assert.ok(metrics.get('netspectra_engine_uptime_seconds')! > 0.5);
    // capture-to-count lag: the wall clock minus the newest packet time (these packets are from 2023)
    const newestMs = Math.max(...packets.map((p) => p.seconds * 1000 + p.nanos / 1e6));
    assert.ok(Math.abs(metrics.get('netspectra_engine_lag_seconds')! - (Date.now() - newestMs) / 1000) < 30, text);
    assert.match(text, /^# TYPE netspectra_engine_packets_received_total counter$/m);

    const healthy = await fetch(`${base}/healthz`);
    assert.equal(healthy.status, 200);
    assert.deepEqual(await healthy.json(), { status: 'ok' });
    assert.equal((await fetch(`${base}/other`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);

    await server.stop();
    let body: { status: string; reasons: string[] } | undefined;
    await waitFor(
      async () => {
        const answer = await fetch(`${base}/healthz`);
        body = (await answer.json()) as typeof body;
        return answer.status === 503;
      },
      30_000,
      '/healthz answers 503',
    );
    assert.equal(body?.status, 'unavailable');
    assert.ok(body?.reasons.some((r) => r.includes('NATS disconnected')), JSON.stringify(body));
    const down = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    assert.equal(down.get('netspectra_nats_connected'), 0);
    assert.equal(down.get('netspectra_nats_disconnects_total'), 1);

    // the server comes back: the engine reconnects and resubscribes on its own
    await server.restart();
    await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, 30_000, '/healthz answers 200 again');
    const more = await publishRandom(server.url, 1000, 32, 4);
    await waitFor(() => service.counters.packetsAccepted === 7000, 30_000, () => JSON.stringify(service.counters));
    const back = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    assert.equal(back.get('netspectra_nats_reconnects_total'), 1);
    assert.equal(back.get('netspectra_nats_connected'), 1);
    await server.stop();

    // stopping without NATS: bounded waits, and the final snapshot still reaches the store
    const started = performance.now();
    const result = await service.stop();
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 5, `stop took ${seconds.toFixed(1)} s`);
    assert.deepEqual(result.finalWriteErrors, []);
    assert.equal(result.failure, undefined);
    const allFlows = referenceFlows([...packets, ...more], ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']).size;
    assert.deepEqual(await storedPackets(store, 'per_five_tuple'), { flows: allFlows, packets: 7000 });
  } finally {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM on `netspectra engine`: it writes a final snapshot and exits 0', { skip }, async () => {
  await using server = await NatsServer.start();
  const dir = await mkdtemp(join(tmpdir(), 'ns-engine-sigterm-'));
  const store = join(dir, 'engine.duckdb');
  const child = spawn(
    process.execPath,
    [cli, 'engine', '--nats', server.url, '--partitions', '4', '--store', store, '--metrics-listen', '127.0.0.1:0', '--workers', '0', '--engine-id', 'sigterm-0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await waitFor(() => /metrics (http:\/\/\S+)\/metrics/.test(stderr) || child.exitCode !== null, 60_000, () => `the engine's start line; stderr: ${stderr}`);
    const base = /metrics (http:\/\/\S+)\/metrics/.exec(stderr)?.[1];
    assert.ok(base !== undefined, stderr);
    assert.match(stderr, /sigterm-0 started: batch on gons\.packets\.raw\.<p> for p in 0-3 of 4 partitions/);
    await publishRandom(server.url, 3000, 41, 4);
    await waitFor(
      async () => parseMetrics(await (await fetch(`${base}/metrics`)).text()).get('netspectra_engine_packets_accepted_total') === 3000,
      30_000,
      'the engine counted every packet',
    );
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null, stderr);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /stopped after [\d.]+ s: 3000 packets in \d+ messages .* 3000 counted, 0 malformed, 0 missing, 0 dropped while behind; final snapshot written/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    // the default writers snapshot every 60 s: these rows are the final snapshot's
    const stored = await storedPackets(store, 'per_five_tuple');
    assert.equal(stored.packets, 3000);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('engine errors: bad flags exit 2 with the reason, an unreachable NATS exits 1 with NS_ERR_NATS_CONNECT, never a stack trace', async () => {
  const cases: [string[], RegExp][] = [
    [['--format', 'json'], /--format expects batch or packet-info, got "json"/],
    [['--engines', '2'], /--engines and --index go together/],
    [['--engines', '32', '--index', '0'], /32 engines need at least as many partitions, got 16/],
    [['--engines', '2', '--index', '2'], /--index expects an integer from 0 to 1/],
    [['--partitions-owned', '0,16'], /partition 16 does not exist/],
    [['--partitions-owned', '1', '--engines', '2', '--index', '1'], /cannot be combined/],
    [['--leader-election', '--no-leader-election'], /cannot be combined/],
    [['--metrics-listen', 'nowhere'], /--metrics-listen expects HOST:PORT/],
    [['--leader-ttl', '5'], /--leader-ttl expects a duration/],
    [['--engine-id', 'a/b'], /--engine-id expects letters/],
    [['--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const result = await cliRun(['engine', ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^netspectra: NS_ERR_USAGE: /);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  }
  await using closed = await closedPort();
  for (const bin of [cli, alias]) {
    const args = bin === cli ? ['engine'] : [];
    const result = await cliRun([...args, '--nats', `nats://127.0.0.1:${closed.port}`, '--no-metrics', '--no-store', '--workers', '0'], bin);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^netspectra: NS_ERR_NATS_CONNECT: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  }
  const help = await cliRun(['help', 'engine']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--partitions-owned L/);
  assert.match((await cliRun(['--help'])).stdout, /engine {17}count the packets probes publish/);
});

test('engine: a metrics address already in use exits 1 with NS_ERR_LISTEN', { skip }, async () => {
  await using server = await NatsServer.start();
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const result = await cliRun(['engine', '--nats', server.url, '--metrics-listen', `127.0.0.1:${port}`, '--no-store', '--workers', '0']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`NS_ERR_LISTEN: cannot listen on 127\\.0\\.0\\.1:${port} for /metrics: EADDRINUSE`));
  } finally {
    blocker.close();
  }
});

test('engine: leader election on a NATS server without JetStream exits 1 with NS_ERR_NATS_JETSTREAM', { skip }, async () => {
  await using server = await NatsServer.start({ jetstream: false });
  const result = await cliRun(['engine', '--nats', server.url, '--engines', '2', '--index', '1', '--no-metrics', '--no-store', '--workers', '0']);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^netspectra: NS_ERR_NATS_JETSTREAM: leader election needs JetStream .* or run with --no-leader-election/);
});
