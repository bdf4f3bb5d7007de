/**
 * Fault: ClickHouse is unreachable when the engine starts and while it counts; snapshots wait in
 * the engine's spool, and once the server is back every one of them is written — the totals read
 * back equal the capture's truth.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { EngineService } from '../../src/pipeline/engine-service.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { SHARED_PCAPS, configFrom, flowKey, replayCapture, sharedPcaps, truthFlows, waitFor } from './engine-kit.js';

const skip = natsSkip() || clickHouseSkip || sharedPcaps().skip;

describe('engine with ClickHouse down', { skip }, () => {
  let nats: NatsServer;
  let clickhouse: ClickHouseServer;
  let spool: string;
  before(async () => {
    [nats, clickhouse] = await Promise.all([NatsServer.start(), ClickHouseServer.start()]);
    spool = await mkdtemp(join(tmpdir(), 'ns-engine-spool-'));
  });
  after(async () => {
    await Promise.all([nats?.dispose(), clickhouse?.stop()]);
    await rm(spool, { recursive: true, force: true });
  });

  test('snapshots taken while ClickHouse is away are spooled and all written once it is back: totals equal the truth', async () => {
    const capture = 'gnutella.pcap';
    const config = configFrom(
      `
aggregator:
  types: [exact]
  period: 720h # engine periods fall on multiples of the period since the epoch: no reset during the test
  exact:
    writers:
      - type: clickhouse
        snapshot_interval: 1s
        clickhouse: { host: 127.0.0.1, port: ${clickhouse.httpPort}, database: outage, username: default, password: "\${CH_PASSWORD}", spool_path: "${spool}" }
    tasks:
      - { name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol] }
`,
      { CH_PASSWORD: clickhouse.password },
    );
    await clickhouse.kill();
    const engine = new EngineService({
      config,
      natsUrl: nats.url,
      subject: 'gons.packets.raw',
      format: 'batch',
      ownership: PartitionOwnership.roundRobin(16, 1, 0),
      engineId: 'outage-0',
      leaderElection: false,
      workers: 0,
    });
    await engine.start(); // ClickHouse is down: the engine runs anyway
    let published = 0;
    try {
      published = await replayCapture(nats.url, join(SHARED_PCAPS, capture), { subject: 'gons.packets.raw', format: 'packet-batch', partitions: 16 });
      await waitFor(() => engine.counters.packetsAccepted === published, 30_000, () => `engine counted ${engine.counters.packetsAccepted} of ${published}`);
      // at least two interval snapshots go to the spool while the server is away
      await waitFor(async () => (await readdir(join(spool, 'outage-0')).catch(() => [])).length >= 2, 30_000, 'snapshots in the spool');
      await clickhouse.restart();
    } finally {
      const result = await engine.stop(); // final snapshot; the spool is sent
      assert.deepEqual(result.finalWriteErrors, []);
    }
    assert.deepEqual(await readdir(join(spool, 'outage-0')), [], 'the spool is empty');
    const rows = (
      await clickhouse.query(
        `SELECT SrcIP, DstIP, SrcPort, DstPort, Protocol, argMax(PacketCount, TimestampNs) AS packets, argMax(ByteCount, TimestampNs) AS bytes
         FROM outage.flow_metrics WHERE TaskName = 'per_five_tuple' GROUP BY SrcIP, DstIP, SrcPort, DstPort, Protocol FORMAT JSONEachRow`,
      )
    )
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { SrcIP: string; DstIP: string; SrcPort: number; DstPort: number; Protocol: number; packets: string; bytes: string });
    const truth = truthFlows(capture);
    const ours = new Map(rows.map((r) => [flowKey(r.SrcIP, r.DstIP, r.SrcPort, r.DstPort, r.Protocol), [Number(r.packets), Number(r.bytes)] as [number, number]]));
    assert.equal(ours.size, truth.size);
    for (const [key, counts] of truth) assert.deepEqual(ours.get(key), counts, key);
    assert.equal(
      [...truth.values()].reduce((sum, [p]) => sum + p, 0),
      published,
    );
  });
});
