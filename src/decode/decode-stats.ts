/**
 * What a decoder saw, frame by frame. Counted on the hot path in plain numbers and one typed array
 * (see FrameDecoder); this file holds the public shape and the names of the malformation reasons.
 */

/** A capture timestamp: whole seconds since the Unix epoch (UTC) and nanoseconds within the second. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface DecodeStats {
  /** Packet records read (pcap records, pcapng EPB/SPB/OPB). */
  frames: number;
  /** Sum of the original wire lengths over all frames. */
  bytes: number;
  /** Sum of the captured lengths over all frames. */
  capturedBytes: number;
  /** Records whose captured length is below the wire length (snaplen cuts). */
  truncatedFrames: number;
  /** Frames whose first IP header has both addresses. */
  ipFrames: number;
  ipv4Frames: number;
  ipv6Frames: number;
  /** Sum of the wire lengths of the IP frames. */
  ipBytes: number;
  /** frames - ipFrames */
  nonIpFrames: number;
  /** Frames per link type we do not decode, keyed `LINKTYPE_<number>`. */
  unsupportedLinkTypes: Record<string, number>;
  /** Frames per malformation reason (see MALFORMED_REASON_NAMES). */
  malformed: Record<string, number>;
  /** Earliest packet time seen. */
  firstTimestamp: Timestamp | undefined;
  /** Latest packet time seen. */
  lastTimestamp: Timestamp | undefined;
  /** True when some input had sub-microsecond timestamp resolution. */
  nanosecondResolution: boolean;
}

export function emptyDecodeStats(): DecodeStats {
  return {
    frames: 0,
    bytes: 0,
    capturedBytes: 0,
    truncatedFrames: 0,
    ipFrames: 0,
    ipv4Frames: 0,
    ipv6Frames: 0,
    ipBytes: 0,
    nonIpFrames: 0,
    unsupportedLinkTypes: {},
    malformed: {},
    firstTimestamp: undefined,
    lastTimestamp: undefined,
    nanosecondResolution: false,
  };
}

function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

/** Add `from` to `into` (e.g. the stats of several files of one analysis). */
export function mergeDecodeStats(into: DecodeStats, from: DecodeStats): void {
  into.frames += from.frames;
  into.bytes += from.bytes;
  into.capturedBytes += from.capturedBytes;
  into.truncatedFrames += from.truncatedFrames;
  into.ipFrames += from.ipFrames;
  into.ipv4Frames += from.ipv4Frames;
  into.ipv6Frames += from.ipv6Frames;
  into.ipBytes += from.ipBytes;
  into.nonIpFrames += from.nonIpFrames;
  for (const [key, count] of Object.entries(from.unsupportedLinkTypes)) {
    into.unsupportedLinkTypes[key] = (into.unsupportedLinkTypes[key] ?? 0) + count;
  }
  for (const [key, count] of Object.entries(from.malformed)) {
    into.malformed[key] = (into.malformed[key] ?? 0) + count;
  }
  if (from.firstTimestamp !== undefined && (into.firstTimestamp === undefined || compareTimestamps(from.firstTimestamp, into.firstTimestamp) < 0)) {
    into.firstTimestamp = { ...from.firstTimestamp };
  }
  if (from.lastTimestamp !== undefined && (into.lastTimestamp === undefined || compareTimestamps(from.lastTimestamp, into.lastTimestamp) > 0)) {
    into.lastTimestamp = { ...from.lastTimestamp };
  }
  into.nanosecondResolution ||= from.nanosecondResolution;
}

/**
 * Why a frame was not (fully) decoded. Numbers index a Uint32Array on the hot path; the names are
 * the keys of DecodeStats.malformed. Ports missing from a frame that is otherwise IP also count here
 * (the frame still counts as IP, with ports 0, as tshark shows it).
 */
export const MalformedReason = {
  linkTruncated: 0,
  linkBadHeader: 1,
  ipTruncated: 2,
  ipBadVersion: 3,
  ipv4Truncated: 4,
  ipv4BadIhl: 5,
  ipv4BadTotalLength: 6,
  ipv6Truncated: 7,
  ipv6ExtensionTruncated: 8,
  tcpTruncated: 9,
  udpTruncated: 10,
} as const;

export const MALFORMED_REASON_NAMES: readonly string[] = [
  'link_truncated',
  'link_bad_header',
  'ip_truncated',
  'ip_bad_version',
  'ipv4_truncated',
  'ipv4_bad_ihl',
  'ipv4_bad_total_length',
  'ipv6_truncated',
  'ipv6_extension_truncated',
  'tcp_truncated',
  'udp_truncated',
];
