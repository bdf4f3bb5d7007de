/**
 * Stores every alert notice (firing, repeat, resolved) in the configured alert stores: the
 * alerter's `onNotices` hands it each evaluation's state changes; it turns them into AlertRecords
 * and writes them to every AlertSink (the embedded store's writer thread, ClickHouse).
 *
 * Detection never waits for it: `record()` returns at once. Writes to one sink keep their order
 * (a `resolved` is never stored before its `firing`); a failing sink is reported
 * (NS_ERR_ALERT_STORE, once per failure) and does not hold up the others. A sink with a `start`
 * is started at its first write, and again at a later write once `retryStartMs` passed after a
 * failed start (a ClickHouse that is down when the engine starts; the writes in between fail at
 * once rather than each waiting for a connection timeout). Call `stop()` (bounded) before the
 * sinks' owners close them.
 */
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { AlertRecord, AlertSink } from '../model/alert.js';
import type { Timestamp } from '../model/snapshot.js';
import type { AlertNotice } from './alert-lifecycle.js';

/** A sink, and for one this recorder owns, how to open and close it. */
export interface RecordedAlertSink {
  sink: AlertSink;
  /** Called before the first write (again after it failed); undefined: opened by its owner. */
  start?: () => Promise<void>;
  /** Called by `stop()` once the writes are done, when `start` was. */
  stop?: () => Promise<void>;
}

export interface AlertRecorderOptions {
  sinks: readonly RecordedAlertSink[];
  /** RunId of the process's rows, so notices can be told apart from another run's. */
  runId: string;
  engineId: string;
  /** The command whose alerter this is (`analyze`, `engine`). */
  source: string;
  onWarning?: (message: string) => void;
  /** After a failed start, writes fail at once for this long before the sink is started again (ms). @default 10000 */
  retryStartMs?: number;
}

const nanosOf = (time: Timestamp): bigint => BigInt(time.seconds) * 1_000_000_000n + BigInt(time.nanos);

/** One notice as it is stored. */
export function alertRecord(notice: AlertNotice, context: Pick<AlertRecord, 'runId' | 'engineId' | 'source'>): AlertRecord {
  const { alert } = notice;
  return {
    atNs: nanosOf(alert.at),
    kind: notice.kind,
    id: alert.id,
    rule: alert.rule,
    taskName: alert.taskName,
    taskKind: alert.taskKind,
    metric: alert.metric,
    operator: alert.operator,
    threshold: alert.threshold,
    flowText: alert.flowText,
    flow: alert.flow,
    flowFields: [...alert.flowFields],
    elementFields: [...(alert.elementFields ?? [])],
    value: alert.value,
    sinceNs: nanosOf(alert.since),
    firedAtNs: alert.firedAt === undefined ? undefined : nanosOf(alert.firedAt),
    evidence: alert.evidence,
    runId: context.runId,
    engineId: context.engineId,
    source: context.source,
  };
}

interface SinkState {
  readonly entry: RecordedAlertSink;
  started: boolean;
  queue: Promise<void>;
  /** After a failed start: not before this time (Date.now()), and why. */
  retryAt: number;
  startError: string;
}

export interface AlertRecorderStats {
  /** Notices written, summed over the sinks. */
  written: number;
  /** Writes (one per evaluation and sink) that failed. */
  failed: number;
}

export class AlertRecorder {
  readonly #options: AlertRecorderOptions;
  readonly #sinks: SinkState[];
  readonly #stats: AlertRecorderStats = { written: 0, failed: 0 };

  constructor(options: AlertRecorderOptions) {
    this.#options = options;
    this.#sinks = options.sinks.map((entry) => ({ entry, started: entry.start === undefined, queue: Promise.resolve(), retryAt: 0, startError: '' }));
  }

  get sinkCount(): number {
    return this.#sinks.length;
  }

  stats(): AlertRecorderStats {
    return { ...this.#stats };
  }

  /** The alerter's `onNotices`: queue the notices for every sink and return at once. */
  record(notices: readonly AlertNotice[]): void {
    if (notices.length === 0 || this.#sinks.length === 0) return;
    const { runId, engineId, source } = this.#options;
    const records = notices.map((notice) => alertRecord(notice, { runId, engineId, source }));
    for (const state of this.#sinks) state.queue = state.queue.then(() => this.#write(state, records));
  }

  /** Wait for every queued write (each settles: failures were reported). */
  async drain(): Promise<void> {
    await Promise.all(this.#sinks.map((state) => state.queue));
  }

  /**
   * Drain (at most `timeoutMs`: a store that hangs must not hold up a shutdown; what is still
   * queued then is lost, with a warning), then close the sinks this recorder opened.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([this.drain().then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
    clearTimeout(timer);
    if (!drained) this.#options.onWarning?.(`NS_ERR_ALERT_STORE: alert notices still being written after ${timeoutMs} ms at shutdown were abandoned`);
    for (const state of this.#sinks) {
      if (!state.started || state.entry.start === undefined) continue;
      state.started = false;
      try {
        await state.entry.stop?.();
      } catch {
        // closing a client that already failed: nothing left to lose
      }
    }
  }

  async #write(state: SinkState, records: readonly AlertRecord[]): Promise<void> {
    const { sink, start } = state.entry;
    try {
      if (!state.started && start !== undefined) {
        if (Date.now() < state.retryAt) throw new Error(`${state.startError} (not retried before ${new Date(state.retryAt).toISOString()})`);
        try {
          await start();
          state.started = true;
        } catch (error) {
          state.retryAt = Date.now() + (this.#options.retryStartMs ?? 10_000);
          state.startError = error instanceof NetSpectraError ? error.toDisplayString() : errorMessage(error);
          throw error;
        }
      }
      await sink.writeAlerts(records);
      this.#stats.written += records.length;
    } catch (error) {
      this.#stats.failed++;
      const message = errorMessage(error);
      const reported =
        error instanceof NetSpectraError && error.code === 'NS_ERR_ALERT_STORE'
          ? error
          : new NetSpectraError('NS_ERR_ALERT_STORE', `cannot write ${records.length} alert notice(s) to ${sink.description}: ${error instanceof NetSpectraError ? error.toDisplayString() : message}`, { cause: error });
      this.#options.onWarning?.(reported.toDisplayString());
    }
  }
}
