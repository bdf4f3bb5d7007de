export { DecodedPayload } from './decoded-payload.js';
export type { PayloadFormat } from './decoded-payload.js';
export {
  MAX_PACKETS_PER_MESSAGE,
  PACKET_BATCH_HEADER_BYTES,
  PACKET_BATCH_MAGIC,
  PACKET_BATCH_VERSION,
  decodePacketBatch,
  encodePacketBatch,
  encodePacketBatchInto,
  isPacketBatchMessage,
  packetBatchMessageBytes,
  packetsThatFit,
} from './packet-batch-codec.js';
export type { PacketBatchHeader } from './packet-batch-codec.js';
export {
  PACKET_INFO_IPV4_BYTES,
  PACKET_INFO_IPV6_BYTES,
  decodePacketInfo,
  encodePacketInfo,
  encodePacketInfoBytes,
  packetInfoBytes,
} from './packet-info-codec.js';
export { decodePayload } from './payload.js';
