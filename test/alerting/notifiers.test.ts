import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { EmailNotifier, LogNotifier, WebhookNotifier } from '../../src/alerting/notifiers/index.js';
import type { EmailNotifierOptions } from '../../src/alerting/notifiers/email-notifier.js';
import { NotificationDispatcher } from '../../src/alerting/notification-dispatcher.js';
import type { DeliveryFailure } from '../../src/alerting/notification-dispatcher.js';
import { markdownToHtml } from '../../src/alerting/markdown-html.js';
import type { Alert, AlertNotification } from '../../src/model/alert.js';
import { NetSpectraError } from '../../src/model/errors.js';
import { closedPort } from '../kit/ports.js';
import { selfSignedCertificate, startSmtpReceiver, startWebhookReceiver } from './receivers.js';
import type { WebhookRequest } from './receivers.js';

const SECRET = 's3cr3t-shared';
const AT = { seconds: 1_700_000_060, nanos: 0 };

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    id: 'Potential_SYN_Flood|203.0.113.80',
    rule: 'Potential_SYN_Flood',
    taskName: 'hh_dst',
    taskKind: 'heavy_hitter',
    metric: 'heavy_hitter_count',
    operator: '>',
    threshold: 1000,
    flowText: '203.0.113.80',
    flow: { DstIP: '203.0.113.80' },
    value: 20_000,
    status: 'firing',
    since: { seconds: 1_700_000_000, nanos: 0 },
    firedAt: AT,
    at: AT,
    flowFields: ['DstIP'],
    evidence: [{ flowText: '203.0.113.80', flow: { DstIP: '203.0.113.80' }, packets: 20_000 }],
    ...overrides,
  };
}

function notification(overrides: Partial<AlertNotification> = {}): AlertNotification {
  return { rule: 'Potential_SYN_Flood', kind: 'firing', alerts: [alert()], at: AT, analysis: { source: 'built-in', markdown: '## SYN flood\n\n- **Severity:** high' }, ...overrides };
}

