/**
 * Synthetic traffic with known exact answers, for the sketch accuracy tests and the sketch bench.
 *
 * Packets are held column-wise as host indices (not addresses), so a 5M-packet trace costs ~70 MB,
 * and are copied into PacketBatch objects on demand. The trace mixes
 *  - background: `flows` 5-tuple flows whose packet counts follow Zipf(`zipf`), each between a source
 *    and a destination host drawn uniformly from their pools (a fraction of flows over IPv6);
 *  - super-spreaders: sources that contact `spread` distinct targets (log-uniform in a range),
 *    each target 1..`maxPacketsPerTarget` times, so repeated packets must not inflate the spread;
 *  - a SYN flood: one packet from each of `synFlood` distinct spoofed sources to one victim;
 * all shuffled together. Everything derives from `seed`.
 */
import { formatAddressWords, parseAddress } from '../../src/model/ip.js';
import { PacketBatch } from '../../src/model/packet.js';
import type { SketchEntry } from '../../src/engine/tasks/sketch-contract.js';

export interface SpreaderSpec {
  /** Number of such sources. */
  count: number;
  /** Range of their distinct-target counts (log-uniform). */
  minSpread: number;
  maxSpread: number;
  /** Each target gets 1..maxPacketsPerTarget packets. */
  maxPacketsPerTarget: number;
}

export interface TrafficSpec {
  seed: number;
  /** Packets of the Zipf background. */
  packets: number;
  flows: number;
  zipf: number;
  sources: number;
  destinations: number;
  /** Fraction of background flows (and of their hosts) that are IPv6. */
  ipv6Fraction: number;
  spreaders: SpreaderSpec[];
  /** Packets (= distinct spoofed sources) of the SYN flood to one victim. */
  synFlood: number;
}

export interface Traffic {
  readonly packetCount: number;
  /** Host index of each packet's source / destination. */
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  readonly protocol: Uint8Array;
  readonly wireLength: Uint16Array;
  /** Host table: 4 address words (PacketBatch layout) and the family of each host. */
  readonly hostWords: Uint32Array;
  readonly hostFamily: Uint8Array;
  readonly hostCount: number;
  /** Host indices of the super-spreaders and of the flood victim. */
  readonly spreaderHosts: number[];
  readonly victimHost: number;
}

/** xoshiro128**: a small, fast, seedable generator (tests need reproducibility, not crypto). */
export class Random {
  readonly #s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32 to spread the seed over the state
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      this.#s[i] = (z ^ (z >>> 15)) >>> 0;
    }
  }

  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

class HostTable {
  words: number[] = [];
  family: number[] = [];

  addV4(address: number): number {
    this.words.push(0, 0, 0xffff, address >>> 0);
    this.family.push(4);
    return this.family.length - 1;
  }

  addV6(w0: number, w1: number, w2: number, w3: number): number {
    this.words.push(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0);
    this.family.push(6);
    return this.family.length - 1;
  }
}

/** Zipf(s) over ranks 1..n as a cumulative table for inverse-CDF sampling. */
function zipfCumulative(n: number, s: number): Float64Array {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += (k + 1) ** -s;
    cumulative[k] = sum;
  }
  for (let k = 0; k < n; k++) cumulative[k] = cumulative[k]! / sum;
  return cumulative;
}

