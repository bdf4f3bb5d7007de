/**
 * The ports between the core and its adapters. The engine produces GroupSnapshots; writers
 * (embedded store, ClickHouse, files) consume them.
 */
import type { GroupSnapshot } from './snapshot.js';

export interface SnapshotWriter {
  /** For messages, e.g. `duckdb:netspectra.duckdb`. */
  readonly description: string;
  /**
   * True when the writer stores only what changed since the previous snapshot it was given: the
   * manager may then hand it delta snapshots (FlowColumns.sinceEpoch), which saves copying every
   * flow at every interval.
   */
  readonly acceptsDeltas?: boolean;
  /** Rows written since start, for writers that count them (metrics). */
  readonly rowsWritten?: number;
  start(): Promise<void>;
  write(snapshot: GroupSnapshot): Promise<void>;
  stop(): Promise<void>;
}
