/**
 * The ClickHouse writer: snapshots into the original's `flow_metrics` and `heavy_hitters` tables
 * (schema in clickhouse-schema.ts), over the HTTP interface with @clickhouse/client.
 *
 * Works with ClickHouse 18.16 (Debian's package) and newer. What 18.16 refuses, and what is used
 * instead:
 * - query parameters (`query_params`: "Unknown setting param_x") → values are bound into the SQL
 *   text by clickhouse-sql.ts;
 * - `ADD COLUMN IF NOT EXISTS` (syntax error) → system.columns is read and only missing columns
 *   are added;
 * - JSONCompactEachRow and newer formats ("Unknown format") → reads use JSONEachRow;
 * - `ping()` answers without checking credentials → start() runs `SELECT version()` instead;
 * - the client's insert() knows no RowBinary → exec() with the INSERT … FORMAT RowBinary
 *   statement and the rows as a stream (clickhouse-rows.ts).
 * Its error texts (`Code: 193, e.displayText() = DB::Exception: …`) predate the client's parser,
 * so codes are read here (see `classify`).
 *
 * Each snapshot writes, per exact task, the flows changed since this store's previous successful
 * snapshot of the task in the same period (every flow at a period's first snapshot), like the
 * DuckDB store: the newest row per flow is its cumulative state. All exact tasks of a snapshot go
 * in one INSERT, all sketch lists in another.
 *
 * For a spool that wraps `write()` (outages): the store remembers a task's snapshot only once its
 * INSERT succeeded, so a failed snapshot can be written again, and snapshots replayed in order
 * write exactly what they would have. A write that failed part-way (server lost during a large insert) may have
 * stored some blocks already; replaying it repeats those rows with the same Timestamp and values,
 * which the newest-row-per-flow queries (argMax by Timestamp) absorb. Errors say which case it is:
 * NS_ERR_CLICKHOUSE_UNREACHABLE (worth spooling and retrying), _AUTH, _QUERY, _SCHEMA (not).
 */
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config/schema.js';
import { NetSpectraError, type ErrorCode } from '../model/errors.js';
import type { AlertRecord, AlertSink } from '../model/alert.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import { dateTime, identifier, joinSql, sql, type Sql } from './clickhouse-sql.js';
import { ALERTS, CLICKHOUSE_TABLES, FLOW_METRICS, HEAVY_HITTERS, addColumnSql, createTableSql, type TableSpec } from './clickhouse-schema.js';
import { ALERT_COLUMNS, alertRow } from './alert-rows.js';
import {
  FLOW_INSERT_COLUMNS,
  HEAVY_HITTER_INSERT_COLUMNS,
  MAX_TEXT_BYTES,
  checkRowValues,
  countFlowRows,
  flowRows,
  heavyHitterRows,
  type FlowSelection,
  type RowContext,
  type SketchList,
} from './clickhouse-rows.js';
import { HEAVY_HITTER_TYPE } from './duckdb-schema.js';

export interface ClickHouseStoreOptions {
  /** Server and credentials: the writer's `clickhouse` block (`cloud` → HTTPS). */
  /** Where to connect (the writer's `clickhouse` block; its spool settings are the SpoolingWriter's). */
  connection: Omit<ClickHouseConfig, 'spoolPath' | 'spoolMaxBytes'>;
  /** Identifies this run's rows (RunId column). */
  runId: string;
  /**
   * Identifies the engine instance that wrote a row (EngineId column), for several engines
   * writing to one database.
   * @default os.hostname()
   */
  engineId?: string;
  /**
   * Time allowed for one request, including a streamed insert (ms).
   * @default 60000
   */
  requestTimeoutMs?: number;
}

/** Native-protocol ports of the original's configs, and the HTTP(S) port the same server offers. */
const HTTP_PORT_FOR_NATIVE: ReadonlyMap<number, number> = new Map([
  [9000, 8123],
  [9440, 8443],
]);

/**
 * The HTTP(S) URL for a writer's `clickhouse` block. The original spoke the native protocol, so
 * configs name port 9000 (9440 with TLS); the same server answers HTTP on 8123 (HTTPS 8443). Any
 * other port is taken as the HTTP(S) port.
 */
export function clickHouseUrl(connection: Pick<ClickHouseConfig, 'host' | 'port' | 'cloud'>): string {
  const port = HTTP_PORT_FOR_NATIVE.get(connection.port) ?? connection.port;
  const host = connection.host.includes(':') && !connection.host.startsWith('[') ? `[${connection.host}]` : connection.host;
  return `${connection.cloud ? 'https' : 'http'}://${host}:${port}`;
}

