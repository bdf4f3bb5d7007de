/**
 * SQL text with values bound in, for ClickHouse. ClickHouse 18.16 (Debian's package) has no
 * server-side query parameters (`{name:Type}` arrives there as an unknown setting `param_name`),
 * so every value that reaches a statement goes through this one family of functions; nothing
 * else builds SQL from values.
 *
 *   sql`SELECT count() FROM ${identifier(database, 'flow_metrics')} WHERE TaskName = ${name} AND PeriodId >= ${period}`
 *
 * What a value becomes:
 * - `string`: a quoted literal. Backslash and quote are escaped, control bytes (0x00–0x1f, 0x7f)
 *   become `\xHH`, everything else is written as is (the statement travels as UTF-8). A lone UTF-16
 *   surrogate has no UTF-8 form and cannot round-trip, so it is refused rather than replaced.
 * - `Uint8Array`: a byte string (ClickHouse strings are bytes, not necessarily UTF-8): every byte
 *   outside printable ASCII becomes `\xHH`, so invalid UTF-8 round-trips exactly.
 * - `number`: a safe integer (|n| ≤ 2^53 − 1) as decimal text; NaN, ±Infinity, fractions and
 *   unsafe integers are refused (use a bigint above 2^53). `bigint`: within Int64 ∪ UInt64.
 *   `integer(value, 'UInt16')` also checks a column type's range.
 * - `boolean`: 1 or 0. `null`: NULL. An array: `[a, b, …]` of bound elements.
 * - `Date`: `toDateTime(<unix seconds>, 'UTC')` (whole seconds, DateTime's range); or
 *   `dateTime(seconds)` for a number of seconds.
 * - a fragment made here (`sql`, `identifier`, `integer`, `dateTime`, `joinSql`): inserted as is.
 * Anything else (undefined, objects, symbols) is refused. Refusals throw NS_ERR_CLICKHOUSE_QUERY
 * before any SQL exists.
 *
 * A statement longer than the server's `max_query_size` (256 KiB by default; the data of an INSERT
 * does not count) is refused by the server: clients that bind long strings raise that setting
 * (the ClickHouse store does).
 */
import { NetSpectraError } from '../model/errors.js';

/** Only this module holds it, so only this module makes fragments: unchecked text cannot be wrapped. */
const MADE_HERE = Symbol('clickhouse-sql');

