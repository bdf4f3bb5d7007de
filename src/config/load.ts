/**
 * Reads configs/config.yaml (the original's schema), substitutes `${VAR}` from the environment and
 * an optional `.env`, validates every key and returns one frozen NetSpectraConfig.
 *
 * Every error names the file, line and column, the full key path, what was expected and what was
 * found, so a bad config fails at start instead of misbehaving hours later (the original validated
 * nothing and turned an unset variable into an empty string).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEnv } from 'node:util';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parse as parseYaml, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { NetSpectraError } from '../model/errors.js';
import type { ErrorCode } from '../model/errors.js';
import { describeLimit, TASK_LIMITS, withinLimit } from '../model/task-limits.js';
import type { NumberLimit } from '../model/task-limits.js';
import {
  ALERT_RULE_DEFAULTS,
  CLICKHOUSE_DEFAULTS,
  DEFAULT_CONFIG,
  DEFAULT_DUCKDB_PATH,
  DEFAULT_FILE_WRITER_ROOT,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  EXACT_TASK_DEFAULTS,
  SKETCH_TASK_DEFAULTS,
  WEBHOOK_DEFAULTS,
  deepFreeze,
} from './defaults.js';
import { DurationSyntaxError, formatDuration, parseDuration } from '../model/duration.js';
import {
  AGGREGATOR_TYPES,
  ALERT_METRICS_BY_TASK_KIND,
  ALERT_OPERATORS,
  KEY_FIELDS,
  LOG_STREAMS,
  PERSISTENCE_ENCODINGS,
  PROBE_FORMATS,
  SMTP_TLS_MODES,
  WEBHOOK_FORMATS,
  WRITER_TYPES,
} from './schema.js';
import type { AlertMetric } from '../model/alert.js';
import type {
  AggregatorConfig,
  AggregatorType,
  AiConfig,
  AlertRuleConfig,
  AlerterConfig,
  ApiConfig,
  ExactTaskConfig,
  KeyField,
  NetSpectraConfig,
  ProbeConfig,
  SketchTaskConfig,
  SmtpConfig,
  WebhookConfig,
  WriterConfig,
  WriterType,
} from './schema.js';

export interface LoadConfigOptions {
  /** YAML file in the original's schema; without it the built-in DEFAULT_CONFIG is returned. */
  file?: string;
  /** Variables for `${VAR}`; they win over `.env`. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** A `.env` file to read; it must exist. @default `.env` beside `file`, if there is one */
  envFile?: string;
}

export interface ParseConfigOptions {
  /** Name used in error messages and error locations. */
  file?: string;
  /** Variables for `${VAR}`. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Load, substitute, validate and freeze a configuration. */
export function loadConfig(options: LoadConfigOptions = {}): NetSpectraConfig {
  const { file } = options;
  if (file === undefined) return DEFAULT_CONFIG;
  const source = readText(file, 'configuration file');
  const dotEnv = readDotEnv(options.envFile ?? join(dirname(file), '.env'), options.envFile !== undefined);
  // Real environment variables win over .env, as with dotenv and the original's godotenv.
  const env = { ...dotEnv, ...(options.env ?? process.env) };
  return parseConfig(source, { file, env });
}

/** Validate YAML text already in memory (for tests and for configs that do not come from a file). */
export function parseConfig(source: string, options: ParseConfigOptions = {}): NetSpectraConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const ctx: Context = { file: options.file, env: options.env ?? process.env, lineCounter, doc };
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = first.linePos?.[0];
    // The library appends " at line L, column C:" and a source excerpt; we report the position
    // our own way so every config error reads alike.
    const reason = first.message.split(/ at line \d+, column \d+/)[0] ?? first.message;
    fail(ctx, 'NS_ERR_CONFIG_PARSE', at === undefined ? undefined : { line: at.line, col: at.col }, '', `invalid YAML: ${reason}`);
  }
  const root = doc.contents === null ? undefined : toRaw(ctx, doc.contents, '', { line: 1, col: 1 });
  return deepFreeze(readConfig(ctx, root));
}

// ---------------------------------------------------------------------------------------------
// Files

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw readError(file, what, cause);
  }
}

const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

function readError(file: string, what: string, cause: unknown): NetSpectraError {
  const code = cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  const reason = code === undefined ? String(cause) : `${READ_FAILURES[code] ?? 'failed'} (${code})`;
  return new NetSpectraError('NS_ERR_CONFIG_READ', `cannot read ${what} ${file}: ${reason}`, { cause, location: { file } });
}

function readDotEnv(file: string, required: boolean): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const missing = cause instanceof Error && 'code' in cause && cause.code === 'ENOENT';
    if (missing && !required) return {};
    throw readError(file, '.env file', cause);
  }
  try {
    return parseEnv(text) as Record<string, string>;
  } catch (cause) {
    throw new NetSpectraError('NS_ERR_CONFIG_ENV', `cannot parse .env file ${file}: ${String(cause)}`, { cause, location: { file } });
  }
}

// ---------------------------------------------------------------------------------------------
// A position-carrying tree of the YAML with ${VAR} already substituted

interface Position {
  line: number;
  col: number;
}

type Raw = RawMap | RawSeq | RawScalar;

interface RawMap {
  kind: 'map';
  pos: Position;
  entries: Map<string, { keyPos: Position; value: Raw }>;
}

interface RawSeq {
  kind: 'seq';
  pos: Position;
  items: Raw[];
}

interface RawScalar {
  kind: 'scalar';
  pos: Position;
  value: unknown;
  /** Source text of an unquoted scalar, so `password: 12345` can still be read as a string. */
  plainText: string | undefined;
}

interface Context {
  file: string | undefined;
  env: NodeJS.ProcessEnv;
  lineCounter: LineCounter;
  doc: Document;
}

function positionOf(ctx: Context, node: unknown, fallback: Position): Position {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  if (range === undefined) return fallback;
  const { line, col } = ctx.lineCounter.linePos(range[0]);
  return { line, col };
}