/** Server error codes that mean the user, password, address or rights were refused. */
const AUTH_CODES = new Set(['192', '193', '194', '195', '497', '516']);
/** Node.js and TLS error codes that mean the server was not reached (or was lost). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);

/** Messages of the server (old and new formats) without the wrapping. */
function serverReason(message: string): { code: string | undefined; reason: string } {
  const code = /^\s*Code: (\d+)[.,]/.exec(message)?.[1];
  const reason =
    /DB::Exception: (.*?)(?:, e\.what\(\) = DB::Exception)?\s*$/s.exec(message)?.[1] ?? // 18.16: "Code: 193, e.displayText() = DB::Exception: …, e.what() = DB::Exception"
    message.trim();
  return { code, reason: reason.replace(/\s+/g, ' ').trim() };
}

export class ClickHouseStore implements SnapshotWriter, AlertSink, AsyncDisposable {
  readonly description: string;
  /** Only flows changed since the previous snapshot of a task are written (see the module comment). */
  readonly acceptsDeltas = true;
  /** Server version, known after start(). */
  serverVersion = '';
  /** Rows written since start() (flow_metrics and heavy_hitters). */
  rowsWritten = 0;
  readonly #options: Required<ClickHouseStoreOptions>;
  readonly #url: string;
  #client: ClickHouseClient | undefined;
  /** Per task: the period and epoch of the last snapshot stored (see FlowColumns.changedEpoch). */
  readonly #written = new Map<string, { periodId: number; epoch: number; runId: string }>();

  constructor(options: ClickHouseStoreOptions) {
    this.#options = { engineId: hostname(), requestTimeoutMs: 60_000, ...options };
    this.#url = clickHouseUrl(options.connection);
    // never the password
    this.description = `clickhouse:${this.#url}/${options.connection.database}`;
  }

  get database(): string {
    return this.#options.connection.database;
  }

