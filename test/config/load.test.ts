import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG, loadConfig, parseConfig } from '../../src/config/index.js';
import type { NetSpectraConfig } from '../../src/config/index.js';

// Compiled tests run from dist/test/config/; fixtures stay in the source tree.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (name: string): string => join(repoRoot, 'test/config/fixtures', name);

function withTempDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-config-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertDeeplyFrozen(value: unknown, path = 'config'): void {
  if (typeof value !== 'object' || value === null) return;
  assert.ok(Object.isFrozen(value), `${path} is not frozen`);
  for (const [key, child] of Object.entries(value)) assertDeeplyFrozen(child, `${path}.${key}`);
}

test("the original's latest config.yaml loads field by field", () => {
  const config = loadConfig({ file: fixture('original-config.yaml'), envFile: fixture('original.env'), env: {} });

  assert.deepEqual(config.api, { rpcListenAddr: '0.0.0.0:50051', httpListenAddr: '0.0.0.0:8080', rpcTlsCertFile: '', rpcTlsKeyFile: '', authTokens: [], corsOrigins: [] });
  assert.deepEqual(config.ai, {
    provider: 'openai',
    apiKey: 'test-ai-key',
    model: 'gemini-2.5-flash',
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai/',
    rpcListenAddr: '0.0.0.0:50052',
    // Keys NetSpectra added, at their defaults (the original's file has none of them).
    timeoutMs: 60_000,
    maxRetries: 2,
    authToken: '',
    maxSessions: 16,
    maxBufferedChunks: 1024,
    sessionTtlMs: 600_000,
    sessionIdleTimeoutMs: 120_000,
  });
  assert.deepEqual(config.probe, {
    natsUrl: 'nats://nats_domain:4222',
    subject: 'gons.packets.raw',
    format: 'batch',
    partitions: 16,
    jetstream: false,
    stream: 'NETSPECTRA_PACKETS',
    streamMaxAgeMs: 86_400_000,
    streamMaxBytes: 10 * 1024 ** 3,
    persistence: { enabled: false, path: 'test/publish', numWorkers: 4, channelBufferSize: 10000, encoding: 'pcap' },
  });
  assert.equal(config.alerter.enabled, true);
  assert.equal(config.alerter.checkIntervalMs, 600_000);
  assert.deepEqual(config.alerter.aiAnalysis, { enabled: true, serviceAddr: 'ai_domain:50052', timeoutMs: 20_000 });
  // `for` and `cooldown` are new: the original's rules get the defaults (fire at once, repeat hourly)
  assert.deepEqual(config.alerter.rules, [
    { name: 'Potential_DDoS_Source_Detected', taskName: 'ss_src_dst', metric: 'super_spreader_spread', operator: '>', threshold: 5000, forMs: 0, cooldownMs: 3_600_000 },
    { name: 'Potential_Nmap_Scan_Detected', taskName: 'cm_src_left', metric: 'heavy_hitter_count', operator: '>', threshold: 10, forMs: 0, cooldownMs: 3_600_000 },
    { name: 'Total_Traffic_Spike', taskName: 'per_five_tuple', metric: 'total_bytes', operator: '>', threshold: 1_000_000, forMs: 0, cooldownMs: 3_600_000 },
  ]);
  assert.deepEqual(config.alerter.notifiers, { timeoutMs: 60_000, log: { enabled: false, stream: 'stderr' }, webhooks: [] });
  // `port: ${SMTP_PORT}` is unquoted, so the substituted text is a number, as in the original.
  assert.deepEqual(config.smtp, {
    host: 'smtp.example.com',
    port: 587,
    username: 'user@example.com',
    password: 'test-smtp-password',
    from: 'user@example.com',
    to: ['recipient@example.com', 'second@example.com'],
    tls: 'auto',
    caFile: '',
    timeoutMs: 30_000,
  });

  const aggregator = config.aggregator;
  assert.deepEqual(aggregator.types, ['sketch', 'exact']);
  assert.equal(aggregator.periodMs, 720 * 3_600_000);
  assert.equal(aggregator.numWorkers, 16);
  assert.equal(aggregator.sizeOfPacketChannel, 10000);
  const clickhouse = { host: 'clickhouse_domain', port: 19000, database: 'default', username: 'default', password: '', cloud: false, spoolPath: 'clickhouse-spool', spoolMaxBytes: 1024 ** 3 };
  assert.deepEqual(aggregator.sketch.writers, [
    { type: 'text', enabled: false, snapshotIntervalMs: 60_000, rootPath: 'test/res' },
    { type: 'clickhouse', enabled: true, snapshotIntervalMs: 60_000, clickhouse },
  ]);
  assert.deepEqual(aggregator.exact.writers, [
    { type: 'gob', enabled: false, snapshotIntervalMs: 3_600_000, rootPath: 'test/res' },
    { type: 'clickhouse', enabled: true, snapshotIntervalMs: 60_000, clickhouse },
  ]);
  assert.deepEqual(aggregator.sketch.tasks, [
    {
      name: 'ss_src_dst',
      sktType: 1,
      flowFields: ['SrcIP'],
      elementFields: ['DstIP'],
      width: 32768,
      depth: 2,
      sizeThreshold: 0,
      countThreshold: 1,
      m: 128,
      size: 5,
      base: 0.5,
      b: 1.08,
      seed: undefined,
    },
    {
      name: 'cm_src_left',
      sktType: 0,
      flowFields: ['SrcIP'],
      elementFields: ['DstIP', 'SrcPort', 'DstPort', 'Protocol'],
      width: 32768,
      depth: 2,
      sizeThreshold: 4_096_000,
      countThreshold: 4096,
      m: 128,
      size: 5,
      base: 0.5,
      b: 1.08,
      seed: undefined,
    },
  ]);
  assert.deepEqual(aggregator.exact.tasks, [
    { name: 'per_five_tuple', keyFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], numShards: 128 },
  ]);
  assertDeeplyFrozen(config);
});

