/**
 * Micro benchmark of capture decoding: a generated in-memory pcap of headers-only
 * Ethernet/IPv4/TCP and UDP frames (70-byte records, like a snaplen-cut capture), decoded whole and
 * in 1 MiB chunks. Prints packets/s. Usage: node dist/bench/decode-bench.js [packets] [runs]
 */
import { CaptureDecoder } from '../src/decode/index.js';
import { BatchPool } from '../src/model/packet.js';

const RECORD_HEADER = 16;
const FRAME_LENGTH = 54; // Ethernet 14 + IPv4 20 + TCP 20 (UDP frames are padded to the same size)

function generatePcap(packets: number): Uint8Array {
  const recordLength = RECORD_HEADER + FRAME_LENGTH;
  const bytes = new Uint8Array(24 + packets * recordLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, 1, true);
  let seed = 12345;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  for (let i = 0; i < packets; i++) {
    const at = 24 + i * recordLength;
    view.setUint32(at, 1_700_000_000 + Math.floor(i / 100_000), true);
    view.setUint32(at + 4, (i * 7) % 1_000_000, true);
    view.setUint32(at + 8, FRAME_LENGTH, true);
    view.setUint32(at + 12, 60 + (random() & 1023), true);
    const frame = at + RECORD_HEADER;
    view.setUint16(frame + 12, 0x0800);
    const ip = frame + 14;
    const udp = (random() & 3) === 0;
    bytes[ip] = 0x45;
    view.setUint16(ip + 2, udp ? 28 : 40);
    bytes[ip + 8] = 64;
    bytes[ip + 9] = udp ? 17 : 6;
    view.setUint32(ip + 12, 0x0a000000 | (random() & 0xffff));
    view.setUint32(ip + 16, 0xc0a80000 | (random() & 0xff));
    view.setUint16(ip + 20, 1024 + (random() & 0x7fff));
    view.setUint16(ip + 22, udp ? 53 : 443);
  }
  return bytes;
}

/** The buffer as a stream of chunks, like a file source delivers it. */
function chunked(bytes: Uint8Array, chunkSize: number): AsyncIterable<Uint8Array> {
  let at = 0;
  return {
    [Symbol.asyncIterator]: () => ({
      next: (): Promise<IteratorResult<Uint8Array>> => {
        if (at >= bytes.length) return Promise.resolve({ done: true, value: undefined });
        const chunk = bytes.subarray(at, Math.min(bytes.length, at + chunkSize));
        at += chunkSize;
        return Promise.resolve({ done: false, value: chunk });
      },
    }),
  };
}

interface Run {
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds of this process: steadier than wall time on a shared machine. */
  cpuSeconds: number;
  packets: number;
}

async function decodeOnce(bytes: Uint8Array, chunkSize: number, pool: BatchPool): Promise<Run> {
  const decoder = new CaptureDecoder({ name: 'bench.pcap', pool });
  let packets = 0;
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  for await (const batch of decoder.decode(chunked(bytes, chunkSize))) {
    packets += batch.count;
    pool.release(batch);
  }
  const cpu = process.cpuUsage(cpuStarted);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (decoder.error !== undefined) throw decoder.error;
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, packets };
}

async function main(): Promise<void> {
  const packets = Number(process.argv[2] ?? 5_000_000);
  const runs = Number(process.argv[3] ?? 5);
  const bytes = generatePcap(packets);
  const pool = new BatchPool();
  console.log(`decode-bench: ${packets} packets, ${(bytes.length / 1e6).toFixed(1)} MB pcap in memory (Ethernet/IPv4/TCP+UDP, 70-byte records)`);
  for (const [label, chunkSize] of [
    ['whole buffer', bytes.length],
    ['1 MiB chunks', 1024 * 1024],
  ] as const) {
    let best = Infinity;
    let bestCpu = Infinity;
    for (let run = 0; run < runs; run++) {
      const result = await decodeOnce(bytes, chunkSize, pool);
      if (result.packets !== packets) throw new Error(`decoded ${result.packets} of ${packets} packets`);
      best = Math.min(best, result.seconds);
      bestCpu = Math.min(bestCpu, result.cpuSeconds);
    }
    const rate = packets / best;
    console.log(
      `${label.padEnd(14)} best of ${runs}: ${(best * 1000).toFixed(1)} ms  ${(rate / 1e6).toFixed(2)} M packets/s  ${(bytes.length / best / 1e9).toFixed(2)} GB/s` +
        `  (CPU time: ${(packets / bestCpu / 1e6).toFixed(2)} M packets/s)`,
    );
  }
}

await main();
