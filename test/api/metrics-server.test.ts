import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrometheusText } from '../../src/model/prometheus-text.js';
import { parseListenAddress } from '../../src/api/metrics-server.js';

test('Prometheus text 0.0.4: HELP and TYPE once per family, labels escaped, special values spelled out', () => {
  const text = new PrometheusText()
    .single('a_total', 'counter', 'Counts\\things\nover lines.', 3)
    .family('b', 'gauge', 'Per writer.', [
      { value: 1.5, labels: { writer: 'clickhouse:http://h:8123/db', note: 'say "hi"\\\n' } },
      { value: Number.NaN, labels: { writer: 'x' } },
    ])
    .family('c_seconds', 'summary', 'Durations.', [
      { value: 0.25, suffix: '_sum' },
      { value: Number.POSITIVE_INFINITY, suffix: '_count' },
    ])
    .family('d', 'gauge', 'Nothing yet.', [])
    .toString();
  assert.equal(
    text,
    [
      '# HELP a_total Counts\\\\things\\nover lines.',
      '# TYPE a_total counter',
      'a_total 3',
      '# HELP b Per writer.',
      '# TYPE b gauge',
      'b{writer="clickhouse:http://h:8123/db",note="say \\"hi\\"\\\\\\n"} 1.5',
      'b{writer="x"} NaN',
      '# HELP c_seconds Durations.',
      '# TYPE c_seconds summary',
      'c_seconds_sum 0.25',
      'c_seconds_count +Inf',
      '# HELP d Nothing yet.',
      '# TYPE d gauge',
      '',
    ].join('\n'),
  );
  assert.throws(() => new PrometheusText().single('a', 'gauge', 'x', 1).single('a', 'gauge', 'x', 1), /twice/);
  assert.throws(() => new PrometheusText().single('bad-name', 'gauge', 'x', 1), /invalid metric name/);
  assert.throws(() => new PrometheusText().single('a', 'gauge', 'x', 1, { 'bad-label': 'v' }), /invalid label name/);
});

test('listen addresses: host:port, [v6]:port, :port', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListenAddress(':9464'), { host: '0.0.0.0', port: 9464 });
  assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['9464', '127.0.0.1', '127.0.0.1:70000', '::1:9464', 'host:port']) assert.equal(parseListenAddress(bad), undefined, bad);
});
