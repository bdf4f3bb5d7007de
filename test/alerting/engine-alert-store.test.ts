/**
 * End to end through the live engine (issue 5 §5): a generated capture with a SYN flood and a
 * scanner is published by the real probe (`netspectra probe --max`, a child process) to a private
 * nats-server; an EngineService with rules delivers to a real webhook receiver (signatures
 * checked) and a real SMTP server (STARTTLS), and stores every notice in the embedded store and —
 * when clickhouse-server is installed — ClickHouse. The alerts are the generator's ground truth,
 * each notified exactly once by webhook and by email, and readable through the query service.
 *
 * Also `analyze --store`: the same capture's notices land in the store it writes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { EngineService } from '../../src/pipeline/engine-service.js';
import type { WebhookBody } from '../../src/alerting/notification-format.js';
import type { AlertRecord } from '../../src/model/alert.js';
import type { AlertQueryStore, FlowQueryStore } from '../../src/model/ports.js';
import { QueryService } from '../../src/query/query-service.js';
import { ClickHouseQueryStore } from '../../src/store/clickhouse-query.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { configFrom, parseMetrics, waitFor } from '../cli/engine-kit.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { selfSignedCertificate, startSmtpReceiver, startWebhookReceiver } from './receivers.js';
import type { Certificate, SmtpReceiver, WebhookReceiver, WebhookRequest } from './receivers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const HOOK_SECRET = 'engine-e2e-secret';
const PARTITIONS = 8;

interface Truth {
  super_spreaders: { src: string; distinct_dsts: number }[];
  syn_flood: { victim: string; port: number; packets: number };
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 26, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

function signatureValid(request: WebhookRequest): boolean {
  const timestamp = String(request.headers['x-netspectra-timestamp']);
  const expected = `sha256=${createHmac('sha256', HOOK_SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`;
  return request.headers['x-netspectra-signature'] === expected;
}

/** The rules and tasks of the test; `writers`: the sketch group's writers as YAML (a flow list, or lines each starting with a newline). */
function configYaml(options: { webhookUrl: string; smtpPort: number; caFile: string; writers: string }): string {
  return `
alerter:
  check_interval: 1s
  rules:
    - {name: Potential_SYN_Flood, task_name: hh_dst, metric: heavy_hitter_count, operator: ">", threshold: 10000}
    - {name: Potential_Scanner, task_name: ss_src_dst, metric: super_spreader_spread, operator: ">", threshold: 200}
  notifiers:
    timeout: 20s
    webhook: {url: "${options.webhookUrl}", secret: "${HOOK_SECRET}", retries: 2, timeout: 2s}
smtp:
  host: 127.0.0.1
  port: ${options.smtpPort}
  from: netspectra@example.com
  to: "soc@example.com"
  tls: starttls
  ca_file: ${options.caFile}
aggregator:
  period: 720h
  num_workers: 1
  exact:
    writers: []
    tasks:
      - {name: per_src_ip, key_fields: [SrcIP]}
  sketch:
    writers: ${options.writers}
    tasks:
      - {name: hh_dst, skt_type: 0, flow_fields: [DstIP], count_thereshold: 1000, size_thereshold: 100000000, width: 4096, seed: 1}
      - {name: ss_src_dst, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP], count_thereshold: 100, width: 4096, seed: 2}
`;
}

const byRule = (records: readonly AlertRecord[]): Map<string, AlertRecord[]> => {
  const map = new Map<string, AlertRecord[]>();
  for (const record of records) map.set(record.rule, [...(map.get(record.rule) ?? []), record]);
  return map;
};

let dir: string;
let capture: string;
let truth: Truth;
let certificate: Certificate;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ns-engine-alerts-'));
  capture = join(dir, 'attack.pcap');
  const gen = await runCli(['gen-pcap', '--out', capture, '--packets', '40000', '--flows', '1500', '--spreaders', '1', '--spread', '400', '--syn-flood', '20000', '--seed', '7', '--duration', '60', '--ipv6', '0']);
  assert.equal(gen.code, 0, gen.stderr);
  truth = JSON.parse(await readFile(`${capture}.truth.json`, 'utf8')) as Truth;
  certificate = await selfSignedCertificate();
  await writeFile(join(dir, 'ca.pem'), certificate.cert);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The stored notices of one store, checked against the truth; returns them. */
