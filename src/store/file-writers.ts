/**
 * File writers with the original's folder layout: one folder per snapshot, `<root>/<time>/<task>/`.
 *
 * - `gob` (exact tasks): the original wrote Go gob files, which nothing outside Go reads. We keep
 *   the writer type and layout but write JSON lines instead — `flows.jsonl`, one flow per line —
 *   plus the original's `summary.json`.
 * - `text` (sketch tasks): `count_hh.txt` and `size_hh.txt` for heavy hitters, `spread_ss.txt` for
 *   SuperSpread, one `<flow> <value>` per line, largest first, as the original.
 *
 * `<time>` is the snapshot's UTC time as `YYYYMMDD-HHMMSS` (packet time in offline analysis), so
 * re-running an analysis produces the same folders.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { NetSpectraError } from '../model/errors.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot, SketchEntry, Timestamp } from '../model/snapshot.js';
import { KeySpec } from '../model/flow-key.js';
import { formatTimestamp } from '../model/time.js';

export function snapshotFolderName(time: Timestamp): string {
  const d = new Date(time.seconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/** One JSON line per flow: `{"task","key":{…},"packets","bytes","firstSeen","lastSeen"}` (also `analyze --flows-out`). */
export function flowLines(task: ExactTaskSnapshot, emit: (line: string) => void): void {
  const spec = new KeySpec(task.keyFields);
  const f = task.flows;
  for (let i = 0; i < f.count; i++) {
    emit(
      JSON.stringify({
        task: task.name,
        key: spec.toObject(f.keys, i * f.keyWords),
        packets: f.packets[i],
        bytes: f.bytes[i],
        firstSeen: formatTimestamp({ seconds: f.firstSeconds[i]!, nanos: f.firstNanos[i]! }, true),
        lastSeen: formatTimestamp({ seconds: f.lastSeconds[i]!, nanos: f.lastNanos[i]! }, true),
      }) + '\n',
    );
  }
}

/** Write lines through a file stream, honouring backpressure. */
export async function writeLines(path: string, produce: (emit: (line: string) => void) => void): Promise<void> {
  const stream = createWriteStream(path);
  const pending: string[] = [];
  let size = 0;
  const flushes: Promise<void>[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const ok = stream.write(pending.join(''));
    pending.length = 0;
    size = 0;
    if (!ok) flushes.push(once(stream, 'drain').then(() => undefined));
  };
  produce((line) => {
    pending.push(line);
    size += line.length;
    if (size > 1 << 20) flush();
  });
  flush();
  await Promise.all(flushes);
  stream.end();
  await once(stream, 'finish');
}

export class JsonLinesFlowWriter implements SnapshotWriter {
  readonly description: string;
  constructor(readonly rootPath: string) {
    this.description = `gob(json lines):${rootPath}`;
  }
  async start(): Promise<void> {
    await mkdir(this.rootPath, { recursive: true });
  }
  async write(snapshot: GroupSnapshot): Promise<void> {
    try {
      for (const task of snapshot.tasks) {
        if (task.kind !== 'exact') continue;
        const folder = join(this.rootPath, snapshotFolderName(snapshot.time), task.name);
        await mkdir(folder, { recursive: true });
        await writeLines(join(folder, 'flows.jsonl'), (emit) => flowLines(task, emit));
        let packets = 0;
        let bytes = 0;
        for (let i = 0; i < task.flows.count; i++) {
          packets += task.flows.packets[i]!;
          bytes += task.flows.bytes[i]!;
        }
        const summary = {
          task_name: task.name,
          total_flows: task.flows.count,
          total_bytes: bytes,
          total_packets: packets,
          shards: 1,
          timestamp: formatTimestamp(snapshot.time, false),
          period_id: snapshot.periodId,
          reason: snapshot.reason,
        };
        await writeFile(join(folder, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      }
    } catch (error) {
      throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot write flows under ${this.rootPath}: ${String(error)}`, { cause: error });
    }
  }
  async stop(): Promise<void> {}
}

export class TextSketchWriter implements SnapshotWriter {
  readonly description: string;
  constructor(readonly rootPath: string) {
    this.description = `text:${rootPath}`;
  }
  async start(): Promise<void> {
    await mkdir(this.rootPath, { recursive: true });
  }
  async write(snapshot: GroupSnapshot): Promise<void> {
    const lines = (entries: readonly SketchEntry[]): string => entries.map((e) => `${e.flowText} ${Math.round(e.value)}\n`).join('');
    try {
      for (const task of snapshot.tasks) {
        if (task.kind === 'exact') continue;
        const folder = join(this.rootPath, snapshotFolderName(snapshot.time), task.name);
        await mkdir(folder, { recursive: true });
        if (task.kind === 'heavy_hitter') {
          await writeFile(join(folder, 'count_hh.txt'), lines(task.byCount));
          await writeFile(join(folder, 'size_hh.txt'), lines(task.bySize));
        } else {
          await writeFile(join(folder, 'spread_ss.txt'), lines(task.spreaders));
        }
      }
    } catch (error) {
      throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot write heavy hitters under ${this.rootPath}: ${String(error)}`, { cause: error });
    }
  }
  async stop(): Promise<void> {}
}
