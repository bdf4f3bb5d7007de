/**
 * The ClickHouse store's write throughput, against a private clickhouse-server (test/kit).
 *
 * Writes `--rows` flow rows (default 1,000,000: 5-tuple keys, 10 % IPv6) as full snapshots of
 * `--snapshot-rows` flows each, through ClickHouseStore (RowBinary), and prints rows/s. For the
 * choice of format, the same rows are also encoded by this program as TabSeparated and as
 * JSONEachRow and inserted the same way (one streamed INSERT per snapshot), and RowBinary is
 * encoded once without sending (with its deltas: one SegmentCounters lookup per row, as the store
 * does), to separate the client's cost from the server's.
 *
 *   node dist/bench/clickhouse-bench.js [--rows N] [--snapshot-rows N] [--runs N]
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { KeySpec } from '../src/model/flow-key.js';
import { formatAddressWords } from '../src/model/ip.js';
import type { FlowColumns, GroupSnapshot } from '../src/model/snapshot.js';
import { allocateFlowColumns } from '../src/model/snapshot.js';
import { FLOW_INSERT_COLUMNS, flowRows } from '../src/store/clickhouse-rows.js';
import { identifier, sql } from '../src/store/clickhouse-sql.js';
import { ClickHouseStore } from '../src/store/clickhouse-store.js';
import { SegmentCounters } from '../src/store/segment-counters.js';
import { prng } from '../test/kit/random-packets.js';
import { ClickHouseServer } from '../test/kit/clickhouse.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'snapshot-rows': { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
  },
});
const totalRows = Number(values.rows);
const perSnapshot = Number(values['snapshot-rows']);
const runs = Number(values.runs);
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const FIVE_TUPLE = new KeySpec(['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']);
const TASK = 'five_tuple';

/** `count` distinct 5-tuple flows, 10 % IPv6, with plausible counters and times. */
function syntheticFlows(count: number, seed: number, baseSeconds: number): FlowColumns {
  const random = prng(seed);
  const kw = FIVE_TUPLE.words;
  const flows = allocateFlowColumns(count, kw, 0, -1);
  for (let i = 0; i < count; i++) {
    const at = i * kw;
    const v6 = random() < 0.1;
    const family = v6 ? 6 : 4;
    if (v6) {
      flows.keys.set([0x20010db8, 0, (i >>> 16) & 0xffff, i & 0xffff, 0x20010db8, 1, 0, (random() * 65536) >>> 0], at);
    } else {
      flows.keys.set([0, 0, 0xffff, (0x0a000000 + i) >>> 0, 0, 0, 0xffff, (0xc0a80000 + ((random() * 65536) >>> 0)) >>> 0], at);
    }
    flows.keys[at + FIVE_TUPLE.portsAt] = ((((random() * 64512) >>> 0) + 1024) << 16 | [80, 443, 53][i % 3]!) >>> 0;
    flows.keys[at + FIVE_TUPLE.metaAt] = (family << 8) | (i % 2 === 0 ? 6 : 17);
    flows.packets[i] = 1 + Math.floor(random() * 1000);
    flows.bytes[i] = flows.packets[i]! * (60 + Math.floor(random() * 1400));
    flows.firstSeconds[i] = baseSeconds - 60 + Math.floor(random() * 30);
    flows.firstNanos[i] = Math.floor(random() * 1e9);
    flows.lastSeconds[i] = baseSeconds - 30 + Math.floor(random() * 30);
    flows.lastNanos[i] = Math.floor(random() * 1e9);
  }
  return flows;
}

/** Full snapshots (each of a new period, so every flow is written). */
function buildSnapshots(): GroupSnapshot[] {
  const out: GroupSnapshot[] = [];
  for (let written = 0, n = 0; written < totalRows; n++) {
    const count = Math.min(perSnapshot, totalRows - written);
    const seconds = 1_700_000_000 + n * 60;
    out.push({
      group: 'exact',
      time: { seconds, nanos: 0 },
      periodId: seconds,
      reason: 'period-end',
      tasks: [{ kind: 'exact', name: TASK, keyFields: [...FIVE_TUPLE.fields], memoryBytes: 0, flows: syntheticFlows(count, n + 1, seconds) }],
    });
    written += count;
  }
  return out;
}

/** One row's values in FLOW_INSERT_COLUMNS order, for the text formats. */
function* textRows(snapshot: GroupSnapshot): Generator<(string | number | null)[]> {
  const task = snapshot.tasks[0]!;
  if (task.kind !== 'exact') return;
  const f = task.flows;
  const kw = f.keyWords;
  const tsNs = `${snapshot.time.seconds}${String(snapshot.time.nanos).padStart(9, '0')}`;
  for (let i = 0; i < f.count; i++) {
    const at = i * kw;
    const meta = f.keys[at + FIVE_TUPLE.metaAt]!;
    const family = (meta >>> 8) & 0xff;
    const ports = f.keys[at + FIVE_TUPLE.portsAt]! >>> 0;
    yield [
      snapshot.time.seconds,
      TASK,
      tsNs,
      snapshot.periodId,
      'bench',
      'bench-engine',
      formatAddressWords(f.keys, at, family),
      formatAddressWords(f.keys, at + FIVE_TUPLE.dstAt, family),
      ports >>> 16,
      ports & 0xffff,
      meta & 0xff,
      f.firstSeconds[i]!,
      f.lastSeconds[i]!,
      `${f.firstSeconds[i]!}${String(f.firstNanos[i]!).padStart(9, '0')}`,
      `${f.lastSeconds[i]!}${String(f.lastNanos[i]!).padStart(9, '0')}`,
      f.bytes[i]!,
      f.packets[i]!,
      // every snapshot is its own period: the growth is the whole count
      f.bytes[i]!,
      f.packets[i]!,
      1,
    ];
  }
}

