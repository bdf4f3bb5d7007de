import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sfc32, ZipfSampler, harmonicNumber } from '../../src/synth/prng.js';

describe('Sfc32', () => {
  it('repeats its sequence for the same seed and stream', () => {
    const a = new Sfc32(42, 3);
    const b = new Sfc32(42, 3);
    for (let i = 0; i < 1000; i++) assert.equal(a.nextUint32(), b.nextUint32());
  });

  it('gives different sequences for nearby seeds, for streams, and for the high seed bits', () => {
    const first = (rng: Sfc32): number[] => Array.from({ length: 8 }, () => rng.nextUint32());
    const base = first(new Sfc32(1));
    assert.notDeepEqual(first(new Sfc32(2)), base);
    assert.notDeepEqual(first(new Sfc32(1, 1)), base);
    assert.notDeepEqual(first(new Sfc32(1 + 2 ** 32)), base);
  });

  it('draws uniform values in range', () => {
    const rng = new Sfc32(7);
    const buckets = new Array<number>(10).fill(0);
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      const f = rng.nextFloat();
      assert.ok(f >= 0 && f < 1);
      buckets[rng.nextInt(10)]!++;
      const r = rng.nextRange(5, 7);
      assert.ok(r >= 5 && r <= 7 && Number.isInteger(r));
    }
    // Each bucket expects 20,000 ± 134 (1 sd); 6 sd is a failure, not bad luck.
    for (const count of buckets) assert.ok(Math.abs(count - draws / 10) < 800, `bucket count ${count}`);
  });

  it('rejects seeds that are not non-negative safe integers', () => {
    assert.throws(() => new Sfc32(-1), RangeError);
    assert.throws(() => new Sfc32(1.5), RangeError);
  });
});

describe('ZipfSampler', () => {
  for (const exponent of [0.8, 1, 1.1, 2]) {
    it(`matches the Zipf(${exponent}) probabilities of the first ranks`, () => {
      const n = 1000;
      const sampler = new ZipfSampler(n, exponent, new Sfc32(11));
      const counts = new Array<number>(n + 1).fill(0);
      const draws = 300_000;
      for (let i = 0; i < draws; i++) {
        const k = sampler.sample();
        assert.ok(k >= 1 && k <= n && Number.isInteger(k));
        counts[k]!++;
      }
      const h = harmonicNumber(n, exponent);
      for (const k of [1, 2, 3, 10]) {
        const expected = (draws * Math.pow(k, -exponent)) / h;
        const tolerance = 6 * Math.sqrt(expected) + 1;
        assert.ok(Math.abs(counts[k]! - expected) < tolerance, `rank ${k}: ${counts[k]} vs expected ${expected.toFixed(0)}`);
      }
    });
  }

  it('handles a single rank and rejects bad parameters', () => {
    const sampler = new ZipfSampler(1, 1.1, new Sfc32(1));
    for (let i = 0; i < 100; i++) assert.equal(sampler.sample(), 1);
    assert.throws(() => new ZipfSampler(0, 1, new Sfc32(1)), RangeError);
    assert.throws(() => new ZipfSampler(10, 0, new Sfc32(1)), RangeError);
  });
});
