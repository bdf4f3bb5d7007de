import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAiLlmClient, llmConfigured, redactSecrets, type ChatMessage } from '../../src/ai/llm-client.js';
import { NetSpectraError } from '../../src/model/errors.js';
import { closedPort } from '../kit/ports.js';
import { OpenAiTestServer } from '../kit/openai-server.js';

const API_KEY = 'sk-test-0123456789abcdefSECRET';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'be brief' },
  { role: 'user', content: 'hello?' },
];

let server: OpenAiTestServer;

before(async () => {
  server = await OpenAiTestServer.start();
});

after(async () => {
  await server.stop();
});

function client(overrides: Partial<ConstructorParameters<typeof OpenAiLlmClient>[0]> = {}): OpenAiLlmClient {
  return new OpenAiLlmClient({ baseUrl: server.baseUrl, apiKey: API_KEY, model: 'test-model', timeoutMs: 2000, maxRetries: 0, ...overrides });
}

async function collect(stream: AsyncIterable<string>): Promise<string[]> {
  const pieces: string[] = [];
  for await (const piece of stream) pieces.push(piece);
  return pieces;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<NetSpectraError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NetSpectraError, `expected a NetSpectraError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.doesNotMatch(error.message, /SECRET/, 'the API key leaked into an error');
    return error;
  }
  assert.fail(`expected ${code}`);
}

test('complete: sends model, messages and the bearer key; returns the content', async () => {
  const before = server.requests.length;
  server.script({ kind: 'json', content: '## Threat classification\nSYN flood' });
  const answer = await client().complete(MESSAGES);
  assert.equal(answer, '## Threat classification\nSYN flood');
  const request = server.requests[before];
  assert.ok(request);
  assert.equal(request.path, '/v1/chat/completions');
  assert.equal(request.headers.authorization, `Bearer ${API_KEY}`);
  assert.equal(request.body?.model, 'test-model');
  assert.deepEqual(request.body?.messages, MESSAGES);
  assert.notEqual(request.body?.stream, true);
});

test('complete: no choices or empty content is a provider failure, not a crash', async () => {
  server.script({ kind: 'json', content: '', choices: [] });
  await rejectsWithCode(client().complete(MESSAGES), 'NS_ERR_AI_PROVIDER_FAILED');
  server.script({ kind: 'json', content: '   ' });
  await rejectsWithCode(client().complete(MESSAGES), 'NS_ERR_AI_PROVIDER_FAILED');
});

test('stream: yields only text, skipping empty choices, empty and role-only deltas, odd chunks', async () => {
  const before = server.requests.length;
  server.script({
    kind: 'stream',
    events: [
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }] } },
      'Hello',
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [] } },
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: null }] } },
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: '' }, finish_reason: null }] } },
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: null, finish_reason: null }] } },
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [null] } },
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm' } },
      { text: ': keep-alive comment\n\n' },
      ', ',
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 1, delta: { content: 'second choice' } }] } },
      'world',
      { raw: { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } } },
    ],
  });
  assert.deepEqual(await collect(client().stream(MESSAGES)), ['Hello', ', ', 'world']);
  assert.equal(server.requests[before]?.body?.stream, true);
});

test('stream: an answer without any text fails clearly', async () => {
  server.script({ kind: 'stream', events: [{ raw: { choices: [] } }] });
  await rejectsWithCode(collect(client().stream(MESSAGES)), 'NS_ERR_AI_PROVIDER_FAILED');
});

test('provider errors map to stable codes with the provider reason and no key', async () => {
  server.script({ kind: 'error', status: 401, message: `Incorrect API key provided: ${API_KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' });
  const auth = await rejectsWithCode(client().complete(MESSAGES), 'NS_ERR_AI_PROVIDER_AUTH');
  assert.match(auth.message, /HTTP 401: Incorrect API key provided: \[redacted\]/);
  server.script({ kind: 'error', status: 404, message: 'The model `nope` does not exist', code: 'model_not_found' });
  const missing = await rejectsWithCode(client({ model: 'nope' }).complete(MESSAGES), 'NS_ERR_AI_PROVIDER_REJECTED');
  assert.match(missing.message, /check ai\.model "nope"/);
  server.script({ kind: 'error', status: 400, message: 'bad request' });
  await rejectsWithCode(collect(client().stream(MESSAGES)), 'NS_ERR_AI_PROVIDER_REJECTED');
  server.script({ kind: 'error', status: 503, message: 'overloaded', type: 'server_error' });
  await rejectsWithCode(client().complete(MESSAGES), 'NS_ERR_AI_PROVIDER_FAILED');
});

