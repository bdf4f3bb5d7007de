/**
 * A SnapshotWriter wrapper that measures what the wrapped writer does, for /metrics and /healthz of
 * long-running components: writes, failures, time spent writing, rows (when the writer counts
 * them), and whether the last write succeeded. Errors pass through unchanged (the manager records
 * them); `onFailing` / `onRecovered` fire on the transitions only, so a store that is down for an
 * hour gives two log lines, not one per snapshot.
 */
import type { RunPeriod, SnapshotWriter } from '../model/ports.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import { errorMessage } from '../model/errors.js';

export interface WriterMeasurements {
  description: string;
  started: boolean;
  /** Successful writes. */
  writes: number;
  /** Failed writes. */
  failures: number;
  /** Seconds spent in write(), successful or not. */
  writeSeconds: number;
  /** Duration of the last write, seconds. */
  lastWriteSeconds: number;
  /** Rows written since start, when the writer counts them. */
  rows: number | undefined;
  /** The last write's error message; undefined when it succeeded (or none happened yet). */
  lastError: string | undefined;
}

export interface InstrumentedWriterOptions {
  /** The last write failed after succeeding (or on the first write). */
  onFailing?: (writer: SnapshotWriter, error: unknown) => void;
  /** A write succeeded after failures. */
  onRecovered?: (writer: SnapshotWriter) => void;
}

export class InstrumentedWriter implements SnapshotWriter {
  readonly description: string;
  readonly acceptsDeltas: boolean | undefined;
  readonly inner: SnapshotWriter;
  readonly #options: InstrumentedWriterOptions;
  readonly #measurements: WriterMeasurements;

  constructor(inner: SnapshotWriter, options: InstrumentedWriterOptions = {}) {
    this.inner = inner;
    this.description = inner.description;
    this.acceptsDeltas = inner.acceptsDeltas;
    this.#options = options;
    this.#measurements = { description: inner.description, started: false, writes: 0, failures: 0, writeSeconds: 0, lastWriteSeconds: 0, rows: undefined, lastError: undefined };
  }

  get rowsWritten(): number | undefined {
    return this.inner.rowsWritten;
  }

  /** A copy of the counters. */
  get measurements(): WriterMeasurements {
    return { ...this.#measurements, rows: this.inner.rowsWritten };
  }

  async start(): Promise<void> {
    await this.inner.start();
    this.#measurements.started = true;
  }

  async write(snapshot: GroupSnapshot): Promise<void> {
    const m = this.#measurements;
    const started = performance.now();
    try {
      await this.inner.write(snapshot);
      m.writes++;
      if (m.lastError !== undefined) {
        m.lastError = undefined;
        this.#options.onRecovered?.(this.inner);
      }
    } catch (error) {
      m.failures++;
      const first = m.lastError === undefined;
      m.lastError = errorMessage(error);
      if (first) this.#options.onFailing?.(this.inner, error);
      throw error;
    } finally {
      m.lastWriteSeconds = (performance.now() - started) / 1000;
      m.writeSeconds += m.lastWriteSeconds;
    }
  }

  /** Passed through (not measured: it is no snapshot write). */
  async forgetFrom(from: RunPeriod): Promise<void> {
    await this.inner.forgetFrom?.(from);
  }

  async stop(): Promise<void> {
    this.#measurements.started = false;
    await this.inner.stop();
  }
}
