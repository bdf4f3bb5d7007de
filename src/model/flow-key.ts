/**
 * Flow keys as fixed-length runs of 32-bit words, built straight from a PacketBatch's columns.
 *
 * Layout for a key over any subset of the five fields (absent fields take no space):
 *   [src address: 4 words][dst address: 4 words][ports: 1 word = srcPort << 16 | dstPort][meta: 1 word]
 * The meta word is `family << 8 | protocol`: it is always present and always written, so a key is
 * fully defined (no stale bytes: a defect of the original) and IPv4 and IPv6 never collide.
 * `family` is 0 when the key holds no address; `protocol` is 0 when Protocol is not a key field.
 */
import type { PacketBatch } from './packet.js';
import type { KeyObject } from './snapshot.js';
import { KEY_FIELD_NAMES, type KeyFieldName } from './flow.js';
import { formatAddressWords } from './ip.js';

export const KEY_FIELDS = KEY_FIELD_NAMES;
export type KeyField = KeyFieldName;
export type { KeyObject };

export class KeySpec {
  readonly fields: readonly KeyField[];
  readonly hasSrcIP: boolean;
  readonly hasDstIP: boolean;
  readonly hasSrcPort: boolean;
  readonly hasDstPort: boolean;
  readonly hasProtocol: boolean;
  /** Key length in 32-bit words. */
  readonly words: number;
  /** Word offsets inside a key of the destination address, the ports word and the meta word. */
  readonly dstAt: number;
  readonly portsAt: number;
  readonly metaAt: number;

  constructor(fields: readonly KeyField[]) {
    // Canonical order, whatever order the config lists them in.
    this.fields = KEY_FIELDS.filter((f) => fields.includes(f));
    this.hasSrcIP = fields.includes('SrcIP');
    this.hasDstIP = fields.includes('DstIP');
    this.hasSrcPort = fields.includes('SrcPort');
    this.hasDstPort = fields.includes('DstPort');
    this.hasProtocol = fields.includes('Protocol');
    let at = 0;
    if (this.hasSrcIP) at += 4;
    this.dstAt = at;
    if (this.hasDstIP) at += 4;
    this.portsAt = at;
    if (this.hasSrcPort || this.hasDstPort) at += 1;
    this.metaAt = at;
    this.words = at + 1;
  }

  /** Write the key of packet `i` of `batch` into `out[at .. at + words)`. */
  extract(batch: PacketBatch, i: number, out: Uint32Array, at: number): void {
    const a = i * 4;
    if (this.hasSrcIP) {
      out[at] = batch.srcAddr[a]!;
      out[at + 1] = batch.srcAddr[a + 1]!;
      out[at + 2] = batch.srcAddr[a + 2]!;
      out[at + 3] = batch.srcAddr[a + 3]!;
    }
    if (this.hasDstIP) {
      const d = at + this.dstAt;
      out[d] = batch.dstAddr[a]!;
      out[d + 1] = batch.dstAddr[a + 1]!;
      out[d + 2] = batch.dstAddr[a + 2]!;
      out[d + 3] = batch.dstAddr[a + 3]!;
    }
    if (this.hasSrcPort || this.hasDstPort) {
      const sport = this.hasSrcPort ? batch.srcPort[i]! : 0;
      const dport = this.hasDstPort ? batch.dstPort[i]! : 0;
      out[at + this.portsAt] = ((sport << 16) | dport) >>> 0;
    }
    const family = this.hasSrcIP || this.hasDstIP ? batch.family[i]! : 0;
    out[at + this.metaAt] = (family << 8) | (this.hasProtocol ? batch.protocol[i]! : 0);
  }

  /** The key at `words[at ..]` as an object with this spec's fields. */
  toObject(words: ArrayLike<number>, at: number): KeyObject {
    const family = (words[at + this.metaAt]! >>> 8) & 0xff;
    const key: KeyObject = {};
    if (this.hasSrcIP) key.SrcIP = formatAddressWords(words, at, family);
    if (this.hasDstIP) key.DstIP = formatAddressWords(words, at + this.dstAt, family);
    const ports = words[at + this.portsAt]! >>> 0;
    if (this.hasSrcPort) key.SrcPort = ports >>> 16;
    if (this.hasDstPort) key.DstPort = ports & 0xffff;
    if (this.hasProtocol) key.Protocol = words[at + this.metaAt]! & 0xff;
    return key;
  }

  /**
   * The key as one line of text: the field values in canonical order joined by `,`
   * (a single-field key is just its value, e.g. `10.0.0.1`). Used for the `Flow` column.
   */
  toText(words: ArrayLike<number>, at: number): string {
    const key = this.toObject(words, at);
    return this.fields.map((f) => String(key[f])).join(',');
  }
}
