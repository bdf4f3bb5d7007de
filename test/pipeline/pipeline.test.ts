/**
 * The pipeline component on its own: one source through the engine to the writers and the
 * alerter, with one lifecycle and one failure path. The sources are the real capture-file source
 * and, for failures, a source of this file that delivers real packets and then fails as a real one
 * does (an input that ends in an error with a code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFileSource } from '../../src/capture/capture-sources.js';
import { parseConfig } from '../../src/config/load.js';
import { CaptureDecoder } from '../../src/decode/index.js';
import { NetSpectraError } from '../../src/model/errors.js';
import type { BatchPool, PacketBatch } from '../../src/model/packet.js';
import type { PacketSource, PacketSourceStats, SourceContext } from '../../src/model/ports.js';
import { PrometheusText } from '../../src/model/prometheus-text.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { QueryService } from '../../src/query/query-service.js';
import { ethernetFrame, ipv4Packet, pcapFile } from '../decode/capture-writer.js';

const config = parseConfig(`
aggregator:
  num_workers: 1
  period: 1h
alerter:
  check_interval: 10s
  rules:
    - {name: Busy_Source, task_name: per_src_ip, metric: total_packets, operator: ">", threshold: 500}
`);

/** `count` UDP packets from 10.0.0.1 to 10.0.0.2, one per millisecond. */
function capture(count: number): Uint8Array {
  return pcapFile(
    Array.from({ length: count }, (_, i) => ({
      data: ethernetFrame(0x0800, ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: 1000 + (i % 7), dstPort: 53, payloadLength: 20 })),
      seconds: 1_700_000_000 + Math.floor(i / 1000),
      fraction: (i % 1000) * 1000,
    })),
  );
}

/** Delivers the packets of a capture, then fails with NS_ERR_CAPTURE_LIVE as a lost tcpdump does. */
class FailingSource implements PacketSource {
  readonly description = 'failing';
  readonly inputs = ['failing'];
  readonly timing = 'wall' as const;
  readonly #bytes: Uint8Array;
  #pool: BatchPool | undefined;
  #stats = { batches: 0, packets: 0 };

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get stats(): PacketSourceStats {
    return { ...this.#stats, inputErrors: [] };
  }

  async start(context: SourceContext): Promise<void> {
    this.#pool = context.pool;
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    const bytes = this.#bytes;
    const decoder = new CaptureDecoder({ name: 'failing', pool: this.#pool! });
    for await (const batch of decoder.decode((async function* () {
      yield bytes;
    })())) {
      this.#stats.batches++;
      this.#stats.packets += batch.count;
      yield batch;
    }
    throw new NetSpectraError('NS_ERR_CAPTURE_LIVE', 'cannot capture on test0: the interface went down');
  }

  async stop(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {}
}

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ns-pipeline-'));
  await writeFile(join(dir, 'a.pcap'), capture(3000));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function storedPackets(path: string): Promise<number | undefined> {
  await using store = new DuckDbQueryStore({ path });
  await store.start();
  const [totals] = await new QueryService(store).aggregateFlows({ taskName: 'per_five_tuple' });
  return totals?.packets;
}

test('a file source runs to its end: final snapshot stored, alert notice recorded, done emitted once; stop() gives the same result twice', async () => {
  const storePath = join(dir, 'files.duckdb');
  const pipeline = new Pipeline({ config, source: new CaptureFileSource({ files: [join(dir, 'a.pcap')] }), tool: 'analyze', engineId: 'test', workers: 0, store: storePath });
  let done = 0;
  pipeline.on('done', () => done++);
  await pipeline.start();
  await new Promise<void>((resolve) => (pipeline.isDone ? resolve() : pipeline.once('done', resolve)));
  const text = new PrometheusText();
  await pipeline.addMetrics(text);
  const metrics = text.toString();
  const first = await pipeline.stop();
  const second = await pipeline.stop();
  // notices are stored behind the evaluation: counted once the recorder has drained, at stop
  const after = new PrometheusText();
  await pipeline.addMetrics(after);
  assert.equal(done, 1);
  assert.equal(first, second);
  assert.equal(first.failure, undefined);
  assert.equal(first.finalSnapshot, true);
  assert.deepEqual(first.finalWriteErrors, []);
  assert.deepEqual(pipeline.counters.packets, 3000);
  assert.ok(first.taskStats.some((t) => t.name === 'per_five_tuple' && t.flows === 7));
  // every part contributes its families: the engine, the tasks, the writers, the alerter and its store
  assert.match(metrics, /^netspectra_engine_packets_accepted_total 3000$/m);
  assert.match(metrics, /^netspectra_engine_task_flows\{task="per_five_tuple",kind="exact"\} 7$/m);
  assert.match(metrics, /^netspectra_engine_writer_up\{writer="duckdb:[^"]+files\.duckdb"\} 1$/m);
  assert.match(metrics, /^netspectra_alert_notifications_total 1$/m);
  assert.match(after.toString(), /^netspectra_alert_notices_stored_total 1$/m);
  assert.equal(await storedPackets(storePath), 3000);
});

test('a source that fails: one failed event with its code, what was counted still gets its final snapshot', async () => {
  const storePath = join(dir, 'failing.duckdb');
  await using pipeline = new Pipeline({ config, source: new FailingSource(capture(2500)), tool: 'engine', engineId: 'test', workers: 0, store: storePath, alerting: false });
  const failures: NetSpectraError[] = [];
  pipeline.on('failed', (error) => failures.push(error));
  await pipeline.start();
  await new Promise<void>((resolve) => (pipeline.isDone ? resolve() : pipeline.once('done', resolve)));
  const result = await pipeline.stop();
  assert.deepEqual(
    failures.map((f) => f.code),
    ['NS_ERR_CAPTURE_LIVE'],
  );
  assert.equal(result.failure?.code, 'NS_ERR_CAPTURE_LIVE');
  assert.equal(result.finalSnapshot, true);
  assert.ok(pipeline.healthReasons(false).some((r) => r.includes('NS_ERR_CAPTURE_LIVE') || r.includes('went down')));
  assert.equal(await storedPackets(storePath), 2500);
});

test('a store that cannot be opened fails start() with its code and leaves nothing running', async () => {
  await writeFile(join(dir, 'not-a-db.duckdb'), 'this is not a DuckDB file');
  const pipeline = new Pipeline({ config, source: new CaptureFileSource({ files: [join(dir, 'a.pcap')] }), tool: 'analyze', engineId: 'test', workers: 1, store: join(dir, 'not-a-db.duckdb') });
  await assert.rejects(pipeline.start(), (error: unknown) => error instanceof NetSpectraError && error.code.startsWith('NS_ERR_STORE'));
  const result = await pipeline.stop();
  assert.equal(result.finalSnapshot, false);
  assert.equal(pipeline.counters.packets, 0);
});
