/**
 * The embedded store (default writer): a DuckDB file (schema in duckdb-schema.ts).
 *
 * Snapshots go into `flow_metrics_raw` column-wise: every numeric column is filled in a typed array
 * and copied into its DuckDB vector with one call per 2,048-row chunk; the only per-row strings are
 * IPv6 addresses. Only flows that changed since this store's previous snapshot of the same task
 * and period are written: the newest row per flow (what every query takes) is still the flow's
 * cumulative state at any snapshot time, and a long capture writes each quiet flow once.
 */
import duckdb from '@duckdb/node-bindings';
import { DuckDBDataChunk, DuckDBInstance, DuckDBTimestampValue, BIGINT, INTEGER, UBIGINT, USMALLINT, UTINYINT, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { AlertRecord, AlertSink } from '../model/alert.js';
import type { RunPeriod, SnapshotWriter } from '../model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot, SketchEntry, SketchSnapshot, Timestamp } from '../model/snapshot.js';
import { KeySpec } from '../model/flow-key.js';
import { nanosWords, uint64Words } from './int64-words.js';
import { HEAVY_HITTER_TYPE, SCHEMA_STATEMENTS, SCHEMA_VERSION, STORE_TABLES } from './duckdb-schema.js';
import { ALERT_COLUMNS, alertRow } from './alert-rows.js';
import { TaskSegmentCounters, type SnapshotDeltas } from './segment-counters.js';

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
// flow_metrics_raw, in column order
const RAW_TYPES: DuckDBType[] = [INTEGER, UTINYINT, UBIGINT, UBIGINT, UBIGINT, UBIGINT, USMALLINT, USMALLINT, UTINYINT, BIGINT, BIGINT, UBIGINT, UBIGINT, UBIGINT, UBIGINT];
const COL = { snapshotId: 0, family: 1, srcHi: 2, srcLo: 3, dstHi: 4, dstLo: 5, srcPort: 6, dstPort: 7, protocol: 8, startNs: 9, endNs: 10, bytes: 11, packets: 12, deltaBytes: 13, deltaPackets: 14 } as const;

/**
 * A chunk column filled in a byte array and copied into the DuckDB vector in one call. Integers
 * are written little-endian from doubles: exact for every value used here (counters below 2^53,
 * nanosecond times split into exact limbs by `setNanos`), so no BigInt per row.
 */
class NumericColumn {
  readonly bytes: Uint8Array;
  readonly words: Uint32Array;
  constructor(readonly elementBytes: number) {
    this.bytes = new Uint8Array(CHUNK_ROWS * elementBytes);
    this.words = new Uint32Array(this.bytes.buffer);
  }
  /** An unsigned integer below 2^53 as a 64-bit value. */
  set64(row: number, value: number): void {
    uint64Words(value, this.words, row * 2);
  }
  /** Two 32-bit words as one 64-bit value (high word first, as an address half). */
  setHalves(row: number, high: number, low: number): void {
    this.words[row * 2] = low;
    this.words[row * 2 + 1] = high;
  }
  /** `seconds * 1e9 + nanos` as an exact int64. */
  setNanos(row: number, seconds: number, nanos: number): void {
    nanosWords(seconds, nanos, this.words, row * 2);
  }
  set16(row: number, value: number): void {
    this.bytes[row * 2] = value & 0xff;
    this.bytes[row * 2 + 1] = value >>> 8;
  }
  set32(row: number, value: number): void {
    this.words[row] = value;
  }
  set8(row: number, value: number): void {
    this.bytes[row] = value;
  }
  copyInto(chunk: DuckDBDataChunk, column: number, rows: number): void {
    duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(chunk.chunk, column), 0, this.bytes.buffer as ArrayBuffer, 0, rows * this.elementBytes);
  }
}

/** Validity bits of a chunk column (bit set = not NULL), copied into the vector in one call; all clear = all NULL. */
class Validity {
  readonly bytes = new Uint8Array((CHUNK_ROWS / 64) * 8);
  copyInto(chunk: DuckDBDataChunk, column: number, rows: number): void {
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, this.bytes.buffer, 0, Math.ceil(rows / 64) * 8);
  }
}

const ALL_NULL = new Validity();