function sampleCumulative(cumulative: Float64Array, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function generateTraffic(spec: TrafficSpec): Traffic {
  const random = new Random(spec.seed);
  const hosts = new HostTable();

  // Host pools. IPv4 hosts are numbered inside their own prefix, so addresses are unique by construction.
  const v6Sources = Math.round(spec.sources * spec.ipv6Fraction);
  const v6Destinations = Math.round(spec.destinations * spec.ipv6Fraction);
  const sourcesV4: number[] = [];
  const sourcesV6: number[] = [];
  const destinationsV4: number[] = [];
  const destinationsV6: number[] = [];
  for (let i = 0; i < spec.sources - v6Sources; i++) sourcesV4.push(hosts.addV4(0x0a000000 + i)); // 10.0.0.0/8
  for (let i = 0; i < v6Sources; i++) sourcesV6.push(hosts.addV6(0x20010db8, 0, 0x1, i)); // 2001:db8:0:0:0:1::/96
  for (let i = 0; i < spec.destinations - v6Destinations; i++) destinationsV4.push(hosts.addV4(0xc0a80000 + i)); // 192.168/16 and up
  for (let i = 0; i < v6Destinations; i++) destinationsV6.push(hosts.addV6(0x20010db8, 0, 0x2, i));

  const columns = new Columns(spec.packets + spec.synFlood + 1024);
  const push = columns.push.bind(columns);

  // Background flows: endpoints, ports and a typical packet size per flow.
  const flowSrc = new Uint32Array(spec.flows);
  const flowDst = new Uint32Array(spec.flows);
  const flowSport = new Uint16Array(spec.flows);
  const flowDport = new Uint16Array(spec.flows);
  const flowProto = new Uint8Array(spec.flows);
  const flowSize = new Uint16Array(spec.flows);
  const commonPorts = [80, 443, 53, 22, 25, 123, 8080, 3306];
  const typicalSizes = [64, 80, 576, 1200, 1500];
  for (let f = 0; f < spec.flows; f++) {
    const v6 = sourcesV6.length > 0 && destinationsV6.length > 0 && random.next() < spec.ipv6Fraction;
    flowSrc[f] = v6 ? sourcesV6[random.below(sourcesV6.length)]! : sourcesV4[random.below(sourcesV4.length)]!;
    flowDst[f] = v6 ? destinationsV6[random.below(destinationsV6.length)]! : destinationsV4[random.below(destinationsV4.length)]!;
    flowSport[f] = 1024 + random.below(64000);
    flowDport[f] = commonPorts[random.below(commonPorts.length)]!;
    flowProto[f] = random.next() < 0.8 ? 6 : 17;
    flowSize[f] = typicalSizes[random.below(typicalSizes.length)]!;
  }
  const cumulative = zipfCumulative(spec.flows, spec.zipf);
  for (let p = 0; p < spec.packets; p++) {
    const f = sampleCumulative(cumulative, random.next());
    const typical = flowSize[f]!;
    // ±10% jitter, within Ethernet limits
    const length = Math.max(60, Math.min(1514, Math.round(typical * (0.9 + 0.2 * random.next()))));
    push(flowSrc[f]!, flowDst[f]!, flowSport[f]!, flowDport[f]!, flowProto[f]!, length);
  }

  // Super-spreaders scan a shared pool of 2^16 targets (172.16.0.0/16): target t of spreader j is
  // (offset_j + t * stride_j) mod 2^16 with an odd stride, so its targets are distinct.
  const targets: number[] = [];
  for (let i = 0; i < 65536; i++) targets.push(hosts.addV4(0xac100000 + i));
  const spreaderHosts: number[] = [];
  let spreaderId = 0;
  for (const group of spec.spreaders) {
    for (let j = 0; j < group.count; j++) {
      const host = hosts.addV4(0x64400000 + spreaderId++); // 100.64.0.0/10
      spreaderHosts.push(host);
      const spread = Math.round(group.minSpread * (group.maxSpread / group.minSpread) ** random.next());
      const offset = random.below(65536);
      const stride = 2 * random.below(32768) + 1;
      for (let t = 0; t < Math.min(spread, 65536); t++) {
        const target = targets[(offset + t * stride) & 0xffff]!;
        const repeats = 1 + random.below(group.maxPacketsPerTarget);
        const sport = 1024 + random.below(64000);
        for (let r = 0; r < repeats; r++) push(host, target, sport, 445, 6, 60 + random.below(20));
      }
    }
  }

  // SYN flood: distinct spoofed sources in 198.0.0.0/8 (an odd multiplier is a bijection mod 2^24).
  const victimHost = hosts.addV4(0xcb007101); // 203.0.113.1
  for (let i = 0; i < spec.synFlood; i++) {
    const spoofed = hosts.addV4(0xc6000000 | (Math.imul(i + 1, 0x9e3779b1) & 0xffffff));
    push(spoofed, victimHost, 1024 + random.below(64000), 80, 6, 60);
  }

  // Shuffle so that every kind of traffic is interleaved.
  const n = columns.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.below(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const permute = <T extends Uint32Array | Uint16Array | Uint8Array>(values: T, out: T): T => {
    for (let i = 0; i < n; i++) out[i] = values[order[i]!]!;
    return out;
  };
  return {
    packetCount: n,
    src: permute(columns.src, new Uint32Array(n)),
    dst: permute(columns.dst, new Uint32Array(n)),
    srcPort: permute(columns.srcPort, new Uint16Array(n)),
    dstPort: permute(columns.dstPort, new Uint16Array(n)),
    protocol: permute(columns.protocol, new Uint8Array(n)),
    wireLength: permute(columns.wireLength, new Uint16Array(n)),
    hostWords: Uint32Array.from(hosts.words),
    hostFamily: Uint8Array.from(hosts.family),
    hostCount: hosts.family.length,
    spreaderHosts,
    victimHost,
  };
}

/** Packet columns that grow by doubling while the trace is generated. */
class Columns {
  length = 0;
  src: Uint32Array;
  dst: Uint32Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  protocol: Uint8Array;
  wireLength: Uint16Array;

  constructor(capacity: number) {
    this.src = new Uint32Array(capacity);
    this.dst = new Uint32Array(capacity);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.protocol = new Uint8Array(capacity);
    this.wireLength = new Uint16Array(capacity);
  }

  push(src: number, dst: number, srcPort: number, dstPort: number, protocol: number, wireLength: number): void {
    if (this.length === this.src.length) this.#grow();
    const i = this.length++;
    this.src[i] = src;
    this.dst[i] = dst;
    this.srcPort[i] = srcPort;
    this.dstPort[i] = dstPort;
    this.protocol[i] = protocol;
    this.wireLength[i] = wireLength;
  }

  #grow(): void {
    const capacity = this.src.length * 2;
    const grow = <T extends Uint32Array | Uint16Array | Uint8Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    this.src = grow(this.src, new Uint32Array(capacity));
    this.dst = grow(this.dst, new Uint32Array(capacity));
    this.srcPort = grow(this.srcPort, new Uint16Array(capacity));
    this.dstPort = grow(this.dstPort, new Uint16Array(capacity));
    this.protocol = grow(this.protocol, new Uint8Array(capacity));
    this.wireLength = grow(this.wireLength, new Uint16Array(capacity));
  }
}

/** Copy packets [from, from + batch.capacity) of the trace into `batch`; returns the count copied. */
export function fillBatch(traffic: Traffic, from: number, batch: PacketBatch): number {
  const count = Math.min(batch.capacity, traffic.packetCount - from);
  const words = traffic.hostWords;
  for (let i = 0; i < count; i++) {
    const p = from + i;
    const s = traffic.src[p]! * 4;
    const d = traffic.dst[p]! * 4;
    for (let w = 0; w < 4; w++) {
      batch.srcAddr[i * 4 + w] = words[s + w]!;
      batch.dstAddr[i * 4 + w] = words[d + w]!;
    }
    batch.family[i] = traffic.hostFamily[traffic.src[p]!]!;
    batch.srcPort[i] = traffic.srcPort[p]!;
    batch.dstPort[i] = traffic.dstPort[p]!;
    batch.protocol[i] = traffic.protocol[p]!;
    batch.wireLength[i] = traffic.wireLength[p]!;
    batch.tsSeconds[i] = 1_700_000_000 + Math.floor(p / 100_000);
    batch.tsNanos[i] = (p % 100_000) * 10_000;
  }
  batch.count = count;
  return count;
}

/** The whole trace as ready batches of `capacity` packets (for benches: filling is not timed). */
export function toBatches(traffic: Traffic, capacity: number): PacketBatch[] {
  const batches: PacketBatch[] = [];
  for (let from = 0; from < traffic.packetCount; from += capacity) {
    const batch = new PacketBatch(capacity);
    fillBatch(traffic, from, batch);
    batches.push(batch);
  }
  return batches;
}

/** Feed the whole trace to `ingest` through one reused batch of `capacity` packets. */
export function feed(traffic: Traffic, capacity: number, ingest: (batch: PacketBatch) => void): void {
  const batch = new PacketBatch(capacity);
  for (let from = 0; from < traffic.packetCount; from += capacity) {
    fillBatch(traffic, from, batch);
    ingest(batch);
  }
}

export function hostText(traffic: Traffic, host: number): string {
  return formatAddressWords(traffic.hostWords, host * 4, traffic.hostFamily[host]!);
}

/** Exact per-host totals with the host as source (`'src'`) or destination (`'dst'`). */
export interface ExactTotals {
  packets: Float64Array;
  bytes: Float64Array;
  /** Distinct hosts on the other side. */
  spread: Uint32Array;
}

export function exactTotals(traffic: Traffic, side: 'src' | 'dst'): ExactTotals {
  const key = side === 'src' ? traffic.src : traffic.dst;
  const other = side === 'src' ? traffic.dst : traffic.src;
  const packets = new Float64Array(traffic.hostCount);
  const bytes = new Float64Array(traffic.hostCount);
  const spread = new Uint32Array(traffic.hostCount);
  const pairs = new Float64Array(traffic.packetCount);
  for (let p = 0; p < traffic.packetCount; p++) {
    const k = key[p]!;
    packets[k]! += 1;
    bytes[k]! += traffic.wireLength[p]!;
    pairs[p] = k * traffic.hostCount + other[p]!;
  }
  pairs.sort();
  for (let p = 0; p < pairs.length; p++) {
    if (p > 0 && pairs[p] === pairs[p - 1]) continue;
    spread[Math.floor(pairs[p]! / traffic.hostCount)]! += 1;
  }
  return { packets, bytes, spread };
}

/** Hosts whose value reaches `threshold`, by their key text. */
export function truthAtThreshold(traffic: Traffic, values: ArrayLike<number>, threshold: number): Map<string, number> {
  const truth = new Map<string, number>();
  for (let host = 0; host < traffic.hostCount; host++) {
    const value = values[host]!;
    if (value >= threshold && value > 0) truth.set(hostText(traffic, host), value);
  }
  return truth;
}

export interface Accuracy {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
  /** Median of |estimate − truth| / truth over the true positives. */
  medianRelativeError: number;
  /** Largest such error. */
  maxRelativeError: number;
}

/** Compare a reported list with the exact answer at the same threshold. */
export function accuracy(reported: readonly SketchEntry[], truth: ReadonlyMap<string, number>): Accuracy {
  let truePositives = 0;
  const errors: number[] = [];
  for (const entry of reported) {
    const exact = truth.get(entry.flowText);
    if (exact === undefined) continue;
    truePositives++;
    errors.push(Math.abs(entry.value - exact) / exact);
  }
  const falsePositives = reported.length - truePositives;
  const falseNegatives = truth.size - truePositives;
  const precision = reported.length === 0 ? (truth.size === 0 ? 1 : 0) : truePositives / reported.length;
  const recall = truth.size === 0 ? 1 : truePositives / truth.size;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  errors.sort((a, b) => a - b);
  const medianRelativeError = errors.length === 0 ? 0 : errors.length % 2 === 1 ? errors[errors.length >> 1]! : (errors[errors.length / 2 - 1]! + errors[errors.length / 2]!) / 2;
  return { truePositives, falsePositives, falseNegatives, precision, recall, f1, medianRelativeError, maxRelativeError: errors.at(-1) ?? 0 };
}

/** One hand-written packet for small unit tests; addresses in text (IPv4 or IPv6). */
export interface PacketSpec {
  src: string;
  dst: string;
  length?: number;
  srcPort?: number;
  dstPort?: number;
  protocol?: number;
}

/** A batch holding `packets` (capacity = their number, at least 1). */
export function batchOf(packets: readonly PacketSpec[]): PacketBatch {
  const batch = new PacketBatch(Math.max(1, packets.length));
  packets.forEach((packet, i) => {
    const src = parseAddress(packet.src);
    const dst = parseAddress(packet.dst);
    if (src === undefined || dst === undefined) throw new Error(`bad address in ${JSON.stringify(packet)}`);
    if (src.family !== dst.family) throw new Error(`mixed families in ${JSON.stringify(packet)}`);
    batch.srcAddr.set(src.words, i * 4);
    batch.dstAddr.set(dst.words, i * 4);
    batch.family[i] = src.family;
    batch.wireLength[i] = packet.length ?? 100;
    batch.srcPort[i] = packet.srcPort ?? 40000;
    batch.dstPort[i] = packet.dstPort ?? 80;
    batch.protocol[i] = packet.protocol ?? 6;
  });
  batch.count = packets.length;
  return batch;
}
