import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Alerter, alertRulesOf } from '../../src/alerting/alerter.js';
import { BuiltinAnalyst } from '../../src/alerting/builtin-analyst.js';
import { WebhookNotifier } from '../../src/alerting/notifiers/index.js';
import type { Alert, AlertAnalysis, AlertAnalyst, AlertRule } from '../../src/model/alert.js';
import type { NetSpectraError } from '../../src/model/errors.js';
import type { GroupSnapshot, SketchEntry } from '../../src/model/snapshot.js';
import { parseConfig } from '../../src/config/load.js';
import { startWebhookReceiver } from './receivers.js';
import type { WebhookBody } from '../../src/alerting/notification-format.js';

const T0 = 1_700_000_000;
const SECRET = 'k';

function scanRule(overrides: Partial<AlertRule> = {}): AlertRule {
  return { name: 'Scanner', taskName: 'ss', metric: 'super_spreader_spread', operator: '>', threshold: 100, forSeconds: 0, cooldownSeconds: 300, ...overrides };
}

function spreaders(at: number, list: [string, number][]): GroupSnapshot {
  const entries: SketchEntry[] = list.map(([ip, value]) => ({ flow: { SrcIP: ip }, flowText: ip, value }));
  return {
    group: 'sketch',
    time: { seconds: T0 + at, nanos: 0 },
    periodId: T0,
    reason: 'interval',
    tasks: [{ kind: 'super_spreader', name: 'ss', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: entries }],
  };
}

