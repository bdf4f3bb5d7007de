/**
 * The embedded store (default writer): a DuckDB file holding `flow_metrics` and `heavy_hitters`
 * (see duckdb-schema.ts). Snapshots are appended column-wise: numeric columns are filled in typed
 * arrays and copied into DuckDB vectors in one call per column and chunk, so a snapshot of a
 * million flows costs a few string conversions per row and no per-value JS→DuckDB value objects.
 */
import duckdb from '@duckdb/node-bindings';
import {
  BIGINT,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTimestampValue,
  TIMESTAMP,
  UBIGINT,
  USMALLINT,
  UTINYINT,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import { NetSpectraError } from '../model/errors.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot, SketchEntry, SketchSnapshot, Timestamp } from '../model/snapshot.js';
import { KeySpec } from '../engine/flow-key.js';
import { HEAVY_HITTER_TYPE, SCHEMA_STATEMENTS } from './duckdb-schema.js';

export interface DuckDbStoreOptions {
  /** Database file; `:memory:` for a throw-away store. */
  path: string;
  /** Identifies this run's rows (RunId column). */
  runId: string;
  /** What was analysed (file names or interface), recorded in `runs`. */
  inputs: readonly string[];
  /** Which command wrote the run, e.g. `analyze`. */
  tool: string;
}

const CHUNK_ROWS = 2048;
const FLOW_TYPES: DuckDBType[] = [TIMESTAMP, VARCHAR, VARCHAR, VARCHAR, USMALLINT, USMALLINT, UTINYINT, TIMESTAMP, TIMESTAMP, UBIGINT, UBIGINT, BIGINT, BIGINT, BIGINT, BIGINT, VARCHAR];

/** Microseconds since the epoch (TIMESTAMP's unit) — exact below 2^53 µs, i.e. until year 2255. */
function micros(seconds: number, nanos: number): number {
  return seconds * 1e6 + Math.floor(nanos / 1000);
}

function nanosBig(seconds: number, nanos: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

/** A chunk's column being filled: a typed array copied into the vector when the chunk is full. */
class NumericColumn {
  readonly bytes: Uint8Array;
  constructor(readonly elementBytes: number) {
    this.bytes = new Uint8Array(CHUNK_ROWS * elementBytes);
  }
  /** Little-endian int64 from a float holding an integer below 2^53. */
  setInt64(row: number, value: number): void {
    const at = row * 8;
    const low = value % 4294967296;
    const high = (value - low) / 4294967296;
    const b = this.bytes;
    b[at] = low & 0xff;
    b[at + 1] = (low >>> 8) & 0xff;
    b[at + 2] = (low >>> 16) & 0xff;
    b[at + 3] = (low >>> 24) & 0xff;
    b[at + 4] = high & 0xff;
    b[at + 5] = (high >>> 8) & 0xff;
    b[at + 6] = (high >>> 16) & 0xff;
    b[at + 7] = (high >>> 24) & 0xff;
  }
  setBigInt64(row: number, value: bigint): void {
    new DataView(this.bytes.buffer).setBigInt64(row * 8, value, true);
  }
  setUint16(row: number, value: number): void {
    this.bytes[row * 2] = value & 0xff;
    this.bytes[row * 2 + 1] = value >>> 8;
  }
  setUint8(row: number, value: number): void {
    this.bytes[row] = value;
  }
  copyInto(chunk: DuckDBDataChunk, column: number, rows: number): void {
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    duckdb.copy_data_to_vector(vector, 0, this.bytes.buffer as ArrayBuffer, 0, rows * this.elementBytes);
  }
}

function setNull(chunk: DuckDBDataChunk, column: number, rows: number): void {
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  duckdb.vector_ensure_validity_writable(vector);
  const mask = new Uint8Array(Math.ceil(rows / 64) * 8);
  duckdb.copy_data_to_vector_validity(vector, 0, mask.buffer, 0, mask.byteLength);
}

function setString(chunk: DuckDBDataChunk, column: number, row: number, value: string): void {
  duckdb.vector_assign_string_element(duckdb.data_chunk_get_vector(chunk.chunk, column), row, value);
}

export class DuckDbStore implements SnapshotWriter {
  readonly description: string;
  readonly #options: DuckDbStoreOptions;
  #instance: DuckDBInstance | undefined;
  #connection: DuckDBConnection | undefined;

  constructor(options: DuckDbStoreOptions) {
    this.#options = options;
    this.description = `duckdb:${options.path}`;
  }

  async start(): Promise<void> {
    try {
      this.#instance = await DuckDBInstance.create(this.#options.path);
      this.#connection = await this.#instance.connect();
      for (const statement of SCHEMA_STATEMENTS) await this.#connection.run(statement);
      const started = new Date();
      const prepared = await this.#connection.prepare('INSERT INTO runs VALUES ($1, make_timestamp($2::BIGINT), $3, $4)');
      prepared.bindVarchar(1, this.#options.runId);
      prepared.bindBigInt(2, BigInt(started.getTime()) * 1000n);
      prepared.bindVarchar(3, this.#options.inputs.join('\n'));
      prepared.bindVarchar(4, this.#options.tool);
      await prepared.run();
    } catch (error) {
      await this.stop();
      throw new NetSpectraError('NS_ERR_STORE_OPEN', `cannot open the embedded store ${this.#options.path}: ${messageOf(error)}`, { cause: error });
    }
  }

  /** The open connection, for queries (reports, tests, the query plane). */
  get connection(): DuckDBConnection {
    if (this.#connection === undefined) throw new NetSpectraError('NS_ERR_STORE_OPEN', `the embedded store ${this.#options.path} is not open`);
    return this.#connection;
  }

  async write(snapshot: GroupSnapshot): Promise<void> {
    const connection = this.connection;
    try {
      for (const task of snapshot.tasks) {
        if (task.kind === 'exact') await this.#appendFlows(connection, snapshot, task);
        else await this.#appendSketch(connection, snapshot, task);
      }
    } catch (error) {
      throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot write a snapshot to ${this.#options.path}: ${messageOf(error)}`, { cause: error });
    }
  }

  async stop(): Promise<void> {
    this.#connection?.closeSync();
    this.#connection = undefined;
    this.#instance?.closeSync();
    this.#instance = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #appendFlows(connection: DuckDBConnection, snapshot: GroupSnapshot, task: ExactTaskSnapshot): Promise<void> {
    const flows = task.flows;
    if (flows.count === 0) return;
    const spec = new KeySpec(task.keyFields);
    const appender = await connection.createAppender('flow_metrics');
    const snapshotMicros = micros(snapshot.time.seconds, snapshot.time.nanos);
    const snapshotNanos = nanosBig(snapshot.time.seconds, snapshot.time.nanos);
    const timestamp = new NumericColumn(8);
    const srcPort = new NumericColumn(2);
    const dstPort = new NumericColumn(2);
    const protocol = new NumericColumn(1);
    const start = new NumericColumn(8);
    const end = new NumericColumn(8);
    const byteCount = new NumericColumn(8);
    const packetCount = new NumericColumn(8);
    const timestampNs = new NumericColumn(8);
    const startNs = new NumericColumn(8);
    const endNs = new NumericColumn(8);
    const periodId = new NumericColumn(8);
    for (let row = 0; row < CHUNK_ROWS; row++) {
      timestamp.setInt64(row, snapshotMicros);
      timestampNs.setBigInt64(row, snapshotNanos);
      periodId.setInt64(row, snapshot.periodId);
    }
    try {
      for (let first = 0; first < flows.count; first += CHUNK_ROWS) {
        const rows = Math.min(CHUNK_ROWS, flows.count - first);
        const chunk = DuckDBDataChunk.create(FLOW_TYPES, rows);
        for (let row = 0; row < rows; row++) {
          const f = first + row;
          const key = spec.toObject(flows.keys, f * flows.keyWords);
          setString(chunk, 1, row, task.name);
          if (key.SrcIP !== undefined) setString(chunk, 2, row, key.SrcIP);
          if (key.DstIP !== undefined) setString(chunk, 3, row, key.DstIP);
          srcPort.setUint16(row, key.SrcPort ?? 0);
          dstPort.setUint16(row, key.DstPort ?? 0);
          protocol.setUint8(row, key.Protocol ?? 0);
          start.setInt64(row, micros(flows.firstSeconds[f]!, flows.firstNanos[f]!));
          end.setInt64(row, micros(flows.lastSeconds[f]!, flows.lastNanos[f]!));
          byteCount.setInt64(row, flows.bytes[f]!);
          packetCount.setInt64(row, flows.packets[f]!);
          startNs.setBigInt64(row, nanosBig(flows.firstSeconds[f]!, flows.firstNanos[f]!));
          endNs.setBigInt64(row, nanosBig(flows.lastSeconds[f]!, flows.lastNanos[f]!));
          setString(chunk, 15, row, this.#options.runId);
        }
        timestamp.copyInto(chunk, 0, rows);
        if (!spec.hasSrcIP) setNull(chunk, 2, rows);
        if (!spec.hasDstIP) setNull(chunk, 3, rows);
        if (spec.hasSrcPort) srcPort.copyInto(chunk, 4, rows);
        else setNull(chunk, 4, rows);
        if (spec.hasDstPort) dstPort.copyInto(chunk, 5, rows);
        else setNull(chunk, 5, rows);
        if (spec.hasProtocol) protocol.copyInto(chunk, 6, rows);
        else setNull(chunk, 6, rows);
        start.copyInto(chunk, 7, rows);
        end.copyInto(chunk, 8, rows);
        byteCount.copyInto(chunk, 9, rows);
        packetCount.copyInto(chunk, 10, rows);
        timestampNs.copyInto(chunk, 11, rows);
        startNs.copyInto(chunk, 12, rows);
        endNs.copyInto(chunk, 13, rows);
        periodId.copyInto(chunk, 14, rows);
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  async #appendSketch(connection: DuckDBConnection, snapshot: GroupSnapshot, task: SketchSnapshot): Promise<void> {
    const lists: [SketchEntry[], number][] =
      task.kind === 'heavy_hitter'
        ? [
            [task.byCount, HEAVY_HITTER_TYPE.count],
            [task.bySize, HEAVY_HITTER_TYPE.size],
          ]
        : [[task.spreaders, HEAVY_HITTER_TYPE.spread]];
    const appender: DuckDBAppender = await connection.createAppender('heavy_hitters');
    try {
      const at: Timestamp = snapshot.time;
      for (const [entries, type] of lists) {
        for (const entry of entries) {
          appender.appendTimestamp(new DuckDBTimestampValue(BigInt(micros(at.seconds, at.nanos))));
          appender.appendVarchar(task.name);
          appender.appendVarchar(entry.flowText);
          appender.appendUBigInt(BigInt(Math.round(entry.value)));
          appender.appendUTinyInt(type);
          appender.appendBigInt(nanosBig(at.seconds, at.nanos));
          appender.appendBigInt(BigInt(snapshot.periodId));
          appender.appendVarchar(this.#options.runId);
          appender.endRow();
        }
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
