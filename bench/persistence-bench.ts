/**
 * The probe's persistence alone: a synthetic headers-only capture (in memory, decoded once per run
 * with the frames kept) written to a temporary folder in each format as the probe replays a file
 * (offerWithoutDropping: nothing dropped). Prints packets/s and MB/s
 * written, and what keeping the frames costs the decoder.
 *
 *   node dist/bench/persistence-bench.js [--packets N] [--workers N] [--runs N] [--dir DIR]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PacketPersistence, type PersistenceFormat } from '../src/capture/persistence/index.js';
import { CaptureDecoder } from '../src/decode/index.js';
import { BatchPool } from '../src/model/packet.js';
import { TrafficGenerator } from '../src/synth/index.js';

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '1000000' },
    workers: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string' },
  },
});
const packets = Number(values.packets);
const workers = Number(values.workers);
const runs = Number(values.runs);

const chunks = [...new TrafficGenerator({ packets, flows: Math.min(100_000, packets / 20), ipv6Fraction: 0.1, nanosecond: true, durationSeconds: 600, seed: 1 })];
const captureBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
console.log(`capture: ${packets.toLocaleString('en-US')} packets, ${(captureBytes / 1e6).toFixed(1)} MB in memory; ${workers} workers; best of ${runs}`);

async function* replay(): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

async function decodeOnly(keepFrames: boolean): Promise<number> {
  const pool = new BatchPool();
  const decoder = new CaptureDecoder({ name: 'bench', pool, keepFrames });
  const started = performance.now();
  for await (const batch of decoder.decode(replay())) pool.release(batch);
  return (performance.now() - started) / 1000;
}

async function persist(format: PersistenceFormat, directory: string): Promise<{ seconds: number; bytes: number; files: number }> {
  const persistence = new PacketPersistence({ directory, format, workers, queuePackets: 10_000 });
  await persistence.start();
  const pool = new BatchPool();
  const decoder = new CaptureDecoder({ name: 'bench', pool, keepFrames: persistence.needsFrames });
  const started = performance.now();
  for await (const batch of decoder.decode(replay())) {
    await persistence.offerWithoutDropping(batch, 0, batch.count, decoder.frames);
    pool.release(batch);
  }
  await persistence.stop();
  const seconds = (performance.now() - started) / 1000;
  if (persistence.stats.written !== packets) throw new Error(`wrote ${persistence.stats.written} of ${packets} packets`);
  return { seconds, bytes: persistence.stats.bytesWritten, files: persistence.stats.files };
}

const best = async (run: () => Promise<number>): Promise<number> => {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) fastest = Math.min(fastest, await run());
  return fastest;
};

const plain = await best(() => decodeOnly(false));
const keeping = await best(() => decodeOnly(true));
const rate = (seconds: number): string => `${Math.round(packets / seconds).toLocaleString('en-US')} packets/s`;
console.log(`decode only:                ${rate(plain)}`);
console.log(`decode keeping the frames:  ${rate(keeping)} (${((keeping / plain - 1) * 100).toFixed(0)} % more time)`);

for (const format of ['pcap', 'pcapng', 'jsonl'] as const) {
  let fastest = { seconds: Infinity, bytes: 0, files: 0 };
  for (let i = 0; i < runs; i++) {
    const directory = await mkdtemp(join(values.dir ?? tmpdir(), 'ns-persist-bench-'));
    try {
      const result = await persist(format, directory);
      if (result.seconds < fastest.seconds) fastest = result;
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
  console.log(
    `decode + persist ${format.padEnd(7)}:  ${rate(fastest.seconds)}, ${(fastest.bytes / 1e6 / fastest.seconds).toFixed(0)} MB/s (${(fastest.bytes / 1e6).toFixed(0)} MB in ${fastest.files} files)`,
  );
}