function verified(body: string, headers: Record<string, unknown>): boolean {
  const ts = String(headers['x-netspectra-timestamp']);
  return headers['x-netspectra-signature'] === `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
}

/** An analyst that answers after `delayMs` (or never, or with an error): the AI service's behaviours, over the same port. */
class ScriptedAnalyst implements AlertAnalyst {
  calls = 0;
  aborted = 0;
  constructor(private readonly behaviour: { delayMs: number; fail?: boolean } | 'never') {}
  async analyze(alerts: readonly Alert[], signal: AbortSignal): Promise<AlertAnalysis> {
    this.calls++;
    signal.addEventListener('abort', () => this.aborted++);
    if (this.behaviour === 'never') return new Promise<AlertAnalysis>(() => undefined);
    const { delayMs, fail } = this.behaviour;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (fail === true) throw new Error('model overloaded');
    return { source: 'llm', model: 'test-model', markdown: `LLM says: ${alerts.map((a) => a.flowText).join(', ')}` };
  }
}

test('alerter: fires once per flow, groups one rule’s flows into one notification, repeats after the cooldown, resolves', async () => {
  const receiver = await startWebhookReceiver();
  const alerter = new Alerter({
    rules: [scanRule()],
    checkIntervalMs: 60_000,
    notifiers: [new WebhookNotifier({ url: receiver.url, secret: SECRET, timeoutMs: 2000, retries: 0, format: 'json' })],
    fallbackAnalyst: new BuiltinAnalyst(),
  });
  await alerter.start();
  await alerter.write(spreaders(0, [['100.64.0.1', 500], ['100.64.0.2', 300], ['10.0.0.9', 50]]));
  await alerter.write(spreaders(60, [['100.64.0.1', 600], ['100.64.0.2', 310]])); // still active: quiet
  await alerter.write(spreaders(120, [['100.64.0.1', 650]])); // .2 resolved
  await alerter.write(spreaders(300, [['100.64.0.1', 700]])); // cooldown 300 s since 0: repeat
  await alerter.write(spreaders(360, [])); // .1 resolved
  await alerter.stop();
  await receiver.close();
  const bodies = receiver.requests.map((r) => JSON.parse(r.body) as WebhookBody);
  assert.ok(receiver.requests.every((r) => verified(r.body, r.headers)));
  assert.deepEqual(
    bodies.map((b) => [b.kind, b.alerts.map((a) => a.flowText)]),
    [
      ['firing', ['100.64.0.1', '100.64.0.2']],
      ['resolved', ['100.64.0.2']],
      ['repeat', ['100.64.0.1']],
      ['resolved', ['100.64.0.1']],
    ],
  );
  assert.equal(bodies[0]!.analysis?.source, 'built-in', 'firing notifications carry the built-in analysis');
  assert.match(bodies[0]!.analysis?.markdown ?? '', /built-in/i);
  assert.equal(bodies[1]!.analysis, null, 'resolved notices are not analysed');
  assert.equal(bodies[3]!.alerts[0]!.value, 700, 'the resolved notice keeps the last value seen');
  const episodes = alerter.episodes();
  assert.deepEqual(
    episodes.map((e) => [e.alert.flowText, e.peakValue, e.notices, e.resolvedAt?.seconds]),
    [
      ['100.64.0.1', 700, 3, T0 + 360],
      ['100.64.0.2', 310, 2, T0 + 120],
    ],
  );
  assert.deepEqual(alerter.stats().notifiers[0], { name: `webhook:${new URL(receiver.url).origin}`, delivered: 4, failed: 0, dropped: 0 });
});

test('alerter: the LLM analysis is used when it answers within the deadline', async () => {
  const receiver = await startWebhookReceiver();
  const analyst = new ScriptedAnalyst({ delayMs: 50 });
  const alerter = new Alerter({
    rules: [scanRule()],
    checkIntervalMs: 60_000,
    notifiers: [new WebhookNotifier({ url: receiver.url, secret: SECRET, timeoutMs: 2000, retries: 0, format: 'json' })],
    analyst,
    fallbackAnalyst: new BuiltinAnalyst(),
    analysisTimeoutMs: 2000,
  });
  await alerter.write(spreaders(0, [['100.64.0.1', 500]]));
  await alerter.stop();
  await receiver.close();
  const body = JSON.parse(receiver.requests[0]!.body) as WebhookBody;
  assert.deepEqual(body.analysis, { source: 'llm', model: 'test-model', markdown: 'LLM says: 100.64.0.1' });
  assert.equal(analyst.calls, 1);
});

test('alerter: a hanging or failing LLM delays the notification by the deadline at most; the built-in analysis goes out', async () => {
  for (const behaviour of ['never', { delayMs: 10, fail: true }] as const) {
    const receiver = await startWebhookReceiver();
    const analyst = new ScriptedAnalyst(behaviour);
    const failures: NetSpectraError[] = [];
    const alerter = new Alerter({
      rules: [scanRule()],
      checkIntervalMs: 60_000,
      notifiers: [new WebhookNotifier({ url: receiver.url, secret: SECRET, timeoutMs: 2000, retries: 0, format: 'json' })],
      analyst,
      fallbackAnalyst: new BuiltinAnalyst(),
      analysisTimeoutMs: 300,
      onAnalysisFailure: (error) => failures.push(error),
    });
    const started = Date.now();
    // evaluation itself never waits for the analysis
    await alerter.write(spreaders(0, [['100.64.0.1', 500]]));
    assert.ok(Date.now() - started < 100, 'write() returns at once');
    await receiver.waitFor(1, 3000);
    const waited = receiver.requests[0]!.receivedAt - started;
    assert.ok(waited < 1000, `delivered after ${waited} ms`);
    if (behaviour === 'never') assert.ok(waited >= 280, `waited for the deadline (${waited} ms)`);
    await alerter.stop();
    await receiver.close();
    const body = JSON.parse(receiver.requests[0]!.body) as WebhookBody;
    assert.equal(body.analysis?.source, 'built-in');
    assert.deepEqual(failures.map((f) => f.code), ['NS_ERR_ALERT_ANALYSIS']);
    assert.match(failures[0]!.message, behaviour === 'never' ? /no answer within 300 ms/ : /model overloaded/);
    if (behaviour === 'never') assert.equal(analyst.aborted, 1, 'the late analyst was told to stop');
    assert.equal(alerter.stats().analysisFailures, 1);
  }
});

test('alerter: notify false evaluates and records but delivers nothing (a follower engine)', async () => {
  const receiver = await startWebhookReceiver();
  const seen: string[] = [];
  const alerter = new Alerter({
    rules: [scanRule()],
    checkIntervalMs: 60_000,
    notifiers: [new WebhookNotifier({ url: receiver.url, secret: SECRET, timeoutMs: 2000, retries: 0, format: 'json' })],
    notify: false,
    onNotices: (notices) => seen.push(...notices.map((n) => `${n.kind}:${n.alert.id}`)),
  });
  await alerter.write(spreaders(0, [['100.64.0.1', 500]]));
  await alerter.write(spreaders(60, []));
  await alerter.stop();
  await receiver.close();
  assert.equal(receiver.requests.length, 0);
  assert.deepEqual(seen, ['firing:Scanner|100.64.0.1', 'resolved:Scanner|100.64.0.1']);
  assert.equal(alerter.episodes().length, 1);
});

test('alerter: shouldDeliver gates each notification (leader-only delivery) without changing the alert history', async () => {
  const receiver = await startWebhookReceiver();
  let leader = false;
  const alerter = new Alerter({
    rules: [scanRule()],
    checkIntervalMs: 60_000,
    notifiers: [new WebhookNotifier({ url: receiver.url, secret: SECRET, timeoutMs: 2000, retries: 0, format: 'json' })],
    shouldDeliver: () => leader,
  });
  await alerter.write(spreaders(0, [['100.64.0.1', 500]])); // a follower: recorded, not sent
  leader = true;
  await alerter.write(spreaders(60, [])); // now the leader: the resolved notice goes out
  await alerter.stop();
  await receiver.close();
  assert.deepEqual(
    receiver.requests.map((r) => (JSON.parse(r.body) as WebhookBody).kind),
    ['resolved'],
  );
  assert.equal(alerter.episodes()[0]!.notices, 2);
});

test('alerter: rules from the config keep for and cooldown (Go durations, 0 allowed)', () => {
  const config = parseConfig(
    [
      'alerter:',
      '  rules:',
      '    - {name: a, task_name: per_src_ip, metric: bytes_per_second, operator: ">", threshold: 1e6, for: 90s, cooldown: 0}',
      '    - {name: b, task_name: ss_src_dst, metric: super_spreader_spread, operator: ">=", threshold: 100}',
      '',
    ].join('\n'),
    { file: 'test.yaml', env: {} },
  );
  assert.deepEqual(alertRulesOf(config.alerter.rules), [
    { name: 'a', taskName: 'per_src_ip', metric: 'bytes_per_second', operator: '>', threshold: 1e6, forSeconds: 90, cooldownSeconds: 0 },
    { name: 'b', taskName: 'ss_src_dst', metric: 'super_spreader_spread', operator: '>=', threshold: 100, forSeconds: 0, cooldownSeconds: 3600 },
  ]);
});
