/** `netspectra analyze` with a ClickHouse writer in the config, as the original's pcap-analyzer wrote there. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAnalyze } from '../../src/cli/analyze.js';
import type { CliIo } from '../../src/cli/io.js';
import { ClickHouseServer, clickHouseSkip } from '../kit/clickhouse.js';
import { SHARED_PCAPS, flowKey, sharedPcaps, truthFlows } from './engine-kit.js';

function captureIo(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stream = (append: (s: string) => void) => ({ write: (chunk: string | Uint8Array) => (append(String(chunk)), true) }) as unknown as NodeJS.WriteStream;
  return { io: { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)) }, out: () => out, err: () => err };
}

describe('analyze → ClickHouse', { skip: clickHouseSkip || sharedPcaps().skip }, () => {
  let clickhouse: ClickHouseServer;
  let folder: string;
  before(async () => {
    clickhouse = await ClickHouseServer.start();
    folder = await mkdtemp(join(tmpdir(), 'ns-analyze-ch-'));
  });
  after(async () => {
    await clickhouse?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  const config = (spool: string): string => `
aggregator:
  types: [exact]
  period: 1h
  exact:
    writers:
      - type: clickhouse
        snapshot_interval: 60s
        clickhouse: { host: 127.0.0.1, port: ${clickhouse.httpPort}, database: analyzed, username: default, password: "${clickhouse.password}", spool_path: "${spool}" }
    tasks:
      - { name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol] }
`;

  test('the configured ClickHouse writer gets every flow: totals equal the truth; with the server down they wait in the spool and the next run sends them', async () => {
    const spool = join(folder, 'spool');
    const configFile = join(folder, 'config.yaml');
    await writeFile(configFile, config(spool));
    const capture = 'gnutella.pcap';
    const read = async (): Promise<Map<string, [number, number]>> =>
      new Map(
        (
          await clickhouse.query(
            `SELECT SrcIP, DstIP, SrcPort, DstPort, Protocol, argMax(PacketCount, TimestampNs) AS p, argMax(ByteCount, TimestampNs) AS b FROM analyzed.flow_metrics GROUP BY SrcIP, DstIP, SrcPort, DstPort, Protocol FORMAT JSONEachRow`,
          )
        )
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { SrcIP: string; DstIP: string; SrcPort: number; DstPort: number; Protocol: number; p: string; b: string })
          .map((r) => [flowKey(r.SrcIP, r.DstIP, r.SrcPort, r.DstPort, r.Protocol), [Number(r.p), Number(r.b)]]),
      );
    const first = captureIo();
    assert.equal(await runAnalyze([join(SHARED_PCAPS, capture), '--config', configFile, '--no-store', '--json'], first.io), 0, first.err());
    assert.deepEqual(await read(), truthFlows(capture));

    // the server is down during a second run: the report is still printed, the snapshot is spooled
    await clickhouse.query('DROP TABLE analyzed.flow_metrics');
    await clickhouse.kill();
    const second = captureIo();
    assert.equal(await runAnalyze([join(SHARED_PCAPS, capture), '--config', configFile, '--no-store', '--json'], second.io), 0, second.err());
    assert.match(second.err(), /waiting in the spool/);
    assert.ok((JSON.parse(second.out()) as { packets: { total: number } }).packets.total > 0, 'the report is printed');
    const spooled = (await readdir(spool, { recursive: true })).filter((name) => String(name).endsWith('.nssnap'));
    assert.ok(spooled.length >= 1, 'the run\'s snapshots are in the spool');

    // the next run, server back: the spooled snapshot goes first, then its own
    await clickhouse.restart();
    const third = captureIo();
    assert.equal(await runAnalyze([join(SHARED_PCAPS, capture), '--config', configFile, '--no-store', '--json'], third.io), 0, third.err());
    assert.deepEqual((await readdir(spool, { recursive: true })).filter((name) => String(name).endsWith('.nssnap')), []);
    // both the spooled run and the third one wrote every flow (under their own RunId)
    const perRun = (await clickhouse.query('SELECT RunId, uniqExact(SrcIP, DstIP, SrcPort, DstPort, Protocol) FROM analyzed.flow_metrics GROUP BY RunId FORMAT TabSeparated'))
      .trim()
      .split('\n')
      .map((line) => Number(line.split('\t')[1]));
    const flows = truthFlows(capture).size;
    assert.deepEqual(perRun, [flows, flows], 'the spooled run and the third run');
  });
});
