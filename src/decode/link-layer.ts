/**
 * Link-layer headers: find where a frame's first IP header starts. Layouts follow the tcpdump.org
 * LINKTYPE list and what tshark decodes by default (the ground truth of shared/tools/truth.sh).
 */
import { u16be, u16le, u32be, u32le } from './bytes.js';
import { MalformedReason } from './decode-stats.js';

export const LinkType = {
  null: 0,
  ethernet: 1,
  tokenRing: 6,
  ppp: 9,
  fddi: 10,
  rawOpenBsd: 12,
  rawBsdOs: 14,
  pppHdlc: 50,
  pppEther: 51,
  raw: 101,
  cHdlc: 104,
  ieee80211: 105,
  frameRelay: 107,
  loop: 108,
  linuxSll: 113,
  prism: 119,
  radiotap: 127,
  avs: 163,
  ppi: 192,
  ipv4: 228,
  ipv6: 229,
  nflog: 239,
  ipoib: 242,
  linuxSll2: 276,
} as const;

/**
 * How the IP header found is to be read. IPV4_ENTRY is tshark's "ip" dissector (EtherType 0x0800,
 * raw IP, AF_INET, ...): version 4 is IPv4 and version 6 is handed to IPv6. IPV6_ENTRY accepts
 * version 6 only.
 */
export const IPV4_ENTRY = 4;
export const IPV6_ENTRY = 6;

/** locate() results besides an offset. */
export const NOT_IP = -1;
export const UNSUPPORTED_LINK_TYPE = -2;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** An Ethernet type/length field up to this is an IEEE 802.3 length, followed by an LLC header. */
const IEEE_802_3_MAX_LENGTH = 1500;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPP_MPLS = 0x0281;
const PPP_MPLS_MULTICAST = 0x0283;

/** ARPHRD_NETLINK: a Linux cooked capture of netlink messages, whose protocol is not an EtherType. */
const ARPHRD_NETLINK = 824;
/** Linux cooked protocol 4: an IEEE 802.2 LLC frame follows (possibly SNAP). */
const LINUX_SLL_P_802_2 = 0x0004;

const AF_INET = 2;
/** AF_INET6 in the BSD loopback header: NetBSD/OpenBSD, FreeBSD, Darwin. */
const BSD_AF_INET6_BSD = 24;
const BSD_AF_INET6_FREEBSD = 28;
const BSD_AF_INET6_DARWIN = 30;
const LINUX_AF_INET6 = 10;

const NFLOG_TLV_PAYLOAD = 9;

/** Nested headers (VLAN tags, MPLS labels, TLVs) walked at most; real stacks are far shorter. */
const MAX_NESTING = 16;

export class LinkLayerDecoder {
  /** End of the bytes that belong to the IP packet found (captured end, or less). */
  networkEnd = 0;
  /** IPV4_ENTRY or IPV6_ENTRY for the packet found. */
  networkEntry = 0;
  readonly malformed: Uint32Array;

  constructor(malformed: Uint32Array) {
    this.malformed = malformed;
  }

  /**
   * Offset of the first IP header of the frame `bytes[start, end)` of the given link type, or
   * NOT_IP, or UNSUPPORTED_LINK_TYPE. On success networkEnd and networkEntry are set.
   */
  locate(bytes: Uint8Array, start: number, end: number, linkType: number): number {
    this.networkEnd = end;
    switch (linkType) {
      case LinkType.ethernet:
        return this.ethernet(bytes, start, end);
      case LinkType.raw:
      case LinkType.rawOpenBsd:
      case LinkType.rawBsdOs:
      case LinkType.ipv4:
        return this.ip(start, end, IPV4_ENTRY);
      case LinkType.ipv6:
        return this.ip(start, end, IPV6_ENTRY);
      case LinkType.linuxSll:
        return this.linuxSll(bytes, start, end);
      case LinkType.linuxSll2:
        return this.linuxSll2(bytes, start, end);
      case LinkType.null:
      case LinkType.loop:
        return this.bsdLoopback(bytes, start, end);
      case LinkType.ppp:
      case LinkType.pppHdlc:
        return this.pppHdlc(bytes, start, end);
      case LinkType.pppEther:
        return this.pppoe(bytes, start, end);
      case LinkType.cHdlc:
        return this.ciscoHdlc(bytes, start, end);
      case LinkType.frameRelay:
        return this.frameRelay(bytes, start, end);
      case LinkType.ieee80211:
        return this.ieee80211(bytes, start, end);
      case LinkType.radiotap:
        return this.radiotap(bytes, start, end);
      case LinkType.ppi:
        return this.ppi(bytes, start, end);
      case LinkType.prism:
      case LinkType.avs:
        return this.prismOrAvs(bytes, start, end);
      case LinkType.fddi:
        return this.fddi(bytes, start, end);
      case LinkType.ipoib:
        return this.ipoib(bytes, start, end);
      case LinkType.nflog:
        return this.nflog(bytes, start, end);
      default:
        return UNSUPPORTED_LINK_TYPE;
    }
  }