async function checkStored(store: FlowQueryStore & AlertQueryStore, expect: { engineId: string; source: string; runId?: string }): Promise<AlertRecord[]> {
  await store.start();
  try {
    const service = new QueryService(store);
    const stored = await service.alerts({ limit: 100 });
    const rules = byRule(stored);
    assert.deepEqual([...rules.keys()].sort(), ['Potential_SYN_Flood', 'Potential_Scanner'], JSON.stringify(stored.map((r) => r.id)));
    const flood = rules.get('Potential_SYN_Flood')!;
    assert.deepEqual(
      flood.map((r) => [r.kind, r.flowText, r.flow]),
      [['firing', truth.syn_flood.victim, { DstIP: truth.syn_flood.victim }]],
      'the flood fired once, for the victim',
    );
    assert.ok(flood[0]!.value > 10_000 && flood[0]!.value <= truth.syn_flood.packets * 1.1, `flood value ${flood[0]!.value}`);
    const scanner = rules.get('Potential_Scanner')!;
    assert.deepEqual(
      scanner.map((r) => [r.kind, r.flowText, r.elementFields]),
      [['firing', truth.super_spreaders[0]!.src, ['DstIP']]],
    );
    for (const record of stored) {
      assert.equal(record.engineId, expect.engineId);
      assert.equal(record.source, expect.source);
      if (expect.runId !== undefined) assert.equal(record.runId, expect.runId);
      assert.ok(record.evidence.length > 0, 'evidence is stored');
      assert.equal(record.firedAtNs, record.atNs);
    }
    // cumulative counts stay over the thresholds: both are still active
    const active = await service.activeAlerts({ limit: 10 });
    assert.deepEqual(active.map((r) => r.id).sort(), stored.map((r) => r.id).sort());
    assert.deepEqual(await service.alerts({ kind: 'resolved', limit: 10 }), []);
    return stored;
  } finally {
    await store.stop();
  }
}

