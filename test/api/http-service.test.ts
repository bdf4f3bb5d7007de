/**
 * The HTTP API's own concerns over a real socket: bearer tokens (missing, wrong, right; health and
 * static files open; never logged), the startup warning of an open API beyond loopback, the
 * OpenAPI document, Prometheus /metrics, the dashboard's static files with the SPA fallback, the
 * page shown when the dashboard is not built, and stop() with a keep-alive client connected.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { createHttpApi } from '../../src/api/http-server.js';
import { OTHER_TOKEN, TOKEN, jsonOf, startWorld, type HttpWorld } from './http-kit.js';

/** Every route of docs/http-api.md (method and path). */
const ROUTES = [
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /api/v1/health',
  'GET /api/v1/tasks',
  'GET /api/v1/aggregate',
  'GET /api/v1/alerts',
  'GET /api/v1/alerts/active',
  'GET /api/v1/trace',
  'GET /api/v1/heavy-hitters',
  'GET /api/v1/super-spreaders',
  'GET /api/v1/sketch-snapshots',
  'GET /api/v1/top/flows',
  'GET /api/v1/top/sources',
  'GET /api/v1/top/destinations',
  'GET /api/v1/flows',
  'GET /api/v1/series',
  'POST /query',
  'GET /grafana',
  'POST /grafana/metrics',
  'POST /grafana/metric-payload-options',
  'POST /grafana/query',
  'POST /grafana/variable',
  'POST /grafana/tag-keys',
  'POST /grafana/tag-values',
];

