/**
 * A subscriber's single entry point: decode a NATS payload in either wire format into a
 * PacketBatch. The formats are told apart by the first byte — a packet batch message starts with
 * 0x4E ("NSPB"), which is not a Thrift type id, while a PacketInfo starts with the type byte of its
 * first field (0x0A, i64, for the original's publishers).
 */
import type { PacketBatch } from '../model/packet.js';
import { DecodedPayload } from './decoded-payload.js';
import { decodePacketBatch, isPacketBatchMessage } from './packet-batch-codec.js';
import { decodePacketInfo } from './packet-info-codec.js';

/**
 * Decode one payload and append its packets to `batch`, from the message's packet `fromPacket` on
 * and as many as the batch has room for (`result.complete` false: hand the batch on and call again
 * with `result.next` and an emptied batch). A PacketInfo is one packet; a packet batch message
 * also reports its stream id and sequence number.
 *
 * A payload that does not decode throws and appends nothing; packets already in the batch stay.
 *
 * @param result reused for the answer when given (keep one per subscriber), else a new one
 * @throws NetSpectraError NS_ERR_WIRE_MALFORMED or NS_ERR_WIRE_VERSION (docs/errors.md)
 * @throws RangeError when `fromPacket` is outside the message (a caller bug)
 */
export function decodePayload(bytes: Uint8Array, batch: PacketBatch, fromPacket = 0, result = new DecodedPayload()): DecodedPayload {
  if (isPacketBatchMessage(bytes)) return decodePacketBatch(bytes, batch, fromPacket, result);
  if (fromPacket !== 0) throw new RangeError(`fromPacket ${fromPacket}: a PacketInfo holds one packet, decoded from 0`);
  const appended = decodePacketInfo(bytes, batch) ? 1 : 0;
  result.format = 'packet-info';
  result.streamId = undefined;
  result.sequence = undefined;
  result.packets = 1;
  result.appended = appended;
  result.next = appended;
  return result;
}
