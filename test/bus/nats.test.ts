import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { LeaderLease } from '../../src/bus/leader-lease.js';
import { SequenceTracker } from '../../src/bus/sequence-tracker.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { closedPort } from '../kit/ports.js';

const skip = natsSkip();

function payload(sequence: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, sequence);
  return bytes;
}

const sequenceOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);

/** Collect messages from `subject` until `want` arrived or `ms` passed. */
function collect(connection: NatsConnection, subject: string, want: number, ms: number, queue?: string): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const messages = connection.messages(subject, queue);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void messages.return(undefined);
      resolve(got);
    }, ms);
    void (async () => {
      try {
        for await (const message of messages) {
          got.push(message);
          if (got.length >= want) break;
        }
        clearTimeout(timer);
        resolve(got);
      } catch (error) {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    })();
  });
}

test('NATS: messages published on a subject arrive in order, and the counters add up', { skip }, async () => {
  await using server = await NatsServer.start();
  await using subscriber = new NatsConnection({ url: server.url, name: 'test-sub' });
  await using publisher = new NatsConnection({ url: server.url, name: 'test-pub' });
  await subscriber.start();
  await publisher.start();
  const arriving = collect(subscriber, 'gons.packets.raw', 5000, 10_000);
  await subscriber.flush(); // the subscription is registered before anything is published
  for (let i = 0; i < 5000; i++) publisher.publish('gons.packets.raw', payload(i));
  await publisher.flush();
  const got = await arriving;
  assert.equal(got.length, 5000);
  assert.deepEqual(
    got.map(sequenceOf),
    Array.from({ length: 5000 }, (_, i) => i),
  );
  assert.equal(publisher.stats.published, 5000);
  assert.equal(publisher.stats.publishedBytes, 40_000);
  assert.equal(subscriber.stats.received, 5000);
});

test('NATS: a queue group gives each message to exactly one member', { skip }, async () => {
  await using server = await NatsServer.start();
  await using a = new NatsConnection({ url: server.url, name: 'a' });
  await using b = new NatsConnection({ url: server.url, name: 'b' });
  await using publisher = new NatsConnection({ url: server.url, name: 'p' });
  await Promise.all([a.start(), b.start(), publisher.start()]);
  const toA = collect(a, 'q.test', 2000, 3000, 'engines');
  const toB = collect(b, 'q.test', 2000, 3000, 'engines');
  await a.flush();
  await b.flush();
  for (let i = 0; i < 2000; i++) publisher.publish('q.test', payload(i));
  await publisher.flush();
  const [gotA, gotB] = await Promise.all([toA, toB]);
  const all = [...gotA, ...gotB].map(sequenceOf).sort((x, y) => x - y);
  assert.deepEqual(
    all,
    Array.from({ length: 2000 }, (_, i) => i),
  );
  assert.ok(gotA.length > 0 && gotB.length > 0, `both members got some (${gotA.length}, ${gotB.length})`);
});

