/** Random packets for the exact-path tests, with a naive Map-based reference to compare against. */
import { PacketBatch } from '../../src/model/packet.js';
import { formatAddressWords } from '../../src/model/ip.js';

export interface RandomPacket {
  seconds: number;
  nanos: number;
  length: number;
  family: 4 | 6;
  src: [number, number, number, number];
  dst: [number, number, number, number];
  srcPort: number;
  dstPort: number;
  protocol: number;
}

/** Small, fast, seeded (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` packets over `hosts` addresses (both families, including an IPv6 `::ffff:a.b.c.d` that
 * must stay distinct from IPv4 a.b.c.d), few ports so keys repeat, timestamps mostly increasing
 * with some out of order.
 */
export function randomPackets(count: number, seed: number, hosts = 200, startSeconds = 1_700_000_000): RandomPacket[] {
  const random = prng(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const addresses: { family: 4 | 6; words: [number, number, number, number] }[] = [];
  for (let h = 0; h < hosts; h++) {
    if (h % 5 === 4) addresses.push({ family: 6, words: [0x20010db8, pick(4), 0, h] });
    else addresses.push({ family: 4, words: [0, 0, 0xffff, (0x0a000000 + h) >>> 0] });
  }
  addresses.push({ family: 6, words: [0, 0, 0xffff, 0x0a000001] }); // same bits as IPv4 10.0.0.1
  const v4 = addresses.filter((a) => a.family === 4);
  const v6 = addresses.filter((a) => a.family === 6);
  const out: RandomPacket[] = [];
  let seconds = startSeconds;
  let nanos = 0;
  for (let i = 0; i < count; i++) {
    nanos += pick(50_000_000);
    if (nanos >= 1e9) {
      seconds += Math.floor(nanos / 1e9);
      nanos %= 1e9;
    }
    const pool = random() < 0.25 ? v6 : v4;
    const src = pool[pick(pool.length)]!;
    const dst = pool[pick(pool.length)]!;
    const protocol = [6, 17, 1, 58][pick(4)]!;
    const ports = protocol === 6 || protocol === 17;
    const late = random() < 0.05; // out of order by up to 2 s
    out.push({
      seconds: late ? Math.max(startSeconds, seconds - 1 - pick(2)) : seconds,
      nanos: late ? pick(1e9) : nanos,
      length: 40 + pick(1460),
      family: src.family,
      src: src.words,
      dst: dst.family === src.family ? dst.words : src.words,
      srcPort: ports ? [80, 443, 53, 12345, 40000 + pick(3)][pick(5)]! : 0,
      dstPort: ports ? [80, 443, 53][pick(3)]! : 0,
      protocol,
    });
  }
  return out;
}

export function fillBatches(packets: readonly RandomPacket[], capacity: number, shared = false): PacketBatch[] {
  const batches: PacketBatch[] = [];
  let batch = new PacketBatch(capacity, shared);
  for (const p of packets) {
    if (batch.full) {
      batches.push(batch);
      batch = new PacketBatch(capacity, shared);
    }
    const i = batch.count++;
    batch.tsSeconds[i] = p.seconds;
    batch.tsNanos[i] = p.nanos;
    batch.wireLength[i] = p.length;
    batch.family[i] = p.family;
    batch.protocol[i] = p.protocol;
    batch.srcPort[i] = p.srcPort;
    batch.dstPort[i] = p.dstPort;
    batch.srcAddr.set(p.src, i * 4);
    batch.dstAddr.set(p.dst, i * 4);
  }
  if (batch.count > 0) batches.push(batch);
  return batches;
}

export interface ReferenceFlow {
  key: Record<string, string | number>;
  packets: number;
  bytes: number;
  first: bigint;
  last: bigint;
}

/** The obvious implementation: a Map from a JSON key to counters. */
export function referenceFlows(packets: readonly RandomPacket[], fields: readonly string[]): Map<string, ReferenceFlow> {
  const flows = new Map<string, ReferenceFlow>();
  for (const p of packets) {
    const key: Record<string, string | number> = {};
    if (fields.includes('SrcIP')) key.SrcIP = formatAddressWords(p.src, 0, p.family);
    if (fields.includes('DstIP')) key.DstIP = formatAddressWords(p.dst, 0, p.family);
    if (fields.includes('SrcPort')) key.SrcPort = p.srcPort;
    if (fields.includes('DstPort')) key.DstPort = p.dstPort;
    if (fields.includes('Protocol')) key.Protocol = p.protocol;
    const id = JSON.stringify(key);
    const time = BigInt(p.seconds) * 1_000_000_000n + BigInt(p.nanos);
    const flow = flows.get(id);
    if (flow === undefined) flows.set(id, { key, packets: 1, bytes: p.length, first: time, last: time });
    else {
      flow.packets++;
      flow.bytes += p.length;
      if (time < flow.first) flow.first = time;
      if (time > flow.last) flow.last = time;
    }
  }
  return flows;
}

/**
 * Ingest `count` distinct IPv4/TCP 5-tuples (flow `id` → 10.x source, 192.168.0.x destination,
 * source port `id & 0xffff`) into `ingest`, one reused batch at a time: for memory-per-flow checks.
 */
export function ingestDistinctFlows(count: number, ingest: (batch: PacketBatch) => void): void {
  const batch = new PacketBatch(8192);
  for (let made = 0; made < count; made += batch.count) {
    batch.count = Math.min(batch.capacity, count - made);
    for (let i = 0; i < batch.count; i++) {
      const id = made + i;
      batch.tsSeconds[i] = 1_700_000_000;
      batch.tsNanos[i] = 0;
      batch.wireLength[i] = 60;
      batch.family[i] = 4;
      batch.protocol[i] = 6;
      batch.srcAddr.set([0, 0, 0xffff, 0x0a000000 + (id >>> 8)], i * 4);
      batch.dstAddr.set([0, 0, 0xffff, 0xc0a80000 + (id & 0xff)], i * 4);
      batch.srcPort[i] = id & 0xffff;
      batch.dstPort[i] = 443;
    }
    ingest(batch);
  }
}
