/**
 * The container image, built from the repository's Dockerfile and run the way a runtime starts it
 * (test/kit/image.ts: buildah, node as PID 1 of its own PID namespace, the image's user): the
 * version, the user and what the image holds; `analyze` of a shared capture gives tshark's totals;
 * `engine` as PID 1 writes its final snapshot and exits within 10 s of SIGTERM, also after its
 * NATS server is gone, and with leader election on and its ClickHouse server unreachable (the
 * final snapshot then waits in the spool).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportJson } from '../../src/pipeline/analysis-report.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { ImageContainer, buildImage, imageSkip, runToEnd, REPO_ROOT } from '../kit/image.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { parseMetrics, replayCapture, waitFor } from '../cli/engine-kit.js';
import { closedPort } from '../kit/ports.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';

const skip = imageSkip();
/** What a runtime gives PID 1 between SIGTERM and SIGKILL in these tests (Docker's default is 10 s, Kubernetes' 30 s). */
const STOP_GRACE_MS = 10_000;
const shared = sharedPcaps();

interface Truth {
  ip_frames: number;
  flows: { packets: number; bytes: number }[];
}

describe('the container image', { skip }, () => {
  let container: ImageContainer;

  before(async () => {
    const { seconds, size } = await buildImage();
    console.log(`# image built in ${seconds.toFixed(1)} s (cached layers after the first build), ${size}`);
    container = await ImageContainer.create();
  });
  after(async () => {
    await container?.[Symbol.asyncDispose]();
  });

  test('version, user and contents: the package version, uid 10001, tcpdump present, no npm or npx', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const version = await runToEnd(container.spawn(['version']));
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), `netspectra ${pkg.version}`);
    const who = await runToEnd(container.spawnRaw(['sh', '-c', 'id -u; id -g; echo $$; command -v tcpdump; command -v npm || echo no-npm; command -v npx || echo no-npx']));
    assert.deepEqual(who.stdout.trim().split('\n'), ['10001', '10001', '1', '/usr/bin/tcpdump', 'no-npm', 'no-npx']);
    const help = await runToEnd(container.spawn(['engine', '--help']));
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: netspectra engine/);
  });

  test('analyze of a shared capture inside the image: the totals equal the tshark truth', { skip: shared.skip }, async () => {
    const truth = JSON.parse(await readFile(join(shared.dir, 'truth', 'example.pcap.json'), 'utf8')) as Truth;
    await copyFile(join(shared.dir, 'example.pcap'), container.path('/tmp/example.pcap'));
    const run = await runToEnd(container.spawn(['analyze', '/tmp/example.pcap', '--no-store', '--json', '--workers', '1']));
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ReportJson;
    assert.equal(report.packets.ip, truth.ip_frames);
    const task = report.tasks.find((t) => t.name === 'per_five_tuple');
    assert.ok(task !== undefined && task.kind === 'exact');
    assert.equal(task.packets, truth.flows.reduce((sum, f) => sum + f.packets, 0));
    assert.equal(task.bytes, truth.flows.reduce((sum, f) => sum + f.bytes, 0));
  });

  test('engine as PID 1: SIGTERM after its NATS server has gone → final snapshot written, exit 0 within 10 s', { skip: natsSkip() || shared.skip }, async () => {
    await using nats = await NatsServer.start();
    const engine = container.spawn(['engine', '--nats', nats.url, '--store', '/var/lib/netspectra/engine.duckdb', '--metrics-listen', '127.0.0.1:0', '--no-alerts', '--workers', '1']);
    try {
      await engine.waitFor(/started: batch on/);
      const metricsUrl = /metrics (http:\/\/\S+\/metrics)/.exec(engine.stderr)?.[1];
      assert.ok(metricsUrl !== undefined, engine.stderr);
      const published = await replayCapture(nats.url, join(shared.dir, 'example.pcap'), { subject: 'gons.packets.raw', format: 'packet-batch', partitions: 16 });
      // every packet in the engine, then its server is taken away
      const accepted = async (): Promise<number> => parseMetrics(await (await fetch(metricsUrl)).text()).get('netspectra_engine_packets_accepted_total') ?? 0;
      await waitFor(async () => (await accepted()) === published, 60_000, 'every published packet counted by the engine');
      await nats.stop(true);
      const stopped = await engine.stop(STOP_GRACE_MS);
      assert.deepEqual(stopped, { code: 0, killed: false }, engine.stderr);
      assert.match(engine.stderr, /final snapshot written/);
      await using store = new DuckDbQueryStore({ path: container.path('/var/lib/netspectra/engine.duckdb') });
      await store.start();
      const [totals] = await new QueryService(store).aggregateFlows({ taskName: 'per_five_tuple' });
      assert.equal(totals?.packets, published);
    } finally {
      engine.kill();
    }
  });

  test('engine as PID 1 with leader election and a ClickHouse writer: SIGTERM with NATS gone and ClickHouse unreachable → the final snapshot waits in the spool, exit 0 within 10 s', { skip: natsSkip() }, async () => {
    await using nats = await NatsServer.start();
    await using refused = await closedPort();
    await writeFile(
      container.path('/tmp/clickhouse-down.yaml'),
      `aggregator:
  types: [exact]
  exact:
    writers:
      - type: clickhouse
        enabled: true
        snapshot_interval: 60s
        clickhouse: {host: 127.0.0.1, port: ${refused.port}, database: netspectra, username: default, password: "", spool_path: /var/lib/netspectra/spool}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol]}
`,
    );
    const engine = container.spawn(['engine', '--config', '/tmp/clickhouse-down.yaml', '--nats', nats.url, '--engine-id', 'image-test', '--leader-election', '--no-store', '--no-metrics', '--no-alerts', '--workers', '1']);
    try {
      await engine.waitFor(/image-test is now the leader/);
      await engine.waitFor(/started: batch on/);
      await nats.stop(true);
      const stopped = await engine.stop(STOP_GRACE_MS);
      assert.deepEqual(stopped, { code: 0, killed: false }, engine.stderr);
      assert.match(engine.stderr, /snapshot\(s\) for clickhouse:\S+ \(spool \/var\/lib\/netspectra\/spool\/image-test\) are waiting in the spool/);
      assert.ok((await readdir(container.path('/var/lib/netspectra/spool/image-test'))).length > 0, 'the spooled snapshots are on disk');
    } finally {
      engine.kill();
    }
  });
});