  async start(): Promise<void> {
    if (this.#client !== undefined) return;
    const { connection, runId, engineId } = this.#options;
    for (const [name, value] of [
      ['runId', runId],
      ['engineId', engineId],
    ] as const) {
      if (Buffer.byteLength(value) > MAX_TEXT_BYTES) throw new NetSpectraError('NS_ERR_CLICKHOUSE_QUERY', `the ${name} is longer than ${MAX_TEXT_BYTES} bytes`);
    }
    const database = identifier(connection.database); // refuses a database name that is not a plain identifier
    this.#client = createClient({
      url: this.#url,
      username: connection.username,
      password: connection.password,
      // No `database`: it may not exist yet, and every statement names it.
      request_timeout: this.#options.requestTimeoutMs,
      application: 'netspectra',
      // Errors are reported by the store, as NetSpectraErrors; the client's own log would repeat them.
      log: { level: ClickHouseLogLevel.OFF },
      // Statements with long bound strings (clickhouse-sql.ts) exceed the default 256 KiB.
      clickhouse_settings: { max_query_size: '16777216' },
    });
    try {
      const version = await this.select<{ version: string }>(sql`SELECT version() AS version`);
      this.serverVersion = version[0]?.version ?? '';
      const known = await this.select<{ n: string }>(sql`SELECT count() AS n FROM system.databases WHERE name = ${connection.database}`);
      // Only when missing: a user allowed to write to an existing database may not be allowed to create one.
      if (Number(known[0]?.n ?? 0) === 0) await this.command(sql`CREATE DATABASE IF NOT EXISTS ${database}`);
      for (const table of CLICKHOUSE_TABLES) await this.#ensureTable(table);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async write(snapshot: GroupSnapshot): Promise<void> {
    if (this.#client === undefined) throw new NetSpectraError('NS_ERR_STORE_WRITE', `${this.description} is not started`);
    const runId = snapshot.runId ?? this.#options.runId;
    const context: RowContext = { time: snapshot.time, periodId: snapshot.periodId, runId, engineId: this.#options.engineId };
    const flows: FlowSelection[] = [];
    const lists: SketchList[] = [];
    for (const task of snapshot.tasks) {
      if (task.kind === 'exact') {
        // Everything on a new period (or the first snapshot), and on a snapshot of another run (a
        // spooled one from an earlier process; epochs start again at 0 in every run); else only
        // what changed since the last one stored.
        const previous = this.#written.get(task.name);
        const sameRun = previous !== undefined && previous.runId === runId && task.flows.epoch > previous.epoch;
        const since = previous === undefined || previous.periodId !== snapshot.periodId || !sameRun ? -1 : previous.epoch;
        flows.push({ task, since });
      } else if (task.kind === 'heavy_hitter') {
        lists.push({ taskName: task.name, entries: task.byCount, type: HEAVY_HITTER_TYPE.count });
        lists.push({ taskName: task.name, entries: task.bySize, type: HEAVY_HITTER_TYPE.size });
      } else {
        lists.push({ taskName: task.name, entries: task.spreaders, type: HEAVY_HITTER_TYPE.spread });
      }
    }
    checkRowValues(context, flows, lists);
    const flowCount = countFlowRows(flows);
    if (flowCount > 0) await this.#insert(FLOW_METRICS, FLOW_INSERT_COLUMNS, flowRows(flows, context));
    this.rowsWritten += flowCount;
    // Stored: later snapshots of the period need only what changes after these.
    for (const { task } of flows) this.#written.set(task.name, { periodId: snapshot.periodId, epoch: task.flows.epoch, runId });
    const sketchCount = lists.reduce((sum, list) => sum + list.entries.length, 0);
    if (sketchCount > 0) await this.#insert(HEAVY_HITTERS, HEAVY_HITTER_INSERT_COLUMNS, heavyHitterRows(lists, context));
    this.rowsWritten += sketchCount;
  }

  /**
   * Alert notices into `alerts`: one INSERT … VALUES with every value bound (alerts are few; a
   * statement per evaluation that changed something). Not spooled: a failure is the caller's to report.
   */
  async writeAlerts(records: readonly AlertRecord[]): Promise<void> {
    if (records.length === 0) return;
    const float = (value: number): Sql => {
      if (!Number.isFinite(value)) throw new NetSpectraError('NS_ERR_ALERT_STORE', `an alert value ${value} is not a finite number`);
      return sql`toFloat64(${String(value)})`;
    };
    const rows = records.map((record) => {
      const row = alertRow(record);
      const values = ALERT_COLUMNS.map((column): Sql => {
        if (column === 'Timestamp') return dateTime(Math.max(0, Number(row.Timestamp)));
        if (column === 'Threshold' || column === 'Value') return float(Number(row[column]));
        return sql`${row[column]}`;
      });
      return sql`(${joinSql(values)})`;
    });
    try {
      await this.command(sql`INSERT INTO ${identifier(this.database, ALERTS.name)} (${joinSql(ALERT_COLUMNS.map((c) => identifier(c)))}) VALUES ${joinSql(rows)}`);
    } catch (error) {
      const cause = error instanceof NetSpectraError ? error : this.#failure(error, 'an insert into alerts');
      throw new NetSpectraError('NS_ERR_ALERT_STORE', `cannot write ${records.length} alert notice(s) to ${this.description}: ${cause.toDisplayString()}`, { cause });
    }
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Rows of a SELECT (JSONEachRow: UInt64/Int64 arrive as strings), for queries, reports and tests. */
  async select<T>(statement: Sql): Promise<T[]> {
    const client = this.#started();
    try {
      const result = await client.query({ query: statement.text, format: 'JSONEachRow' });
      return await result.json<T>();
    } catch (error) {
      throw this.#failure(error, 'a query');
    }
  }

  /** A statement without result rows (DDL). */
  async command(statement: Sql): Promise<void> {
    const client = this.#started();
    try {
      await client.command({ query: statement.text });
    } catch (error) {
      throw this.#failure(error, 'a statement');
    }
  }

  #started(): ClickHouseClient {
    if (this.#client === undefined) throw new NetSpectraError('NS_ERR_STORE_WRITE', `${this.description} is not started`);
    return this.#client;
  }

  /**
   * Create the table when missing; on an existing one (e.g. the original's), check the types of
   * the columns we write and add ours that are missing.
   */
  async #ensureTable(table: TableSpec): Promise<void> {
    const database = this.#options.connection.database;
    await this.command(createTableSql(database, table));
    const readColumns = async (): Promise<Map<string, string>> => {
      const rows = await this.select<{ name: string; type: string }>(
        sql`SELECT name, type FROM system.columns WHERE database = ${database} AND table = ${table.name}`,
      );
      return new Map(rows.map((row) => [row.name, row.type]));
    };
    let columns = await readColumns();
    const where = `${database}.${table.name}`;
    for (const column of [...table.original, ...table.added]) {
      const type = columns.get(column.name);
      if (type === undefined) {
        if (!table.added.includes(column)) {
          throw new NetSpectraError('NS_ERR_CLICKHOUSE_SCHEMA', `${this.#url}: the table ${where} has no column ${column.name} (${column.type.text}), one of the original's; nothing was written to it`);
        }
        try {
          await this.command(addColumnSql(database, table, column));
        } catch (error) {
          // another engine may have added it at the same time (18.16 has no ADD COLUMN IF NOT EXISTS)
          columns = await readColumns();
          if (!columns.has(column.name)) throw error;
        }
      } else if (type !== column.type.text) {
        throw new NetSpectraError(
          'NS_ERR_CLICKHOUSE_SCHEMA',
          `${this.#url}: the column ${where}.${column.name} is ${type}, and NetSpectra writes ${column.type.text}; nothing was written to the table`,
        );
      }
    }
  }

  /** One INSERT … FORMAT RowBinary with the rows streamed as they are encoded. */
  async #insert(table: TableSpec, columns: readonly string[], rows: Generator<Buffer>): Promise<void> {
    const client = this.#started();
    const statement = sql`INSERT INTO ${identifier(this.database, table.name)} (${joinSql(columns.map((c) => identifier(c)))}) FORMAT RowBinary`;
    try {
      const result = await client.exec({ query: statement.text, values: Readable.from(rows, { objectMode: false }) });
      result.stream.resume();
      await finished(result.stream);
    } catch (error) {
      throw this.#failure(error, `an insert into ${table.name}`);
    }
  }

  /** A client or server error as a NetSpectraError with a stable code; the password never appears. */
  #failure(error: unknown, what: string): NetSpectraError {
    if (error instanceof NetSpectraError) return error;
    const { connection } = this.#options;
    const { code, reason } = classify(error);
    const messages: Record<typeof code, string> = {
      NS_ERR_CLICKHOUSE_UNREACHABLE: `cannot reach ClickHouse at ${this.#url} (${reason}); check that the server runs and clickhouse.host/port (native port 9000 means HTTP 8123, 9440 means HTTPS 8443)`,
      NS_ERR_CLICKHOUSE_AUTH: `ClickHouse at ${this.#url} refused user ${JSON.stringify(connection.username)}: ${reason}; check clickhouse.username and clickhouse.password (\${CLICKHOUSE_PASSWORD}) and the user's rights`,
      NS_ERR_CLICKHOUSE_QUERY: `ClickHouse at ${this.#url} refused ${what} in database ${connection.database}: ${reason}`,
    };
    return new NetSpectraError(code, redact(messages[code], connection.password), { cause: error });
  }
}

