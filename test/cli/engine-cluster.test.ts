/**
 * The distributed pipeline end to end, against real servers: a real capture replayed like
 * `probe --max` → a private nats-server → two engines (engines 2, index 0 and 1) → a private
 * ClickHouse. After both engines stop (final snapshot), the per-5-tuple totals read back — the
 * newest row per flow per engine, summed over engines — equal the capture's tshark truth exactly,
 * and no 5-tuple (nor source) was counted by both engines.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { PublishFormat } from '../../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { EngineService, type EngineFormat } from '../../src/pipeline/engine-service.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { SHARED_PCAPS, configFrom, flowKey, replayCapture, sharedPcaps, truthFlows, waitFor } from './engine-kit.js';

const skip = natsSkip() || clickHouseSkip || sharedPcaps().skip;

interface FlowRow {
  EngineId: string;
  SrcIP: string;
  DstIP: string;
  SrcPort: number;
  DstPort: number;
  Protocol: number;
  packets: string;
  bytes: string;
}

describe('cluster: probe → NATS → two engines → ClickHouse', { skip }, () => {
  let nats: NatsServer;
  let clickhouse: ClickHouseServer;
  before(async () => {
    [nats, clickhouse] = await Promise.all([NatsServer.start(), ClickHouseServer.start()]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), clickhouse?.stop()]);
  });

  /** Run one capture through two engines; returns the rows of per_five_tuple and per_src_ip, newest per flow per engine. */
  async function runCluster(capture: string, format: EngineFormat, database: string, report: (line: string) => void): Promise<{ fiveTuples: FlowRow[]; sources: { EngineId: string; SrcIP: string }[]; published: number }> {
    const partitions = 16;
    const writer = (interval: string): string => `
      - type: clickhouse
        snapshot_interval: "${interval}"
        clickhouse: { host: 127.0.0.1, port: ${clickhouse.httpPort}, database: ${database}, username: default, password: "\${CH_PASSWORD}" }`;
    const config = configFrom(
      `
aggregator:
  types: [exact, sketch]
  period: 720h # engine periods fall on multiples of the period since the epoch: no reset during the test
  exact:
    writers:${writer('1s')}
    tasks:
      - { name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol] }
      - { name: per_src_ip, key_fields: [SrcIP] }
  sketch:
    writers:${writer('2s')}
    tasks:
      - { name: hh_src, skt_type: 0, flow_fields: [SrcIP], width: 1024, depth: 2, count_thereshold: 100, size_thereshold: 100000 }
`,
      { CH_PASSWORD: clickhouse.password },
    );
    const engines = [0, 1].map(
      (index) =>
        new EngineService({
          config,
          natsUrl: nats.url,
          subject: 'gons.packets.raw',
          format,
          ownership: PartitionOwnership.roundRobin(partitions, 2, index),
          engineId: `${database}-${index}`,
          leaderElection: false,
          workers: 0,
        }),
    );
    try {
      await Promise.all(engines.map((e) => e.start()));
      const publishFormat: PublishFormat = format === 'batch' ? 'packet-batch' : 'packet-info';
      const received = (): number[] => engines.map((e) => e.counters.packetsReceived);
      const handedOver = (): boolean => engines.every((e) => e.counters.packetsAccepted + e.counters.packetsNotOwned === e.counters.packetsReceived);
      // an interval snapshot between the two parts: the later rows of a flow carry its new totals
      const snapshotsBefore = (): number => Math.min(...engines.map((e) => e.counters.snapshots.exact));
      const midway = async (publishedSoFar: number): Promise<void> => {
        await waitFor(() => handedOver() && (format === 'batch' ? received()[0]! + received()[1]! : Math.min(...received())) === publishedSoFar, 30_000, 'the first part in the engines');
        const before = snapshotsBefore();
        await waitFor(() => snapshotsBefore() > before, 30_000, 'an interval snapshot of both engines');
      };
      const published = await replayCapture(nats.url, join(SHARED_PCAPS, capture), { subject: 'gons.packets.raw', format: publishFormat, partitions }, midway);
      // batch: the partitions split the packets; packet-info: every engine receives every packet
      const allThere = (): boolean => (format === 'batch' ? received()[0]! + received()[1]! === published : received().every((n) => n === published)) && handedOver();
      await waitFor(allThere, 30_000, () => `received ${JSON.stringify(received())} of ${published}`);
      const counted = engines.map((e) => e.counters.packetsAccepted);
      report(`${capture} (${format}): ${published} packets, engines counted ${counted.join(' + ')}, snapshots ${engines.map((e) => e.counters.snapshots.exact).join(', ')}`);
      assert.equal(counted[0]! + counted[1]!, published, 'each packet counted by exactly one engine');
      assert.ok(counted.every((n) => n > 0), 'both engines counted some packets');
      for (const engine of engines) {
        const c = engine.counters;
        assert.equal(c.malformed + c.missing + c.overflow + c.packetsForeignPartition, 0, JSON.stringify(c));
      }
    } finally {
      const results = await Promise.all(engines.map((e) => e.stop()));
      for (const result of results) assert.deepEqual(result.finalWriteErrors, []);
    }
    const published = engines.reduce((sum, e) => sum + e.counters.packetsAccepted, 0);
    const rows = async <T>(query: string): Promise<T[]> =>
      (await clickhouse.query(`${query} FORMAT JSONEachRow`))
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as T);
    const fiveTuples = await rows<FlowRow>(
      `SELECT EngineId, SrcIP, DstIP, SrcPort, DstPort, Protocol, argMax(PacketCount, TimestampNs) AS packets, argMax(ByteCount, TimestampNs) AS bytes
       FROM ${database}.flow_metrics WHERE TaskName = 'per_five_tuple' GROUP BY EngineId, SrcIP, DstIP, SrcPort, DstPort, Protocol`,
    );
    const sources = await rows<{ EngineId: string; SrcIP: string }>(`SELECT DISTINCT EngineId, SrcIP FROM ${database}.flow_metrics WHERE TaskName = 'per_src_ip'`);
    return { fiveTuples, sources, published };
  }

  function assertTruth(capture: string, result: Awaited<ReturnType<typeof runCluster>>, database: string): void {
    const truth = truthFlows(capture);
    const ours = new Map<string, [number, number]>();
    const engineOf = new Map<string, string>();
    const both: string[] = [];
    for (const row of result.fiveTuples) {
      const key = flowKey(row.SrcIP, row.DstIP, row.SrcPort, row.DstPort, row.Protocol);
      const seen = engineOf.get(key);
      if (seen !== undefined && seen !== row.EngineId) both.push(key);
      engineOf.set(key, row.EngineId);
      const sum = ours.get(key) ?? [0, 0];
      sum[0] += Number(row.packets);
      sum[1] += Number(row.bytes);
      ours.set(key, sum);
    }
    assert.deepEqual(both.slice(0, 5), [], `${both.length} 5-tuples counted by both engines`);
    assert.deepEqual(new Set(engineOf.values()), new Set([`${database}-0`, `${database}-1`]));
    const differing: string[] = [];
    for (const [key, counts] of truth) {
      const got = ours.get(key);
      if (got === undefined || got[0] !== counts[0] || got[1] !== counts[1]) differing.push(`${key}: truth ${counts.join('/')}, ours ${got?.join('/') ?? 'none'}`);
    }
    const extra = [...ours.keys()].filter((key) => !truth.has(key));
    assert.deepEqual(differing.slice(0, 5), [], `${differing.length} of ${truth.size} flows differ`);
    assert.deepEqual(extra.slice(0, 5), [], `${extra.length} flows the truth does not have`);
    const packets = [...truth.values()].reduce((sum, [p]) => sum + p, 0);
    assert.equal(result.published, packets);
    // the key-owner rule for a SrcIP task: every source under exactly one engine
    const owners = new Map<string, string>();
    for (const { EngineId, SrcIP } of result.sources) {
      assert.ok(owners.get(SrcIP) === undefined, `source ${SrcIP} counted by ${owners.get(SrcIP)} and ${EngineId}`);
      owners.set(SrcIP, EngineId);
    }
  }

  test('batch format, 16 partitions: per-5-tuple totals equal the truth of a 37,841-packet SYN flood from 37k spoofed sources', async (t) => {
    const capture = 'pkt.TCP.synflood.spoofed.pcap';
    const result = await runCluster(capture, 'batch', 'cluster_batch', (line) => t.diagnostic(line));
    assertTruth(capture, result, 'cluster_batch');
  });

  test('packet-info format (the original’s): every engine receives everything and keeps the sources it owns (IPv4 and IPv6)', async (t) => {
    const capture = 'gnutella.pcap';
    const result = await runCluster(capture, 'packet-info', 'cluster_info', (line) => t.diagnostic(line));
    assertTruth(capture, result, 'cluster_info');
  });
});
