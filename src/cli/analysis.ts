/**
 * Offline analysis, the composition root of `netspectra analyze`: capture files → decoder →
 * engine (worker pool) under a packet-time manager → writers, and the final snapshots for the report.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DEFAULT_DUCKDB_PATH, DEFAULT_FILE_WRITER_ROOT } from '../config/defaults.js';
import type { NetSpectraConfig, WriterConfig } from '../config/schema.js';
import { openCaptureFile } from '../capture/file-source.js';
import { CaptureDecoder, emptyDecodeStats, mergeDecodeStats, type DecodeStats } from '../decode/index.js';
import { Engine, type TaskStats } from '../engine/engine.js';
import { Manager, type ScheduledWriter, type TaskGroup } from '../engine/manager.js';
import { RunAccumulator } from '../engine/run-accumulator.js';
import type { EngineTasks } from '../engine/task-plan.js';
import { isNetSpectraError, type NetSpectraError } from '../model/errors.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import { ThreadedWriter } from '../store/threaded-writer.js';
import { JsonLinesFlowWriter, TextSketchWriter } from '../store/file-writers.js';

export interface AnalysisOptions {
  files: readonly string[];
  config: NetSpectraConfig;
  /** Worker threads; undefined → `aggregator.num_workers` (itself the number of cores by default). */
  workers?: number;
  /** Embedded store file; undefined → the config's duckdb writers; null → no store. */
  store?: string | null;
  /** Called as bytes are read, for a progress bar. */
  onProgress?: (bytesRead: number, bytesTotal: number, packets: number) => void;
  /** Warnings for the user (e.g. a writer type this command cannot use). */
  onWarning?: (message: string) => void;
}

export interface FileResult {
  path: string;
  stats: DecodeStats;
  error: NetSpectraError | undefined;
}

export interface AnalysisResult {
  files: FileResult[];
  totals: DecodeStats;
  /** The whole run per task group (exact, sketch): the final snapshot, merged over every period. */
  finals: GroupSnapshot[];
  /** Measurement periods the input spanned. */
  periods: number;
  taskStats: TaskStats[];
  writeErrors: NetSpectraError[];
  /** Every snapshot taken while reading (interval, period-end), not counting the finals. */
  snapshotsTaken: number;
  storePath: string | undefined;
  runId: string;
  workers: number;
  elapsedSeconds: number;
}

/** Seed for hash functions: the config's, or a random one per run (keeps crafted-collision attacks off). */
function seedOf(configured: number | undefined): number {
  return configured ?? randomBytes(4).readUInt32LE(0);
}

export function engineTasksOf(config: NetSpectraConfig): EngineTasks {
  const types = config.aggregator.types;
  return {
    exact: types.includes('exact') ? config.aggregator.exact.tasks.map((t) => ({ name: t.name, keyFields: [...t.keyFields], seed: seedOf(undefined) })) : [],
    sketch: types.includes('sketch')
      ? config.aggregator.sketch.tasks.map((t) => ({ ...t, flowFields: [...t.flowFields], elementFields: [...t.elementFields], seed: seedOf(t.seed) }))
      : [],
  };
}

