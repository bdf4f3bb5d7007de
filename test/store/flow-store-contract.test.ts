/**
 * One contract, every flow store (hono's `common.case.test.ts` pattern): what the embedded DuckDB
 * store and the ClickHouse store must both do with snapshots, read back through the original's
 * columns and queries. Store-specific behaviour (file layouts, schema upgrades, connection errors)
 * is tested beside each store.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@clickhouse/client';
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import { formatIPv6Words } from '../../src/model/ip.js';
import type { SnapshotWriter } from '../../src/model/ports.js';
import type { GroupSnapshot } from '../../src/model/snapshot.js';
import { identifier, sql } from '../../src/store/clickhouse-sql.js';
import { ClickHouseStore } from '../../src/store/clickhouse-store.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { fillBatches, randomPackets, referenceFlows } from '../kit/random-packets.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { FIVE_TUPLE, exactSnapshot, sketchSnapshot, srcAddressFlows } from '../kit/snapshots.js';

/** A flow_metrics row with the original's columns and ours, normalised across stores. */
interface FlowRow {
  TaskName: string;
  SrcIP: string | null;
  DstIP: string | null;
  SrcPort: number | null;
  DstPort: number | null;
  Protocol: number | null;
  ByteCount: number;
  PacketCount: number;
  /** Whole unix seconds (the original's DateTime columns). */
  Timestamp: number;
  StartTime: number;
  EndTime: number;
  TimestampNs: string;
  StartTimeNs: string;
  EndTimeNs: string;
  PeriodId: number;
  RunId: string;
}

interface HeavyHitterRow {
  TaskName: string;
  Flow: string;
  Value: number;
  Type: number;
  Timestamp: number;
  TimestampNs: string;
  PeriodId: number;
  RunId: string;
}