test('retries are bounded: 429 then 429 with maxRetries 1 makes exactly two requests', async () => {
  const before = server.requests.length;
  server.script(
    { kind: 'error', status: 429, message: 'Rate limit reached', type: 'rate_limit_error', headers: { 'retry-after-ms': '10' } },
    { kind: 'error', status: 429, message: 'Rate limit reached', type: 'rate_limit_error', headers: { 'retry-after-ms': '10' } },
  );
  const limited = await rejectsWithCode(client({ maxRetries: 1 }).complete(MESSAGES), 'NS_ERR_AI_PROVIDER_RATE_LIMIT');
  assert.match(limited.message, /after 2 attempts/);
  assert.equal(server.requests.length - before, 2);
  // A retry that succeeds is invisible to the caller.
  server.script({ kind: 'error', status: 500, message: 'flaky', type: 'server_error', headers: { 'retry-after-ms': '10' } }, { kind: 'json', content: 'recovered' });
  assert.equal(await client({ maxRetries: 1 }).complete(MESSAGES), 'recovered');
});

test('an unreachable provider and a slow one', async () => {
  await using closed = await closedPort();
  await rejectsWithCode(client({ baseUrl: `http://127.0.0.1:${closed.port}/v1` }).complete(MESSAGES), 'NS_ERR_AI_PROVIDER_UNREACHABLE');
  server.script({ kind: 'json', content: 'late', delayMs: 4000 });
  const started = Date.now();
  const timeout = await rejectsWithCode(client({ timeoutMs: 300 }).complete(MESSAGES), 'NS_ERR_AI_TIMEOUT');
  assert.ok(Date.now() - started < 3000, 'the timeout did not cut the request short');
  assert.match(timeout.message, /0\.3s \(ai\.timeout\)/);
});

test('stream: an error event mid-stream, a broken connection and a stall after the first chunk', async () => {
  server.script({ kind: 'stream', events: ['partial ', { error: { message: 'model crashed', type: 'server_error' } }] });
  const pieces: string[] = [];
  const error = await rejectsWithCode(
    (async () => {
      for await (const piece of client().stream(MESSAGES)) pieces.push(piece);
    })(),
    'NS_ERR_AI_PROVIDER_FAILED',
  );
  assert.deepEqual(pieces, ['partial ']);
  assert.match(error.message, /model crashed/);

  server.script({ kind: 'stream', events: ['a', { destroy: true }], noDone: true });
  await rejectsWithCode(collect(client().stream(MESSAGES)), 'NS_ERR_AI_PROVIDER_FAILED');

  const before = server.requests.length;
  server.script({ kind: 'stream', events: ['first', { waitMs: 3000 }, 'never'] });
  await rejectsWithCode(collect(client({ timeoutMs: 300 }).stream(MESSAGES)), 'NS_ERR_AI_TIMEOUT');
  await server.waitForClientAbort(before);
});

test('aborting a stream cancels the upstream request', async () => {
  const before = server.requests.length;
  server.script({ kind: 'stream', events: ['one', { waitMs: 5000 }, 'two'] });
  const controller = new AbortController();
  const pieces: string[] = [];
  const consumed = (async () => {
    for await (const piece of client({ timeoutMs: 10_000 }).stream(MESSAGES, controller.signal)) {
      pieces.push(piece);
      controller.abort();
    }
  })();
  await rejectsWithCode(consumed, 'NS_ERR_AI_CANCELED');
  assert.deepEqual(pieces, ['one']);
  await server.waitForClientAbort(before);
});

test('llmConfigured and redactSecrets', () => {
  assert.equal(llmConfigured({ apiKey: '', baseUrl: 'http://x' }), false);
  assert.equal(llmConfigured({ apiKey: 'k', baseUrl: '' }), false);
  assert.equal(llmConfigured({ apiKey: 'k', baseUrl: 'http://x' }), true);
  assert.equal(redactSecrets(`key ${API_KEY} again ${API_KEY}`, [API_KEY]), 'key [redacted] again [redacted]');
  assert.equal(redactSecrets('Authorization: Bearer abc.def', []), 'Authorization: Bearer [redacted]');
  assert.equal(redactSecrets('other sk-proj-ABCDEFGH12345678', []), 'other sk-[redacted]');
});
