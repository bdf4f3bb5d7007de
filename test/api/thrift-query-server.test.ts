/**
 * The Thrift QueryService over a real socket, called by the thrift library's own client with the
 * original's transport (buffered) and protocol (binary): every method, i64 values, application
 * exceptions with our codes, garbage on the socket, and a store that stops answering.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import thrift from 'thrift';
import Int64 from 'node-int64';
import { ThriftQueryClient } from '../../src/api/thrift-query-client.js';
import { ThriftQueryServer, bigToInt64, int64ToBig } from '../../src/api/thrift-query-server.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { Client } from '../../src/wire/gen/QueryService.js';
import {
  AggregateRangeRequest,
  AggregationRequest,
  FlowFilter,
  FlowListRequest,
  FlowSeriesRequest,
  HealthCheckRequest,
  HeavyHittersRequest,
  ListTasksRequest,
  SearchTasksRequest,
  SketchListRequest,
  SketchSnapshotsRequest,
  TimeRange,
  TraceFlowRequest,
} from '../../src/wire/gen/netspectra_types.js';
import { referenceFlows } from '../kit/random-packets.js';
import { FIVE_TUPLE, exactSnapshot, sketchSnapshot } from '../kit/snapshots.js';

const TASK = 't_SrcIP_DstIP_SrcPort_DstPort_Protocol';
const five = exactSnapshot(FIVE_TUPLE, 3000, 5);
const reference = referenceFlows(five.packets, FIVE_TUPLE);

describe('Thrift QueryService', () => {
  let dir = '';
  let store: DuckDbQueryStore;
  let server: ThriftQueryServer;
  let connection: ReturnType<typeof thrift.createConnection>;
  let client: Client;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ns-thrift-'));
    const path = join(dir, 'store.duckdb');
    const writer = new DuckDbStore({ path, runId: 'run-1', inputs: [], tool: 'test' });
    await writer.start();
    await writer.write(five.snapshot);
    await writer.write(sketchSnapshot);
    await writer.stop();
    store = new DuckDbQueryStore({ path });
    await store.start();
    server = new ThriftQueryServer(new QueryService(store), { listenAddr: '127.0.0.1:0' });
    await server.start();
    connection = thrift.createConnection('127.0.0.1', server.address.port, { transport: thrift.TBufferedTransport, protocol: thrift.TBinaryProtocol });
    connection.on('error', () => {});
    client = thrift.createClient(Client, connection);
  });

  after(async () => {
    connection?.end();
    await server?.stop();
    await store?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('i64 values convert exactly both ways', () => {
    for (const value of [0n, 1n, 1_700_000_060_000_000_123n, 9223372036854775807n, -5n]) assert.equal(int64ToBig(bigToInt64(value)), value);
    assert.equal(int64ToBig(new Int64(0x12345678, 0x9abcdef0)), 0x123456789abcdef0n);
  });

  test('HealthCheck and SearchTasks', async () => {
    assert.equal((await client.HealthCheck(new HealthCheckRequest())).status, 'SERVING');
    assert.deepEqual((await client.SearchTasks(new SearchTasksRequest())).task_names, ['cm_src_left', 'ss_src_dst', TASK]);
  });

  test('AggregateFlows: totals, end time, task and address filters', async () => {
    let bytes = 0;
    let packets = 0;
    for (const f of reference.values()) {
      bytes += f.bytes;
      packets += f.packets;
    }
    const all = await client.AggregateFlows(new AggregationRequest());
    assert.deepEqual(
      all.summaries.map((s) => [s.task_name, int64ToBig(s.total_bytes), int64ToBig(s.total_packets), int64ToBig(s.flow_count)]),
      [[TASK, BigInt(bytes), BigInt(packets), BigInt(reference.size)]],
    );
    // before the snapshot (at 1_700_000_060 s): nothing recorded yet
    const before = await client.AggregateFlows(new AggregationRequest({ end_time_unix_nano: bigToInt64(1_700_000_059_000_000_000n) }));
    assert.deepEqual(before.summaries, []);
    const flow = [...reference.values()][0]!;
    const matching = [...reference.values()].filter((f) => f.key.SrcIP === flow.key.SrcIP && f.key.DstPort === flow.key.DstPort);
    const filtered = await client.AggregateFlows(
      new AggregationRequest({ task_name: TASK, src_ip: String(flow.key.SrcIP), dst_port: Number(flow.key.DstPort), end_time_unix_nano: bigToInt64(1_700_000_060_000_000_000n) }),
    );
    assert.deepEqual(
      filtered.summaries.map((s) => [Number(int64ToBig(s.total_packets)), Number(int64ToBig(s.flow_count))]),
      [[matching.reduce((sum, f) => sum + f.packets, 0), matching.length]],
    );
  });

  test('TraceFlow: a flow lifecycle from its keys', async () => {
    const flow = [...reference.values()].sort((a, b) => b.packets - a.packets)[0]!;
    const flowKeys = Object.fromEntries(Object.entries(flow.key).map(([k, v]) => [k, String(v)]));
    const { lifecycle } = await client.TraceFlow(new TraceFlowRequest({ task_name: TASK, flow_keys: flowKeys }));
    assert.deepEqual(
      [int64ToBig(lifecycle.first_seen_unix_nano), int64ToBig(lifecycle.last_seen_unix_nano), int64ToBig(lifecycle.total_packets), int64ToBig(lifecycle.total_bytes)],
      [flow.first, flow.last, BigInt(flow.packets), BigInt(flow.bytes)],
    );
  });

  test('QueryHeavyHitters: packets, bytes and spread with a limit', async () => {
    const list = async (task_name: string, type: number, limit: number): Promise<[string, bigint | undefined][]> =>
      (await client.QueryHeavyHitters(new HeavyHittersRequest({ task_name, type, limit }))).hitters.map((h) => [h.flow, int64ToBig(h.value)]);
    assert.deepEqual(await list('cm_src_left', 0, 10), [['10.0.0.1', 900n]]);
    assert.deepEqual(await list('cm_src_left', 1, 10), [
      ['10.0.0.1', 123456n],
      ['2001:db8::1', 100000n],
    ]);
    assert.deepEqual(await list('cm_src_left', 1, 1), [['10.0.0.1', 123456n]]);
    assert.deepEqual(await list('ss_src_dst', 2, 10), [['10.9.9.9', 5012n]]);
  });

  test('NetSpectra additions: tasks with kinds, ranges, top, search, series, sketch lists and snapshots', async () => {
    assert.deepEqual(
      (await client.ListTasks(new ListTasksRequest())).tasks.map((t) => [t.name, t.kind, t.key_fields]),
      [
        ['cm_src_left', 'heavy_hitter', []],
        ['ss_src_dst', 'super_spreader', []],
        [TASK, 'exact', FIVE_TUPLE],
      ],
    );
    const at = 1_700_000_060_000_000_000n;
    const inRange = async (start: bigint, end: bigint): Promise<(bigint | undefined)[][]> =>
      (await client.AggregateFlowsInRange(new AggregateRangeRequest({ range: new TimeRange({ start_time_unix_nano: bigToInt64(start), end_time_unix_nano: bigToInt64(end) }) }))).summaries.map(
        (s) => [int64ToBig(s.total_packets)],
      );
    assert.deepEqual(await inRange(at - 1n, at), [[3000n]]);
    assert.deepEqual(await inRange(at, at + 1n), []);
    const bySource = referenceFlows(five.packets, ['SrcIP']);
    const top = await client.TopFlows(new FlowListRequest({ task_name: TASK, group_by: ['SrcIP'], order_by: 'packets', limit: 3 }));
    assert.deepEqual(
      top.flows.map((f) => Number(int64ToBig(f.total_packets))),
      [...bySource.values()]
        .map((f) => f.packets)
        .sort((a, b) => b - a)
        .slice(0, 3),
    );
    for (const f of top.flows) assert.equal(bySource.get(JSON.stringify({ SrcIP: f.key.SrcIP }))?.packets, Number(int64ToBig(f.total_packets)));
    const udp = [...reference.values()].filter((f) => f.key.Protocol === 17);
    const pages: string[] = [];
    for (let offset = 0; offset < 1000; offset += 50) {
      const page = await client.SearchFlows(new FlowListRequest({ task_name: TASK, filter: new FlowFilter({ protocol: 17 }), order_by: 'first_seen', ascending: true, limit: 50, offset }));
      pages.push(...page.flows.map((f) => `${f.key.SrcIP} ${f.key.DstIP} ${f.key.SrcPort} ${f.key.DstPort}`));
      if (page.flows.length < 50) break;
    }
    assert.equal(new Set(pages).size, udp.length);
    const series = await client.FlowSeries(
      new FlowSeriesRequest({ start_time_unix_nano: bigToInt64(at - 30_000_000_000n), end_time_unix_nano: bigToInt64(at + 30_000_000_000n), bucket_nanos: bigToInt64(20_000_000_000n) }),
    );
    assert.deepEqual(
      series.buckets.map((b) => [b.task_name, int64ToBig(b.bucket_start_unix_nano), int64ToBig(b.total_packets), int64ToBig(b.flow_count)]),
      [
        [TASK, at - 30_000_000_000n, 0n, 0n],
        [TASK, at - 10_000_000_000n, 3000n, BigInt(reference.size)],
        [TASK, at + 10_000_000_000n, 0n, 0n],
      ],
    );
    const list = await client.QuerySketchList(new SketchListRequest({ task_name: 'cm_src_left', type: 1, limit: 5 }));
    assert.deepEqual([int64ToBig(list.snapshot_unix_nano), list.hitters.map((h) => h.flow)], [at + 500n, ['10.0.0.1', '2001:db8::1']]);
    const none = await client.QuerySketchList(new SketchListRequest({ task_name: 'cm_src_left', type: 1, limit: 5, range: new TimeRange({ end_time_unix_nano: bigToInt64(at) }) }));
    assert.deepEqual([none.snapshot_unix_nano, none.hitters], [null, []]);
    const snapshots = await client.ListSketchSnapshots(new SketchSnapshotsRequest({ task_name: 'ss_src_dst', limit: 5 }));
    assert.deepEqual(
      snapshots.snapshots.map((s) => [int64ToBig(s.timestamp_unix_nano), s.type, s.entries]),
      [[at + 500n, 2, 1]],
    );
    await assert.rejects(client.TopFlows(new FlowListRequest({ task_name: TASK, order_by: 'first_seen', limit: 3 })), /NS_ERR_QUERY_FILTER: by must be bytes or packets/);
    await assert.rejects(client.FlowSeries(new FlowSeriesRequest({ start_time_unix_nano: bigToInt64(0n), bucket_nanos: bigToInt64(1_000_000n) })), /NS_ERR_QUERY_RANGE: the range would make/);
  });

  test('handler errors arrive as application exceptions with the code and a clear text', async () => {
    const refusal = async (call: Promise<unknown>, pattern: RegExp): Promise<void> => {
      await assert.rejects(call, (error: Error) => {
        assert.ok(error instanceof thrift.Thrift.TApplicationException, String(error));
        assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace');
        return true;
      });
    };
    await refusal(client.AggregateFlows(new AggregationRequest({ task_name: 'nope' })), /^NS_ERR_QUERY_TASK: the store holds no task named nope/);
    await refusal(client.AggregateFlows(new AggregationRequest({ src_ip: '300.1.1.1' })), /^NS_ERR_QUERY_FILTER: src_ip 300\.1\.1\.1 is not an IPv4 or IPv6 address/);
    await refusal(client.TraceFlow(new TraceFlowRequest({ task_name: TASK, flow_keys: { SrcIP: '10.255.255.255' } })), /^NS_ERR_QUERY_NOT_FOUND/);
    await refusal(client.QueryHeavyHitters(new HeavyHittersRequest({ task_name: 'cm_src_left', type: 0, limit: 0 })), /^NS_ERR_QUERY_LIMIT: limit must be an integer from 1 to 10000/);
    await refusal(client.AggregateFlows(new AggregationRequest({ end_time_unix_nano: bigToInt64(-1n) })), /^NS_ERR_QUERY_RANGE/);
    // the connection still serves
    assert.equal((await client.HealthCheck(new HealthCheckRequest())).status, 'SERVING');
  });

  test('our client maps remote codes back, and reports an unreachable server', async () => {
    const ours = await ThriftQueryClient.connect(`127.0.0.1:${server.address.port}`, { timeoutMs: 5000 });
    try {
      await assert.rejects(
        ours.call('AggregateFlows', (c) => c.AggregateFlows(new AggregationRequest({ task_name: 'nope' }))),
        { code: 'NS_ERR_QUERY_TASK' },
      );
      assert.equal((await ours.call('HealthCheck', (c) => c.HealthCheck(new HealthCheckRequest()))).status, 'SERVING');
    } finally {
      ours.close();
    }
    const closed = new ThriftQueryServer(new QueryService(store), { listenAddr: '127.0.0.1:0' });
    await closed.start();
    const port = closed.address.port;
    await closed.stop();
    await assert.rejects(ThriftQueryClient.connect(`127.0.0.1:${port}`, { timeoutMs: 2000 }), { code: 'NS_ERR_API_UNREACHABLE' });
  });

  test('garbage on a connection closes that connection only', async () => {
    const errorsBefore = server.connectionErrors;
    await new Promise<void>((resolve, reject) => {
      // a strict binary-protocol message header with version 2: no protocol version we speak
      const badVersion = Buffer.from([0x80, 0x02, 0x00, 0x01, 0, 0, 0, 11, ...Buffer.from('HealthCheck'), 0, 0, 0, 1, 0]);
      const socket = connect(server.address.port, '127.0.0.1', () => socket.write(badVersion));
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.resume();
      setTimeout(() => socket.destroy(), 3000).unref();
    });
    assert.ok(server.connectionErrors > errorsBefore, 'the bad connection was counted');
    assert.equal((await client.HealthCheck(new HealthCheckRequest())).status, 'SERVING');
  });

  test('a listen address in use is refused with NS_ERR_LISTEN', async () => {
    const second = new ThriftQueryServer(new QueryService(store), { listenAddr: `127.0.0.1:${server.address.port}` });
    await assert.rejects(second.start(), { code: 'NS_ERR_LISTEN' });
  });

  test('HealthCheck reports a store that no longer answers', async () => {
    const dead = new DuckDbQueryStore({ path: join(dir, 'store.duckdb') });
    const deadServer = new ThriftQueryServer(new QueryService(dead), { listenAddr: '127.0.0.1:0' });
    await deadServer.start();
    const ours = await ThriftQueryClient.connect(`127.0.0.1:${deadServer.address.port}`);
    try {
      const { status } = await ours.call('HealthCheck', (c) => c.HealthCheck(new HealthCheckRequest()));
      assert.match(status, /^NOT_SERVING: duckdb:.*is not open/);
    } finally {
      ours.close();
      await deadServer.stop();
    }
  });
});
