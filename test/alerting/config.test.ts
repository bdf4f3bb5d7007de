import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { NetSpectraError } from '../../src/model/errors.js';

function parse(source: string) {
  return parseConfig(source, { file: 'test.yaml', env: { HOOK_SECRET: 'from-env' } });
}

function rejects(source: string, code: string, message: string, key: string): void {
  assert.throws(
    () => parse(source),
    (error: unknown) => {
      assert.ok(error instanceof NetSpectraError, String(error));
      assert.equal(error.code, code);
      assert.equal(error.message, message);
      assert.equal(error.location.key, key);
      return true;
    },
  );
}

test('config: alerter.notifiers, smtp.tls/ca_file/timeout and ai_analysis.timeout load with their defaults filled in', () => {
  const config = parse(
    [
      'alerter:',
      '  ai_analysis: {enabled: true, timeout: 5s}',
      '  notifiers:',
      '    timeout: 20s',
      '    log: {enabled: true, stream: stdout}',
      '    webhook:',
      '      - {url: "https://hooks.example.com/a", secret: "${HOOK_SECRET}", retries: 5, timeout: 2s}',
      '      - {url: "https://hooks.slack.com/services/T/B/X", format: slack, enabled: false}',
      'smtp: {host: mail.example.com, port: 465, from: a@example.com, to: "b@example.com", tls: implicit, ca_file: /etc/ca.pem, timeout: 10s}',
      '',
    ].join('\n'),
  );
  assert.deepEqual(config.alerter.aiAnalysis, { enabled: true, serviceAddr: '127.0.0.1:50052', timeoutMs: 5000 });
  assert.deepEqual(config.alerter.notifiers, {
    timeoutMs: 20_000,
    log: { enabled: true, stream: 'stdout' },
    webhooks: [
      { enabled: true, url: 'https://hooks.example.com/a', secret: 'from-env', timeoutMs: 2000, retries: 5, format: 'json' },
      { enabled: false, url: 'https://hooks.slack.com/services/T/B/X', secret: '', timeoutMs: 5000, retries: 3, format: 'slack' },
    ],
  });
  assert.equal(config.smtp.tls, 'implicit');
  assert.equal(config.smtp.caFile, '/etc/ca.pem');
  assert.equal(config.smtp.timeoutMs, 10_000);
  // a single webhook may be given as a mapping
  const single = parse('alerter:\n  notifiers:\n    webhook: {url: "http://127.0.0.1:9000/hook"}\n');
  assert.equal(single.alerter.notifiers.webhooks.length, 1);
  assert.equal(single.alerter.notifiers.webhooks[0]!.url, 'http://127.0.0.1:9000/hook');
});

test('config: rate metrics belong to exact tasks; for and cooldown take Go durations including 0', () => {
  const config = parse('alerter:\n  rules:\n    - {name: r, task_name: per_src_ip, metric: new_flows, operator: ">", threshold: 10, for: 0, cooldown: 15m}\n');
  assert.equal(config.alerter.rules[0]!.forMs, 0);
  assert.equal(config.alerter.rules[0]!.cooldownMs, 900_000);
  rejects(
    'alerter:\n  rules:\n    - {name: r, task_name: cm_src_left, metric: bytes_per_second, operator: ">", threshold: 1}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:3:49: alerter.rules[0].metric: expected a metric of a heavy-hitter (skt_type 0) task such as "cm_src_left" (heavy_hitter_count, heavy_hitter_size), found "bytes_per_second"',
    'alerter.rules[0].metric',
  );
  rejects(
    'alerter:\n  rules:\n    - {name: r, task_name: per_src_ip, metric: total_bytes, operator: ">", threshold: 1, for: -1m}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:3:95: alerter.rules[0].for: expected a duration such as "0", "30s", "5m" or "1h", found "-1m"',
    'alerter.rules[0].for',
  );
  rejects(
    'alerter:\n  rules:\n    - {name: r, task_name: per_src_ip, metric: total_bytes, operator: ">", threshold: 1, cooldown: 1 hour}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:3:100: alerter.rules[0].cooldown: expected a duration such as "0", "30s", "5m" or "1h", found "1 hour" (unknown unit " hour")',
    'alerter.rules[0].cooldown',
  );
});

test('config: bad notifier settings are refused with the key named', () => {
  rejects(
    'alerter:\n  notifiers:\n    webhook: {url: "ftp://example.com/x"}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:3:20: alerter.notifiers.webhook.url: expected an http:// or https:// URL, found "ftp://example.com/x"',
    'alerter.notifiers.webhook.url',
  );
  rejects(
    'alerter:\n  notifiers:\n    webhook:\n      - {url: "https://a.example.com", format: teams}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:4:48: alerter.notifiers.webhook[0].format: expected one of "json", "slack", found "teams"',
    'alerter.notifiers.webhook[0].format',
  );
  rejects(
    'alerter:\n  notifiers:\n    webhook:\n      - {url: "https://a.example.com", retries: 11}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:4:49: alerter.notifiers.webhook[0].retries: expected an integer from 0 to 10, found 11',
    'alerter.notifiers.webhook[0].retries',
  );
  rejects(
    'alerter:\n  notifiers:\n    webhook:\n      - {secret: x}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:4:9: alerter.notifiers.webhook[0].url: expected a non-empty string, found nothing',
    'alerter.notifiers.webhook[0].url',
  );
  rejects(
    'alerter:\n  notifiers:\n    webhok: {url: "https://a.example.com"}\n',
    'NS_ERR_CONFIG_UNKNOWN_KEY',
    'test.yaml:3:5: unknown key alerter.notifiers.webhok; did you mean "webhook"?',
    'alerter.notifiers.webhok',
  );
  rejects(
    'alerter:\n  notifiers:\n    log: {stream: syslog}\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:3:19: alerter.notifiers.log.stream: expected one of "stdout", "stderr", found "syslog"',
    'alerter.notifiers.log.stream',
  );
  rejects('smtp:\n  tls: ssl\n', 'NS_ERR_CONFIG_INVALID_VALUE', 'test.yaml:2:8: smtp.tls: expected one of "auto", "starttls", "implicit", "none", found "ssl"', 'smtp.tls');
  rejects(
    'alerter:\n  ai_analysis:\n    timeout: 0\n',
    'NS_ERR_CONFIG_INVALID_VALUE',
    'test.yaml:3:14: alerter.ai_analysis.timeout: expected a positive duration such as "60s", "1m30s" or "720h", found 0',
    'alerter.ai_analysis.timeout',
  );
});
