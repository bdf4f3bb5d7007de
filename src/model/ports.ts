/**
 * The ports between the core and its adapters. The engine produces GroupSnapshots; writers
 * (embedded store, ClickHouse, files) consume them.
 */
import type { GroupSnapshot } from './snapshot.js';

export interface SnapshotWriter {
  /** For messages, e.g. `duckdb:netspectra.duckdb`. */
  readonly description: string;
  start(): Promise<void>;
  write(snapshot: GroupSnapshot): Promise<void>;
  stop(): Promise<void>;
}
