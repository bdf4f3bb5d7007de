/**
 * Binding values into ClickHouse SQL (src/store/clickhouse-sql.ts): unit checks of the text and of
 * every refusal, then a fuzz against the real server: thousands of random strings must come back
 * byte for byte from `SELECT <literal>` and from a String column filled by INSERT … VALUES.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetSpectraError } from '../../src/model/errors.js';
import { INTEGER_RANGES, Sql, dateTime, identifier, integer, joinSql, literal, quoteString, sql, type IntegerType, type SqlValue } from '../../src/store/clickhouse-sql.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { prng } from '../kit/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';

function refused(run: () => unknown, fragment: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof NetSpectraError, `not a NetSpectraError: ${String(error)}`);
    assert.equal(error.code, 'NS_ERR_CLICKHOUSE_QUERY');
    assert.ok(error.message.includes(fragment), `${error.message} does not mention ${fragment}`);
    return true;
  });
}

test('strings are quoted with backslash escapes; control bytes become \\xHH; everything else stays', () => {
  assert.equal(quoteString(''), "''");
  assert.equal(quoteString("it's"), "'it\\'s'");
  assert.equal(quoteString('a\\b'), "'a\\\\b'");
  assert.equal(quoteString("'; DROP TABLE flow_metrics; --"), "'\\'; DROP TABLE flow_metrics; --'");
  assert.equal(quoteString('\0\n\r\t\x1f\x7f'), "'\\x00\\x0a\\x0d\\x09\\x1f\\x7f'");
  assert.equal(quoteString('é中😀'), "'é中😀'");
  assert.equal(quoteString(new Uint8Array([0x41, 0x27, 0x5c, 0x00, 0xc3, 0x28, 0xff])), "'A\\'\\\\\\x00\\xc3(\\xff'");
  assert.equal(sql`SELECT ${'x'} AS ${identifier('v')}`.text, "SELECT 'x' AS `v`");
});

test('a lone UTF-16 surrogate is refused, not replaced', () => {
  refused(() => quoteString('a\ud800b'), 'lone UTF-16 surrogate');
  refused(() => quoteString('\udc00'), 'lone UTF-16 surrogate');
  refused(() => sql`SELECT ${'x\ud83d'}`, 'lone UTF-16 surrogate');
});

test('integers: safe numbers and bigints within the type, as decimal text; anything else is refused before SQL exists', () => {
  assert.equal(sql`${0}`.text, '0');
  assert.equal(sql`${-42}`.text, '-42');
  assert.equal(sql`${Number.MAX_SAFE_INTEGER}`.text, '9007199254740991');
  assert.equal(sql`${18446744073709551615n}`.text, '18446744073709551615');
  assert.equal(sql`${-9223372036854775808n}`.text, '-9223372036854775808');
  assert.equal(integer(65535, 'UInt16').text, '65535');
  refused(() => sql`SELECT ${Number.NaN}`, 'not a finite integer');
  refused(() => sql`SELECT ${Number.POSITIVE_INFINITY}`, 'not a finite integer');
  refused(() => sql`SELECT ${1.5}`, 'not a finite integer');
  refused(() => sql`SELECT ${2 ** 53}`, 'pass a bigint');
  refused(() => sql`SELECT ${2n ** 64n}`, 'outside the range of UInt64');
  refused(() => sql`SELECT ${-(2n ** 63n) - 1n}`, 'outside the range of Int64');
  refused(() => integer(256, 'UInt8'), 'outside the range of UInt8');
  refused(() => integer(-1, 'UInt64'), 'outside the range of UInt64');
  refused(() => integer(-129n, 'Int8'), 'outside the range of Int8');
  refused(() => integer('7' as unknown as number), 'an integer (Int64) is expected');
});

test('dates, booleans, NULL, arrays, identifiers and joins', () => {
  assert.equal(sql`${new Date(Date.UTC(2023, 10, 14, 22, 13, 20, 999))}`.text, "toDateTime(1700000000, 'UTC')");
  assert.equal(dateTime(0).text, "toDateTime(0, 'UTC')");
  refused(() => dateTime(new Date(Number.NaN)), 'invalid Date');
  refused(() => dateTime(-1), "outside DateTime's range");
  refused(() => dateTime(2 ** 32), "outside DateTime's range");
  refused(() => dateTime(1.5), 'whole unix seconds');
  assert.equal(sql`${true}, ${false}, ${null}`.text, '1, 0, NULL');
  assert.equal(sql`${['a', 1, [2n, null]]}`.text, "['a', 1, [2, NULL]]");
  assert.equal(identifier('db', 'flow_metrics').text, '`db`.`flow_metrics`');
  for (const bad of ['', 'a`b', 'a b', 'a.b', '-x', 'é', 'x'.repeat(129), 'a\0']) refused(() => identifier(bad), 'an identifier is');
  refused(() => identifier(), 'no parts');
  assert.equal(joinSql([identifier('a'), identifier('b')]).text, '`a`, `b`');
  refused(() => joinSql([], '; DROP'), 'separator');
  for (const bad of [undefined, {}, Symbol('s'), () => 1, new Map()] as unknown as SqlValue[]) refused(() => literal(bad), 'expected a string');
  assert.throws(() => new Sql(Symbol('clickhouse-sql'), 'DROP TABLE x'), TypeError);
});

/** Random strings weighted towards what breaks quoting. */
function randomStrings(count: number, seed: number): string[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const pieces = [
    "'",
    "''",
    '\\',
    "\\'",
    '"',
    '`',
    ';',
    '--',
    '/*',
    '*/',
    "'; DROP TABLE fuzz; --",
    "' OR '1'='1",
    '\\N',
    '\\x41',
    '\\u0041',
    '\\0',
    '%',
    '_',
    '?',
    '{x:String}',
    '$1',
    '\n',
    '\r\n',
    '\t',
    '\0',
    '\x7f',
    'é',
    'ß',
    '中文',
    '😀',
    '\u{10ffff}',
    '\ufeff',
    '\u2028',
    '\u0085',
    '\ufffd',
    'e\u0301',
    ' ',
    'FORMAT JSON',
    'SETTINGS readonly=1',
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    // mostly short, some medium, a few very long (up to 1 MB of escapes and multi-byte text)
    const length = roll < 0.96 ? Math.floor(random() * 24) : roll < 0.998 ? 200 + Math.floor(random() * 3000) : 50_000 + Math.floor(random() * 100_000);
    const parts: string[] = [];
    for (let n = 0; n < length; n++) {
      const kind = random();
      if (kind < 0.35) parts.push(pick(pieces));
      else if (kind < 0.55) parts.push(String.fromCharCode(Math.floor(random() * 0x20))); // control characters
      else if (kind < 0.75) parts.push(String.fromCharCode(0x20 + Math.floor(random() * 0x5f))); // printable ASCII
      else parts.push(String.fromCodePoint(Math.floor(random() * 0x10ffff)).replace(/[\ud800-\udfff]/u, 'x')); // any code point but a lone surrogate
    }
    out.push(parts.join(''));
  }
  return out;
}