  private ip(start: number, end: number, entry: number): number {
    this.networkEntry = entry;
    this.networkEnd = end;
    return start;
  }

  private truncated(): number {
    this.malformed[MalformedReason.linkTruncated]!++;
    return NOT_IP;
  }

  private badHeader(): number {
    this.malformed[MalformedReason.linkBadHeader]!++;
    return NOT_IP;
  }

  private ethernet(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 14) return this.truncated();
    const typeOrLength = u16be(bytes, start + 12);
    if (typeOrLength <= IEEE_802_3_MAX_LENGTH) return this.llc(bytes, start + 14, end);
    return this.etherType(bytes, start + 14, end, typeOrLength);
  }

  /** An IEEE 802.2 LLC header: only SNAP with an EtherType (OUI 0, or 0x0000f8 bridge-tunnel) leads to IP. */
  private llc(bytes: Uint8Array, at: number, end: number): number {
    if (end - at < 3) return this.truncated();
    if (bytes[at] !== 0xaa || bytes[at + 1] !== 0xaa || bytes[at + 2] !== 0x03) return NOT_IP;
    if (end - at < 8) return this.truncated();
    if (bytes[at + 3] !== 0 || bytes[at + 4] !== 0 || (bytes[at + 5] !== 0 && bytes[at + 5] !== 0xf8)) return NOT_IP;
    return this.etherType(bytes, at + 8, end, u16be(bytes, at + 6));
  }

  /** Follow VLAN tags, MPLS labels and PPPoE sessions from an EtherType to the IP header. */
  private etherType(bytes: Uint8Array, at: number, end: number, type: number): number {
    for (let depth = 0; depth < MAX_NESTING; depth++) {
      switch (type) {
        case ETHERTYPE_IPV4:
          return this.ip(at, end, IPV4_ENTRY);
        case ETHERTYPE_IPV6:
          return this.ip(at, end, IPV6_ENTRY);
        case ETHERTYPE_VLAN:
        case ETHERTYPE_QINQ:
        case ETHERTYPE_QINQ_OLD:
          if (end - at < 4) return this.truncated();
          type = u16be(bytes, at + 2);
          at += 4;
          break;
        case ETHERTYPE_MPLS:
        case ETHERTYPE_MPLS_MULTICAST:
          return this.mpls(bytes, at, end);
        case ETHERTYPE_PPPOE_SESSION:
          return this.pppoe(bytes, at, end);
        default:
          return NOT_IP;
      }
    }
    return this.badHeader();
  }

  /** An MPLS label stack; after the bottom of the stack tshark guesses the payload by its first nibble. */
  private mpls(bytes: Uint8Array, at: number, end: number): number {
    for (let depth = 0; depth < MAX_NESTING; depth++) {
      if (end - at < 4) return this.truncated();
      const bottomOfStack = (bytes[at + 2]! & 1) === 1;
      at += 4;
      if (bottomOfStack) {
        if (at >= end) return this.truncated();
        const version = bytes[at]! >> 4;
        if (version === 4) return this.ip(at, end, IPV4_ENTRY);
        if (version === 6) return this.ip(at, end, IPV6_ENTRY);
        return NOT_IP;
      }
    }
    return this.badHeader();
  }

  /** PPPoE session header (version/type, code, session id, length) then the PPP protocol. */
  private pppoe(bytes: Uint8Array, at: number, end: number): number {
    if (end - at < 8) return this.truncated();
    return this.pppProtocol(bytes, at + 8, end, u16be(bytes, at + 6));
  }

  private pppProtocol(bytes: Uint8Array, at: number, end: number, protocol: number): number {
    switch (protocol) {
      case PPP_IPV4:
        return this.ip(at, end, IPV4_ENTRY);
      case PPP_IPV6:
        return this.ip(at, end, IPV6_ENTRY);
      case PPP_MPLS:
      case PPP_MPLS_MULTICAST:
        return this.mpls(bytes, at, end);
      default:
        return NOT_IP;
    }
  }

  /**
   * PPP as captured (LINKTYPE_PPP 9, PPP_HDLC 50): optional HDLC address/control 0xff 0x03, or a
   * Cisco HDLC address, then a protocol field that RFC 1661 protocol-field compression may shorten
   * to one byte (odd first byte).
   */
  private pppHdlc(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 2) return this.truncated();
    let at = start;
    const first = bytes[at]!;
    if (first === 0x0f || first === 0x8f) return this.ciscoHdlc(bytes, start, end);
    if (first === 0xff && bytes[at + 1] === 0x03) at += 2;
    if (at >= end) return this.truncated();
    if ((bytes[at]! & 1) === 1) return this.pppProtocol(bytes, at + 1, end, bytes[at]!);
    if (end - at < 2) return this.truncated();
    return this.pppProtocol(bytes, at + 2, end, u16be(bytes, at));
  }

  /** Cisco HDLC: address, control, EtherType. */
  private ciscoHdlc(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 4) return this.truncated();
    return this.etherType(bytes, start + 4, end, u16be(bytes, start + 2));
  }

  /**
   * Frame Relay: a Q.922 address of 2 to 4 bytes (the last has its EA bit set). Then either the
   * RFC 2427 UI control byte 0x03, optional padding, an NLPID (0xcc IPv4, 0x8e IPv6, 0x80 SNAP),
   * or, in Cisco's encapsulation, an EtherType directly.
   */
  private frameRelay(bytes: Uint8Array, start: number, end: number): number {
    let at = start;
    for (let i = 0; ; i++) {
      if (at >= end) return this.truncated();
      if (i >= 4) return this.badHeader();
      if ((bytes[at++]! & 1) === 1) break;
    }
    if (at >= end) return this.truncated();
    if (bytes[at] !== 0x03) {
      if (end - at < 2) return this.truncated();
      return this.etherType(bytes, at + 2, end, u16be(bytes, at));
    }
    at++;
    if (at < end && bytes[at] === 0x00) at++;
    if (at >= end) return this.truncated();
    const nlpid = bytes[at]!;
    at++;
    if (nlpid === 0xcc) return this.ip(at, end, IPV4_ENTRY);
    if (nlpid === 0x8e) return this.ip(at, end, IPV6_ENTRY);
    if (nlpid === 0x80) {
      if (end - at < 5) return this.truncated();
      if (bytes[at] !== 0 || bytes[at + 1] !== 0 || bytes[at + 2] !== 0) return NOT_IP;
      return this.etherType(bytes, at + 5, end, u16be(bytes, at + 3));
    }
    return NOT_IP;
  }

  /** Linux cooked capture v1: packet type, ARPHRD type, address length, 8 address bytes, protocol. */
  private linuxSll(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 16) return this.truncated();
    return this.linuxCooked(bytes, start + 16, end, u16be(bytes, start + 2), u16be(bytes, start + 14));
  }

  /** Linux cooked capture v2: protocol, reserved, interface index, ARPHRD type, packet type, address. */
  private linuxSll2(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 20) return this.truncated();
    return this.linuxCooked(bytes, start + 20, end, u16be(bytes, start + 8), u16be(bytes, start));
  }

  private linuxCooked(bytes: Uint8Array, at: number, end: number, arphrdType: number, protocol: number): number {
    if (arphrdType === ARPHRD_NETLINK) return NOT_IP;
    if (protocol === LINUX_SLL_P_802_2) return this.llc(bytes, at, end);
    return this.etherType(bytes, at, end, protocol);
  }

  /**
   * BSD loopback (NULL 0, LOOP 108): a 4-byte address family, in the capturing host's byte order
   * for NULL and network order for LOOP; like tshark we take whichever order leaves the upper 16
   * bits zero. A value above 1500 is an EtherType (some systems put one there).
   */
  private bsdLoopback(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 4) return this.truncated();
    let family = u32be(bytes, start);
    if ((family & 0xffff0000) !== 0) family = u32le(bytes, start);
    if (family > IEEE_802_3_MAX_LENGTH && family <= 0xffff) return this.etherType(bytes, start + 4, end, family);
    switch (family) {
      case AF_INET:
        return this.ip(start + 4, end, IPV4_ENTRY);
      case BSD_AF_INET6_BSD:
      case BSD_AF_INET6_FREEBSD:
      case BSD_AF_INET6_DARWIN:
        return this.ip(start + 4, end, IPV6_ENTRY);
      default:
        return NOT_IP;
    }
  }

  /** Radiotap: version, pad, little-endian header length, then an 802.11 frame. */
  private radiotap(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 4) return this.truncated();
    const headerLength = u16le(bytes, start + 2);
    if (headerLength < 8) return this.badHeader();
    if (start + headerLength > end) return this.truncated();
    return this.ieee80211(bytes, start + headerLength, end);
  }

  /** PPI: version, flags, little-endian header length and the link type of the frame that follows. */
  private ppi(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 8) return this.truncated();
    const headerLength = u16le(bytes, start + 2);
    const innerLinkType = u32le(bytes, start + 4);
    if (headerLength < 8) return this.badHeader();
    if (start + headerLength > end) return this.truncated();
    if (innerLinkType === LinkType.ppi) return this.badHeader();
    return this.locate(bytes, start + headerLength, end, innerLinkType);
  }

  /**
   * Prism (119) and AVS (163) monitor headers. An AVS header starts with the big-endian magic
   * 0x8021100x and gives its length at offset 4 (big-endian); a Prism header gives its message
   * length at offset 4 in host byte order (in practice 144).
   */
  private prismOrAvs(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 8) return this.truncated();
    let headerLength: number;
    if ((u32be(bytes, start) & 0xfffffff0) === 0x80211000) {
      headerLength = u32be(bytes, start + 4);
    } else {
      headerLength = u32le(bytes, start + 4);
      if (headerLength > 0xffff) headerLength = u32be(bytes, start + 4);
    }
    if (headerLength < 8) return this.badHeader();
    if (headerLength > end - start) return this.truncated();
    return this.ieee80211(bytes, start + headerLength, end);
  }

  /**
   * IEEE 802.11 data frames carrying LLC/SNAP. Management, control, null-data and protected
   * frames have no IP we can read. The header grows by the 4th address (ToDS and FromDS), QoS
   * control and, in QoS frames with the Order bit, HT control.
   */
  private ieee80211(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 24) return this.truncated();
    const frameControl = bytes[start]!;
    const flags = bytes[start + 1]!;
    if (((frameControl >> 2) & 3) !== 2) return NOT_IP;
    const subtype = frameControl >> 4;
    if ((subtype & 0x4) !== 0) return NOT_IP;
    if ((flags & 0x40) !== 0) return NOT_IP;
    let headerLength = 24;
    if ((flags & 0x03) === 0x03) headerLength += 6;
    let aggregateMsdu = false;
    if ((subtype & 0x8) !== 0) {
      headerLength += 2;
      if (start + headerLength > end) return this.truncated();
      aggregateMsdu = (bytes[start + headerLength - 2]! & 0x80) !== 0;
      if ((flags & 0x80) !== 0) headerLength += 4;
    }
    let at = start + headerLength;
    // An A-MSDU's first subframe has its own DA, SA and length before the LLC header.
    if (aggregateMsdu) at += 14;
    if (at > end) return this.truncated();
    return this.llc(bytes, at, end);
  }

  /** FDDI: frame control, destination, source, then LLC. */
  private fddi(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 13) return this.truncated();
    return this.llc(bytes, start + 13, end);
  }

  /**
   * IP over InfiniBand as libpcap captures it: 40 bytes of pseudo header (destination and
   * source hardware addresses) and then the RFC 4391 encapsulation header (EtherType, reserved).
   */
  private ipoib(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 44) return this.truncated();
    return this.etherType(bytes, start + 44, end, u16be(bytes, start + 40));
  }

  /**
   * Linux NFLOG: family, version, resource id, then TLVs (length, type) in the capturing host's
   * byte order, each padded to 4 bytes; the payload TLV (type 9) holds the IP packet. The byte
   * order is guessed from the first TLV type: types are small, so the non-zero byte is the low one.
   */
  private nflog(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 8) return this.truncated();
    const family = bytes[start]!;
    const littleEndian = bytes[start + 6] !== 0;
    let at = start + 4;
    for (let count = 0; count < 64; count++) {
      if (end - at < 4) return this.truncated();
      const length = littleEndian ? u16le(bytes, at) : u16be(bytes, at);
      const type = (littleEndian ? u16le(bytes, at + 2) : u16be(bytes, at + 2)) & 0x7fff;
      if (length < 4) return this.badHeader();
      if (type === NFLOG_TLV_PAYLOAD) {
        const payloadEnd = Math.min(end, at + length);
        if (family === AF_INET) return this.ip(at + 4, payloadEnd, IPV4_ENTRY);
        if (family === LINUX_AF_INET6) return this.ip(at + 4, payloadEnd, IPV6_ENTRY);
        return NOT_IP;
      }
      at += (length + 3) & ~3;
    }
    return this.badHeader();
  }
}
