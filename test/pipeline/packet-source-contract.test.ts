/**
 * One contract for every packet source (model/ports PacketSource): capture files, live capture,
 * core NATS and JetStream. Each implementation delivers a numbered sequence of packets; the
 * contract checks the order and completeness of what arrives, the end of the input, a stop in the
 * middle of the stream, that stop() is safe before start and twice, and that bad input surfaces
 * with a stable error code without losing the valid packets around it.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JetStreamPacketSource } from '../../src/bus/jetstream-packet-source.js';
import { ensurePacketStream } from '../../src/bus/jetstream-stream.js';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { NatsPacketSource, type NatsSource } from '../../src/bus/nats-packet-source.js';
import { PacketPublisher } from '../../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { CaptureFileSource, LiveCaptureSource } from '../../src/capture/capture-sources.js';
import { CaptureDecoder } from '../../src/decode/index.js';
import { isNetSpectraError } from '../../src/model/errors.js';
import { BatchPool, type PacketBatch } from '../../src/model/packet.js';
import type { PacketSource } from '../../src/model/ports.js';
import { ethernetFrame, ipv4Packet, pcapFile } from '../decode/capture-writer.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { liveCaptureSkip } from '../kit/live-capture.js';

/** A source under test, with how to feed it the numbered packets and what identifies a packet. */
interface Opened {
  source: PacketSource;
  /** Makes the packets 1..count available (publish, send); files need nothing. */
  feed(): Promise<void>;
  /** Whether the iteration ends by itself once every packet is delivered (files). */
  endsByItself: boolean;
  /** The number of packet i of a batch (≤ 0: not one of the numbered packets, e.g. a warm-up). */
  identity(batch: PacketBatch, index: number): number;
  close(): Promise<void>;
}

interface Implementation {
  name: string;
  skip: string | false;
  count: number;
  open(count: number): Promise<Opened>;
  /** Bad input among good: asserts the code is surfaced and the good packets kept. */
  checkBadInput(): Promise<void>;
}

const pool = new BatchPool(1024);
const context = { pool, tick: async () => undefined };

/** A pcap of `count` UDP packets whose source port is their number 1..count. */
function numberedCapture(count: number, first = 1): Uint8Array {
  return pcapFile(
    Array.from({ length: count }, (_, i) => ({
      data: ethernetFrame(0x0800, ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: first + i, dstPort: 9 })),
      seconds: 1_700_000_000 + Math.floor(i / 1000),
      fraction: (i % 1000) * 1000,
    })),
  );
}

const bySourcePort = (batch: PacketBatch, i: number): number => batch.srcPort[i]!;

