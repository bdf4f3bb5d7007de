/**
 * `netspectra api` serving HTTP next to Thrift as a real process: tokens from the config
 * (`api.auth_tokens: ["${VAR}"]`), both servers answering, the token never printed, SIGTERM closing
 * both; flags that turn either off; and the config validation of `api.auth_tokens`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.js';
import { ThriftQueryClient } from '../../src/api/thrift-query-client.js';
import { SearchTasksRequest } from '../../src/wire/gen/netspectra_types.js';
import { TOKEN, jsonOf, startWorld, type HttpWorld } from './http-kit.js';

const nsApi = fileURLToPath(new URL('../../src/cli/ns-api.js', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [nsApi, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('netspectra api: HTTP next to Thrift', () => {
  let world: HttpWorld;
  let storePath = '';
  before(async () => {
    // the world's writer made the store file; the api process opens it read-only beside it
    world = await startWorld();
    storePath = join(world.dir, 'store.duckdb');
  });
  after(() => world?.close());

  test('serves both, requires the configured token over HTTP, never prints it, stops on SIGTERM', async () => {
    const config = join(world.dir, 'config.yaml');
    await writeFile(config, 'api:\n  auth_tokens:\n    - "${NETSPECTRA_API_TOKEN}"\n');
    const child = spawn(process.execPath, [nsApi, '--config', config, '--store', storePath, '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NETSPECTRA_API_TOKEN: TOKEN },
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    const { thrift, http } = await new Promise<{ thrift: string; http: string }>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const thriftMatch = /\(Thrift\) listening on (\S+),/.exec(stderr);
        const httpMatch = /HTTP API listening on (\S+) \(bearer tokens: 1\)/.exec(stderr);
        if (thriftMatch !== null && httpMatch !== null) resolve({ thrift: thriftMatch[1]!, http: httpMatch[1]! });
      });
      child.once('exit', () => reject(new Error(`ns-api exited: ${stderr}`)));
    });
    try {
      const tasks = await jsonOf<{ tasks: { name: string }[] }>(await fetch(`${http}/api/v1/tasks`, { headers: { authorization: `Bearer ${TOKEN}` } }));
      assert.deepEqual(
        tasks.tasks.map((t) => t.name),
        ['five', 'hh_src', 'per_src', 'ss_src'],
      );
      assert.equal((await fetch(`${http}/api/v1/tasks`)).status, 401);
      assert.equal((await fetch(`${http}/healthz`)).status, 200);
      const client = await ThriftQueryClient.connect(thrift);
      try {
        const over = await client.call('SearchTasks', (c) => c.SearchTasks(new SearchTasksRequest()));
        assert.deepEqual(over.task_names, tasks.tasks.map((t) => t.name));
      } finally {
        client.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exit, 0, stderr);
    assert.match(stderr, /netspectra api: stopping/);
    assert.ok(!stderr.includes(TOKEN), 'the token is never printed');
  });

  test('--no-thrift, --no-http, both refused, bad --http-listen', async () => {
    const both = await run(['--store', storePath, '--no-http', '--no-thrift']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /would serve nothing/);
    const badListen = await run(['--store', storePath, '--http-listen', 'somewhere']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /--http-listen expects HOST:PORT/);
    // HTTP only: the Thrift line is absent; stopped by a signal once up
    const child = spawn(process.execPath, [nsApi, '--store', storePath, '--no-thrift', '--http-listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /HTTP API listening on (\S+) \(no authentication\)/.exec(stderr);
        if (match !== null) resolve(match[1]!);
      });
      child.once('exit', () => reject(new Error(stderr)));
    });
    assert.equal((await fetch(`${url}/api/v1/health`)).status, 200, 'no tokens configured: open');
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
    assert.doesNotMatch(stderr, /Thrift/);
  });

  test('api.auth_tokens: ${VAR} items, empty ones dropped, bad ones refused without showing them', () => {
    const config = parseConfig('api:\n  auth_tokens: ["${A}", "${B:-}", "literal-token-0123456789"]\n', { env: { A: TOKEN } });
    assert.deepEqual(config.api.authTokens, [TOKEN, 'literal-token-0123456789']);
    assert.deepEqual(parseConfig('api: {}\n', { env: {} }).api.authTokens, []);
    assert.throws(
      () => parseConfig('api:\n  auth_tokens: ["short-secret"]\n', { env: {} }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'NS_ERR_CONFIG_INVALID_VALUE');
        assert.match(error.message, /api\.auth_tokens\[0\]/);
        assert.match(error.message, /16 to 512 printable ASCII characters/);
        assert.ok(!error.message.includes('short-secret'), error.message);
        return true;
      },
    );
    assert.throws(() => parseConfig('api:\n  auth_tokens: "one-token-as-a-string"\n', { env: {} }), { code: 'NS_ERR_CONFIG_INVALID_VALUE', message: /a list/ });
    assert.throws(() => parseConfig('api:\n  auth_tokens: ["with space in the token value"]\n', { env: {} }), { code: 'NS_ERR_CONFIG_INVALID_VALUE' });
  });
});
