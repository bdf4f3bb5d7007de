import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { NetSpectraError } from '../../src/model/errors.js';

test('the AI keys NetSpectra added load, with defaults, and bad values name the key', () => {
  const config = parseConfig(
    ['ai:', '  timeout: "30s"', '  max_retries: 0', '  auth_token: "${TOKEN}"', '  max_sessions: 3', '  max_buffered_chunks: 10', '  session_ttl: "5m"', '  session_idle_timeout: "45s"', ''].join('\n'),
    { env: { TOKEN: 'from-env' } },
  );
  assert.deepEqual(
    { ...config.ai },
    {
      provider: 'openai',
      apiKey: '',
      model: 'gemini-2.5-flash',
      baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai/',
      rpcListenAddr: '127.0.0.1:50052',
      timeoutMs: 30_000,
      maxRetries: 0,
      authToken: 'from-env',
      maxSessions: 3,
      maxBufferedChunks: 10,
      sessionTtlMs: 300_000,
      sessionIdleTimeoutMs: 45_000,
    },
  );
  for (const [yaml, key] of [
    ['ai:\n  max_sessions: 0\n', 'ai.max_sessions'],
    ['ai:\n  max_retries: 11\n', 'ai.max_retries'],
    ['ai:\n  session_ttl: "soon"\n', 'ai.session_ttl'],
    ['ai:\n  timeout: 0\n', 'ai.timeout'],
    ['ai:\n  max_buffered_chunks: -1\n', 'ai.max_buffered_chunks'],
    ['ai:\n  auth_tokn: "x"\n', 'ai.auth_tokn'],
  ] as const) {
    assert.throws(
      () => parseConfig(yaml),
      (error: unknown) => error instanceof NetSpectraError && error.code.startsWith('NS_ERR_CONFIG_') && error.message.includes(key),
      yaml,
    );
  }
});
