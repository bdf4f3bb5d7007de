import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { OpenPersistenceFile, PersistenceFormat } from '../../src/capture/persistence/index.js';
import { PacketPersistence, openPersistenceFile } from '../../src/capture/persistence/index.js';
import { openCaptureFile } from '../../src/capture/file-source.js';
import { CaptureDecoder, LinkType, MAX_KEPT_FRAME_BYTES } from '../../src/decode/index.js';
import type { CapturedFrames } from '../../src/decode/index.js';
import { isNetSpectraError } from '../../src/model/errors.js';
import { formatAddressWords } from '../../src/model/ip.js';
import { BatchPool, type PacketBatch } from '../../src/model/packet.js';
import { formatTimestamp } from '../../src/model/time.js';
import { TrafficGenerator } from '../../src/synth/index.js';
import { writeSyntheticCapture } from '../../src/synth/index.js';
import { runProbe } from '../../src/cli/probe.js';
import type { CliIo } from '../../src/cli/io.js';
import { PcapngWriter, ethernetFrame, ipv4Packet, ipv6Packet } from '../decode/capture-writer.js';
import { asAsync, chunksOf, seededRandom } from '../decode/decode-helpers.js';
import { createSocket } from 'node:dgram';
import { liveCaptureSkip } from '../kit/live-capture.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';

const shared = sharedPcaps();

/** One decoded packet as a comparable line: time to the ns, family, addresses, ports, protocol, wire length. */
function packetLine(batch: PacketBatch, i: number): string {
  const family = batch.family[i]!;
  const src = formatAddressWords(batch.srcAddr, i * 4, family);
  const dst = formatAddressWords(batch.dstAddr, i * 4, family);
  return `${batch.tsSeconds[i]!}.${String(batch.tsNanos[i]!).padStart(9, '0')} v${family} ${src} ${dst} ${batch.srcPort[i]!} ${batch.dstPort[i]!} p${batch.protocol[i]!} len${batch.wireLength[i]!}`;
}

/** The line of a jsonl object, for comparison with packetLine. */
function jsonLine(object: { ts: string; src: string; dst: string; sport: number; dport: number; proto: number; len: number }, family: number): string {
  const millis = Date.parse(object.ts.slice(0, 19) + 'Z');
  const nanos = object.ts.slice(20, 29);
  return `${millis / 1000}.${nanos} v${family} ${object.src} ${object.dst} ${object.sport} ${object.dport} p${object.proto} len${object.len}`;
}

interface Decoded {
  lines: string[];
  /** A checksum of the captured bytes of each packet's frame (and their count). */
  frames: number[];
  /** Captured bytes of the longest frame. */
  longestFrame: number;
  linkTypes: number[];
  error: unknown;
}