test('configs/config.yaml loads with an empty environment and matches the built-in defaults', () => {
  const config = loadConfig({ file: join(repoRoot, 'configs/config.yaml'), env: {}, envFile: fixture('empty.env') });
  assertDeeplyFrozen(config);
  // The example adds disabled ClickHouse and text writers; everything else is the built-in config.
  const enabledOnly: NetSpectraConfig = structuredClone(config);
  enabledOnly.aggregator.exact.writers = enabledOnly.aggregator.exact.writers.filter((w) => w.enabled);
  enabledOnly.aggregator.sketch.writers = enabledOnly.aggregator.sketch.writers.filter((w) => w.enabled);
  assert.deepEqual(enabledOnly, DEFAULT_CONFIG);
  assert.deepEqual(
    config.aggregator.exact.writers.map((w) => [w.type, w.enabled]),
    [
      ['duckdb', true],
      ['clickhouse', false],
      ['text', false],
    ],
  );
  assert.equal(config.aggregator.sketch.writers[1]?.clickhouse?.password, '');
});

test('the built-in configuration is used without a file', () => {
  const config = loadConfig();
  assert.equal(config, DEFAULT_CONFIG);
  assertDeeplyFrozen(config);
  assert.deepEqual(config.aggregator.types, ['exact', 'sketch']);
  assert.equal(config.aggregator.numWorkers, availableParallelism());
  assert.equal(config.aggregator.periodMs, 720 * 3_600_000);
  assert.deepEqual(
    config.aggregator.exact.tasks.map((t) => [t.name, t.keyFields]),
    [
      ['per_five_tuple', ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']],
      ['per_src_ip', ['SrcIP']],
    ],
  );
  const [ss, cm] = config.aggregator.sketch.tasks;
  assert.deepEqual([ss?.name, ss?.sktType, ss?.flowFields, ss?.elementFields], ['ss_src_dst', 1, ['SrcIP'], ['DstIP']]);
  assert.deepEqual([cm?.name, cm?.sktType, cm?.flowFields, cm?.width, cm?.depth], ['cm_src_left', 0, ['SrcIP'], 8192, 2]);
  for (const group of [config.aggregator.exact, config.aggregator.sketch]) {
    assert.deepEqual(group.writers, [{ type: 'duckdb', enabled: true, snapshotIntervalMs: 60_000, path: 'netspectra.duckdb' }]);
  }
  assert.equal(config.probe.subject, 'gons.packets.raw');
  assert.equal(config.api.rpcListenAddr, '127.0.0.1:50051');
  assert.equal(config.api.httpListenAddr, '127.0.0.1:8080');
  assert.equal(config.ai.rpcListenAddr, '127.0.0.1:50052');
  // No secrets by default.
  assert.equal(config.ai.apiKey, '');
  assert.equal(config.smtp.password, '');
});

test('an empty file gives the defaults, except that rules must be written out', () => {
  const config = parseConfig('# nothing here\n', { file: 'empty.yaml', env: {} });
  const expected: NetSpectraConfig = structuredClone(DEFAULT_CONFIG);
  expected.alerter.rules = [];
  assert.deepEqual(config, expected);
});

test('missing keys take their per-field defaults', () => {
  const config = parseConfig(
    [
      'aggregator:',
      '  sketch:',
      '    writers:',
      '      - type: clickhouse',
      '      - type: gob',
      '    tasks:',
      '      - name: hh',
      '        skt_type: 0',
      '        flow_fields: [DstIP]',
      '        seed: 7',
      '  exact:',
      '    tasks:',
      '      - name: by_port',
      '        key_fields: [DstPort, SrcPort]',
    ].join('\n'),
    { env: {} },
  );
  assert.deepEqual(config.aggregator.sketch.writers, [
    {
      type: 'clickhouse',
      enabled: true,
      snapshotIntervalMs: 60_000,
      clickhouse: { host: 'localhost', port: 9000, database: 'default', username: 'default', password: '', cloud: false, spoolPath: 'clickhouse-spool', spoolMaxBytes: 1024 ** 3 },
    },
    { type: 'gob', enabled: true, snapshotIntervalMs: 60_000, rootPath: 'snapshots' },
  ]);
  assert.deepEqual(config.aggregator.sketch.tasks, [
    {
      name: 'hh',
      sktType: 0,
      flowFields: ['DstIP'],
      elementFields: [],
      width: 32768,
      depth: 2,
      sizeThreshold: 0,
      countThreshold: 0,
      m: 128,
      size: 5,
      base: 0.5,
      b: 1.08,
      seed: 7,
    },
  ]);
  // Fields keep the order written; the engine canonicalises.
  assert.deepEqual(config.aggregator.exact.tasks, [{ name: 'by_port', keyFields: ['DstPort', 'SrcPort'], numShards: 64 }]);
  // Lists left out keep their built-in value.
  assert.deepEqual(config.aggregator.exact.writers, DEFAULT_CONFIG.aggregator.exact.writers);
});

test("the original's older forms are accepted: aggregator.type and grpc_listen_addr", () => {
  const config = parseConfig(
    'api:\n  grpc_listen_addr: ":9090"\nai:\n  grpc_listen_addr: ":9091"\naggregator:\n  type: "exact"\n',
    { env: {} },
  );
  assert.deepEqual(config.aggregator.types, ['exact']);
  assert.equal(config.api.rpcListenAddr, ':9090');
  assert.equal(config.ai.rpcListenAddr, ':9091');
});

test('${VAR} and ${VAR:-default} are substituted; numbers stay numbers only when unquoted', () => {
  const source = [
    'smtp:',
    '  host: "${SMTP_HOST:-mail.example.com}"',
    '  port: ${SMTP_PORT}',
    '  password: ${SMTP_PASSWORD}',
    '  username: "${SMTP_USER:-fallback}"',
    '  from: "alerts+${SMTP_TAG}@example.com"',
    '  to: "a@example.com,${MORE_TO:-b@example.com}"',
    'aggregator:',
    '  exact:',
    '    writers:',
    '      - type: clickhouse',
    '        enabled: ${CH_ENABLED}',
    '        clickhouse:',
    '          port: "${CH_PORT}"',
    '          password: "$${NOT_A_VAR}"',
  ].join('\n');
  const config = parseConfig(source, {
    env: { SMTP_PORT: '2525', SMTP_PASSWORD: '12345', SMTP_USER: '', SMTP_TAG: 'ns', CH_ENABLED: 'false', CH_PORT: '9440' },
  });
  assert.equal(config.smtp.host, 'mail.example.com');
  assert.equal(config.smtp.port, 2525);
  // Unquoted digits are a number to YAML, but a password is a string.
  assert.equal(config.smtp.password, '12345');
  // `:-` also replaces an empty value, as in a shell.
  assert.equal(config.smtp.username, 'fallback');
  assert.equal(config.smtp.from, 'alerts+ns@example.com');
  assert.deepEqual(config.smtp.to, ['a@example.com', 'b@example.com']);
  const writer = config.aggregator.exact.writers[0];
  assert.equal(writer?.enabled, false);
  assert.equal(writer?.clickhouse?.port, 9440);
  assert.equal(writer?.clickhouse?.password, '${NOT_A_VAR}');
});

test('.env beside the config fills in variables, and real environment variables win', () => {
  withTempDir((dir) => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'ai:\n  api_key: "${AI_API_KEY}"\n  model: "${AI_MODEL}"\n# ${IN_A_COMMENT} is not substituted\n');
    writeFileSync(join(dir, '.env'), '# comment\nAI_API_KEY=from-dotenv\nAI_MODEL="quoted model"\n');
    assert.equal(loadConfig({ file, env: {} }).ai.apiKey, 'from-dotenv');
    assert.equal(loadConfig({ file, env: {} }).ai.model, 'quoted model');
    assert.equal(loadConfig({ file, env: { AI_API_KEY: 'from-env' } }).ai.apiKey, 'from-env');
    // An explicit envFile replaces the one beside the config.
    const other = join(dir, 'other.env');
    writeFileSync(other, 'AI_API_KEY=from-other\nAI_MODEL=m\n');
    assert.equal(loadConfig({ file, env: {}, envFile: other }).ai.apiKey, 'from-other');
  });
});