export async function runAnalysis(options: AnalysisOptions): Promise<AnalysisResult> {
  const started = performance.now();
  const { config } = options;
  const runId = randomUUID();
  const tasks = engineTasksOf(config);
  const workers = options.workers ?? config.aggregator.numWorkers;
  const engine = new Engine({ tasks, workers });

  // One store instance per file, shared by the groups whose writers name it.
  const stores = new Map<string, SnapshotWriter>();
  let storePath: string | undefined;
  const writerFor = (writer: WriterConfig): SnapshotWriter | undefined => {
    switch (writer.type) {
      case 'duckdb': {
        if (options.store === null) return undefined;
        const path = options.store ?? writer.path ?? DEFAULT_DUCKDB_PATH;
        storePath = path;
        const key = `duckdb:${path}`;
        let store = stores.get(key);
        if (store === undefined) {
          store = new ThreadedWriter({ kind: 'duckdb', options: { path, runId, inputs: options.files.map((f) => basename(f)), tool: 'analyze' } });
          stores.set(key, store);
        }
        return store;
      }
      case 'gob':
        return new JsonLinesFlowWriter(writer.rootPath ?? DEFAULT_FILE_WRITER_ROOT);
      case 'text':
        return new TextSketchWriter(writer.rootPath ?? DEFAULT_FILE_WRITER_ROOT);
      case 'clickhouse':
        options.onWarning?.('a clickhouse writer is configured but `analyze` writes only to the embedded store and files; it was skipped');
        return undefined;
    }
  };
  const groupOf = (name: 'exact' | 'sketch', writers: readonly WriterConfig[], taskNames: string[]): TaskGroup => ({
    name,
    taskNames,
    writers: writers
      .filter((w) => w.enabled)
      .map((w): ScheduledWriter | undefined => {
        const writer = writerFor(w);
        return writer === undefined ? undefined : { writer, intervalMs: w.snapshotIntervalMs };
      })
      .filter((w): w is ScheduledWriter => w !== undefined),
  });
  const groups: TaskGroup[] = [];
  if (tasks.exact.length > 0) groups.push(groupOf('exact', config.aggregator.exact.writers, tasks.exact.map((t) => t.name)));
  if (tasks.sketch.length > 0) groups.push(groupOf('sketch', config.aggregator.sketch.writers, tasks.sketch.map((t) => t.name)));
  // --store given but the config has no duckdb writer: still store, snapshotting at the end only.
  if (options.store != null && stores.size === 0) {
    const store = writerFor({ type: 'duckdb', enabled: true, snapshotIntervalMs: config.aggregator.periodMs, path: options.store });
    if (store !== undefined) for (const group of groups) (group.writers as ScheduledWriter[]).push({ writer: store, intervalMs: config.aggregator.periodMs });
  }

  const allWriters = [...new Set(groups.flatMap((g) => g.writers.map((w) => w.writer)))];
  let snapshotsTaken = 0;
  const periods = new RunAccumulator();
  const manager = new Manager({
    engine,
    groups,
    periodMs: config.aggregator.periodMs,
    onSnapshot: () => snapshotsTaken++,
    onPeriodEnd: (snapshots) => periods.addPeriod(snapshots),
  });
  const files: FileResult[] = [];
  const totals = emptyDecodeStats();
  let finals: GroupSnapshot[] = [];
  let taskStats: TaskStats[] = [];
  const startedWriters: SnapshotWriter[] = [];
  try {
    // Writers (the store loads DuckDB on its own thread) and engine workers start side by side;
    // every start is settled before a failure is thrown, so nothing is left running.
    const starts = await Promise.allSettled([
      engine.start(),
      ...allWriters.map(async (writer) => {
        await writer.start();
        startedWriters.push(writer);
      }),
    ]);
    const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const sizes = await Promise.all(options.files.map(async (f) => (await stat(f).catch(() => undefined))?.size ?? 0));
    const bytesTotal = sizes.reduce((a, b) => a + b, 0);
    let bytesBefore = 0;
    for (const [index, path] of options.files.entries()) {
      const decoder = new CaptureDecoder({ name: basename(path), pool: engine.pool });
      let bytesRead = 0;
      const chunks = countBytes(openCaptureFile(path), (n) => {
        bytesRead += n;
      });
      let readError: NetSpectraError | undefined;
      try {
        for await (const batch of decoder.decode(chunks)) {
          await manager.ingest(batch);
          options.onProgress?.(bytesBefore + bytesRead, bytesTotal, totals.frames + decoder.stats.frames);
        }
      } catch (error) {
        // An unreadable file (missing, a read error, broken gzip) is reported like a damaged one:
        // the other files are still analysed and the report still printed.
        if (!isNetSpectraError(error)) throw error;
        readError = error;
      }
      bytesBefore += sizes[index]!;
      files.push({ path, stats: decoder.stats, error: decoder.error ?? readError });
      mergeDecodeStats(totals, decoder.stats);
    }
    periods.addPeriod(await manager.finish());
    finals = await periods.result();
    taskStats = await engine.stats();
  } finally {
    await engine.stop();
    for (const writer of startedWriters) await writer.stop();
  }
  return {
    files,
    totals,
    finals,
    taskStats,
    writeErrors: manager.writeErrors,
    snapshotsTaken,
    periods: periods.periods,
    storePath,
    runId,
    workers,
    elapsedSeconds: (performance.now() - started) / 1000,
  };
}

/** Pass chunks through, reporting their sizes (for progress; gzip files count decompressed bytes). */
async function* countBytes(chunks: AsyncIterable<Uint8Array>, onChunk: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    onChunk(chunk.byteLength);
    yield chunk;
  }
}
