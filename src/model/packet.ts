/**
 * The packet model of the hot path: a batch of decoded packets held column-wise in typed arrays
 * (one ArrayBuffer or SharedArrayBuffer per batch), so that a batch can be shared with worker
 * threads without copying and no per-packet object is ever created.
 *
 * Addresses are 16 bytes as four 32-bit words whose numeric value is the big-endian reading of the
 * address bytes (word 0 = bytes 0..3). IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`,
 * i.e. words [0, 0, 0xffff, v4]) and `family` says which family the packet really had, so keys built
 * from them are fully defined (no stale bytes) and an IPv6 packet carrying `::ffff:a.b.c.d` is still
 * distinct from IPv4.
 */

/** Packets per batch by default: large enough to amortise messages, small enough to stay in L2. */
export const DEFAULT_BATCH_CAPACITY = 16384;

/** Bytes of buffer needed per packet slot (sum of the column element sizes). */
const BYTES_PER_PACKET = 8 /* tsSeconds */ + 4 /* tsNanos */ + 4 /* wireLength */ + 16 + 16 /* addrs */ + 2 + 2 /* ports */ + 1 + 1; /* family, protocol */

export class PacketBatch {
  /** Number of packet slots. */
  readonly capacity: number;
  /** Number of valid packets, `0 <= count <= capacity`. */
  count = 0;
  /** The single buffer every column views; transferable or shareable as a whole. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Capture timestamp, whole seconds since the Unix epoch (UTC). Float64 so years past 2106 work. */
  readonly tsSeconds: Float64Array;
  /** Capture timestamp, nanoseconds within the second, 0..999,999,999. */
  readonly tsNanos: Uint32Array;
  /** Original length on the wire (pcap `orig_len`), not the captured length. */
  readonly wireLength: Uint32Array;
  /** Source address, 4 words per packet (see file comment). */
  readonly srcAddr: Uint32Array;
  /** Destination address, 4 words per packet. */
  readonly dstAddr: Uint32Array;
  /** TCP/UDP source port of the first IP header's payload, else 0. */
  readonly srcPort: Uint16Array;
  /** TCP/UDP destination port, else 0. */
  readonly dstPort: Uint16Array;
  /** 4 or 6: the IP version of the frame's first IP header. */
  readonly family: Uint8Array;
  /** IPv4 protocol or the IPv6 upper-layer protocol ending the extension-header chain. */
  readonly protocol: Uint8Array;

  /**
   * @param capacity packet slots
   * @param shared allocate a SharedArrayBuffer (for worker threads) instead of an ArrayBuffer
   * @param buffer wrap an existing buffer (e.g. one received from another thread)
   */
  constructor(capacity = DEFAULT_BATCH_CAPACITY, shared = false, buffer?: ArrayBuffer | SharedArrayBuffer) {
    this.capacity = capacity;
    const bytes = PacketBatch.bufferBytes(capacity);
    this.buffer = buffer ?? (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    if (this.buffer.byteLength < bytes) throw new RangeError(`batch buffer of ${this.buffer.byteLength} bytes is too small for ${capacity} packets`);
    let offset = 0;
    const take = (elementBytes: number, perPacket: number): number => {
      const at = offset;
      offset += elementBytes * perPacket * capacity;
      return at;
    };
    // Columns are laid out from the widest element to the narrowest so every view is aligned.
    this.tsSeconds = new Float64Array(this.buffer, take(8, 1), capacity);
    this.tsNanos = new Uint32Array(this.buffer, take(4, 1), capacity);
    this.wireLength = new Uint32Array(this.buffer, take(4, 1), capacity);
    this.srcAddr = new Uint32Array(this.buffer, take(4, 4), capacity * 4);
    this.dstAddr = new Uint32Array(this.buffer, take(4, 4), capacity * 4);
    this.srcPort = new Uint16Array(this.buffer, take(2, 1), capacity);
    this.dstPort = new Uint16Array(this.buffer, take(2, 1), capacity);
    this.family = new Uint8Array(this.buffer, take(1, 1), capacity);
    this.protocol = new Uint8Array(this.buffer, take(1, 1), capacity);
  }

  /** Buffer size in bytes for a batch of `capacity` packets. */
  static bufferBytes(capacity: number): number {
    return capacity * BYTES_PER_PACKET;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Copy packet `from` of `source` into the next free slot of this batch. */
  copyPacketFrom(source: PacketBatch, from: number): void {
    const to = this.count++;
    this.tsSeconds[to] = source.tsSeconds[from]!;
    this.tsNanos[to] = source.tsNanos[from]!;
    this.wireLength[to] = source.wireLength[from]!;
    for (let w = 0; w < 4; w++) {
      this.srcAddr[to * 4 + w] = source.srcAddr[from * 4 + w]!;
      this.dstAddr[to * 4 + w] = source.dstAddr[from * 4 + w]!;
    }
    this.srcPort[to] = source.srcPort[from]!;
    this.dstPort[to] = source.dstPort[from]!;
    this.family[to] = source.family[from]!;
    this.protocol[to] = source.protocol[from]!;
  }
}

/**
 * Hands out batches and takes them back, so a steady stream reuses a handful of buffers instead of
 * allocating one per batch. Not a bound: when every batch is in use a new one is made; the
 * consumer's backpressure (awaiting the engine) is what bounds memory.
 */
export class BatchPool {
  readonly #free: PacketBatch[] = [];
  readonly capacity: number;
  readonly shared: boolean;

  constructor(capacity = DEFAULT_BATCH_CAPACITY, shared = false) {
    this.capacity = capacity;
    this.shared = shared;
  }

  acquire(): PacketBatch {
    const batch = this.#free.pop() ?? new PacketBatch(this.capacity, this.shared);
    batch.count = 0;
    return batch;
  }

  release(batch: PacketBatch): void {
    if (batch.capacity === this.capacity) this.#free.push(batch);
  }
}
