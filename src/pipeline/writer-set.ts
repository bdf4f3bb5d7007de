/**
 * The writers of the config's task groups (`aggregator.exact.writers`, `aggregator.sketch.writers`),
 * built once by the pipeline (pipeline.ts) for every command that runs the engine (`analyze`, `engine`, `serve`): one store instance per
 * destination, shared by the groups that name it, each group with its own snapshot intervals.
 */
import { join } from 'node:path';
import { DEFAULT_DUCKDB_PATH, DEFAULT_FILE_WRITER_ROOT } from '../config/defaults.js';
import type { ClickHouseConfig, NetSpectraConfig, WriterConfig } from '../config/schema.js';
import type { EngineTasks } from '../engine/task-plan.js';
import type { ScheduledWriter, SnapshotWriter, TaskGroup } from '../model/ports.js';
import type { RecordedAlertSink } from '../alerting/alert-recorder.js';
import { ClickHouseStore } from '../store/clickhouse-store.js';
import { SpoolingWriter } from '../store/spooling-writer.js';
import { JsonLinesFlowWriter, TextSketchWriter } from '../store/file-writers.js';
import { ThreadedWriter } from '../store/threaded-writer.js';
import { InstrumentedWriter } from '../store/instrumented-writer.js';
import { RemoteAnalyst } from '../ai/remote-analyst.js';
import type { AlertAnalyst } from '../model/alert.js';
import { errorMessage } from '../model/errors.js';

export interface WriterSetOptions {
  config: NetSpectraConfig;
  tasks: EngineTasks;
  /** Identifies this run's rows (RunId column). */
  runId: string;
  /** Embedded store file; undefined → the config's duckdb writers; null → no embedded store. */
  store?: string | null;
  /** Recorded with the run in the embedded store: what was read (files, subjects). */
  inputs: readonly string[];
  /** Recorded with the run in the embedded store: the command, e.g. `analyze`. */
  tool: string;
  /**
   * ClickHouse writers: built with this engine id (EngineId column), or skipped with a warning
   * (a command that only writes locally).
   */
  clickhouse: { engineId: string } | 'skip';
  /** Folder under every file writer's `root_path` (several engines writing beside each other). */
  fileSubfolder?: string;
  /** Warnings for the user (e.g. a writer type this command cannot use). */
  onWarning?: (message: string) => void;
}

export interface WriterSet {
  /** The task groups with their scheduled writers (groups without tasks are left out). */
  groups: TaskGroup[];
  /** Every distinct writer, to start and stop once. */
  writers: SnapshotWriter[];
  /** The embedded store's file, when there is one. */
  storePath: string | undefined;
  /**
   * Where alert notices go (AlertRecorder): the embedded store's writer (the one owner of its file,
   * started and stopped with the writers) and one ClickHouse client per configured server and
   * database (opened by the recorder at the first notice, so an unreachable server delays nothing).
   */
  alertSinks: RecordedAlertSink[];
}