test('NATS: after a server restart both sides reconnect on their own; the sequence tracker counts exactly what was lost', { skip }, async () => {
  await using server = await NatsServer.start();
  await using subscriber = new NatsConnection({ url: server.url, name: 'sub', reconnectWaitMs: 100 });
  await using publisher = new NatsConnection({ url: server.url, name: 'pub', reconnectWaitMs: 100 });
  await subscriber.start();
  await publisher.start();
  const tracker = new SequenceTracker();
  const received = new Set<number>();
  const messages = subscriber.messages('loss.test');
  const reading = (async () => {
    for await (const message of messages) {
      const sequence = sequenceOf(message);
      received.add(sequence);
      tracker.observe(7, sequence);
      if (sequence === 2999) break;
    }
  })();
  await subscriber.flush();
  for (let i = 0; i < 1000; i++) publisher.publish('loss.test', payload(i));
  await publisher.flush();
  // the tracker can only see a gap after the first message it gets: let the first thousand arrive
  const firstDeadline = Date.now() + 5000;
  while (received.size < 1000 && Date.now() < firstDeadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(received.size, 1000);
  await server.stop(true); // SIGKILL: whatever the server held is gone
  for (let i = 1000; i < 2000; i++) publisher.publish('loss.test', payload(i)); // into the client's reconnect buffer or lost
  await server.restart();
  const deadline = Date.now() + 10_000;
  while ((publisher.stats.reconnects === 0 || subscriber.stats.reconnects === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(publisher.stats.reconnects >= 1 && subscriber.stats.reconnects >= 1, 'both reconnected');
  assert.ok(publisher.stats.disconnects >= 1);
  await subscriber.flush(); // the subscription is re-registered on the new server
  for (let i = 2000; i < 3000; i++) publisher.publish('loss.test', payload(i));
  await publisher.flush();
  await reading;
  const lost = 3000 - received.size;
  assert.equal(tracker.missing, lost, `tracker says ${tracker.missing} missing, ${lost} never arrived`);
  for (let i = 2000; i < 3000; i++) assert.ok(received.has(i), `message ${i} after the reconnect arrived`);
  assert.equal(tracker.streams[0]?.duplicate, 0);
});

test('NATS: an unreachable server gives NS_ERR_NATS_CONNECT naming the URL', async () => {
  await using closed = await closedPort();
  const connection = new NatsConnection({ url: `nats://127.0.0.1:${closed.port}`, name: 'x', connectTimeoutMs: 1000 });
  await assert.rejects(connection.start(), (error: Error & { code?: string }) => error.code === 'NS_ERR_NATS_CONNECT' && error.message.includes(`127.0.0.1:${closed.port}`));
});

test('sequence tracker: gaps, late arrivals filling them, duplicates, a new stream, stragglers beyond the window', () => {
  const tracker = new SequenceTracker();
  assert.equal(tracker.observe(1, 10), 0); // joined late: 0..9 are not missing
  assert.equal(tracker.observe(1, 11), 0);
  assert.equal(tracker.observe(1, 15), 3); // 12, 13, 14 missing
  assert.equal(tracker.missing, 3);
  tracker.observe(1, 13); // late, fills one
  tracker.observe(1, 13); // duplicate
  tracker.observe(1, 11); // duplicate
  assert.equal(tracker.missing, 2);
  tracker.observe(2, 0); // another probe
  tracker.observe(2, 2);
  assert.equal(tracker.missing, 3);
  tracker.observe(1, 10_000); // 9,984 more missing
  tracker.observe(1, 14); // older than the window: late, missing unchanged
  const one = tracker.streams.find((s) => s.stream === 1)!;
  assert.deepEqual(one, { stream: 1, received: 8, missing: 2 + 9984, late: 2, duplicate: 2, highest: 10_000 });
});

test('leader lease: exactly one of three engines leads; a clean stop hands over at once, a crash within the TTL', { skip }, async () => {
  await using server = await NatsServer.start();
  const connections = ['e1', 'e2', 'e3'].map((name) => new NatsConnection({ url: server.url, name }));
  await Promise.all(connections.map((c) => c.start()));
  const ttlMs = 1500;
  const leases = connections.map((c, i) => new LeaderLease(c, { key: 'engine-leader', holderId: `engine-${i + 1}`, ttlMs }));
  try {
    for (const lease of leases) await lease.start();
    const leaders = (): number[] => leases.flatMap((l, i) => (l.leader ? [i] : []));
    const waitFor = async (check: () => boolean, ms: number): Promise<number> => {
      const started = performance.now();
      while (!check()) {
        if (performance.now() - started > ms) throw new Error(`not within ${ms} ms; leaders now ${JSON.stringify(leaders())}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return performance.now() - started;
    };
    assert.deepEqual(leaders(), [0], 'the first to start leads');
    // stays stable over several renewals
    await new Promise((r) => setTimeout(r, ttlMs * 2));
    assert.deepEqual(leaders(), [0]);

    // clean stop: the key is deleted, a follower takes over at its next attempt (every ttl/3)
    await leases[0]!.stop();
    const handover = await waitFor(() => leaders().length === 1, ttlMs);
    const second = leaders()[0]!;
    assert.ok(second === 1 || second === 2);
    assert.ok(handover <= ttlMs, `handover took ${handover.toFixed(0)} ms`);

    // crash: the leader's connection dies without giving the lease up
    await connections[second]!.core.close();
    const takeover = await waitFor(() => leaders().filter((i) => i !== second).length === 1, ttlMs * 3);
    assert.ok(takeover <= ttlMs * 2, `takeover took ${takeover.toFixed(0)} ms`);
    // the crashed one has stepped down on its own by now (it could not renew)
    await waitFor(() => !leases[second]!.leader, ttlMs);
    assert.equal(leaders().length, 1);
  } finally {
    for (const lease of leases) await lease.stop();
    for (const c of connections) await c.stop();
  }
});
