/**
 * Fuzzing bounded in time: mutated real and generated captures, fed in random chunk sizes. No
 * exception may escape, decoding must end, statistics must stay consistent, and the result must not
 * depend on the chunking. A seeded PRNG makes every failure reproducible: the message prints the
 * seed; NS_FUZZ_SEED=<seed> replays it first, NS_FUZZ_MS sets the time budget.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LinkType } from '../../src/decode/index.js';
import { PcapngWriter, concatBytes, ethernetFrame, ipv4Packet, ipv6Packet, pcapFile } from './capture-writer.js';
import type { DecodeResult } from './decode-helpers.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';
import { chunksOf, chunksOfSizes, decodeAll, seededRandom } from './decode-helpers.js';

const shared = sharedPcaps();

const BUDGET_MS = Number(process.env.NS_FUZZ_MS ?? 10_000);
const FIRST_SEED = Number(process.env.NS_FUZZ_SEED ?? 0x5eed);
/** The decoder keeps at most one record plus a chunk; fuzz inputs are small, so this is generous. */
const RSS_LIMIT_BYTES = 1.5 * 1024 * 1024 * 1024;

/** Real captures of the shared corpus (none without it: then only the generated ones are mutated). */
const REAL = (shared.skip !== false ? [] : [
  'linux_dlt_sll2.pcap', 'test202.pcapng', 'many_interfaces-1.pcapng', 'pcapng-multi-interface.pcapng', 'icmp-frame-relay.pcap',
  'nflog-http.pcap', 'ipoib.pcap', '80211http.pcap', 'mpls-traceroute.pcap', 'quic_handshake.pcap', 'ipv6hdr-heapoverflow.pcap',
  'heapoverflow-ip_demux_print.pcap', 'pppoe-over-qinq.pcap', 'mixed-vlan-mpls.pcap', 'ipv6_fragments.pcapng', 'raw_ip.pcap',
  'nanosecs_big_endian.pcap', 'tls_DER-incomplete-header.pcap', 'LINKTYPE_IPV4_invalid.pcap', 'flow-test-01.pcap',
]).map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(shared.dir, name))) }));

function generated(): { name: string; bytes: Uint8Array }[] {
  const v4 = ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 1, dstPort: 2 });
  const v6 = ipv6Packet({ src: '::1', dst: '::2', protocol: 17, srcPort: 3, dstPort: 4, extensions: [[0, [0, 0, 1, 4, 0, 0, 0, 0]], [44, [0, 0, 0, 1, 0, 0, 0, 1]]] });
  const frames = [ethernetFrame(0x0800, v4, [0x8100]), ethernetFrame(0x86dd, v6), ethernetFrame(0x8847, concatBytes([Uint8Array.from([0, 0, 1, 1]), v4]))];
  const pcapng = new PcapngWriter(false).sectionHeader().interfaceDescription(LinkType.ethernet, 0, [[9, [9]]]).interfaceDescription(LinkType.raw);
  for (const frame of frames) pcapng.enhancedPacket(0, 1, 2, frame).simplePacket(frame).obsoletePacket(1, 0, 3, v6);
  return [
    { name: 'gen-be-ns.pcap', bytes: pcapFile(frames.map((data) => ({ data })), { littleEndian: false, nanoseconds: true }) },
    { name: 'gen-raw.pcap', bytes: pcapFile([v4, v6, v4].map((data) => ({ data })), { linkType: LinkType.raw }) },
    { name: 'gen.pcapng', bytes: concatBytes([pcapng.toBytes(), new PcapngWriter(true).sectionHeader().interfaceDescription(LinkType.null).enhancedPacket(0, 0, 0, concatBytes([Uint8Array.from([30, 0, 0, 0]), v6])).toBytes()]) },
  ];
}

const EDGE_LENGTHS = [0, 1, 4, 11, 12, 13, 16, 28, 32, 0x7fffffff, 0xffffffff, 0x80000000, 262144, 262145, 16 * 1024 * 1024];

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const pick = (limit: number): number => Math.floor(random() * Math.max(1, limit));
  const mutations = 1 + pick(4);
  for (let m = 0; m < mutations && bytes.length > 0; m++) {
    switch (pick(6)) {
      case 0:
        bytes[pick(bytes.length)]! ^= 1 << pick(8);
        break;
      case 1:
        bytes[pick(bytes.length)] = pick(256);
        break;
      case 2:
        bytes = bytes.slice(0, pick(bytes.length));
        break;
      case 3: {
        const at = pick(bytes.length);
        const inserted = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256));
        bytes = concatBytes([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
        break;
      }
      case 4: {
        // Length fields sit at 4-byte boundaries in both formats: corrupt one with an edge value.
        if (bytes.length < 4) break;
        const at = pick(bytes.length >> 2) << 2;
        const value = EDGE_LENGTHS[pick(EDGE_LENGTHS.length)]!;
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value, random() < 0.5);
        break;
      }
      default: {
        const from = pick(bytes.length);
        const length = pick(64);
        bytes = concatBytes([bytes.subarray(0, from), bytes.subarray(Math.min(bytes.length, from + length))]);
      }
    }
  }
  return bytes;
}

function assertSane(result: DecodeResult, input: Uint8Array): void {
  const { stats } = result;
  assert.ok(stats.ipFrames <= stats.frames);
  assert.equal(stats.ipv4Frames + stats.ipv6Frames, stats.ipFrames);
  assert.equal(stats.nonIpFrames, stats.frames - stats.ipFrames);
  assert.equal(result.packets.length, stats.ipFrames);
  assert.ok(stats.capturedBytes <= input.length);
  assert.ok(stats.ipBytes <= stats.bytes);
  if (result.error !== undefined) {
    assert.match(result.error.code, /^NS_ERR_(CAPTURE|PCAP|PCAPNG)_/);
    const offset = result.error.location.offset;
    assert.ok(offset !== undefined && offset >= 0 && offset <= input.length, `error offset ${offset} of ${input.length}`);
  }
}

test('fuzz: mutated captures in random chunks never throw, hang or disagree with themselves', { timeout: BUDGET_MS + 60_000 }, async (t) => {
  if (shared.skip !== false) t.diagnostic(`generated captures only: ${shared.skip}`);
  const corpus = [...REAL, ...generated()];
  const deadline = Date.now() + BUDGET_MS;
  let runs = 0;
  for (let seed = FIRST_SEED; Date.now() < deadline || runs === 0; seed++, runs++) {
    const random = seededRandom(seed);
    const base = corpus[Math.floor(random() * corpus.length)]!;
    const input = mutate(base.bytes, random);
    const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(random() ** 3 * 5000));
    try {
      const whole = await decodeAll(chunksOf(input, input.length || 1), base.name);
      const chunked = await decodeAll(chunksOfSizes(input, sizes), base.name);
      assertSane(whole, input);
      assert.deepEqual(chunked.stats, whole.stats);
      assert.deepEqual(chunked.packets, whole.packets);
      assert.equal(chunked.error?.message, whole.error?.message);
    } catch (error) {
      assert.fail(`fuzz failure with seed ${seed} (${base.name}, chunk sizes ${sizes.join(',')}); replay with NS_FUZZ_SEED=${seed}: ${error instanceof Error ? error.stack : String(error)}`);
    }
    if (runs % 100 === 0) assert.ok(process.memoryUsage().rss < RSS_LIMIT_BYTES, `memory grew to ${process.memoryUsage().rss} bytes (seed ${seed})`);
  }
  assert.ok(runs > 0);
  console.log(`fuzz: ${runs} mutated inputs from seed ${FIRST_SEED}`);
});