export function buildWriterSet(options: WriterSetOptions): WriterSet {
  const { config, tasks } = options;
  const stores = new Map<string, SnapshotWriter>();
  const alertSinks = new Map<string, RecordedAlertSink>();
  let storePath: string | undefined;
  const rootOf = (writer: WriterConfig): string => {
    const root = writer.rootPath ?? DEFAULT_FILE_WRITER_ROOT;
    return options.fileSubfolder === undefined ? root : join(root, options.fileSubfolder);
  };
  const shared = (key: string, make: () => SnapshotWriter): SnapshotWriter => {
    let store = stores.get(key);
    if (store === undefined) {
      store = make();
      stores.set(key, store);
    }
    return store;
  };
  const writerFor = (writer: WriterConfig): SnapshotWriter | undefined => {
    switch (writer.type) {
      case 'duckdb': {
        if (options.store === null) return undefined;
        const path = options.store ?? writer.path ?? DEFAULT_DUCKDB_PATH;
        storePath = path;
        const store = shared(`duckdb:${path}`, () => new ThreadedWriter({ kind: 'duckdb', options: { path, runId: options.runId, inputs: options.inputs, tool: options.tool } }));
        if (store instanceof ThreadedWriter && !alertSinks.has(`duckdb:${path}`)) alertSinks.set(`duckdb:${path}`, { sink: store });
        return store;
      }
      case 'gob':
        return shared(`gob:${rootOf(writer)}`, () => new JsonLinesFlowWriter(rootOf(writer)));
      case 'text':
        return shared(`text:${rootOf(writer)}`, () => new TextSketchWriter(rootOf(writer)));
      case 'clickhouse': {
        const clickhouse = options.clickhouse;
        if (clickhouse === 'skip') {
          options.onWarning?.(`a clickhouse writer is configured but \`${options.tool}\` writes only to the embedded store and files; it was skipped`);
          return undefined;
        }
        const connection: ClickHouseConfig = writer.clickhouse!;
        // one client per server, database and user, shared by the groups
        const key = `clickhouse:${connection.cloud ? 's' : ''}${connection.host}:${connection.port}/${connection.database}/${connection.username}`;
        if (!alertSinks.has(key)) {
          // a few rows per request: a short timeout, so an unreachable server costs little at shutdown
          const alertStore = new ClickHouseStore({ connection, runId: options.runId, engineId: clickhouse.engineId, requestTimeoutMs: 10_000 });
          alertSinks.set(key, { sink: alertStore, start: () => alertStore.start(), stop: () => alertStore.stop() });
        }
        // Snapshots wait in a local spool while the server is unreachable (also at start), one
        // spool folder per engine so engines sharing a disk never send each other's snapshots.
        return shared(
          key,
          () =>
            new SpoolingWriter(new ClickHouseStore({ connection, runId: options.runId, engineId: clickhouse.engineId }), {
              directory: join(connection.spoolPath, safeFolderName(clickhouse.engineId)),
              runId: options.runId,
              maxBytes: connection.spoolMaxBytes,
            }),
        );
      }
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
  // --store given but the config has no duckdb writer: still store, snapshotting once per period
  // (and at the end).
  if (options.store != null && storePath === undefined) {
    const store = writerFor({ type: 'duckdb', enabled: true, snapshotIntervalMs: config.aggregator.periodMs, path: options.store });
    if (store !== undefined) for (const group of groups) (group.writers as ScheduledWriter[]).push({ writer: store, intervalMs: config.aggregator.periodMs });
  }
  return { groups, writers: [...new Set(groups.flatMap((g) => g.writers.map((w) => w.writer)))], storePath, alertSinks: [...alertSinks.values()] };
}

/**
 * Start every writer (and anything else, e.g. the engine) side by side. Every start is settled
 * before a failure is thrown, and what did start is stopped again, so nothing is left running.
 * Returns the started writers.
 */
export async function startAll(writers: readonly SnapshotWriter[], alsoStart: readonly Promise<void>[] = []): Promise<SnapshotWriter[]> {
  const started: SnapshotWriter[] = [];
  const starts = await Promise.allSettled([
    ...alsoStart,
    ...writers.map(async (writer) => {
      await writer.start();
      started.push(writer);
    }),
  ]);
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await stopAll(started);
    throw failed.reason;
  }
  return started;
}

/** Stop writers one after the other; the first failure is thrown after every writer was asked to stop. */
export async function stopAll(writers: readonly SnapshotWriter[]): Promise<void> {
  let first: Error | undefined;
  for (const writer of writers) {
    try {
      await writer.stop();
    } catch (error) {
      first ??= error instanceof Error ? error : new Error(errorMessage(error));
    }
  }
  if (first !== undefined) throw first;
}

/** An engine id as one folder name: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
function safeFolderName(id: string): string {
  const name = id.replace(/[^A-Za-z0-9._-]/g, '_');
  return name === '' || name === '.' || name === '..' ? '_' : name;
}

/**
 * Every distinct writer of a set wrapped once in an InstrumentedWriter (whichever groups share
 * it), and the groups pointing at the wrapped ones: what a long-running command measures for
 * /metrics and /healthz. `log` gets one line when a writer starts failing and when it recovers.
 */
export function measureWriters(set: Pick<WriterSet, 'groups' | 'writers'>, log: (line: string) => void): { writers: InstrumentedWriter[]; groups: TaskGroup[] } {
  const measured = new Map<SnapshotWriter, InstrumentedWriter>();
  for (const writer of set.writers) {
    measured.set(
      writer,
      new InstrumentedWriter(writer, {
        onFailing: (w, error) => log(`writer ${w.description} failed: ${errorMessage(error)} (retried at the next snapshot)`),
        onRecovered: (w) => log(`writer ${w.description} writes again`),
      }),
    );
  }
  return {
    writers: [...measured.values()],
    groups: set.groups.map((group) => ({ ...group, writers: group.writers.map((w) => ({ ...w, writer: measured.get(w.writer)! })) })),
  };
}

/** The AI service that explains firing alerts, when `alerter.ai_analysis` is on and something will be notified; the alerter falls back to the built-in analyst. */
export function configuredAnalyst(config: NetSpectraConfig, notifierCount: number): { analyst?: AlertAnalyst } {
  return config.alerter.aiAnalysis.enabled && notifierCount > 0 ? { analyst: new RemoteAnalyst({ serviceAddr: config.alerter.aiAnalysis.serviceAddr, authToken: config.ai.authToken }) } : {};
}

/** Why a process's writers make it not ready: one not started (unless the process is stopping), or its last write failed. */
export function writerHealthReasons(writers: readonly InstrumentedWriter[], stopping: boolean): string[] {
  const reasons: string[] = [];
  for (const writer of writers) {
    const m = writer.measurements;
    if (!m.started && !stopping) reasons.push(`writer ${m.description} is not started`);
    else if (m.lastError !== undefined) reasons.push(`writer ${m.description}: last write failed: ${m.lastError}`);
  }
  return reasons;
}
