/**
 * Offline analysis, what `netspectra analyze` runs: capture files (capture/CaptureFileSource)
 * through the pipeline in packet time, every period's last snapshots folded into a whole-run view
 * for the report.
 */
import { hostname } from 'node:os';
import type { AlerterStats, AlertEpisode } from '../alerting/alerter.js';
import { CaptureFileSource } from '../capture/capture-sources.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { emptyDecodeStats, mergeDecodeStats, type DecodeStats } from '../decode/index.js';
import type { TaskStats } from '../engine/engine.js';
import { RunAccumulator } from '../engine/run-accumulator.js';
import type { AlertAnalyst, Notifier } from '../model/alert.js';
import type { NetSpectraError } from '../model/errors.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import { Pipeline } from './pipeline.js';

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

export async function runAnalysis(options: AnalysisOptions): Promise<AnalysisResult> {
  const started = performance.now();
  const { config } = options;
  const source = new CaptureFileSource({
    files: options.files,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const periods = new RunAccumulator();
  let snapshotsTaken = 0;
  const pipeline: Pipeline = new Pipeline({
    config,
    source,
    tool: 'analyze',
    // like the original's pcap-analyzer: configured ClickHouse writers get the snapshots too
    engineId: `analyze-${hostname()}`,
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    ...(options.store === undefined ? {} : { store: options.store }),
    alerting: options.alerting === false ? false : { notifiers: [], ...options.alerting },
    ...(options.onWarning === undefined ? {} : { log: options.onWarning }),
    onSnapshot: (snapshot) => {
      // Count what the writers stored, not the alerter's own checks: writers are due at whole
      // multiples of their interval, and every writer gets a period end.
      const ms = snapshot.time.seconds * 1000 + snapshot.time.nanos / 1e6;
      const writers = pipeline.groups.find((g) => g.name === snapshot.group)?.writers ?? [];
      if (snapshot.reason === 'period-end' || writers.some((w) => w.writer !== pipeline.alerter && ms % w.intervalMs === 0)) snapshotsTaken++;
    },
    onPeriodEnd: (snapshots) => periods.addPeriod(snapshots),
  });
  await pipeline.start();
  await new Promise<void>((resolve) => (pipeline.isDone ? resolve() : pipeline.once('done', resolve)));
  const result = await pipeline.stop();
  // An unreadable file is reported like a damaged one (the other files are still analysed); a
  // failure of the engine or the final snapshot ends the analysis.
  if (result.failure !== undefined) throw result.failure;
  const files = [...source.results];
  const totals = emptyDecodeStats();
  for (const file of files) mergeDecodeStats(totals, file.stats);
  return {
    files,
    totals,
    finals: await periods.result(),
    taskStats: result.taskStats,
    writeErrors: result.writeErrors,
    snapshotsTaken,
    periods: periods.periods,
    storePath: pipeline.storePath,
    runId: pipeline.runId,
    workers: pipeline.engine?.workerCount ?? options.workers ?? config.aggregator.numWorkers,
    elapsedSeconds: (performance.now() - started) / 1000,
    alerts: pipeline.alerter?.episodes(),
    alerterStats: pipeline.alerter?.stats(),
  };
}
