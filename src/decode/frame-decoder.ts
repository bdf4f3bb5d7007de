/**
 * One captured frame, whatever file format it came from: counts it, finds its IP header and, when it
 * is IP, fills the next slot of the current batch. Counters live in plain fields (not in the
 * DecodeStats object) so the hot path only touches numbers; writeStats() publishes them.
 */
import type { PacketBatch } from '../model/packet.js';
import type { CapturedFrames } from './captured-frames.js';
import type { DecodeStats } from './decode-stats.js';
import { MALFORMED_REASON_NAMES } from './decode-stats.js';
import { decodeIp } from './ip-decoder.js';
import { IPV4_ENTRY, LinkLayerDecoder, LinkType, UNSUPPORTED_LINK_TYPE } from './link-layer.js';

export class FrameDecoder {
  /** The batch being filled; the owner swaps it when full. */
  batch: PacketBatch;
  /**
   * When set, the original bytes of every IP frame put in the batch, slot for slot; the owner
   * clears it when it swaps the batch.
   */
  captured: CapturedFrames | undefined;
  frames = 0;
  bytes = 0;
  capturedBytes = 0;
  truncatedFrames = 0;
  ipFrames = 0;
  ipv4Frames = 0;
  ipv6Frames = 0;
  ipBytes = 0;
  minSeconds = Infinity;
  minNanos = 0;
  maxSeconds = -Infinity;
  maxNanos = 0;
  nanosecondResolution = false;
  readonly malformed = new Uint32Array(MALFORMED_REASON_NAMES.length);
  readonly #unsupportedLinkTypes = new Map<number, number>();
  readonly #link = new LinkLayerDecoder(this.malformed);

  constructor(batch: PacketBatch, captured?: CapturedFrames) {
    this.batch = batch;
    this.captured = captured;
  }

  get hasTimestamps(): boolean {
    return this.maxSeconds !== -Infinity;
  }

  /**
   * @param capturedLength bytes present at `bytes[start]`
   * @param wireLength original length on the wire
   * @param timed false for a frame without a time of its own (pcapng Simple Packet Block): it
   *   does not move the first/last timestamps
   */
  addFrame(bytes: Uint8Array, start: number, capturedLength: number, wireLength: number, linkType: number, seconds: number, nanos: number, timed: boolean): void {
    this.frames++;
    this.bytes += wireLength;
    this.capturedBytes += capturedLength;
    if (capturedLength < wireLength) this.truncatedFrames++;
    if (timed) {
      if (seconds > this.maxSeconds || (seconds === this.maxSeconds && nanos > this.maxNanos)) {
        this.maxSeconds = seconds;
        this.maxNanos = nanos;
      }
      if (seconds < this.minSeconds || (seconds === this.minSeconds && nanos < this.minNanos)) {
        this.minSeconds = seconds;
        this.minNanos = nanos;
      }
    }
    const end = start + capturedLength;
    const batch = this.batch;
    const slot = batch.count;
    let family: number;
    // The common case, untagged Ethernet carrying IPv4, skips the general link-layer walk.
    if (linkType === LinkType.ethernet && capturedLength >= 14 && bytes[start + 12] === 0x08 && bytes[start + 13] === 0x00) {
      family = decodeIp(bytes, start + 14, end, IPV4_ENTRY, batch, slot, this.malformed);
    } else {
      const link = this.#link;
      const network = link.locate(bytes, start, end, linkType);
      if (network < 0) {
        if (network === UNSUPPORTED_LINK_TYPE) this.#unsupportedLinkTypes.set(linkType, (this.#unsupportedLinkTypes.get(linkType) ?? 0) + 1);
        return;
      }
      family = decodeIp(bytes, network, link.networkEnd, link.networkEntry, batch, slot, this.malformed);
    }
    if (family === 0) return;
    if (this.captured !== undefined) this.captured.add(bytes, start, capturedLength, linkType);
    batch.tsSeconds[slot] = seconds;
    batch.tsNanos[slot] = nanos;
    batch.wireLength[slot] = wireLength;
    batch.count = slot + 1;
    this.ipFrames++;
    this.ipBytes += wireLength;
    if (family === 4) this.ipv4Frames++;
    else this.ipv6Frames++;
  }

  writeStats(stats: DecodeStats): void {
    stats.frames = this.frames;
    stats.bytes = this.bytes;
    stats.capturedBytes = this.capturedBytes;
    stats.truncatedFrames = this.truncatedFrames;
    stats.ipFrames = this.ipFrames;
    stats.ipv4Frames = this.ipv4Frames;
    stats.ipv6Frames = this.ipv6Frames;
    stats.ipBytes = this.ipBytes;
    stats.nonIpFrames = this.frames - this.ipFrames;
    const unsupported: Record<string, number> = {};
    for (const [linkType, count] of this.#unsupportedLinkTypes) unsupported[`LINKTYPE_${linkType}`] = count;
    stats.unsupportedLinkTypes = unsupported;
    const malformed: Record<string, number> = {};
    this.malformed.forEach((count, reason) => {
      if (count > 0) malformed[MALFORMED_REASON_NAMES[reason]!] = count;
    });
    stats.malformed = malformed;
    if (this.hasTimestamps) {
      stats.firstTimestamp = { seconds: this.minSeconds, nanos: this.minNanos };
      stats.lastTimestamp = { seconds: this.maxSeconds, nanos: this.maxNanos };
    }
    stats.nanosecondResolution = this.nanosecondResolution;
  }
}