describe('the live engine: probe → NATS → engine → alerts notified once each and stored', { skip: natsSkip() }, () => {
  let nats: NatsServer;
  let webhook: WebhookReceiver;
  let smtp: SmtpReceiver;
  let clickhouse: ClickHouseServer | undefined;
  before(async () => {
    [nats, webhook, smtp, clickhouse] = await Promise.all([
      NatsServer.start(),
      startWebhookReceiver(),
      startSmtpReceiver({ certificate }),
      clickHouseSkip === false ? ClickHouseServer.start() : Promise.resolve(undefined),
    ]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), webhook?.close(), smtp?.close(), clickhouse?.stop()]);
  });

  test('a SYN flood and a scanner published by the probe: two alerts, one signed webhook call and one email each, stored in DuckDB (and ClickHouse)', async (t) => {
    const storePath = join(dir, 'engine.duckdb');
    const connection =
      clickhouse === undefined
        ? undefined
        : { host: '127.0.0.1', port: clickhouse.httpPort, database: 'engine_alerts', username: clickhouse.username, password: clickhouse.password, cloud: false };
    const writers = [
      `      - {type: duckdb, snapshot_interval: 1s, duckdb: {path: "${storePath}"}}`,
      ...(connection === undefined
        ? []
        : [`      - {type: clickhouse, snapshot_interval: 1s, clickhouse: {host: 127.0.0.1, port: ${connection.port}, database: engine_alerts, username: default, password: "${connection.password}", spool_path: "${join(dir, 'spool')}"}}`]),
    ]
      .map((line) => `\n${line}`)
      .join('');
    if (connection === undefined) t.diagnostic(`ClickHouse part skipped: ${String(clickHouseSkip)}`);
    const config = configFrom(configYaml({ webhookUrl: webhook.url, smtpPort: smtp.port, caFile: join(dir, 'ca.pem'), writers }));
    const log: string[] = [];
    const engine = new EngineService({
      config,
      natsUrl: nats.url,
      subject: 'gons.packets.raw',
      format: 'batch',
      ownership: PartitionOwnership.roundRobin(PARTITIONS, 1, 0),
      engineId: 'alerting-engine',
      leaderElection: false,
      workers: 0,
      log: (line) => log.push(line),
    });
    await engine.start();
    let stopped = false;
    try {
      const probe = await runCli(['probe', '--file', capture, '--max', '--nats', nats.url, '--partitions', String(PARTITIONS)]);
      assert.equal(probe.code, 0, probe.stderr);
      await waitFor(() => engine.counters.packetsAccepted === 40_000, 20_000, () => `engine accepted ${engine.counters.packetsAccepted} packets`);
      // the next check (1 s) fires both rules; their notifications are delivered while the engine runs
      await waitFor(() => webhook.requests.length >= 2 && smtp.mails.length >= 2, 20_000, () => `${webhook.requests.length} webhook calls, ${smtp.mails.length} mails; log: ${log.join(' | ')}`);
      // more checks pass: the alerts stay firing, nobody is told again (cooldown 1h)
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const metrics = parseMetrics(await engine.metricsText());
      assert.equal(metrics.get('netspectra_alert_notices_stored_total'), connection === undefined ? 2 : 4, 'two notices, in each store');
      assert.equal(metrics.get('netspectra_alert_store_failures_total'), 0);
      const result = await engine.stop();
      stopped = true;
      assert.deepEqual(result.finalWriteErrors, []);
    } finally {
      if (!stopped) await engine.stop();
    }
    assert.deepEqual(log.filter((line) => /NS_ERR/.test(line)), [], 'no delivery or storage failures');

    // webhook: one signed firing call per alert, for the truth's victim and scanner
    assert.equal(webhook.requests.length, 2);
    assert.ok(webhook.requests.every(signatureValid));
    const bodies = webhook.requests.map((r) => JSON.parse(r.body) as WebhookBody);
    assert.deepEqual(bodies.map((b) => b.kind), ['firing', 'firing']);
    assert.deepEqual(
      bodies.flatMap((b) => b.alerts.map((a) => `${a.rule}|${a.flowText}`)).sort(),
      [`Potential_SYN_Flood|${truth.syn_flood.victim}`, `Potential_Scanner|${truth.super_spreaders[0]!.src}`].sort(),
    );
    assert.ok(bodies.every((b) => b.analysis?.source === 'built-in'));
    // email: one each, over STARTTLS
    assert.equal(smtp.mails.length, 2);
    assert.ok(smtp.mails.every((m) => m.secure));
    assert.deepEqual(smtp.mails.map((m) => m.subject).sort(), [
      'Go2NetSpectra Alert Summary (1 Triggered): Potential_SYN_Flood',
      'Go2NetSpectra Alert Summary (1 Triggered): Potential_Scanner',
    ]);

    // stored: what was notified, readable through the query service
    const stored = await checkStored(new DuckDbQueryStore({ path: storePath }), { engineId: 'alerting-engine', source: 'engine', runId: engine.runId });
    const notified = new Map(bodies.flatMap((b) => b.alerts.map((a) => [a.id, a.value] as const)));
    for (const record of stored) assert.equal(record.value, notified.get(record.id), 'the stored value is the notified one');
    if (connection !== undefined) {
      const fromClickHouse = await checkStored(new ClickHouseQueryStore({ connection }), { engineId: 'alerting-engine', source: 'engine', runId: engine.runId });
      assert.deepEqual(fromClickHouse, stored, 'both stores hold the same notices');
    }
  });
});

test('analyze --store: the notices of the capture are stored in the file it writes, in packet time', async () => {
  const webhook = await startWebhookReceiver();
  const smtp = await startSmtpReceiver({ certificate });
  try {
    const storePath = join(dir, 'analyze.duckdb');
    const configFile = join(dir, 'analyze.yaml');
    await writeFile(configFile, configYaml({ webhookUrl: webhook.url, smtpPort: smtp.port, caFile: join(dir, 'ca.pem'), writers: '[]' }));
    const { code, stderr } = await runCli(['analyze', capture, '--config', configFile, '--json', '--store', storePath]);
    assert.equal(code, 0, stderr);
    assert.equal(webhook.requests.length, 2);
    const stored = await checkStored(new DuckDbQueryStore({ path: storePath }), { engineId: `analyze-${hostname()}`, source: 'analyze' });
    for (const record of stored) {
      // packet time: within the capture's minute, not the wall clock
      assert.ok(record.atNs < BigInt(Date.now() - 3_600_000) * 1_000_000n, `notice at ${record.atNs}`);
    }
  } finally {
    await webhook.close();
    await smtp.close();
  }
});