const hexOf = (value: string | Uint8Array): string => Buffer.from(value as string).toString('hex').toUpperCase();

describe('binding against the real server', { skip: clickHouseSkip }, () => {
  let server: ClickHouseServer;
  let store: ClickHouseStore;
  const table = identifier('sql_fuzz', 'strings');

  before(async () => {
    server = await ClickHouseServer.start();
    // the store's client (max_query_size raised, errors as NetSpectraErrors) runs the statements
    store = new ClickHouseStore({
      connection: { host: '127.0.0.1', port: server.httpPort, database: 'sql_fuzz', username: server.username, password: server.password, cloud: false },
      runId: 'fuzz',
    });
    await store.start();
    await store.command(sql`CREATE TABLE ${table} (Id UInt32, Text String) ENGINE = MergeTree() ORDER BY Id`);
  });
  after(async () => {
    await store?.stop();
    await server?.stop();
  });

  test('3,000 random strings round-trip exactly through SELECT <literal>, one statement each and in batches', async () => {
    const strings = randomStrings(3000, 1);
    assert.ok(strings.some((s) => s.length > 100_000));
    // one statement per string for the first 300 (the literal alone in the select list) …
    for (const text of strings.slice(0, 300)) {
      const [row] = await store.select<{ v: string; h: string }>(sql`SELECT ${text} AS v, hex(${text}) AS h`);
      assert.equal(row?.h, hexOf(text));
      assert.equal(row?.v, text);
    }
    // … and all of them 100 to a statement
    for (let from = 0; from < strings.length; from += 100) {
      const batch = strings.slice(from, from + 100);
      const [row] = await store.select<Record<string, string>>(joinSelect(batch.map((text, i) => sql`hex(${text}) AS ${identifier(`h${i}`)}`)));
      batch.forEach((text, i) => assert.equal(row?.[`h${i}`], hexOf(text), `string ${from + i}: ${JSON.stringify(text.slice(0, 80))}`));
    }
  });

  test('and through INSERT … VALUES into a String column and SELECT back', async () => {
    const strings = randomStrings(3000, 2);
    for (let from = 0; from < strings.length; from += 500) {
      const rows = strings.slice(from, from + 500).map((text, i) => sql`(${from + i}, ${text})`);
      await store.command(sql`INSERT INTO ${table} (Id, Text) VALUES ${joinSql(rows)}`);
    }
    const back = await store.select<{ Id: number; Text: string; h: string }>(sql`SELECT Id, Text, hex(Text) AS h FROM ${table} ORDER BY Id`);
    assert.equal(back.length, strings.length);
    for (const row of back) {
      assert.equal(row.h, hexOf(strings[row.Id]!), `string ${row.Id}`);
      assert.equal(row.Text, strings[row.Id]);
    }
  });

  test('byte strings with invalid UTF-8 round-trip byte for byte', async () => {
    const random = prng(3);
    const samples = Array.from({ length: 500 }, () => Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
    samples.push(Uint8Array.from({ length: 256 }, (_, i) => i));
    const [row] = await store.select<Record<string, string>>(joinSelect(samples.map((bytes, i) => sql`hex(${bytes}) AS ${identifier(`h${i}`)}`)));
    samples.forEach((bytes, i) => assert.equal(row?.[`h${i}`], hexOf(bytes), `sample ${i}`));
  });

  test('integers at the edges of every type, dates and arrays come back as bound', async () => {
    for (const [type, [min, max]] of Object.entries(INTEGER_RANGES) as [IntegerType, readonly [bigint, bigint]][]) {
      for (const value of [min, max, 0n]) {
        const [row] = await store.select<{ s: string }>(sql`SELECT toString(${integer(value, type)}) AS s`);
        assert.equal(row?.s, value.toString(), `${type} ${value}`);
      }
    }
    const [row] = await store.select<{ t: number; a: string[]; n: number[] }>(
      sql`SELECT toUnixTimestamp(${new Date(Date.UTC(2023, 10, 14, 22, 13, 20))}) AS t, ${["it's", '\\', '\0']} AS a, ${[1, -2, 3]} AS n`,
    );
    assert.deepEqual(row, { t: 1_700_000_000, a: ["it's", '\\', '\0'], n: [1, -2, 3] });
  });
});

/** `SELECT a, b, c` from bound select-list items. */
function joinSelect(items: readonly Sql[]): Sql {
  return sql`SELECT ${joinSql(items)}`;
}
