/**
 * A GroupSnapshot as one file (the spool's unit): a small JSON header with everything but the flow
 * columns, then each exact task's columns as raw bytes, 8-byte aligned.
 *
 *   "NSSNAP1\n" | u32 LE header length | header JSON (UTF-8) | padding to 8 | column bytes ...
 *
 * Columns are in the machine's byte order: the spool is local to the process that wrote it.
 * The header lists, per exact task, the flow count and key width, so the column sizes follow; a
 * file whose sizes do not add up is rejected (a crash mid-write leaves a short file).
 */
import { allocateFlowColumns, type FlowColumns, type GroupSnapshot, type TaskSnapshot } from '../model/snapshot.js';

const MAGIC = new TextEncoder().encode('NSSNAP1\n');

// `hasIds`: the ids column follows the others (files written before ids existed have none)
type HeaderTask = Exclude<TaskSnapshot, { kind: 'exact' }> | (Omit<Extract<TaskSnapshot, { kind: 'exact' }>, 'flows'> & { flows: Omit<FlowColumns, ArrayKeys> & { hasIds?: boolean } });
type ArrayKeys = 'keys' | 'packets' | 'bytes' | 'firstSeconds' | 'firstNanos' | 'lastSeconds' | 'lastNanos' | 'changedEpoch' | 'ids';

interface Header extends Omit<GroupSnapshot, 'tasks'> {
  tasks: HeaderTask[];
}

function columnsOf(flows: FlowColumns): ArrayBufferView[] {
  return [
    flows.packets.subarray(0, flows.count),
    flows.bytes.subarray(0, flows.count),
    flows.firstSeconds.subarray(0, flows.count),
    flows.lastSeconds.subarray(0, flows.count),
    flows.keys.subarray(0, flows.count * flows.keyWords),
    flows.firstNanos.subarray(0, flows.count),
    flows.lastNanos.subarray(0, flows.count),
    flows.changedEpoch.subarray(0, flows.count),
    ...(flows.ids === undefined ? [] : [flows.ids.subarray(0, flows.count)]),
  ];
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** The file's bytes, as parts to write in order (no copy of the columns). */
export function encodeSnapshotFile(snapshot: GroupSnapshot): Uint8Array[] {
  const header: Header = {
    ...snapshot,
    tasks: snapshot.tasks.map((task): HeaderTask => {
      if (task.kind !== 'exact') return task;
      const { count, keyWords, epoch, sinceEpoch } = task.flows;
      return { ...task, flows: { count, keyWords, epoch, sinceEpoch, hasIds: task.flows.ids !== undefined } };
    }),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(pad8(MAGIC.length + 4 + json.length));
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(MAGIC.length, json.length, true);
  prefix.set(json, MAGIC.length + 4);
  const parts: Uint8Array[] = [prefix];
  for (const task of snapshot.tasks) {
    if (task.kind !== 'exact') continue;
    for (const column of columnsOf(task.flows)) {
      const bytes = new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
      parts.push(bytes);
      const padding = pad8(bytes.length) - bytes.length;
      if (padding > 0) parts.push(new Uint8Array(padding));
    }
  }
  return parts;
}

/** Parse a file written by `encodeSnapshotFile`; throws an Error describing what is wrong. */
export function decodeSnapshotFile(bytes: Uint8Array): GroupSnapshot {
  if (bytes.length < MAGIC.length + 4 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('not a NetSpectra snapshot file');
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  const jsonEnd = MAGIC.length + 4 + jsonLength;
  if (jsonEnd > bytes.length) throw new Error('the snapshot file is truncated in its header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, jsonEnd))) as Header;
  let at = pad8(jsonEnd);
  const take = (length: number): Uint8Array => {
    if (at + length > bytes.length) throw new Error('the snapshot file is truncated in its flow columns');
    const part = bytes.subarray(at, at + length);
    at += pad8(length);
    return part;
  };
  const tasks = header.tasks.map((task): TaskSnapshot => {
    if (task.kind !== 'exact') return task;
    const { count, keyWords, epoch, sinceEpoch, hasIds } = task.flows;
    const flows = allocateFlowColumns(count, keyWords, epoch, sinceEpoch, hasIds === true);
    for (const column of columnsOf(flows)) new Uint8Array(column.buffer, column.byteOffset, column.byteLength).set(take(column.byteLength));
    return { ...task, flows };
  });
  if (at !== bytes.length) throw new Error(`the snapshot file has ${bytes.length - at} bytes after its last column`);
  return { ...header, tasks };
}