/** FNV-1a over the bytes, mixed with the length: equal frames, equal sums; different ones, almost surely not. */
function frameSum(bytes: Uint8Array, start: number, length: number): number {
  let hash = 0x811c9dc5 ^ length;
  for (let i = start; i < start + length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

/** Same lines in the same order; a join first, because deepEqual on 100,000 strings is slow. */
function assertSameLines(actual: readonly string[], expected: readonly string[], label: string): void {
  if (actual.length === expected.length && actual.join('\n') === expected.join('\n')) return;
  const at = actual.findIndex((line, i) => line !== expected[i]);
  assert.fail(`${label}: ${actual.length} lines, expected ${expected.length}; first difference at ${at}: ${actual[at]} instead of ${expected[at]}`);
}

/**
 * Decode a capture with its frames kept; `each` sees every batch (to offer it) before the next is
 * decoded. Batches are small so that offers cross many batch boundaries.
 */
async function decodeCapture(chunks: AsyncIterable<Uint8Array>, name: string, each?: (batch: PacketBatch, frames: CapturedFrames) => void | Promise<void>): Promise<Decoded> {
  const pool = new BatchPool(997);
  const decoder = new CaptureDecoder({ name, pool, keepFrames: true });
  const result: Decoded = { lines: [], frames: [], longestFrame: 0, linkTypes: [], error: undefined };
  for await (const batch of decoder.decode(chunks)) {
    const frames = decoder.frames!;
    assert.equal(frames.count, batch.count, 'one kept frame per packet');
    for (let i = 0; i < batch.count; i++) {
      result.lines.push(packetLine(batch, i));
      const length = frames.lengths[i]!;
      result.frames.push(frameSum(frames.bytes, frames.offsets[i]!, length));
      result.longestFrame = Math.max(result.longestFrame, length);
      result.linkTypes.push(frames.linkTypes[i]!);
    }
    await each?.(batch, frames);
    pool.release(batch);
  }
  result.error = decoder.error;
  return result;
}

async function decodeFile(path: string): Promise<Decoded> {
  return decodeCapture(chunksOf(await readFile(path), 65_536), basename(path));
}

/** Offer a batch in slices of random sizes, as the probe's pacer does. */
function offerInSlices(persistence: PacketPersistence, random: () => number): (batch: PacketBatch, frames: CapturedFrames) => void {
  return (batch, frames) => {
    for (let start = 0; start < batch.count; ) {
      const end = Math.min(batch.count, start + 1 + Math.floor(random() * 400));
      persistence.offer(batch, start, end, frames);
      start = end;
    }
  };
}

const NAME = /^probe-(\d{8}T\d{6}Z)-w(\d+)-(\d{4,})\.(pcap|pcapng|jsonl)$/;

/** The files of each worker's series, in sequence order. */
function seriesOf(paths: readonly string[]): Map<number, string[]> {
  const series = new Map<number, string[]>();
  for (const path of paths) {
    const match = NAME.exec(basename(path));
    assert.ok(match, `file name ${basename(path)}`);
    const worker = Number(match[2]);
    series.set(worker, [...(series.get(worker) ?? []), path]);
  }
  for (const files of series.values()) files.sort((a, b) => Number(NAME.exec(basename(a))![3]) - Number(NAME.exec(basename(b))![3]));
  return series;
}

/** Read back every file of a series in order: pcap/pcapng through our decoder, jsonl through JSON.parse. */
async function readBack(format: PersistenceFormat, paths: readonly string[]): Promise<{ lines: string[]; frames: number[]; longestFrame: number; perFile: string[][] }> {
  const lines: string[] = [];
  const frames: number[] = [];
  let longestFrame = 0;
  const perFile: string[][] = [];
  for (const path of paths) {
    if (format === 'jsonl') {
      const text = await readFile(path, 'utf8');
      assert.ok(text.endsWith('\n'), `${path} ends with a complete line`);
      const fileLines = text
        .slice(0, -1)
        .split('\n')
        .map((line) => {
          const object = JSON.parse(line) as { ts: string; src: string; dst: string; sport: number; dport: number; proto: number; len: number };
          assert.deepEqual(Object.keys(object), ['ts', 'src', 'dst', 'sport', 'dport', 'proto', 'len']);
          assert.match(object.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
          return jsonLine(object, object.src.includes(':') ? 6 : 4);
        });
      perFile.push(fileLines);
      for (const item of fileLines) lines.push(item);
    } else {
      const decoded = await decodeFile(path);
      assert.equal(decoded.error, undefined, `${path} decodes without damage`);
      perFile.push(decoded.lines);
      for (const item of decoded.lines) lines.push(item);
      for (const item of decoded.frames) frames.push(item);
      longestFrame = Math.max(longestFrame, decoded.longestFrame);
    }
  }
  return { lines, frames, longestFrame, perFile };
}

const sorted = (lines: readonly string[]): string[] => [...lines].sort();

async function temporaryDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ns-persist-'));
}

/** A synthetic Ethernet capture: IPv4 and IPv6 TCP/UDP/ICMP, ns timestamps, over two hours of packet time. */
function syntheticCapture(packets: number, seed = 5): AsyncIterable<Uint8Array> {
  return asAsync(new TrafficGenerator({ packets, flows: Math.floor(packets / 20), spreaders: 2, spreadDestinations: 100, ipv6Fraction: 0.2, nanosecond: true, durationSeconds: 7200, seed }, 256 * 1024));
}

/**
 * A pcapng with an Ethernet and a raw-IP interface (two link types in one file), ns and µs
 * interfaces, IPv6 extension headers, ICMP, a non-first fragment, a frame cut by the snaplen and
 * one frame longer than the 262,144 bytes persistence keeps.
 */
function mixedCapture(): Uint8Array {
  const writer = new PcapngWriter(true).sectionHeader();
  writer.interfaceDescription(LinkType.ethernet, 0, [[9, [9]]]);
  writer.interfaceDescription(LinkType.raw, 0);
  const ns = (seconds: number, nanos: number): [number, number] => {
    const total = BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
    return [Number(total >> 32n), Number(total & 0xffffffffn)];
  };
  const us = (seconds: number, micros: number): [number, number] => {
    const total = BigInt(seconds) * 1_000_000n + BigInt(micros);
    return [Number(total >> 32n), Number(total & 0xffffffffn)];
  };
  const tcp4 = ipv4Packet({ src: '10.0.0.1', dst: '192.168.1.2', protocol: 6, srcPort: 40000, dstPort: 443, payloadLength: 100 });
  const udp6 = ipv6Packet({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 17, srcPort: 5353, dstPort: 53, extensions: [[0, [0, 0, 1, 4, 0, 0, 0, 0]]] });
  const icmp = ipv4Packet({ src: '192.168.1.2', dst: '10.0.0.1', protocol: 1, payloadLength: 8 });
  const fragment = ipv4Packet({ src: '10.0.0.1', dst: '192.168.1.2', protocol: 17, fragmentOffset: 185, payloadLength: 40 });
  const huge = ipv4Packet({ src: '10.9.9.9', dst: '10.8.8.8', protocol: 6, srcPort: 1, dstPort: 2, payloadLength: 300_000 - 40 });
  const mapped = ipv6Packet({ src: '::ffff:10.0.0.1', dst: '2001:db8::2', protocol: 6, srcPort: 1234, dstPort: 80 });
  const ethernet = (ip: Uint8Array, v6 = false): Uint8Array => ethernetFrame(v6 ? 0x86dd : 0x0800, ip);
  writer.enhancedPacket(0, ...ns(1_767_225_600, 123_456_789), ethernet(tcp4));
  writer.enhancedPacket(1, ...us(1_767_225_600, 500_000), udp6);
  writer.enhancedPacket(0, ...ns(1_767_225_601, 1), ethernet(icmp));
  writer.enhancedPacket(1, ...us(1_767_225_601, 999_999), fragment);
  const cut = ethernet(tcp4);
  writer.enhancedPacket(0, ...ns(1_767_225_602, 999_999_999), cut.subarray(0, 60), cut.length + 1000);
  writer.enhancedPacket(1, ...us(1_767_225_603, 0), huge);
  writer.enhancedPacket(0, ...ns(1_767_225_604, 42), ethernet(mapped, true));
  writer.enhancedPacket(1, ...us(1_767_225_605, 7), mapped);
  return writer.toBytes();
}

test('persistence: every format reads back equal to what was offered (synthetic, mixed link types, every shared capture)', async (t) => {
  const sources: { name: string; chunks: () => AsyncIterable<Uint8Array> }[] = [
    { name: 'synthetic.pcap', chunks: () => syntheticCapture(20_000) },
    { name: 'mixed.pcapng', chunks: () => asAsync([mixedCapture()]) },
  ];
  if (shared.skip === false) {
    for (const name of readdirSync(shared.dir).filter((file) => /\.pcap(ng)?$/.test(file)).sort()) sources.push({ name, chunks: () => openCaptureFile(join(shared.dir, name)) });
  } else {
    t.diagnostic(`only the synthetic captures: ${shared.skip}`);
  }
  const directory = await temporaryDirectory();
  try {
    const formats = ['pcap', 'pcapng', 'jsonl'] as const;
    const persistences = formats.map((format) => new PacketPersistence({ directory: join(directory, format), format, workers: 1, queuePackets: 1_000_000, queueBytes: 1 << 30 }));
    await Promise.all(persistences.map((persistence) => persistence.start()));
    // Each source is decoded once and every batch offered to the three formats, in the same slices.
    const random = seededRandom(11);
    const offered: Decoded = { lines: [], frames: [], longestFrame: 0, linkTypes: [], error: undefined };
    for (const source of sources) {
      const decoded = await decodeCapture(source.chunks(), source.name, (batch, frames) => {
        for (let start = 0; start < batch.count; ) {
          const end = Math.min(batch.count, start + 1 + Math.floor(random() * 400));
          for (const persistence of persistences) persistence.offer(batch, start, end, frames);
          start = end;
        }
      });
      for (const item of decoded.lines) offered.lines.push(item);
      for (const item of decoded.frames) offered.frames.push(item);
      for (const item of decoded.linkTypes) offered.linkTypes.push(item);
      offered.longestFrame = Math.max(offered.longestFrame, decoded.longestFrame);
    }
    // The mixed capture's 300,000-byte frame is kept as 262,144 bytes, its wire length unchanged.
    assert.equal(offered.longestFrame, MAX_KEPT_FRAME_BYTES);
    assert.ok(offered.lines.some((line) => line.endsWith(' len300000')));
    await Promise.all(persistences.map((persistence) => persistence.stop()));
    for (const [index, format] of formats.entries()) {
      const persistence = persistences[index]!;
      const stats = persistence.stats;
      assert.equal(persistence.error, undefined);
      assert.equal(stats.offered, offered.lines.length);
      assert.deepEqual({ written: stats.written, dropped: stats.dropped, lost: stats.lost, unrepresentable: stats.unrepresentable, queued: stats.queued }, { written: offered.lines.length, dropped: 0, lost: 0, unrepresentable: 0, queued: 0 }, format);
      const series = seriesOf(persistence.files);
      assert.deepEqual([...series.keys()], [1]);
      const back = await readBack(format, series.get(1)!);
      // One worker: the files in sequence order hold exactly the offered packets, in order.
      assertSameLines(back.lines, offered.lines, format);
      assert.equal(stats.bytesWritten, (await Promise.all(persistence.files.map((file) => stat(file)))).reduce((sum, file) => sum + file.size, 0));
      if (format !== 'jsonl') {
        // The original frames, byte for byte, cut to 262,144 bytes at most.
        assert.equal(back.longestFrame, MAX_KEPT_FRAME_BYTES);
        const differs = offered.frames.findIndex((sum, i) => back.frames[i] !== sum);
        assert.equal(differs, -1, `${format}: frame ${differs} differs (${offered.lines[differs]})`);
        assert.equal(back.frames.length, offered.frames.length);
      }
      if (format === 'pcap') {
        // A pcap file has one link type: each change of link type started a new file.
        const changes = offered.linkTypes.filter((linkType, i) => i > 0 && linkType !== offered.linkTypes[i - 1]).length;
        assert.equal(persistence.files.length, changes + 1);
        for (const file of persistence.files) {
          const header = await readFile(file);
          assert.equal(header.readUInt32LE(0), 0xa1b23c4d, 'nanosecond pcap magic');
        }
      }
      if (format === 'pcapng') assert.equal(persistence.files.length, 1, 'pcapng holds every link type in one file');
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('persistence: rotation by size and by packet time gives complete files, in order, never interleaved', async () => {
  const cases: { format: PersistenceFormat; maxFileBytes: number; rotateMs: number }[] = [
    { format: 'pcap', maxFileBytes: 64 * 1024, rotateMs: 0 },
    { format: 'pcapng', maxFileBytes: 64 * 1024, rotateMs: 0 },
    { format: 'jsonl', maxFileBytes: 64 * 1024, rotateMs: 0 },
    { format: 'pcap', maxFileBytes: 0, rotateMs: 15 * 60_000 },
    { format: 'jsonl', maxFileBytes: 0, rotateMs: 15 * 60_000 },
    { format: 'pcapng', maxFileBytes: 100 * 1024, rotateMs: 10 * 60_000 },
  ];
  for (const { format, maxFileBytes, rotateMs } of cases) {
    const label = `${format} max ${maxFileBytes} B, every ${rotateMs / 60_000} min`;
    const directory = await temporaryDirectory();
    try {
      const persistence = new PacketPersistence({ directory, format, workers: 1, queuePackets: 1_000_000, queueBytes: 1 << 30, maxFileBytes, rotateMs });
      await persistence.start();
      const offered = await decodeCapture(syntheticCapture(12_000, 9), 'synthetic.pcap', offerInSlices(persistence, seededRandom(3)));
      await persistence.stop();
      assert.equal(persistence.stats.written, offered.lines.length, label);
      const paths = seriesOf(persistence.files).get(1)!;
      assert.ok(paths.length >= 8, `${label}: ${paths.length} files`);
      assert.deepEqual(sorted(await readdir(directory)), sorted(paths.map((path) => basename(path))), `${label}: no other file in the folder`);
      const back = await readBack(format, paths);
      // Concatenated in sequence order, the files are the input: nothing lost, duplicated or interleaved.
      assert.deepEqual(back.lines, offered.lines, label);
      for (let f = 0; f < paths.length; f++) {
        const path = paths[f]!;
        const lines = back.perFile[f]!;
        assert.ok(lines.length > 0, `${label}: ${basename(path)} is not empty`);
        const size = (await stat(path)).size;
        if (maxFileBytes > 0) assert.ok(size <= maxFileBytes, `${label}: ${basename(path)} has ${size} bytes`);
        // The name's timestamp is the first packet's second, UTC.
        const firstSeconds = Number(lines[0]!.split('.')[0]);
        assert.equal(NAME.exec(basename(path))![1], new Date(firstSeconds * 1000).toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z');
        if (rotateMs > 0) {
          const interval = (line: string): number => Math.floor((Number(line.split(' ')[0]) * 1000) / rotateMs);
          assert.equal(interval(lines[0]!), interval(lines.at(-1)!), `${label}: ${basename(path)} stays within one interval`);
          if (maxFileBytes === 0 && f > 0) assert.ok(interval(lines[0]!) > interval(back.perFile[f - 1]!.at(-1)!), `${label}: a new file starts a new interval`);
        }
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
});

test('persistence: several workers each own their file series; a conversation stays in one series; a file is closed before the next opens', async () => {
  const directory = await temporaryDirectory();
  try {
    const opened = new Set<string>();
    const openPerWorker = new Map<string, number>();
    let maxOpenPerWorker = 0;
    const openFile: OpenPersistenceFile = async (path) => {
      assert.ok(!opened.has(path), `${path} opened twice`);
      opened.add(path);
      const worker = NAME.exec(basename(path))![2]!;
      openPerWorker.set(worker, (openPerWorker.get(worker) ?? 0) + 1);
      maxOpenPerWorker = Math.max(maxOpenPerWorker, openPerWorker.get(worker)!);
      const file = await openPersistenceFile(path);
      return {
        write: (bytes) => file.write(bytes),
        truncate: (length) => file.truncate(length),
        close: async () => {
          await file.close();
          openPerWorker.set(worker, openPerWorker.get(worker)! - 1);
        },
      };
    };
    const persistence = new PacketPersistence({ directory, format: 'pcap', workers: 4, queuePackets: 1_000_000, queueBytes: 1 << 30, maxFileBytes: 64 * 1024, openFile });
    await persistence.start();
    const offered = await decodeCapture(syntheticCapture(20_000, 21), 'synthetic.pcap', offerInSlices(persistence, seededRandom(8)));
    await persistence.stop();
    assert.equal(maxOpenPerWorker, 1, 'a worker never has two files open');
    assert.ok([...openPerWorker.values()].every((count) => count === 0), 'every file is closed');
    const series = seriesOf(persistence.files);
    assert.deepEqual([...series.keys()].sort(), [1, 2, 3, 4], 'every worker wrote');
    const conversationWorker = new Map<string, number>();
    const all: string[] = [];
    for (const [worker, paths] of series) {
      const back = await readBack('pcap', paths);
      for (const item of back.lines) all.push(item);
      // Within a series, the packets keep their offered order.
      const inSeries = new Set(back.lines);
      const offeredOrder = offered.lines.filter((line) => inSeries.has(line));
      assert.deepEqual(back.lines, offeredOrder, `worker ${worker} keeps the order`);
      for (const line of back.lines) {
        const [, , src, dst] = line.split(' ');
        const conversation = [src, dst].sort().join(' ');
        const seen = conversationWorker.get(conversation);
        assert.ok(seen === undefined || seen === worker, `conversation ${conversation} is in series ${seen} and ${worker}`);
        conversationWorker.set(conversation, worker);
      }
    }
    assert.deepEqual(sorted(all), sorted(offered.lines));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

/** Files whose writes wait until `release()`: a disk that has stalled. */
function stalledDisk(): { openFile: OpenPersistenceFile; release: () => void; writes: () => number } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let writes = 0;
  return {
    openFile: async (path) => {
      const file = await openPersistenceFile(path);
      return {
        write: async (bytes) => {
          writes++;
          await gate;
          await file.write(bytes);
        },
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      };
    },
    release: () => release(),
    writes: () => writes,
  };
}

test('persistence: a full queue drops new packets and counts them exactly, and offer() never waits', async () => {
  const directory = await temporaryDirectory();
  try {
    const disk = stalledDisk();
    await using persistence = new PacketPersistence({ directory, format: 'pcap', workers: 2, queuePackets: 100, openFile: disk.openFile });
    await persistence.start();
    // on failure too, the stalled writes must end so that the files get closed
    await using _release = { [Symbol.asyncDispose]: async () => disk.release() };
    const pool = new BatchPool(250);
    const decoder = new CaptureDecoder({ name: 'synthetic.pcap', pool, keepFrames: true });
    let offered = 0;
    const lines: string[] = [];
    for await (const batch of decoder.decode(syntheticCapture(1_000, 4))) {
      const started = performance.now();
      persistence.offer(batch, 0, batch.count, decoder.frames);
      assert.ok(performance.now() - started < 200, 'offer() returns at once');
      offered += batch.count;
      for (let i = 0; i < batch.count; i++) lines.push(packetLine(batch, i));
      // let the write loops open their files and get stuck in their first write
      for (let wait = 0; disk.writes() === 0 && wait < 200; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(offered, 1_000);
    assert.ok(disk.writes() >= 1);
    // The first 100 packets filled the queue; the 900 after them were dropped, however long we wait.
    assert.deepEqual({ ...persistence.stats, bytesWritten: 0, files: 0 }, { offered: 1_000, written: 0, dropped: 900, lost: 0, unrepresentable: 0, queued: 100, bytesWritten: 0, files: 0 });
    disk.release();
    await persistence.stop();
    const stats = persistence.stats;
    assert.equal(stats.written, 100);
    assert.equal(stats.written + stats.dropped, stats.offered);
    const back: string[] = [];
    for (const paths of seriesOf(persistence.files).values()) back.push(...(await readBack('pcap', paths)).lines);
    assert.deepEqual(sorted(back), sorted(lines.slice(0, 100)), 'the first 100 packets, not the last');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('persistence: a slow disk under a steady capture: written + dropped = offered, and the files hold exactly the written packets', async () => {
  const directory = await temporaryDirectory();
  try {
    const openFile: OpenPersistenceFile = async (path) => {
      const file = await openPersistenceFile(path);
      return {
        write: async (bytes) => {
          await new Promise((resolve) => setTimeout(resolve, 15));
          await file.write(bytes);
        },
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      };
    };
    const persistence = new PacketPersistence({ directory, format: 'jsonl', workers: 3, queuePackets: 300, openFile, maxFileBytes: 0 });
    await persistence.start();
    const offered = await decodeCapture(syntheticCapture(6_000, 12), 'synthetic.pcap', async (batch, frames) => {
      for (let start = 0; start < batch.count; start += 50) {
        persistence.offer(batch, start, Math.min(batch.count, start + 50), frames);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    await persistence.stop();
    const stats = persistence.stats;
    assert.equal(stats.offered, offered.lines.length);
    assert.ok(stats.dropped > 0, `the slow disk made the queue drop (${JSON.stringify(stats)})`);
    assert.ok(stats.written > 0);
    assert.equal(stats.written + stats.dropped, stats.offered);
    assert.equal(stats.queued, 0);
    const back: string[] = [];
    for (const paths of seriesOf(persistence.files).values()) back.push(...(await readBack('jsonl', paths)).lines);
    assert.equal(back.length, stats.written);
    const offeredSet = new Set(offered.lines);
    assert.ok(back.every((line) => offeredSet.has(line)));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('persistence: an unwritable folder fails start() with NS_ERR_PERSIST_WRITE', async () => {
  const directory = await temporaryDirectory();
  try {
    // A path through a regular file cannot be a folder, for root too.
    await writeFile(join(directory, 'file'), 'x');
    const persistence = new PacketPersistence({ directory: join(directory, 'file', 'packets') });
    await assert.rejects(persistence.start(), (error: unknown) => isNetSpectraError(error) && error.code === 'NS_ERR_PERSIST_WRITE' && error.message.includes(join(directory, 'file', 'packets')));
    assert.equal(persistence.error?.code, 'NS_ERR_PERSIST_WRITE');
    await persistence.stop();
    if (process.getuid?.() !== 0) {
      const readOnly = join(directory, 'read-only');
      await mkdir(readOnly);
      await chmod(readOnly, 0o500);
      const denied = new PacketPersistence({ directory: readOnly });
      await assert.rejects(denied.start(), (error: unknown) => isNetSpectraError(error) && error.code === 'NS_ERR_PERSIST_WRITE' && /EACCES/.test(error.message));
      await chmod(readOnly, 0o700);
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('persistence: a full disk (ENOSPC) stops persistence cleanly with NS_ERR_PERSIST_WRITE; files stay valid; capture goes on', async () => {
  const directory = await temporaryDirectory();
  try {
    // A disk that fills up in the middle of the third write: half of it lands, then ENOSPC.
    let writes = 0;
    const openFile: OpenPersistenceFile = async (path) => {
      const file = await openPersistenceFile(path);
      return {
        write: async (bytes) => {
          if (++writes === 3) {
            await file.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
            throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
          }
          await file.write(bytes);
        },
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      };
    };
    const errors: unknown[] = [];
    const persistence = new PacketPersistence({ directory, format: 'pcap', workers: 1, openFile, onError: (error) => errors.push(error) });
    await persistence.start();
    let offered = 0;
    await decodeCapture(syntheticCapture(5_000, 6), 'synthetic.pcap', async (batch, frames) => {
      persistence.offer(batch, 0, batch.count, frames);
      offered += batch.count;
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    await persistence.stop();
    assert.equal(errors.length, 1, 'reported once');
    const error = errors[0];
    assert.ok(isNetSpectraError(error) && error.code === 'NS_ERR_PERSIST_WRITE', String(error));
    assert.match(error.message, /ENOSPC/);
    assert.match(error.message, /persistence stopped/);
    assert.equal(persistence.error, error);
    const stats = persistence.stats;
    assert.equal(stats.offered, offered);
    assert.ok(stats.lost > 0);
    assert.equal(stats.written + stats.dropped + stats.lost, stats.offered);
    assert.equal(stats.queued, 0);
    // The file is cut back to its last complete write: a valid capture of the written packets.
    const back = await readBack('pcap', persistence.files);
    assert.equal(back.lines.length, stats.written);
    assert.ok(stats.written > 0);

    // The real thing: /dev/full answers every write with ENOSPC.
    if (existsSync('/dev/full')) {
      const full: OpenPersistenceFile = async () => {
        const handle = await open('/dev/full', 'w');
        return { write: async (bytes) => void (await handle.write(bytes)), truncate: async () => undefined, close: () => handle.close() };
      };
      const failures: unknown[] = [];
      const onFullDisk = new PacketPersistence({ directory, format: 'jsonl', openFile: full, onError: (failure) => failures.push(failure) });
      await onFullDisk.start();
      let count = 0;
      await decodeCapture(syntheticCapture(1_000, 6), 'synthetic.pcap', async (batch, frames) => {
        onFullDisk.offer(batch, 0, batch.count, frames);
        count += batch.count;
        await new Promise((resolve) => setTimeout(resolve, 2));
      });
      await onFullDisk.stop();
      assert.equal(failures.length, 1);
      assert.ok(isNetSpectraError(failures[0]) && failures[0].code === 'NS_ERR_PERSIST_WRITE' && /ENOSPC/.test(failures[0].message));
      assert.equal(onFullDisk.stats.written, 0);
      assert.equal(onFullDisk.stats.lost + onFullDisk.stats.dropped, count);
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('persistence: files of an earlier run are never overwritten', async () => {
  const directory = await temporaryDirectory();
  try {
    for (let run = 0; run < 2; run++) {
      const persistence = new PacketPersistence({ directory, format: 'pcapng', workers: 1 });
      await persistence.start();
      await decodeCapture(asAsync([mixedCapture()]), 'mixed.pcapng', (batch, frames) => persistence.offer(batch, 0, batch.count, frames));
      await persistence.stop();
      assert.equal(persistence.files.length, 1);
    }
    const names = sorted(await readdir(directory));
    assert.equal(names.length, 2);
    assert.match(names[0]!, /-w1-0001\.pcapng$/);
    assert.match(names[1]!, /-w1-0002\.pcapng$/);
    const [first, second] = await Promise.all(names.map((name) => readFile(join(directory, name))));
    assert.ok(first!.equals(second!));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('persistence: jsonl lines carry the fields of the issue, timestamps to the nanosecond', async () => {
  const directory = await temporaryDirectory();
  try {
    const persistence = new PacketPersistence({ directory, format: 'jsonl', workers: 1 });
    await persistence.start();
    const offered = await decodeCapture(asAsync([mixedCapture()]), 'mixed.pcapng', (batch, frames) => persistence.offer(batch, 0, batch.count, frames));
    await persistence.stop();
    const text = await readFile(persistence.files[0]!, 'utf8');
    const objects = text.trim().split('\n').map((line) => JSON.parse(line) as unknown);
    assert.equal(objects.length, offered.lines.length);
    assert.deepEqual(objects[0], { ts: '2026-01-01T00:00:00.123456789Z', src: '10.0.0.1', dst: '192.168.1.2', sport: 40000, dport: 443, proto: 6, len: 154 });
    assert.deepEqual(objects[1], { ts: '2026-01-01T00:00:00.500000000Z', src: '2001:db8::1', dst: '2001:db8::2', sport: 5353, dport: 53, proto: 17, len: 56 });
    // The IPv6 packet from ::ffff:10.0.0.1 keeps its family.
    assert.equal((objects.at(-1) as { src: string }).src, '::ffff:10.0.0.1');
    assert.equal(formatTimestamp({ seconds: 1_767_225_600, nanos: 123_456_789 }, true), '2026-01-01T00:00:00.123456789Z');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('netspectra probe --persist: replaying a capture publishes it and writes a complete local copy', { skip: natsSkip() }, async () => {
  const directory = await temporaryDirectory();
  await using server = await NatsServer.start();
  try {
    const capture = join(directory, 'replay.pcap');
    await writeSyntheticCapture({ packets: 30_000, flows: 1_000, ipv6Fraction: 0.1, nanosecond: true, durationSeconds: 600, seed: 17 }, { pcapPath: capture, truthPath: join(directory, 'replay.truth.json') });
    const offered = await decodeFile(capture);
    for (const format of ['pcapng', 'pcap', 'jsonl'] as const) {
      const out = join(directory, `copy-${format}`);
      let stderr = '';
      const io = { stdout: { write: () => true }, stderr: { write: (text: string) => ((stderr += text), true) } } as unknown as CliIo;
      const status = await runProbe(['--file', capture, '--max', '--nats', server.url, '--persist', out, '--persist-format', format, '--persist-max-bytes', '256K'], io);
      assert.equal(status, 0, stderr);
      const files = (await readdir(out)).map((name) => join(out, name));
      assert.match(stderr, new RegExp(`persisted 30000 packets \\(\\d+ bytes\\) to ${files.length} ${format} files in ${out.replace(/[/\\]/g, '.')}, 0 dropped by the full persistence queue`));
      const series = seriesOf(files);
      assert.equal(series.size, 4, 'probe.persistence.num_workers defaults to 4 series');
      assert.ok(files.length > 4, 'the size limit rotated files');
      const back: string[] = [];
      for (const paths of series.values()) back.push(...(await readBack(format, paths)).lines);
      assert.deepEqual(sorted(back), sorted(offered.lines), format);
    }
    // From the config: probe.persistence with the original's `text` encoding → JSON lines.
    const config = join(directory, 'config.yaml');
    const configured = join(directory, 'configured');
    await writeFile(config, `probe:\n  nats_url: ${server.url}\n  persistence:\n    enabled: true\n    path: ${configured}\n    num_workers: 2\n    channel_buffer_size: 500\n    encoding: text\n`);
    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => ((stderr += text), true) } } as unknown as CliIo;
    assert.equal(await runProbe(['--file', capture, '--max', '--config', config], io), 0, stderr);
    const names = await readdir(configured);
    assert.ok(names.length >= 2 && names.every((name) => name.endsWith('.jsonl')), names.join(' '));
    assert.match(stderr, /persisted 30000 packets .* 0 dropped by the full persistence queue/);
    // Usage errors name the flag.
    assert.equal(await runProbe(['--file', capture, '--nats', server.url, '--persist-format', 'pcap'], io), 2);
    assert.match(stderr, /--persist-format needs --persist DIR/);
    assert.equal(await runProbe(['--file', capture, '--nats', server.url, '--persist', configured, '--persist-max-bytes', '12'], io), 2);
    assert.equal(await runProbe(['--file', capture, '--nats', server.url, '--persist', configured, '--persist-rotate', 'soon'], io), 2);
    assert.match(stderr, /--persist-rotate: invalid duration/);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

/** Live capture on loopback needs tcpdump and root, beside nats-server; like the other integration tests, CI must have them. */
function liveProbeSkip(): string | false {
  const nats = natsSkip();
  if (nats !== false) return nats;
  return liveCaptureSkip();
}

/** Packets in the persisted pcap files now (a file being written counts up to its last complete record). */
async function persistedDatagrams(directory: string, minimumWireLength: number): Promise<number[]> {
  const lengths: number[] = [];
  for (const name of (await readdir(directory)).sort()) {
    const bytes = await readFile(join(directory, name));
    const pool = new BatchPool(1024);
    for await (const batch of new CaptureDecoder({ name, pool }).decode(asAsync([new Uint8Array(bytes)]))) {
      for (let i = 0; i < batch.count; i++) if (batch.wireLength[i]! >= minimumWireLength) lengths.push(batch.wireLength[i]!);
      pool.release(batch);
    }
  }
  return lengths;
}

test('netspectra probe --iface lo --persist: packets reach the files while capturing, and the last ones at the stop', { skip: liveProbeSkip() }, async () => {
  const directory = await temporaryDirectory();
  await using server = await NatsServer.start();
  const socket = createSocket('udp4');
  const receiver = createSocket('udp4');
  let running: Promise<number> | undefined;
  let stopped = false;
  try {
    // The datagrams' destination: a port bound here, so no other test's traffic passes the filter.
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
    const port = receiver.address().port;
    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => ((stderr += text), true) } } as unknown as CliIo;
    running = runProbe(['--iface', 'lo', '--filter', `udp and dst port ${port}`, '--nats', server.url, '--persist', directory], io);
    const send = (size: number): Promise<void> => new Promise((resolve, reject) => socket.send(Buffer.alloc(size), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
    const waitFor = async (what: string, done: () => Promise<boolean>): Promise<void> => {
      for (const deadline = Date.now() + 30_000; !(await done()); ) {
        if (Date.now() > deadline) assert.fail(`${what} within 30 s; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // tcpdump needs a moment to open the interface: warm up until a datagram reaches a file.
    await waitFor('a warm-up datagram persisted', async () => {
      await send(10);
      return (await persistedDatagrams(directory, 0)).length > 0;
    });
    // Ethernet 14 + IPv4 20 + UDP 8 + payload: the measured datagrams are the ones of 242 bytes and more.
    for (let i = 0; i < 100; i++) await send(200 + i);
    // Persisted while the probe still captures: nothing waits for a full batch of 16,384 packets.
    await waitFor('the 100 datagrams persisted while capturing', async () => (await persistedDatagrams(directory, 242)).length === 100);
    for (let i = 0; i < 20; i++) await send(400 + i);
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.emit('SIGINT');
    stopped = true;
    assert.equal(await running, 0, stderr);
    assert.deepEqual(await persistedDatagrams(directory, 242), [...Array.from({ length: 100 }, (_, i) => 242 + i), ...Array.from({ length: 20 }, (_, i) => 442 + i)]);
    assert.match(stderr, /persisted \d+ packets .* to 1 pcap files .*, 0 dropped by the full persistence queue/);
  } finally {
    // A failed assertion must not leave the probe (and its tcpdump) running.
    if (running !== undefined && !stopped) {
      process.emit('SIGINT');
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    socket.close();
    receiver.close();
    await rm(directory, { recursive: true, force: true });
  }
});
