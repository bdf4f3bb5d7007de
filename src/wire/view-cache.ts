/**
 * DataViews for the wire codecs' big-endian reads and writes. On V8 a DataView's getInt32/setUint32
 * is about twice as fast as assembling the value from bytes, but a DataView made per message would
 * be an object per packet for the one-packet PacketInfo format. NATS hands out messages as slices
 * of a few large read buffers, and an encoder writes into one buffer after another, so a view over
 * the whole ArrayBuffer, remembered until a slice of another buffer comes, is made rarely; callers
 * add `bytes.byteOffset` to their offsets.
 *
 * Callers check every offset against the slice's length first, so the view never throws (it spans
 * the whole buffer, not only the slice).
 */
export class ViewCache {
  #buffer: ArrayBufferLike = new ArrayBuffer(0);
  #view = new DataView(this.#buffer);

  /** A DataView over the whole buffer behind `bytes`. */
  of(bytes: Uint8Array): DataView {
    const buffer = bytes.buffer;
    // A view made without a length follows a resizable buffer as it grows, so identity is enough.
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#view = new DataView(buffer);
    }
    return this.#view;
  }
}