interface StoreUnderTest {
  writer: SnapshotWriter;
  flows(): Promise<FlowRow[]>;
  heavyHitters(): Promise<HeavyHitterRow[]>;
  /** Runs one of the original's queries, verbatim (unqualified table names), and returns its rows. */
  original(query: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

interface StoreFactory {
  name: string;
  skip: string | false;
  open(runId: string): Promise<StoreUnderTest>;
  teardown(): Promise<void>;
}

const FLOW_COLUMNS = 'TaskName, SrcIP, DstIP, SrcPort, DstPort, Protocol, ByteCount, PacketCount';

const normaliseFlow = (row: Record<string, unknown>): FlowRow => ({
  TaskName: String(row.TaskName),
  SrcIP: row.SrcIP as string | null,
  DstIP: row.DstIP as string | null,
  SrcPort: row.SrcPort === null ? null : Number(row.SrcPort),
  DstPort: row.DstPort === null ? null : Number(row.DstPort),
  Protocol: row.Protocol === null ? null : Number(row.Protocol),
  ByteCount: Number(row.ByteCount),
  PacketCount: Number(row.PacketCount),
  Timestamp: Number(row.ts),
  StartTime: Number(row.st),
  EndTime: Number(row.et),
  TimestampNs: String(row.TimestampNs),
  StartTimeNs: String(row.StartTimeNs),
  EndTimeNs: String(row.EndTimeNs),
  PeriodId: Number(row.PeriodId),
  RunId: String(row.RunId),
});

const normaliseHeavyHitter = (row: Record<string, unknown>): HeavyHitterRow => ({
  TaskName: String(row.TaskName),
  Flow: String(row.Flow),
  Value: Number(row.Value),
  Type: Number(row.Type),
  Timestamp: Number(row.ts),
  TimestampNs: String(row.TimestampNs),
  PeriodId: Number(row.PeriodId),
  RunId: String(row.RunId),
});

const duckDb: StoreFactory = {
  name: 'DuckDB store',
  skip: false,
  async open(runId) {
    const store = new DuckDbStore({ path: ':memory:', runId, inputs: [], tool: 'test' });
    await store.start();
    const rows = async (query: string): Promise<Record<string, unknown>[]> => (await store.connection.runAndReadAll(query)).getRowObjectsJS();
    return {
      writer: store,
      flows: async () =>
        (
          await rows(
            `SELECT ${FLOW_COLUMNS}, floor(epoch(Timestamp)) ts, floor(epoch(StartTime)) st, floor(epoch(EndTime)) et,
                    TimestampNs::VARCHAR TimestampNs, StartTimeNs::VARCHAR StartTimeNs, EndTimeNs::VARCHAR EndTimeNs, PeriodId, RunId FROM flow_metrics`,
          )
        ).map(normaliseFlow),
      heavyHitters: async () =>
        (await rows('SELECT TaskName, Flow, Value, Type, floor(epoch(Timestamp)) ts, TimestampNs::VARCHAR TimestampNs, PeriodId, RunId FROM heavy_hitters')).map(normaliseHeavyHitter),
      original: rows,
      close: () => store.stop(),
    };
  },
  async teardown() {},
};

/** The ClickHouse store on a private server (one per test file), a fresh database per store. */
function clickHouseFactory(): StoreFactory {
  let server: Promise<ClickHouseServer> | undefined;
  let databases = 0;
  return {
    name: 'ClickHouse store',
    skip: clickHouseSkip,
    async open(runId) {
      // a time zone far from UTC: what is stored must not depend on it
      server ??= ClickHouseServer.start({ timezone: 'Asia/Kolkata' });
      const running = await server;
      const database = `contract_${++databases}`;
      const connection = { host: '127.0.0.1', port: running.httpPort, database, username: running.username, password: running.password, cloud: false };
      const store = new ClickHouseStore({ connection, runId, engineId: 'engine-a' });
      await store.start();
      // the original's queries name tables without a database, as its querier's connection did
      const originalClient = createClient({ url: running.url, username: running.username, password: running.password, database });
      const table = (name: string) => identifier(database, name);
      return {
        writer: store,
        flows: async () =>
          (
            await store.select<Record<string, unknown>>(
              sql`SELECT TaskName, SrcIP, DstIP, SrcPort, DstPort, Protocol, ByteCount, PacketCount,
                         toUnixTimestamp(Timestamp) ts, toUnixTimestamp(StartTime) st, toUnixTimestamp(EndTime) et,
                         TimestampNs, StartTimeNs, EndTimeNs, PeriodId, RunId FROM ${table('flow_metrics')}`,
            )
          ).map(normaliseFlow),
        heavyHitters: async () =>
          (await store.select<Record<string, unknown>>(sql`SELECT TaskName, Flow, Value, Type, toUnixTimestamp(Timestamp) ts, TimestampNs, PeriodId, RunId FROM ${table('heavy_hitters')}`)).map(
            normaliseHeavyHitter,
          ),
        original: async (query) => (await originalClient.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>(),
        close: async () => {
          await originalClient.close();
          await store.stop();
        },
      };
    },
    async teardown() {
      if (server !== undefined) await (await server).stop();
    },
  };
}

const factories: StoreFactory[] = [duckDb, clickHouseFactory()];

/** The key of a row as referenceFlows spells it. */
function keyOf(row: Pick<FlowRow, 'SrcIP' | 'DstIP' | 'SrcPort' | 'DstPort' | 'Protocol'>): string {
  const key: Record<string, string | number> = {};
  if (row.SrcIP !== null) key.SrcIP = row.SrcIP;
  if (row.DstIP !== null) key.DstIP = row.DstIP;
  if (row.SrcPort !== null) key.SrcPort = row.SrcPort;
  if (row.DstPort !== null) key.DstPort = row.DstPort;
  if (row.Protocol !== null) key.Protocol = row.Protocol;
  return JSON.stringify(key);
}

/** The original's AggregateFlows query (internal/query/querier.go), verbatim. */
const ORIGINAL_AGGREGATE_FLOWS = `
		SELECT
			TaskName,
			SUM(LatestByteCount) AS TotalBytes,
			SUM(LatestPacketCount) AS TotalPackets
		FROM (
			SELECT
				TaskName,
				argMax(ByteCount, Timestamp) AS LatestByteCount,
				argMax(PacketCount, Timestamp) AS LatestPacketCount
			FROM flow_metrics
			GROUP BY TaskName, SrcIP, DstIP, SrcPort, DstPort, Protocol
		)
		GROUP BY TaskName
	`;

for (const factory of factories) {
  describe(`flow store contract: ${factory.name}`, { skip: factory.skip }, () => {
    after(() => factory.teardown());

    test('every flow row reads back with the original columns and our additions, and heavy hitters too', async () => {
      const store = await factory.open('run-1');
      try {
        const five = exactSnapshot(FIVE_TUPLE, 5000, 1);
        const src = exactSnapshot(['SrcIP'], 5000, 1);
        await store.writer.write(five.snapshot);
        await store.writer.write(src.snapshot);
        await store.writer.write(sketchSnapshot);
        const rows = await store.flows();
        const reference = referenceFlows(five.packets, FIVE_TUPLE);
        const fiveRows = rows.filter((r) => r.TaskName === 't_SrcIP_DstIP_SrcPort_DstPort_Protocol');
        assert.equal(fiveRows.length, reference.size);
        for (const row of fiveRows) {
          const want = reference.get(keyOf(row));
          assert.ok(want, `unexpected row ${JSON.stringify(row)}`);
          assert.equal(row.PacketCount, want.packets);
          assert.equal(row.ByteCount, want.bytes);
          assert.equal(row.StartTimeNs, String(want.first));
          assert.equal(row.EndTimeNs, String(want.last));
          assert.equal(row.StartTime, Number(want.first / 1_000_000_000n));
          assert.equal(row.EndTime, Number(want.last / 1_000_000_000n));
          assert.equal(row.Timestamp, 1_700_000_060);
          assert.equal(row.TimestampNs, '1700000060000000000');
          assert.equal(row.PeriodId, 1_699_920_000);
          assert.equal(row.RunId, 'run-1');
        }
        const srcRows = rows.filter((r) => r.TaskName === 't_SrcIP');
        assert.equal(srcRows.length, referenceFlows(src.packets, ['SrcIP']).size);
        // fields that are not in the key are NULL, as in the original's Nullable columns
        assert.ok(srcRows.every((r) => r.DstIP === null && r.SrcPort === null && r.DstPort === null && r.Protocol === null));

        const hh = (await store.heavyHitters()).sort((a, b) => a.Type - b.Type || b.Value - a.Value);
        assert.deepEqual(
          hh.map((r) => [r.TaskName, r.Flow, r.Value, r.Type]),
          [
            ['cm_src_left', '10.0.0.1', 900, 0],
            ['cm_src_left', '10.0.0.1', 123456, 1],
            ['cm_src_left', '2001:db8::1', 100000, 1],
            ['ss_src_dst', '10.9.9.9', 5012, 2],
          ],
        );
        assert.ok(hh.every((r) => r.Timestamp === 1_700_000_060 && r.TimestampNs === '1700000060000000500' && r.PeriodId === 1_699_920_000 && r.RunId === 'run-1'));

        // the original's query shapes run unchanged: the newest row per flow, and AggregateFlows
        const latest = await store.original("SELECT SrcIP, argMax(PacketCount, Timestamp) AS p FROM flow_metrics WHERE TaskName = 't_SrcIP' GROUP BY SrcIP");
        assert.equal(latest.length, srcRows.length);
        const totals = await store.original(ORIGINAL_AGGREGATE_FLOWS);
        const sum = (values: Iterable<{ packets: number; bytes: number }>): [number, number] => {
          let packets = 0;
          let bytes = 0;
          for (const v of values) {
            packets += v.packets;
            bytes += v.bytes;
          }
          return [bytes, packets];
        };
        assert.deepEqual(
          totals.map((t) => [t.TaskName, Number(t.TotalBytes), Number(t.TotalPackets)]).sort(),
          [
            ['t_SrcIP', ...sum(referenceFlows(src.packets, ['SrcIP']).values())],
            ['t_SrcIP_DstIP_SrcPort_DstPort_Protocol', ...sum(reference.values())],
          ],
        );
      } finally {
        await store.close();
      }
    });

    test('writes only flows changed since its previous snapshot of the period; a new period writes all; the newest row per flow stays exact', async () => {
      const store = await factory.open('run-2');
      try {
        const table = new ExactFlowTable(new KeySpec(['SrcIP']));
        const all = randomPackets(4000, 21, 300);
        const snapshotAt = async (seconds: number, periodId: number): Promise<void> => {
          await store.writer.write({
            group: 'exact',
            time: { seconds, nanos: 0 },
            periodId,
            reason: 'interval',
            tasks: [{ kind: 'exact', name: 'per_src', keyFields: ['SrcIP'], memoryBytes: 0, flows: table.toColumns() }],
          });
        };
        for (const b of fillBatches(all.slice(0, 3000), 512)) table.ingest(b);
        await snapshotAt(1_700_000_100, 1);
        // a few packets from only two sources
        const later = all.slice(3000).filter((p) => p.src[3] === all[0]!.src[3] || p.src[3] === all[1]!.src[3]);
        for (const b of fillBatches(later, 512)) table.ingest(b);
        await snapshotAt(1_700_000_200, 1);
        const sourcesChanged = new Set(later.map((p) => `${p.family}:${p.src.join('.')}`)).size;
        assert.ok(sourcesChanged >= 2);
        const perSnapshot = new Map<number, number>();
        for (const row of await store.flows()) perSnapshot.set(row.Timestamp, (perSnapshot.get(row.Timestamp) ?? 0) + 1);
        assert.deepEqual(
          [...perSnapshot].sort((a, b) => a[0] - b[0]),
          [
            [1_700_000_100, referenceFlows(all.slice(0, 3000), ['SrcIP']).size],
            [1_700_000_200, sourcesChanged],
          ],
        );
        const latest = await store.original('SELECT SrcIP, argMax(PacketCount, Timestamp) AS p FROM flow_metrics GROUP BY SrcIP');
        const reference = referenceFlows([...all.slice(0, 3000), ...later], ['SrcIP']);
        assert.equal(latest.length, reference.size);
        for (const { SrcIP, p } of latest) assert.equal(Number(p), reference.get(JSON.stringify({ SrcIP }))?.packets, String(SrcIP));
        // a new period writes every flow again, even unchanged ones
        await snapshotAt(1_700_000_300, 2);
        assert.equal((await store.flows()).filter((r) => r.PeriodId === 2).length, reference.size);
      } finally {
        await store.close();
      }
    });

    test('prints IPv6 as RFC 5952, exactly as the engine does, for every shape of zero runs', async () => {
      const store = await factory.open('run-v6');
      try {
        // Addresses built from groups that are mostly zero, so every run length, position and tie occurs.
        let state = 12345;
        const random = (): number => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state / 4294967296;
        };
        const addresses: number[][] = [
          [0, 0, 0, 0],
          [0, 0, 0, 1],
          [0x20010db8, 0, 0, 1],
          [0x20010db8, 0, 1, 0],
          [0x20010db8, 0x00010000, 0, 0x00010000],
          [0, 0, 0xffff, 0xc0000201], // IPv4-mapped in an IPv6 packet
          [0xfe800000, 0, 0x0211_22ff, 0xfe334455],
          [0x00010000, 0, 0, 0],
        ];
        for (let i = 0; i < 3000; i++) {
          const words: number[] = [];
          for (let w = 0; w < 4; w++) {
            const group = (): number => (random() < 0.6 ? 0 : random() < 0.5 ? 1 + Math.floor(random() * 15) : Math.floor(random() * 65536));
            words.push(((group() << 16) | group()) >>> 0);
          }
          addresses.push(words);
        }
        const snapshot: GroupSnapshot = {
          group: 'exact',
          time: { seconds: 1_700_000_000, nanos: 0 },
          periodId: 1,
          reason: 'final',
          tasks: [{ kind: 'exact', name: 'v6', keyFields: ['SrcIP'], memoryBytes: 0, flows: srcAddressFlows(addresses, 1_700_000_000) }],
        };
        await store.writer.write(snapshot);
        const rows = await store.flows();
        assert.equal(rows.length, addresses.length);
        for (const { PacketCount, SrcIP } of rows) assert.equal(SrcIP, formatIPv6Words(addresses[PacketCount - 1]!, 0), JSON.stringify(addresses[PacketCount - 1]));
      } finally {
        await store.close();
      }
    });

    test('an empty snapshot writes nothing and a later one still writes', async () => {
      const store = await factory.open('run-empty');
      try {
        const table = new ExactFlowTable(new KeySpec(['SrcIP']));
        const snapshot = (seconds: number): GroupSnapshot => ({
          group: 'exact',
          time: { seconds, nanos: 0 },
          periodId: 1,
          reason: 'interval',
          tasks: [{ kind: 'exact', name: 'quiet', keyFields: ['SrcIP'], memoryBytes: 0, flows: table.toColumns() }],
        });
        await store.writer.write(snapshot(1_700_000_000));
        await store.writer.write({ ...sketchSnapshot, tasks: [{ kind: 'super_spreader', name: 'ss', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: [] }] });
        assert.equal((await store.flows()).length, 0);
        assert.equal((await store.heavyHitters()).length, 0);
        const packets = randomPackets(100, 2);
        for (const b of fillBatches(packets, 512)) table.ingest(b);
        await store.writer.write(snapshot(1_700_000_060));
        assert.equal((await store.flows()).length, referenceFlows(packets, ['SrcIP']).size);
      } finally {
        await store.close();
      }
    });
  });
}
