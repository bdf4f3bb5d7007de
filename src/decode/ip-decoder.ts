/**
 * The first IP header of a frame (and the TCP/UDP ports right after it) into a PacketBatch slot.
 * Rules follow shared/tools/truth.sh: a frame is IP only when the header holds both addresses;
 * ports only for TCP/UDP directly after the header (IPv6: after its extension headers), in a
 * first fragment, with the 4 port bytes inside the packet.
 */
import type { PacketBatch } from '../model/packet.js';
import { i32be, u16be } from './bytes.js';
import { MalformedReason } from './decode-stats.js';
import { IPV6_ENTRY } from './link-layer.js';

const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_DESTINATION_OPTIONS = 60;
/** Extension headers walked at most; each is at least 8 bytes, so a frame cannot hold many more. */
const MAX_IPV6_EXTENSION_HEADERS = 32;

/**
 * Decode the IP header at `bytes[at]` (frame data ends at `end`) into slot `slot` of `batch`
 * (addresses, ports, family, protocol; not the timestamp or length). Returns 4 or 6, or 0 when the
 * frame does not count as IP (the slot may then hold garbage and must not be counted).
 */
export function decodeIp(bytes: Uint8Array, at: number, end: number, entry: number, batch: PacketBatch, slot: number, malformed: Uint32Array): number {
  if (at >= end) {
    malformed[MalformedReason.ipTruncated]!++;
    return 0;
  }
  const version = bytes[at]! >> 4;
  if (version === 4 && entry !== IPV6_ENTRY) return decodeIpv4(bytes, at, end, batch, slot, malformed);
  if (version === 6) return decodeIpv6(bytes, at, end, batch, slot, malformed);
  malformed[MalformedReason.ipBadVersion]!++;
  return 0;
}

function decodeIpv4(bytes: Uint8Array, at: number, end: number, batch: PacketBatch, slot: number, malformed: Uint32Array): number {
  if (end - at < 20) {
    malformed[MalformedReason.ipv4Truncated]!++;
    return 0;
  }
  const headerLength = (bytes[at]! & 0x0f) << 2;
  if (headerLength < 20) {
    malformed[MalformedReason.ipv4BadIhl]!++;
    return 0;
  }
  // Total length 0 is TCP segmentation offload (e.g. Linux BIG TCP): the frame is the datagram.
  const totalLength = u16be(bytes, at + 2);
  if (totalLength !== 0 && totalLength < headerLength) {
    malformed[MalformedReason.ipv4BadTotalLength]!++;
    return 0;
  }
  const packetEnd = totalLength !== 0 && at + totalLength < end ? at + totalLength : end;
  const protocol = bytes[at + 9]!;
  const words = slot << 2;
  const srcAddr = batch.srcAddr;
  const dstAddr = batch.dstAddr;
  srcAddr[words] = 0;
  srcAddr[words + 1] = 0;
  srcAddr[words + 2] = 0xffff;
  srcAddr[words + 3] = i32be(bytes, at + 12);
  dstAddr[words] = 0;
  dstAddr[words + 1] = 0;
  dstAddr[words + 2] = 0xffff;
  dstAddr[words + 3] = i32be(bytes, at + 16);
  batch.family[slot] = 4;
  batch.protocol[slot] = protocol;
  let srcPort = 0;
  let dstPort = 0;
  const fragmentOffset = u16be(bytes, at + 6) & 0x1fff;
  if ((protocol === PROTOCOL_TCP || protocol === PROTOCOL_UDP) && fragmentOffset === 0) {
    const l4 = at + headerLength;
    if (l4 + 4 <= packetEnd) {
      srcPort = u16be(bytes, l4);
      dstPort = u16be(bytes, l4 + 2);
    } else {
      malformed[protocol === PROTOCOL_TCP ? MalformedReason.tcpTruncated : MalformedReason.udpTruncated]!++;
    }
  }
  batch.srcPort[slot] = srcPort;
  batch.dstPort[slot] = dstPort;
  return 4;
}

function decodeIpv6(bytes: Uint8Array, at: number, end: number, batch: PacketBatch, slot: number, malformed: Uint32Array): number {
  if (end - at < 40) {
    malformed[MalformedReason.ipv6Truncated]!++;
    return 0;
  }
  // Payload length 0 is a jumbogram (or offload): the frame is the datagram.
  const payloadLength = u16be(bytes, at + 4);
  const packetEnd = payloadLength !== 0 && at + 40 + payloadLength < end ? at + 40 + payloadLength : end;
  const words = slot << 2;
  const srcAddr = batch.srcAddr;
  const dstAddr = batch.dstAddr;
  srcAddr[words] = i32be(bytes, at + 8);
  srcAddr[words + 1] = i32be(bytes, at + 12);
  srcAddr[words + 2] = i32be(bytes, at + 16);
  srcAddr[words + 3] = i32be(bytes, at + 20);
  dstAddr[words] = i32be(bytes, at + 24);
  dstAddr[words + 1] = i32be(bytes, at + 28);
  dstAddr[words + 2] = i32be(bytes, at + 32);
  dstAddr[words + 3] = i32be(bytes, at + 36);
  batch.family[slot] = 6;

  // Walk only the extension headers tshark shows as IPv6 layers; anything else (AH, ESP, Mobility,
  // No Next Header, ...) ends the chain and is the protocol. When a header is cut short, the
  // protocol is the next-header value of the last one that could be read.
  let nextHeader = bytes[at + 6]!;
  let offset = at + 40;
  let firstFragment = true;
  let chainComplete = true;
  for (let count = 0; count < MAX_IPV6_EXTENSION_HEADERS; count++) {
    if (nextHeader === IPV6_HOP_BY_HOP || nextHeader === IPV6_ROUTING || nextHeader === IPV6_DESTINATION_OPTIONS) {
      if (offset + 2 > packetEnd) {
        chainComplete = false;
        break;
      }
      const headerLength = (bytes[offset + 1]! + 1) << 3;
      nextHeader = bytes[offset]!;
      offset += headerLength;
    } else if (nextHeader === IPV6_FRAGMENT) {
      if (offset + 2 > packetEnd) {
        chainComplete = false;
        break;
      }
      nextHeader = bytes[offset]!;
      if (offset + 4 > packetEnd) {
        chainComplete = false;
        break;
      }
      if ((u16be(bytes, offset + 2) & 0xfff8) !== 0) firstFragment = false;
      offset += 8;
    } else {
      break;
    }
  }
  batch.protocol[slot] = nextHeader;
  let srcPort = 0;
  let dstPort = 0;
  if (!chainComplete) {
    malformed[MalformedReason.ipv6ExtensionTruncated]!++;
  } else if ((nextHeader === PROTOCOL_TCP || nextHeader === PROTOCOL_UDP) && firstFragment) {
    if (offset + 4 <= packetEnd) {
      srcPort = u16be(bytes, offset);
      dstPort = u16be(bytes, offset + 2);
    } else {
      malformed[nextHeader === PROTOCOL_TCP ? MalformedReason.tcpTruncated : MalformedReason.udpTruncated]!++;
    }
  }
  batch.srcPort[slot] = srcPort;
  batch.dstPort[slot] = dstPort;
  return 6;
}
