/**
 * MurmurHash3 x86_32 against published vectors. Sources (cross-checked, all derived from the
 * reference SMHasher implementation): Ian Boyd's test-vector table on Stack Overflow ("MurmurHash3
 * Test Vectors", q/14747343), and the test suites of several independent ports (Go, Rust, Python,
 * C, C++) that list the same values for "test", "Hello, world!" and the pangram.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { deriveSeed, murmur3Bytes, murmur3Words } from '../../src/model/hash.js';
import { Random } from '../engine/synthetic-traffic.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('murmur3Bytes (MurmurHash3 x86_32)', () => {
  const strings: [string, number, number][] = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['test', 0, 0xba6bd213],
    ['test', 0x9747b28c, 0x704b81dc],
    ['Hello, world!', 0, 0xc0363e43],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aa', 0x9747b28c, 0x5d211726],
    ['a', 0x9747b28c, 0x7fa09ea6],
  ];
  for (const [text, seed, expected] of strings) {
    it(`${JSON.stringify(text)} seed 0x${seed.toString(16)} → 0x${expected.toString(16)}`, () => {
      assert.equal(murmur3Bytes(utf8(text), seed), expected);
    });
  }

  // Byte vectors: unsigned arithmetic, endianness of blocks, and each tail length.
  const bytes: [number[], number, number][] = [
    [[0xff, 0xff, 0xff, 0xff], 0, 0x76293b50],
    [[0x21, 0x43, 0x65, 0x87], 0, 0xf55b516b],
    [[0x21, 0x43, 0x65, 0x87], 0x5082edee, 0x2362f9de],
    [[0x21, 0x43, 0x65], 0, 0x7e4a8634],
    [[0x21, 0x43], 0, 0xa0f7b07a],
    [[0x21], 0, 0x72661cf4],
    [[0, 0, 0, 0], 0, 0x2362f9de],
    [[0, 0, 0], 0, 0x85f0b427],
    [[0, 0], 0, 0x30f4c306],
    [[0], 0, 0x514e28b7],
  ];
  for (const [input, seed, expected] of bytes) {
    it(`bytes [${input.map((b) => b.toString(16)).join(' ')}] seed 0x${seed.toString(16)} → 0x${expected.toString(16)}`, () => {
      assert.equal(murmur3Bytes(Uint8Array.from(input), seed), expected);
    });
  }
});

describe('murmur3Words', () => {
  it('equals murmur3Bytes of the little-endian serialisation of the words', () => {
    const random = new Random(42);
    for (let trial = 0; trial < 500; trial++) {
      const count = trial % 21;
      const offset = random.below(4);
      const words = new Uint32Array(offset + count);
      for (let i = 0; i < words.length; i++) words[i] = random.nextUint32();
      const bytes = new Uint8Array(count * 4);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < count; i++) view.setUint32(i * 4, words[offset + i]!, true);
      const seed = random.nextUint32();
      assert.equal(murmur3Words(words, offset, count, seed), murmur3Bytes(bytes, seed), `trial ${trial}`);
    }
  });

  it('matches a published vector through its words ("test" = word 0x74736574)', () => {
    assert.equal(murmur3Words(Uint32Array.of(0x74736574), 0, 1, 0), 0xba6bd213);
  });

  it('returns unsigned 32-bit values', () => {
    const random = new Random(7);
    for (let i = 0; i < 1000; i++) {
      const h = murmur3Words(Uint32Array.of(random.nextUint32()), 0, 1, i);
      assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
    }
  });
});

describe('deriveSeed', () => {
  it('gives distinct seeds per index and per base seed', () => {
    const seen = new Set<number>();
    for (let base = 0; base < 16; base++) for (let index = 0; index < 64; index++) seen.add(deriveSeed(base, index));
    assert.equal(seen.size, 16 * 64);
  });
});