/** Read until the iteration ends, or until `until` says stop (then call stop and read on). */
async function consume(opened: Opened, until?: (seen: number[]) => boolean): Promise<{ seen: number[]; batches: number }> {
  const seen: number[] = [];
  let batches = 0;
  let stopping: Promise<void> | undefined;
  const guard = setTimeout(() => void opened.source.stop(), 60_000);
  try {
    for await (const batch of opened.source.batches()) {
      batches++;
      for (let i = 0; i < batch.count; i++) {
        const id = opened.identity(batch, i);
        if (id > 0) seen.push(id);
      }
      pool.release(batch);
      if (stopping === undefined && until?.(seen) === true) stopping = opened.source.stop();
    }
    await stopping;
  } finally {
    clearTimeout(guard);
  }
  return { seen, batches };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let folder = '';
let nats: NatsServer | undefined;
const connections: NatsConnection[] = [];
const natsSkipReason = natsSkip();

async function connect(): Promise<NatsConnection> {
  nats ??= await NatsServer.start();
  const connection = new NatsConnection({ url: nats.url, name: 'contract' });
  await connection.start();
  connections.push(connection);
  return connection;
}

/** Publish the numbered capture on `<subject>.0` (one partition: one ordered stream), optionally with a garbage message in the middle. */
async function publishNumbered(connection: NatsConnection, subject: string, count: number, garbageAfter?: number): Promise<void> {
  const publisher = new PacketPublisher(connection, { subject, format: 'packet-batch', partitions: 1 });
  const decoder = new CaptureDecoder({ name: 'numbered', pool });
  const chunks = (async function* () {
    yield numberedCapture(count);
  })();
  let published = 0;
  for await (const batch of decoder.decode(chunks)) {
    for (let start = 0; start < batch.count; start += 500) {
      const end = Math.min(batch.count, start + 500);
      publisher.publish(batch, start, end);
      publisher.flush();
      published += end - start;
      if (garbageAfter !== undefined && published === garbageAfter) connection.publish(`${subject}.0`, Uint8Array.from([0x4e, 0x53, 0xff, 1, 2, 3]));
    }
    pool.release(batch);
  }
  await connection.flush();
}

const owner = PartitionOwnership.roundRobin(1, 1, 0);
let subjects = 0;

const implementations: Implementation[] = [
  {
    name: 'capture files',
    skip: false,
    count: 5000,
    async open(count) {
      const half = Math.floor(count / 2);
      await writeFile(join(folder, 'first.pcap'), numberedCapture(half));
      await writeFile(join(folder, 'second.pcap'), numberedCapture(count - half, half + 1));
      const source = new CaptureFileSource({ files: [join(folder, 'first.pcap'), join(folder, 'second.pcap')] });
      return { source, feed: async () => undefined, endsByItself: true, identity: bySourcePort, close: async () => undefined };
    },
    async checkBadInput() {
      const good = numberedCapture(300);
      await writeFile(join(folder, 'good.pcap'), good);
      // cut inside the 201st record: the 200 before it are kept
      const recordBytes = (good.length - 24) / 300;
      await writeFile(join(folder, 'cut.pcap'), good.subarray(0, 24 + 200 * recordBytes + 10));
      const source = new CaptureFileSource({ files: [join(folder, 'missing.pcap'), join(folder, 'cut.pcap'), join(folder, 'good.pcap')] });
      await source.start(context);
      const { seen } = await consume({ source, feed: async () => undefined, endsByItself: true, identity: bySourcePort, close: async () => undefined });
      assert.deepEqual(seen, [...range(1, 200), ...range(1, 300)]);
      assert.deepEqual(
        source.stats.inputErrors.map((e) => e.code),
        ['NS_ERR_CAPTURE_OPEN', 'NS_ERR_PCAP_TRUNCATED'],
      );
      assert.deepEqual(
        source.results.map((r) => [r.stats.ipFrames, r.error?.code]),
        [
          [0, 'NS_ERR_CAPTURE_OPEN'],
          [200, 'NS_ERR_PCAP_TRUNCATED'],
          [300, undefined],
        ],
      );
    },
  },
  {
    name: 'live capture',
    skip: liveCaptureSkip(),
    count: 100,
    async open(count) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const port = socket.address().port;
      const source = new LiveCaptureSource({ iface: 'lo', filter: `udp and dst port ${port}`, statsIntervalMs: 200 });
      // the numbered packets carry 100 + i payload bytes: Ethernet 14 + IPv4 20 + UDP 8 in front
      const identity = (batch: PacketBatch, i: number): number => batch.wireLength[i]! - 142;
      let warmedUp = false;
      const feed = async (): Promise<void> => {
        // tcpdump needs a moment to open the interface: warm-up datagrams (identity ≤ 0) until one is captured
        const deadline = Date.now() + 60_000;
        while (source.captureStats.receivedByFilter === 0 && source.stats.packets === 0 && Date.now() < deadline) {
          socket.send(Buffer.from('w'), port, '127.0.0.1');
          await new Promise((r) => setTimeout(r, 100));
        }
        warmedUp = true;
        for (let i = 1; i <= count; i++) {
          await new Promise<void>((resolve, reject) => socket.send(Buffer.alloc(100 + i), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
        }
      };
      return {
        source,
        feed,
        endsByItself: false,
        identity,
        close: async () => {
          socket.close();
          assert.ok(warmedUp);
        },
      };
    },
    async checkBadInput() {
      const source = new LiveCaptureSource({ iface: 'no-such-if0' });
      await source.start(context);
      await assert.rejects(
        consume({ source, feed: async () => undefined, endsByItself: true, identity: bySourcePort, close: async () => undefined }),
        (error: unknown) => isNetSpectraError(error) && error.code === 'NS_ERR_CAPTURE_LIVE' && error.message.includes('no-such-if0'),
      );
    },
  },
  ...(['core NATS', 'JetStream'] as const).map(
    (mode): Implementation => ({
      name: mode,
      skip: natsSkipReason,
      count: 5000,
      async open(count) {
        const connection = await connect();
        const subject = `contract.s${++subjects}`;
        const source = await natsSource(mode, connection, subject);
        return { source, feed: () => publishNumbered(connection, subject, count), endsByItself: false, identity: bySourcePort, close: async () => undefined };
      },
      async checkBadInput() {
        const connection = await connect();
        const subject = `contract.s${++subjects}`;
        const source = await natsSource(mode, connection, subject);
        await source.start(context);
        await publishNumbered(connection, subject, 2000, 1000);
        const { seen } = await consume({ source, feed: async () => undefined, endsByItself: false, identity: bySourcePort, close: async () => undefined }, (s) => s.length >= 2000);
        assert.deepEqual(seen, range(1, 2000));
        const counters = source.counters;
        assert.equal(counters.malformed, 1);
        assert.match(counters.lastError ?? '', /^NS_ERR_WIRE_[A-Z_]+: /);
      },
    }),
  ),
];

async function natsSource(mode: 'core NATS' | 'JetStream', connection: NatsConnection, subject: string): Promise<NatsSource> {
  const options = { subject, format: 'batch' as const, ownership: owner, maxDelayMs: 20 };
  if (mode === 'core NATS') return new NatsPacketSource(connection, options);
  const stream = { name: `CONTRACT_${subjects}`, maxAgeMs: 60_000, maxBytes: 64 * 1024 * 1024 };
  await ensurePacketStream(connection, { stream: stream.name, subject, maxAgeMs: stream.maxAgeMs, maxBytes: stream.maxBytes });
  const source = new JetStreamPacketSource(connection, { ...options, stream, engineId: 'contract', tickMs: 50 });
  await source.resume({ runId: `run-${subjects}`, periodMs: 60_000 });
  return source;
}

describe('packet source contract', () => {
  test.before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'ns-source-contract-'));
  });
  test.after(async () => {
    for (const connection of connections) await connection.stop();
    await nats?.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  for (const impl of implementations) {
    describe(impl.name, { skip: impl.skip }, () => {
      test('delivers every packet once, in order, then ends; stats count what was delivered', async () => {
        const opened = await impl.open(impl.count);
        try {
          await opened.source.start(context);
          const feeding = opened.feed();
          const { seen, batches } = await consume(opened, opened.endsByItself ? undefined : (s) => s.length >= impl.count);
          await feeding;
          assert.deepEqual(seen, range(1, impl.count));
          assert.equal(opened.source.stats.batches, batches);
          assert.ok(opened.source.stats.packets >= impl.count);
          assert.deepEqual(opened.source.stats.inputErrors, []);
        } finally {
          await opened.source.stop();
          await opened.close();
        }
      });

      test('stop() in the middle of the stream ends the iteration with an ordered prefix', async () => {
        const opened = await impl.open(impl.count);
        try {
          await opened.source.start(context);
          const feeding = opened.feed();
          const { seen } = await consume(opened, (s) => s.length > 0);
          await feeding;
          assert.ok(seen.length > 0);
          assert.deepEqual(seen, range(1, seen.length), 'an ordered prefix of the packets, none twice');
          if (opened.endsByItself) assert.ok(seen.length < impl.count, `a replay stops after the current batch, not at the end (${seen.length})`);
        } finally {
          await opened.source.stop();
          await opened.close();
        }
      });

      test('stop() before start and twice is harmless', async () => {
        const opened = await impl.open(1);
        await opened.source.stop();
        await opened.source.stop();
        await opened.source[Symbol.asyncDispose]();
        await opened.close().catch(() => undefined);
      });

      test('bad input surfaces with a stable error code, and the good packets around it are kept', async () => {
        await impl.checkBadInput();
      });
    });
  }
});
