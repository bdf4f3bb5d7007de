/**
 * Synthetic traffic for `netspectra gen-pcap`: a headers-only classic pcap (Ethernet, IPv4/IPv6,
 * TCP/UDP/ICMP) plus its exact ground truth, in the field names of tools/truth.sh.
 *
 * How it works. Everything that is counted is decided up front, per *stream* (one stream = one
 * 5-tuple, all distinct by construction): F Zipf-sized flows, K×D super-spreader probes and N SYN
 * flood packets. Each stream knows its packet count, start and pacing; a binary heap of
 * streams keyed by their next timestamp then emits packets in nondecreasing time order straight into
 * large byte chunks. Memory is O(streams), never O(packets), and the truth (per-flow packets and
 * bytes, distinct destinations per source) falls out of the stream table instead of a recount.
 *
 * Pure: no I/O. The caller writes the chunks and the truth text where it likes.
 */

import { NetSpectraError } from '../model/errors.js';
import { formatAddressWords } from '../model/ip.js';
import { Sfc32, ZipfSampler } from './prng.js';

/** Bump whenever the same config would produce different bytes (it keys cached bench traces). */
export const GENERATOR_VERSION = 1;

export interface TrafficConfig {
  /** Packet records in the capture. */
  readonly packets: number;
  /**
   * Zipf-sized 5-tuple flows, each with at least one packet.
   * @default min(10000, max(1, floor(packets / 20))), lowered to what the spreaders and the flood leave
   */
  readonly flows: number;
  /** Zipf exponent s of the flow sizes (packets per flow ∝ rank^-s). @default 1.1 */
  readonly zipfExponent: number;
  /** Super-spreader sources. @default 0 */
  readonly spreaders: number;
  /** Distinct destinations each super-spreader probes (1–3 SYNs each). @default 1000 */
  readonly spreadDestinations: number;
  /** SYN flood packets, one per spoofed source, to one victim's port 80. @default 0 */
  readonly synFloodPackets: number;
  /** Fraction of flows (and super-spreaders) that are IPv6, 0..1. @default 0.1 */
  readonly ipv6Fraction: number;
  /** PRNG seed; the same config gives byte-identical output. @default 1 */
  readonly seed: number;
  /** Capture time covered by the packets, seconds. @default 300 */
  readonly durationSeconds: number;
  /** Timestamp of the capture's start, ISO 8601 (fixed so output is reproducible). @default '2025-01-01T00:00:00Z' */
  readonly start: string;
  /** Nanosecond-resolution pcap (magic 0xa1b23c4d) instead of microseconds. @default false */
  readonly nanosecond: boolean;
  /** Captured bytes per record at most; the original wire length is kept in orig_len. @default 96 */
  readonly snaplen: number;
}

export type TrafficOptions = Partial<TrafficConfig> & { readonly packets: number };

export const DEFAULT_TRAFFIC_CONFIG = Object.freeze({
  zipfExponent: 1.1,
  spreaders: 0,
  spreadDestinations: 1000,
  synFloodPackets: 0,
  ipv6Fraction: 0.1,
  seed: 1,
  durationSeconds: 300,
  start: '2025-01-01T00:00:00Z',
  nanosecond: false,
  snaplen: 96,
});

export function defaultFlowCount(packets: number): number {
  return Math.min(10_000, Math.max(1, Math.floor(packets / 20)));
}

/** Largest header stack we emit (Ethernet + IPv6 + TCP SYN with 20 option bytes); snaplen must hold it. */
export const MIN_SNAPLEN = 14 + 40 + 40;
/** Streams are the memory unit (≈70 bytes each with their hash sets). */
const MAX_STREAMS = 20_000_000;
const SYN_FLOOD_PORT = 80;

function invalid(key: keyof TrafficConfig, message: string): NetSpectraError {
  return new NetSpectraError('NS_ERR_CONFIG_INVALID_VALUE', message, { location: { key } });
}

