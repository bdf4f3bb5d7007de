/**
 * Micro benchmark of the NATS wire formats: encode and decode packets/s of the hand-written
 * PacketInfo codec and of the packet batch format, on generated packets (90 % IPv4, 10 % IPv6),
 * next to the thrift npm library with the generated PacketInfo class as the reference for the
 * PacketInfo format. Best of `runs`, single thread, no network.
 * Usage: node dist/bench/wire-bench.js [packets (default 1000000)] [runs (default 5)]
 */
import { Int64, TBinaryProtocol, TBufferedTransport } from 'thrift';
import type { TProtocol } from 'thrift';
import { DEFAULT_BATCH_CAPACITY, PacketBatch } from '../src/model/packet.js';
import { FiveTuple, PacketInfo } from '../src/wire/gen/netspectra_types.js';
import { DecodedPayload, PACKET_INFO_IPV6_BYTES, decodePacketBatch, decodePacketInfo, encodePacketBatchInto, encodePacketInfo, packetBatchMessageBytes } from '../src/wire/index.js';

const PACKETS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 5);
/** The thrift library is slow: it gets a tenth of the packets (at least 10,000). */
const REFERENCE_PACKETS = Math.max(10_000, Math.floor(PACKETS / 10));

/** The generated .d.ts files declare fields only; the classes also have read() and write(). */
interface ThriftStruct {
  read(input: TProtocol): void;
  write(output: TProtocol): void;
}

function generate(packets: number): PacketBatch {
  const batch = new PacketBatch(packets);
  let seed = 12345;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  for (let i = 0; i < packets; i++) {
    batch.tsSeconds[i] = 1_700_000_000 + Math.floor(i / 100_000);
    batch.tsNanos[i] = (i * 7919) % 1_000_000_000;
    batch.wireLength[i] = 60 + (random() & 1023);
    const v6 = (random() >>> 16) % 10 === 0;
    batch.family[i] = v6 ? 6 : 4;
    batch.protocol[i] = random() & 3 ? 6 : 17;
    batch.srcPort[i] = 1024 + (random() & 0x7fff);
    batch.dstPort[i] = 443;
    if (v6) {
      batch.srcAddr.set([0x20010db8, 0, random(), random()], i * 4);
      batch.dstAddr.set([0x20010db8, 1, 0, random() & 0xff], i * 4);
    } else {
      batch.srcAddr.set([0, 0, 0xffff, 0x0a000000 | (random() & 0xffff)], i * 4);
      batch.dstAddr.set([0, 0, 0xffff, 0xc0a80000 | (random() & 0xff)], i * 4);
    }
    batch.count++;
  }
  return batch;
}

interface Figure {
  name: string;
  packets: number;
  bytes: number;
  seconds: number;
}

/** Best wall time of `runs` calls of `body` (which returns the bytes it produced or consumed). */
function measure(name: string, packets: number, body: () => number): Figure {
  let best = Infinity;
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    bytes = body();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (seconds < best) best = seconds;
  }
  return { name, packets, bytes, seconds: best };
}

