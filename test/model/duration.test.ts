import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DurationSyntaxError, formatDuration, parseDuration } from '../../src/model/duration.js';

test('parseDuration reads Go durations into milliseconds', () => {
  const table: [string, number][] = [
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['60s', 60_000],
    ['720h', 2_592_000_000],
    ['1m30s', 90_000],
    ['0s', 0],
    ['0', 0],
    ['3600s', 3_600_000],
    ['1.1s', 1100],
    ['.5s', 500],
    ['5.s', 5000],
    ['+10s', 10_000],
    ['-1.5h', -5_400_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['1h1m1s1ms', 3_661_001],
  ];
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
});

test('parseDuration explains what is wrong', () => {
  const hint = 'use ns, us, ms, s, m or h, e.g. "60s" or "1m30s"';
  const table: [string, string, string][] = [
    ['', 'it is empty', `invalid duration "": it is empty; ${hint}`],
    ['60', 'missing unit after "60"', `invalid duration "60": missing unit after "60"; ${hint}`],
    ['5 minutes', 'unknown unit " minutes"', `invalid duration "5 minutes": unknown unit " minutes"; ${hint}`],
    ['1d', 'unknown unit "d"', `invalid duration "1d": unknown unit "d"; ${hint}`],
    ['s', 'expected a number at "s"', `invalid duration "s": expected a number at "s"; ${hint}`],
    ['1h30', 'missing unit after "30"', `invalid duration "1h30": missing unit after "30"; ${hint}`],
    ['-', 'it is empty', `invalid duration "-": it is empty; ${hint}`],
  ];
  for (const [text, reason, message] of table) {
    assert.throws(
      () => parseDuration(text),
      (error: unknown) => {
        assert.ok(error instanceof DurationSyntaxError);
        assert.ok(error instanceof RangeError);
        assert.equal(error.reason, reason);
        assert.equal(error.message, message);
        return true;
      },
      text,
    );
  }
});

test('formatDuration prints the shortest Go duration that parses back', () => {
  const table: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [2_592_000_000, '720h'],
    [3_661_001, '1h1m1s1ms'],
    [-5000, '-5s'],
  ];
  for (const [ms, text] of table) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
