/**
 * Chunk-size independence: live capture feeds the decoder whatever slices `tcpdump -w -` writes,
 * so every real capture must decode identically whole, in 4096-byte and irregular chunks (down to 1
 * byte), and the smaller ones also in 7-byte chunks and byte by byte (one async step per chunk is slow).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CaptureDecoder } from '../../src/decode/index.js';
import { BatchPool } from '../../src/model/packet.js';
import type { DecodeResult } from './decode-helpers.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';
import { chunksOf, chunksOfSizes, decodeAll } from './decode-helpers.js';

const shared = sharedPcaps();

/** Files up to these sizes also go byte by byte / in 7-byte chunks (each chunk is an async step). */
const BYTE_BY_BYTE_LIMIT = 100_000;
const SEVEN_BYTE_LIMIT = 1_000_000;

function comparable(result: DecodeResult): unknown {
  return { stats: result.stats, error: result.error?.code, errorOffset: result.error?.location.offset, errorMessage: result.error?.message, packets: result.packets };
}

const captures = shared.skip === false
  ? readdirSync(shared.dir)
      .filter((name) => /\.(pcap|pcapng)$/.test(name))
      .sort()
  : [];

if (shared.skip !== false) test('chunk sizes: the shared captures', { skip: shared.skip }, () => {});
for (const name of captures) {
  test(`chunk sizes: ${name}`, async () => {
    const bytes = new Uint8Array(readFileSync(join(shared.dir, name)));
    const whole = comparable(await decodeAll(chunksOf(bytes, bytes.length || 1), name));
    const sizes = [4096, ...(bytes.length <= SEVEN_BYTE_LIMIT ? [7] : []), ...(bytes.length <= BYTE_BY_BYTE_LIMIT ? [1] : [])];
    for (const size of sizes) {
      assert.deepEqual(comparable(await decodeAll(chunksOf(bytes, size), name)), whole, `chunk size ${size}`);
    }
    assert.deepEqual(comparable(await decodeAll(chunksOfSizes(bytes, [1, 3, 100, 65536, 2, 16, 17, 1000]), name)), whole, 'irregular chunks');
  });
}

test('yieldPartialBatches: a batch at the end of every chunk (live capture), the same packets and frames', { skip: shared.skip }, async () => {
  const bytes = new Uint8Array(readFileSync(join(shared.dir, 'example.pcap')));
  const whole = await decodeAll(chunksOf(bytes, bytes.length), 'example.pcap');
  const pool = new BatchPool(1024);
  const decoder = new CaptureDecoder({ name: 'example.pcap', pool, yieldPartialBatches: true, keepFrames: true });
  const chunkSize = 10_000;
  let batches = 0;
  let packets = 0;
  for await (const batch of decoder.decode(chunksOf(bytes, chunkSize))) {
    batches++;
    assert.equal(decoder.frames?.count, batch.count);
    for (let i = 0; i < batch.count; i++) {
      const expected = whole.packets[packets + i]!;
      assert.equal(batch.wireLength[i], expected.wireLength);
      assert.equal(batch.tsNanos[i], expected.nanos);
    }
    packets += batch.count;
    pool.release(batch);
  }
  assert.equal(packets, whole.packets.length);
  assert.equal(packets, whole.stats.ipFrames);
  // Every chunk that completes a record hands out what it has, far more often than full batches would.
  assert.ok(batches >= Math.floor(bytes.length / chunkSize) - 1, `${batches} batches for ${Math.ceil(bytes.length / chunkSize)} chunks`);
  assert.deepEqual(decoder.stats, whole.stats);
});