/** What a receiver does: recompute the HMAC over "<timestamp>.<body>" and compare in constant time. */
function verifySignature(request: WebhookRequest, secret: string, nowSeconds = Date.now() / 1000): boolean {
  const timestamp = String(request.headers['x-netspectra-timestamp']);
  const signature = String(request.headers['x-netspectra-signature']);
  if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function webhook(url: string, overrides: Partial<ConstructorParameters<typeof WebhookNotifier>[0]> = {}): WebhookNotifier {
  return new WebhookNotifier({ url, secret: SECRET, timeoutMs: 2000, retries: 3, format: 'json', backoffMs: 50, ...overrides });
}

const never = new AbortController().signal;

test('webhook: a signed JSON body the receiver verifies, in the documented schema', async () => {
  const receiver = await startWebhookReceiver();
  try {
    await webhook(receiver.url).notify(notification(), never);
    assert.equal(receiver.requests.length, 1);
    const request = receiver.requests[0]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/hook/T0KEN');
    assert.match(String(request.headers['content-type']), /^application\/json/);
    assert.ok(verifySignature(request, SECRET), 'the signature verifies with the shared secret');
    assert.ok(!verifySignature(request, 'another secret'), 'and not with another');
    // a replay with a tampered body or an old timestamp fails
    assert.ok(!verifySignature({ ...request, body: request.body.replace('20000', '1') }, SECRET));
    assert.ok(!verifySignature(request, SECRET, Date.now() / 1000 + 3600));
    assert.match(String(request.headers['x-netspectra-delivery']), /^[0-9a-f-]{36}$/);
    const body = JSON.parse(request.body) as Record<string, unknown>;
    assert.equal(body.version, 1);
    assert.equal(body.source, 'netspectra');
    assert.equal(body.kind, 'firing');
    assert.equal(body.rule, 'Potential_SYN_Flood');
    assert.equal(body.at, '2023-11-14T22:14:20.000000Z');
    assert.equal(body.title, 'Go2NetSpectra Alert Summary (1 Triggered): Potential_SYN_Flood');
    assert.equal(body.alertCount, 1);
    assert.deepEqual(body.analysis, { source: 'built-in', model: null, markdown: '## SYN flood\n\n- **Severity:** high' });
    const [first] = body.alerts as Record<string, unknown>[];
    assert.deepEqual(first, {
      id: 'Potential_SYN_Flood|203.0.113.80',
      rule: 'Potential_SYN_Flood',
      taskName: 'hh_dst',
      taskKind: 'heavy_hitter',
      metric: 'heavy_hitter_count',
      operator: '>',
      threshold: 1000,
      flowText: '203.0.113.80',
      flow: { DstIP: '203.0.113.80' },
      flowFields: ['DstIP'],
      elementFields: null,
      value: 20000,
      status: 'firing',
      since: '2023-11-14T22:13:20.000000Z',
      firedAt: '2023-11-14T22:14:20.000000Z',
      at: '2023-11-14T22:14:20.000000Z',
      evidence: [{ flowText: '203.0.113.80', flow: { DstIP: '203.0.113.80' }, packets: 20000 }],
    });
  } finally {
    await receiver.close();
  }
});

test('webhook: 5xx answers are retried with growing backoff, with one delivery id; 500, 500, 200 succeeds', async () => {
  const receiver = await startWebhookReceiver((_, i) => (i < 2 ? 500 : 200));
  try {
    await webhook(receiver.url, { backoffMs: 100 }).notify(notification(), never);
    assert.equal(receiver.requests.length, 3);
    const [a, b, c] = receiver.requests;
    assert.equal(new Set(receiver.requests.map((r) => r.headers['x-netspectra-delivery'])).size, 1);
    for (const request of receiver.requests) assert.ok(verifySignature(request, SECRET));
    assert.ok(b!.receivedAt - a!.receivedAt >= 90, `first backoff ${b!.receivedAt - a!.receivedAt} ms`);
    assert.ok(c!.receivedAt - b!.receivedAt >= 190, `second backoff ${c!.receivedAt - b!.receivedAt} ms (doubled)`);
  } finally {
    await receiver.close();
  }
});

test('webhook: a 4xx answer is final (one request), the error names the origin only, never the path or secret', async () => {
  const receiver = await startWebhookReceiver(() => 401);
  try {
    await assert.rejects(webhook(receiver.url).notify(notification(), never), (error: unknown) => {
      assert.ok(error instanceof NetSpectraError);
      assert.equal(error.code, 'NS_ERR_NOTIFY_WEBHOOK');
      assert.match(error.message, /answered HTTP 401; not retried/);
      assert.ok(!error.message.includes('T0KEN') && !error.message.includes(SECRET), error.message);
      return true;
    });
    assert.equal(receiver.requests.length, 1);
  } finally {
    await receiver.close();
  }
});

test('webhook: every attempt failing (503, or no answer within the timeout) gives up after 1 + retries attempts', async () => {
  const failing = await startWebhookReceiver(() => 503);
  const hanging = await startWebhookReceiver(() => 'hang');
  try {
    await assert.rejects(webhook(failing.url, { retries: 2 }).notify(notification(), never), /answered HTTP 503 on all 3 attempt\(s\)/);
    assert.equal(failing.requests.length, 3);
    await assert.rejects(webhook(hanging.url, { retries: 1, timeoutMs: 200 }).notify(notification(), never), /did not answer within 200 ms on all 2 attempt\(s\)/);
    assert.equal(hanging.requests.length, 2);
    // nothing listening
    await using closed = await closedPort();
    await assert.rejects(webhook(`http://127.0.0.1:${closed.port}/x`, { retries: 0 }).notify(notification(), never), /could not be reached \(ECONNREFUSED\)/);
  } finally {
    await failing.close();
    await hanging.close();
  }
});

test('webhook: the Slack format is a Slack message with Slack-escaped text; an unsigned webhook sends no signature', async () => {
  const receiver = await startWebhookReceiver();
  try {
    const hostile = notification({ rule: '<!channel> & <script>', alerts: [alert({ rule: '<!channel> & <script>' })] });
    await webhook(receiver.url, { format: 'slack', secret: '' }).notify(hostile, never);
    const request = receiver.requests[0]!;
    assert.equal(request.headers['x-netspectra-signature'], undefined);
    const body = JSON.parse(request.body) as { text: string };
    assert.deepEqual(Object.keys(body), ['text']);
    assert.match(body.text, /Go2NetSpectra Alert Summary \(1 Triggered\): &lt;!channel&gt; &amp; &lt;script&gt;/);
    assert.ok(!body.text.includes('<!channel>') && !body.text.includes('<script>'));
    assert.match(body.text, /DstIP=203\.0\.113\.80 in hh_dst: heavy_hitter_count 20,000 &gt; 1,000/);
  } finally {
    await receiver.close();
  }
});

function email(port: number, overrides: Partial<EmailNotifierOptions> = {}): EmailNotifier {
  return new EmailNotifier({
    host: '127.0.0.1',
    port,
    username: '',
    password: '',
    from: 'netspectra@example.com',
    to: ['soc@example.com', 'oncall@example.com'],
    tls: 'none',
    timeoutMs: 5000,
    renderMarkdown: markdownToHtml,
    ...overrides,
  });
}

test('email: the original subject, an HTML table of the offending flows and a plain-text part, on a real SMTP server', async () => {
  const smtp = await startSmtpReceiver();
  const notifier = email(smtp.port);
  try {
    const taskWide = alert({
      id: 'Traffic_Spike|',
      rule: 'Traffic_Spike',
      taskName: 'per_src_ip',
      taskKind: 'exact',
      metric: 'total_bytes',
      flowText: '',
      flow: {},
      flowFields: ['SrcIP'],
      value: 2_500_000,
      threshold: 1_000_000,
      evidence: [
        { flowText: '10.0.0.1', flow: { SrcIP: '10.0.0.1' }, packets: 900, bytes: 2_000_000 },
        { flowText: '10.0.0.2', flow: { SrcIP: '10.0.0.2' }, packets: 100, bytes: 500_000 },
      ],
    });
    await notifier.notify(notification({ rule: 'Traffic_Spike', alerts: [taskWide] }), never);
    assert.equal(smtp.mails.length, 1);
    const mail = smtp.mails[0]!;
    assert.equal(mail.from, 'netspectra@example.com');
    assert.deepEqual(mail.to, ['soc@example.com', 'oncall@example.com']);
    assert.equal(mail.secure, false);
    assert.equal(mail.subject, 'Go2NetSpectra Alert Summary (1 Triggered): Traffic_Spike');
    assert.match(mail.html, /<table/);
    assert.match(mail.html, /<td[^>]*>whole task per_src_ip<\/td>/);
    assert.match(mail.html, /<td[^>]*>↳ SrcIP=10\.0\.0\.1<\/td>/);
    assert.match(mail.html, /2,000,000 bytes/);
    assert.match(mail.html, /<h2[^>]*>Built-in Analysis<\/h2>/);
    assert.match(mail.html, /<h2>SYN flood<\/h2>/, 'the analysis markdown is rendered');
    assert.match(mail.text, /task per_src_ip: total_bytes 2,500,000 > 1,000,000/);
    assert.match(mail.text, /SrcIP=10\.0\.0\.1: 900 packets, 2,000,000 bytes/);
    assert.match(mail.text.replace(/\r\n/g, '\n'), /Built-in analysis:\n\n## SYN flood/);
  } finally {
    await notifier.close();
    await smtp.close();
  }
});

test('email: every dynamic value is escaped in the HTML (rule, flow, analysis): no injected markup survives', async () => {
  const smtp = await startSmtpReceiver();
  const notifier = email(smtp.port);
  try {
    const evil = '<script>alert("x")</script>';
    const hostile = alert({
      rule: `R${evil}`,
      taskName: `t"onmouseover="alert(1)`,
      flowText: `"><img src=x onerror=alert(1)>`,
      flow: { SrcIP: `"><img src=x onerror=alert(1)>` },
      flowFields: ['SrcIP'],
    });
    await notifier.notify(
      notification({ rule: `R${evil}`, alerts: [hostile], analysis: { source: 'llm', model: `m${evil}`, markdown: `# Report\n\n${evil}\n\n<img src=x onerror=alert(2)>` } }),
      never,
    );
    const { html, subject } = smtp.mails[0]!;
    assert.ok(!/<script/i.test(html), 'no <script> element');
    assert.ok(!/<img/i.test(html), 'no <img> element');
    assert.ok(!/<[^>]*\s(onerror|onmouseover)=/i.test(html), 'no event-handler attribute inside a tag');
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
    assert.match(html, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(html, /t&quot;onmouseover=&quot;alert\(1\)/);
    assert.match(html, /AI-Powered Analysis \(m&lt;script&gt;/);
    assert.equal(subject, `Go2NetSpectra Alert Summary (1 Triggered): R${evil}`);
  } finally {
    await notifier.close();
    await smtp.close();
  }
});

test('email: STARTTLS is required and used, with a login, and the certificate is verified against smtp.ca_file', async () => {
  const certificate = await selfSignedCertificate();
  const smtp = await startSmtpReceiver({ certificate, credentials: { user: 'alerts', password: 'pw-9' } });
  try {
    const trusted = email(smtp.port, { tls: 'starttls', caPem: certificate.cert, username: 'alerts', password: 'pw-9' });
    await trusted.notify(notification(), never);
    await trusted.close();
    assert.equal(smtp.mails.length, 1);
    assert.equal(smtp.mails[0]!.secure, true, 'upgraded with STARTTLS before the message');
    assert.equal(smtp.mails[0]!.user, 'alerts');
    assert.deepEqual(smtp.logins, [{ user: 'alerts', password: 'pw-9' }]);
    // the same self-signed certificate without the CA: refused before any login is sent
    const untrusted = email(smtp.port, { tls: 'starttls', username: 'alerts', password: 'pw-9' });
    await assert.rejects(untrusted.notify(notification(), never), (error: unknown) => {
      assert.ok(error instanceof NetSpectraError);
      assert.equal(error.code, 'NS_ERR_NOTIFY_EMAIL');
      assert.match(error.message, /^email:127\.0\.0\.1:\d+: .*(certificate|self.signed)/i);
      assert.ok(!error.message.includes('pw-9'));
      return true;
    });
    await untrusted.close();
    assert.equal(smtp.logins.length, 1, 'no login over an untrusted connection');
  } finally {
    await smtp.close();
  }
});

test('email: implicit TLS (tls: implicit) speaks TLS from the first byte', async () => {
  const certificate = await selfSignedCertificate();
  const smtp = await startSmtpReceiver({ certificate, implicit: true });
  const notifier = email(smtp.port, { tls: 'implicit', caPem: certificate.cert });
  try {
    await notifier.notify(notification(), never);
    assert.equal(smtp.mails[0]!.secure, true);
  } finally {
    await notifier.close();
    await smtp.close();
  }
});

test('email: tls starttls against a server without STARTTLS fails instead of sending in clear text', async () => {
  const smtp = await startSmtpReceiver();
  const notifier = email(smtp.port, { tls: 'starttls' });
  try {
    await assert.rejects(notifier.notify(notification(), never), /NS_ERR_NOTIFY_EMAIL|STARTTLS/);
    assert.equal(smtp.mails.length, 0);
  } finally {
    await notifier.close();
    await smtp.close();
  }
});

test('log notifier: one JSON line per alert notice', async () => {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const second = alert({ id: 'Potential_SYN_Flood|198.51.100.7', flowText: '198.51.100.7', flow: { DstIP: '198.51.100.7' }, value: 5000 });
  await new LogNotifier({ stream, streamName: 'test' }).notify(notification({ kind: 'resolved', alerts: [alert({ status: 'resolved' }), second] }));
  const lines = chunks.join('').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[0], {
    time: '2023-11-14T22:14:20.000000Z',
    level: 'info',
    event: 'alert_resolved',
    rule: 'Potential_SYN_Flood',
    id: 'Potential_SYN_Flood|203.0.113.80',
    task: 'hh_dst',
    metric: 'heavy_hitter_count',
    operator: '>',
    threshold: 1000,
    value: 20000,
    flow: { DstIP: '203.0.113.80' },
    since: '2023-11-14T22:13:20.000000Z',
    firedAt: '2023-11-14T22:14:20.000000Z',
    analysis: 'built-in',
  });
  assert.equal(lines[1]!.id, 'Potential_SYN_Flood|198.51.100.7');
});

test('dispatcher: a hanging webhook does not hold up the email; it is abandoned at the timeout and counted', async () => {
  const hanging = await startWebhookReceiver(() => 'hang');
  const smtp = await startSmtpReceiver();
  const failures: DeliveryFailure[] = [];
  const dispatcher = new NotificationDispatcher({
    notifiers: [webhook(hanging.url, { timeoutMs: 60_000, retries: 0 }), email(smtp.port)],
    timeoutMs: 1500,
    onFailure: (failure) => failures.push(failure),
  });
  const started = Date.now();
  try {
    dispatcher.dispatch(Promise.resolve(notification()));
    dispatcher.dispatch(Promise.resolve(notification({ kind: 'resolved' })));
    await smtp.waitFor(2, 5000);
    const emailDone = Date.now() - started;
    assert.ok(emailDone < 1400, `both emails within ${emailDone} ms, while the webhook still hangs`);
    assert.equal(hanging.requests.length, 1, 'the second webhook delivery waits behind the first (order per receiver)');
    await dispatcher.close();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1500 * 2 - 100 && elapsed < 8000, `abandoned after the timeout each: ${elapsed} ms`);
    assert.deepEqual(
      failures.map((f) => f.error.code),
      ['NS_ERR_NOTIFY_TIMEOUT', 'NS_ERR_NOTIFY_TIMEOUT'],
    );
    const [hook, mail] = dispatcher.stats();
    assert.deepEqual(hook, { name: `webhook:${new URL(hanging.url).origin}`, delivered: 0, failed: 2, dropped: 0 });
    assert.deepEqual(mail, { name: `email:127.0.0.1:${smtp.port}`, delivered: 2, failed: 0, dropped: 0 });
    // the notification order at the receiver: firing, then resolved
    assert.deepEqual(smtp.mails.map((m) => m.subject.replace(/\).*/, ')')), ['Go2NetSpectra Alert Summary (1 Triggered)', 'Go2NetSpectra Alert Summary (1 Resolved)']);
  } finally {
    await hanging.close();
    await smtp.close();
  }
});

test('email: a rule name with CR/LF cannot add headers or recipients', async () => {
  const smtp = await startSmtpReceiver();
  const notifier = email(smtp.port, { to: ['soc@example.com'] });
  try {
    const rule = 'Spike\r\nBcc: attacker@example.com\r\nX-Injected: 1';
    await notifier.notify(notification({ rule, alerts: [alert({ rule })] }), never);
    const mail = smtp.mails[0]!;
    assert.deepEqual(mail.to, ['soc@example.com']);
    assert.equal(mail.subject, 'Go2NetSpectra Alert Summary (1 Triggered): Spike Bcc: attacker@example.com X-Injected: 1');
    const head = mail.raw.split(/\r?\n\r?\n/)[0]!;
    assert.ok(!/^X-Injected:/im.test(head) && !/^Bcc:/im.test(head), head);
  } finally {
    await notifier.close();
    await smtp.close();
  }
});

test('dispatcher: a notifier that falls too far behind drops new notifications and counts them', async () => {
  const hanging = await startWebhookReceiver(() => 'hang');
  const failures: DeliveryFailure[] = [];
  const dispatcher = new NotificationDispatcher({
    notifiers: [webhook(hanging.url, { timeoutMs: 60_000, retries: 0 })],
    timeoutMs: 300,
    maxQueued: 2,
    onFailure: (failure) => failures.push(failure),
  });
  try {
    for (let i = 0; i < 4; i++) dispatcher.dispatch(Promise.resolve(notification()));
    await dispatcher.close();
    assert.deepEqual(
      failures.map((f) => f.error.code).sort(),
      ['NS_ERR_NOTIFY_BACKLOG', 'NS_ERR_NOTIFY_BACKLOG', 'NS_ERR_NOTIFY_TIMEOUT', 'NS_ERR_NOTIFY_TIMEOUT'],
    );
    assert.deepEqual(dispatcher.stats()[0], { name: `webhook:${new URL(hanging.url).origin}`, delivered: 0, failed: 2, dropped: 2 });
    assert.equal(hanging.requests.length, 2);
  } finally {
    await hanging.close();
  }
});
