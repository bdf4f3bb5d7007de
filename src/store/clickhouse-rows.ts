/**
 * Snapshot rows in ClickHouse's RowBinary format, as chunks of about 1 MiB for a streamed INSERT.
 *
 * RowBinary was the fastest insert format measured against 18.16 (bench/clickhouse-bench.ts: 1.9×
 * TabSeparated and 3.7× JSONEachRow, ~520,000 rows/s on 2 cores): no text to parse on the server, and here no
 * string per row except IPv6 addresses (IPv4 dotted quads are written digit by digit). It is also
 * exact: DateTime is written as unix seconds (UTC whatever the server's time zone), counters and
 * nanosecond times as little-endian integers.
 *
 * Layout per type: UInt8/16/32/64 and Int64 little-endian; DateTime = UInt32 seconds; String =
 * LEB128 length + bytes; Nullable(T) = one byte (1 = NULL) followed by T when not NULL.
 *
 * The INSERT names its columns (FLOW_INSERT_COLUMNS), in an order that puts what every row of a
 * task's snapshot shares first, so that part is one copied prefix per row. Each row ends with its
 * growth since the flow's previous row of the segment (DeltaBytes, DeltaPackets), computed by the
 * store with its segment counters before encoding.
 */
import { NetSpectraError } from '../model/errors.js';
import { formatIPv6Words } from '../model/ip.js';
import type { ExactTaskSnapshot, SketchEntry, Timestamp } from '../model/snapshot.js';
import { KeySpec } from '../model/flow-key.js';
import { nanosWords, uint64Words } from './int64-words.js';
import type { SnapshotDeltas } from './segment-counters.js';

export const FLOW_INSERT_COLUMNS = [
  'Timestamp',
  'TaskName',
  'TimestampNs',
  'PeriodId',
  'RunId',
  'EngineId',
  'SrcIP',
  'DstIP',
  'SrcPort',
  'DstPort',
  'Protocol',
  'StartTime',
  'EndTime',
  'StartTimeNs',
  'EndTimeNs',
  'ByteCount',
  'PacketCount',
  'DeltaBytes',
  'DeltaPackets',
  'HasDeltas',
] as const;

export const HEAVY_HITTER_INSERT_COLUMNS = ['Timestamp', 'TaskName', 'TimestampNs', 'PeriodId', 'RunId', 'EngineId', 'Flow', 'Value', 'Type'] as const;

/** What every row of one snapshot shares. */
export interface RowContext {
  time: Timestamp;
  periodId: number;
  runId: string;
  engineId: string;
}

/** The rows of one exact task to write: those with `changedEpoch > since` (-1: all). */
export interface FlowSelection {
  task: ExactTaskSnapshot;
  since: number;
  /** Growth of every written row (SegmentCounters.deltas of the same `since`). */
  deltas: SnapshotDeltas;
}

/** One list of a sketch task, with its `heavy_hitters.Type`. */
export interface SketchList {
  taskName: string;
  entries: readonly SketchEntry[];
  type: number;
}

const CHUNK_BYTES = 1 << 20;
/** DateTime is a UInt32 of seconds. */
const DATETIME_MAX = 4294967295;
/** Longest text of a task name, run id, engine id or sketch flow: every row must fit a chunk. */
export const MAX_TEXT_BYTES = 4096;
/** Bytes of a row beyond its shared prefix, at most: two Nullable IPv6 texts (39 chars), ports, protocol, times, counters, deltas. */
const FLOW_ROW_VARIABLE_BYTES = 2 * (1 + 1 + 39) + 2 * 3 + 2 + 2 * 4 + 6 * 8 + 1;

/** A byte buffer filled front to back, handed out in chunks. */
class ChunkWriter {
  buffer!: Buffer;
  view!: DataView;
  at = 0;
  readonly #words = new Uint32Array(2);

  constructor(readonly size = CHUNK_BYTES) {
    this.#fresh();
  }

