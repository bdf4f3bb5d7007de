import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { NetSpectraError } from '../../src/model/errors.js';
import type { ErrorCode } from '../../src/model/errors.js';

/** Golden error messages: the text is the user interface, so it is asserted exactly. */
function assertConfigError(run: () => unknown, code: ErrorCode, message: string, key?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof NetSpectraError, `not a NetSpectraError: ${String(error)}`);
    assert.equal(error.message, message);
    assert.equal(error.code, code);
    if (key !== undefined) assert.equal(error.location.key, key);
    return true;
  });
}

const sketchTask = (extra: string[]): string =>
  ['aggregator:', '  sketch:', '    tasks:', '      - name: a', ...extra.map((line) => `        ${line}`)].join('\n');
const heavyHitter = (extra: string[]): string => sketchTask(['skt_type: 0', 'flow_fields: [SrcIP]', ...extra]);
const superSpread = (extra: string[]): string => sketchTask(['skt_type: 1', 'flow_fields: [SrcIP]', 'element_fields: [DstIP]', ...extra]);
const exactTask = (extra: string[]): string => ['aggregator:', '  exact:', '    tasks:', '      - name: a', ...extra.map((line) => `        ${line}`)].join('\n');
const rule = (fields: string): string => `alerter:\n  rules:\n    - {${fields}}\n`;

interface Case {
  title: string;
  source: string;
  code: ErrorCode;
  message: string;
  key?: string;
}

const UNKNOWN: ErrorCode = 'NS_ERR_CONFIG_UNKNOWN_KEY';
const INVALID: ErrorCode = 'NS_ERR_CONFIG_INVALID_VALUE';

