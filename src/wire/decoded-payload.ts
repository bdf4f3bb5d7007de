/**
 * What decoding one NATS payload appended to a PacketBatch. A mutable object the caller may pass
 * back in for every message, so that a subscriber receiving one PacketInfo per message does not
 * allocate a result per packet.
 */

/** `packet-info`: one Thrift PacketInfo (the original's format); `packet-batch`: many packets, column-wise. */
export type PayloadFormat = 'packet-info' | 'packet-batch';

export class DecodedPayload {
  /** The format the payload was in. */
  format: PayloadFormat = 'packet-info';
  /** The publisher's stream id (packet batch messages only; `undefined` for a PacketInfo). */
  streamId: number | undefined = undefined;
  /**
   * The message's sequence number within its stream, for loss counting (packet batch messages
   * only; `undefined` for a PacketInfo, which has none).
   */
  sequence: bigint | undefined = undefined;
  /** Packets the message holds (1 for a PacketInfo). */
  packets = 0;
  /** Packets this call appended to the batch (0 when the batch was already full). */
  appended = 0;
  /**
   * Index within the message of the first packet not appended yet: `packets` once the whole
   * message is in the batch; otherwise decode the same payload again into an emptied or new batch,
   * starting from here.
   */
  next = 0;

  /** True when every packet of the message has been appended. */
  get complete(): boolean {
    return this.next >= this.packets;
  }
}