function requireInteger(config: TrafficConfig, key: keyof TrafficConfig, min: number, max: number): void {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(key, `${key} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/**
 * Fill in defaults and check every field, throwing NS_ERR_CONFIG_INVALID_VALUE with the offending
 * field in `location.key` (the CLI maps it back to a flag). The result is frozen.
 */
export function resolveTrafficConfig(options: TrafficOptions): Readonly<TrafficConfig> {
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as TrafficOptions;
  const withDefaults = { ...DEFAULT_TRAFFIC_CONFIG, ...given };
  const probes = withDefaults.spreaders * withDefaults.spreadDestinations + withDefaults.synFloodPackets;
  const config: TrafficConfig = {
    flows: Math.max(1, Math.min(defaultFlowCount(withDefaults.packets), withDefaults.packets - probes)),
    ...withDefaults,
  };
  requireInteger(config, 'packets', 1, 1_000_000_000);
  requireInteger(config, 'flows', 1, MAX_STREAMS);
  requireInteger(config, 'spreaders', 0, 100_000);
  requireInteger(config, 'spreadDestinations', 1, MAX_STREAMS);
  requireInteger(config, 'synFloodPackets', 0, MAX_STREAMS);
  requireInteger(config, 'seed', 0, Number.MAX_SAFE_INTEGER);
  requireInteger(config, 'snaplen', MIN_SNAPLEN, 262_144);
  if (!(config.zipfExponent > 0 && config.zipfExponent <= 10)) throw invalid('zipfExponent', `zipfExponent must be in (0, 10], got ${config.zipfExponent}`);
  if (!(config.ipv6Fraction >= 0 && config.ipv6Fraction <= 1)) throw invalid('ipv6Fraction', `ipv6Fraction must be in [0, 1], got ${config.ipv6Fraction}`);
  // Timestamps are integer nanoseconds in a double, exact up to 2^53 ns ≈ 104 days.
  if (!(config.durationSeconds > 0 && config.durationSeconds <= 8_000_000)) {
    throw invalid('durationSeconds', `durationSeconds must be in (0, 8000000], got ${config.durationSeconds}`);
  }
  const startMs = Date.parse(config.start);
  // pcap timestamps are unsigned 32-bit seconds.
  if (!Number.isFinite(startMs) || startMs < 0 || startMs / 1000 + config.durationSeconds >= 2 ** 32) {
    throw invalid('start', `start must be an ISO 8601 time between 1970 and 2106, got '${config.start}'`);
  }
  const streams = config.flows + config.spreaders * config.spreadDestinations + config.synFloodPackets;
  if (streams > MAX_STREAMS) throw invalid('flows', `flows + spreaders × spread + syn flood packets must be at most ${MAX_STREAMS}, got ${streams}`);
  const minimum = streams;
  if (config.packets < minimum) {
    throw invalid(
      'packets',
      `packets (${config.packets}) must be at least flows + spreaders × spread + syn flood packets = ` +
        `${config.flows} + ${config.spreaders} × ${config.spreadDestinations} + ${config.synFloodPackets} = ${minimum}`,
    );
  }
  return Object.freeze(config);
}

// ---------------------------------------------------------------------------------------------
// Hash set over 4-word keys: address interning, 5-tuple uniqueness and (src, dst) pairs. Setup
// only (once per stream), so clarity beats the last nanosecond.

class WordKeySet {
  /** Keys in insertion order, 4 words each: the index of a key is its id. */
  keys: Uint32Array;
  size = 0;
  private slots: Int32Array;

  /** @param expected keys to size for up front, sparing the rehashes of growing from small */
  constructor(expected = 1024) {
    const capacity = Math.max(1024, expected);
    this.keys = new Uint32Array(4 * capacity);
    this.slots = new Int32Array(2 ** Math.ceil(Math.log2(capacity * 2))).fill(-1);
  }

  indexOf(a: number, b: number, c: number, d: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hashWords(a, b, c, d) & mask; ; slot = (slot + 1) & mask) {
      const id = this.slots[slot]!;
      if (id < 0) return -1;
      const at = id * 4;
      if (this.keys[at] === a >>> 0 && this.keys[at + 1] === b >>> 0 && this.keys[at + 2] === c >>> 0 && this.keys[at + 3] === d >>> 0) return id;
    }
  }

  /** Append a key known to be absent; returns its id. */
  insert(a: number, b: number, c: number, d: number): number {
    if ((this.size + 1) * 4 > this.keys.length) {
      const grown = new Uint32Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    if ((this.size + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    const id = this.size++;
    this.keys[id * 4] = a;
    this.keys[id * 4 + 1] = b;
    this.keys[id * 4 + 2] = c;
    this.keys[id * 4 + 3] = d;
    this.place(id);
    return id;
  }

  private place(id: number): void {
    const k = this.keys;
    const mask = this.slots.length - 1;
    let slot = hashWords(k[id * 4]!, k[id * 4 + 1]!, k[id * 4 + 2]!, k[id * 4 + 3]!) & mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
    this.slots[slot] = id;
  }

  private rehash(slotCount: number): void {
    this.slots = new Int32Array(slotCount).fill(-1);
    for (let id = 0; id < this.size; id++) this.place(id);
  }
}

function mixWord(h: number, w: number): number {
  h = Math.imul(h ^ w, 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  return Math.imul(h, 0x1b873593);
}

function hashWords(a: number, b: number, c: number, d: number): number {
  let h = mixWord(0x9747b28c, a);
  h = mixWord(h, b);
  h = mixWord(h, c);
  h = mixWord(h, d);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Traffic profiles: what a stream carries and how long its packets are on the wire.

const TCP_REQUEST = 0; // client → server: mostly bare ACKs, some requests
const TCP_BULK = 1; // server → client: mostly full-size segments
const TCP_INTERACTIVE = 2; // ssh keystrokes both ways
const DNS_QUERY = 3;
const DNS_RESPONSE = 4;
const QUIC = 5;
const NTP = 6;
const ICMP_ECHO = 7;
const SCAN_PROBE = 8; // super-spreader SYN probe (+ retransmissions)
const FLOOD_SYN = 9;

/** Cumulative weights of the profiles of ordinary flows. */
const LIGHT_PROFILE_WEIGHTS: readonly (readonly [number, number])[] = [
  [0.3, TCP_REQUEST],
  [0.58, TCP_BULK],
  [0.62, TCP_INTERACTIVE],
  [0.74, DNS_QUERY],
  [0.84, DNS_RESPONSE],
  [0.93, QUIC],
  [0.96, NTP],
  [1, ICMP_ECHO],
];
/** Flows this large are transfers, not lookups or pings. */
const HEAVY_FLOW_PACKETS = 2000;
const HEAVY_PROFILE_WEIGHTS: readonly (readonly [number, number])[] = [
  [0.2, TCP_REQUEST],
  [0.8, TCP_BULK],
  [1, QUIC],
];
const WEB_PORTS: readonly (readonly [number, number])[] = [
  [0.6, 443],
  [0.85, 80],
  [0.9, 8080],
  [0.93, 993],
  [0.95, 25],
  [0.97, 3306],
  [1, 5432],
];
const SCAN_PORTS = [22, 23, 80, 443, 445, 3389, 8080, 6379] as const;

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;

const ROLE_SPREADER = 1;

// Stream record layout (see TrafficGenerator.streamInts). Eight words: 32 bytes, two per line.
const STREAM_INTS = 8;
const I_SRC = 0; // address id
const I_DST = 1;
const I_PORTS = 2; // source port << 16 | destination port
const I_PACKETS = 3;
const I_EMITTED = 4;
const I_SEQUENCE = 5; // next TCP sequence number
const I_SALT = 6; // random per stream: ack, IP ID and TCP timestamp origins, flow label
const I_KIND = 7; // protocol | profile << 8 | ttl << 16 | FLAG_* << 24
const FLAG_TCP_TIMESTAMPS = 1;
const FLAG_IPV6 = 2;
const STREAM_REALS = 4;
const R_BYTES = 0; // wire bytes emitted so far
const R_START = 1; // flows: start of the first slot, ns from the capture start
const R_SLOT = 2; // flows: slot length, ns

function pickWeighted(table: readonly (readonly [number, number])[], r: number): number {
  for (const [cumulative, value] of table) if (r < cumulative) return value;
  return table[table.length - 1]![1];
}

// ---------------------------------------------------------------------------------------------

/** What the JSON truth holds besides the per-flow and per-source tables. */
export interface TruthSummary {
  readonly frames: number;
  readonly bytes: number;
  readonly capturedBytes: number;
  readonly truncatedFrames: number;
  readonly ipv4Frames: number;
  readonly ipv6Frames: number;
  readonly flowCount: number;
  readonly srcCount: number;
  readonly superSpreaders: readonly { readonly src: string; readonly distinctDsts: number; readonly dport: number }[];
  readonly synFlood: { readonly victim: string; readonly port: number; readonly packets: number } | null;
}

const PCAP_GLOBAL_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;
const LINKTYPE_ETHERNET = 1;
/** Default chunk: large writes, a handful of them in flight at most. */
export const DEFAULT_CHUNK_BYTES = 4 << 20;

/**
 * Produces one synthetic capture. Iterate it (or call nextChunk) for the pcap bytes, then ask for
 * the truth. Construction does all the planning (O(streams)); iteration is the per-packet work.
 */
export class TrafficGenerator implements Iterable<Uint8Array> {
  readonly config: Readonly<TrafficConfig>;
  readonly chunkBytes: number;

  // Addresses: 4 words each (IPv4 mapped as ::ffff:a.b.c.d, like PacketBatch), family, role.
  private readonly addresses: WordKeySet;
  private addressFamily = new Uint8Array(1024);
  private addressRole = new Uint8Array(1024);
  /** Distinct destinations per source address id, maintained as (src, dst) pairs are created. */
  private distinctDsts = new Uint32Array(1024);
  private readonly tuples: WordKeySet;
  private readonly pairs: WordKeySet;

  // Streams, one per distinct 5-tuple.
  private readonly streamCount: number;
  private streamsCreated = 0;
  /**
   * Stream records, interleaved (I_* fields, STREAM_INTS per stream) rather than one array per
   * field: emission visits streams in time order, i.e. at random, and one record then costs one
   * cache miss instead of one per field (the packet loop took ~25% less CPU than with one array
   * per field on the 5M-packet bench trace).
   */
  private readonly streamInts: Uint32Array;
  /** Float fields of the streams (R_*, STREAM_REALS per stream). */
  private readonly streamReals: Float64Array;

  // Time-ordered emission: min-heap of streams keyed by their next packet time (ns from start).
  private readonly heapTime: Float64Array;
  private readonly heapStream: Int32Array;
  private heapSize = 0;

  private readonly packetRng: Sfc32;
  private readonly durationNs: number;
  private readonly snaplen: number;
  private readonly nanosecond: boolean;
  private readonly startSeconds: number;
  private readonly startNanos: number;
  private headerWritten = false;

  private readonly spreaderSources: number[] = [];
  private readonly spreaderPorts: number[] = [];
  private victim = -1;
  /** Scan probes beyond the first SYN per destination, taken from the flows' packet budget. */
  private scanRetransmissions = 0;

  // Totals for the truth.
  private frames = 0;
  private wireBytes = 0;
  private capturedBytes = 0;
  private truncatedFrames = 0;
  private ipv6Frames = 0;

  constructor(options: TrafficOptions, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.config = resolveTrafficConfig(options);
    const config = this.config;
    if (chunkBytes < PCAP_GLOBAL_HEADER_BYTES + PCAP_RECORD_HEADER_BYTES + config.snaplen) throw new RangeError(`chunk of ${chunkBytes} bytes cannot hold a record`);
    this.chunkBytes = chunkBytes;
    const startMs = Date.parse(config.start);
    this.startSeconds = Math.floor(startMs / 1000);
    this.startNanos = (startMs - this.startSeconds * 1000) * 1e6;
    this.durationNs = Math.round(config.durationSeconds * 1e9);
    this.snaplen = config.snaplen;
    this.nanosecond = config.nanosecond;

    const n = (this.streamCount = config.flows + config.spreaders * config.spreadDestinations + config.synFloodPackets);
    this.tuples = new WordKeySet(n);
    this.pairs = new WordKeySet(n);
    this.addresses = new WordKeySet(n);
    this.streamInts = new Uint32Array(n * STREAM_INTS);
    this.streamReals = new Float64Array(n * STREAM_REALS);
    this.heapTime = new Float64Array(n);
    this.heapStream = new Int32Array(n);

    // Separate PRNG streams per concern, so e.g. adding a flood does not reshuffle the flows.
    this.packetRng = new Sfc32(config.seed, 4);
    this.planSpreaders(new Sfc32(config.seed, 2));
    this.planFlows(new Sfc32(config.seed, 1));
    this.planSynFlood(new Sfc32(config.seed, 3));
    this.buildHeap();
  }

  // ---- planning -----------------------------------------------------------------------------

  private internAddress(w0: number, w1: number, w2: number, w3: number, family: 4 | 6): number {
    const existing = this.addresses.indexOf(w0, w1, w2, w3);
    if (existing >= 0) return existing;
    const id = this.addresses.insert(w0, w1, w2, w3);
    if (id >= this.addressFamily.length) {
      const grow = <T extends Uint8Array | Uint32Array>(array: T, make: (length: number) => T): T => {
        const grown = make(array.length * 2);
        grown.set(array);
        return grown;
      };
      this.addressFamily = grow(this.addressFamily, (length) => new Uint8Array(length));
      this.addressRole = grow(this.addressRole, (length) => new Uint8Array(length));
      this.distinctDsts = grow(this.distinctDsts, (length) => new Uint32Array(length));
    }
    this.addressFamily[id] = family;
    return id;
  }

  private ipv4(value: number): number {
    return this.internAddress(0, 0, 0xffff, value >>> 0, 4);
  }

  /** A fresh address (not interned before) drawn by `draw`, so pools hold distinct hosts. */
  private freshAddress(draw: () => [number, number, number, number, 4 | 6]): number {
    for (;;) {
      const [w0, w1, w2, w3, family] = draw();
      if (this.addresses.indexOf(w0, w1, w2, w3) < 0) return this.internAddress(w0, w1, w2, w3, family);
    }
  }

  /**
   * Add a stream if its 5-tuple is new; returns its index or -1 (caller redraws). Also keeps the
   * distinct-destination counts exact, whatever overlaps the random draws produce.
   */
  private addStream(src: number, dst: number, srcPort: number, dstPort: number, protocol: number, profile: number, packets: number, rng: Sfc32): number {
    if (this.tuples.indexOf(src, dst, (srcPort << 16) | dstPort, protocol) >= 0) return -1;
    this.tuples.insert(src, dst, (srcPort << 16) | dstPort, protocol);
    if (this.pairs.indexOf(src, dst, 0, 0) < 0) {
      this.pairs.insert(src, dst, 0, 0);
      this.distinctDsts[src]!++;
    }
    const s = this.streamsCreated++;
    const salt = rng.nextUint32();
    // Initial TTL 64 (Linux, macOS) or 128 (Windows) minus the hops to the capture point.
    const ttl = (salt & 1 ? 128 : 64) - ((salt >>> 1) % 12);
    const flags = ((salt >>> 8) % 10 < 7 ? FLAG_TCP_TIMESTAMPS : 0) | (this.addressFamily[src] === 6 ? FLAG_IPV6 : 0);
    const at = s * STREAM_INTS;
    const ints = this.streamInts;
    ints[at + I_SRC] = src;
    ints[at + I_DST] = dst;
    ints[at + I_PORTS] = (srcPort << 16) | dstPort;
    ints[at + I_PACKETS] = packets;
    ints[at + I_SEQUENCE] = rng.nextUint32();
    ints[at + I_SALT] = salt;
    ints[at + I_KIND] = protocol | (profile << 8) | (ttl << 16) | (flags << 24);
    return s;
  }

  private planSpreaders(rng: Sfc32): void {
    const { spreaders, spreadDestinations: spread, ipv6Fraction, packets, flows, synFloodPackets } = this.config;
    // Probes beyond the first SYN (retransmissions) come out of the Zipf flows' surplus.
    let extraBudget = packets - (flows + spreaders * spread + synFloodPackets);
    for (let k = 0; k < spreaders; k++) {
      const v6 = rng.nextFloat() < ipv6Fraction;
      // Scanners come from CGNAT space (100.64/10) or 2001:db8:5ca::/48, which no other role uses.
      const source = v6
        ? this.freshAddress(() => [0x20010db8, 0x05ca0000 | rng.nextInt(0x10000), rng.nextUint32(), rng.nextUint32(), 6])
        : this.freshAddress(() => [0, 0, 0xffff, (0x64400000 | rng.nextInt(0x400000)) >>> 0, 4]);
      this.addressRole[source] = ROLE_SPREADER;
      this.spreaderSources.push(source);
      const dport = SCAN_PORTS[rng.nextInt(SCAN_PORTS.length)]!;
      this.spreaderPorts.push(dport);
      const windowStart = rng.nextFloat() * 0.7 * this.durationNs;
      const windowLength = (0.1 + 0.2 * rng.nextFloat()) * this.durationNs;
      for (let d = 0; d < spread; d++) {
        let s = -1;
        while (s < 0) {
          const target = v6 ? this.randomGlobalV6(rng, 0x2a020000) : this.ipv4(randomPublicV4(rng));
          if (this.pairs.indexOf(source, target, 0, 0) >= 0) continue; // D *distinct* destinations
          const r = rng.nextFloat();
          let probes = 1 + (r < 0.1 ? 2 : r < 0.35 ? 1 : 0);
          probes = Math.min(probes, 1 + extraBudget);
          s = this.addStream(source, target, rng.nextRange(32768, 60999), dport, PROTO_TCP, SCAN_PROBE, probes, rng);
          if (s >= 0) {
            extraBudget -= probes - 1;
            this.scanRetransmissions += probes - 1;
          }
        }
        this.heapTime[s] = Math.min(this.durationNs, Math.floor(windowStart + rng.nextFloat() * windowLength));
      }
    }
  }

  private randomGlobalV6(rng: Sfc32, prefixHigh: number): number {
    return this.freshAddress(() => [(prefixHigh | rng.nextInt(0x10000)) >>> 0, rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), 6]);
  }

  private planFlows(rng: Sfc32): void {
    const { flows, zipfExponent, ipv6Fraction, packets } = this.config;
    const first = this.streamsCreated;
    const surplus = packets - this.config.synFloodPackets - first - flows - this.scanRetransmissions;
    // Sizes: one packet each, the surplus dealt out by Zipf rank. Rank r is flow r-1; flows are
    // created in random order anyway, so a rank says nothing else about a flow.
    const sizes = new Uint32Array(flows).fill(1);
    const zipf = new ZipfSampler(flows, zipfExponent, rng);
    for (let i = 0; i < surplus; i++) sizes[zipf.sample() - 1]!++;

    // Host pools: several flows per client, servers shared by many clients.
    const v6Flows = Math.round(flows * ipv6Fraction);
    const pools = {
      clients4: makePool(Math.ceil((flows - v6Flows) / 6), () => this.freshAddress(() => [0, 0, 0xffff, randomPrivateV4(rng), 4])),
      servers4: makePool(Math.ceil((flows - v6Flows) / 25), () => this.freshAddress(() => [0, 0, 0xffff, randomPublicV4(rng), 4])),
      clients6: makePool(Math.ceil(v6Flows / 6), () => this.randomGlobalV6(rng, 0x2a010000)),
      servers6: makePool(Math.ceil(v6Flows / 25), () => this.randomGlobalV6(rng, 0x26060000)),
    };
    for (let f = 0; f < flows; f++) {
      const size = sizes[f]!;
      const v6 = rng.nextFloat() < ipv6Fraction;
      const clients = v6 ? (pools.clients6.length > 0 ? pools.clients6 : pools.clients4) : pools.clients4.length > 0 ? pools.clients4 : pools.clients6;
      const servers = v6 ? (pools.servers6.length > 0 ? pools.servers6 : pools.servers4) : pools.servers4.length > 0 ? pools.servers4 : pools.servers6;
      let profile = pickWeighted(size >= HEAVY_FLOW_PACKETS ? HEAVY_PROFILE_WEIGHTS : LIGHT_PROFILE_WEIGHTS, rng.nextFloat());
      let s = -1;
      for (let attempt = 0; s < 0; attempt++) {
        // ICMP and NTP (123 → 123) have no ephemeral port to make a tuple unique; with small host
        // pools their tuples run out, so after a few clashes the flow becomes a TCP request.
        if (attempt === 8 && (profile === ICMP_ECHO || profile === NTP)) profile = TCP_REQUEST;
        const client = clients[rng.nextInt(clients.length)]!;
        // Squaring skews server popularity: a few busy servers, a long tail.
        const server = servers[Math.floor(rng.nextFloat() ** 2 * servers.length)]!;
        const ephemeral = rng.nextRange(32768, 60999);
        const family = this.addressFamily[client]!;
        switch (profile) {
          case TCP_REQUEST:
            s = this.addStream(client, server, ephemeral, pickWeighted(WEB_PORTS, rng.nextFloat()), PROTO_TCP, profile, size, rng);
            break;
          case TCP_BULK:
            s = this.addStream(server, client, rng.nextFloat() < 0.7 ? 443 : 80, ephemeral, PROTO_TCP, profile, size, rng);
            break;
          case TCP_INTERACTIVE:
            s = rng.nextFloat() < 0.5 ? this.addStream(client, server, ephemeral, 22, PROTO_TCP, profile, size, rng) : this.addStream(server, client, 22, ephemeral, PROTO_TCP, profile, size, rng);
            break;
          case DNS_QUERY:
            s = this.addStream(client, server, ephemeral, 53, PROTO_UDP, profile, size, rng);
            break;
          case DNS_RESPONSE:
            s = this.addStream(server, client, 53, ephemeral, PROTO_UDP, profile, size, rng);
            break;
          case QUIC:
            s = rng.nextFloat() < 0.4 ? this.addStream(client, server, ephemeral, 443, PROTO_UDP, profile, size, rng) : this.addStream(server, client, 443, ephemeral, PROTO_UDP, profile, size, rng);
            break;
          case NTP:
            s = this.addStream(client, server, 123, 123, PROTO_UDP, profile, size, rng);
            break;
          default:
            s = this.addStream(client, server, 0, 0, family === 6 ? PROTO_ICMPV6 : PROTO_ICMP, ICMP_ECHO, size, rng);
        }
      }
      // Each flow paces itself: a per-flow gap between 0.2 ms and 0.5 s (log-uniform); big flows
      // therefore span the whole capture while DNS lookups are a blip. Its span is cut into one
      // slot per packet (jittered grid): gaps vary from 0 to two slots, yet the flow provably
      // ends inside the capture, with no pile-up of clamped timestamps at its end.
      const gap = 2e5 * Math.exp(rng.nextFloat() * Math.log(2500));
      const span = Math.min(this.durationNs, size * gap);
      const start = Math.floor(rng.nextFloat() * (this.durationNs - span));
      const slot = span / size;
      this.streamReals[s * STREAM_REALS + R_START] = start;
      this.streamReals[s * STREAM_REALS + R_SLOT] = slot;
      this.heapTime[s] = start + Math.floor(rng.nextFloat() * slot);
    }
  }

  private planSynFlood(rng: Sfc32): void {
    const packets = this.config.synFloodPackets;
    if (packets === 0) return;
    // The victim is a real IPv4 web server, the busiest one, so the flood hides among its traffic.
    const busiest = this.busiestIpv4WebDownload();
    this.victim = busiest >= 0 ? this.srcOf(busiest) : this.ipv4(0xcb007150); // 203.0.113.80
    const start = (0.2 + 0.3 * rng.nextFloat()) * this.durationNs;
    const length = (0.05 + 0.1 * rng.nextFloat()) * this.durationNs;
    for (let i = 0; i < packets; i++) {
      let s = -1;
      while (s < 0) {
        // Spoofed sources are uniform over unicast space; one that happens to hit a scanner's
        // address is redrawn so the scanners' destination counts stay exactly D.
        const source = this.ipv4(randomPublicV4(rng));
        if (this.addressRole[source] === ROLE_SPREADER || source === this.victim) continue;
        s = this.addStream(source, this.victim, rng.nextRange(1024, 65535), SYN_FLOOD_PORT, PROTO_TCP, FLOOD_SYN, 1, rng);
      }
      this.heapTime[s] = Math.floor(start + rng.nextFloat() * length);
    }
  }

  private busiestIpv4WebDownload(): number {
    let best = -1;
    for (let s = 0; s < this.streamsCreated; s++) {
      if (this.profileOf(s) !== TCP_BULK || this.srcPortOf(s) !== 80 || this.addressFamily[this.srcOf(s)] !== 4) continue;
      if (best < 0 || this.packetsOf(s) > this.packetsOf(best)) best = s;
    }
    return best;
  }

  // Field access for planning and truth (the packet loop reads the records directly).
  private srcOf(s: number): number {
    return this.streamInts[s * STREAM_INTS + I_SRC]!;
  }
  private dstOf(s: number): number {
    return this.streamInts[s * STREAM_INTS + I_DST]!;
  }
  private srcPortOf(s: number): number {
    return this.streamInts[s * STREAM_INTS + I_PORTS]! >>> 16;
  }
  private dstPortOf(s: number): number {
    return this.streamInts[s * STREAM_INTS + I_PORTS]! & 0xffff;
  }
  private protocolOf(s: number): number {
    return this.streamInts[s * STREAM_INTS + I_KIND]! & 0xff;
  }
  private profileOf(s: number): number {
    return (this.streamInts[s * STREAM_INTS + I_KIND]! >>> 8) & 0xff;
  }
  private packetsOf(s: number): number {
    return this.streamInts[s * STREAM_INTS + I_PACKETS]!;
  }
  private bytesOf(s: number): number {
    return this.streamReals[s * STREAM_REALS + R_BYTES]!;
  }

  private buildHeap(): void {
    if (this.streamsCreated !== this.streamCount) throw new Error(`planned ${this.streamCount} streams, created ${this.streamsCreated}`);
    // heapTime[s] holds each stream's first time; turn the arrays into a heap in place.
    for (let s = 0; s < this.streamCount; s++) this.heapStream[s] = s;
    this.heapSize = this.streamCount;
    for (let i = (this.heapSize >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(index: number): void {
    const time = this.heapTime;
    const stream = this.heapStream;
    const size = this.heapSize;
    const t = time[index]!;
    const s = stream[index]!;
    let i = index;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && time[child + 1]! < time[child]!) child++;
      if (time[child]! >= t) break;
      time[i] = time[child]!;
      stream[i] = stream[child]!;
      i = child;
    }
    time[i] = t;
    stream[i] = s;
  }

  // ---- emission -----------------------------------------------------------------------------

  get done(): boolean {
    return this.headerWritten && this.heapSize === 0;
  }

  /** The next chunk of pcap bytes (the first starts with the file header), or undefined at the end. */
  nextChunk(): Uint8Array | undefined {
    if (this.done) return undefined;
    // A fresh (zero-filled) buffer per chunk: payload bytes after the headers are zeros for free,
    // and the caller may still be writing the previous chunk.
    const chunk = new Uint8Array(this.chunkBytes);
    let offset = 0;
    if (!this.headerWritten) {
      this.writeFileHeader(chunk);
      offset = PCAP_GLOBAL_HEADER_BYTES;
      this.headerWritten = true;
    }
    const limit = this.chunkBytes - PCAP_RECORD_HEADER_BYTES - this.config.snaplen;
    const rng = this.packetRng;
    while (this.heapSize > 0 && offset <= limit) {
      const s = this.heapStream[0]!;
      const t = this.heapTime[0]!;
      offset = this.writePacket(chunk, offset, s, t);
      const at = s * STREAM_INTS;
      const sent = this.streamInts[at + I_EMITTED]!;
      if (sent < this.streamInts[at + I_PACKETS]!) {
        // Scan probes retransmit after 1 s, then 2 s (the classic SYN backoff); flows take a
        // uniform point of their next slot, which is never earlier than t.
        this.heapTime[0] =
          ((this.streamInts[at + I_KIND]! >>> 8) & 0xff) === SCAN_PROBE
            ? Math.min(this.durationNs, t + 1e9 * 2 ** (sent - 1))
            : this.streamReals[s * STREAM_REALS + R_START]! + Math.floor((sent + rng.nextFloat()) * this.streamReals[s * STREAM_REALS + R_SLOT]!);
      } else {
        const last = --this.heapSize;
        this.heapTime[0] = this.heapTime[last]!;
        this.heapStream[0] = this.heapStream[last]!;
      }
      if (this.heapSize > 0) this.siftDown(0);
    }
    return chunk.subarray(0, offset);
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let chunk = this.nextChunk(); chunk !== undefined; chunk = this.nextChunk()) yield chunk;
  }

  private writeFileHeader(out: Uint8Array): void {
    put32le(out, 0, this.config.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4);
    out[4] = 2; // version 2.4
    out[6] = 4;
    // thiszone and sigfigs stay 0
    put32le(out, 16, this.config.snaplen);
    put32le(out, 20, LINKTYPE_ETHERNET);
  }

  /** One record at `o`; returns the offset after it. */
  private writePacket(out: Uint8Array, o: number, s: number, t: number): number {
    const ints = this.streamInts;
    const at = s * STREAM_INTS;
    const k = ints[at + I_EMITTED]!;
    ints[at + I_EMITTED] = k + 1;
    const count = ints[at + I_PACKETS]!;
    const kind = ints[at + I_KIND]!;
    const protocol = kind & 0xff;
    const profile = (kind >>> 8) & 0xff;
    const ttl = (kind >>> 16) & 0xff;
    const src = ints[at + I_SRC]!;
    const dst = ints[at + I_DST]!;
    const ports = ints[at + I_PORTS]!;
    const v6 = (kind >>> 24) & FLAG_IPV6;
    const ipHeader = v6 ? 40 : 20;
    const salt = ints[at + I_SALT]!;
    const withTimestamps = (kind >>> 24) & FLAG_TCP_TIMESTAMPS;

    let l4Header = 8;
    let payload = 0;
    let flags = 0;
    if (protocol === PROTO_TCP) {
      if (profile === SCAN_PROBE) {
        flags = TCP_SYN;
        l4Header = 24; // MSS option only, as port scanners send
      } else if (profile === FLOOD_SYN) {
        flags = TCP_SYN;
        l4Header = 20;
      } else if (k === 0) {
        flags = profile === TCP_BULK || (profile === TCP_INTERACTIVE && ports >>> 16 === 22) ? TCP_SYN | TCP_ACK : TCP_SYN;
        l4Header = withTimestamps ? 40 : 28;
      } else {
        l4Header = withTimestamps ? 32 : 20;
        if (k === count - 1 && count >= 3) {
          flags = TCP_FIN | TCP_ACK;
        } else {
          payload = tcpPayload(profile, this.packetRng.nextFloat(), 1500 - ipHeader - l4Header);
          flags = payload > 0 && payload < 1500 - ipHeader - l4Header ? TCP_PSH | TCP_ACK : TCP_ACK;
        }
      }
    } else if (protocol === PROTO_UDP) {
      payload = udpPayload(profile, this.packetRng.nextFloat());
    } else {
      payload = 56; // ping's default echo data
    }
    const wire = 14 + ipHeader + l4Header + payload;
    const snaplen = this.snaplen;
    const captured = wire < snaplen ? wire : snaplen;

    // Record header.
    const nanos = this.startNanos + t;
    const seconds = Math.floor(nanos / 1e9);
    const fraction = nanos - seconds * 1e9;
    put32le(out, o, this.startSeconds + seconds);
    put32le(out, o + 4, this.nanosecond ? fraction : Math.floor(fraction / 1000));
    put32le(out, o + 8, captured);
    put32le(out, o + 12, wire);
    let p = o + PCAP_RECORD_HEADER_BYTES;

    // Ethernet: locally administered MACs derived from the address ids.
    out[p] = 0x02;
    put32be(out, p + 2, dst);
    out[p + 6] = 0x02;
    put32be(out, p + 8, src);
    out[p + 12] = v6 ? 0x86 : 0x08;
    out[p + 13] = v6 ? 0xdd : 0x00;
    p += 14;

    const words = this.addresses.keys;
    if (v6) {
      out[p] = 0x60;
      out[p + 1] = (salt >>> 16) & 0x0f; // 20-bit flow label, constant per flow (RFC 6437)
      out[p + 2] = salt >>> 8;
      out[p + 3] = salt;
      put16be(out, p + 4, wire - 14 - 40);
      out[p + 6] = protocol;
      out[p + 7] = ttl;
      for (let w = 0; w < 4; w++) {
        put32be(out, p + 8 + 4 * w, words[src * 4 + w]!);
        put32be(out, p + 24 + 4 * w, words[dst * 4 + w]!);
      }
    } else {
      out[p] = 0x45;
      put16be(out, p + 2, wire - 14);
      put16be(out, p + 4, (salt >>> 16) + k); // per-flow counter from a random start
      out[p + 6] = protocol === PROTO_TCP ? 0x40 : 0; // DF on TCP, as path-MTU discovery does
      out[p + 8] = ttl;
      out[p + 9] = protocol;
      put32be(out, p + 12, words[src * 4 + 3]!);
      put32be(out, p + 16, words[dst * 4 + 3]!);
      put16be(out, p + 10, ipv4Checksum(out, p));
    }
    p += ipHeader;

    // Transport checksums are not computed (the brief allows it), but never 0: for UDP over
    // IPv6 a zero checksum is illegal and dissectors would flag it.
    const pseudoChecksum = ((salt ^ Math.imul(k, 0x9e3779b1)) & 0xffff) | 1;
    if (protocol === PROTO_TCP) {
      put32be(out, p, ports);
      const seq = ints[at + I_SEQUENCE]!;
      put32be(out, p + 4, seq);
      ints[at + I_SEQUENCE] = seq + payload + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
      if (flags & TCP_ACK) put32be(out, p + 8, Math.imul(salt, 0x2545f491));
      out[p + 12] = (l4Header / 4) << 4;
      out[p + 13] = flags;
      put16be(out, p + 14, profile === FLOOD_SYN ? 1024 : (salt & 0x7fff) + 1024); // window
      put16be(out, p + 16, pseudoChecksum);
      const tsValue = (salt + Math.floor(t / 1e6)) >>> 0; // ms clock, random origin
      const opt = p + 20;
      if (l4Header === 40) {
        // SYN: MSS, SACK permitted, timestamps, NOP, window scale 7 — Linux's layout.
        out.set(SYN_OPTIONS_WITH_TIMESTAMPS, opt);
        put16be(out, opt + 2, 1500 - ipHeader - 20);
        put32be(out, opt + 8, tsValue);
      } else if (l4Header === 28) {
        out.set(SYN_OPTIONS, opt);
        put16be(out, opt + 2, 1500 - ipHeader - 20);
      } else if (l4Header === 24) {
        out[opt] = 2;
        out[opt + 1] = 4;
        put16be(out, opt + 2, 1500 - ipHeader - 20);
      } else if (l4Header === 32) {
        out[opt] = 1;
        out[opt + 1] = 1;
        out[opt + 2] = 8;
        out[opt + 3] = 10;
        put32be(out, opt + 4, tsValue);
        put32be(out, opt + 8, (tsValue - 37) >>> 0);
      }
    } else if (protocol === PROTO_UDP) {
      put32be(out, p, ports);
      put16be(out, p + 4, 8 + payload);
      put16be(out, p + 6, pseudoChecksum);
    } else {
      out[p] = protocol === PROTO_ICMPV6 ? 128 : 8; // echo request
      put16be(out, p + 2, pseudoChecksum);
      put16be(out, p + 4, salt & 0xffff); // identifier
      put16be(out, p + 6, k + 1); // sequence
    }

    this.streamReals[s * STREAM_REALS + R_BYTES]! += wire;
    this.frames++;
    this.wireBytes += wire;
    this.capturedBytes += captured;
    if (captured < wire) this.truncatedFrames++;
    if (v6) this.ipv6Frames++;
    return o + PCAP_RECORD_HEADER_BYTES + captured;
  }

  // ---- truth --------------------------------------------------------------------------------

  private formatAddress(id: number): string {
    return formatAddressWords(this.addresses.keys, id * 4, this.addressFamily[id]!);
  }

  private requireDone(): void {
    if (!this.done) throw new Error('the ground truth is known once every chunk has been taken');
  }

  summary(): TruthSummary {
    this.requireDone();
    let srcCount = 0;
    for (let id = 0; id < this.addresses.size; id++) if (this.distinctDsts[id]! > 0) srcCount++;
    return {
      frames: this.frames,
      bytes: this.wireBytes,
      capturedBytes: this.capturedBytes,
      truncatedFrames: this.truncatedFrames,
      ipv4Frames: this.frames - this.ipv6Frames,
      ipv6Frames: this.ipv6Frames,
      flowCount: this.streamCount,
      srcCount,
      superSpreaders: this.spreaderSources.map((id, k) => ({ src: this.formatAddress(id), distinctDsts: this.distinctDsts[id]!, dport: this.spreaderPorts[k]! })),
      synFlood: this.victim < 0 ? null : { victim: this.formatAddress(this.victim), port: SYN_FLOOD_PORT, packets: this.config.synFloodPackets },
    };
  }

  /** Numeric address order (IPv4 before IPv6), the tie-break of the truth's sorted tables. */
  private compareAddresses(a: number, b: number): number {
    const familyOrder = this.addressFamily[a]! - this.addressFamily[b]!;
    if (familyOrder !== 0) return familyOrder;
    const words = this.addresses.keys;
    for (let w = 0; w < 4; w++) {
      const diff = words[a * 4 + w]! - words[b * 4 + w]!;
      if (diff !== 0) return diff;
    }
    return 0;
  }

  /**
   * The ground truth as JSON text, in pieces of about 64 KiB, laid out like truth.sh (one
   * top-level key per line, one flow or source per line) and in its order: flows by packets desc,
   * bytes desc; sources by distinct destinations desc. Ties are broken by numeric address / port
   * order rather than truth.sh's text order; consumers compare the tables as sets anyway.
   */
  *truthJson(fileName: string): Generator<string> {
    const summary = this.summary();
    const config = this.config;
    const header = {
      file: fileName,
      truth_version: 1,
      generator: {
        name: 'netspectra gen-pcap',
        version: GENERATOR_VERSION,
        packets: config.packets,
        flows: config.flows,
        zipf: config.zipfExponent,
        spreaders: config.spreaders,
        spread: config.spreadDestinations,
        syn_flood: config.synFloodPackets,
        ipv6: config.ipv6Fraction,
        seed: config.seed,
        duration: config.durationSeconds,
        start: config.start,
        nanosecond: config.nanosecond,
        snaplen: config.snaplen,
      },
      frames: summary.frames,
      non_packet_records: 0,
      bytes: summary.bytes,
      captured_bytes: summary.capturedBytes,
      truncated_frames: summary.truncatedFrames,
      ip_frames: summary.frames,
      ipv4_frames: summary.ipv4Frames,
      ipv6_frames: summary.ipv6Frames,
      ip_bytes: summary.bytes,
      non_ip_frames: 0,
      flow_count: summary.flowCount,
    };
    let text = '{\n';
    for (const [key, value] of Object.entries(header)) text += ` ${JSON.stringify(key)}: ${JSON.stringify(value)},\n`;

    const order = new Uint32Array(this.streamCount);
    for (let s = 0; s < order.length; s++) order[s] = s;
    order.sort((a, b) => {
      const byPackets = this.packetsOf(b) - this.packetsOf(a);
      if (byPackets !== 0) return byPackets;
      const byBytes = this.bytesOf(b) - this.bytesOf(a);
      if (byBytes !== 0) return byBytes;
      return (
        this.compareAddresses(this.srcOf(a), this.srcOf(b)) ||
        this.compareAddresses(this.dstOf(a), this.dstOf(b)) ||
        this.srcPortOf(a) - this.srcPortOf(b) ||
        this.dstPortOf(a) - this.dstPortOf(b) ||
        this.protocolOf(a) - this.protocolOf(b)
      );
    });
    text += ' "flows": [\n';
    for (let i = 0; i < order.length; i++) {
      const s = order[i]!;
      text +=
        `  {"src":"${this.formatAddress(this.srcOf(s))}","dst":"${this.formatAddress(this.dstOf(s))}",` +
        `"sport":${this.srcPortOf(s)},"dport":${this.dstPortOf(s)},"proto":${this.protocolOf(s)},` +
        `"packets":${this.packetsOf(s)},"bytes":${this.bytesOf(s)}}${i + 1 < order.length ? ',' : ''}\n`;
      if (text.length >= TRUTH_PIECE_CHARS) {
        yield text;
        text = '';
      }
    }
    text += ' ],\n';

    text += ` "src_count": ${summary.srcCount},\n "src_distinct_dsts": {\n`;
    const sources = new Uint32Array(summary.srcCount);
    let n = 0;
    for (let id = 0; id < this.addresses.size; id++) if (this.distinctDsts[id]! > 0) sources[n++] = id;
    sources.sort((a, b) => this.distinctDsts[b]! - this.distinctDsts[a]! || this.compareAddresses(a, b));
    for (let i = 0; i < sources.length; i++) {
      const id = sources[i]!;
      text += `  "${this.formatAddress(id)}":${this.distinctDsts[id]!}${i + 1 < sources.length ? ',' : ''}\n`;
      if (text.length >= TRUTH_PIECE_CHARS) {
        yield text;
        text = '';
      }
    }
    text += ' },\n';
    const spreaders = summary.superSpreaders.map((entry) => ({ src: entry.src, distinct_dsts: entry.distinctDsts, dport: entry.dport }));
    text += ` "super_spreaders": ${JSON.stringify(spreaders)},\n`;
    text += ` "syn_flood": ${JSON.stringify(summary.synFlood)}\n}\n`;
    yield text;
  }
}

const TRUTH_PIECE_CHARS = 64 * 1024;

const SYN_OPTIONS_WITH_TIMESTAMPS = Uint8Array.of(2, 4, 0, 0, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7);
const SYN_OPTIONS = Uint8Array.of(2, 4, 0, 0, 1, 3, 3, 7);

/**
 * TCP payload bytes of a non-handshake packet. One uniform draw picks the class and, through its
 * position inside the class's interval, the size, so a packet costs a single draw.
 */
function tcpPayload(profile: number, r: number, fullSegment: number): number {
  // An IP datagram of 576 bytes: the classic minimum reassembly size many stacks still use.
  const classic576 = 576 - (1500 - fullSegment);
  switch (profile) {
    case TCP_REQUEST:
      if (r < 0.8) return 0;
      if (r < 0.92) return 20 + Math.floor(((r - 0.8) / 0.12) * 580);
      return r < 0.97 ? classic576 : fullSegment;
    case TCP_BULK:
      if (r < 0.72) return fullSegment;
      if (r < 0.82) return 0;
      if (r < 0.95) return 1 + Math.floor(((r - 0.82) / 0.13) * (fullSegment - 1));
      return classic576;
    default: // interactive: keystrokes and echoes, encrypted into 36..200 bytes
      return r < 0.45 ? 0 : 36 + Math.floor(((r - 0.45) / 0.55) * 164);
  }
}

function udpPayload(profile: number, r: number): number {
  switch (profile) {
    case DNS_QUERY:
      return 17 + Math.floor(r * 64);
    case DNS_RESPONSE:
      return r < 0.85 ? 40 + Math.floor((r / 0.85) * 260) : 300 + Math.floor(((r - 0.85) / 0.15) * 180);
    case QUIC:
      return r < 0.55 ? 1200 + Math.floor((r / 0.55) * 152) : 25 + Math.floor(((r - 0.55) / 0.45) * 95);
    default:
      return 48; // NTP
  }
}

function makePool(size: number, make: () => number): number[] {
  const pool: number[] = [];
  for (let i = 0; i < size; i++) pool.push(make());
  return pool;
}

/** A unicast IPv4 address outside private, loopback, link-local, CGNAT, test and multicast space. */
function randomPublicV4(rng: Sfc32): number {
  for (;;) {
    const address = rng.nextUint32();
    const first = address >>> 24;
    const second = (address >>> 16) & 0xff;
    if (first === 0 || first === 10 || first === 127 || first >= 224) continue;
    if (first === 100 && second >= 64 && second < 128) continue;
    if ((first === 169 && second === 254) || (first === 172 && second >= 16 && second < 32) || (first === 192 && second === 168)) continue;
    if ((first === 192 && second === 0) || (first === 198 && (second === 18 || second === 19 || second === 51)) || (first === 203 && second === 0)) continue;
    const last = address & 0xff;
    if (last === 0 || last === 255) continue;
    return address;
  }
}

/** A host in 10/8 (70 %) or 192.168/16, avoiding network and broadcast-looking last octets. */
function randomPrivateV4(rng: Sfc32): number {
  const bits = rng.nextUint32();
  const host = 1 + ((bits & 0xff) % 254);
  return rng.nextFloat() < 0.7 ? (0x0a000000 | (bits & 0xffff00) | host) >>> 0 : (0xc0a80000 | (bits & 0xff00) | host) >>> 0;
}

function put16be(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 8;
  out[at + 1] = value;
}

function put32be(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

function put32le(out: Uint8Array, at: number, value: number): void {
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
}

function ipv4Checksum(out: Uint8Array, at: number): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) sum += (out[at + i]! << 8) | out[at + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
