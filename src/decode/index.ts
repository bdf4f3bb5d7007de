export { CaptureDecoder, emptyDecodeStats, mergeDecodeStats } from './capture-decoder.js';
export type { CaptureDecoderOptions, DecodeStats, Timestamp } from './capture-decoder.js';
export { MALFORMED_REASON_NAMES } from './decode-stats.js';
export { LinkType } from './link-layer.js';
export { CapturedFrames, MAX_KEPT_FRAME_BYTES } from './captured-frames.js';