const cases: Case[] = [
  // Unknown keys, at several depths, with and without a suggestion
  {
    title: 'unknown top-level key with a suggestion',
    source: 'aggregater: {}\n',
    code: UNKNOWN,
    message: 'test.yaml:1:1: unknown key aggregater; did you mean "aggregator"?',
    key: 'aggregater',
  },
  {
    title: 'unknown top-level key without a close match lists the known keys',
    source: 'dashboard: {}\n',
    code: UNKNOWN,
    message: 'test.yaml:1:1: unknown key dashboard; expected one of: api, ai, probe, alerter, smtp, aggregator',
  },
  {
    title: 'unknown key in the second sketch task',
    source: [
      'aggregator:',
      '  sketch:',
      '    tasks:',
      '      - {name: a, skt_type: 0, flow_fields: [SrcIP]}',
      '      - name: b',
      '        skt_type: 0',
      '        flow_fields: [SrcIP]',
      '        widht: 10',
    ].join('\n'),
    code: UNKNOWN,
    message: 'test.yaml:8:9: unknown key aggregator.sketch.tasks[1].widht; did you mean "width"?',
    key: 'aggregator.sketch.tasks[1].widht',
  },
  {
    title: 'unknown key inside a writer block points to the renamed key',
    source: 'aggregator:\n  exact:\n    writers:\n      - type: clickhouse\n        clickhouse:\n          user: x\n',
    code: UNKNOWN,
    message: 'test.yaml:6:11: unknown key aggregator.exact.writers[0].clickhouse.user; did you mean "username"?',
  },
  {
    title: "a corrected spelling points back to the original's",
    source: heavyHitter(['size_threshold: 5']),
    code: UNKNOWN,
    message: 'test.yaml:7:9: unknown key aggregator.sketch.tasks[0].size_threshold; did you mean "size_thereshold" (spelled as in the original)?',
  },
  {
    title: "the original example file's `key` points to key_fields",
    source: exactTask(['key: [SrcIP]']),
    code: UNKNOWN,
    message: 'test.yaml:5:9: unknown key aggregator.exact.tasks[0].key; did you mean "key_fields"?',
  },
  {
    title: 'unknown key in a nested section',
    source: 'probe:\n  persistence:\n    encodng: pcap\n',
    code: UNKNOWN,
    message: 'test.yaml:3:5: unknown key probe.persistence.encodng; did you mean "encoding"?',
  },
  // YAML
  {
    title: 'bad YAML names the line',
    source: 'api:\n  rpc_listen_addr: ":1"\n aggregator: [\n',
    code: 'NS_ERR_CONFIG_PARSE',
    message: 'test.yaml:3:1: invalid YAML: All mapping items must start at the same column',
  },
  {
    title: 'a repeated key is a YAML error',
    source: 'api:\n  rpc_listen_addr: ":1"\n  rpc_listen_addr: ":2"\n',
    code: 'NS_ERR_CONFIG_PARSE',
    message: 'test.yaml:3:3: invalid YAML: Map keys must be unique',
  },
  {
    title: 'the document must be a mapping',
    source: '- api\n- ai\n',
    code: INVALID,
    message: 'test.yaml:1:1: expected a mapping with keys api, ai, probe, alerter, smtp, aggregator, found a list',
  },
  {
    title: 'a section must be a mapping',
    source: 'api: 5\n',
    code: INVALID,
    message: 'test.yaml:1:6: api: expected a mapping with keys rpc_listen_addr, http_listen_addr, rpc_tls_cert_file, rpc_tls_key_file, auth_tokens, cors_origins, found 5',
    key: 'api',
  },
  {
    title: 'a CORS origin with a path (or a bare host) is refused, quoting it',
    source: 'api:\n  cors_origins:\n    - "https://grafana.example.com:3000/"\n',
    code: INVALID,
    message: 'test.yaml:3:7: api.cors_origins[0]: expected an origin like "https://grafana.example.com:3000" (scheme, host and port only), or "*", found "https://grafana.example.com:3000/"',
    key: 'api.cors_origins[0]',
  },
  {
    title: 'a CORS origin must be http or https',
    source: 'api:\n  cors_origins: ["grafana.example.com"]\n',
    code: INVALID,
    message: 'test.yaml:2:18: api.cors_origins[0]: expected an origin like "https://grafana.example.com:3000" (scheme, host and port only), or "*", found "grafana.example.com"',
    key: 'api.cors_origins[0]',
  },
  // Environment
  {
    title: 'an unset variable without default names the variable and the key',
    source: 'aggregator:\n  exact:\n    writers:\n      - type: clickhouse\n        clickhouse:\n          password: "${CLICKHOUSE_PASSWORD}"\n',
    code: 'NS_ERR_CONFIG_ENV',
    message:
      'test.yaml:6:21: aggregator.exact.writers[0].clickhouse.password: environment variable CLICKHOUSE_PASSWORD is not set; ' +
      'set it in the environment or in .env beside the configuration, or write ${CLICKHOUSE_PASSWORD:-default}',
    key: 'aggregator.exact.writers[0].clickhouse.password',
  },
  {
    title: 'a ClickHouse database name that cannot be an identifier',
    source: 'aggregator:\n  exact:\n    writers:\n      - type: clickhouse\n        clickhouse:\n          database: "flows; DROP"\n',
    code: INVALID,
    message: 'test.yaml:6:21: aggregator.exact.writers[0].clickhouse.database: expected a database name of letters, digits, "_" and "-" (at most 128), found "flows; DROP"',
    key: 'aggregator.exact.writers[0].clickhouse.database',
  },
  {
    title: 'an unterminated ${',
    source: 'ai:\n  api_key: "${AI_API_KEY"\n',
    code: 'NS_ERR_CONFIG_ENV',
    message: 'test.yaml:2:12: ai.api_key: expected ${NAME} or ${NAME:-default}, found an unterminated "${AI_API_KEY"',
  },
  {
    title: 'a variable name that is not a name',
    source: 'ai:\n  api_key: "${1KEY}"\n',
    code: 'NS_ERR_CONFIG_ENV',
    message: 'test.yaml:2:12: ai.api_key: expected ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, found "${1KEY}"',
  },
  // Key fields
  {
    title: 'key_fields outside the five fields',
    source: exactTask(['key_fields: [SrcIP, SrcMac]']),
    code: INVALID,
    message: 'test.yaml:5:29: aggregator.exact.tasks[0].key_fields[1]: expected one of "SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol", found "SrcMac"',
    key: 'aggregator.exact.tasks[0].key_fields[1]',
  },
  {
    title: 'a key field twice',
    source: exactTask(['key_fields: [SrcIP, DstIP, SrcIP]']),
    code: INVALID,
    message: 'test.yaml:5:36: aggregator.exact.tasks[0].key_fields[2]: expected each field at most once, found "SrcIP" again',
  },
  {
    title: 'empty key_fields',
    source: exactTask(['key_fields: []']),
    code: INVALID,
    message: 'test.yaml:5:21: aggregator.exact.tasks[0].key_fields: expected a non-empty list of fields from SrcIP, DstIP, SrcPort, DstPort, Protocol, found an empty list',
  },
  {
    title: 'missing key_fields',
    source: exactTask([]),
    code: INVALID,
    message: 'test.yaml:4:9: aggregator.exact.tasks[0].key_fields: expected a non-empty list of fields from SrcIP, DstIP, SrcPort, DstPort, Protocol, found nothing',
  },
  {
    title: 'SuperSpread without element_fields',
    source: sketchTask(['skt_type: 1', 'flow_fields: [SrcIP]']),
    code: INVALID,
    message: 'test.yaml:4:9: aggregator.sketch.tasks[0].element_fields: expected a non-empty list of fields from SrcIP, DstIP, SrcPort, DstPort, Protocol, found nothing',
  },
  // Task names
  {
    title: 'duplicate task names across the groups',
    source: 'aggregator:\n  exact:\n    tasks:\n      - {name: a, key_fields: [SrcIP]}\n  sketch:\n    tasks:\n      - {name: a, skt_type: 0, flow_fields: [SrcIP]}\n',
    code: INVALID,
    message: 'test.yaml:7:16: aggregator.sketch.tasks[0].name: expected a task name not used by another task (aggregator.exact.tasks[0].name), found "a"',
  },
  {
    title: 'a task name that would escape its folder',
    source: 'aggregator:\n  exact:\n    tasks:\n      - {name: ../etc, key_fields: [SrcIP]}\n',
    code: INVALID,
    message: 'test.yaml:4:16: aggregator.exact.tasks[0].name: expected a name of letters, digits, "_", "-" and "." (it becomes a folder name), found "../etc"',
  },
  {
    title: 'an empty task list for an enabled group',
    source: 'aggregator:\n  exact:\n    tasks: []\n',
    code: INVALID,
    message: 'test.yaml:3:12: aggregator.exact.tasks: expected at least one task because "exact" is in aggregator.types, found an empty list',
  },
  // Sketch parameters
  {
    title: 'width zero',
    source: heavyHitter(['width: 0']),
    code: INVALID,
    message: 'test.yaml:7:16: aggregator.sketch.tasks[0].width: expected an integer from 1 to 2097152, found 0',
    key: 'aggregator.sketch.tasks[0].width',
  },
  {
    title: 'fractional depth',
    source: heavyHitter(['depth: 1.5']),
    code: INVALID,
    message: 'test.yaml:7:16: aggregator.sketch.tasks[0].depth: expected an integer from 1 to 16, found 1.5',
  },
  {
    title: 'width that is not a number',
    source: heavyHitter(['width: wide']),
    code: INVALID,
    message: 'test.yaml:7:16: aggregator.sketch.tasks[0].width: expected an integer from 1 to 2097152, found "wide"',
  },
  {
    title: 'skt_type other than 0 or 1',
    source: sketchTask(['skt_type: 2', 'flow_fields: [SrcIP]']),
    code: INVALID,
    message: 'test.yaml:5:19: aggregator.sketch.tasks[0].skt_type: expected 0 (heavy hitters) or 1 (SuperSpread), found 2',
  },
  {
    title: 'missing skt_type',
    source: sketchTask(['flow_fields: [SrcIP]']),
    code: INVALID,
    message: 'test.yaml:4:9: aggregator.sketch.tasks[0].skt_type: expected 0 (heavy hitters) or 1 (SuperSpread), found nothing',
  },
  {
    title: 'register size beyond 8 bits (the engine packs registers of at most 8 bits)',
    source: superSpread(['size: 16']),
    code: INVALID,
    message: 'test.yaml:8:15: aggregator.sketch.tasks[0].size: expected an integer from 1 to 8, found 16',
    key: 'aggregator.sketch.tasks[0].size',
  },
  {
    title: 'base of 1 (a probability strictly below 1)',
    source: superSpread(['base: 1']),
    code: INVALID,
    message: 'test.yaml:8:15: aggregator.sketch.tasks[0].base: expected a number greater than 0 and less than 1, found 1',
  },
  {
    title: 'too many buckets for one sketch (width × depth)',
    source: heavyHitter(['width: 2097152', 'depth: 16']),
    code: INVALID,
    message: 'test.yaml:7:16: aggregator.sketch.tasks[0].width: expected width × depth to be an integer from 1 to 16777216, found 2097152 × 16 = 33554432',
    key: 'aggregator.sketch.tasks[0].width',
  },
  {
    title: 'too many SuperSpread registers (width × depth × m)',
    source: superSpread(['width: 1048576', 'depth: 2', 'm: 1024']),
    code: INVALID,
    message: 'test.yaml:10:12: aggregator.sketch.tasks[0].m: expected width × depth × m to be an integer from 1 to 1073741824, found 1048576 × 2 × 1024 = 2147483648',
    key: 'aggregator.sketch.tasks[0].m',
  },
  {
    title: 'negative decay base',
    source: superSpread(['b: -1']),
    code: INVALID,
    message: 'test.yaml:8:12: aggregator.sketch.tasks[0].b: expected a number greater than 1, found -1',
  },
  {
    title: 'negative seed',
    source: superSpread(['seed: -1']),
    code: INVALID,
    message: 'test.yaml:8:15: aggregator.sketch.tasks[0].seed: expected an integer from 0 to 4294967295, found -1',
  },
  {
    title: 'negative threshold',
    source: heavyHitter(['count_thereshold: -5']),
    code: INVALID,
    message: 'test.yaml:7:27: aggregator.sketch.tasks[0].count_thereshold: expected an integer from 0 to 9007199254740991, found -5',
  },
  // Alert rules
  {
    title: 'unknown operator',
    source: rule('name: r, task_name: per_src_ip, metric: total_bytes, operator: "!=", threshold: 1'),
    code: INVALID,
    message: 'test.yaml:3:71: alerter.rules[0].operator: expected one of ">", "<", "=", ">=", "<=", found "!="',
    key: 'alerter.rules[0].operator',
  },
  {
    title: 'unknown metric',
    source: rule('name: r, task_name: per_src_ip, metric: ByteCount, operator: ">", threshold: 1'),
    code: INVALID,
    message:
      'test.yaml:3:48: alerter.rules[0].metric: expected one of "total_packets", "total_bytes", "total_flows", "bytes_per_second", "packets_per_second", "new_flows", "heavy_hitter_count", "heavy_hitter_size", "super_spreader_spread", found "ByteCount"',
  },
  {
    title: "a metric the task's kind cannot produce",
    source: rule('name: r, task_name: cm_src_left, metric: total_bytes, operator: ">", threshold: 1'),
    code: INVALID,
    message:
      'test.yaml:3:49: alerter.rules[0].metric: expected a metric of a heavy-hitter (skt_type 0) task such as "cm_src_left" (heavy_hitter_count, heavy_hitter_size), found "total_bytes"',
  },
  {
    title: 'a rule on a task that does not exist',
    source: rule('name: r, task_name: per_dst_ip, metric: total_bytes, operator: ">", threshold: 1'),
    code: INVALID,
    message: 'test.yaml:3:28: alerter.rules[0].task_name: expected the name of a configured task (per_five_tuple, per_src_ip, ss_src_dst, cm_src_left), found "per_dst_ip"',
  },
  {
    title: 'two rules with one name',
    source:
      'alerter:\n  rules:\n    - {name: r, task_name: per_src_ip, metric: total_bytes, operator: ">", threshold: 1}\n' +
      '    - {name: r, task_name: per_src_ip, metric: total_bytes, operator: ">", threshold: 2}\n',
    code: INVALID,
    message: 'test.yaml:4:14: alerter.rules[1].name: expected a rule name not used by another rule (alerter.rules[0].name), found "r"',
  },
  {
    title: 'a rule without threshold',
    source: rule('name: r, task_name: per_src_ip, metric: total_bytes, operator: ">"'),
    code: INVALID,
    message: 'test.yaml:3:7: alerter.rules[0].threshold: expected a number, found nothing',
  },
  // Durations
  {
    title: 'snapshot_interval without unit',
    source: 'aggregator:\n  exact:\n    writers:\n      - type: duckdb\n        snapshot_interval: "60"\n',
    code: INVALID,
    message:
      'test.yaml:5:28: aggregator.exact.writers[0].snapshot_interval: expected a positive duration such as "60s", "1m30s" or "720h", found "60" (missing unit after "60")',
    key: 'aggregator.exact.writers[0].snapshot_interval',
  },
  {
    title: 'a duration in words',
    source: 'alerter:\n  check_interval: 5 minutes\n',
    code: INVALID,
    message: 'test.yaml:2:19: alerter.check_interval: expected a positive duration such as "60s", "1m30s" or "720h", found "5 minutes" (unknown unit " minutes")',
  },
  {
    title: 'a negative duration',
    source: 'alerter:\n  check_interval: -5s\n',
    code: INVALID,
    message: 'test.yaml:2:19: alerter.check_interval: expected a positive duration such as "60s", "1m30s" or "720h", found "-5s"',
  },
  {
    title: 'a bare number where a duration belongs',
    source: 'alerter:\n  check_interval: 60\n',
    code: INVALID,
    message: 'test.yaml:2:19: alerter.check_interval: expected a positive duration such as "60s", "1m30s" or "720h", found 60',
  },
  {
    title: 'a period shorter than a snapshot interval',
    source: 'aggregator:\n  period: 30s\n',
    code: INVALID,
    message:
      "test.yaml:2:11: aggregator.period: expected a period at least as long as every enabled writer's snapshot_interval (aggregator.exact.writers[0].snapshot_interval is 1m), found \"30s\"",
    key: 'aggregator.period',
  },
  // Writers
  {
    title: 'unknown writer type',
    source: 'aggregator:\n  exact:\n    writers:\n      - type: kafka\n',
    code: INVALID,
    message: 'test.yaml:4:15: aggregator.exact.writers[0].type: expected one of "clickhouse", "gob", "text", "duckdb", found "kafka"',
  },
  {
    title: 'writer without type',
    source: 'aggregator:\n  exact:\n    writers:\n      - enabled: true\n',
    code: INVALID,
    message: 'test.yaml:4:9: aggregator.exact.writers[0].type: expected one of "clickhouse", "gob", "text", "duckdb", found nothing',
  },
  {
    title: "a block for another writer's type",
    source: 'aggregator:\n  exact:\n    writers:\n      - type: duckdb\n        clickhouse:\n          host: x\n',
    code: INVALID,
    message: 'test.yaml:6:11: aggregator.exact.writers[0].clickhouse: expected only a "duckdb" block for a writer of type "duckdb", found a "clickhouse" block',
  },
  // Aggregator types
  {
    title: 'unknown aggregator type',
    source: 'aggregator:\n  types: [exact, flow]\n',
    code: INVALID,
    message: 'test.yaml:2:18: aggregator.types[1]: expected one of "exact", "sketch", found "flow"',
  },
  {
    title: 'empty aggregator types',
    source: 'aggregator:\n  types: []\n',
    code: INVALID,
    message: 'test.yaml:2:10: aggregator.types: expected a non-empty list of "exact" and/or "sketch", found an empty list',
  },
  {
    title: 'an aggregator type twice',
    source: 'aggregator:\n  types: [exact, exact]\n',
    code: INVALID,
    message: 'test.yaml:2:18: aggregator.types[1]: expected each type at most once, found "exact" again',
  },
  {
    title: 'both the older type and types',
    source: 'aggregator:\n  type: exact\n  types: [exact]\n',
    code: INVALID,
    message: 'test.yaml:2:9: aggregator.type: expected only aggregator.types (type is its older single-valued form), found both',
  },
  {
    title: 'both the older grpc_listen_addr and rpc_listen_addr',
    source: 'api:\n  grpc_listen_addr: ":1"\n  rpc_listen_addr: ":2"\n',
    code: INVALID,
    message: 'test.yaml:2:21: api.grpc_listen_addr: expected only rpc_listen_addr (grpc_listen_addr is its older name), found both',
  },
  {
    title: 'zero workers',
    source: 'aggregator:\n  num_workers: 0\n',
    code: INVALID,
    message: 'test.yaml:2:16: aggregator.num_workers: expected an integer from 1 to 1024, found 0',
  },
  // Other sections
  {
    title: 'a listen address without port',
    source: 'api:\n  http_listen_addr: "8080"\n',
    code: INVALID,
    message: 'test.yaml:2:21: api.http_listen_addr: expected host:port with a port from 0 to 65535, such as "127.0.0.1:8080" or ":8080", found "8080"',
  },
  {
    title: 'a YAML 1.1 boolean',
    source: 'alerter:\n  enabled: yes\n',
    code: INVALID,
    message: 'test.yaml:2:12: alerter.enabled: expected true or false, found "yes"',
  },
  {
    title: 'a port out of range',
    source: 'smtp:\n  port: 70000\n',
    code: INVALID,
    message: 'test.yaml:2:9: smtp.port: expected an integer from 1 to 65535, found 70000',
  },
  {
    title: 'an SMTP host without recipients',
    source: 'smtp:\n  host: smtp.example.com\n  from: a@example.com\n',
    code: INVALID,
    message: 'test.yaml:2:3: smtp.to: expected at least one recipient because smtp.host is set, found nothing',
  },
  {
    title: 'a sender that is not an address',
    source: 'smtp:\n  from: not-an-address\n',
    code: INVALID,
    message: 'test.yaml:2:9: smtp.from: expected an email address such as "alerts@example.com", found "not-an-address"',
  },
  {
    title: 'a base URL without scheme',
    source: 'ai:\n  base_url: "generativelanguage.googleapis.com"\n',
    code: INVALID,
    message: 'test.yaml:2:13: ai.base_url: expected an http:// or https:// URL, found "generativelanguage.googleapis.com"',
  },
  {
    title: 'an unknown persistence encoding',
    source: 'probe:\n  persistence:\n    encoding: json\n',
    code: INVALID,
    message: 'test.yaml:3:15: probe.persistence.encoding: expected one of "text", "gob", "pcap", found "json"',
  },
];

for (const { title, source, code, message, key } of cases) {
  test(`error: ${title}`, () => {
    assertConfigError(() => parseConfig(source, { file: 'test.yaml', env: {} }), code, message, key);
  });
}

test('error: a missing config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-config-'));
  try {
    const file = join(dir, 'missing.yaml');
    assertConfigError(() => loadConfig({ file, env: {} }), 'NS_ERR_CONFIG_READ', `cannot read configuration file ${file}: no such file (ENOENT)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('error: a missing explicit .env file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-config-'));
  try {
    const file = join(dir, 'config.yaml');
    const envFile = join(dir, 'prod.env');
    writeFileSync(file, 'api: {}\n');
    assertConfigError(() => loadConfig({ file, envFile, env: {} }), 'NS_ERR_CONFIG_READ', `cannot read .env file ${envFile}: no such file (ENOENT)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('error: messages name the real file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-config-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'probe:\n  subjet: x\n');
    assertConfigError(() => loadConfig({ file, env: {} }), UNKNOWN, `${file}:2:3: unknown key probe.subjet; did you mean "subject"?`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
