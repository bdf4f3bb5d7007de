/**
 * Grafana over a real socket: the original's `POST /query` (now a real series over the range), the
 * simpod-json-datasource protocol with the plugin's own request shapes (README and DataSource.ts:
 * builder payloads arrive as text, code payloads as parsed JSON, variables as {payload: {target}}),
 * and the shipped dashboard: every query of deploy/grafana/dashboards/netspectra.json, with its
 * variables resolved through /grafana/variable as Grafana would, answered with the query
 * service's numbers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { SeriesPoint } from '../../src/model/query.js';
import type { FlowFilterRequest } from '../../src/query/query-service.js';
import { S, jsonOf, startWorld, type HttpWorld } from './http-kit.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const FROM = '2023-11-14T22:13:20.000Z'; // 1_700_000_000 s
const TO = '2023-11-14T22:17:20.000Z'; // 1_700_000_240 s
const RANGE = { from: FROM, to: TO, raw: { from: 'now-4m', to: 'now' } };

type Series = { target: string; refId?: string; datapoints: [number, number][] };
type Table = { type: 'table'; refId?: string; columns: { text: string; type: string }[]; rows: unknown[][] };

const ms = (ns: bigint): number => Number(ns / 1_000_000n);

describe('HTTP API: Grafana', () => {
  let world: HttpWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world?.close());

  const series = async (taskName: string | undefined, bucketNs: bigint, filter: FlowFilterRequest = {}): Promise<SeriesPoint[]> =>
    world.service.series({ startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S, bucketNs, filter, ...(taskName === undefined ? {} : { taskName }) });

  test("the original's POST /query: a task name gets a real bytes series over the range", async () => {
    const answer = await jsonOf<Series[]>(await world.call('/query', { json: { targets: [{ target: 'five' }], range: { from: FROM, to: TO } } }));
    // 240 s in at most 300 points, rounded up to whole seconds: 1 s buckets
    const expected = await series('five', S);
    assert.deepEqual(answer, [{ target: 'five', datapoints: expected.map((p) => [p.bytes, ms(p.bucketStartNs)]) }]);
    assert.equal(answer[0]!.datapoints.length, 240);
    const nonZero = answer[0]!.datapoints.filter(([value]) => value > 0);
    assert.deepEqual(
      nonZero.map(([, at]) => at),
      [1_700_000_059_000, 1_700_000_119_000, 1_700_000_179_000],
      'one point per snapshot, in the bucket that ends at it',
    );
    const [total] = await world.service.aggregateFlows({ taskName: 'five', startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S });
    assert.equal(
      nonZero.reduce((sum, [value]) => sum + value, 0),
      total!.bytes,
    );
    // several targets, and an interval from Grafana
    const two = await jsonOf<Series[]>(await world.call('/query', { json: { targets: [{ target: 'five', refId: 'A' }, { target: 'per_src', refId: 'B' }], range: { from: FROM, to: TO }, intervalMs: 60_000 } }));
    assert.deepEqual(
      two.map((s) => [s.target, s.refId, s.datapoints.map(([v]) => v)]),
      [
        ['five', 'A', (await series('five', 60n * S)).map((p) => p.bytes)],
        ['per_src', 'B', (await series('per_src', 60n * S)).map((p) => p.bytes)],
      ],
    );
  });

  test('GET /grafana: Test connection (token checked)', async () => {
    assert.deepEqual(await jsonOf(await world.call('/grafana')), { status: 'ok', store: 'SERVING' });
    assert.deepEqual(await jsonOf(await world.call('/grafana/')), { status: 'ok', store: 'SERVING' });
    assert.equal((await world.call('/grafana', { token: null })).status, 401);
  });

  test('POST /grafana/metrics and /metric-payload-options', async () => {
    const metrics = await jsonOf<{ value: string; label: string; payloads: { name: string; type: string }[] }[]>(await world.call('/grafana/metrics', { json: {} }));
    assert.deepEqual(
      metrics.map((m) => m.value),
      ['series', 'aggregate', 'top_flows', 'top_sources', 'top_destinations', 'heavy_hitters', 'super_spreaders', 'tasks'],
    );
    assert.deepEqual(
      metrics[0]!.payloads.map((p) => p.name),
      ['task', 'value', 'rate', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'protocol'],
    );
    // the README's second request shape: the current metric and payload
    assert.equal((await jsonOf<unknown[]>(await world.call('/grafana/metrics', { json: { metric: 'series', payload: { task: 'five' } } }))).length, 8);
    const options = async (metric: string, name: string): Promise<unknown> => jsonOf(await world.call('/grafana/metric-payload-options', { json: { metric, payload: {}, name } }));
    assert.deepEqual(await options('series', 'task'), [
      { label: 'five', value: 'five' },
      { label: 'per_src', value: 'per_src' },
    ]);
    assert.deepEqual(await options('heavy_hitters', 'task'), [{ label: 'hh_src', value: 'hh_src' }]);
    assert.deepEqual(await options('super_spreaders', 'task'), [{ label: 'ss_src', value: 'ss_src' }]);
    assert.deepEqual(await options('series', 'value'), [
      { label: 'bytes', value: 'bytes' },
      { label: 'packets', value: 'packets' },
      { label: 'flows', value: 'flows' },
    ]);
  });

  test("POST /grafana/query: the plugin's request (README) with a time series and a table", async () => {
    const request = {
      panelId: 1,
      range: RANGE,
      rangeRaw: RANGE.raw,
      interval: '30s',
      intervalMs: 30_000,
      maxDataPoints: 550,
      targets: [
        { target: 'series', refId: 'A', payload: { task: 'five', value: 'packets', rate: true } },
        { target: 'top_sources', refId: 'B', payload: { task: 'five', limit: 3 } },
        { target: 'series', refId: 'C', hide: true },
        { refId: 'D' },
      ],
      adhocFilters: [],
    };
    const [timeSeries, table, ...rest] = await jsonOf<[Series, Table]>(await world.call('/grafana/query', { json: request }));
    assert.deepEqual(rest, [], 'hidden and empty targets give nothing');
    const points = await series('five', 30n * S);
    assert.deepEqual(timeSeries, { target: 'five packets/s', refId: 'A', datapoints: points.map((p) => [p.packets / 30, ms(p.bucketStartNs)]) });
    const top = await world.service.top({ taskName: 'five', groupBy: ['SrcIP'], limit: 3, startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S });
    assert.deepEqual(table, {
      type: 'table',
      refId: 'B',
      columns: [
        { text: 'SrcIP', type: 'string' },
        { text: 'Bytes', type: 'number' },
        { text: 'Packets', type: 'number' },
        { text: 'First seen', type: 'time' },
        { text: 'Last seen', type: 'time' },
      ],
      rows: top.map((f) => [f.key.SrcIP, f.bytes, f.packets, ms(f.firstSeenNs), ms(f.lastSeenNs)]),
    });
  });

  test('builder payloads as text, ad-hoc filters, every table metric', async () => {
    const query = async (targets: unknown[], extra: object = {}): Promise<(Series | Table)[]> => jsonOf(await world.call('/grafana/query', { json: { range: RANGE, targets, ...extra } }));
    // the builder sends every payload value through toString()
    const [flows] = (await query([{ target: 'top_flows', refId: 'A', payload: { task: 'five', limit: '2', by: 'packets' } }])) as Table[];
    const top = await world.service.top({ taskName: 'five', limit: 2, by: 'packets', startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S });
    assert.deepEqual(
      flows!.columns.map((c) => c.text),
      ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol', 'Bytes', 'Packets', 'First seen', 'Last seen'],
    );
    assert.deepEqual(
      flows!.rows,
      top.map((f) => [f.key.SrcIP, f.key.DstIP, f.key.SrcPort, f.key.DstPort, f.key.Protocol, f.bytes, f.packets, ms(f.firstSeenNs), ms(f.lastSeenNs)]),
    );
    // ad-hoc filters apply to every target
    const filtered = (await query([{ target: 'series', refId: 'A', payload: { task: 'five', rate: 'false' } }], { intervalMs: 60_000, adhocFilters: [{ key: 'dst_port', operator: '=', value: '80' }] })) as Series[];
    const expected = await series('five', 60n * S, { dstPort: 80 });
    assert.deepEqual(filtered, [{ target: 'five bytes', refId: 'A', datapoints: expected.map((p) => [p.bytes, ms(p.bucketStartNs)]) }]);
    assert.ok(expected.some((p) => p.bytes > 0));
    // every exact task without a task in the payload
    const all = (await query([{ target: 'series', refId: 'A', payload: { value: 'flows' } }], { intervalMs: 120_000 })) as Series[];
    assert.deepEqual(
      all.map((s) => s.target),
      ['five flows', 'per_src flows'],
    );
    const [aggregate, hitters, spreaders, tasks] = (await query([
      { target: 'aggregate', refId: 'A', payload: {} },
      { target: 'heavy_hitters', refId: 'B', payload: { task: 'hh_src', type: 'bytes' } },
      { target: 'super_spreaders', refId: 'C', payload: '{"task": "ss_src", "limit": 1}' },
      { target: 'tasks', refId: 'D' },
    ])) as Table[];
    const totals = await world.service.aggregateFlows({ startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S });
    assert.deepEqual(
      aggregate!.rows,
      totals.map((t) => [t.taskName, t.bytes, t.packets, t.flows]),
    );
    assert.deepEqual(hitters!.rows, [['10.0.0.3', 50000]]);
    assert.deepEqual(spreaders!.columns, [
      { text: 'Flow', type: 'string' },
      { text: 'Spread', type: 'number' },
    ]);
    assert.deepEqual(spreaders!.rows, [['10.9.9.8', 500]]);
    assert.deepEqual(tasks!.rows, [
      ['five', 'exact', 'SrcIP,DstIP,SrcPort,DstPort,Protocol'],
      ['hh_src', 'heavy_hitter', ''],
      ['per_src', 'exact', 'SrcIP'],
      ['ss_src', 'super_spreader', ''],
    ]);
  });

  test('POST /grafana/variable, /tag-keys and /tag-values', async () => {
    const variable = async (body: unknown): Promise<unknown> => jsonOf(await world.call('/grafana/variable', { json: body }));
    // the plugin's MetricFindQuery: {payload: {target: <query>}, range}
    assert.deepEqual(await variable({ payload: { target: 'exact_tasks' }, range: RANGE }), [
      { __text: 'five', __value: 'five' },
      { __text: 'per_src', __value: 'per_src' },
    ]);
    assert.deepEqual(await variable({ payload: { target: 'tasks' } }), ['five', 'hh_src', 'per_src', 'ss_src'].map((t) => ({ __text: t, __value: t })));
    assert.deepEqual(await variable({ payload: { target: 'heavy_hitter_tasks' } }), [{ __text: 'hh_src', __value: 'hh_src' }]);
    assert.deepEqual(await variable({ payload: 'super_spreader_tasks' }), [{ __text: 'ss_src', __value: 'ss_src' }]);
    assert.deepEqual(await jsonOf(await world.call('/grafana/tag-keys', { json: {} })), [
      { type: 'string', text: 'src_ip' },
      { type: 'string', text: 'dst_ip' },
      { type: 'number', text: 'src_port' },
      { type: 'number', text: 'dst_port' },
      { type: 'number', text: 'protocol' },
    ]);
    const protocols = await jsonOf<{ text: string }[]>(await world.call('/grafana/tag-values', { json: { key: 'protocol' } }));
    assert.deepEqual(protocols.map((p) => p.text).sort(), ['1', '17', '58', '6']);
    const sources = await jsonOf<{ text: string }[]>(await world.call('/grafana/tag-values', { json: { key: 'src_ip', range: RANGE } }));
    const expected = new Set([
      ...(await world.service.top({ taskName: 'five', groupBy: ['SrcIP'], limit: 50, startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S })).map((f) => f.key.SrcIP),
      ...(await world.service.top({ taskName: 'per_src', groupBy: ['SrcIP'], limit: 50, startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S })).map((f) => f.key.SrcIP),
    ]);
    assert.deepEqual(new Set(sources.map((s) => s.text)), expected);
  });

  test("the shipped dashboard: every panel's query, variables resolved as Grafana does, answers the service's numbers", async () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboards/netspectra.json'), 'utf8')) as {
      templating: { list: { name: string; type: string; datasource?: { uid: string }; query?: { query: string } }[] };
      panels: { title: string; type: string; datasource: { uid: string }; targets: { refId: string; target: string; payload: string; datasource: { uid: string } }[] }[];
    };
    const datasource = parseYaml(readFileSync(join(root, 'deploy/grafana/provisioning/datasources/netspectra.yaml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string; jsonData: Record<string, string>; secureJsonData: Record<string, string> }[];
    };
    const [source] = datasource.datasources;
    assert.equal(source!.type, 'simpod-json-datasource');
    assert.match(source!.url, /\/grafana$/);
    assert.equal(source!.jsonData.httpHeaderName1, 'Authorization');
    assert.equal(source!.secureJsonData.httpHeaderValue1, 'Bearer ${NETSPECTRA_API_TOKEN}');
    const provider = parseYaml(readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/netspectra.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    assert.equal(provider.providers[0]!.type, 'file');

    // query variables, as the plugin's MetricFindQuery asks them; the first value is selected
    const values: Record<string, string> = {};
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      assert.equal(variable.datasource?.uid, source!.uid);
      const options = await jsonOf<{ __value: string }[]>(await world.call('/grafana/variable', { json: { payload: { target: variable.query!.query }, range: RANGE } }));
      assert.ok(options.length > 0, `variable ${variable.name} has values`);
      values[variable.name] = options[0]!.__value;
    }
    assert.deepEqual({ ...values }, { task: 'five', hh_task: 'hh_src', ss_task: 'ss_src' });

    const range = { startNs: 1_700_000_000n * S, endNs: 1_700_000_240n * S };
    const intervalMs = 20_000;
    assert.ok(dashboard.panels.length >= 8);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        assert.equal(target.datasource.uid, source!.uid, panel.title);
        // code mode: variables replaced in the payload text, then parsed (DataSource.processPayload)
        const payload = JSON.parse(target.payload.replace(/\$(\w+)/g, (_, name: string) => values[name] ?? `$${name}`)) as Record<string, unknown>;
        const answers = await jsonOf<(Series | Table)[]>(
          await world.call('/grafana/query', { json: { range: RANGE, intervalMs, maxDataPoints: 1000, targets: [{ refId: target.refId, target: target.target, payload }], adhocFilters: [] } }),
        );
        assert.equal(answers.length, 1, panel.title);
        const answer = answers[0]!;
        const task = payload.task as string;
        switch (target.target) {
          case 'series': {
            assert.equal(panel.type, 'timeseries');
            const value = (payload.value ?? 'bytes') as 'bytes' | 'packets' | 'flows';
            const points = await series(task, BigInt(intervalMs) * 1_000_000n);
            const divisor = payload.rate === true ? intervalMs / 1000 : 1;
            assert.deepEqual((answer as Series).datapoints, points.map((p) => [p[value] / divisor, ms(p.bucketStartNs)]), panel.title);
            assert.ok((answer as Series).datapoints.some(([v]) => v > 0), `${panel.title} shows traffic`);
            break;
          }
          case 'aggregate': {
            const totals = await world.service.aggregateFlows({ taskName: task, ...range });
            assert.deepEqual((answer as Table).rows, totals.map((t) => [t.taskName, t.bytes, t.packets, t.flows]), panel.title);
            break;
          }
          case 'top_sources':
          case 'top_flows': {
            const groupBy = target.target === 'top_sources' ? ['SrcIP'] : undefined;
            const top = await world.service.top({ taskName: task, limit: payload.limit as number, by: payload.by as 'bytes', ...range, ...(groupBy === undefined ? {} : { groupBy }) });
            assert.deepEqual(
              (answer as Table).rows.map((row) => row.slice(-4, -2)),
              top.map((f) => [f.bytes, f.packets]),
              panel.title,
            );
            assert.ok((answer as Table).rows.length > 0, panel.title);
            break;
          }
          case 'heavy_hitters':
          case 'super_spreaders': {
            const list = await world.service.heavyHitters({ taskName: task, type: target.target === 'super_spreaders' ? 2 : 0, limit: payload.limit as number, ...range });
            assert.deepEqual((answer as Table).rows, list.entries.map((e) => [e.flow, e.value]), panel.title);
            assert.ok(list.entries.length > 0, panel.title);
            break;
          }
          default:
            assert.fail(`panel ${panel.title} uses ${target.target}, which this test does not check`);
        }
      }
    }
  });
});