describe('HTTP API: auth, service routes, static files', () => {
  let world: HttpWorld;
  let staticRoot = '';
  before(async () => {
    world = await startWorld();
    // a second server over the same service, with a built dashboard
    staticRoot = join(world.dir, 'web-dist');
    await mkdir(join(staticRoot, 'assets'), { recursive: true });
    await writeFile(join(staticRoot, 'index.html'), '<!doctype html><title>NetSpectra dashboard</title><div id="app"></div>');
    await writeFile(join(staticRoot, 'assets', 'app.js'), 'console.log("dashboard");');
  });
  after(() => world?.close());

  test('data routes need a configured token; health and readiness do not', async () => {
    for (const route of ROUTES.filter((r) => r !== 'GET /healthz' && r !== 'GET /readyz')) {
      const [method, path] = route.split(' ') as [string, string];
      const init = method === 'POST' ? { method, json: {} } : { method };
      const missing = await world.call(path, { ...init, token: null });
      assert.equal(missing.status, 401, route);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="netspectra"', route);
      assert.deepEqual(await missing.json(), { error: { code: 'NS_ERR_HTTP_UNAUTHORIZED', message: 'this API requires a token: send Authorization: Bearer <token> (api.auth_tokens)' } }, route);
      const wrong = await world.call(path, { ...init, token: `${TOKEN}x` });
      assert.equal(wrong.status, 401, route);
      assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'NS_ERR_HTTP_UNAUTHORIZED');
    }
    for (const token of [TOKEN, OTHER_TOKEN]) assert.equal((await world.call('/api/v1/tasks', { token })).status, 200);
    // not a bearer token, a prefix of one, a basic header
    for (const header of [TOKEN, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`, `Bearer ${TOKEN} ${TOKEN}`]) {
      const response = await fetch(`${world.api.url}/api/v1/tasks`, { headers: { authorization: header } });
      assert.equal(response.status, 401, header);
    }
    assert.equal((await fetch(`${world.api.url}/api/v1/tasks`, { headers: { authorization: `bearer  ${TOKEN}` } })).status, 200, 'the scheme is case-insensitive');
    assert.deepEqual(await jsonOf(await world.call('/healthz', { token: null })), { status: 'ok' });
    assert.deepEqual(await jsonOf(await world.call('/readyz', { token: null })), { status: 'ready', store: 'SERVING' });
    assert.ok(!world.logs.join('\n').includes(TOKEN), 'a token never reaches the log');
  });

  test('without tokens the API is open, and says so when it listens beyond loopback', async () => {
    const logs: string[] = [];
    const open = createHttpApi({ queryService: world.service, listenAddr: '0.0.0.0:0', log: (line) => logs.push(line) });
    try {
      await open.start();
      const port = open.address.port;
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/tasks`)).status, 200);
      assert.equal(logs.length, 1);
      assert.match(logs[0]!, /WARNING: the HTTP API on 0\.0\.0\.0:\d+ has no authentication \(api\.auth_tokens is empty\) and listens beyond loopback/);
    } finally {
      await open.stop();
    }
    const quiet: string[] = [];
    const loopback = createHttpApi({ queryService: world.service, listenAddr: '127.0.0.1:0', log: (line) => quiet.push(line) });
    await loopback.start();
    await loopback.stop();
    assert.deepEqual(quiet, []);
  });

  test('CORS: only configured origins get the headers; preflights need no token, answers still do', async () => {
    const grafana = 'https://grafana.example.com:3000';
    const cors = createHttpApi({ queryService: world.service, authTokens: [TOKEN], corsOrigins: [grafana], listenAddr: '127.0.0.1:0', log: () => {} });
    await cors.start();
    try {
      const preflight = await fetch(`${cors.url}/api/v1/top/sources?task=five`, {
        method: 'OPTIONS',
        headers: { origin: grafana, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), grafana);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
      const answered = await fetch(`${cors.url}/api/v1/tasks`, { headers: { origin: grafana, authorization: `Bearer ${TOKEN}` } });
      assert.equal(answered.status, 200);
      assert.equal(answered.headers.get('access-control-allow-origin'), grafana);
      const unauthorized = await fetch(`${cors.url}/api/v1/tasks`, { headers: { origin: grafana } });
      assert.equal(unauthorized.status, 401, 'CORS lets the page read the answer, not skip the token');
      const stranger = await fetch(`${cors.url}/api/v1/tasks`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${TOKEN}` } });
      assert.equal(stranger.headers.get('access-control-allow-origin'), null, 'another origin gets no CORS header');
    } finally {
      await cors.stop();
    }
    // without cors_origins: no CORS headers at all
    const plain = await world.call('/api/v1/tasks', { headers: { origin: grafana } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  test('the OpenAPI document is valid JSON listing every route with its parameters', async () => {
    const doc = await jsonOf<{ openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>>; components: { securitySchemes: unknown } }>(
      await world.call('/openapi.json'),
    );
    assert.equal(doc.openapi, '3.0.3');
    assert.deepEqual(doc.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
    const listed = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    assert.deepEqual(listed.sort(), ROUTES.slice().sort());
    const flows = doc.paths['/api/v1/flows']!.get!.parameters!.map((p) => `${p.in}:${p.name}`);
    for (const name of ['task', 'order', 'dir', 'limit', 'offset', 'start', 'end', 'src_ip', 'dst_port']) assert.ok(flows.includes(`query:${name}`), name);
    assert.ok(doc.paths['/grafana/query']!.post!.requestBody !== undefined);
  });

  test('/metrics counts requests by route and status, with latency quantiles and the store', async () => {
    for (let i = 0; i < 3; i++) await world.call('/api/v1/tasks');
    await world.call('/api/v1/tasks', { token: null });
    await world.call('/api/v1/flows?task=nope');
    const response = await world.call('/metrics');
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    const sample = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
    assert.ok(sample(/^netspectra_http_requests_total\{route="\/api\/v1\/tasks",method="GET",status="200"\} (\d+)$/m) >= 3, text);
    assert.ok(sample(/^netspectra_http_requests_total\{route="\/api\/v1\/tasks",method="GET",status="401"\} (\d+)$/m) >= 1, text);
    assert.ok(sample(/^netspectra_http_requests_total\{route="\/api\/v1\/flows",method="GET",status="400"\} (\d+)$/m) >= 1, text);
    assert.ok(sample(/^netspectra_http_unauthorized_total (\d+)$/m) >= 1);
    assert.equal(sample(/^netspectra_store_up (\d+)$/m), 1);
    const p99 = sample(/^netspectra_http_request_duration_seconds\{route="\/api\/v1\/tasks",quantile="0\.99"\} ([\d.e-]+)$/m);
    assert.ok(p99 > 0 && p99 < 10, `p99 ${p99}`);
    assert.ok(sample(/^netspectra_http_request_duration_seconds_count\{route="\/api\/v1\/tasks"\} (\d+)$/m) >= 4);
    assert.match(text, /^# TYPE netspectra_http_request_duration_seconds summary$/m);
    assert.ok(!text.includes('?'), 'labels are route patterns, not URLs');
  });

  test('the dashboard: files, SPA fallback to index.html, API paths stay JSON; public without a token', async () => {
    const api = createHttpApi({ queryService: world.service, authTokens: [TOKEN], listenAddr: '127.0.0.1:0', staticRoot, log: () => {} });
    await api.start();
    try {
      const index = await fetch(`${api.url}/`);
      assert.equal(index.status, 200);
      assert.match(index.headers.get('content-type')!, /^text\/html/);
      assert.match(await index.text(), /NetSpectra dashboard/);
      const script = await fetch(`${api.url}/assets/app.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type')!, /javascript/);
      assert.equal(await script.text(), 'console.log("dashboard");');
      for (const page of ['/hosts/10.0.0.1', '/flows?task=five']) {
        const fallback = await fetch(`${api.url}${page}`);
        assert.equal(fallback.status, 200, page);
        assert.match(await fallback.text(), /NetSpectra dashboard/, page);
      }
      const missingApi = await fetch(`${api.url}/api/v1/nothing`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(missingApi.status, 404);
      assert.deepEqual(await missingApi.json(), { error: { code: 'NS_ERR_HTTP_NOT_FOUND', message: 'no route GET /api/v1/nothing (docs/http-api.md, /openapi.json)' } });
      assert.equal((await fetch(`${api.url}/../../etc/passwd`)).status, 200, 'a path outside the root is the SPA page, not a file');
      assert.doesNotMatch(await (await fetch(`${api.url}/..%2f..%2fetc%2fpasswd`)).text(), /root:/);
      assert.equal((await fetch(`${api.url}/api/v1/tasks`)).status, 401, 'data still needs the token');
      assert.equal((await fetch(`${api.url}/grafana/query`, { method: 'POST' })).status, 401);
    } finally {
      await api.stop();
    }
    // not built: a page saying so
    const bare = await fetch(`${world.api.url}/`);
    assert.equal(bare.status, 200);
    assert.match(await bare.text(), /dashboard is not built/);
  });

  test('stop() closes keep-alive connections and frees the port', async () => {
    const api = createHttpApi({ queryService: world.service, listenAddr: '127.0.0.1:0', log: () => {} });
    await api.start();
    // the port the system picked, not the 0 asked for
    const port = api.address.port;
    assert.notEqual(port, 0);
    assert.equal(api.url, `http://127.0.0.1:${port}`);
    const agentResponse = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/healthz', headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(agentResponse, 200);
    const started = Date.now();
    await api.stop();
    assert.ok(Date.now() - started < 2000, 'stop does not wait for idle keep-alive clients');
    const again = createHttpApi({ queryService: world.service, listenAddr: `127.0.0.1:${port}`, log: () => {} });
    await again.start();
    await again[Symbol.asyncDispose]();
    // a taken port: a clear error
    const holder = createHttpApi({ queryService: world.service, listenAddr: '127.0.0.1:0', log: () => {} });
    await holder.start();
    try {
      const clash = createHttpApi({ queryService: world.service, listenAddr: `127.0.0.1:${holder.address.port}` });
      await assert.rejects(clash.start(), { code: 'NS_ERR_LISTEN', message: /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/ });
    } finally {
      await holder.stop();
    }
  });
});