function main(): void {
  const source = generate(PACKETS);
  const sink = new PacketBatch(DEFAULT_BATCH_CAPACITY);
  const figures: Figure[] = [];

  // ---- PacketInfo, one packet per message (the original's format) ----
  const infoBuffer = new Uint8Array(PACKETS * PACKET_INFO_IPV6_BYTES);
  const infoEnds = new Uint32Array(PACKETS);
  figures.push(
    measure('PacketInfo encode (hand)', PACKETS, () => {
      let offset = 0;
      for (let i = 0; i < PACKETS; i++) {
        offset += encodePacketInfo(source, i, infoBuffer, offset);
        infoEnds[i] = offset;
      }
      return offset;
    }),
  );
  const infoPayloads = Array.from({ length: PACKETS }, (_, i) => infoBuffer.subarray(i === 0 ? 0 : infoEnds[i - 1]!, infoEnds[i]));
  figures.push(
    measure('PacketInfo decode (hand)', PACKETS, () => {
      let bytes = 0;
      sink.count = 0;
      for (const payload of infoPayloads) {
        if (!decodePacketInfo(payload, sink)) {
          sink.count = 0;
          decodePacketInfo(payload, sink);
        }
        bytes += payload.length;
      }
      return bytes;
    }),
  );

  // The reference: what a publisher does with the library — a PacketInfo object from the columns,
  // written through TBufferedTransport + TBinaryProtocol — and a subscriber reading it back.
  let referencePayloads: Buffer[] = [];
  figures.push(
    measure('PacketInfo encode (thrift library)', REFERENCE_PACKETS, () => {
      referencePayloads = [];
      let bytes = 0;
      const transport = new TBufferedTransport(undefined, (message) => {
        if (message === undefined) return;
        referencePayloads.push(message);
        bytes += message.length;
      });
      const protocol = new TBinaryProtocol(transport);
      for (let i = 0; i < REFERENCE_PACKETS; i++) {
        const v4 = source.family[i] === 4;
        const address = (words: Uint32Array): Buffer => {
          const out = Buffer.alloc(v4 ? 4 : 16);
          if (v4) out.writeUInt32BE(words[i * 4 + 3]!, 0);
          else for (let w = 0; w < 4; w++) out.writeUInt32BE(words[i * 4 + w]!, w * 4);
          return out;
        };
        const info = new PacketInfo({
          timestamp_unix_nano: new Int64(source.tsSeconds[i]! * 1e9 + source.tsNanos[i]!),
          five_tuple: new FiveTuple({ src_ip: address(source.srcAddr), dst_ip: address(source.dstAddr), src_port: source.srcPort[i]!, dst_port: source.dstPort[i]!, protocol: source.protocol[i]! }),
          length: new Int64(source.wireLength[i]!),
        });
        (info as unknown as ThriftStruct).write(protocol);
        protocol.flush();
      }
      return bytes;
    }),
  );
  figures.push(
    measure('PacketInfo decode (thrift library)', REFERENCE_PACKETS, () => {
      let bytes = 0;
      for (const payload of referencePayloads) {
        const info = new PacketInfo();
        TBufferedTransport.receiver((transport) => (info as unknown as ThriftStruct).read(new TBinaryProtocol(transport)), 0)(payload);
        bytes += payload.length;
      }
      return bytes;
    }),
  );

  // ---- packet batch messages, one per 16,384 packets ----
  const messageBuffer = new Uint8Array(packetBatchMessageBytes(source, 0, PACKETS) + Math.ceil(PACKETS / DEFAULT_BATCH_CAPACITY) * 24);
  const messageEnds: number[] = [];
  figures.push(
    measure('packet batch encode', PACKETS, () => {
      let offset = 0;
      messageEnds.length = 0;
      for (let start = 0, sequence = 0n; start < PACKETS; start += DEFAULT_BATCH_CAPACITY, sequence++) {
        offset += encodePacketBatchInto(source, start, Math.min(PACKETS, start + DEFAULT_BATCH_CAPACITY), { streamId: 1, sequence }, messageBuffer, offset);
        messageEnds.push(offset);
      }
      return offset;
    }),
  );
  const messages = messageEnds.map((end, k) => messageBuffer.subarray(k === 0 ? 0 : messageEnds[k - 1]!, end));
  const result = new DecodedPayload();
  figures.push(
    measure('packet batch decode', PACKETS, () => {
      let bytes = 0;
      for (const message of messages) {
        sink.count = 0;
        decodePacketBatch(message, sink, 0, result);
        bytes += message.length;
      }
      return bytes;
    }),
  );

  console.log(`wire formats: ${PACKETS.toLocaleString('en-US')} packets (90 % IPv4), best of ${RUNS}; the thrift library on ${REFERENCE_PACKETS.toLocaleString('en-US')}`);
  const rate = (f: Figure): number => f.packets / f.seconds;
  const reference = new Map(figures.filter((f) => f.name.includes('library')).map((f) => [f.name.split(' ')[1], rate(f)]));
  for (const f of figures) {
    const ratio = f.name.includes('(hand)') ? `  ${(rate(f) / reference.get(f.name.split(' ')[1])!).toFixed(1)}× the library` : '';
    console.log(
      `  ${f.name.padEnd(36)} ${(rate(f) / 1e6).toFixed(2).padStart(7)} M packets/s  ${((f.bytes / f.seconds) / 1e6).toFixed(0).padStart(5)} MB/s  ${(f.bytes / f.packets).toFixed(1)} B/packet${ratio}`,
    );
  }
}

main();
