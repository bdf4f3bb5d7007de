/** Link layers and the IP/TCP/UDP rules, on frames built in the test. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LinkType } from '../../src/decode/index.js';
import { concatBytes, ethernetFrame, ipv4Packet, ipv6Packet, pcapFile } from './capture-writer.js';
import type { DecodeResult } from './decode-helpers.js';
import { decodeBytes } from './decode-helpers.js';

const TCP_V4 = ipv4Packet({ src: '10.0.0.1', dst: '192.168.1.2', protocol: 6, srcPort: 1234, dstPort: 443 });
const UDP_V6 = ipv6Packet({ src: '2001:db8::1', dst: 'ff02::16', protocol: 17, srcPort: 5353, dstPort: 53 });
const TCP_V4_TEXT = '10.0.0.1 192.168.1.2 1234 443 6';
const UDP_V6_TEXT = '2001:db8::1 ff02::16 5353 53 17';

function decodeFrames(linkType: number, frames: readonly Uint8Array[]): Promise<DecodeResult> {
  return decodeBytes(pcapFile(frames.map((data) => ({ data })), { linkType }));
}

function tuples(result: DecodeResult): string[] {
  return result.packets.map((p) => `${p.src} ${p.dst} ${p.srcPort} ${p.dstPort} ${p.protocol}`);
}

async function assertTuples(linkType: number, frames: readonly Uint8Array[], expected: readonly string[]): Promise<DecodeResult> {
  const result = await decodeFrames(linkType, frames);
  assert.equal(result.error, undefined, result.error?.message);
  assert.deepEqual(tuples(result), expected);
  assert.equal(result.stats.frames, frames.length);
  assert.equal(result.stats.ipFrames, expected.length);
  assert.equal(result.stats.nonIpFrames, frames.length - expected.length);
  return result;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('Ethernet', () => {
  test('IPv4, IPv6, ARP and an 802.3/LLC-SNAP frame', async () => {
    const arp = ethernetFrame(0x0806, new Uint8Array(28));
    const snap = concatBytes([bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 60), bytes(0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00), TCP_V4]);
    const result = await assertTuples(LinkType.ethernet, [ethernetFrame(0x0800, TCP_V4), ethernetFrame(0x86dd, UDP_V6), arp, snap], [TCP_V4_TEXT, UDP_V6_TEXT, TCP_V4_TEXT]);
    assert.equal(result.stats.ipv4Frames, 2);
    assert.equal(result.stats.ipv6Frames, 1);
    assert.equal(result.packets[0]!.family, 4);
    assert.equal(result.packets[1]!.family, 6);
  });

  test('802.1Q, 802.1ad and 0x9100 tag stacks', async () => {
    await assertTuples(
      LinkType.ethernet,
      [ethernetFrame(0x0800, TCP_V4, [0x8100]), ethernetFrame(0x86dd, UDP_V6, [0x88a8, 0x8100]), ethernetFrame(0x0800, TCP_V4, [0x9100, 0x8100, 0x8100])],
      [TCP_V4_TEXT, UDP_V6_TEXT, TCP_V4_TEXT],
    );
  });

  test('MPLS label stacks: the payload is guessed from its version nibble after the bottom of stack', async () => {
    const twoLabels = bytes(0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40);
    await assertTuples(
      LinkType.ethernet,
      [ethernetFrame(0x8847, concatBytes([twoLabels, UDP_V6])), ethernetFrame(0x8847, concatBytes([twoLabels, TCP_V4]), [0x8100]), ethernetFrame(0x8848, concatBytes([twoLabels, bytes(0, 0, 0, 0)]))],
      [UDP_V6_TEXT, TCP_V4_TEXT],
    );
  });

  test('PPPoE session inside QinQ: PPP 0x0021 IPv4, 0x0057 IPv6, LCP is not IP', async () => {
    const pppoe = (protocol: number, payload: Uint8Array): Uint8Array => concatBytes([bytes(0x11, 0x00, 0x00, 0x01, 0, payload.length + 2, protocol >> 8, protocol & 0xff), payload]);
    await assertTuples(
      LinkType.ethernet,
      [ethernetFrame(0x8864, pppoe(0x0021, TCP_V4), [0x88a8, 0x8100]), ethernetFrame(0x8864, pppoe(0x0057, UDP_V6)), ethernetFrame(0x8864, pppoe(0xc021, new Uint8Array(8)))],
      [TCP_V4_TEXT, UDP_V6_TEXT],
    );
  });

  test('a version-6 packet behind EtherType 0x0800 is IPv6 (as tshark); a version-4 packet behind 0x86dd is not IP', async () => {
    const result = await assertTuples(LinkType.ethernet, [ethernetFrame(0x0800, UDP_V6), ethernetFrame(0x86dd, TCP_V4)], [UDP_V6_TEXT]);
    assert.deepEqual(result.stats.malformed, { ip_bad_version: 1 });
  });

  test('a frame shorter than the Ethernet header is counted, not IP', async () => {
    const result = await assertTuples(LinkType.ethernet, [bytes(1, 2, 3)], []);
    assert.deepEqual(result.stats.malformed, { link_truncated: 1 });
  });
});

describe('other link types', () => {
  test('raw IP (12, 14, 101, 228) by version nibble; 229 is IPv6 only', async () => {
    for (const linkType of [LinkType.raw, LinkType.rawOpenBsd, LinkType.rawBsdOs, LinkType.ipv4]) {
      await assertTuples(linkType, [TCP_V4, UDP_V6], [TCP_V4_TEXT, UDP_V6_TEXT]);
    }
    await assertTuples(LinkType.ipv6, [UDP_V6, TCP_V4], [UDP_V6_TEXT]);
  });

  test('BSD NULL in either byte order and LOOP, AF_INET and the three AF_INET6 values', async () => {
    const family = (value: number, littleEndian: boolean): Uint8Array => (littleEndian ? bytes(value, 0, 0, 0) : bytes(0, 0, 0, value));
    for (const littleEndian of [true, false]) {
      await assertTuples(
        LinkType.null,
        [concatBytes([family(2, littleEndian), TCP_V4]), concatBytes([family(24, littleEndian), UDP_V6]), concatBytes([family(28, littleEndian), UDP_V6]), concatBytes([family(30, littleEndian), UDP_V6]), concatBytes([family(7, littleEndian), TCP_V4])],
        [TCP_V4_TEXT, UDP_V6_TEXT, UDP_V6_TEXT, UDP_V6_TEXT],
      );
    }
    await assertTuples(LinkType.loop, [concatBytes([family(2, false), TCP_V4])], [TCP_V4_TEXT]);
  });

  test('Linux cooked captures v1 and v2', async () => {
    const sll = (protocol: number, payload: Uint8Array, arphrd = 1): Uint8Array =>
      concatBytes([bytes(0, 0, arphrd >> 8, arphrd & 0xff, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, protocol >> 8, protocol & 0xff), payload]);
    await assertTuples(LinkType.linuxSll, [sll(0x0800, TCP_V4), sll(0x86dd, UDP_V6), sll(0x0806, new Uint8Array(28)), sll(0x0800, TCP_V4, 824)], [TCP_V4_TEXT, UDP_V6_TEXT]);
    const sll2 = (protocol: number, payload: Uint8Array): Uint8Array => concatBytes([bytes(protocol >> 8, protocol & 0xff, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0), payload]);
    await assertTuples(LinkType.linuxSll2, [sll2(0x0800, TCP_V4), sll2(0x8100, concatBytes([bytes(0, 5, 0x86, 0xdd), UDP_V6]))], [TCP_V4_TEXT, UDP_V6_TEXT]);
  });

  test('PPP with and without HDLC framing, protocol-field compression, MPLS; Cisco HDLC', async () => {
    await assertTuples(
      LinkType.ppp,
      [concatBytes([bytes(0xff, 0x03, 0x00, 0x21), TCP_V4]), concatBytes([bytes(0x00, 0x57), UDP_V6]), concatBytes([bytes(0x21), TCP_V4]), concatBytes([bytes(0xff, 0x03, 0x02, 0x81, 0, 0, 1, 64), TCP_V4]), bytes(0xff, 0x03, 0xc0, 0x21, 1, 1)],
      [TCP_V4_TEXT, UDP_V6_TEXT, TCP_V4_TEXT, TCP_V4_TEXT],
    );
    await assertTuples(LinkType.pppHdlc, [concatBytes([bytes(0xff, 0x03, 0x00, 0x21), TCP_V4])], [TCP_V4_TEXT]);
    await assertTuples(LinkType.cHdlc, [concatBytes([bytes(0x0f, 0x00, 0x08, 0x00), TCP_V4]), concatBytes([bytes(0x8f, 0x00, 0x86, 0xdd), UDP_V6])], [TCP_V4_TEXT, UDP_V6_TEXT]);
  });

  test('Frame Relay: Cisco EtherType, RFC 2427 NLPID IPv4/IPv6 and SNAP', async () => {
    await assertTuples(
      LinkType.frameRelay,
      [
        concatBytes([bytes(0x18, 0x61, 0x08, 0x00), TCP_V4]),
        concatBytes([bytes(0x18, 0x41, 0x03, 0xcc), TCP_V4]),
        concatBytes([bytes(0x18, 0x41, 0x03, 0x8e), UDP_V6]),
        concatBytes([bytes(0x18, 0x41, 0x03, 0x00, 0x80, 0, 0, 0, 0x08, 0x00), TCP_V4]),
        bytes(0x18, 0x41, 0x03, 0x08, 1, 2),
      ],
      [TCP_V4_TEXT, TCP_V4_TEXT, UDP_V6_TEXT, TCP_V4_TEXT],
    );
  });

  const snapIpv4 = concatBytes([bytes(0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00), TCP_V4]);
  const header80211 = (frameControl: number, flags: number, extra = 0): Uint8Array => concatBytes([bytes(frameControl, flags), new Uint8Array(22 + extra)]);

  test('802.11 data frames: plain, QoS, four addresses, QoS+HT; management, null and protected frames are not IP', async () => {
    await assertTuples(
      LinkType.ieee80211,
      [
        concatBytes([header80211(0x08, 0x01), snapIpv4]),
        concatBytes([header80211(0x88, 0x02, 2), snapIpv4]),
        concatBytes([header80211(0x08, 0x03, 6), snapIpv4]),
        concatBytes([header80211(0x88, 0x81, 6), snapIpv4]),
        concatBytes([header80211(0x80, 0x00), new Uint8Array(40)]),
        header80211(0x48, 0x01),
        concatBytes([header80211(0x08, 0x41, 8), snapIpv4]),
      ],
      [TCP_V4_TEXT, TCP_V4_TEXT, TCP_V4_TEXT, TCP_V4_TEXT],
    );
  });

  test('802.11 behind radiotap, PPI and AVS headers', async () => {
    const data = concatBytes([header80211(0x08, 0x01), snapIpv4]);
    await assertTuples(LinkType.radiotap, [concatBytes([bytes(0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0), data])], [TCP_V4_TEXT]);
    await assertTuples(LinkType.ppi, [concatBytes([bytes(0, 0, 8, 0, 105, 0, 0, 0), data])], [TCP_V4_TEXT]);
    await assertTuples(LinkType.avs, [concatBytes([bytes(0x80, 0x21, 0x10, 0x01, 0, 0, 0, 64), new Uint8Array(56), data])], [TCP_V4_TEXT]);
  });

  test('FDDI, IP over InfiniBand and NFLOG', async () => {
    await assertTuples(LinkType.fddi, [concatBytes([new Uint8Array(13), snapIpv4])], [TCP_V4_TEXT]);
    await assertTuples(LinkType.ipoib, [concatBytes([new Uint8Array(40), bytes(0x08, 0x00, 0, 0), TCP_V4]), concatBytes([new Uint8Array(40), bytes(0x08, 0x06, 0, 0), new Uint8Array(28)])], [TCP_V4_TEXT]);
    const tlv = (type: number, value: Uint8Array): Uint8Array => {
      const length = 4 + value.length;
      return concatBytes([bytes(length & 0xff, length >> 8, type, 0), value, new Uint8Array((4 - (length % 4)) % 4)]);
    };
    await assertTuples(
      LinkType.nflog,
      [concatBytes([bytes(2, 0, 0, 1), tlv(1, bytes(8, 0, 1, 0)), tlv(10, bytes(65, 0)), tlv(9, TCP_V4)]), concatBytes([bytes(10, 0, 0, 1), tlv(9, UDP_V6)])],
      [TCP_V4_TEXT, UDP_V6_TEXT],
    );
  });

  test('an unsupported link type is counted per type, never fatal', async () => {
    const result = await assertTuples(147, [TCP_V4, TCP_V4], []);
    assert.deepEqual(result.stats.unsupportedLinkTypes, { LINKTYPE_147: 2 });
  });
});

describe('IPv4 / IPv6 / TCP / UDP rules', () => {
  test('non-first fragments keep the protocol but have no ports; first fragments have them', async () => {
    const first = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17, srcPort: 53, dstPort: 999, fragmentOffset: 0x2000 });
    const later = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17, srcPort: 53, dstPort: 999, fragmentOffset: 0x00b9 });
    await assertTuples(LinkType.raw, [first, later], ['1.1.1.1 2.2.2.2 53 999 17', '1.1.1.1 2.2.2.2 0 0 17']);
  });

  test('ICMP and SCTP have ports 0; IP options are skipped', async () => {
    const icmp = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 1, payloadLength: 8 });
    const sctp = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 132, payloadLength: 16 });
    const withOptions = Uint8Array.from([0x46, 0, 0, 48, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 0, 0, 7, 0, 9, 0, 28, 0, 0, ...new Array<number>(16).fill(0)]);
    await assertTuples(LinkType.raw, [icmp, sctp, withOptions], ['1.1.1.1 2.2.2.2 0 0 1', '1.1.1.1 2.2.2.2 0 0 132', '1.1.1.1 2.2.2.2 7 9 17']);
  });

  test('a bogus IPv4 header (IHL < 5, total length < IHL, fewer than 20 bytes) is not IP', async () => {
    const badIhl = TCP_V4.slice();
    badIhl[0] = 0x44;
    const badTotal = TCP_V4.slice();
    badTotal[2] = 0;
    badTotal[3] = 10;
    const result = await assertTuples(LinkType.raw, [badIhl, badTotal, TCP_V4.subarray(0, 19)], []);
    assert.deepEqual(result.stats.malformed, { ipv4_bad_ihl: 1, ipv4_bad_total_length: 1, ipv4_truncated: 1 });
  });

  test('total length 0 (segmentation offload) still gives ports; ports cut off give 0 and a count', async () => {
    const offload = TCP_V4.slice();
    offload[2] = 0;
    offload[3] = 0;
    const result = await assertTuples(LinkType.raw, [offload, TCP_V4.subarray(0, 22), UDP_V6.subarray(0, 42)], [TCP_V4_TEXT, '10.0.0.1 192.168.1.2 0 0 6', '2001:db8::1 ff02::16 0 0 17']);
    assert.deepEqual(result.stats.malformed, { tcp_truncated: 1, udp_truncated: 1 });
  });

  test('ports beyond the IPv4 total length (Ethernet padding) are not read', async () => {
    const short = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 6, srcPort: 1, dstPort: 2 });
    short[3] = 22;
    await assertTuples(LinkType.raw, [short], ['1.1.1.1 2.2.2.2 0 0 6']);
  });

  test('IPv6 extension headers are walked to TCP/UDP; AH ends the chain; non-first fragments have no ports', async () => {
    const hopByHop = [0, 0, 1, 4, 0, 0, 0, 0] as const;
    const routing = [43, 0, 0, 0, 0, 0, 0, 0] as const;
    const destination = [60, 0, 1, 4, 0, 0, 0, 0] as const;
    const firstFragment = [44, 0, 0x00, 0x01, 0, 0, 0, 7] as const;
    const laterFragment = [44, 0, 0x05, 0x00, 0, 0, 0, 7] as const;
    const ah = ipv6Packet({ src: '::1', dst: '::2', protocol: 51, extensions: [[0, hopByHop]], payloadLength: 24 });
    await assertTuples(
      LinkType.ipv6,
      [
        ipv6Packet({ src: '::1', dst: '::2', protocol: 17, srcPort: 1, dstPort: 2, extensions: [[0, hopByHop], [43, routing], [60, destination]] }),
        ipv6Packet({ src: '::1', dst: '::2', protocol: 6, srcPort: 3, dstPort: 4, extensions: [[44, firstFragment]] }),
        ipv6Packet({ src: '::1', dst: '::2', protocol: 6, srcPort: 3, dstPort: 4, extensions: [[44, laterFragment]] }),
        ah,
        ipv6Packet({ src: 'fe80::1', dst: 'ff02::1', protocol: 58, payloadLength: 8 }),
      ],
      ['::1 ::2 1 2 17', '::1 ::2 3 4 6', '::1 ::2 0 0 6', '::1 ::2 0 0 51', 'fe80::1 ff02::1 0 0 58'],
    );
  });

  test('a truncated IPv6 extension chain gives the next-header value of the last header read', async () => {
    const packet = ipv6Packet({ src: '::1', dst: '::2', protocol: 17, srcPort: 1, dstPort: 2, extensions: [[0, [0, 0, 0, 0, 0, 0, 0, 0]], [60, [0, 0, 0, 0, 0, 0, 0, 0]]] });
    const result = await assertTuples(LinkType.ipv6, [packet.subarray(0, 40 + 8 + 1), packet.subarray(0, 40 + 2)], ['::1 ::2 0 0 60', '::1 ::2 0 0 60']);
    assert.deepEqual(result.stats.malformed, { ipv6_extension_truncated: 2 });
  });

  test('IPv6 shorter than 40 bytes is not IP; IPv4-mapped and IPv4 stay distinct families', async () => {
    const mapped = ipv6Packet({ src: '::ffff:10.0.0.1', dst: '::ffff:192.168.1.2', protocol: 6, srcPort: 1234, dstPort: 443 });
    const result = await assertTuples(LinkType.raw, [UDP_V6.subarray(0, 39), mapped, TCP_V4], ['::ffff:10.0.0.1 ::ffff:192.168.1.2 1234 443 6', TCP_V4_TEXT]);
    assert.deepEqual(
      result.packets.map((p) => p.family),
      [6, 4],
    );
  });

  test('wire length, not captured length, is the packet length', async () => {
    const result = await decodeBytes(pcapFile([{ data: ethernetFrame(0x0800, TCP_V4), wireLength: 1514 }]));
    assert.equal(result.packets[0]!.wireLength, 1514);
    assert.equal(result.stats.bytes, 1514);
    assert.equal(result.stats.capturedBytes, 14 + TCP_V4.length);
    assert.equal(result.stats.truncatedFrames, 1);
    assert.equal(result.stats.ipBytes, 1514);
  });
});