test('without .env, a config with no variables loads from the process environment', () => {
  withTempDir((dir) => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'probe:\n  subject: "custom.subject"\n');
    assert.equal(loadConfig({ file }).probe.subject, 'custom.subject');
  });
});

test('the result is deeply frozen', () => {
  const config = parseConfig('aggregator:\n  types: [exact]\n', { env: {} });
  assertDeeplyFrozen(config);
  assert.throws(() => {
    (config.aggregator.types as string[]).push('sketch');
  }, TypeError);
  assert.throws(() => {
    (config.api as { rpcListenAddr: string }).rpcListenAddr = 'x';
  }, TypeError);
});

test('period is checked only against enabled writers of groups that run', () => {
  const writers = '    writers:\n      - {type: duckdb, snapshot_interval: 2h}\n';
  // A disabled slow writer does not constrain the period.
  const disabled = parseConfig(`aggregator:\n  period: 1h\n  exact:\n    writers:\n      - {type: duckdb, enabled: false, snapshot_interval: 2h}\n  sketch:\n    writers: []\n`, { env: {} });
  assert.equal(disabled.aggregator.periodMs, 3_600_000);
  // Nor does a writer of a group left out of types.
  const idle = parseConfig(`aggregator:\n  types: [sketch]\n  period: 1h\n  sketch:\n    writers: []\n  exact:\n${writers}`, { env: {} });
  assert.deepEqual(idle.aggregator.types, ['sketch']);
  // Equal is fine.
  const equal = parseConfig('aggregator:\n  period: 60s\n', { env: {} });
  assert.equal(equal.aggregator.periodMs, 60_000);
});

