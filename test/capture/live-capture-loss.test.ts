/**
 * A live capture that tcpdump stops giving (killed by the OOM killer, an operator, a signal that
 * arrived before its handler) must end with NS_ERR_CAPTURE_LIVE, not as a silent end of the
 * stream that looks like a quiet link; and stop() itself is never such a loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { LiveCapture } from '../../src/capture/live-capture.js';
import { isNetSpectraError } from '../../src/model/errors.js';
import { liveCaptureSkip } from '../kit/live-capture.js';

/** Read until the first packet arrives (past the pcap file header; datagrams are sent meanwhile), then call `then`, then read to the end. */
async function captureThen(then: (port: number) => void | Promise<void>, capture: (port: number) => LiveCapture): Promise<{ chunks: number; error: unknown }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  const live = capture(port);
  let chunks = 0;
  let bytes = 0;
  let error: unknown;
  let acted = false;
  const sender = setInterval(() => socket.send(Buffer.from('x'), port, '127.0.0.1'), 50);
  try {
    for await (const chunk of live.chunks()) {
      chunks++;
      bytes += chunk.byteLength;
      // the first chunk may be the 24-byte file header alone: act once a packet record is in
      if (!acted && bytes > 24) {
        acted = true;
        await then(port);
      }
    }
  } catch (caught) {
    error = caught;
  } finally {
    clearInterval(sender);
    socket.close();
    await live.stop();
  }
  return { chunks, error };
}

test('tcpdump killed while capturing: the capture ends with NS_ERR_CAPTURE_LIVE naming the signal', { skip: liveCaptureSkip() }, async () => {
  const { chunks, error } = await captureThen(
    (port) => {
      execFileSync('pkill', ['-KILL', '-f', `tcpdump -i lo .*dst port ${port}$`]);
    },
    (port) => new LiveCapture({ iface: 'lo', filter: `udp and dst port ${port}`, statsIntervalMs: 100 }),
  );
  assert.ok(chunks > 0);
  assert.ok(isNetSpectraError(error) && error.code === 'NS_ERR_CAPTURE_LIVE' && /SIGKILL/.test(error.message), String(error));
});

test('stop() while capturing (with counters asked for every 100 ms) ends the capture cleanly, with the counters', { skip: liveCaptureSkip() }, async () => {
  let live: LiveCapture | undefined;
  const { chunks, error } = await captureThen(
    () => live!.stop(),
    (port) => (live = new LiveCapture({ iface: 'lo', filter: `udp and dst port ${port}`, statsIntervalMs: 100 })),
  );
  assert.equal(error, undefined);
  assert.ok(chunks > 0);
  assert.ok(live!.stats.captured > 0, JSON.stringify(live!.stats));
});
