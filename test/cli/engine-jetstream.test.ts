/**
 * JetStream durable mode against real servers (docs/pipeline.md, "JetStream durable mode"): a
 * private nats-server with JetStream on disk, a private ClickHouse, the real `netspectra probe`
 * and `netspectra engine` commands as child processes where a process must die.
 *
 * - nats-server stopped and started again mid-stream: the probe waits and resends, the engine's
 *   consumers resume; the totals per 5-tuple equal the capture's truth (nothing lost, nothing
 *   counted twice).
 * - an engine SIGKILLed mid-stream and started again with the same flags: it resumes the run and
 *   period of its checkpoint, deletes what the killed process wrote from that period on, and
 *   replays from there; the newest row per flow per period per run, summed, equals the truth, and
 *   so do the query service's totals (which sum the rows' growth).
 * - the checkpoint rule: a restart after a period boundary resumes the checkpointed period of the
 *   same run and replays exactly the messages after the reset.
 * - without JetStream on the server, both commands refuse to start with a clear error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { EngineCheckpoint } from '../../src/bus/engine-checkpoint.js';
import { JetStreamSink } from '../../src/bus/jetstream-sink.js';
import { ensurePacketStream } from '../../src/bus/jetstream-stream.js';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { PacketPublisher, partitionOfSource, partitionSubject } from '../../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { openCaptureFile } from '../../src/capture/file-source.js';
import { EngineService } from '../../src/pipeline/engine-service.js';
import { QueryService } from '../../src/query/query-service.js';
import { ClickHouseQueryStore } from '../../src/store/clickhouse-query.js';
import { CaptureDecoder } from '../../src/decode/index.js';
import { BatchPool } from '../../src/model/packet.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { SHARED_PCAPS, configFrom, flowKey, parseMetrics, sharedPcaps, truthFlows, waitFor } from './engine-kit.js';

const skip = natsSkip() || clickHouseSkip || sharedPcaps().skip;
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** 37,841 packets from 37,000 spoofed sources: every partition gets messages. */
const CAPTURE = 'pkt.TCP.synflood.spoofed.pcap';
const PARTITIONS = 16;

interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

function runCli(args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { process: child, output: () => output, exited: once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]> };
}

function clickhouseWriter(clickhouse: ClickHouseServer, database: string): string {
  return `
aggregator:
  types: [exact]
  period: PERIOD
  exact:
    writers:
      - type: clickhouse
        snapshot_interval: 1s
        clickhouse: { host: 127.0.0.1, port: ${clickhouse.httpPort}, database: ${database}, username: default, password: "\${CH_PASSWORD}" }
    tasks:
      - { name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol] }
`;
}

/** Per 5-tuple: the newest row per flow per period per run, summed (the rule of docs/pipeline.md). */
async function storedTotals(clickhouse: ClickHouseServer, database: string): Promise<{ flows: Map<string, [number, number]>; runs: number; periods: number }> {
  const text = await clickhouse.query(
    `SELECT SrcIP, DstIP, SrcPort, DstPort, Protocol, sum(packets) AS packets, sum(bytes) AS bytes, uniqExact(RunId) AS runs, uniqExact(PeriodId) AS periods FROM (
       SELECT RunId, PeriodId, SrcIP, DstIP, SrcPort, DstPort, Protocol, argMax(PacketCount, TimestampNs) AS packets, argMax(ByteCount, TimestampNs) AS bytes
       FROM ${database}.flow_metrics WHERE TaskName = 'per_five_tuple'
       GROUP BY RunId, PeriodId, SrcIP, DstIP, SrcPort, DstPort, Protocol)
     GROUP BY SrcIP, DstIP, SrcPort, DstPort, Protocol FORMAT JSONEachRow`,
  );
  const rows = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { SrcIP: string; DstIP: string; SrcPort: number; DstPort: number; Protocol: number; packets: string; bytes: string });
  const flows = new Map(rows.map((r) => [flowKey(r.SrcIP, r.DstIP, r.SrcPort, r.DstPort, r.Protocol), [Number(r.packets), Number(r.bytes)] as [number, number]]));
  const summary = JSON.parse(
    (await clickhouse.query(`SELECT uniqExact(RunId) AS runs, uniqExact(PeriodId) AS periods FROM ${database}.flow_metrics WHERE TaskName = 'per_five_tuple' FORMAT JSONEachRow`)).trim(),
  ) as { runs: string; periods: string };
  return { flows, runs: Number(summary.runs), periods: Number(summary.periods) };
}

