/**
 * The HTTP API's query cache: identical requests in flight share one store call, answers are reused
 * for the TTL and then asked again, failures are never kept, the size is bounded; over a real
 * socket, a cached answer survives a store that went away only for its TTL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpApi } from '../../src/api/http-server.js';
import { QueryCache, cacheKey } from '../../src/api/query-cache.js';
import { jsonOf, startWorld, type HttpWorld } from './http-kit.js';

test('single flight, TTL, failures not kept, bounded', async () => {
  let now = 0;
  const cache = new QueryCache({ ttlMs: 1000, staleMs: 0, maxEntries: 2, nowMs: () => now });
  let calls = 0;
  let release: (value: number) => void = () => {};
  const slow = (): Promise<number> => {
    calls++;
    return new Promise<number>((resolve) => (release = resolve));
  };
  const together = [cache.get('a', slow), cache.get('a', slow), cache.get('a', slow)];
  release(7);
  assert.deepEqual(await Promise.all(together), [7, 7, 7]);
  assert.equal(calls, 1, 'one store call for three identical requests in flight');
  now = 999;
  assert.equal(await cache.get('a', async () => 8), 7, 'fresh: reused');
  now = 1000;
  assert.equal(await cache.get('a', async () => 9), 9, 'expired: asked again');
  await assert.rejects(cache.get('b', async () => Promise.reject(new Error('store down'))), /store down/);
  assert.equal(await cache.get('b', async () => 10), 10, 'a failure is not kept');
  await cache.get('c', async () => 11);
  assert.equal(await cache.get('a', async () => 12), 12, 'the oldest entry was dropped beyond maxEntries');
  assert.deepEqual([cache.hits, cache.misses], [3, 6]);
  const off = new QueryCache({ ttlMs: 0 });
  assert.equal(await off.get('a', async () => 1), 1);
  assert.equal(await off.get('a', async () => 2), 2, 'ttl 0: nothing kept');
});

test('stale while revalidate: an expired answer is given at once while one background call renews it; past the stale window it is waited for', async () => {
  let now = 0;
  const cache = new QueryCache({ ttlMs: 1000, staleMs: 5000, nowMs: () => now });
  let calls = 0;
  let release: (value: number) => void = () => {};
  const slow = (): Promise<number> => {
    calls++;
    return new Promise<number>((resolve) => (release = resolve));
  };
  const first = cache.get('a', slow);
  release(1);
  assert.equal(await first, 1);
  now = 1500; // stale: the old answer at once, one renewal for two requests
  assert.deepEqual(await Promise.all([cache.get('a', slow), cache.get('a', slow)]), [1, 1]);
  assert.equal(calls, 2, 'one background renewal');
  release(2);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await cache.get('a', slow), 2, 'the renewed answer, fresh again');
  assert.equal(calls, 2);
  // a failed renewal keeps the old answer for its stale window, then the failure is seen
  now = 3000;
  assert.equal(await cache.get('a', () => Promise.reject(new Error('store down'))), 2);
  await new Promise((resolve) => setImmediate(resolve));
  now = 6000;
  assert.equal(await cache.get('a', async () => 3), 2, 'still within 1 s + 5 s of the renewed answer (at 1500)');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await cache.get('a', async () => 4), 3, 'the successful renewal');
  now = 20_000;
  await assert.rejects(cache.get('a', () => Promise.reject(new Error('store down'))), /store down/, 'past the stale window: asked and waited for');
  assert.deepEqual([cache.hits, cache.staleHits, cache.misses], [2, 4, 5]);
});

test('an answer stays fresh past its TTL while the store version is unchanged, and goes stale when it changes', async () => {
  let now = 0;
  let version: number | undefined = 5;
  const cache = new QueryCache({ ttlMs: 1000, staleMs: 0, nowMs: () => now, version: () => version });
  assert.equal(await cache.get('a', async () => 1), 1);
  now = 60_000;
  assert.equal(await cache.get('a', async () => 2), 1, 'same version an hour later: nothing changed');
  version = 6;
  assert.equal(await cache.get('a', async () => 3), 3, 'a write changed the version: asked again');
  // a change while the store answers leaves the answer tagged with the version it was asked at
  let release: (value: number) => void = () => {};
  version = 7;
  now = 120_000;
  const asked = cache.get('a', () => new Promise<number>((resolve) => (release = resolve)));
  version = 8;
  release(4);
  assert.equal(await asked, 4);
  now = 122_000;
  assert.equal(await cache.get('a', async () => 5), 5, 'asked at version 7, the store is at 8: stale');
  version = undefined;
  now = 122_500;
  assert.equal(await cache.get('a', async () => 6), 5, 'a store that cannot tell: the TTL alone');
  now = 123_000;
  assert.equal(await cache.get('a', async () => 7), 7);
});

test('cache keys: bigints exact, property order irrelevant, undefined dropped', () => {
  assert.equal(cacheKey('top', { taskName: 'a', startNs: 1_700_000_000_000_000_001n, limit: 5 }), cacheKey('top', { limit: 5, startNs: 1_700_000_000_000_000_001n, taskName: 'a', endNs: undefined }));
  assert.notEqual(cacheKey('top', { startNs: 1_700_000_000_000_000_001n }), cacheKey('top', { startNs: 1_700_000_000_000_000_002n }));
  assert.notEqual(cacheKey('top', { filter: { srcPort: 1 } }), cacheKey('search', { filter: { srcPort: 1 } }));
});

describe('HTTP API: the query cache over a socket', () => {
  let world: HttpWorld;
  before(async () => {
    world = await startWorld({ cacheTtlMs: 60_000 });
  });
  after(() => world?.close());

  test('identical requests share one store call; a cached answer outlives the store for its TTL only', async () => {
    const path = '/api/v1/top/sources?task=five&limit=5';
    const answers = await Promise.all(Array.from({ length: 8 }, async () => jsonOf(await world.call(path))));
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    const metrics = await (await world.call('/metrics')).text();
    assert.match(metrics, /^netspectra_http_query_cache_total\{result="miss"\} 1$/m, 'the task list was not needed by the route: one store call for eight requests');
    assert.match(metrics, /^netspectra_http_query_cache_total\{result="hit"\} 7$/m);

    // a second server over the same service without a cache, to see the store is really gone
    const uncached = createHttpApi({ queryService: world.service, listenAddr: '127.0.0.1:0', cacheTtlMs: 0, log: () => {} });
    await uncached.start();
    try {
      await world.store.stop();
      assert.deepEqual(await jsonOf(await world.call(path)), answers[0], 'within the TTL: the cached answer');
      assert.equal((await world.call('/api/v1/top/sources?task=five&limit=6')).status, 503, 'another question reaches the store');
      assert.equal((await fetch(`${uncached.url}${path}`)).status, 503, 'without a cache the same question fails');
    } finally {
      await uncached.stop();
    }
  });
});
