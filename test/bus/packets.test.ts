import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { PacketPublisher, partitionOfSource, partitionSubject, type PublishFormat } from '../../src/bus/packet-publisher.js';
import { PacketSubscriber } from '../../src/bus/packet-subscriber.js';
import { BatchPool, type PacketBatch } from '../../src/model/packet.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';

const skip = natsSkip();

/** One line per packet, every field, for exact comparison. */
function lines(batch: PacketBatch): string[] {
  const out: string[] = [];
  for (let i = 0; i < batch.count; i++) {
    out.push(
      [batch.tsSeconds[i], batch.tsNanos[i], batch.wireLength[i], batch.family[i], batch.protocol[i], batch.srcPort[i], batch.dstPort[i], ...batch.srcAddr.subarray(i * 4, i * 4 + 4), ...batch.dstAddr.subarray(i * 4, i * 4 + 4)].join(' '),
    );
  }
  return out;
}

async function receiveUntil(subscriber: PacketSubscriber, pool: BatchPool, want: number, ms: number): Promise<string[]> {
  const got: string[] = [];
  const timer = setTimeout(() => subscriber.stop(), ms);
  for await (const batch of subscriber.batches()) {
    got.push(...lines(batch));
    pool.release(batch);
    if (got.length >= want) {
      subscriber.stop();
    }
  }
  clearTimeout(timer);
  return got;
}

for (const format of ['packet-info', 'packet-batch'] as PublishFormat[]) {
  test(`publisher → NATS → subscriber (${format}): every packet arrives with every field, none twice`, { skip }, async () => {
    await using server = await NatsServer.start();
    await using publisherConnection = new NatsConnection({ url: server.url, name: 'probe' });
    await using subscriberConnection = new NatsConnection({ url: server.url, name: 'engine' });
    await publisherConnection.start();
    await subscriberConnection.start();
    const partitions = 4;
    const subjects = format === 'packet-info' ? ['gons.packets.raw'] : Array.from({ length: partitions }, (_, p) => partitionSubject('gons.packets.raw', p));
    const pool = new BatchPool(1000);
    const subscriber = new PacketSubscriber(subscriberConnection, { subjects, pool, maxDelayMs: 20 });
    await subscriber.start();
    const publisher = new PacketPublisher(publisherConnection, { subject: 'gons.packets.raw', format, partitions, packetsPerMessage: 300 });
    const packets = randomPackets(5000, 11);
    const sent: string[] = [];
    for (const batch of fillBatches(packets, 700)) {
      sent.push(...lines(batch));
      publisher.publish(batch);
    }
    publisher.flush();
    await publisherConnection.flush();
    const got = await receiveUntil(subscriber, pool, sent.length, 10_000);
    assert.equal(got.length, sent.length);
    assert.deepEqual([...got].sort(), [...sent].sort());
    assert.equal(subscriber.stats.malformed, 0);
    assert.equal(subscriber.stats.missing, 0);
    assert.equal(subscriberConnection.stats.received, subscriber.stats.messages, 'the connection counts what the subscriber got');
    assert.equal(publisher.stats.packets, 5000);
    if (format === 'packet-batch') {
      // each partition is one stream with its own sequence
      assert.equal(subscriber.streams.length, partitions);
      assert.ok(publisher.stats.messages >= Math.ceil(5000 / 300) && publisher.stats.messages < 5000 / 100);
    } else {
      assert.equal(publisher.stats.messages, 5000);
    }
  });
}

