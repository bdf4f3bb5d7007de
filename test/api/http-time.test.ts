/** The one time parser of the query front ends (src/query/time-text.ts) and the HTTP API's bucket sizes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketNanos } from '../../src/api/http-rest-routes.js';
import { parseTimeText } from '../../src/query/time-text.js';

const NOW = 1_700_000_000_000;

test('times: RFC 3339, unix seconds / ms / ns by digit count, now, ago', () => {
  const cases: [string, bigint][] = [
    ['1700000000', 1_700_000_000_000_000_000n],
    ['1700000000.25', 1_700_000_000_250_000_000n],
    ['0', 0n],
    ['99999999999', 99_999_999_999_000_000_000n], // 11 digits: still seconds
    ['170000000000', 170_000_000_000_000_000n], // 12 digits: milliseconds
    ['1700000000123', 1_700_000_000_123_000_000n],
    ['1700000000123456', 1_700_000_000_123_456n], // 16 digits: nanoseconds
    ['1700000000123456789', 1_700_000_000_123_456_789n],
    ['2023-11-14T22:13:20Z', 1_700_000_000_000_000_000n],
    ['2023-11-14 22:13:20.123456789z', 1_700_000_000_123_456_789n],
    ['2023-11-14T23:13:20+01:00', 1_700_000_000_000_000_000n],
    ['2023-11-14T22:13Z', 1_699_999_980_000_000_000n],
    ['now', 1_700_000_000_000_000_000n],
    [' now ', 1_700_000_000_000_000_000n],
    ['-15m', 1_699_999_100_000_000_000n],
    ['now-1h30m', 1_699_994_600_000_000_000n],
    ['-1.5s', 1_699_999_998_500_000_000n],
  ];
  for (const [text, ns] of cases) assert.equal(parseTimeText('start', text, NOW), ns, text);
});

test('times that are refused, with the code asked for and the field named', () => {
  for (const text of ['', 'yesterday', '2023-11-14', '2023-11-14T22:13:20', '-15x', '--1m', 'now+1h', '1700000000123.5', '12345678901234567890', '1969-12-31T23:59:59Z', '-100000000h', '0x10', '1e9']) {
    assert.throws(() => parseTimeText('range.from', text, NOW, 'NS_ERR_HTTP_REQUEST'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'NS_ERR_HTTP_REQUEST', text);
      assert.match(error.message, /^range\.from "/, text);
      return true;
    });
  }
  assert.throws(() => parseTimeText('--start', 'soon', NOW), { code: 'NS_ERR_USAGE', message: /--start "soon" is not a time: give RFC 3339/ });
  // long input is cut in the message
  assert.throws(() => parseTimeText('end', 'x'.repeat(500), NOW), (error: Error) => error.message.length < 200);
});

test('bucket sizes: Go durations or milliseconds', () => {
  assert.equal(bucketNanos('60s'), 60_000_000_000n);
  assert.equal(bucketNanos('1m30s'), 90_000_000_000n);
  assert.equal(bucketNanos('250'), 250_000_000n);
  assert.equal(bucketNanos('1ms'), 1_000_000n);
  assert.throws(() => bucketNanos('weekly'), { code: 'NS_ERR_HTTP_REQUEST' });
});
