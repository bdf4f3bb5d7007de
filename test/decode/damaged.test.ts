/**
 * Damaged input: every kind stops decoding with a stable code and a message naming the file and the
 * byte offset; packets before the damage are kept; nothing throws.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LinkType } from '../../src/decode/index.js';
import type { ErrorCode } from '../../src/model/errors.js';
import { PcapngWriter, concatBytes, ethernetFrame, ipv4Packet, pcapFile } from './capture-writer.js';
import { decodeBytes } from './decode-helpers.js';

const FRAME = ethernetFrame(0x0800, ipv4Packet({ src: '10.1.1.1', dst: '10.2.2.2', protocol: 17, srcPort: 1, dstPort: 2 }));
const TWO_RECORDS = pcapFile([{ data: FRAME }, { data: FRAME }]);
const RECORD_LENGTH = 16 + FRAME.length;

async function assertDamage(bytes: Uint8Array, code: ErrorCode, offset: number, framesBefore: number, name = 'damaged.cap'): Promise<void> {
  for (const chunkSize of [1, 5, bytes.length || 1]) {
    const { error, stats } = await decodeBytes(bytes, name, chunkSize);
    assert.equal(error?.code, code, `chunk size ${chunkSize}: ${error?.message}`);
    assert.equal(error.location.file, name);
    assert.equal(error.location.offset, offset);
    assert.ok(error.message.includes(name), error.message);
    assert.ok(error.message.includes(`offset ${offset}`), error.message);
    assert.equal(stats.frames, framesBefore, `chunk size ${chunkSize}`);
    assert.equal(stats.ipFrames, framesBefore);
  }
}

describe('not a capture', () => {
  test('empty file', () => assertDamage(new Uint8Array(0), 'NS_ERR_CAPTURE_FORMAT', 0, 0));
  test('file of 3 bytes', () => assertDamage(Uint8Array.from([0xd4, 0xc3, 0xb2]), 'NS_ERR_CAPTURE_FORMAT', 0, 0));
  test('random bytes', () => assertDamage(Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 0xff), 'NS_ERR_CAPTURE_FORMAT', 0, 0));
  test('text', () => assertDamage(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'), 'NS_ERR_CAPTURE_FORMAT', 0, 0));
  test('gzip data handed to the decoder directly', async () => {
    await assertDamage(Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), 'NS_ERR_CAPTURE_FORMAT', 0, 0);
    const { error } = await decodeBytes(Uint8Array.from([0x1f, 0x8b, 8, 0]), 'x.gz');
    assert.match(error?.message ?? '', /openCaptureFile/);
  });
});

describe('classic pcap damage', () => {
  test('garbage header: major version 1', () => assertDamage(pcapFile([{ data: FRAME }], { majorVersion: 1 }), 'NS_ERR_PCAP_BAD_HEADER', 0, 0));
  test('file header cut short', () => assertDamage(TWO_RECORDS.subarray(0, 20), 'NS_ERR_PCAP_BAD_HEADER', 0, 0));
  test('truncated last record data', () => assertDamage(TWO_RECORDS.subarray(0, TWO_RECORDS.length - 3), 'NS_ERR_PCAP_TRUNCATED', 24 + RECORD_LENGTH, 1));
  test('truncated last record header', () => assertDamage(TWO_RECORDS.subarray(0, 24 + RECORD_LENGTH + 9), 'NS_ERR_PCAP_TRUNCATED', 24 + RECORD_LENGTH, 1));
  test('huge declared captured length stops at once, without waiting for the bytes', async () => {
    const bytes = concatBytes([TWO_RECORDS, pcapFile([{ data: FRAME }]).subarray(24)]);
    const view = new DataView(bytes.buffer);
    view.setUint32(24 + RECORD_LENGTH + 8, 0xfffffff0, true);
    await assertDamage(bytes, 'NS_ERR_PCAP_RECORD_TOO_LARGE', 24 + RECORD_LENGTH, 1);
  });
  test('a captured length just above max(snaplen, 262144) is damage', async () => {
    const bytes = TWO_RECORDS.slice();
    new DataView(bytes.buffer).setUint32(24 + RECORD_LENGTH + 8, 262145, true);
    await assertDamage(bytes, 'NS_ERR_PCAP_RECORD_TOO_LARGE', 24 + RECORD_LENGTH, 1);
  });
});

describe('pcapng damage', () => {
  const packetBlocks = (): PcapngWriter => new PcapngWriter(true).sectionHeader().interfaceDescription(LinkType.ethernet).enhancedPacket(0, 0, 1, FRAME).enhancedPacket(0, 0, 2, FRAME);
  const whole = packetBlocks().toBytes();
  const epbLength = 32 + FRAME.length + ((4 - (FRAME.length % 4)) % 4);
  const secondEpb = whole.length - epbLength;

  test('block length not a multiple of 4', async () => {
    const bytes = whole.slice();
    new DataView(bytes.buffer).setUint32(secondEpb + 4, epbLength + 2, true);
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_BLOCK', secondEpb, 1, 'bad.pcapng');
  });
  test('block length below 12', async () => {
    const bytes = whole.slice();
    new DataView(bytes.buffer).setUint32(secondEpb + 4, 8, true);
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_BLOCK', secondEpb, 1, 'bad.pcapng');
  });
  test('absurdly large block length', async () => {
    const bytes = whole.slice();
    new DataView(bytes.buffer).setUint32(secondEpb + 4, 0x7ffffff0, true);
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_BLOCK', secondEpb, 1, 'bad.pcapng');
  });
  test('trailer length different from the block length', async () => {
    const bytes = whole.slice();
    new DataView(bytes.buffer).setUint32(whole.length - 4, epbLength + 4, true);
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_BLOCK', secondEpb, 1, 'bad.pcapng');
  });
  test('captured length larger than the block', async () => {
    const bytes = whole.slice();
    new DataView(bytes.buffer).setUint32(secondEpb + 20, FRAME.length + 100, true);
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_BLOCK', secondEpb, 1, 'bad.pcapng');
  });
  test('section header with a wrong byte-order magic', async () => {
    const bytes = whole.slice();
    bytes[8] = 0;
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_BLOCK', 0, 0, 'bad.pcapng');
  });
  test('truncated inside the last block', () => assertDamage(whole.subarray(0, whole.length - 5), 'NS_ERR_PCAPNG_TRUNCATED', secondEpb, 1, 'cut.pcapng'));
  test('truncated inside a block header', () => assertDamage(whole.subarray(0, secondEpb + 6), 'NS_ERR_PCAPNG_TRUNCATED', secondEpb, 1, 'cut.pcapng'));
  test('truncated inside the first section header', () => assertDamage(whole.subarray(0, 10), 'NS_ERR_PCAPNG_TRUNCATED', 0, 0, 'cut.pcapng'));
  test('packet of an interface that was not described', async () => {
    const bytes = new PcapngWriter(false).sectionHeader().interfaceDescription(LinkType.ethernet).enhancedPacket(0, 0, 1, FRAME).enhancedPacket(3, 0, 2, FRAME).toBytes();
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_INTERFACE', bytes.length - epbLength, 1, 'iface.pcapng');
  });
  test('simple packet block before any interface', async () => {
    const bytes = new PcapngWriter(true).sectionHeader().simplePacket(FRAME).toBytes();
    await assertDamage(bytes, 'NS_ERR_PCAPNG_BAD_INTERFACE', 28, 0, 'iface.pcapng');
  });
});

test('the error is a NetSpectraError with a display string', async () => {
  const { error } = await decodeBytes(TWO_RECORDS.subarray(0, TWO_RECORDS.length - 1), 'x.pcap');
  assert.equal(error?.name, 'NetSpectraError');
  assert.match(error.toDisplayString(), /^NS_ERR_PCAP_TRUNCATED: x\.pcap: .* offset \d+/);
});