/** Microseconds since the epoch (TIMESTAMP's unit): exact below 2^53 µs, i.e. until year 2255. */
function micros(time: Timestamp): bigint {
  return BigInt(time.seconds * 1e6 + Math.floor(time.nanos / 1000));
}

function nanosBig(time: Timestamp): bigint {
  return BigInt(time.seconds) * 1_000_000_000n + BigInt(time.nanos);
}

export class DuckDbStore implements SnapshotWriter, AlertSink {
  readonly description: string;
  /** Only flows changed since the previous snapshot of a task are written (see #appendFlows). */
  readonly acceptsDeltas = true;
  readonly #options: DuckDbStoreOptions;
  #instance: DuckDBInstance | undefined;
  #connection: DuckDBConnection | undefined;
  #runNo = 0;
  #nextSnapshotId = 1;
  readonly #taskIds = new Map<string, number>();
  /** Per task: the period and epoch of the last snapshot stored (see FlowColumns.changedEpoch). */
  readonly #written = new Map<string, { periodId: number; epoch: number }>();
  /** Per task, every flow's counters as last stored in this period: each row's growth (segment-counters.ts). */
  readonly #counters = new TaskSegmentCounters();

  constructor(options: DuckDbStoreOptions) {
    this.#options = options;
    this.description = `duckdb:${options.path}`;
  }

