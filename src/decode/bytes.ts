/**
 * Unaligned integer reads from a Uint8Array. Small enough for V8 to inline, and faster than a
 * DataView per field on the hot path. Callers check bounds first: a read past the end yields NaN.
 */

export function u16be(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

export function u16le(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

/** Signed 32-bit result; store into a Uint32Array or apply `>>> 0` for the unsigned value. */
export function i32be(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

export function u32be(bytes: Uint8Array, at: number): number {
  return i32be(bytes, at) >>> 0;
}

export function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

export function u16(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian ? u16le(bytes, at) : u16be(bytes, at);
}

export function u32(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian ? u32le(bytes, at) : u32be(bytes, at);
}
