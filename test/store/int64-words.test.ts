import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nanosWords, uint64Words } from '../../src/store/int64-words.js';
import { prng } from '../kit/random-packets.js';

const join = (out: Uint32Array): bigint => (BigInt(out[1]!) << 32n) | BigInt(out[0]!);

test('nanosecond times and counters become exact 64-bit words, as BigInt arithmetic says', () => {
  const random = prng(9);
  const out = new Uint32Array(2);
  const edges = [0, 1, 65535, 65536, 2 ** 31, 1_700_000_000, 2 ** 32 - 1, 2 ** 32, 2 ** 33 - 1];
  for (let i = 0; i < 200_000; i++) {
    const seconds = i < edges.length ? edges[i]! : Math.floor(random() * 2 ** 33);
    const nanos = i % 3 === 0 ? 999_999_999 : Math.floor(random() * 1e9);
    nanosWords(seconds, nanos, out, 0);
    assert.equal(join(out), BigInt(seconds) * 1_000_000_000n + BigInt(nanos), `${seconds} s ${nanos} ns`);
    const value = i < edges.length ? edges[i]! : Math.floor(random() * 2 ** 53);
    uint64Words(value, out, 0);
    assert.equal(join(out), BigInt(value));
  }
  uint64Words(Number.MAX_SAFE_INTEGER, out, 0);
  assert.equal(join(out), BigInt(Number.MAX_SAFE_INTEGER));
});
