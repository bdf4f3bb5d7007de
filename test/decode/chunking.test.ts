/**
 * Chunk-size independence: live capture feeds the decoder whatever slices `tcpdump -w -` writes,
 * so every real capture must decode identically whole, in 4096-byte and irregular chunks (down to 1
 * byte), and the smaller ones also in 7-byte chunks and byte by byte (one async step per chunk is slow).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DecodeResult } from './decode-helpers.js';
import { SHARED_PCAPS, chunksOf, chunksOfSizes, decodeAll } from './decode-helpers.js';

/** Files up to these sizes also go byte by byte / in 7-byte chunks (each chunk is an async step). */
const BYTE_BY_BYTE_LIMIT = 100_000;
const SEVEN_BYTE_LIMIT = 1_000_000;

function comparable(result: DecodeResult): unknown {
  return { stats: result.stats, error: result.error?.code, errorOffset: result.error?.location.offset, errorMessage: result.error?.message, packets: result.packets };
}

const captures = readdirSync(SHARED_PCAPS)
  .filter((name) => /\.(pcap|pcapng)$/.test(name))
  .sort();

for (const name of captures) {
  test(`chunk sizes: ${name}`, async () => {
    const bytes = new Uint8Array(readFileSync(join(SHARED_PCAPS, name)));
    const whole = comparable(await decodeAll(chunksOf(bytes, bytes.length || 1), name));
    const sizes = [4096, ...(bytes.length <= SEVEN_BYTE_LIMIT ? [7] : []), ...(bytes.length <= BYTE_BY_BYTE_LIMIT ? [1] : [])];
    for (const size of sizes) {
      assert.deepEqual(comparable(await decodeAll(chunksOf(bytes, size), name)), whole, `chunk size ${size}`);
    }
    assert.deepEqual(comparable(await decodeAll(chunksOfSizes(bytes, [1, 3, 100, 65536, 2, 16, 17, 1000]), name)), whole, 'irregular chunks');
  });
}
