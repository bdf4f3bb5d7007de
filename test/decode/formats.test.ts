/** File formats built in the test: the four pcap magics, pcapng in both byte orders and its blocks, gzip. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openCaptureFile } from '../../src/capture/file-source.js';
import { LinkType, emptyDecodeStats, mergeDecodeStats } from '../../src/decode/index.js';
import { PcapngWriter, concatBytes, ethernetFrame, int64Bytes, ipv4Packet, ipv6Packet, pcapFile } from './capture-writer.js';
import { chunksOf, decodeAll, decodeBytes } from './decode-helpers.js';

const TCP_FRAME = ethernetFrame(0x0800, ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 40000, dstPort: 80 }));
const UDP6_FRAME = ethernetFrame(0x86dd, ipv6Packet({ src: '2001:db8::a', dst: '2001:db8::b', protocol: 17, srcPort: 500, dstPort: 4500 }));
const NULL_FRAME = concatBytes([Uint8Array.from([2, 0, 0, 0]), ipv4Packet({ src: '127.0.0.1', dst: '127.0.0.1', protocol: 17, srcPort: 1, dstPort: 2 })]);

const temporary = mkdtempSync(join(tmpdir(), 'netspectra-decode-'));
after(() => rmSync(temporary, { recursive: true, force: true }));

describe('classic pcap', () => {
  for (const littleEndian of [true, false]) {
    for (const nanoseconds of [false, true]) {
      test(`magic ${nanoseconds ? 'a1b23c4d (ns)' : 'a1b2c3d4 (µs)'} ${littleEndian ? 'little' : 'big'}-endian`, async () => {
        const fraction = nanoseconds ? 123_456_789 : 123_456;
        const file = pcapFile(
          [
            { data: TCP_FRAME, seconds: 1_700_000_001, fraction },
            { data: UDP6_FRAME, seconds: 1_700_000_000, fraction: 5, wireLength: 1000 },
          ],
          { littleEndian, nanoseconds },
        );
        const { stats, error, packets } = await decodeBytes(file);
        assert.equal(error, undefined);
        assert.equal(stats.frames, 2);
        assert.equal(stats.ipv4Frames, 1);
        assert.equal(stats.ipv6Frames, 1);
        assert.equal(stats.bytes, TCP_FRAME.length + 1000);
        assert.equal(stats.nanosecondResolution, nanoseconds);
        assert.deepEqual(
          packets.map((p) => [p.seconds, p.nanos, p.src, p.dstPort, p.wireLength]),
          [
            [1_700_000_001, nanoseconds ? 123_456_789 : 123_456_000, '10.0.0.1', 80, TCP_FRAME.length],
            [1_700_000_000, nanoseconds ? 5 : 5000, '2001:db8::a', 4500, 1000],
          ],
        );
        assert.deepEqual(stats.firstTimestamp, { seconds: 1_700_000_000, nanos: nanoseconds ? 5 : 5000 });
        assert.deepEqual(stats.lastTimestamp, { seconds: 1_700_000_001, nanos: nanoseconds ? 123_456_789 : 123_456_000 });
      });
    }
  }

  test('FCS bits in the upper bits of the link type field are masked', async () => {
    const { stats } = await decodeBytes(pcapFile([{ data: TCP_FRAME }], { linkType: 0x14000000 | LinkType.ethernet }));
    assert.equal(stats.ipFrames, 1);
    assert.deepEqual(stats.unsupportedLinkTypes, {});
  });

  test('a record above 262144 bytes is fine when the snaplen allows it', async () => {
    const big = concatBytes([TCP_FRAME, new Uint8Array(300_000)]);
    const { stats, error } = await decodeBytes(pcapFile([{ data: big }, { data: TCP_FRAME }], { snaplen: 1 << 20 }));
    assert.equal(error, undefined);
    assert.equal(stats.frames, 2);
    assert.equal(stats.ipFrames, 2);
  });

  test('a timestamp fraction of a second or more carries into the seconds', async () => {
    const { packets } = await decodeBytes(pcapFile([{ data: TCP_FRAME, seconds: 10, fraction: 2_500_000 }]));
    assert.deepEqual([packets[0]!.seconds, packets[0]!.nanos], [12, 500_000_000]);
  });

  test('many packets fill several batches, the last one partial', async () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({ data: i % 3 === 0 ? NULL_FRAME.subarray(4) : TCP_FRAME, seconds: i }));
    const file = pcapFile(records, { linkType: LinkType.raw });
    const result = await decodeAll(chunksOf(file, file.length), 'many.pcap', { batchCapacity: 64 });
    assert.equal(result.stats.ipFrames, 334);
    assert.equal(result.batches, Math.ceil(334 / 64));
  });
});

describe('pcapng', () => {
  for (const littleEndian of [true, false]) {
    test(`${littleEndian ? 'little' : 'big'}-endian section with EPB, SPB, OPB and skipped blocks`, async () => {
      const file = new PcapngWriter(littleEndian)
        .sectionHeader()
        .block(0x00000bad, (w) => w.u32(32473).bytes([1, 2, 3]))
        .interfaceDescription(LinkType.ethernet, 70)
        .block(4, (w) => w.u16(0).u16(0))
        .enhancedPacket(0, 0x00060a24, 0x181e4000, TCP_FRAME, 1514)
        .simplePacket(concatBytes([UDP6_FRAME, new Uint8Array(72 - UDP6_FRAME.length)]), 200)
        .obsoletePacket(0, 0x00060a24, 0x181e4001, UDP6_FRAME)
        .block(5, (w) => w.u32(0).u32(0).u32(0))
        .block(0x12345678, (w) => w.zeros(20))
        .toBytes();
      const { stats, error, packets } = await decodeBytes(file, 'test.pcapng');
      assert.equal(error, undefined, error?.message);
      assert.equal(stats.frames, 3);
      assert.equal(stats.ipFrames, 3);
      // SPB: captured = min(wire 200, snaplen 70, block room 72).
      assert.equal(stats.capturedBytes, TCP_FRAME.length + 70 + UDP6_FRAME.length);
      assert.equal(stats.bytes, 1514 + 200 + UDP6_FRAME.length);
      assert.equal(stats.truncatedFrames, 2);
      // 0x00060a24_181e4000 µs = 1_700_000_000 s exactly.
      assert.deepEqual(
        packets.map((p) => [p.seconds, p.nanos, p.src, p.wireLength]),
        [
          [1_700_000_000, 0, '10.0.0.1', 1514],
          [1_700_000_000, 0, '2001:db8::a', 200],
          [1_700_000_000, 1000, '2001:db8::a', UDP6_FRAME.length],
        ],
      );
      assert.deepEqual(stats.lastTimestamp, { seconds: 1_700_000_000, nanos: 1000 });
    });
  }

  test('sections of different byte orders each have their own interfaces', async () => {
    const file = concatBytes([
      new PcapngWriter(false).sectionHeader().interfaceDescription(LinkType.ethernet).interfaceDescription(LinkType.null).enhancedPacket(1, 0, 5, NULL_FRAME).enhancedPacket(0, 0, 6, TCP_FRAME).toBytes(),
      new PcapngWriter(true).sectionHeader().interfaceDescription(LinkType.null).enhancedPacket(0, 0, 7, NULL_FRAME).toBytes(),
      new PcapngWriter(false).sectionHeader().interfaceDescription(LinkType.ethernet).enhancedPacket(0, 0, 8, TCP_FRAME).simplePacket(TCP_FRAME).toBytes(),
    ]);
    const { stats, error, packets } = await decodeBytes(file, 'sections.pcapng');
    assert.equal(error, undefined, error?.message);
    assert.equal(stats.frames, 5);
    assert.equal(stats.ipFrames, 5);
    assert.deepEqual(
      packets.map((p) => p.src),
      ['127.0.0.1', '10.0.0.1', '127.0.0.1', '10.0.0.1', '10.0.0.1'],
    );
    // The SPB has no time of its own: it takes the latest one seen.
    assert.deepEqual(
      packets.map((p) => p.nanos),
      [5000, 6000, 7000, 8000, 8000],
    );
  });

  test('an interface of a previous section is forgotten at the next section header', async () => {
    const file = concatBytes([
      new PcapngWriter(true).sectionHeader().interfaceDescription(LinkType.ethernet).interfaceDescription(LinkType.ethernet).enhancedPacket(1, 0, 0, TCP_FRAME).toBytes(),
      new PcapngWriter(true).sectionHeader().interfaceDescription(LinkType.ethernet).enhancedPacket(1, 0, 0, TCP_FRAME).toBytes(),
    ]);
    const { stats, error } = await decodeBytes(file, 'iface.pcapng');
    assert.equal(stats.frames, 1);
    assert.equal(error?.code, 'NS_ERR_PCAPNG_BAD_INTERFACE');
  });

  test('if_tsresol (powers of 10 and 2) and if_tsoffset', async () => {
    for (const littleEndian of [true, false]) {
      const writer = new PcapngWriter(littleEndian)
        .sectionHeader()
        .interfaceDescription(LinkType.ethernet, 0, [[9, [9]]])
        .interfaceDescription(LinkType.ethernet, 0, [[9, [3]], [14, int64Bytes(1_000_000_000, littleEndian)]])
        .interfaceDescription(LinkType.ethernet, 0, [[9, [0x80 | 10]]])
        .interfaceDescription(LinkType.ethernet, 0, [[14, int64Bytes(-100, littleEndian)]])
        .interfaceDescription(LinkType.ethernet, 0, [[9, [0]]]);
      // 1_700_000_000_123_456_789 ns needs more than 53 bits: the exact path.
      const nanoseconds = 1_700_000_000_123_456_789n;
      writer.enhancedPacket(0, Number(nanoseconds >> 32n), Number(nanoseconds & 0xffffffffn), TCP_FRAME);
      const milliseconds = 700_000_000_250;
      writer.enhancedPacket(1, Math.floor(milliseconds / 2 ** 32), milliseconds % 2 ** 32, TCP_FRAME);
      writer.enhancedPacket(2, 0, 1024 * 1000 + 512, TCP_FRAME);
      writer.enhancedPacket(3, 0, 1_000_000_001, TCP_FRAME);
      writer.enhancedPacket(4, 0, 1_700_000_000, TCP_FRAME);
      const { packets, stats, error } = await decodeBytes(writer.toBytes(), 'resolution.pcapng');
      assert.equal(error, undefined, error?.message);
      assert.equal(stats.nanosecondResolution, true);
      assert.deepEqual(
        packets.map((p) => [p.seconds, p.nanos]),
        [
          [1_700_000_000, 123_456_789],
          [1_700_000_000, 250_000_000],
          [1000, 500_000_000],
          [900, 1000],
          [1_700_000_000, 0],
        ],
      );
    }
  });

  test('microsecond resolution only does not claim nanoseconds', async () => {
    const file = new PcapngWriter(true).sectionHeader().interfaceDescription(LinkType.ethernet).enhancedPacket(0, 0, 1, TCP_FRAME).toBytes();
    const { stats } = await decodeBytes(file, 'us.pcapng');
    assert.equal(stats.nanosecondResolution, false);
  });
});

describe('openCaptureFile', () => {
  const plain = pcapFile([{ data: TCP_FRAME }, { data: UDP6_FRAME }]);

  test('reads a plain and a gzip-compressed capture alike', async () => {
    const plainPath = join(temporary, 'plain.pcap');
    const gzipPath = join(temporary, 'compressed.pcap.gz');
    writeFileSync(plainPath, plain);
    writeFileSync(gzipPath, gzipSync(plain));
    const fromPlain = await decodeAll(openCaptureFile(plainPath), 'plain.pcap');
    const fromGzip = await decodeAll(openCaptureFile(gzipPath), 'compressed.pcap.gz');
    assert.equal(fromGzip.error, undefined);
    assert.equal(fromGzip.stats.ipFrames, 2);
    assert.deepEqual(fromGzip.packets, fromPlain.packets);
  });

  test('a gzip-compressed pcapng too', async () => {
    const path = join(temporary, 'compressed.pcapng.gz');
    writeFileSync(path, gzipSync(new PcapngWriter(false).sectionHeader().interfaceDescription(LinkType.ethernet).enhancedPacket(0, 0, 1, TCP_FRAME).toBytes()));
    const result = await decodeAll(openCaptureFile(path), 'compressed.pcapng.gz');
    assert.equal(result.stats.ipFrames, 1);
  });

  test('a missing file is NS_ERR_CAPTURE_OPEN naming the file', async () => {
    const path = join(temporary, 'missing.pcap');
    await assert.rejects(decodeAll(openCaptureFile(path)), (error: unknown) => {
      assert.ok(error instanceof Error && 'code' in error && error.code === 'NS_ERR_CAPTURE_OPEN');
      assert.ok(error.message.includes(path));
      return true;
    });
  });

  test('a damaged gzip stream is NS_ERR_CAPTURE_GZIP naming the file', async () => {
    const compressed = gzipSync(concatBytes([plain, plain, plain]));
    const damaged = compressed.slice();
    for (let i = 20; i < damaged.length - 8; i += 3) damaged[i]! ^= 0x55;
    const path = join(temporary, 'damaged.pcap.gz');
    writeFileSync(path, damaged);
    await assert.rejects(decodeAll(openCaptureFile(path)), (error: unknown) => {
      assert.ok(error instanceof Error && 'code' in error && error.code === 'NS_ERR_CAPTURE_GZIP', String(error));
      assert.ok(error.message.includes(path));
      return true;
    });
  });

  test('a cut gzip stream is NS_ERR_CAPTURE_GZIP', async () => {
    const compressed = gzipSync(plain);
    const path = join(temporary, 'cut.pcap.gz');
    writeFileSync(path, compressed.subarray(0, compressed.length - 12));
    await assert.rejects(decodeAll(openCaptureFile(path)), (error: unknown) => error instanceof Error && 'code' in error && error.code === 'NS_ERR_CAPTURE_GZIP');
  });
});

test('mergeDecodeStats adds counts and widens the time range', () => {
  const a = emptyDecodeStats();
  const b = emptyDecodeStats();
  Object.assign(a, { frames: 2, bytes: 100, ipFrames: 1, unsupportedLinkTypes: { LINKTYPE_9: 1 }, malformed: { tcp_truncated: 1 }, firstTimestamp: { seconds: 5, nanos: 0 }, lastTimestamp: { seconds: 6, nanos: 0 } });
  Object.assign(b, { frames: 3, bytes: 50, ipFrames: 3, unsupportedLinkTypes: { LINKTYPE_9: 2, LINKTYPE_7: 1 }, malformed: {}, firstTimestamp: { seconds: 4, nanos: 9 }, lastTimestamp: { seconds: 5, nanos: 0 }, nanosecondResolution: true });
  const total = emptyDecodeStats();
  mergeDecodeStats(total, a);
  mergeDecodeStats(total, b);
  assert.equal(total.frames, 5);
  assert.equal(total.bytes, 150);
  assert.equal(total.ipFrames, 4);
  assert.deepEqual(total.unsupportedLinkTypes, { LINKTYPE_9: 3, LINKTYPE_7: 1 });
  assert.deepEqual(total.malformed, { tcp_truncated: 1 });
  assert.deepEqual(total.firstTimestamp, { seconds: 4, nanos: 9 });
  assert.deepEqual(total.lastTimestamp, { seconds: 6, nanos: 0 });
  assert.equal(total.nanosecondResolution, true);
});