  #fresh(): void {
    this.buffer = Buffer.allocUnsafe(this.size);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.at = 0;
  }

  /** The filled part as a chunk (or undefined when empty), and a fresh buffer for what follows. */
  take(): Buffer | undefined {
    if (this.at === 0) return undefined;
    const chunk = this.buffer.subarray(0, this.at);
    this.#fresh();
    return chunk;
  }

  /** True when `bytes` more do not fit and the chunk should be taken first. */
  full(bytes: number): boolean {
    return this.at + bytes > this.size;
  }

  u8(value: number): void {
    this.buffer[this.at++] = value;
  }
  u16(value: number): void {
    this.view.setUint16(this.at, value, true);
    this.at += 2;
  }
  u32(value: number): void {
    this.view.setUint32(this.at, value, true);
    this.at += 4;
  }
  /** An unsigned integer below 2^53 (counters, period ids) as UInt64 or a non-negative Int64. */
  u64(value: number): void {
    uint64Words(value, this.#words, 0);
    this.view.setUint32(this.at, this.#words[0]!, true);
    this.view.setUint32(this.at + 4, this.#words[1]!, true);
    this.at += 8;
  }
  /** Nanoseconds since the epoch as Int64. */
  nanos(seconds: number, nanos: number): void {
    nanosWords(seconds, nanos, this.#words, 0);
    this.view.setUint32(this.at, this.#words[0]!, true);
    this.view.setUint32(this.at + 4, this.#words[1]!, true);
    this.at += 8;
  }
  bytes(value: Uint8Array): void {
    this.buffer.set(value, this.at);
    this.at += value.length;
  }
  /** A short ASCII string (< 128 bytes: a one-byte length). */
  ascii(text: string): void {
    this.buffer[this.at] = text.length;
    this.buffer.write(text, this.at + 1, 'latin1');
    this.at += 1 + text.length;
  }
  /** An IPv4 address as dotted-quad String, digit by digit. */
  ipv4(word: number): void {
    const lengthAt = this.at++;
    this.#octet(word >>> 24);
    this.buffer[this.at++] = 0x2e;
    this.#octet((word >>> 16) & 0xff);
    this.buffer[this.at++] = 0x2e;
    this.#octet((word >>> 8) & 0xff);
    this.buffer[this.at++] = 0x2e;
    this.#octet(word & 0xff);
    this.buffer[lengthAt] = this.at - lengthAt - 1;
  }
  #octet(value: number): void {
    const b = this.buffer;
    if (value >= 100) {
      const hundreds = (value / 100) | 0;
      const rest = value - hundreds * 100;
      b[this.at++] = 48 + hundreds;
      b[this.at++] = 48 + ((rest / 10) | 0);
      b[this.at++] = 48 + (rest % 10);
    } else if (value >= 10) {
      b[this.at++] = 48 + ((value / 10) | 0);
      b[this.at++] = 48 + (value % 10);
    } else b[this.at++] = 48 + value;
  }
}

/** A String value: LEB128 length and UTF-8 bytes. */
export function encodeString(text: string): Buffer {
  const utf8 = Buffer.from(text, 'utf8');
  const length: number[] = [];
  let n = utf8.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from(length), utf8]);
}

/** Timestamp, TaskName, TimestampNs, PeriodId, RunId, EngineId: the first columns of every row of a task's snapshot. */
function sharedPrefix(taskName: string, context: RowContext): Buffer {
  const strings = [taskName, context.runId, context.engineId].map(encodeString);
  const head = new ChunkWriter(4 + 8 + 8 + strings.reduce((sum, s) => sum + s.length, 0));
  head.u32(context.time.seconds);
  head.bytes(strings[0]!);
  head.nanos(context.time.seconds, context.time.nanos);
  head.u64(context.periodId);
  head.bytes(strings[1]!);
  head.bytes(strings[2]!);
  return head.take()!;
}

function badValue(what: string): never {
  throw new NetSpectraError('NS_ERR_CLICKHOUSE_QUERY', `cannot write to ClickHouse: ${what}`);
}

/**
 * Refuse, before anything is sent, values the columns cannot hold: a failure in the middle of a
 * streamed INSERT could leave the rows of the blocks already sent.
 */
export function checkRowValues(context: RowContext, flows: readonly Omit<FlowSelection, 'deltas'>[], lists: readonly SketchList[]): void {
  const seconds = (value: number): boolean => value >= 0 && value <= DATETIME_MAX;
  if (!seconds(context.time.seconds)) badValue(`the snapshot time ${context.time.seconds} s is outside DateTime's range (1970 to 2106)`);
  if (!Number.isSafeInteger(context.periodId) || context.periodId < 0) badValue(`the period id ${context.periodId} is not a non-negative integer`);
  for (const { task, since } of flows) {
    const f = task.flows;
    for (let i = 0; i < f.count; i++) {
      if (f.changedEpoch[i]! <= since) continue;
      if (!seconds(f.firstSeconds[i]!) || !seconds(f.lastSeconds[i]!)) {
        badValue(`task ${task.name} has a flow seen at ${f.firstSeconds[i]}–${f.lastSeconds[i]} s, outside DateTime's range (1970 to 2106)`);
      }
    }
  }
  for (const text of [context.runId, context.engineId, ...flows.map((s) => s.task.name), ...lists.map((l) => l.taskName)]) {
    if (Buffer.byteLength(text) > MAX_TEXT_BYTES) badValue(`the name ${JSON.stringify(text.slice(0, 40))}… is longer than ${MAX_TEXT_BYTES} bytes`);
  }
  for (const list of lists) {
    for (const entry of list.entries) {
      if (!Number.isFinite(entry.value) || entry.value < 0 || entry.value > Number.MAX_SAFE_INTEGER) badValue(`task ${list.taskName} reports ${entry.value} for ${entry.flowText}, not a count`);
      if (Buffer.byteLength(entry.flowText) > MAX_TEXT_BYTES) badValue(`task ${list.taskName} reports a flow longer than ${MAX_TEXT_BYTES} bytes`);
    }
  }
}

/** Count of the rows `flowRows` writes. */
export function countFlowRows(flows: readonly FlowSelection[]): number {
  let rows = 0;
  for (const { task, since } of flows) {
    const changed = task.flows.changedEpoch;
    for (let i = 0; i < task.flows.count; i++) if (changed[i]! > since) rows++;
  }
  return rows;
}

/** `flow_metrics` rows (FLOW_INSERT_COLUMNS) of the selected flows, in RowBinary chunks. */
export function* flowRows(flows: readonly FlowSelection[], context: RowContext): Generator<Buffer> {
  const out = new ChunkWriter();
  for (const { task, since, deltas } of flows) {
    const f = task.flows;
    const spec = new KeySpec(task.keyFields);
    const deltaBytes = deltas.bytes;
    const deltaPackets = deltas.packets;
    const prefix = sharedPrefix(task.name, context);
    const rowBytes = prefix.length + FLOW_ROW_VARIABLE_BYTES;
    const keys = f.keys;
    const kw = f.keyWords;
    for (let i = 0; i < f.count; i++) {
      if (f.changedEpoch[i]! <= since) continue;
      if (out.full(rowBytes)) yield out.take()!;
      out.bytes(prefix);
      const at = i * kw;
      const meta = keys[at + spec.metaAt]!;
      const ipv4 = ((meta >>> 8) & 0xff) === 4;
      if (spec.hasSrcIP) {
        out.u8(0);
        if (ipv4) out.ipv4(keys[at + 3]!);
        else out.ascii(formatIPv6Words(keys, at));
      } else out.u8(1);
      if (spec.hasDstIP) {
        out.u8(0);
        if (ipv4) out.ipv4(keys[at + spec.dstAt + 3]!);
        else out.ascii(formatIPv6Words(keys, at + spec.dstAt));
      } else out.u8(1);
      const ports = keys[at + spec.portsAt]! >>> 0;
      if (spec.hasSrcPort) {
        out.u8(0);
        out.u16(ports >>> 16);
      } else out.u8(1);
      if (spec.hasDstPort) {
        out.u8(0);
        out.u16(ports & 0xffff);
      } else out.u8(1);
      if (spec.hasProtocol) {
        out.u8(0);
        out.u8(meta & 0xff);
      } else out.u8(1);
      out.u32(f.firstSeconds[i]!);
      out.u32(f.lastSeconds[i]!);
      out.nanos(f.firstSeconds[i]!, f.firstNanos[i]!);
      out.nanos(f.lastSeconds[i]!, f.lastNanos[i]!);
      out.u64(f.bytes[i]!);
      out.u64(f.packets[i]!);
      out.u64(deltaBytes[i]!);
      out.u64(deltaPackets[i]!);
      out.u8(1);
    }
  }
  const last = out.take();
  if (last !== undefined) yield last;
}

/** `heavy_hitters` rows (HEAVY_HITTER_INSERT_COLUMNS), in RowBinary chunks. Values are rounded to whole counts. */
export function* heavyHitterRows(lists: readonly SketchList[], context: RowContext): Generator<Buffer> {
  const out = new ChunkWriter();
  for (const list of lists) {
    const prefix = sharedPrefix(list.taskName, context);
    for (const entry of list.entries) {
      const flow = encodeString(entry.flowText);
      if (out.full(prefix.length + flow.length + 9)) yield out.take()!;
      out.bytes(prefix);
      out.bytes(flow);
      out.u64(Math.round(entry.value));
      out.u8(list.type);
    }
  }
  const last = out.take();
  if (last !== undefined) yield last;
}
