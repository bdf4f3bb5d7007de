import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { LiveCapture } from '../../src/capture/live-capture.js';
import { CaptureDecoder } from '../../src/decode/index.js';
import { BatchPool } from '../../src/model/packet.js';
import { liveCaptureSkip } from '../kit/live-capture.js';

const skip = liveCaptureSkip();

test('live capture on loopback: every datagram sent while capturing is decoded with its ports and wire length', { skip }, async () => {
  // The datagrams' destination: a port bound here, so no other test's traffic passes the filter.
  const receiver = createSocket('udp4');
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
  const port = receiver.address().port;
  // No SIGUSR1 while the test runs: tcpdump dies of one that comes before it has installed its
  // handler (about 0.2 s after the start here, seconds on a loaded machine), and then captures
  // nothing at all. The counters checked below are the ones tcpdump prints when it exits.
  const capture = new LiveCapture({ iface: 'lo', filter: `udp and dst port ${port}`, statsIntervalMs: 3_600_000 });
  const pool = new BatchPool(1024);
  // A batch per pipe read, as live sources decode: a datagram shows up without waiting for 1023 more.
  const decoder = new CaptureDecoder({ name: 'lo', pool, yieldPartialBatches: true });
  const seen: { dstPort: number; wireLength: number }[] = [];
  const reading = (async () => {
    for await (const batch of decoder.decode(capture.chunks())) {
      for (let i = 0; i < batch.count; i++) seen.push({ dstPort: batch.dstPort[i]!, wireLength: batch.wireLength[i]! });
      pool.release(batch);
    }
  })();
  const socket = createSocket('udp4');
  const send = (size: number): Promise<void> => new Promise((resolve, reject) => socket.send(Buffer.alloc(size), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  // Ethernet (lo) 14 + IPv4 20 + UDP 8 + payload: the measured datagrams are the ones of 142 bytes and more.
  const measured = (): { dstPort: number; wireLength: number }[] => seen.filter((p) => p.wireLength >= 14 + 20 + 8 + 100);
  try {
    // tcpdump takes a moment to open the interface (seconds on a loaded machine: test files run in
    // parallel): keep sending small datagrams until the first one is decoded
    const deadline = Date.now() + 60_000;
    while (seen.length === 0) {
      assert.ok(Date.now() < deadline, `tcpdump did not capture within 60 s: ${JSON.stringify(capture.stats)}`);
      await send(10);
      await new Promise((r) => setTimeout(r, 50));
    }
    const warmUp = seen.length;
    for (let i = 0; i < 200; i++) await send(100 + i);
    // stop once all have been decoded (immediate mode hands them over as they come), not after a
    // fixed pause that a loaded machine can outlast
    for (const until = Date.now() + 30_000; measured().length < 200 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
    await capture.stop();
    await reading;
    assert.equal(measured().length, 200, `captured ${seen.length} datagrams (${warmUp} before the measured ones)`);
    assert.ok(seen.every((p) => p.dstPort === port));
    assert.deepEqual(
      measured().map((p) => p.wireLength),
      Array.from({ length: 200 }, (_, i) => 14 + 20 + 8 + 100 + i),
    );
    assert.equal(capture.stats.droppedByKernel, 0);
    assert.ok(capture.stats.captured >= 200, JSON.stringify(capture.stats));
  } finally {
    socket.close();
    receiver.close();
    await capture.stop();
  }
});

test('live capture: an interface that does not exist gives NS_ERR_CAPTURE_LIVE with tcpdump\'s reason', { skip }, async () => {
  const capture = new LiveCapture({ iface: 'no-such-if0' });
  await assert.rejects(
    (async () => {
      for await (const chunk of capture.chunks()) void chunk;
    })(),
    (error: Error & { code?: string }) => error.code === 'NS_ERR_CAPTURE_LIVE' && error.message.includes('no-such-if0'),
  );
});
