/**
 * Offline analysis, the composition root of `netspectra analyze`: capture files → decoder →
 * engine (worker pool) under a packet-time manager → writers, and the final snapshots for the report.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import type { NetSpectraConfig } from '../config/schema.js';
import { openCaptureFile } from '../capture/file-source.js';
import { CaptureDecoder, emptyDecodeStats, mergeDecodeStats, type DecodeStats } from '../decode/index.js';
import { Engine, type TaskStats } from '../engine/engine.js';
import { Manager } from '../engine/manager.js';
import { RunAccumulator } from '../engine/run-accumulator.js';
import type { EngineTasks } from '../engine/task-plan.js';
import { isNetSpectraError, type NetSpectraError } from '../model/errors.js';
import type { AlertAnalyst, Notifier } from '../model/alert.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { AlertEpisode, AlerterStats } from '../alerting/alerter.js';
import { alerterFromConfig, scheduleAlerter } from '../alerting/alerter-setup.js';
import { AlertRecorder } from '../alerting/alert-recorder.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import { SpoolingWriter } from '../store/spooling-writer.js';
import { buildWriterSet, startAll, stopAll } from './writers.js';

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
  /**
   * Rule evaluation (`alerter`): where notifications go and who analyses them (the built-in
   * analyst unless `fallbackAnalyst` says otherwise; `null` for none). Rules are evaluated
   * whenever `alerter.enabled` and there are rules; false turns evaluation off.
   */
  alerting?: false | { notifiers?: readonly Notifier[]; analyst?: AlertAnalyst; fallbackAnalyst?: AlertAnalyst | null };
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
  /** Alerts that fired during the run (packet time), in firing order; undefined when rules were not evaluated. */
  alerts: AlertEpisode[] | undefined;
  alerterStats: AlerterStats | undefined;
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

  const engineId = `analyze-${hostname()}`;
  const { groups, writers: allWriters, storePath, alertSinks } = buildWriterSet({
    config,
    tasks,
    runId,
    store: options.store,
    inputs: options.files.map((f) => basename(f)),
    tool: 'analyze',
    // like the original's pcap-analyzer: configured ClickHouse writers get the snapshots too
    clickhouse: { engineId },
    onWarning: options.onWarning,
  });
  const alerting = options.alerting;
  // every alert notice goes to the stores the snapshots go to (docs/alerting.md, "Storage")
  const recorder = new AlertRecorder({ sinks: alertSinks, runId, engineId, source: 'analyze', ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }) });
  const alerter =
    alerting === false
      ? undefined
      : alerterFromConfig(
          config,
          [...tasks.exact, ...tasks.sketch].map((t) => t.name),
          {
            ...alerting,
            ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
            ...(recorder.sinkCount === 0 ? {} : { onNotices: (notices) => recorder.record(notices) }),
          },
        );
  if (alerter !== undefined) {
    // Evaluated like a writer at every check_interval of packet time, at every period end and on
    // the final snapshot; started and stopped (its deliveries drained) with the writers.
    scheduleAlerter(groups, alerter, config);
    allWriters.push(alerter);
  }
  let snapshotsTaken = 0;
  const periods = new RunAccumulator();
  const manager = new Manager({
    engine,
    groups,
    periodMs: config.aggregator.periodMs,
    onSnapshot: (snapshot) => {
      // Count what the writers stored, not the alerter's own checks: writers are due at whole
      // multiples of their interval, and every writer gets a period end.
      const ms = snapshot.time.seconds * 1000 + snapshot.time.nanos / 1e6;
      const writers = groups.find((g) => g.name === snapshot.group)?.writers ?? [];
      if (snapshot.reason === 'period-end' || writers.some((w) => w.writer !== alerter && ms % w.intervalMs === 0)) snapshotsTaken++;
    },
    onPeriodEnd: (snapshots) => periods.addPeriod(snapshots),
  });
  const files: FileResult[] = [];
  const totals = emptyDecodeStats();
  let finals: GroupSnapshot[] = [];
  let taskStats: TaskStats[] = [];
  let startedWriters: SnapshotWriter[] = [];
  try {
    // Writers (the store loads DuckDB on its own thread) and engine workers start side by side.
    startedWriters = await startAll(allWriters, [engine.start()]);
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
    // the last notices (final snapshot) reach the store's thread before it is told to stop
    await recorder.stop();
    await stopAll(startedWriters);
    for (const writer of startedWriters) {
      if (!(writer instanceof SpoolingWriter) || writer.stats.queued === 0) continue;
      options.onWarning?.(
        `${writer.stats.queued} snapshot(s) for ${writer.description} are waiting in the spool: the server did not answer; the next analyze or engine run with the same writer sends them`,
      );
    }
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
    alerts: alerter?.episodes(),
    alerterStats: alerter?.stats(),
  };
}

/** Pass chunks through, reporting their sizes (for progress; gzip files count decompressed bytes). */
async function* countBytes(chunks: AsyncIterable<Uint8Array>, onChunk: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    onChunk(chunk.byteLength);
    yield chunk;
  }
}
