/**
 * The HTTP API tests' world: an embedded store written by the real DuckDB writer (three exact
 * snapshots a minute apart — the third after a period reset — and two sketch snapshots), read by
 * the real query store, served by a real HTTP API on a loopback port it picks (port 0).
 */
import type { AlertRecord } from '../../src/model/alert.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpApi, type HttpApi, type HttpApiOptions } from '../../src/api/http-server.js';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import type { KeyFieldName } from '../../src/model/flow.js';
import type { SketchEntry } from '../../src/model/snapshot.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { fillBatches, randomPackets, type RandomPacket } from '../kit/random-packets.js';
import { FIVE_TUPLE } from '../kit/snapshots.js';

export const S = 1_000_000_000n;
export const TOKEN = 'test-token-0123456789abcdef';
export const OTHER_TOKEN = 'second-token-abcdefghijklmnop';

/** Snapshot times (s): two in period P1, the third after a reset (period P2). */
export const BATCHES = [
  { period: 1_700_000_000, at: 1_700_000_060, packets: randomPackets(1500, 21, 60, 1_700_000_001) },
  { period: 1_700_000_000, at: 1_700_000_120, packets: randomPackets(1500, 22, 60, 1_700_000_061) },
  { period: 1_700_000_150, at: 1_700_000_180, packets: randomPackets(1500, 23, 60, 1_700_000_151) },
];
export const TASKS: { name: string; fields: KeyFieldName[] }[] = [
  { name: 'five', fields: FIVE_TUPLE },
  { name: 'per_src', fields: ['SrcIP'] },
];
const hitters = (values: [string, number][]): SketchEntry[] => values.map(([flowText, value]) => ({ flow: { SrcIP: flowText }, flowText, value }));
export const SKETCHES = [
  { at: 1_700_000_060, byCount: hitters([['10.0.0.1', 900], ['10.0.0.2', 700]]), bySize: hitters([['10.0.0.1', 90000]]), spreaders: hitters([['10.9.9.9', 300]]) },
  { at: 1_700_000_180, byCount: hitters([['10.0.0.3', 400], ['2001:db8::1', 1200]]), bySize: hitters([['10.0.0.3', 50000]]), spreaders: hitters([['10.9.9.8', 500], ['10.9.9.9', 100]]) },
];
/** The test clock: a minute after the last snapshot. */
export const NOW_MS = 1_700_000_240_000;

export function allPackets(): RandomPacket[] {
  return BATCHES.flatMap((b) => b.packets);
}

export async function writeStore(path: string, alerts: readonly AlertRecord[] = []): Promise<void> {
  const writer = new DuckDbStore({ path, runId: 'run-1', inputs: [], tool: 'test' });
  await writer.start();
  try {
    const tables = new Map<string, ExactFlowTable>();
    let period = -1;
    for (const batch of BATCHES) {
      if (batch.period !== period) {
        period = batch.period;
        for (const task of TASKS) tables.set(task.name, new ExactFlowTable(new KeySpec(task.fields)));
      }
      for (const [, table] of tables) for (const b of fillBatches(batch.packets, 512)) table.ingest(b);
      await writer.write({
        group: 'exact',
        time: { seconds: batch.at, nanos: 0 },
        periodId: batch.period,
        reason: 'interval',
        tasks: TASKS.map((task) => ({ kind: 'exact', name: task.name, keyFields: task.fields, memoryBytes: 0, flows: tables.get(task.name)!.toColumns() })),
      });
    }
    for (const sketch of SKETCHES) {
      await writer.write({
        group: 'sketch',
        time: { seconds: sketch.at, nanos: 0 },
        periodId: 1_700_000_000,
        reason: 'interval',
        tasks: [
          { kind: 'heavy_hitter', name: 'hh_src', flowFields: ['SrcIP'], memoryBytes: 0, byCount: sketch.byCount, bySize: sketch.bySize },
          { kind: 'super_spreader', name: 'ss_src', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: sketch.spreaders },
        ],
      });
    }
    if (alerts.length > 0) await writer.writeAlerts(alerts);
  } finally {
    await writer.stop();
  }
}

export interface HttpWorld {
  dir: string;
  store: DuckDbQueryStore;
  service: QueryService;
  api: HttpApi;
  logs: string[];
  /** fetch against the API, with the token unless `token: null`. */
  call(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function startWorld(options: Partial<HttpApiOptions> = {}, stored: { alerts?: readonly AlertRecord[] } = {}): Promise<HttpWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'ns-http-'));
  const path = join(dir, 'store.duckdb');
  await writeStore(path, stored.alerts);
  const store = new DuckDbQueryStore({ path });
  await store.start();
  const service = new QueryService(store, { nowNs: () => BigInt(NOW_MS) * 1_000_000n });
  const logs: string[] = [];
  const api = createHttpApi({
    queryService: service,
    authTokens: [TOKEN, OTHER_TOKEN],
    listenAddr: '127.0.0.1:0',
    log: (line) => logs.push(line),
    nowMs: () => NOW_MS,
    ...options,
  });
  await api.start();
  return {
    dir,
    store,
    service,
    api,
    logs,
    async call(path, init = {}) {
      const { token = TOKEN, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${api.url}${path}`, { ...rest, headers, ...(json === undefined ? {} : { method: rest.method ?? 'POST', body: JSON.stringify(json) }) });
    },
    async close() {
      await api.stop();
      await store.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The body of a JSON answer, with its status checked. */
export async function jsonOf<T = Record<string, unknown>>(response: Response, status = 200): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`expected HTTP ${status}, got ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}
