/**
 * Hostile input over a real socket: malformed JSON, wrong types, unknown parameters, huge ranges
 * and limits, injection strings in every filter and name, oversized bodies and headers — each gets
 * a 4xx with `{error: {code, message}}` and a NetSpectra code, never a 5xx or a stack; the server
 * keeps answering. Then a store that fails: 503 with a clear message, /healthz still 200.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createHttpApi } from '../../src/api/http-server.js';
import { QueryService } from '../../src/query/query-service.js';
import type { FlowQueryStore } from '../../src/model/ports.js';
import { TOKEN, jsonOf, startWorld, type HttpWorld } from './http-kit.js';

interface Case {
  name: string;
  method?: string;
  path: string;
  /** A JSON value, or raw text when a string starting with `raw:`. */
  body?: unknown;
  contentType?: string;
  status: number;
  code: string;
  message?: RegExp;
}

const INJECTIONS = ["' OR 1=1 --", "five'; DROP TABLE flow_metrics; --", '"; SELECT * FROM system.users; --', '../../etc/passwd', '${jndi:ldap://x/a}', '<script>alert(1)</script>', '\u0000', '%00', '1 UNION SELECT 1'];

const CASES: Case[] = [
  // unknown and mistyped parameters
  { name: 'unknown parameter', path: '/api/v1/flows?task=five&sort=bytes', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /unknown sort/ },
  { name: 'unknown parameter on a route without any', path: '/api/v1/tasks?x=1', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'limit not a number', path: '/api/v1/top/flows?task=five&limit=ten', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /limit must be integer/ },
  { name: 'limit fractional', path: '/api/v1/top/flows?task=five&limit=1.5', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'limit huge', path: '/api/v1/top/flows?task=five&limit=100000000000', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /limit must be <= 10000/ },
  { name: 'limit zero', path: '/api/v1/flows?task=five&limit=0', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'offset negative', path: '/api/v1/flows?task=five&offset=-1', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'offset huge', path: '/api/v1/flows?task=five&offset=99999999', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'port out of range', path: '/api/v1/aggregate?dst_port=70000', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'protocol negative', path: '/api/v1/aggregate?protocol=-6', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'parameter repeated', path: '/api/v1/flows?task=five&task=per_src', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'order unknown', path: '/api/v1/flows?task=five&order=random()', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'task missing', path: '/api/v1/top/flows', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /task is required/ },
  { name: 'task unknown', path: '/api/v1/top/flows?task=nope', status: 400, code: 'NS_ERR_QUERY_TASK', message: /no task named nope \(tasks: five, hh_src, per_src, ss_src\)/ },
  { name: 'task name too long', path: `/api/v1/top/flows?task=${'a'.repeat(300)}`, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'group by a field the key lacks', path: '/api/v1/top/flows?task=per_src&group_by=DstPort', status: 400, code: 'NS_ERR_QUERY_FILTER' },
  { name: 'group by garbage', path: '/api/v1/top/flows?task=five&group_by=SrcIP;DROP', status: 400, code: 'NS_ERR_QUERY_FILTER' },
  // times and ranges
  { name: 'time unparsable', path: '/api/v1/aggregate?start=yesterday', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /start "yesterday" is not a time/ },
  { name: 'time date only', path: '/api/v1/aggregate?end=2026-11-27', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'time beyond int64', path: '/api/v1/aggregate?end=9999999999999999999', status: 400, code: 'NS_ERR_QUERY_RANGE' },
  { name: 'time ms with a fraction', path: '/api/v1/aggregate?end=1700000000000.5', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'start after end', path: '/api/v1/aggregate?start=1700000200&end=1700000100', status: 400, code: 'NS_ERR_QUERY_RANGE', message: /must be before its end/ },
  { name: 'relative time before 1970', path: '/api/v1/aggregate?start=-1000000h', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'series without start', path: '/api/v1/series?task=five', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /start is required/ },
  { name: 'series with too many buckets', path: '/api/v1/series?start=0&bucket=1ms', status: 400, code: 'NS_ERR_QUERY_RANGE', message: /at most 10000 are allowed/ },
  { name: 'series bucket below 1 ms', path: '/api/v1/series?start=-1m&bucket=10us', status: 400, code: 'NS_ERR_QUERY_LIMIT' },
  { name: 'series bucket garbage', path: '/api/v1/series?start=-1m&bucket=fortnight', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /bucket "fortnight" is not a duration/ },
  { name: 'series bucket negative', path: '/api/v1/series?start=-1m&bucket=-5m', status: 400, code: 'NS_ERR_QUERY_LIMIT' },
  { name: 'heavy hitters type unknown', path: '/api/v1/heavy-hitters?task=hh_src&type=2', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'trace without a key', path: '/api/v1/trace?task=five', status: 400, code: 'NS_ERR_QUERY_FILTER', message: /flow_keys is empty/ },
  // injection strings in every text parameter: refused or matching nothing, never an error of the store
  ...INJECTIONS.flatMap((text): Case[] => [
    { name: `src_ip ${JSON.stringify(text)}`, path: `/api/v1/aggregate?src_ip=${encodeURIComponent(text)}`, status: 400, code: 'NS_ERR_QUERY_FILTER' },
    { name: `dst_ip ${JSON.stringify(text)}`, path: `/api/v1/flows?task=five&dst_ip=${encodeURIComponent(text)}`, status: 400, code: 'NS_ERR_QUERY_FILTER' },
    { name: `task ${JSON.stringify(text)}`, path: `/api/v1/top/sources?task=${encodeURIComponent(text)}`, status: 400, code: 'NS_ERR_QUERY_TASK' },
    { name: `start ${JSON.stringify(text)}`, path: `/api/v1/aggregate?start=${encodeURIComponent(text)}`, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
    { name: `grafana target ${JSON.stringify(text)}`, method: 'POST', path: '/grafana/query', body: { targets: [{ target: text }], range: { from: '2023-11-14T22:13:20Z', to: '2023-11-14T22:16:40Z' } }, status: 400, code: 'NS_ERR_QUERY_TASK' },
    {
      name: `grafana payload task ${JSON.stringify(text)}`,
      method: 'POST',
      path: '/grafana/query',
      body: { targets: [{ target: 'top_flows', payload: { task: text, src_ip: '10.0.0.1' } }], range: { from: '2023-11-14T22:13:20Z', to: '2023-11-14T22:16:40Z' } },
      status: 400,
      code: 'NS_ERR_QUERY_TASK',
    },
  ]),
  // bodies
  { name: 'malformed JSON', method: 'POST', path: '/grafana/query', body: 'raw:{"targets": [', status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /not valid JSON/ },
  { name: 'empty JSON body', method: 'POST', path: '/query', body: 'raw:', status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'body not JSON', method: 'POST', path: '/query', body: 'raw:targets=x', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'NS_ERR_HTTP_REQUEST', message: /must be JSON/ },
  { name: 'body an array', method: 'POST', path: '/query', body: [1, 2], status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'targets a string', method: 'POST', path: '/query', body: { targets: 'five', range: { from: 'now-1h', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /targets\.0 must be object/ },
  { name: 'range missing', method: 'POST', path: '/query', body: { targets: [{ target: 'five' }] }, status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /range is required/ },
  { name: 'range from garbage', method: 'POST', path: '/query', body: { targets: [{ target: 'five' }], range: { from: 'last tuesday', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /range\.from/ },
  { name: 'range reversed', method: 'POST', path: '/query', body: { targets: [{ target: 'five' }], range: { from: 'now', to: 'now-1h' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'a huge range in 1 ms intervals', method: 'POST', path: '/query', body: { targets: [{ target: 'five' }], range: { from: '1970-01-01T00:00:00Z', to: 'now' }, intervalMs: 1 }, status: 200, code: '' },
  { name: 'too many targets', method: 'POST', path: '/query', body: { targets: Array.from({ length: 100 }, () => ({ target: 'five' })), range: { from: 'now-1h', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'payload not JSON', method: 'POST', path: '/grafana/query', body: { targets: [{ target: 'series', payload: '{task:' }], range: { from: 'now-1h', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /payload is not JSON/ },
  { name: 'payload unknown field', method: 'POST', path: '/grafana/query', body: { targets: [{ target: 'series', payload: { tsk: 'five' } }], range: { from: 'now-1h', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST', message: /tsk is not a field of series/ },
  { name: 'payload limit huge', method: 'POST', path: '/grafana/query', body: { targets: [{ target: 'top_flows', payload: { task: 'five', limit: '1e9' } }], range: { from: 'now-1h', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'payload port wrong type', method: 'POST', path: '/grafana/query', body: { targets: [{ target: 'series', payload: { dst_port: { $gt: 0 } } }], range: { from: 'now-1h', to: 'now' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'adhoc filter unknown key', method: 'POST', path: '/grafana/query', body: { targets: [{ target: 'series' }], range: { from: 'now-1h', to: 'now' }, adhocFilters: [{ key: 'password', operator: '=', value: 'x' }] }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'adhoc filter regex operator', method: 'POST', path: '/grafana/query', body: { targets: [{ target: 'series' }], range: { from: 'now-1h', to: 'now' }, adhocFilters: [{ key: 'src_ip', operator: '=~', value: '.*' }] }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'tag values of an unknown key', method: 'POST', path: '/grafana/tag-values', body: { key: 'password' }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'variable unknown', method: 'POST', path: '/grafana/variable', body: { payload: { target: 'secrets' } }, status: 400, code: 'NS_ERR_HTTP_REQUEST' },
  { name: 'body too large', method: 'POST', path: '/grafana/query', body: { targets: [], range: { from: 'now-1h', to: 'now' }, padding: 'x'.repeat(70_000) }, status: 413, code: 'NS_ERR_HTTP_REQUEST', message: /larger than the limit/ },
  // routes and methods
  { name: 'unknown route', path: '/api/v1/../v2/flows', status: 404, code: 'NS_ERR_HTTP_NOT_FOUND' },
  { name: 'wrong method', method: 'DELETE', path: '/api/v1/tasks', status: 404, code: 'NS_ERR_HTTP_NOT_FOUND' },
  { name: 'GET on a POST route', path: '/grafana/query', status: 404, code: 'NS_ERR_HTTP_NOT_FOUND' },
];

describe('HTTP API: hostile input', () => {
  let world: HttpWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world?.close());

  for (const c of CASES) {
    test(c.name, async () => {
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
      let body: string | undefined;
      if (c.body !== undefined) {
        body = typeof c.body === 'string' && c.body.startsWith('raw:') ? c.body.slice(4) : JSON.stringify(c.body);
        headers['content-type'] = c.contentType ?? 'application/json';
      }
      const response = await fetch(`${world.api.url}${c.path}`, { method: c.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      assert.equal(response.status, c.status, text);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.doesNotMatch(text, /\n\s+at |node_modules|\.js:\d+/, 'no stack trace');
      if (c.status >= 400) {
        const answer = JSON.parse(text) as { error: { code: string; message: string } };
        assert.deepEqual(Object.keys(answer), ['error']);
        assert.equal(answer.error.code, c.code, answer.error.message);
        assert.ok(answer.error.message.length > 10 && answer.error.message.length < 600, answer.error.message);
        if (c.message !== undefined) assert.match(answer.error.message, c.message);
      }
    });
  }

  test('still serving, and nothing was logged as an internal error', async () => {
    assert.equal((await world.call('/api/v1/tasks')).status, 200);
    assert.deepEqual(world.logs, []);
  });

  test('a request line or headers beyond the limits, and a client that sends half a request', async () => {
    const longUrl = await fetch(`${world.api.url}/api/v1/aggregate?src_ip=${'1'.repeat(100_000)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.ok(longUrl.status === 400 || longUrl.status === 431 || longUrl.status === 414, `status ${longUrl.status}`);
    // half a request, then the socket closes: the server shrugs
    await new Promise<void>((resolve) => {
      const socket = connect(world.api.address.port, '127.0.0.1', () => {
        socket.write('POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"targets"');
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    assert.equal((await world.call('/healthz')).status, 200);
  });
});

describe('HTTP API: a store that fails', () => {
  let world: HttpWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world?.close());

  test('a closed store: 503 with the reason on data routes and /readyz; /healthz stays 200', async () => {
    await world.store.stop();
    const aggregate = await jsonOf<{ error: { code: string; message: string } }>(await world.call('/api/v1/aggregate'), 503);
    assert.equal(aggregate.error.code, 'NS_ERR_QUERY_STORE');
    assert.match(aggregate.error.message, /is not open/);
    const grafana = await jsonOf<{ error: { code: string } }>(await world.call('/grafana/query', { json: { targets: [{ target: 'five' }], range: { from: 'now-1h', to: 'now' } } }), 503);
    assert.equal(grafana.error.code, 'NS_ERR_QUERY_STORE');
    const ready = await jsonOf<{ error: { code: string; message: string } }>(await world.call('/readyz', { token: null }), 503);
    assert.equal(ready.error.code, 'NS_ERR_QUERY_STORE');
    assert.match(ready.error.message, /the store is not ready: NOT_SERVING/);
    assert.deepEqual(await jsonOf(await world.call('/healthz', { token: null })), { status: 'ok' });
    assert.match(await (await world.call('/metrics')).text(), /^netspectra_store_up 0$/m);
    assert.deepEqual(world.logs, [], 'a store failure is not an internal error');
  });

  test('a store slower than queryTimeoutMs: 503, the server answers the next request', async () => {
    const slow: FlowQueryStore = new Proxy(world.store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property !== 'tasks' || typeof value !== 'function') return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        // the store never answers the task list
        return () => new Promise(() => {});
      },
    });
    const api = createHttpApi({ queryService: new QueryService(slow), listenAddr: '127.0.0.1:0', queryTimeoutMs: 200, log: () => {} });
    await api.start();
    try {
      const started = Date.now();
      const response = await fetch(`${api.url}/api/v1/tasks`);
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { error: { code: 'NS_ERR_QUERY_STORE', message: 'the store did not answer within 200 ms' } });
      assert.ok(Date.now() - started < 2000);
      assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
    } finally {
      await api.stop();
    }
    // stop() with a request stuck on the store: cut after the grace period, not held forever
    const stuck = createHttpApi({ queryService: new QueryService(slow), listenAddr: '127.0.0.1:0', queryTimeoutMs: 60_000, stopGraceMs: 300, log: () => {} });
    await stuck.start();
    const pending = fetch(`${stuck.url}/api/v1/tasks`).then(
      (response) => response.status,
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await stuck.stop();
    assert.ok(Date.now() - started < 3000, `stop took ${Date.now() - started} ms`);
    assert.equal(await pending, 'cut');
  });
});