/** A piece of SQL whose every value was bound by this module. */
export class Sql {
  readonly text: string;
  constructor(token: symbol, text: string) {
    if (token !== MADE_HERE) throw new TypeError('Sql fragments are made by sql``, identifier(), integer(), dateTime() and joinSql()');
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

const trusted = (text: string): Sql => new Sql(MADE_HERE, text);

export type SqlValue = Sql | string | Uint8Array | number | bigint | boolean | null | Date | readonly SqlValue[];

export type IntegerType = 'UInt8' | 'UInt16' | 'UInt32' | 'UInt64' | 'Int8' | 'Int16' | 'Int32' | 'Int64';

/** Inclusive range of each integer column type. */
export const INTEGER_RANGES: Readonly<Record<IntegerType, readonly [bigint, bigint]>> = {
  UInt8: [0n, 255n],
  UInt16: [0n, 65535n],
  UInt32: [0n, 4294967295n],
  UInt64: [0n, 18446744073709551615n],
  Int8: [-128n, 127n],
  Int16: [-32768n, 32767n],
  Int32: [-2147483648n, 2147483647n],
  Int64: [-9223372036854775808n, 9223372036854775807n],
};

/** Unix seconds a DateTime holds (UInt32). */
const DATETIME_MAX = 4294967295;

function refuse(what: string, why: string): never {
  throw new NetSpectraError('NS_ERR_CLICKHOUSE_QUERY', `cannot bind ${what} into SQL: ${why}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'undefined';
  if (value instanceof Date) return `the date ${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()}`;
  return typeof value === 'object' ? `a value of type ${value === null ? 'null' : (value.constructor?.name ?? 'object')}` : `a ${typeof value}`;
}

const HEX = '0123456789abcdef';
const hexByte = (byte: number): string => `\\x${HEX[byte >>> 4]!}${HEX[byte & 15]!}`;

/** A JS string as a ClickHouse string literal (see the module comment). */
export function quoteString(value: string | Uint8Array): string {
  if (typeof value !== 'string') return quoteBytes(value);
  let out = "'";
  let plainFrom = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let escaped: string;
    if (c === 0x27) escaped = "\\'";
    else if (c === 0x5c) escaped = '\\\\';
    else if (c < 0x20 || c === 0x7f) escaped = hexByte(c);
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair, kept as is
        continue;
      }
      refuse(describe(value), `it holds a lone UTF-16 surrogate (0x${c.toString(16)}) at index ${i}, which has no UTF-8 form; pass the bytes as a Uint8Array`);
    } else continue;
    out += value.slice(plainFrom, i) + escaped;
    plainFrom = i + 1;
  }
  return `${out}${value.slice(plainFrom)}'`;
}

function quoteBytes(bytes: Uint8Array): string {
  const parts: string[] = ["'"];
  for (const byte of bytes) {
    if (byte === 0x27) parts.push("\\'");
    else if (byte === 0x5c) parts.push('\\\\');
    else if (byte < 0x20 || byte >= 0x7f) parts.push(hexByte(byte));
    else parts.push(String.fromCharCode(byte));
  }
  parts.push("'");
  return parts.join('');
}

/**
 * An integer as decimal text, checked against a column type's range. Numbers must be safe
 * integers (a double above 2^53 may already have lost its last digits: pass a bigint).
 */
export function integer(value: number | bigint, type: IntegerType = 'Int64'): Sql {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'number') refuse(describe(value), Number.isFinite(value) && Number.isInteger(value) ? 'it is beyond 2^53 and may have lost precision; pass a bigint' : `it is not a finite integer (${type})`);
  else refuse(describe(value), `an integer (${type}) is expected`);
  const [min, max] = INTEGER_RANGES[type];
  if (big < min || big > max) refuse(describe(value), `it is outside the range of ${type} (${min} to ${max})`);
  return trusted(big.toString());
}

/** `toDateTime(<unix seconds>, 'UTC')`: a DateTime whatever the server's time zone. Milliseconds of a Date are dropped. */
export function dateTime(value: Date | number): Sql {
  let seconds: number;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) refuse(describe(value), 'it is an invalid Date');
    seconds = Math.floor(ms / 1000);
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) seconds = value;
  else refuse(describe(value), 'a DateTime is a Date or whole unix seconds');
  if (seconds < 0 || seconds > DATETIME_MAX) refuse(describe(value), `it is outside DateTime's range (1970-01-01 to 2106-02-07, unix seconds 0 to ${DATETIME_MAX})`);
  return trusted(`toDateTime(${seconds}, 'UTC')`);
}

/** A name of a database, table or column, or a dotted path of them, backquoted. */
export function identifier(...parts: string[]): Sql {
  if (parts.length === 0) refuse('an identifier', 'it has no parts');
  return trusted(
    parts
      .map((part) => {
        if (typeof part !== 'string' || !IDENTIFIER.test(part)) refuse(describe(part), `an identifier is ${IDENTIFIER_EXPECTED}`);
        return `\`${part}\``;
      })
      .join('.'),
  );
}

/** Names of databases, tables and columns: a plain alphabet, so they also stay valid folder names. */
export const IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/;
export const IDENTIFIER_EXPECTED = 'letters, digits, "_" and "-" (at most 128, not starting with "-")';

/** One bound value as SQL text. */
export function literal(value: SqlValue): string {
  if (value instanceof Sql) return value.text;
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'number':
    case 'bigint':
      return integer(value, typeof value === 'bigint' && value > INTEGER_RANGES.Int64[1] ? 'UInt64' : 'Int64').text;
    case 'boolean':
      return value ? '1' : '0';
    case 'object':
      if (value === null) return 'NULL';
      if (value instanceof Uint8Array) return quoteBytes(value);
      if (value instanceof Date) return dateTime(value).text;
      if (Array.isArray(value)) return `[${(value as readonly SqlValue[]).map(literal).join(', ')}]`;
      break;
    default:
      break;
  }
  refuse(describe(value), 'expected a string, Uint8Array, integer, bigint, boolean, null, Date, array or a fragment made by sql``');
}

/** The tagged template: every `${value}` is bound with `literal`. */
export function sql(strings: TemplateStringsArray, ...values: readonly SqlValue[]): Sql {
  let text = strings[0]!;
  for (let i = 0; i < values.length; i++) text += literal(values[i]!) + strings[i + 1]!;
  return trusted(text);
}

/** Fragments joined by a separator (`, ` by default), e.g. for column lists. */
export function joinSql(parts: readonly Sql[], separator = ', '): Sql {
  if (!/^\s*(,|AND|OR|UNION ALL)?\s*$/i.test(separator)) refuse(describe(separator), 'a separator is a comma, whitespace, AND, OR or UNION ALL');
  return trusted(parts.map((part) => part.text).join(separator));
}