test('partitions: one subscriber per partition gets exactly the sources hashed to it', { skip }, async () => {
  await using server = await NatsServer.start();
  await using connection = new NatsConnection({ url: server.url, name: 'probe' });
  await connection.start();
  const partitions = 3;
  const pools = Array.from({ length: partitions }, () => new BatchPool(4096));
  const subscribers = pools.map((pool, p) => new PacketSubscriber(connection, { subjects: [partitionSubject('p.test', p)], pool, maxDelayMs: 20 }));
  for (const s of subscribers) await s.start();
  const publisher = new PacketPublisher(connection, { subject: 'p.test', partitions });
  const packets = randomPackets(3000, 12);
  for (const batch of fillBatches(packets, 1000)) publisher.publish(batch);
  publisher.flush();
  await connection.flush();
  const received = await Promise.all(
    subscribers.map(async (subscriber, p) => {
      const sources = new Set<string>();
      let count = 0;
      const timer = setTimeout(() => subscriber.stop(), 1500);
      for await (const batch of subscriber.batches()) {
        for (let i = 0; i < batch.count; i++) {
          assert.equal(partitionOfSource(batch.srcAddr, i * 4, partitions), p);
          sources.add(batch.srcAddr.subarray(i * 4, i * 4 + 4).join('.'));
        }
        count += batch.count;
        pools[p]!.release(batch);
      }
      clearTimeout(timer);
      return { sources, count };
    }),
  );
  assert.equal(
    received.reduce((sum, r) => sum + r.count, 0),
    3000,
  );
  // no source in two partitions
  const all = received.flatMap((r) => [...r.sources]);
  assert.equal(new Set(all).size, all.length);
  assert.ok(received.every((r) => r.count > 0));
});

test('subscriber: garbage payloads are counted and dropped, the packets around them kept', { skip }, async () => {
  await using server = await NatsServer.start();
  await using connection = new NatsConnection({ url: server.url, name: 'x' });
  await connection.start();
  const pool = new BatchPool(1000);
  const subscriber = new PacketSubscriber(connection, { subjects: ['g.test'], pool, maxDelayMs: 20 });
  await subscriber.start();
  const publisher = new PacketPublisher(connection, { subject: 'g.test', format: 'packet-info' });
  const [batch] = fillBatches(randomPackets(10, 13), 10);
  publisher.publish(batch!, 0, 5);
  connection.publish('g.test', new TextEncoder().encode('{"not":"thrift"}'));
  connection.publish('g.test', new Uint8Array([0x0a, 0x00, 0x01, 0xff]));
  connection.publish('g.test', new Uint8Array(0));
  publisher.publish(batch!, 5, 10);
  await connection.flush();
  const got = await receiveUntil(subscriber, pool, 10, 3000);
  assert.deepEqual(got, lines(batch!));
  assert.equal(subscriber.stats.malformed, 3);
  assert.match(subscriber.stats.lastError ?? '', /NS_ERR_WIRE_MALFORMED/);
});

test('core NATS loss: messages lost while the server is down show up as missing batch messages', { skip }, async () => {
  await using server = await NatsServer.start();
  await using probe = new NatsConnection({ url: server.url, name: 'probe', reconnectWaitMs: 100 });
  await using engine = new NatsConnection({ url: server.url, name: 'engine', reconnectWaitMs: 100 });
  await probe.start();
  await engine.start();
  const pool = new BatchPool(100_000);
  const subscriber = new PacketSubscriber(engine, { subjects: ['l.test.0'], pool, maxDelayMs: 10 });
  await subscriber.start();
  const publisher = new PacketPublisher(probe, { subject: 'l.test', partitions: 1, packetsPerMessage: 100 });
  const batches = fillBatches(randomPackets(30_000, 14), 100);
  let packetsReceived = 0;
  const reading = (async () => {
    for await (const batch of subscriber.batches()) {
      packetsReceived += batch.count;
      pool.release(batch);
    }
  })();
  const waitFor = async (check: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  for (const batch of batches.slice(0, 100)) publisher.publish(batch);
  await probe.flush();
  await waitFor(() => packetsReceived === 10_000);
  await server.stop(true);
  for (const batch of batches.slice(100, 200)) publisher.publish(batch); // lost, or buffered by the client
  await server.restart();
  await waitFor(() => probe.stats.reconnects > 0 && engine.stats.reconnects > 0);
  await engine.flush();
  for (const batch of batches.slice(200)) publisher.publish(batch);
  await probe.flush();
  await waitFor(() => subscriber.stats.messages + subscriber.stats.missing >= 300);
  subscriber.stop();
  await reading;
  const stats = subscriber.stats;
  assert.equal(stats.messages + stats.missing, 300, JSON.stringify(stats));
  assert.equal(packetsReceived, stats.messages * 100);
  assert.ok(stats.messages >= 200, 'everything before the outage and after the reconnect arrived');
});
