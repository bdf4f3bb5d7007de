/**
 * End to end: a capture from the project's own generator with a SYN flood and a scanner, run
 * through `netspectra analyze` as a child process with rules and real notifiers (a webhook
 * receiver that verifies signatures, an SMTP server with STARTTLS).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportJson } from '../../src/pipeline/analysis-report.js';
import type { WebhookBody } from '../../src/alerting/notification-format.js';
import { closedPort } from '../kit/ports.js';
import { selfSignedCertificate, startSmtpReceiver, startWebhookReceiver } from './receivers.js';
import type { Certificate, WebhookRequest } from './receivers.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const HOOK_SECRET = 'e2e-hook-secret';

interface Truth {
  super_spreaders: { src: string; distinct_dsts: number }[];
  syn_flood: { victim: string; port: number; packets: number };
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 26, timeout: 120_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

let dir: string;
let capture: string;
let truth: Truth;
let certificate: Certificate;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ns-alerts-'));
  capture = join(dir, 'attack.pcap');
  // 60 s of traffic: 1500 Zipf flows, one scanner probing 400 hosts, a 20 000-packet SYN flood
  const gen = await runCli(['gen-pcap', '--out', capture, '--packets', '40000', '--flows', '1500', '--spreaders', '1', '--spread', '400', '--syn-flood', '20000', '--seed', '7', '--duration', '60', '--ipv6', '0']);
  assert.equal(gen.code, 0, gen.stderr);
  truth = JSON.parse(await readFile(`${capture}.truth.json`, 'utf8')) as Truth;
  certificate = await selfSignedCertificate();
  await writeFile(join(dir, 'ca.pem'), certificate.cert);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(webhookUrl: string, smtpPort: number, webhookRetries = 2, aiServiceAddr?: string): string {
  return `
alerter:
  check_interval: 10s
${aiServiceAddr === undefined ? '' : `  ai_analysis: {enabled: true, service_addr: "${aiServiceAddr}", timeout: 3s}`}
  rules:
    - {name: Potential_SYN_Flood, task_name: hh_dst, metric: heavy_hitter_count, operator: ">", threshold: 10000}
    - {name: Potential_Scanner, task_name: ss_src_dst, metric: super_spreader_spread, operator: ">", threshold: 200}
    - {name: Packet_Rate_Spike, task_name: per_src_ip, metric: packets_per_second, operator: ">", threshold: 800}
  notifiers:
    timeout: 20s
    webhook:
      url: "${webhookUrl}"
      secret: "\${HOOK_SECRET}"
      retries: ${webhookRetries}
      timeout: 2s
smtp:
  host: 127.0.0.1
  port: ${smtpPort}
  from: netspectra@example.com
  to: "soc@example.com, oncall@example.com"
  tls: starttls
  ca_file: ${join(dir, 'ca.pem')}
aggregator:
  num_workers: 1
  exact:
    writers: []
    tasks:
      - {name: per_src_ip, key_fields: [SrcIP]}
  sketch:
    writers: []
    tasks:
      - {name: hh_dst, skt_type: 0, flow_fields: [DstIP], count_thereshold: 1000, size_thereshold: 100000000, width: 4096, seed: 1}
      - {name: ss_src_dst, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP], count_thereshold: 100, width: 4096, seed: 2}
`;
}

function signatureValid(request: WebhookRequest): boolean {
  const timestamp = String(request.headers['x-netspectra-timestamp']);
  const expected = `sha256=${createHmac('sha256', HOOK_SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`;
  return request.headers['x-netspectra-signature'] === expected && Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
}

test('analyze: the SYN flood, the scanner and the packet-rate spike are reported, webhooked (signed) and mailed once each', async () => {
  const webhook = await startWebhookReceiver();
  const smtp = await startSmtpReceiver({ certificate });
  try {
    const configFile = join(dir, 'alerts.yaml');
    await writeFile(configFile, config(webhook.url, smtp.port));
    const { code, stdout, stderr } = await runCli(['analyze', capture, '--config', configFile, '--json', '--no-store'], { HOOK_SECRET });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '', 'no warnings: every notification was delivered');
    const report = JSON.parse(stdout) as ReportJson;

    // The alerts, from the ground truth of the generator
    const byRule = new Map(report.alerts.map((a) => [a.rule, a]));
    assert.deepEqual([...byRule.keys()].sort(), ['Packet_Rate_Spike', 'Potential_SYN_Flood', 'Potential_Scanner']);
    assert.equal(report.alerts.length, 3, 'one alert per rule: no other flow crossed a threshold');
    const flood = byRule.get('Potential_SYN_Flood')!;
    assert.deepEqual(flood.flow, { DstIP: truth.syn_flood.victim });
    assert.ok(flood.peakValue >= truth.syn_flood.packets, `the victim received at least the flood's ${truth.syn_flood.packets} packets (${flood.peakValue})`);
    assert.equal(flood.status, 'firing', 'cumulative counts stay over the threshold until the period ends');
    const scanner = byRule.get('Potential_Scanner')!;
    assert.deepEqual(scanner.flow, { SrcIP: truth.super_spreaders[0]!.src });
    assert.ok(Math.abs(scanner.peakValue - truth.super_spreaders[0]!.distinct_dsts) < 0.15 * truth.super_spreaders[0]!.distinct_dsts, `spread ${scanner.peakValue}`);
    const spike = byRule.get('Packet_Rate_Spike')!;
    assert.equal(spike.flow, null, 'a task-wide metric');
    assert.equal(spike.status, 'resolved', 'the rate falls back once the flood is over');
    assert.ok(spike.peakValue > 800 && spike.resolvedAt !== null && spike.resolvedAt > spike.firedAt);
    for (const alert of report.alerts) assert.ok(alert.firedAt >= report.firstPacket! && alert.firedAt <= report.lastPacket!, 'packet time, not wall-clock time');
    assert.equal(report.alerting!.notifications, 4);

    // Webhook: one signed call per notification, firing once per alert, one resolved
    assert.equal(webhook.requests.length, 4);
    assert.ok(webhook.requests.every(signatureValid), 'every webhook signature verifies');
    const bodies = webhook.requests.map((r) => JSON.parse(r.body) as WebhookBody);
    const firing = bodies.filter((b) => b.kind === 'firing').flatMap((b) => b.alerts.map((a) => a.id));
    assert.deepEqual(firing.sort(), report.alerts.map((a) => a.id).sort(), 'each alert fired exactly once');
    assert.deepEqual(
      bodies.filter((b) => b.kind === 'resolved').map((b) => b.alerts.map((a) => a.id)),
      [[spike.id]],
    );
    assert.ok(bodies.filter((b) => b.kind === 'firing').every((b) => b.analysis?.source === 'built-in'), 'firing notices carry the built-in analysis');
    const spikeBodies = bodies.filter((b) => b.rule === 'Packet_Rate_Spike').map((b) => b.kind);
    assert.deepEqual(spikeBodies, ['firing', 'resolved'], 'resolved after firing at the receiver');

    // Email: one per notification, over STARTTLS, to both recipients
    await smtp.waitFor(4);
    assert.equal(smtp.mails.length, 4);
    for (const mail of smtp.mails) {
      assert.equal(mail.secure, true);
      assert.deepEqual(mail.to, ['soc@example.com', 'oncall@example.com']);
    }
    const subjects = smtp.mails.map((m) => m.subject).sort();
    assert.deepEqual(subjects, [
      'Go2NetSpectra Alert Summary (1 Resolved): Packet_Rate_Spike',
      'Go2NetSpectra Alert Summary (1 Triggered): Packet_Rate_Spike',
      'Go2NetSpectra Alert Summary (1 Triggered): Potential_SYN_Flood',
      'Go2NetSpectra Alert Summary (1 Triggered): Potential_Scanner',
    ]);
    const floodMail = smtp.mails.find((m) => m.subject.endsWith('Potential_SYN_Flood'))!;
    assert.match(floodMail.html, new RegExp(`DstIP=${truth.syn_flood.victim.replace(/\./g, '\\.')}`));
    assert.match(floodMail.html, /Built-in Analysis/);
    assert.match(floodMail.text, /heavy_hitter_count/);

    const [hookStats, mailStats] = [report.alerting!.notifiers.find((n) => n.name.startsWith('webhook'))!, report.alerting!.notifiers.find((n) => n.name.startsWith('email'))!];
    assert.deepEqual([hookStats.delivered, hookStats.failed, mailStats.delivered, mailStats.failed], [4, 0, 4, 0]);
  } finally {
    await webhook.close();
    await smtp.close();
  }
});

test('analyze: a webhook that keeps failing is retried, reported as a warning without its secret, and the emails still go out', async () => {
  const webhook = await startWebhookReceiver(() => 503);
  const smtp = await startSmtpReceiver({ certificate });
  try {
    const configFile = join(dir, 'failing.yaml');
    await writeFile(configFile, config(webhook.url, smtp.port, 1));
    const { code, stdout, stderr } = await runCli(['analyze', capture, '--config', configFile, '--no-store', '--no-progress'], { HOOK_SECRET });
    assert.equal(code, 0, 'notification failures do not fail the analysis');
    assert.equal(webhook.requests.length, 8, 'four notifications, two attempts each');
    const warnings = stderr.trim().split('\n');
    assert.equal(warnings.length, 4, stderr);
    for (const line of warnings) assert.match(line, /^netspectra: warning: alert notification not delivered: NS_ERR_NOTIFY_WEBHOOK: webhook:http:\/\/127\.0\.0\.1:\d+ answered HTTP 503 on all 2 attempt\(s\)$/);
    assert.ok(!stderr.includes(HOOK_SECRET) && !stderr.includes('T0KEN'));
    assert.equal(smtp.mails.length, 4);
    // the text report lists the alerts and the delivery counts
    assert.match(stdout, /Alerts — 3 fired over \d+ rule evaluation\(s\)/);
    assert.match(stdout, new RegExp(`Potential_SYN_Flood\\s+→ ${truth.syn_flood.victim.replace(/\./g, '\\.')}\\s`));
    assert.match(stdout, /webhook:http:\/\/127\.0\.0\.1:\d+: 0 delivered, 4 failed/);
    assert.match(stdout, /email:127\.0\.0\.1:\d+: 4 delivered/);
  } finally {
    await webhook.close();
    await smtp.close();
  }
});

test('analyze: an AI service that cannot be reached costs a warning per firing notification; the built-in analysis goes out on time', async () => {
  const webhook = await startWebhookReceiver();
  const smtp = await startSmtpReceiver({ certificate });
  try {
    const configFile = join(dir, 'ai-down.yaml');
    await using closed = await closedPort();
    await writeFile(configFile, config(webhook.url, smtp.port, 0, `127.0.0.1:${closed.port}`));
    const started = Date.now();
    const { code, stdout, stderr } = await runCli(['analyze', capture, '--config', configFile, '--json', '--no-store'], { HOOK_SECRET });
    assert.equal(code, 0, stderr);
    assert.ok(Date.now() - started < 30_000);
    assert.equal((JSON.parse(stdout) as ReportJson).alerts.length, 3);
    const warnings = stderr.trim().split('\n');
    assert.equal(warnings.length, 3, stderr);
    for (const line of warnings) assert.match(line, /^netspectra: warning: NS_ERR_ALERT_ANALYSIS: analysis of \w+ failed \(.+\); the built-in analysis was sent instead$/);
    const bodies = webhook.requests.map((r) => JSON.parse(r.body) as WebhookBody);
    assert.deepEqual(
      bodies.filter((b) => b.kind === 'firing').map((b) => b.analysis?.source),
      ['built-in', 'built-in', 'built-in'],
    );
    assert.equal(smtp.mails.length, 4);
  } finally {
    await webhook.close();
    await smtp.close();
  }
});

test('analyze: --no-notify reports the alerts without sending anything; --no-alerts skips the rules', async () => {
  const webhook = await startWebhookReceiver();
  const smtp = await startSmtpReceiver({ certificate });
  try {
    const configFile = join(dir, 'quiet.yaml');
    await writeFile(configFile, config(webhook.url, smtp.port));
    const quiet = await runCli(['analyze', capture, '--config', configFile, '--json', '--no-store', '--no-notify'], { HOOK_SECRET });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal((JSON.parse(quiet.stdout) as ReportJson).alerts.length, 3);
    const none = await runCli(['analyze', capture, '--config', configFile, '--json', '--no-store', '--no-alerts'], { HOOK_SECRET });
    const report = JSON.parse(none.stdout) as ReportJson;
    assert.deepEqual([report.alerts, report.alerting], [[], null]);
    assert.equal(webhook.requests.length + smtp.mails.length, 0);
  } finally {
    await webhook.close();
    await smtp.close();
  }
});
