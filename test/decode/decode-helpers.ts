/** Shared by the decode tests: run a CaptureDecoder to the end and summarise what it produced. */
import { CaptureDecoder } from '../../src/decode/index.js';
import type { DecodeStats } from '../../src/decode/index.js';
import type { NetSpectraError } from '../../src/model/errors.js';
import { formatAddressWords } from '../../src/model/ip.js';
import { BatchPool } from '../../src/model/packet.js';


/** One 5-tuple of a truth file (../shared/tools/truth.sh, or the generator's `.truth.json`). */
export interface TruthFlow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  packets: number;
  bytes: number;
}

export interface DecodedPacket {
  seconds: number;
  nanos: number;
  wireLength: number;
  family: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
}

export interface DecodeResult {
  stats: DecodeStats;
  error: NetSpectraError | undefined;
  packets: DecodedPacket[];
  /** `src dst sport dport proto` → [packets, bytes] */
  flows: Map<string, [number, number]>;
  batches: number;
}

export function flowKey(src: string, dst: string, srcPort: number, dstPort: number, protocol: number): string {
  return `${src} ${dst} ${srcPort} ${dstPort} ${protocol}`;
}

/** Serve already-sliced chunks the way a stream would (one async step per chunk). */
export function asAsync<T>(items: Iterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = items[Symbol.iterator]();
      return { next: () => Promise.resolve(iterator.next()) };
    },
  };
}

function* slices(bytes: Uint8Array, chunkSize: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += chunkSize) yield bytes.subarray(at, Math.min(bytes.length, at + chunkSize));
}

function* slicesOfSizes(bytes: Uint8Array, sizes: readonly number[]): Generator<Uint8Array> {
  let turn = 0;
  for (let at = 0; at < bytes.length; ) {
    const size = Math.max(1, sizes[turn++ % sizes.length]!);
    yield bytes.subarray(at, Math.min(bytes.length, at + size));
    at += size;
  }
}

export function chunksOf(bytes: Uint8Array, chunkSize: number): AsyncIterable<Uint8Array> {
  return asAsync(slices(bytes, chunkSize));
}

/** Chunks of varying sizes drawn from `sizes` in turn. */
export function chunksOfSizes(bytes: Uint8Array, sizes: readonly number[]): AsyncIterable<Uint8Array> {
  return asAsync(slicesOfSizes(bytes, sizes));
}

export async function decodeAll(chunks: AsyncIterable<Uint8Array>, name = 'test.pcap', options: { keepPackets?: boolean; batchCapacity?: number } = {}): Promise<DecodeResult> {
  const pool = new BatchPool(options.batchCapacity ?? 256);
  const decoder = new CaptureDecoder({ name, pool });
  const packets: DecodedPacket[] = [];
  const flows = new Map<string, [number, number]>();
  let batches = 0;
  for await (const batch of decoder.decode(chunks)) {
    batches++;
    if (batch.count <= 0) throw new Error('decoder yielded an empty batch');
    for (let i = 0; i < batch.count; i++) {
      const family = batch.family[i]!;
      if (family !== 4 && family !== 6) throw new Error(`batch slot ${i} has family ${family}`);
      const src = formatAddressWords(batch.srcAddr, i * 4, family);
      const dst = formatAddressWords(batch.dstAddr, i * 4, family);
      const key = flowKey(src, dst, batch.srcPort[i]!, batch.dstPort[i]!, batch.protocol[i]!);
      const flow = flows.get(key) ?? [0, 0];
      flow[0]++;
      flow[1] += batch.wireLength[i]!;
      flows.set(key, flow);
      if (options.keepPackets !== false) {
        packets.push({
          seconds: batch.tsSeconds[i]!,
          nanos: batch.tsNanos[i]!,
          wireLength: batch.wireLength[i]!,
          family,
          src,
          dst,
          srcPort: batch.srcPort[i]!,
          dstPort: batch.dstPort[i]!,
          protocol: batch.protocol[i]!,
        });
      }
    }
    pool.release(batch);
  }
  return { stats: decoder.stats, error: decoder.error, packets, flows, batches };
}

export function decodeBytes(bytes: Uint8Array, name = 'test.pcap', chunkSize = bytes.length || 1): Promise<DecodeResult> {
  return decodeAll(chunksOf(bytes, chunkSize), name);
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce from the printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
