/** The Thrift QueryService over TLS (api.rpc_tls_cert_file / rpc_tls_key_file), with a test-only self-signed certificate. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ThriftQueryClient } from '../../src/api/thrift-query-client.js';
import { ThriftQueryServer } from '../../src/api/thrift-query-server.js';
import { parseConfig } from '../../src/config/index.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { HealthCheckRequest, SearchTasksRequest } from '../../src/wire/gen/netspectra_types.js';
import { sketchSnapshot } from '../kit/snapshots.js';

const fixtures = fileURLToPath(new URL('../../../test/api/fixtures/', import.meta.url));
const cert = readFileSync(join(fixtures, 'tls-test.crt'));
const key = readFileSync(join(fixtures, 'tls-test.key'));

test('config: the TLS certificate and key go together', () => {
  const config = parseConfig('api:\n  rpc_tls_cert_file: "a.crt"\n  rpc_tls_key_file: "a.key"\n');
  assert.deepEqual([config.api.rpcTlsCertFile, config.api.rpcTlsKeyFile], ['a.crt', 'a.key']);
  assert.throws(() => parseConfig('api:\n  rpc_tls_cert_file: "a.crt"\n'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'NS_ERR_CONFIG_INVALID_VALUE');
    assert.match(error.message, /api\.rpc_tls_cert_file: expected api\.rpc_tls_key_file as well/);
    return true;
  });
});

describe('Thrift QueryService over TLS', () => {
  let dir = '';
  let store: DuckDbQueryStore;
  let server: ThriftQueryServer;
  let address = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ns-tls-'));
    const path = join(dir, 'store.duckdb');
    const writer = new DuckDbStore({ path, runId: 'run-1', inputs: [], tool: 'test' });
    await writer.start();
    await writer.write(sketchSnapshot);
    await writer.stop();
    store = new DuckDbQueryStore({ path });
    await store.start();
    server = new ThriftQueryServer(new QueryService(store), { listenAddr: '127.0.0.1:0', tls: { cert, key } });
    await server.start();
    address = `127.0.0.1:${server.address.port}`;
  });

  after(async () => {
    await server?.stop();
    await store?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('a client trusting the certificate is served', async () => {
    const client = await ThriftQueryClient.connect(address, { tls: { ca: cert }, timeoutMs: 5000 });
    try {
      assert.equal((await client.call('HealthCheck', (c) => c.HealthCheck(new HealthCheckRequest()))).status, 'SERVING');
      assert.deepEqual((await client.call('SearchTasks', (c) => c.SearchTasks(new SearchTasksRequest()))).task_names, ['cm_src_left', 'ss_src_dst']);
    } finally {
      client.close();
    }
  });

  test('a client that does not trust it, and a plain-TCP client, get no answer', async () => {
    await assert.rejects(ThriftQueryClient.connect(address, { tls: {}, timeoutMs: 3000 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'NS_ERR_API_UNREACHABLE');
      assert.match(error.message, /SELF_SIGNED|self.signed|certificate/i);
      return true;
    });
    const plain = await ThriftQueryClient.connect(address, { timeoutMs: 1500 });
    try {
      await assert.rejects(
        plain.call('HealthCheck', (c) => c.HealthCheck(new HealthCheckRequest())),
        { code: 'NS_ERR_API_UNREACHABLE' },
      );
    } finally {
      plain.close();
    }
  });
});