function toRaw(ctx: Context, node: unknown, path: string, fallback: Position): Raw {
  const pos = positionOf(ctx, node, fallback);
  if (isAlias(node)) return toRaw(ctx, node.resolve(ctx.doc), path, pos);
  if (isMap(node)) {
    const entries = new Map<string, { keyPos: Position; value: Raw }>();
    for (const pair of node.items) {
      const keyPos = positionOf(ctx, pair.key, pos);
      if (!isScalar(pair.key) || (typeof pair.key.value === 'object' && pair.key.value !== null)) {
        fail(ctx, 'NS_ERR_CONFIG_INVALID_VALUE', keyPos, path, 'expected plain keys, found a complex key');
      }
      const key = String(pair.key.value);
      entries.set(key, { keyPos, value: toRaw(ctx, pair.value, join2(path, key), keyPos) });
    }
    return { kind: 'map', pos, entries };
  }
  if (isSeq(node)) {
    return { kind: 'seq', pos, items: node.items.map((item, i) => toRaw(ctx, item, `${path}[${i}]`, pos)) };
  }
  if (isScalar(node)) {
    const plain = node.type === 'PLAIN';
    if (typeof node.value !== 'string') {
      return { kind: 'scalar', pos, value: node.value, plainText: plain ? node.source ?? String(node.value) : undefined };
    }
    const text = substitute(ctx, node.value, path, pos);
    if (plain && text !== node.value && text !== '') {
      // `port: ${SMTP_PORT}` must become the number the original got from expanding before parsing.
      const resolved = resolvePlain(text);
      if (resolved !== undefined) return { kind: 'scalar', pos, value: resolved, plainText: text };
    }
    return { kind: 'scalar', pos, value: text, plainText: plain ? text : undefined };
  }
  return { kind: 'scalar', pos, value: null, plainText: undefined };
}