function assertTruth(flows: Map<string, [number, number]>): void {
  const truth = truthFlows(CAPTURE);
  const differing: string[] = [];
  for (const [key, counts] of truth) {
    const got = flows.get(key);
    if (got === undefined || got[0] !== counts[0] || got[1] !== counts[1]) differing.push(`${key}: truth ${counts.join('/')}, stored ${got?.join('/') ?? 'none'}`);
  }
  const extra = [...flows.keys()].filter((key) => !truth.has(key));
  assert.deepEqual(differing.slice(0, 5), [], `${differing.length} of ${truth.size} flows differ`);
  assert.deepEqual(extra.slice(0, 5), [], `${extra.length} flows the truth does not have`);
}

/** The last stream sequence of every partition subject (0 when it has none). */
async function lastSequences(nats: NatsServer, stream: string, subject: string): Promise<Map<string, number>> {
  await using connection = new NatsConnection({ url: nats.url, name: 'test-inspect' });
  await connection.start();
  const manager = await jetstreamManager(connection.core);
  const last = new Map<string, number>();
  for (let p = 0; p < PARTITIONS; p++) {
    const partition = partitionSubject(subject, p);
    try {
      last.set(partition, (await manager.streams.getMessage(stream, { last_by_subj: partition }))?.seq ?? 0);
    } catch {
      last.set(partition, 0);
    }
  }
  return last;
}