test('probe.format and probe.partitions: read, and refused with the key named when wrong', () => {
  const good = parseConfig('probe:\n  format: packet-info\n  partitions: 64\n', { env: {} });
  assert.equal(good.probe.format, 'packet-info');
  assert.equal(good.probe.partitions, 64);
  const refused = (yaml: string, key: string): void =>
    assert.throws(() => parseConfig(yaml, { env: {} }), (error: Error & { code?: string }) => error.code === 'NS_ERR_CONFIG_INVALID_VALUE' && error.message.includes(key));
  refused('probe:\n  format: protobuf\n', 'probe.format');
  refused('probe:\n  partitions: 300\n', 'probe.partitions');
});

test('probe.jetstream, stream, stream_max_age and stream_max_bytes: read, and refused with the key named when wrong', () => {
  const good = parseConfig('probe:\n  jetstream: true\n  stream: PKTS_1\n  stream_max_age: 2h\n  stream_max_bytes: 1048576\n', { env: {} });
  assert.equal(good.probe.jetstream, true);
  assert.equal(good.probe.stream, 'PKTS_1');
  assert.equal(good.probe.streamMaxAgeMs, 7_200_000);
  assert.equal(good.probe.streamMaxBytes, 1_048_576);
  const refused = (yaml: string, key: string): void =>
    assert.throws(() => parseConfig(yaml, { env: {} }), (error: Error & { code?: string }) => error.code === 'NS_ERR_CONFIG_INVALID_VALUE' && error.message.includes(key));
  refused('probe:\n  jetstream: maybe\n', 'probe.jetstream');
  refused('probe:\n  stream: "a.b"\n', 'probe.stream');
  refused('probe:\n  stream_max_age: soon\n', 'probe.stream_max_age');
  refused('probe:\n  stream_max_bytes: 1000\n', 'probe.stream_max_bytes');
});