  async start(): Promise<void> {
    try {
      // One DuckDB thread: the store shares the machine with the engine, and appends are serial anyway.
      this.#instance = await DuckDBInstance.create(this.#options.path, { threads: '1' });
      this.#connection = await this.#instance.connect();
      await checkLayout(this.#connection, this.#options.path);
      for (const statement of SCHEMA_STATEMENTS) await this.#connection.run(statement);
      await checkAlertColumns(this.#connection, this.#options.path);
      const next = (await this.#connection.runAndReadAll('SELECT (SELECT coalesce(max(RunNo), 0) + 1 FROM runs), (SELECT coalesce(max(SnapshotId), 0) + 1 FROM snapshots)')).getRowsJS();
      this.#runNo = Number(next[0]![0]);
      this.#nextSnapshotId = Number(next[0]![1]);
      // a run resumed after a crash (a JetStream engine, docs/pipeline.md) goes on under its RunNo
      const known = await this.#connection.prepare('SELECT RunNo FROM runs WHERE RunId = $1');
      known.bindVarchar(1, this.#options.runId);
      const resumed = (await known.runAndReadAll()).getRowsJS()[0]?.[0];
      if (resumed !== undefined) {
        this.#runNo = Number(resumed);
      } else {
        const insert = await this.#connection.prepare('INSERT INTO runs VALUES ($1, $2, make_timestamp($3::BIGINT), $4, $5)');
        insert.bindInteger(1, this.#runNo);
        insert.bindVarchar(2, this.#options.runId);
        insert.bindBigInt(3, BigInt(Date.now()) * 1000n);
        insert.bindVarchar(4, this.#options.inputs.join('\n'));
        insert.bindVarchar(5, this.#options.tool);
        await insert.run();
      }
      for (const row of (await this.#connection.runAndReadAll('SELECT TaskId, TaskName FROM tasks')).getRowObjectsJson()) {
        this.#taskIds.set(row.TaskName as string, Number(row.TaskId));
      }
    } catch (error) {
      await this.stop();
      if (error instanceof NetSpectraError) throw error;
      throw new NetSpectraError('NS_ERR_STORE_OPEN', `cannot open the embedded store ${this.#options.path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** The open connection, for queries (reports, tests, the query plane). */
  get connection(): DuckDBConnection {
    if (this.#connection === undefined) throw new NetSpectraError('NS_ERR_STORE_OPEN', `the embedded store ${this.#options.path} is not open`);
    return this.#connection;
  }

  /**
   * Another connection to the same open database, for readers in this process. A second DuckDB
   * instance on the file would not see later writes, and another process cannot open it at all
   * (DuckDB's file lock): `netspectra serve` queries through connections from here. The caller
   * closes it before `stop()`.
   */
  async connect(): Promise<DuckDBConnection> {
    if (this.#instance === undefined) throw new NetSpectraError('NS_ERR_STORE_OPEN', `the embedded store ${this.#options.path} is not open`);
    return this.#instance.connect();
  }

  async write(snapshot: GroupSnapshot): Promise<void> {
    const connection = this.connection;
    try {
      for (const task of snapshot.tasks) {
        if (task.kind === 'exact') await this.#appendFlows(connection, snapshot, task);
        else await this.#appendSketch(connection, snapshot, task);
      }
    } catch (error) {
      throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot write a snapshot to ${this.#options.path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * Alert notices into `alerts`, one row each. Apart from write(): snapshots never wait for it,
   * and its appender never touches the flow tables.
   */
  async writeAlerts(records: readonly AlertRecord[]): Promise<void> {
    const connection = this.connection;
    if (records.length === 0) return;
    try {
      const appender = await connection.createAppender('alerts');
      try {
        for (const record of records) {
          const row = alertRow(record);
          appender.appendTimestamp(new DuckDBTimestampValue(record.atNs / 1000n));
          appender.appendBigInt(record.atNs);
          for (const column of ['Kind', 'AlertId', 'Rule', 'TaskName', 'TaskKind', 'Metric', 'Operator'] as const) appender.appendVarchar(String(row[column]));
          appender.appendDouble(record.threshold);
          for (const column of ['FlowText', 'Flow', 'FlowFields', 'ElementFields'] as const) appender.appendVarchar(String(row[column]));
          appender.appendDouble(record.value);
          appender.appendBigInt(record.sinceNs);
          if (record.firedAtNs === undefined) appender.appendNull();
          else appender.appendBigInt(record.firedAtNs);
          for (const column of ['Evidence', 'RunId', 'EngineId', 'Source'] as const) appender.appendVarchar(String(row[column]));
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
    } catch (error) {
      throw new NetSpectraError('NS_ERR_ALERT_STORE', `cannot write ${records.length} alert notice(s) to ${this.#options.path}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * Remove the rows `runId` wrote from period `periodId` on, before a resumed JetStream engine
   * replays those periods into the same run (the same RunNo, see start()): rows
   * carry their growth, so the crashed process's rows and the replay's would both be counted.
   * The next snapshot of every task then starts its segment afresh.
   */
  async forgetFrom(from: RunPeriod): Promise<void> {
    const connection = this.connection;
    try {
      const doomed = 'SELECT s.SnapshotId FROM snapshots s JOIN runs u ON u.RunNo = s.RunNo WHERE u.RunId = $1 AND s.PeriodId >= $2';
      for (const statement of [`DELETE FROM flow_metrics_raw WHERE SnapshotId IN (${doomed})`, `DELETE FROM snapshots WHERE SnapshotId IN (${doomed})`, 'DELETE FROM heavy_hitters WHERE RunId = $1 AND PeriodId >= $2']) {
        const prepared = await connection.prepare(statement);
        prepared.bindVarchar(1, from.runId);
        prepared.bindBigInt(2, BigInt(from.periodId));
        await prepared.run();
      }
    } catch (error) {
      throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot remove run ${from.runId}'s rows from period ${from.periodId} on in ${this.#options.path}: ${errorMessage(error)}`, { cause: error });
    }
    this.#written.clear();
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

  async #taskId(connection: DuckDBConnection, task: ExactTaskSnapshot): Promise<number> {
    const known = this.#taskIds.get(task.name);
    if (known !== undefined) return known;
    const id = this.#taskIds.size === 0 ? 1 : Math.max(...this.#taskIds.values()) + 1;
    const insert = await connection.prepare('INSERT INTO tasks VALUES ($1, $2, $3, $4)');
    insert.bindUSmallInt(1, id);
    insert.bindVarchar(2, task.name);
    insert.bindVarchar(3, task.kind);
    insert.bindVarchar(4, task.keyFields.join(','));
    await insert.run();
    this.#taskIds.set(task.name, id);
    return id;
  }

  async #appendFlows(connection: DuckDBConnection, snapshot: GroupSnapshot, task: ExactTaskSnapshot): Promise<void> {
    const flows = task.flows;
    const previous = this.#written.get(task.name);
    this.#written.set(task.name, { periodId: snapshot.periodId, epoch: flows.epoch });
    // Everything on a new period (or the first snapshot); else only what changed since the last one.
    // epochs only grow within a run: a smaller or equal one is another run's snapshot, written whole
    const since = previous === undefined || previous.periodId !== snapshot.periodId || flows.epoch <= previous.epoch ? -1 : previous.epoch;
    const counters = this.#counters.of(task.name, flows.keyWords, since === -1);
    if (flows.count === 0) return;
    const spec = new KeySpec(task.keyFields);
    const kw = flows.keyWords;
    const deltas = counters.deltas(flows, since);
    const snapshotId = await this.#snapshotRow(connection, snapshot, await this.#taskId(connection, task), deltas);
    const columns = {
      snapshotId: new NumericColumn(4),
      family: new NumericColumn(1),
      srcHi: new NumericColumn(8),
      srcLo: new NumericColumn(8),
      dstHi: new NumericColumn(8),
      dstLo: new NumericColumn(8),
      srcPort: new NumericColumn(2),
      dstPort: new NumericColumn(2),
      protocol: new NumericColumn(1),
      startNs: new NumericColumn(8),
      endNs: new NumericColumn(8),
      bytes: new NumericColumn(8),
      packets: new NumericColumn(8),
      deltaBytes: new NumericColumn(8),
      deltaPackets: new NumericColumn(8),
    };
    for (let row = 0; row < CHUNK_ROWS; row++) columns.snapshotId.set32(row, snapshotId);
    const appender = await connection.createAppender('flow_metrics_raw');
    try {
      let f = 0;
      while (f < flows.count) {
        const chunk = DuckDBDataChunk.create(RAW_TYPES, CHUNK_ROWS);
        let rows = 0;
        for (; f < flows.count && rows < CHUNK_ROWS; f++) {
          if (flows.changedEpoch[f]! <= since) continue;
          const at = f * kw;
          const meta = flows.keys[at + spec.metaAt]!;
          columns.family.set8(rows, (meta >>> 8) & 0xff);
          if (spec.hasSrcIP) {
            columns.srcHi.setHalves(rows, flows.keys[at]!, flows.keys[at + 1]!);
            columns.srcLo.setHalves(rows, flows.keys[at + 2]!, flows.keys[at + 3]!);
          }
          if (spec.hasDstIP) {
            const d = at + spec.dstAt;
            columns.dstHi.setHalves(rows, flows.keys[d]!, flows.keys[d + 1]!);
            columns.dstLo.setHalves(rows, flows.keys[d + 2]!, flows.keys[d + 3]!);
          }
          const ports = flows.keys[at + spec.portsAt]! >>> 0;
          columns.srcPort.set16(rows, ports >>> 16);
          columns.dstPort.set16(rows, ports & 0xffff);
          columns.protocol.set8(rows, meta & 0xff);
          columns.startNs.setNanos(rows, flows.firstSeconds[f]!, flows.firstNanos[f]!);
          columns.endNs.setNanos(rows, flows.lastSeconds[f]!, flows.lastNanos[f]!);
          columns.bytes.set64(rows, flows.bytes[f]!);
          columns.packets.set64(rows, flows.packets[f]!);
          columns.deltaBytes.set64(rows, deltas.bytes[f]!);
          columns.deltaPackets.set64(rows, deltas.packets[f]!);
          rows++;
        }
        if (rows === 0) break;
        chunk.rowCount = rows;
        for (const [name, column] of Object.entries(columns)) column.copyInto(chunk, COL[name as keyof typeof COL], rows);
        if (!spec.hasSrcIP) {
          ALL_NULL.copyInto(chunk, COL.srcHi, rows);
          ALL_NULL.copyInto(chunk, COL.srcLo, rows);
        }
        if (!spec.hasDstIP) {
          ALL_NULL.copyInto(chunk, COL.dstHi, rows);
          ALL_NULL.copyInto(chunk, COL.dstLo, rows);
        }
        if (!spec.hasSrcPort) ALL_NULL.copyInto(chunk, COL.srcPort, rows);
        if (!spec.hasDstPort) ALL_NULL.copyInto(chunk, COL.dstPort, rows);
        if (!spec.hasProtocol) ALL_NULL.copyInto(chunk, COL.protocol, rows);
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    counters.commit(flows, deltas);
  }

  /** The `snapshots` row every flow row of this task's snapshot points to, with the rows' growth summed. */
  async #snapshotRow(connection: DuckDBConnection, snapshot: GroupSnapshot, taskId: number, deltas: SnapshotDeltas): Promise<number> {
    const id = this.#nextSnapshotId++;
    const insert = await connection.prepare('INSERT INTO snapshots VALUES ($1, $2, $3, $4, $5, $6, $7, $8)');
    insert.bindInteger(1, id);
    insert.bindInteger(2, this.#runNo);
    insert.bindUSmallInt(3, taskId);
    insert.bindBigInt(4, nanosBig(snapshot.time));
    insert.bindBigInt(5, BigInt(snapshot.periodId));
    insert.bindUBigInt(6, BigInt(deltas.totalBytes));
    insert.bindUBigInt(7, BigInt(deltas.totalPackets));
    insert.bindUBigInt(8, BigInt(deltas.growing));
    await insert.run();
    return id;
  }

  async #appendSketch(connection: DuckDBConnection, snapshot: GroupSnapshot, task: SketchSnapshot): Promise<void> {
    const lists: [SketchEntry[], number][] =
      task.kind === 'heavy_hitter'
        ? [
            [task.byCount, HEAVY_HITTER_TYPE.count],
            [task.bySize, HEAVY_HITTER_TYPE.size],
          ]
        : [[task.spreaders, HEAVY_HITTER_TYPE.spread]];
    const appender = await connection.createAppender('heavy_hitters');
    try {
      const timestamp = new DuckDBTimestampValue(micros(snapshot.time));
      const timestampNs = nanosBig(snapshot.time);
      for (const [entries, type] of lists) {
        for (const entry of entries) {
          appender.appendTimestamp(timestamp);
          appender.appendVarchar(task.name);
          appender.appendVarchar(entry.flowText);
          appender.appendUBigInt(BigInt(Math.round(entry.value)));
          appender.appendUTinyInt(type);
          appender.appendBigInt(timestampNs);
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

/**
 * Refuse a file that holds NetSpectra tables in another layout (written by another version), or
 * whose layout version is newer or older than ours: appending would fail row by row or, worse,
 * put values in the wrong columns.
 */
async function checkLayout(connection: DuckDBConnection, path: string): Promise<void> {
  const tables = new Set(
    (await connection.runAndReadAll("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")).getRowsJS().map((row) => row[0] as string),
  );
  const ours = STORE_TABLES.filter((name) => tables.has(name));
  let version: number | undefined;
  if (tables.has('netspectra_schema')) {
    const rows = (await connection.runAndReadAll('SELECT max(Version) FROM netspectra_schema')).getRowsJS();
    version = rows[0]?.[0] == null ? undefined : Number(rows[0][0]);
  }
  if (version === undefined && ours.length === 0) {
    await connection.run('CREATE TABLE IF NOT EXISTS netspectra_schema (Version INTEGER NOT NULL)');
    await connection.run(`INSERT INTO netspectra_schema VALUES (${SCHEMA_VERSION})`);
    return;
  }
  if (version !== SCHEMA_VERSION) {
    throw new NetSpectraError(
      'NS_ERR_STORE_SCHEMA',
      `the embedded store ${path} was written with store layout ${version ?? 1} and this NetSpectra writes layout ${SCHEMA_VERSION}; ` +
        'give another file with --store (or the duckdb writer\'s path), or move this one away',
    );
  }
}

/**
 * The `alerts` table was added within layout 2 (CREATE TABLE IF NOT EXISTS); a file whose `alerts`
 * has other columns (someone else's table of that name) is refused rather than appended to.
 */
async function checkAlertColumns(connection: DuckDBConnection, path: string): Promise<void> {
  const columns = (await connection.runAndReadAll("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'alerts' ORDER BY ordinal_position"))
    .getRowsJS()
    .map((row) => row[0] as string);
  if (columns.join(',') !== ALERT_COLUMNS.join(',')) {
    throw new NetSpectraError(
      'NS_ERR_STORE_SCHEMA',
      `the embedded store ${path} has an alerts table with the columns (${columns.join(', ')}), not NetSpectra's (${ALERT_COLUMNS.join(', ')}); give another file with --store, or move this one away`,
    );
  }
}