/** What kind of failure a client error is, and its reason in one line. */
export function classify(error: unknown): { code: Extract<ErrorCode, 'NS_ERR_CLICKHOUSE_UNREACHABLE' | 'NS_ERR_CLICKHOUSE_AUTH' | 'NS_ERR_CLICKHOUSE_QUERY'>; reason: string } {
  const message = error instanceof Error ? error.message : String(error);
  const systemCode = (error as { code?: unknown } | null)?.code;
  if (error instanceof ClickHouseError || /DB::Exception/.test(message)) {
    const parsed = serverReason(message);
    const code = error instanceof ClickHouseError && error.code !== '' ? error.code : parsed.code;
    return { code: code !== undefined && AUTH_CODES.has(code) ? 'NS_ERR_CLICKHOUSE_AUTH' : 'NS_ERR_CLICKHOUSE_QUERY', reason: parsed.reason };
  }
  if ((typeof systemCode === 'string' && NETWORK_CODES.has(systemCode)) || /timeout|socket hang up|ECONNREFUSED/i.test(message)) {
    return { code: 'NS_ERR_CLICKHOUSE_UNREACHABLE', reason: message };
  }
  // HTTP answers without a ClickHouse error body (a proxy in between)
  if (/\b(401|403)\b/.test(message)) return { code: 'NS_ERR_CLICKHOUSE_AUTH', reason: message };
  return { code: 'NS_ERR_CLICKHOUSE_QUERY', reason: message };
}

function redact(message: string, password: string): string {
  return password.length >= 3 ? message.split(password).join('***') : message;
}
