/**
 * The original bytes of the frames behind a PacketBatch, slot for slot: what the probe's pcap and
 * pcapng persistence writes, so that a persisted file holds the frames as they were captured
 * (link-layer header, TCP flags, payload up to the snaplen) and not a reconstruction of the five
 * decoded fields.
 *
 * Kept only on request (`CaptureDecoder` option `keepFrames`): the engine path never pays for the
 * copy. One growable byte arena per batch, no object per frame: frame `i` is
 * `bytes[offsets[i], offsets[i] + lengths[i])`, captured with link type `linkTypes[i]`.
 */

import { DEFAULT_MAX_SNAPLEN } from './capture-format.js';

/**
 * Captured bytes kept per frame at most; a longer frame is cut like a snaplen cut (its wire length
 * is unchanged). This is libpcap's and Wireshark's maximum snapshot length (262,144), so every
 * reader accepts what we keep, and it bounds the bytes one queued packet can hold.
 */
export const MAX_KEPT_FRAME_BYTES = DEFAULT_MAX_SNAPLEN;

const INITIAL_ARENA_BYTES = 64 * 1024;

export class CapturedFrames {
  /** Frames held, equal to the batch's `count` while the batch is being filled. */
  count = 0;
  /** Link type (LINKTYPE_* number) of each frame's capture interface. */
  readonly linkTypes: Uint32Array;
  /** Start of each frame in `bytes`. */
  readonly offsets: Uint32Array;
  /** Captured length of each frame (at most {@link MAX_KEPT_FRAME_BYTES}). */
  readonly lengths: Uint32Array;
  /** The arena; replaced by a larger one when it fills up, so read it after filling, not before. */
  bytes: Uint8Array;
  #used = 0;

  /** @param capacity frames at most, the capacity of the batches it accompanies */
  constructor(capacity: number) {
    this.linkTypes = new Uint32Array(capacity);
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.bytes = new Uint8Array(INITIAL_ARENA_BYTES);
  }

  /** Bytes of the arena in use. */
  get usedBytes(): number {
    return this.#used;
  }

  clear(): void {
    this.count = 0;
    this.#used = 0;
  }

  /** Append the frame `source[start, start + length)` as the next slot. */
  add(source: Uint8Array, start: number, length: number, linkType: number): void {
    const kept = length < MAX_KEPT_FRAME_BYTES ? length : MAX_KEPT_FRAME_BYTES;
    const at = this.#used;
    if (at + kept > this.bytes.length) this.#grow(at + kept);
    // A subarray per frame is cheaper than it looks: measured ~80 ns for 54-128 byte frames, where
    // a byte loop takes 2-4 times as long.
    this.bytes.set(source.subarray(start, start + kept), at);
    const slot = this.count++;
    this.linkTypes[slot] = linkType;
    this.offsets[slot] = at;
    this.lengths[slot] = kept;
    this.#used = at + kept;
  }

  #grow(required: number): void {
    const grown = new Uint8Array(Math.max(required, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.#used));
    this.bytes = grown;
  }
}