function resolvePlain(text: string): number | boolean | undefined {
  try {
    const value: unknown = parseYaml(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `${VAR}`, `${VAR:-default}` (default when unset or empty, as in a shell) and `$${` for a literal `${`. */
function substitute(ctx: Context, text: string, path: string, pos: Position): string {
  if (!text.includes('${')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('$', i);
    if (start === -1) break;
    out += text.slice(i, start);
    if (text.startsWith('$${', start)) {
      out += '${';
      i = start + 3;
      continue;
    }
    if (!text.startsWith('${', start)) {
      out += '$';
      i = start + 1;
      continue;
    }
    const end = text.indexOf('}', start + 2);
    if (end === -1) {
      fail(ctx, 'NS_ERR_CONFIG_ENV', pos, path, `expected \${NAME} or \${NAME:-default}, found an unterminated ${JSON.stringify(text.slice(start))}`);
    }
    const body = text.slice(start + 2, end);
    const separator = body.indexOf(':-');
    const name = separator === -1 ? body : body.slice(0, separator);
    const fallback = separator === -1 ? undefined : body.slice(separator + 2);
    if (!VARIABLE_NAME.test(name)) {
      fail(ctx, 'NS_ERR_CONFIG_ENV', pos, path, `expected \${NAME} or \${NAME:-default} with NAME made of letters, digits and _, found ${JSON.stringify(text.slice(start, end + 1))}`);
    }
    const value = ctx.env[name];
    if (fallback !== undefined && (value === undefined || value === '')) {
      out += fallback;
    } else if (value === undefined) {
      fail(
        ctx,
        'NS_ERR_CONFIG_ENV',
        pos,
        path,
        `environment variable ${name} is not set; set it in the environment or in .env beside the configuration, or write \${${name}:-default}`,
      );
    } else {
      out += value;
    }
    i = end + 1;
  }
  return out + text.slice(i);
}

// ---------------------------------------------------------------------------------------------
// Errors

function join2(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Throw `file:line:col: key: problem`; `key` also goes into the error's location for tools. */
function fail(ctx: Context, code: ErrorCode, pos: Position | undefined, path: string, problem: string, keyInMessage = true): never {
  const where = `${ctx.file ?? '<config>'}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}`;
  const prefix = keyInMessage && path !== '' ? `${path}: ` : '';
  throw new NetSpectraError(code, `${where}: ${prefix}${problem}`, {
    location: { ...(ctx.file === undefined ? {} : { file: ctx.file }), ...(path === '' ? {} : { key: path }) },
  });
}

function invalid(ctx: Context, path: string, pos: Position, expected: string, found: string): never {
  fail(ctx, 'NS_ERR_CONFIG_INVALID_VALUE', pos, path, `expected ${expected}, found ${found}`);
}

function describe(raw: Raw | undefined): string {
  if (raw === undefined) return 'nothing';
  if (raw.kind === 'map') return raw.entries.size === 0 ? 'an empty mapping' : 'a mapping';
  if (raw.kind === 'seq') return raw.items.length === 0 ? 'an empty list' : 'a list';
  const { value } = raw;
  if (value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? typeof value;
}

/** The original's misspelled keys, so a corrected spelling gets pointed back to them. */
const ORIGINAL_SPELLINGS = new Set(['size_thereshold', 'count_thereshold']);

/** Keys of older versions of the original (or its example file) and what replaced them. */
const RENAMED_KEYS: Readonly<Record<string, string>> = {
  key: 'key_fields',
  elementkey: 'element_fields',
  user: 'username',
  subject_name: 'subject',
  listen_addr: 'http_listen_addr',
  snapshotInterval: 'snapshot_interval',
};

function suggest(unknown: string, known: readonly string[]): string | undefined {
  const renamed = RENAMED_KEYS[unknown];
  if (renamed !== undefined && known.includes(renamed)) return renamed;
  const normalise = (key: string): string => key.toLowerCase().replace(/[_-]/g, '');
  const sameWord = known.find((key) => normalise(key) === normalise(unknown));
  if (sameWord !== undefined) return sameWord;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(unknown.length / 3)) + 1;
  for (const key of known) {
    const distance = editDistance(unknown, key);
    if (distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal-string-alignment distance: a swapped pair of letters (`widht`) costs 1, not 2. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Reading values

/** One YAML mapping being read: rejects unknown keys up front, then hands out values by key. */
class Section {
  readonly #entries: Map<string, { keyPos: Position; value: Raw }>;

  constructor(
    readonly ctx: Context,
    readonly path: string,
    readonly pos: Position,
    raw: Raw | undefined,
    keys: readonly string[],
    olderKeys: readonly string[] = [],
  ) {
    if (raw !== undefined && raw.kind !== 'map' && !(raw.kind === 'scalar' && raw.value === null)) {
      invalid(ctx, path, raw.pos, `a mapping with keys ${keys.join(', ')}`, describe(raw));
    }
    this.#entries = raw?.kind === 'map' ? raw.entries : new Map<string, { keyPos: Position; value: Raw }>();
    for (const [key, { keyPos }] of this.#entries) {
      if (keys.includes(key) || olderKeys.includes(key)) continue;
      const suggestion = suggest(key, keys);
      const hint =
        suggestion === undefined
          ? `expected one of: ${keys.join(', ')}`
          : `did you mean "${suggestion}"${ORIGINAL_SPELLINGS.has(suggestion) ? ' (spelled as in the original)' : ''}?`;
      fail(ctx, 'NS_ERR_CONFIG_UNKNOWN_KEY', keyPos, join2(path, key), `unknown key ${join2(path, key)}; ${hint}`, false);
    }
  }

  keyPath(key: string): string {
    return join2(this.path, key);
  }

  /** The value under `key`; an explicit null (`key:` with nothing after it) counts as absent. */
  get(key: string): Raw | undefined {
    const value = this.#entries.get(key)?.value;
    return value?.kind === 'scalar' && value.value === null ? undefined : value;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Where to point when `key` is missing or wrong: the value, else the key, else this mapping. */
  posOf(key: string): Position {
    const entry = this.#entries.get(key);
    return entry?.value.pos ?? entry?.keyPos ?? this.pos;
  }

  child(key: string, keys: readonly string[], olderKeys: readonly string[] = []): Section {
    return new Section(this.ctx, this.keyPath(key), this.posOf(key), this.get(key), keys, olderKeys);
  }

  /** A required value is missing: say so at the mapping that should hold it. */
  missing(key: string, expected: string): never {
    invalid(this.ctx, this.keyPath(key), this.posOf(key), expected, 'nothing');
  }

  string(key: string, fallback?: string, options: { nonEmpty?: boolean } = {}): string {
    const raw = this.get(key);
    const expected = options.nonEmpty === true ? 'a non-empty string' : 'a string';
    if (raw === undefined) return fallback ?? this.missing(key, expected);
    const value = asString(raw);
    if (value === undefined || (options.nonEmpty === true && value === '')) invalid(this.ctx, this.keyPath(key), raw.pos, expected, describe(raw));
    return value;
  }

  integer(key: string, fallback: number | undefined, min: number, max: number): number {
    const expected = integerExpectation(min, max);
    const raw = this.get(key);
    if (raw === undefined) return fallback ?? this.missing(key, expected);
    const value = asNumber(raw);
    if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
      invalid(this.ctx, this.keyPath(key), raw.pos, expected, describe(raw));
    }
    return value;
  }

  /** A number within one of the task limits (TASK_LIMITS, shared with the engine); the message names the range. */
  limited(key: string, limit: NumberLimit, fallback: number | undefined): number {
    const expected = describeLimit(limit);
    const raw = this.get(key);
    if (raw === undefined) return fallback ?? this.missing(key, expected);
    const value = asNumber(raw);
    if (value === undefined || !withinLimit(limit, value)) invalid(this.ctx, this.keyPath(key), raw.pos, expected, describe(raw));
    return value;
  }

  number(key: string, fallback?: number): number {
    const raw = this.get(key);
    if (raw === undefined) return fallback ?? this.missing(key, 'a number');
    const value = asNumber(raw);
    if (value === undefined || !Number.isFinite(value)) invalid(this.ctx, this.keyPath(key), raw.pos, 'a number', describe(raw));
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const raw = this.get(key);
    if (raw === undefined) return fallback;
    const value = raw.kind === 'scalar' ? raw.value : undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    invalid(this.ctx, this.keyPath(key), raw.pos, 'true or false', describe(raw));
  }

  duration(key: string, fallbackMs: number, options: { allowZero?: boolean } = {}): number {
    const allowZero = options.allowZero === true;
    const expected = allowZero ? 'a duration such as "0", "30s", "5m" or "1h"' : 'a positive duration such as "60s", "1m30s" or "720h"';
    const raw = this.get(key);
    if (raw === undefined) return fallbackMs;
    // A bare `0` is a YAML number, and the one duration Go accepts without a unit.
    const text = raw.kind === 'scalar' && typeof raw.value === 'string' ? raw.value : raw.kind === 'scalar' && raw.value === 0 ? '0' : undefined;
    if (text === undefined) invalid(this.ctx, this.keyPath(key), raw.pos, expected, describe(raw));
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (error) {
      if (!(error instanceof DurationSyntaxError)) throw error;
      invalid(this.ctx, this.keyPath(key), raw.pos, expected, `${describe(raw)} (${error.reason})`);
    }
    if (ms < 0 || (ms === 0 && !allowZero)) invalid(this.ctx, this.keyPath(key), raw.pos, expected, describe(raw));
    return ms;
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback?: T): T {
    const raw = this.get(key);
    const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
    if (raw === undefined) return fallback ?? this.missing(key, expected);
    return oneOf(this.ctx, raw, this.keyPath(key), values);
  }

  address(key: string, fallback: string): string {
    const value = this.string(key, fallback);
    const match = /^(?:\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(value);
    if (match === null || Number(match[1]) > 65535) {
      invalid(this.ctx, this.keyPath(key), this.posOf(key), 'host:port with a port from 0 to 65535, such as "127.0.0.1:8080" or ":8080"', JSON.stringify(value));
    }
    return value;
  }

  /** A list; absent gives `undefined` (the caller's default), `key:` with nothing gives []. */
  list(key: string): Raw[] | undefined {
    if (!this.has(key)) return undefined;
    const raw = this.get(key);
    if (raw === undefined) return [];
    if (raw.kind !== 'seq') invalid(this.ctx, this.keyPath(key), raw.pos, 'a list', describe(raw));
    return raw.items;
  }

  fields(key: string, fallback: KeyField[] | undefined, nonEmpty: boolean): KeyField[] {
    const expected = `a ${nonEmpty ? 'non-empty ' : ''}list of fields from ${KEY_FIELDS.join(', ')}`;
    const items = this.list(key);
    if (items === undefined) return fallback?.slice() ?? this.missing(key, expected);
    if (items.length === 0 && nonEmpty) invalid(this.ctx, this.keyPath(key), this.posOf(key), expected, 'an empty list');
    const seen: KeyField[] = [];
    items.forEach((item, i) => {
      const field = oneOf(this.ctx, item, `${this.keyPath(key)}[${i}]`, KEY_FIELDS);
      if (seen.includes(field)) invalid(this.ctx, `${this.keyPath(key)}[${i}]`, item.pos, 'each field at most once', `${JSON.stringify(field)} again`);
      seen.push(field);
    });
    return seen;
  }
}

function asString(raw: Raw): string | undefined {
  if (raw.kind !== 'scalar') return undefined;
  if (typeof raw.value === 'string') return raw.value;
  // An unquoted `password: 12345` is a number to YAML but a string to us.
  return raw.plainText;
}

function asNumber(raw: Raw): number | undefined {
  if (raw.kind !== 'scalar') return undefined;
  if (typeof raw.value === 'number') return raw.value;
  // `port: "${SMTP_PORT}"` arrives as a string.
  if (typeof raw.value === 'string' && /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw.value.trim())) return Number(raw.value);
  return undefined;
}

function integerExpectation(min: number, max: number): string {
  if (max >= UINT32_MAX) return min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`;
  return `an integer from ${min} to ${max}`;
}

function oneOf<T extends string | number>(ctx: Context, raw: Raw, path: string, values: readonly T[]): T {
  const value = raw.kind === 'scalar' ? raw.value : undefined;
  const found = values.find((v) => v === value);
  if (found === undefined) invalid(ctx, path, raw.pos, `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, describe(raw));
  return found;
}

const UINT32_MAX = 0xffff_ffff;

// ---------------------------------------------------------------------------------------------
// Sections

const TOP_KEYS = ['api', 'ai', 'probe', 'alerter', 'smtp', 'aggregator'] as const;

function readConfig(ctx: Context, root: Raw | undefined): NetSpectraConfig {
  const top = new Section(ctx, '', { line: 1, col: 1 }, root, TOP_KEYS);
  const api = readApi(top.child('api', ['rpc_listen_addr', 'http_listen_addr', 'rpc_tls_cert_file', 'rpc_tls_key_file', 'auth_tokens', 'cors_origins'], ['grpc_listen_addr']));
  const ai = readAi(top.child('ai', ['provider', 'api_key', 'model', 'base_url', 'rpc_listen_addr', 'timeout', 'max_retries', 'auth_token', 'max_sessions', 'max_buffered_chunks', 'session_ttl', 'session_idle_timeout'], ['grpc_listen_addr']));
  const probe = readProbe(top.child('probe', ['nats_url', 'subject', 'format', 'partitions', 'jetstream', 'stream', 'stream_max_age', 'stream_max_bytes', 'persistence']));
  const { alerter, rulePositions } = readAlerter(top.child('alerter', ['enabled', 'check_interval', 'ai_analysis', 'notifiers', 'rules']));
  const smtp = readSmtp(top.child('smtp', ['host', 'port', 'username', 'password', 'from', 'to', 'tls', 'ca_file', 'timeout']));
  const aggregator = readAggregator(
    top.child('aggregator', ['types', 'period', 'num_workers', 'size_of_packet_channel', 'exact', 'sketch'], ['type']),
  );
  checkRulesAgainstTasks(ctx, alerter.rules, rulePositions, aggregator);
  return { api, ai, probe, alerter, smtp, aggregator };
}

/** The original renamed `grpc_listen_addr` to `rpc_listen_addr` when it moved to Thrift; accept both, not together. */
function listenAddress(section: Section, fallback: string): string {
  if (section.has('grpc_listen_addr')) {
    if (section.has('rpc_listen_addr')) {
      invalid(section.ctx, section.keyPath('grpc_listen_addr'), section.posOf('grpc_listen_addr'), 'only rpc_listen_addr (grpc_listen_addr is its older name)', 'both');
    }
    return section.address('grpc_listen_addr', fallback);
  }
  return section.address('rpc_listen_addr', fallback);
}

function readApi(section: Section): ApiConfig {
  const defaults = DEFAULT_CONFIG.api;
  const rpcTlsCertFile = section.string('rpc_tls_cert_file', defaults.rpcTlsCertFile);
  const rpcTlsKeyFile = section.string('rpc_tls_key_file', defaults.rpcTlsKeyFile);
  // one without the other would silently serve plain TCP, or fail only at the first connection
  if ((rpcTlsCertFile === '') !== (rpcTlsKeyFile === '')) {
    const missing = rpcTlsCertFile === '' ? 'rpc_tls_cert_file' : 'rpc_tls_key_file';
    const given = rpcTlsCertFile === '' ? 'rpc_tls_key_file' : 'rpc_tls_cert_file';
    invalid(section.ctx, section.keyPath(given), section.posOf(given), `${section.keyPath(missing)} as well (TLS needs a certificate and its key)`, 'only one of them');
  }
  return {
    rpcListenAddr: listenAddress(section, defaults.rpcListenAddr),
    httpListenAddr: section.address('http_listen_addr', defaults.httpListenAddr),
    rpcTlsCertFile,
    rpcTlsKeyFile,
    authTokens: authTokens(section),
    corsOrigins: corsOrigins(section),
  };
}

/** Origins allowed by CORS: `*`, or exactly what a browser sends as Origin (`scheme://host[:port]`). */
function corsOrigins(section: Section): string[] {
  const items = section.list('cors_origins');
  if (items === undefined) return DEFAULT_CONFIG.api.corsOrigins.slice();
  return items.map((item, i) => {
    const path = `${section.keyPath('cors_origins')}[${i}]`;
    const origin = asString(item);
    const expected = 'an origin like "https://grafana.example.com:3000" (scheme, host and port only), or "*"';
    if (origin === undefined) invalid(section.ctx, path, item.pos, expected, item.kind === 'map' ? 'a mapping' : 'a list');
    if (origin === '*') return origin;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) {
      invalid(section.ctx, path, item.pos, expected, JSON.stringify(origin));
    }
    return origin;
  });
}

/** Bearer tokens of the HTTP API. Empty items are dropped (`"${TOKEN:-}"` unset: no token); messages never show a token. */
function authTokens(section: Section): string[] {
  const items = section.list('auth_tokens');
  if (items === undefined) return DEFAULT_CONFIG.api.authTokens.slice();
  const tokens: string[] = [];
  items.forEach((item, i) => {
    const path = `${section.keyPath('auth_tokens')}[${i}]`;
    const token = asString(item);
    if (token === undefined) invalid(section.ctx, path, item.pos, 'a string (the token, best given as "${VAR}")', item.kind === 'map' ? 'a mapping' : 'a list');
    if (token === '') return;
    if (token.length < 16 || token.length > 512 || !/^[\x21-\x7e]+$/.test(token)) {
      invalid(section.ctx, path, item.pos, 'a token of 16 to 512 printable ASCII characters without spaces', `a value of ${token.length} characters (not shown)`);
    }
    tokens.push(token);
  });
  return tokens;
}

function readAi(section: Section): AiConfig {
  const defaults = DEFAULT_CONFIG.ai;
  const baseUrl = section.string('base_url', defaults.baseUrl);
  if (baseUrl !== '' && !/^https?:\/\/[^\s/]+/.test(baseUrl)) {
    invalid(section.ctx, section.keyPath('base_url'), section.posOf('base_url'), 'an http:// or https:// URL', JSON.stringify(baseUrl));
  }
  return {
    provider: section.string('provider', defaults.provider, { nonEmpty: true }),
    apiKey: section.string('api_key', defaults.apiKey),
    model: section.string('model', defaults.model, { nonEmpty: true }),
    baseUrl,
    rpcListenAddr: listenAddress(section, defaults.rpcListenAddr),
    timeoutMs: section.duration('timeout', defaults.timeoutMs),
    maxRetries: section.integer('max_retries', defaults.maxRetries, 0, 10),
    authToken: section.string('auth_token', defaults.authToken),
    maxSessions: section.integer('max_sessions', defaults.maxSessions, 1, 10_000),
    maxBufferedChunks: section.integer('max_buffered_chunks', defaults.maxBufferedChunks, 1, 1_000_000),
    sessionTtlMs: section.duration('session_ttl', defaults.sessionTtlMs),
    sessionIdleTimeoutMs: section.duration('session_idle_timeout', defaults.sessionIdleTimeoutMs),
  };
}

function readProbe(section: Section): ProbeConfig {
  const defaults = DEFAULT_CONFIG.probe;
  const persistence = section.child('persistence', ['enabled', 'path', 'num_workers', 'channel_buffer_size', 'encoding']);
  const subject = section.string('subject', defaults.subject, { nonEmpty: true });
  if (/[\s*>]/.test(subject)) {
    invalid(section.ctx, section.keyPath('subject'), section.posOf('subject'), 'a NATS subject without spaces or wildcards', JSON.stringify(subject));
  }
  const stream = section.string('stream', defaults.stream, { nonEmpty: true });
  // JetStream stream names may not contain spaces, dots, wildcards or path separators
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(stream)) {
    invalid(section.ctx, section.keyPath('stream'), section.posOf('stream'), 'a stream name of letters, digits, "_" and "-"', JSON.stringify(stream));
  }
  return {
    natsUrl: section.string('nats_url', defaults.natsUrl, { nonEmpty: true }),
    subject,
    format: section.oneOf('format', PROBE_FORMATS, defaults.format),
    partitions: section.integer('partitions', defaults.partitions, 1, 256),
    jetstream: section.boolean('jetstream', defaults.jetstream),
    stream,
    streamMaxAgeMs: section.duration('stream_max_age', defaults.streamMaxAgeMs),
    streamMaxBytes: section.integer('stream_max_bytes', defaults.streamMaxBytes, 1024 * 1024, Number.MAX_SAFE_INTEGER),
    persistence: {
      enabled: persistence.boolean('enabled', defaults.persistence.enabled),
      path: persistence.string('path', defaults.persistence.path, { nonEmpty: true }),
      numWorkers: persistence.integer('num_workers', defaults.persistence.numWorkers, 1, 1024),
      channelBufferSize: persistence.integer('channel_buffer_size', defaults.persistence.channelBufferSize, 1, UINT32_MAX),
      encoding: persistence.oneOf('encoding', PERSISTENCE_ENCODINGS, defaults.persistence.encoding),
    },
  };
}

const ALL_METRICS: readonly AlertMetric[] = [
  ...ALERT_METRICS_BY_TASK_KIND.exact,
  ...ALERT_METRICS_BY_TASK_KIND.heavyHitter,
  ...ALERT_METRICS_BY_TASK_KIND.superSpread,
];

interface RulePosition {
  path: string;
  taskName: Position;
  metric: Position;
}

function readAlerter(section: Section): { alerter: AlerterConfig; rulePositions: RulePosition[] } {
  const defaults = DEFAULT_CONFIG.alerter;
  const aiAnalysis = section.child('ai_analysis', ['enabled', 'service_addr', 'timeout']);
  const names = new Map<string, string>();
  const rulePositions: RulePosition[] = [];
  // Absent rules mean none: the built-in rules name the built-in tasks, which a file may not have.
  const rules = (section.list('rules') ?? []).map((raw, i): AlertRuleConfig => {
    const path = `${section.keyPath('rules')}[${i}]`;
    const rule = new Section(section.ctx, path, raw.pos, raw, ['name', 'task_name', 'metric', 'operator', 'threshold', 'for', 'cooldown']);
    const name = rule.string('name', undefined, { nonEmpty: true });
    const earlier = names.get(name);
    if (earlier !== undefined) invalid(section.ctx, rule.keyPath('name'), rule.posOf('name'), `a rule name not used by another rule (${earlier})`, JSON.stringify(name));
    names.set(name, rule.keyPath('name'));
    rulePositions.push({ path, taskName: rule.posOf('task_name'), metric: rule.posOf('metric') });
    return {
      name,
      taskName: rule.string('task_name', undefined, { nonEmpty: true }),
      metric: rule.oneOf('metric', ALL_METRICS),
      operator: rule.oneOf('operator', ALERT_OPERATORS),
      threshold: rule.number('threshold'),
      forMs: rule.duration('for', ALERT_RULE_DEFAULTS.forMs, { allowZero: true }),
      cooldownMs: rule.duration('cooldown', ALERT_RULE_DEFAULTS.cooldownMs, { allowZero: true }),
    };
  });
  const alerter: AlerterConfig = {
    enabled: section.boolean('enabled', defaults.enabled),
    checkIntervalMs: section.duration('check_interval', defaults.checkIntervalMs),
    aiAnalysis: {
      enabled: aiAnalysis.boolean('enabled', defaults.aiAnalysis.enabled),
      serviceAddr: aiAnalysis.address('service_addr', defaults.aiAnalysis.serviceAddr),
      timeoutMs: aiAnalysis.duration('timeout', defaults.aiAnalysis.timeoutMs),
    },
    notifiers: readNotifiers(section.child('notifiers', ['timeout', 'log', 'webhook'])),
    rules,
  };
  return { alerter, rulePositions };
}

function readNotifiers(section: Section): AlerterConfig['notifiers'] {
  const defaults = DEFAULT_CONFIG.alerter.notifiers;
  const log = section.child('log', ['enabled', 'stream']);
  const raw = section.get('webhook');
  // One webhook as a mapping, or several as a list of mappings.
  const entries: { path: string; raw: Raw | undefined }[] =
    raw?.kind === 'seq' ? raw.items.map((item, i) => ({ path: `${section.keyPath('webhook')}[${i}]`, raw: item })) : raw === undefined ? [] : [{ path: section.keyPath('webhook'), raw }];
  const webhooks = entries.map(({ path, raw: entry }): WebhookConfig => {
    if (entry !== undefined && entry.kind !== 'map') invalid(section.ctx, path, entry.pos, 'a mapping with url, secret, timeout, retries, format', describe(entry));
    const hook = new Section(section.ctx, path, entry?.pos ?? section.posOf('webhook'), entry, ['enabled', 'url', 'secret', 'timeout', 'retries', 'format']);
    const url = hook.string('url', undefined, { nonEmpty: true });
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      invalid(section.ctx, hook.keyPath('url'), hook.posOf('url'), 'an http:// or https:// URL', JSON.stringify(url));
    }
    return {
      enabled: hook.boolean('enabled', WEBHOOK_DEFAULTS.enabled),
      url,
      secret: hook.string('secret', WEBHOOK_DEFAULTS.secret),
      timeoutMs: hook.duration('timeout', WEBHOOK_DEFAULTS.timeoutMs),
      retries: hook.integer('retries', WEBHOOK_DEFAULTS.retries, 0, 10),
      format: hook.oneOf('format', WEBHOOK_FORMATS, WEBHOOK_DEFAULTS.format),
    };
  });
  return {
    timeoutMs: section.duration('timeout', defaults.timeoutMs),
    log: { enabled: log.boolean('enabled', defaults.log.enabled), stream: log.oneOf('stream', LOG_STREAMS, defaults.log.stream) },
    webhooks,
  };
}

function readSmtp(section: Section): SmtpConfig {
  const defaults = DEFAULT_CONFIG.smtp;
  const host = section.string('host', defaults.host);
  const from = section.string('from', defaults.from);
  let to: string[];
  const rawTo = section.get('to');
  if (rawTo?.kind === 'seq') {
    to = rawTo.items.map((item, i) => {
      const value = asString(item);
      if (value === undefined || value.trim() === '') invalid(section.ctx, `${section.keyPath('to')}[${i}]`, item.pos, 'an email address', describe(item));
      return value.trim();
    });
  } else {
    // The original's form: one comma-separated string.
    to = section
      .string('to', '')
      .split(',')
      .map((address) => address.trim())
      .filter((address) => address !== '');
  }
  for (const [key, addresses] of [['from', from === '' ? [] : [from]], ['to', to]] as const) {
    const bad = addresses.find((address) => !/^[^\s@]+@[^\s@]+$/.test(address));
    if (bad !== undefined) invalid(section.ctx, section.keyPath(key), section.posOf(key), 'an email address such as "alerts@example.com"', JSON.stringify(bad));
  }
  if (host !== '') {
    if (from === '') section.missing('from', 'a sender address because smtp.host is set');
    if (to.length === 0) section.missing('to', 'at least one recipient because smtp.host is set');
  }
  return {
    host,
    port: section.integer('port', defaults.port, 1, 65535),
    username: section.string('username', defaults.username),
    password: section.string('password', defaults.password),
    from,
    to,
    tls: section.oneOf('tls', SMTP_TLS_MODES, defaults.tls),
    caFile: section.string('ca_file', defaults.caFile),
    timeoutMs: section.duration('timeout', defaults.timeoutMs),
  };
}

/** Task names become folder names and ClickHouse keys, so they stay to a safe alphabet. */
const TASK_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const TASK_NAME_EXPECTED = 'a name of letters, digits, "_", "-" and "." (it becomes a folder name)';

function readAggregator(section: Section): AggregatorConfig {
  const defaults = DEFAULT_CONFIG.aggregator;
  const { ctx } = section;
  let types: AggregatorType[];
  if (section.has('type')) {
    // The original's first versions had a single `type: "exact"`.
    if (section.has('types')) invalid(ctx, section.keyPath('type'), section.posOf('type'), 'only aggregator.types (type is its older single-valued form)', 'both');
    types = [section.oneOf('type', AGGREGATOR_TYPES)];
  } else {
    const items = section.list('types');
    if (items === undefined) {
      types = defaults.types.slice();
    } else {
      if (items.length === 0) invalid(ctx, section.keyPath('types'), section.posOf('types'), 'a non-empty list of "exact" and/or "sketch"', 'an empty list');
      types = [];
      items.forEach((item, i) => {
        const type = oneOf(ctx, item, `${section.keyPath('types')}[${i}]`, AGGREGATOR_TYPES);
        if (types.includes(type)) invalid(ctx, `${section.keyPath('types')}[${i}]`, item.pos, 'each type at most once', `${JSON.stringify(type)} again`);
        types.push(type);
      });
    }
  }

  const taskNames = new Map<string, string>();
  const claimName = (task: Section): string => {
    const name = task.string('name', undefined, { nonEmpty: true });
    if (!TASK_NAME.test(name)) invalid(ctx, task.keyPath('name'), task.posOf('name'), TASK_NAME_EXPECTED, JSON.stringify(name));
    const earlier = taskNames.get(name);
    if (earlier !== undefined) invalid(ctx, task.keyPath('name'), task.posOf('name'), `a task name not used by another task (${earlier})`, JSON.stringify(name));
    taskNames.set(name, task.keyPath('name'));
    return name;
  };

  const exact = section.child('exact', ['writers', 'tasks']);
  const exactWriters = readWriters(exact, defaults.exact.writers);
  const exactTasks = readTaskList(exact, types.includes('exact'), 'exact', (task) => readExactTask(task, claimName), defaults.exact.tasks);
  const sketch = section.child('sketch', ['writers', 'tasks']);
  const sketchWriters = readWriters(sketch, defaults.sketch.writers);
  const sketchTasks = readTaskList(sketch, types.includes('sketch'), 'sketch', (task) => readSketchTask(task, claimName), defaults.sketch.tasks);

  const periodMs = section.duration('period', defaults.periodMs);
  // A period shorter than a snapshot interval would reset the tasks before that writer ever runs on
  // its own schedule: a config mistake, not a tuning choice, so it is an error.
  for (const [group, writers, groupSection] of [['exact', exactWriters, exact], ['sketch', sketchWriters, sketch]] as const) {
    if (!types.includes(group)) continue;
    writers.forEach((writer, i) => {
      if (!writer.enabled || writer.snapshotIntervalMs <= periodMs) return;
      const period = section.get('period');
      invalid(
        ctx,
        section.keyPath('period'),
        section.posOf('period'),
        `a period at least as long as every enabled writer's snapshot_interval (${groupSection.keyPath('writers')}[${i}].snapshot_interval is ${formatDuration(writer.snapshotIntervalMs)})`,
        period === undefined ? formatDuration(periodMs) : describe(period),
      );
    });
  }

  return {
    types,
    periodMs,
    numWorkers: section.integer('num_workers', defaults.numWorkers, 1, 1024),
    sizeOfPacketChannel: section.integer('size_of_packet_channel', defaults.sizeOfPacketChannel, 1, UINT32_MAX),
    exact: { writers: exactWriters, tasks: exactTasks },
    sketch: { writers: sketchWriters, tasks: sketchTasks },
  };
}

function readTaskList<T>(
  group: Section,
  enabled: boolean,
  groupName: AggregatorType,
  read: (task: Section) => T,
  fallback: readonly T[],
): T[] {
  const items = group.list('tasks');
  if (items === undefined) return structuredClone(fallback) as T[];
  if (items.length === 0 && enabled) {
    invalid(group.ctx, group.keyPath('tasks'), group.posOf('tasks'), `at least one task because "${groupName}" is in aggregator.types`, 'an empty list');
  }
  return items.map((raw, i) => read(taskSection(group, i, raw, groupName)));
}

const EXACT_TASK_KEYS = ['name', 'key_fields', 'num_shards'];
const SKETCH_TASK_KEYS = [
  'name',
  'skt_type',
  'flow_fields',
  'element_fields',
  'width',
  'depth',
  'size_thereshold',
  'count_thereshold',
  'm',
  'size',
  'base',
  'b',
  'seed',
];

function taskSection(group: Section, i: number, raw: Raw, groupName: AggregatorType): Section {
  return new Section(group.ctx, `${group.keyPath('tasks')}[${i}]`, raw.pos, raw, groupName === 'exact' ? EXACT_TASK_KEYS : SKETCH_TASK_KEYS);
}

function readExactTask(task: Section, claimName: (task: Section) => string): ExactTaskConfig {
  return {
    name: claimName(task),
    keyFields: task.fields('key_fields', undefined, true),
    numShards: task.limited('num_shards', TASK_LIMITS.exact.numShards, EXACT_TASK_DEFAULTS.numShards),
  };
}

function readSketchTask(task: Section, claimName: (task: Section) => string): SketchTaskConfig {
  const d = SKETCH_TASK_DEFAULTS;
  const limits = TASK_LIMITS.sketch;
  const name = claimName(task);
  const raw = task.get('skt_type');
  const sktType = raw === undefined ? task.missing('skt_type', '0 (heavy hitters) or 1 (SuperSpread)') : asNumber(raw);
  if (sktType !== 0 && sktType !== 1) invalid(task.ctx, task.keyPath('skt_type'), task.posOf('skt_type'), '0 (heavy hitters) or 1 (SuperSpread)', describe(raw));
  const seed = task.get('seed') === undefined ? undefined : task.limited('seed', limits.seed, undefined);
  const config: SketchTaskConfig = {
    name,
    sktType,
    flowFields: task.fields('flow_fields', undefined, true),
    // SuperSpread counts distinct elements, so it needs to know what an element is.
    elementFields: task.fields('element_fields', sktType === 1 ? undefined : d.elementFields.slice(), sktType === 1),
    width: task.limited('width', limits.width, d.width),
    depth: task.limited('depth', limits.depth, d.depth),
    sizeThreshold: task.limited('size_thereshold', limits.sizeThreshold, d.sizeThreshold),
    countThreshold: task.limited('count_thereshold', limits.countThreshold, d.countThreshold),
    m: task.limited('m', limits.m, d.m),
    size: task.limited('size', limits.size, d.size),
    base: task.limited('base', limits.base, d.base),
    b: task.limited('b', limits.b, d.b),
    seed,
  };
  // The cross-field limits keep the sketch's memory buildable; each is reported at the key that
  // multiplies the others (width for the table's buckets, m for SuperSpread's registers).
  const product = (key: string, limit: NumberLimit, factors: readonly number[]): void => {
    const value = factors.reduce((a, b) => a * b, 1);
    if (withinLimit(limit, value)) return;
    invalid(task.ctx, task.keyPath(key), task.posOf(key), `${limit.key} to be ${describeLimit(limit)}`, `${factors.join(' × ')} = ${value}`);
  };
  product('width', limits.buckets, [config.width, config.depth]);
  if (sktType === 1) product('m', limits.registers, [config.width, config.depth, config.m]);
  return config;
}

/** The ClickHouse store names the database in every statement, backquoted; the same alphabet as store/clickhouse-sql.ts IDENTIFIER. */
const CLICKHOUSE_DATABASE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/;
const CLICKHOUSE_DATABASE_EXPECTED = 'a database name of letters, digits, "_" and "-" (at most 128)';

const WRITER_BLOCKS: Readonly<Record<WriterType, string>> = { clickhouse: 'clickhouse', gob: 'gob', text: 'text', duckdb: 'duckdb' };

function readWriters(group: Section, fallback: readonly WriterConfig[]): WriterConfig[] {
  const items = group.list('writers');
  if (items === undefined) return structuredClone(fallback) as WriterConfig[];
  return items.map((raw, i) => {
    const writer = new Section(group.ctx, `${group.keyPath('writers')}[${i}]`, raw.pos, raw, [
      'type',
      'enabled',
      'snapshot_interval',
      'clickhouse',
      'gob',
      'text',
      'duckdb',
    ]);
    const type = writer.oneOf('type', WRITER_TYPES);
    // A block for another type would be silently ignored; most likely the type or the block is wrong.
    for (const block of Object.values(WRITER_BLOCKS)) {
      if (block !== WRITER_BLOCKS[type] && writer.has(block)) {
        invalid(writer.ctx, writer.keyPath(block), writer.posOf(block), `only a "${WRITER_BLOCKS[type]}" block for a writer of type "${type}"`, `a "${block}" block`);
      }
    }
    const result: WriterConfig = {
      type,
      enabled: writer.boolean('enabled', true),
      snapshotIntervalMs: writer.duration('snapshot_interval', DEFAULT_SNAPSHOT_INTERVAL_MS),
    };
    if (type === 'clickhouse') {
      const ch = writer.child('clickhouse', ['host', 'port', 'database', 'username', 'password', 'cloud', 'spool_path', 'spool_max_bytes']);
      result.clickhouse = {
        host: ch.string('host', CLICKHOUSE_DEFAULTS.host, { nonEmpty: true }),
        port: ch.integer('port', CLICKHOUSE_DEFAULTS.port, 1, 65535),
        database: ch.string('database', CLICKHOUSE_DEFAULTS.database, { nonEmpty: true }),
        username: ch.string('username', CLICKHOUSE_DEFAULTS.username, { nonEmpty: true }),
        password: ch.string('password', CLICKHOUSE_DEFAULTS.password),
        cloud: ch.boolean('cloud', CLICKHOUSE_DEFAULTS.cloud),
        spoolPath: ch.string('spool_path', CLICKHOUSE_DEFAULTS.spoolPath, { nonEmpty: true }),
        spoolMaxBytes: ch.integer('spool_max_bytes', CLICKHOUSE_DEFAULTS.spoolMaxBytes, 1024 * 1024, Number.MAX_SAFE_INTEGER),
      };
      const database = result.clickhouse.database;
      if (!CLICKHOUSE_DATABASE.test(database)) invalid(ch.ctx, ch.keyPath('database'), ch.posOf('database'), CLICKHOUSE_DATABASE_EXPECTED, JSON.stringify(database));
    } else if (type === 'duckdb') {
      result.path = writer.child('duckdb', ['path']).string('path', DEFAULT_DUCKDB_PATH, { nonEmpty: true });
    } else {
      result.rootPath = writer.child(type, ['root_path']).string('root_path', DEFAULT_FILE_WRITER_ROOT, { nonEmpty: true });
    }
    return result;
  });
}

/** Rules name tasks; a rule on a missing task or with a metric its task cannot produce never fires. */
function checkRulesAgainstTasks(ctx: Context, rules: readonly AlertRuleConfig[], positions: readonly RulePosition[], aggregator: AggregatorConfig): void {
  const kinds = new Map<string, keyof typeof ALERT_METRICS_BY_TASK_KIND>();
  for (const task of aggregator.exact.tasks) kinds.set(task.name, 'exact');
  for (const task of aggregator.sketch.tasks) kinds.set(task.name, task.sktType === 0 ? 'heavyHitter' : 'superSpread');
  rules.forEach((rule, i) => {
    const at = positions[i];
    if (at === undefined) return;
    const kind = kinds.get(rule.taskName);
    if (kind === undefined) {
      invalid(ctx, `${at.path}.task_name`, at.taskName, `the name of a configured task (${[...kinds.keys()].join(', ')})`, JSON.stringify(rule.taskName));
    }
    const metrics = ALERT_METRICS_BY_TASK_KIND[kind];
    if (!metrics.includes(rule.metric)) {
      const kindName = { exact: 'an exact', heavyHitter: 'a heavy-hitter (skt_type 0)', superSpread: 'a SuperSpread (skt_type 1)' }[kind];
      invalid(ctx, `${at.path}.metric`, at.metric, `a metric of ${kindName} task such as "${rule.taskName}" (${metrics.join(', ')})`, JSON.stringify(rule.metric));
    }
  });
}
