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
 * DuckDB store: the newest row per flow is its cumulative state, and every row also carries its
 * growth since the flow's previous row of the segment (DeltaBytes, DeltaPackets), which the
 * queries sum (docs/query.md). The store keeps, per exact task, the counters it last stored for
 * every flow of the current segment (segment-counters.ts). All exact tasks of a snapshot go in one
 * INSERT, all sketch lists in another.
 *
 * For a spool that wraps `write()` (outages): the store remembers a task's snapshot, and commits
 * its counters, only once its INSERT succeeded, so a failed snapshot can be written again, and
 * snapshots replayed in order write exactly what they would have. Where the table may hold rows
 * the counters do not know, they are read back from the table (the newest counters per flow of
 * the segment) before the task's next write, so repeated rows carry no growth:
 * - a write that failed part-way (server lost during a large insert) may have stored some blocks;
 * - a spooled snapshot (`snapshot.runId` set) of a segment this store has not written, e.g. of an
 *   earlier process whose other snapshots went straight to the table.
 * Errors say which case it is: NS_ERR_CLICKHOUSE_UNREACHABLE (worth spooling and retrying), _AUTH,
 * _QUERY, _SCHEMA (not).
 *
 * A JetStream engine that resumes replays its period into the same run: `forgetFrom` first deletes
 * what the run wrote from that period on (an ALTER … DELETE mutation, awaited), so the replay's
 * growth is not added to the crashed process's.
 */
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config/schema.js';
import { NetSpectraError, type ErrorCode, errorMessage } from '../model/errors.js';
import type { AlertRecord, AlertSink } from '../model/alert.js';
import { parseAddress } from '../model/ip.js';
import type { RunPeriod, SnapshotWriter } from '../model/ports.js';
import type { ExactTaskSnapshot, GroupSnapshot } from '../model/snapshot.js';
import { KeySpec } from '../model/flow-key.js';
import { dateTime, identifier, integer, joinSql, sql, type Sql } from './clickhouse-sql.js';
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
import { TaskSegmentCounters, type SegmentCounters } from './segment-counters.js';

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
  /**
   * Time allowed for the deletions of `forgetFrom` to finish (ms): an 18.16 mutation rewrites
   * every part of the table.
   * @default 600000
   */
  mutationTimeoutMs?: number;
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
  /** Per task: the segment (run, period) and epoch of the last snapshot stored (see FlowColumns.changedEpoch). */
  readonly #written = new Map<string, { periodId: number; epoch: number; runId: string }>();
  /** Per task: the counters last stored of every flow of that segment. */
  readonly #counters = new TaskSegmentCounters();
  /** Tasks whose last insert failed, perhaps part-way: their counters are read back before their next write. */
  readonly #unsure = new Set<string>();

  constructor(options: ClickHouseStoreOptions) {
    this.#options = { engineId: hostname(), requestTimeoutMs: 60_000, mutationTimeoutMs: 600_000, ...options };
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
    const exact: { task: ExactTaskSnapshot; since: number; counters: SegmentCounters; readBack: boolean }[] = [];
    const lists: SketchList[] = [];
    for (const task of snapshot.tasks) {
      if (task.kind === 'exact') {
        // Everything on a new period (or the first snapshot), and on a snapshot of another run (a
        // spooled one from an earlier process; epochs start again at 0 in every run); else only
        // what changed since the last one stored.
        const previous = this.#written.get(task.name);
        const sameSegment = previous !== undefined && previous.runId === runId && previous.periodId === snapshot.periodId;
        const since = sameSegment && task.flows.epoch > previous.epoch ? previous.epoch : -1;
        const counters = this.#counters.of(task.name, task.flows.keyWords, !sameSegment);
        const readBack = this.#unsure.has(task.name) || (!sameSegment && snapshot.runId !== undefined);
        exact.push({ task, since, counters, readBack });
      } else if (task.kind === 'heavy_hitter') {
        lists.push({ taskName: task.name, entries: task.byCount, type: HEAVY_HITTER_TYPE.count });
        lists.push({ taskName: task.name, entries: task.bySize, type: HEAVY_HITTER_TYPE.size });
      } else {
        lists.push({ taskName: task.name, entries: task.spreaders, type: HEAVY_HITTER_TYPE.spread });
      }
    }
    checkRowValues(context, exact, lists);
    for (const { task, counters, readBack } of exact) {
      if (!readBack) continue;
      counters.clear();
      await this.#readCounters(task, context, counters);
      this.#unsure.delete(task.name);
    }
    const flows: FlowSelection[] = exact.map(({ task, since, counters }) => ({ task, since, deltas: counters.deltas(task.flows, since) }));
    const flowCount = countFlowRows(flows);
    if (flowCount > 0) {
      try {
        await this.#insert(FLOW_METRICS, FLOW_INSERT_COLUMNS, flowRows(flows, context));
      } catch (error) {
        // some blocks may be stored: the counters are read back before these tasks' next write
        for (const { task } of flows) this.#unsure.add(task.name);
        throw error;
      }
    }
    this.rowsWritten += flowCount;
    // Stored: later snapshots of the period need only what changes after these, and grow from these counters.
    for (const [i, { task, deltas }] of flows.entries()) {
      exact[i]!.counters.commit(task.flows, deltas);
      this.#written.set(task.name, { periodId: snapshot.periodId, epoch: task.flows.epoch, runId });
    }
    const sketchCount = lists.reduce((sum, list) => sum + list.entries.length, 0);
    if (sketchCount > 0) await this.#insert(HEAVY_HITTERS, HEAVY_HITTER_INSERT_COLUMNS, heavyHitterRows(lists, context));
    this.rowsWritten += sketchCount;
  }

  /**
   * Delete the rows this engine wrote for a run from a period on, in flow_metrics and
   * heavy_hitters, and wait until the deletions are done: a JetStream engine that resumes the run
   * replays the period from its start (docs/pipeline.md), and the crashed process's rows of it
   * would otherwise be counted again (their growth is summed). Rows of the period that are still
   * in a spool are the SpoolingWriter's to order before this.
   */
  async forgetFrom(from: RunPeriod): Promise<void> {
    const where = sql`RunId = ${from.runId} AND EngineId = ${this.#options.engineId} AND PeriodId >= ${integer(from.periodId, 'Int64')}`;
    for (const table of [FLOW_METRICS, HEAVY_HITTERS]) await this.command(sql`ALTER TABLE ${identifier(this.database, table.name)} DELETE WHERE ${where}`);
    // 18.16 has no mutations_sync: the deletions run in the background until system.mutations says they are done
    const deadline = performance.now() + this.#options.mutationTimeoutMs;
    for (let wait = 20; ; wait = Math.min(wait * 2, 1000)) {
      const pending = await this.select<{ n: string }>(
        sql`SELECT count() AS n FROM system.mutations WHERE database = ${this.database} AND table IN (${FLOW_METRICS.name}, ${HEAVY_HITTERS.name}) AND is_done = 0`,
      );
      if (Number(pending[0]?.n ?? 0) === 0) break;
      if (performance.now() > deadline) {
        throw new NetSpectraError('NS_ERR_CLICKHOUSE_QUERY', `${this.description}: the deletion of run ${from.runId}'s rows from period ${from.periodId} on did not finish in ${this.#options.mutationTimeoutMs} ms (see system.mutations)`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    for (const [task, written] of this.#written) if (written.runId === from.runId && written.periodId >= from.periodId) this.#written.delete(task);
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

  /**
   * The newest stored counters of every flow of a task's segment (this run, engine and period),
   * into `counters`: for a segment this store may not have written all of (see the module comment).
   */
  async #readCounters(task: ExactTaskSnapshot, context: RowContext, counters: SegmentCounters): Promise<void> {
    const rows = await this.select<{ SrcIP: string | null; DstIP: string | null; SrcPort: number | null; DstPort: number | null; Protocol: number | null; p: string; b: string }>(
      sql`SELECT SrcIP, DstIP, SrcPort, DstPort, Protocol, max(PacketCount) AS p, max(ByteCount) AS b FROM ${identifier(this.database, FLOW_METRICS.name)}
          WHERE TaskName = ${task.name} AND RunId = ${context.runId} AND EngineId = ${context.engineId} AND PeriodId = ${integer(context.periodId, 'Int64')}
          GROUP BY SrcIP, DstIP, SrcPort, DstPort, Protocol`,
    );
    // the key words as the engine builds them (model/flow-key.ts): IPv4 mapped, the family in the meta word
    const spec = new KeySpec(task.keyFields);
    const key = new Uint32Array(spec.words);
    for (const row of rows) {
      key.fill(0);
      let family = 0;
      const src = spec.hasSrcIP ? parseAddress(row.SrcIP ?? '') : undefined;
      const dst = spec.hasDstIP ? parseAddress(row.DstIP ?? '') : undefined;
      if ((spec.hasSrcIP && src === undefined) || (spec.hasDstIP && dst === undefined)) continue; // not a row we wrote
      if (src !== undefined) {
        key.set(src.words, 0);
        family = src.family;
      }
      if (dst !== undefined) {
        key.set(dst.words, spec.dstAt);
        family = dst.family;
      }
      if (spec.hasSrcPort || spec.hasDstPort) key[spec.portsAt] = (((row.SrcPort ?? 0) << 16) | (row.DstPort ?? 0)) >>> 0;
      key[spec.metaAt] = (family << 8) | (spec.hasProtocol ? (row.Protocol ?? 0) : 0);
      counters.remember(key, 0, Number(row.p), Number(row.b));
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
  const message = errorMessage(error);
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