describe('JetStream durable mode', { skip }, () => {
  let nats: NatsServer;
  let clickhouse: ClickHouseServer;
  let dir: string;
  before(async () => {
    [nats, clickhouse] = await Promise.all([NatsServer.start(), ClickHouseServer.start()]);
    dir = await mkdtemp(join(tmpdir(), 'ns-jetstream-'));
  });
  after(async () => {
    await Promise.all([nats?.dispose(), clickhouse?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  test('nats-server stopped and restarted mid-stream: the probe waits and resends, the engine resumes; totals equal the truth (zero loss, nothing twice)', async (t) => {
    const stream = 'NS_RESTART';
    const subject = 'js.restart';
    const config = configFrom(clickhouseWriter(clickhouse, 'js_restart').replace('PERIOD', '1h'), { CH_PASSWORD: clickhouse.password });
    const engine = new EngineService({
      config,
      natsUrl: nats.url,
      subject,
      format: 'batch',
      ownership: PartitionOwnership.roundRobin(PARTITIONS, 1, 0),
      engineId: 'restart-0',
      leaderElection: false,
      workers: 0,
      store: null,
      jetstream: { stream, maxAgeMs: 3_600_000, maxBytes: 1 << 30 },
    });
    await engine.start();
    // about 5 s of replay: time to stop the server in the middle
    const probe = runCli(['probe', '--jetstream', '--stream', stream, '--subject', subject, '--nats', nats.url, '--file', join(SHARED_PCAPS, CAPTURE), '--rate', '8000']);
    let published = 0;
    try {
      await waitFor(() => engine.counters.packetsReceived >= 8000, 30_000, () => `the first packets in the engine; probe: ${probe.output()}`);
      await nats.stop();
      await waitFor(() => engine.health().reasons.some((r) => r.includes('NATS disconnected')), 30_000, 'the engine noticing the outage');
      const during = engine.counters.packetsReceived;
      await nats.restart();
      const [code] = await probe.exited;
      const output = probe.output();
      assert.equal(code, 0, output);
      published = Number(/(\d+) IP packets published/.exec(output)?.[1]);
      const acknowledged = Number(/JetStream: (\d+) acknowledged/.exec(output)?.[1]);
      const messages = Number(/published in (\d+) messages/.exec(output)?.[1]);
      assert.equal(acknowledged, messages, output);
      t.diagnostic(`probe: ${output.trim()}`);
      t.diagnostic(`engine had ${during} packets when the server went away`);
      assert.ok(during < published, 'the server was stopped mid-stream');
      await waitFor(() => engine.counters.packetsAccepted >= published, 30_000, () => `engine counted ${engine.counters.packetsAccepted} of ${published}`);
    } finally {
      if (probe.process.exitCode === null) probe.process.kill('SIGKILL');
      const result = await engine.stop();
      assert.deepEqual(result.finalWriteErrors, []);
    }
    const c = engine.counters;
    assert.equal(c.packetsAccepted, published, 'every packet counted exactly once');
    assert.equal(c.malformed + c.missing, 0, JSON.stringify(c));
    const stored = await storedTotals(clickhouse, 'js_restart');
    assertTruth(stored.flows);
  });

  test('an engine SIGKILLed mid-stream and started again resumes its checkpoint: newest row per flow per period per run, summed, equals the truth', async (t) => {
    const stream = 'NS_KILL';
    const subject = 'js.kill';
    const configFile = join(dir, 'kill.yaml');
    // 2 s periods: checkpoints advance during the replay, so the restart resumes a later period
    await writeFile(configFile, clickhouseWriter(clickhouse, 'js_kill').replace('PERIOD', '2s'));
    const env = { CH_PASSWORD: clickhouse.password };
    const engineArgs = ['engine', '--jetstream', '--stream', stream, '--config', configFile, '--nats', nats.url, '--metrics-listen', '127.0.0.1:0', '--workers', '0', '--engine-id', 'kill-0', '--no-store', '--subject', subject];
    const startEngine = async (): Promise<{ child: Child; metrics: () => Promise<Map<string, number>> }> => {
      const child = runCli(engineArgs, env);
      await waitFor(() => /metrics (http:\/\/\S+)\/metrics/.test(child.output()) || child.process.exitCode !== null, 60_000, () => `the engine's start line: ${child.output()}`);
      const base = /metrics (http:\/\/\S+)\/metrics/.exec(child.output())?.[1];
      assert.ok(base !== undefined, child.output());
      return { child, metrics: async () => parseMetrics(await (await fetch(`${base}/metrics`)).text()) };
    };
    let engine = await startEngine();
    const probe = runCli(['probe', '--jetstream', '--stream', stream, '--subject', subject, '--nats', nats.url, '--file', join(SHARED_PCAPS, CAPTURE), '--rate', '6000']);
    try {
      // killed after at least one period end was checkpointed, while packets still arrive, and once
      // rows of the checkpointed period are stored (the replay writes that period again) beside rows
      // of an earlier one (kept as they are: the first period can pass without packets when the
      // probe is slow to start, on a loaded machine)
      await waitFor(
        async () => {
          const m = await engine.metrics();
          if ((m.get('netspectra_engine_checkpoint_writes_total') ?? 0) < 2 || (m.get('netspectra_engine_packets_received_total') ?? 0) < 12_000) return false;
          const period = m.get('netspectra_engine_checkpoint_period_id');
          const [earlier = 0, checkpointed = 0] = (await clickhouse.query(`SELECT countIf(PeriodId < ${period}), countIf(PeriodId = ${period}) FROM js_kill.flow_metrics`)).trim().split('\t').map(Number);
          return earlier > 0 && checkpointed > 0;
        },
        30_000,
        () => `a checkpoint and packets before the kill; engine: ${engine.child.output()}`,
      );
      const before = await engine.metrics();
      engine.child.process.kill('SIGKILL');
      const [, signal] = await engine.child.exited;
      assert.equal(signal, 'SIGKILL');
      const runId = /\(run ([0-9a-f-]+)\)/.exec(engine.child.output())?.[1];
      assert.ok(runId !== undefined, engine.child.output());
      t.diagnostic(`killed after ${before.get('netspectra_engine_packets_received_total')} packets, checkpoint period ${before.get('netspectra_engine_checkpoint_period_id')}`);
      assert.ok(probe.process.exitCode === null, 'the probe was still publishing when the engine died');

      engine = await startEngine();
      assert.match(engine.child.output(), new RegExp(`resuming run ${runId}, period \\d+`));
      const [code] = await probe.exited;
      assert.equal(code, 0, probe.output());
      const last = await lastSequences(nats, stream, subject);
      await waitFor(
        async () => {
          const m = await engine.metrics();
          return [...last].every(([subject, seq]) => seq === 0 || m.get(`netspectra_engine_jetstream_position{subject="${subject}"}`) === seq);
        },
        30_000,
        () => `the engine at the end of every subject: ${engine.child.output()}`,
      );
      engine.child.process.kill('SIGTERM');
      const [exit] = await engine.child.exited;
      assert.equal(exit, 0, engine.child.output());
      t.diagnostic(engine.child.output().trim());
    } finally {
      for (const child of [probe, engine.child]) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    }
    const stored = await storedTotals(clickhouse, 'js_kill');
    assert.equal(stored.runs, 1, 'the restarted engine continued the run of its checkpoint');
    assert.ok(stored.periods >= 2, `rows of ${stored.periods} period(s)`);
    assertTruth(stored.flows);
    // the query service sums the rows' growth: the killed process's rows of the replayed periods
    // were deleted before the replay, or they would count twice
    const reader = new ClickHouseQueryStore({ connection: { host: '127.0.0.1', port: clickhouse.httpPort, database: 'js_kill', username: clickhouse.username, password: clickhouse.password, cloud: false } });
    await reader.start();
    try {
      const truth = [...truthFlows(CAPTURE).values()];
      const want = { taskName: 'per_five_tuple', bytes: truth.reduce((sum, [, bytes]) => sum + bytes, 0), packets: truth.reduce((sum, [packets]) => sum + packets, 0), flows: truth.length };
      assert.deepEqual(await new QueryService(reader).aggregateFlows({ taskName: 'per_five_tuple' }), [want]);
    } finally {
      await reader.stop();
    }
  });

  test('checkpoint rule: a restart after a period boundary resumes the checkpointed period of the same run and replays exactly what came after the reset', async () => {
    const stream = 'NS_RULE';
    const subject = 'js.rule';
    const config = configFrom(
      `
aggregator:
  types: [exact]
  period: 1s
  exact:
    writers: []
    tasks:
      - { name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol] }
`,
    );
    const service = (): EngineService =>
      new EngineService({
        config,
        natsUrl: nats.url,
        subject,
        format: 'batch',
        ownership: PartitionOwnership.roundRobin(PARTITIONS, 2, 0),
        engineId: 'rule-0',
        leaderElection: false,
        workers: 0,
        store: null,
        // short ticks: a reset taken in the middle of the replay could not go unnoticed
        tickMs: 20,
        jetstream: { stream, maxAgeMs: 3_600_000, maxBytes: 1 << 30 },
      });
    const parts = await publishInParts(nats, stream, subject, join(SHARED_PCAPS, CAPTURE));
    const owned = PartitionOwnership.roundRobin(PARTITIONS, 2, 0).subjects(subject);
    const first = service();
    await first.start();
    const startCheckpoint = first.checkpoint!;
    const afterA = await lastSequences(nats, stream, subject);
    try {
      // the first part, then a period end whose checkpoint starts right after it
      await waitFor(
        () => {
          const c = first.checkpoint!;
          return c.periodId > startCheckpoint.periodId && owned.every((s) => c.resumeSequences[s] === afterA.get(s)! + 1);
        },
        30_000,
        () => `a checkpoint after the first part: ${JSON.stringify(first.checkpoint)}`,
      );
    } finally {
      await first.stop();
    }
    const checkpoint = first.checkpoint!;
    assert.equal(checkpoint.runId, first.runId);
    const ownedFirst = first.counters.packetsAccepted;
    assert.ok(ownedFirst > 0);

    const secondPart = await parts.publishRest();
    // a period boundary passes while no engine runs
    await waitFor(() => Date.now() > checkpoint.periodStartMs + 1500, 5000, 'the next period boundary');
    const afterB = await lastSequences(nats, stream, subject);
    const second = service();
    const written: EngineCheckpoint[] = [];
    second.on('checkpoint', (c) => written.push(c));
    await second.start();
    try {
      assert.equal(second.runId, first.runId, 'the same run');
      assert.equal(second.checkpoint!.periodId, checkpoint.periodId, 'the checkpointed period, though the clock is past it');
      await waitFor(
        () => {
          const c = second.checkpoint!;
          return second.caughtUp && c.periodId > checkpoint.periodId && owned.every((s) => c.resumeSequences[s] === afterB.get(s)! + 1);
        },
        30_000,
        () => `the held period end after the replay: ${JSON.stringify(second.checkpoint)}`,
      );
    } finally {
      await second.stop();
    }
    // the period end was held until the replay was done: the first reset after the restart is at the end of the second part
    assert.ok(written.length > 0);
    assert.deepEqual(written[0]!.resumeSequences, Object.fromEntries(owned.map((s) => [s, afterB.get(s)! + 1])), 'the first reset after the restart comes after the whole replay');
    assert.ok(written[0]!.periodId > checkpoint.periodId);
    // exactly the second part's packets of the owned partitions: nothing before the reset again
    const ownership = PartitionOwnership.roundRobin(PARTITIONS, 2, 0);
    assert.equal(second.counters.packetsAccepted, secondPart.ownedBy(ownership));
    assert.equal(ownedFirst, parts.firstOwnedBy(ownership));
  });
});

/**
 * Publish a capture's first decoded batch into the stream now and the rest on `publishRest()`,
 * like `probe --jetstream`, remembering how many packets of each part every partition got.
 */
async function publishInParts(
  nats: NatsServer,
  stream: string,
  subject: string,
  path: string,
): Promise<{ firstOwnedBy: (ownership: PartitionOwnership) => number; publishRest: () => Promise<{ ownedBy: (ownership: PartitionOwnership) => number }> }> {
  const pool = new BatchPool();
  const decoder = new CaptureDecoder({ name: basename(path), pool });
  const batches = decoder.decode(openCaptureFile(path))[Symbol.asyncIterator]();
  const publishBatches = async (count: number, packetsPerMessage: number): Promise<number[]> => {
    await using connection = new NatsConnection({ url: nats.url, name: 'test-probe' });
    await connection.start();
    await ensurePacketStream(connection, { stream, subject, maxAgeMs: 3_600_000, maxBytes: 1 << 30 });
    const sink = new JetStreamSink(connection);
    const publisher = new PacketPublisher(connection, { subject, format: 'packet-batch', partitions: PARTITIONS, sink, packetsPerMessage });
    const perPartition = new Array<number>(PARTITIONS).fill(0);
    for (let i = 0; i < count; i++) {
      const next = await batches.next();
      if (next.done === true) break;
      const batch = next.value;
      for (let p = 0; p < batch.count; p++) perPartition[partitionOfSource(batch.srcAddr, p * 4, PARTITIONS)]!++;
      publisher.publish(batch);
      pool.release(batch);
      await sink.ready();
    }
    publisher.flush();
    await sink.flush();
    return perPartition;
  };
  const sumOwned = (perPartition: number[], ownership: PartitionOwnership): number => ownership.owned.reduce((sum, p) => sum + perPartition[p]!, 0);
  const first = await publishBatches(1, 4096);
  return {
    firstOwnedBy: (ownership) => sumOwned(first, ownership),
    publishRest: async () => {
      // many small messages: the replay of this part takes many ticks
      const rest = await publishBatches(Number.MAX_SAFE_INTEGER, 4);
      return { ownedBy: (ownership) => sumOwned(rest, ownership) };
    },
  };
}

test('without JetStream on the server, probe --jetstream and engine --jetstream exit 1 with NS_ERR_NATS_JETSTREAM; a bad --stream exits 2; never a stack trace', { skip: natsSkip() }, async () => {
  await using server = await NatsServer.start({ jetstream: false });
  const url = server.url;
  for (const args of [
    ['probe', '--jetstream', '--nats', url, '--file', join(SHARED_PCAPS, 'gnutella.pcap')],
    ['engine', '--jetstream', '--nats', url, '--no-store', '--no-metrics', '--workers', '0'],
  ]) {
    const child = runCli(args);
    const [code] = await child.exited;
    assert.equal(code, 1, child.output());
    assert.match(child.output(), /^netspectra: NS_ERR_NATS_JETSTREAM: cannot create or update the JetStream stream NETSPECTRA_PACKETS .*nats-server -js/m);
    assert.doesNotMatch(child.output(), /\n\s+at /);
  }
  for (const command of ['probe', 'engine']) {
    const child = runCli([command, '--jetstream', '--stream', 'a.b', ...(command === 'probe' ? ['--file', 'x.pcap'] : [])]);
    const [code] = await child.exited;
    assert.equal(code, 2, child.output());
    assert.match(child.output(), /NS_ERR_USAGE: --stream expects a stream name/);
  }
});