function* tabSeparated(snapshot: GroupSnapshot): Generator<string> {
  let lines: string[] = [];
  for (const row of textRows(snapshot)) {
    lines.push(row.map((v) => (v === null ? '\\N' : String(v))).join('\t'));
    if (lines.length === 8192) {
      yield `${lines.join('\n')}\n`;
      lines = [];
    }
  }
  if (lines.length > 0) yield `${lines.join('\n')}\n`;
}

function* jsonEachRow(snapshot: GroupSnapshot): Generator<string> {
  let lines: string[] = [];
  for (const row of textRows(snapshot)) {
    const object: Record<string, string | number | null> = {};
    FLOW_INSERT_COLUMNS.forEach((name, c) => (object[name] = row[c]!));
    lines.push(JSON.stringify(object));
    if (lines.length === 8192) {
      yield `${lines.join('\n')}\n`;
      lines = [];
    }
  }
  if (lines.length > 0) yield `${lines.join('\n')}\n`;
}

console.log('== private clickhouse-server');
const server = await ClickHouseServer.start();
const client = createClient({ url: server.url, username: server.username, password: server.password, request_timeout: 300_000, log: { level: ClickHouseLogLevel.OFF } });
try {
  const version = await (await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>();
  console.log(`  ClickHouse ${version[0]?.v}, answering ${fmt(server.startupMs)} ms after the process started`);

  const snapshots = buildSnapshots();
  console.log(`== ${fmt(totalRows)} flow rows in ${snapshots.length} snapshots of ≤ ${fmt(perSnapshot)}, ${runs} run(s) each`);

  // encoding alone, no server
  {
    const times: number[] = [];
    let bytes = 0;
    for (let run = 0; run < runs; run++) {
      bytes = 0;
      const started = performance.now();
      for (const snapshot of snapshots) {
        const task = snapshot.tasks[0]!;
        if (task.kind !== 'exact') continue;
        const deltas = new SegmentCounters(task.flows.keyWords).deltas(task.flows, -1);
        for (const chunk of flowRows([{ task, since: -1, deltas }], { time: snapshot.time, periodId: snapshot.periodId, runId: 'bench', engineId: 'bench-engine' })) bytes += chunk.length;
      }
      times.push(performance.now() - started);
    }
    console.log(`  RowBinary encoding only     ${fmt(totalRows / (median(times) / 1000)).padStart(12)} rows/s   ${fmt(bytes / totalRows, 1)} bytes/row`);
  }

  const results: { name: string; rowsPerSecond: number }[] = [];
  /** `prepare` runs untimed before each run and returns the timed writing of every snapshot. */
  const measure = async (name: string, database: string, prepare: () => Promise<() => Promise<void>>): Promise<void> => {
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      await client.command({ query: sql`TRUNCATE TABLE IF EXISTS ${identifier(database, 'flow_metrics')}`.text });
      const writeAll = await prepare();
      const started = performance.now();
      await writeAll();
      times.push(performance.now() - started);
      const count = await (await client.query({ query: sql`SELECT count() AS n FROM ${identifier(database, 'flow_metrics')}`.text, format: 'JSONEachRow' })).json<{ n: string }>();
      if (Number(count[0]?.n) !== totalRows) throw new Error(`${name}: ${count[0]?.n} rows stored, expected ${totalRows}`);
    }
    const rowsPerSecond = totalRows / (median(times) / 1000);
    results.push({ name, rowsPerSecond });
    console.log(`  ${name.padEnd(27)} ${fmt(rowsPerSecond).padStart(12)} rows/s   median ${fmt(median(times))} ms, best ${fmt(Math.min(...times))} ms`);
  };

  const connection = (database: string) => ({ host: '127.0.0.1', port: server.httpPort, database, username: server.username, password: server.password, cloud: false });
  // Stores create their database and tables; the text formats reuse a store's tables.
  const textTables = new ClickHouseStore({ connection: connection('bench_text'), runId: 'bench' });
  await textTables.start();
  await textTables.stop();

  let store: ClickHouseStore | undefined;
  await measure('ClickHouseStore (RowBinary)', 'bench_rowbinary', async () => {
    // a fresh store each run, so none remembers the previous run's snapshots
    await store?.stop();
    store = new ClickHouseStore({ connection: connection('bench_rowbinary'), runId: 'bench', engineId: 'bench-engine', requestTimeoutMs: 300_000 });
    await store.start();
    const writer = store;
    return async () => {
      for (const snapshot of snapshots) await writer.write(snapshot);
    };
  });
  const columns = FLOW_INSERT_COLUMNS.map((c) => `\`${c}\``).join(', ');
  for (const [name, encode] of [
    ['TabSeparated', tabSeparated],
    ['JSONEachRow', jsonEachRow],
  ] as const) {
    await measure(name, 'bench_text', async () => async () => {
      for (const snapshot of snapshots) {
        const result = await client.exec({ query: `INSERT INTO bench_text.flow_metrics (${columns}) FORMAT ${name}`, values: Readable.from(encode(snapshot), { objectMode: false }) });
        result.stream.resume();
        await finished(result.stream);
      }
    });
  }
  await store?.stop();
  const rowBinary = results[0]!.rowsPerSecond;
  console.log(`== RowBinary / TabSeparated ${fmt(rowBinary / results[1]!.rowsPerSecond, 2)}×, RowBinary / JSONEachRow ${fmt(rowBinary / results[2]!.rowsPerSecond, 2)}×`);
} finally {
  await client.close();
  await server.stop();
}
