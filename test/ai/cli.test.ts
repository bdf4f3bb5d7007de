/**
 * `netspectra ai` and `netspectra ask` as child processes over real sockets: the service backed by
 * the OpenAI-compatible test server, `ask` streaming the answer chunk by chunk, Ctrl-C canceling
 * the session upstream, and the API key absent from every output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAiTestServer } from '../kit/openai-server.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const nsAi = fileURLToPath(new URL('../../src/cli/ns-ai.js', import.meta.url));
const API_KEY = 'sk-cli-test-key-SECRET-777';

interface Running {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Each stdout write with its arrival time. */
  writes: Array<{ at: number; text: string }>;
  exit: Promise<number | null>;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env, NETSPECTRA_AI_TOKEN: env.NETSPECTRA_AI_TOKEN ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const running: Running = {
    child,
    stdout: '',
    stderr: '',
    writes: [],
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    running.stdout += text;
    running.writes.push({ at: Date.now(), text });
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    running.stderr += text;
  });
  return running;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let provider: OpenAiTestServer;
let dir: string;
let service: Running;
let address: string;

before(async () => {
  provider = await OpenAiTestServer.start();
  dir = mkdtempSync(join(tmpdir(), 'netspectra-ai-cli-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    ['ai:', '  api_key: "${TEST_AI_KEY}"', `  base_url: "${provider.baseUrl}"`, '  model: "cli-model"', '  max_retries: 0', '  timeout: "5s"', '  rpc_listen_addr: "127.0.0.1:0"', ''].join('\n'),
  );
  service = run(cli, ['ai', '-config', config], { TEST_AI_KEY: API_KEY });
  await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(service.stderr), 'the AI service to listen');
  address = /listening on (127\.0\.0\.1:\d+)/.exec(service.stderr)?.[1] ?? '';
});

after(async () => {
  if (service.child.exitCode === null) service.child.kill('SIGKILL');
  await provider.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the service says where it listens and which model it uses, never the key', () => {
  assert.match(service.stderr, /netspectra ai: listening on 127\.0\.0\.1:\d+ \(model cli-model at 127\.0\.0\.1:\d+\)/);
  assert.ok(!service.stderr.includes(API_KEY));
});

test('ask streams the answer chunk by chunk with the original\'s -port and -prompt flags', async () => {
  const before = provider.requests.length;
  provider.script({ kind: 'stream', events: ['First part. ', { waitMs: 800 }, 'Second part.'] });
  const ask = run(cli, ['ask', '-port', address, '-prompt', 'What is a super-spreader?']);
  // The first chunk is on stdout while the provider still holds back the second.
  await waitFor(() => ask.stdout.includes('First part.'), 'the first chunk');
  assert.ok(!ask.stdout.includes('Second part.'), 'the answer was not streamed');
  assert.equal(await ask.exit, 0, ask.stderr);
  assert.equal(ask.stdout, 'First part. Second part.\n');
  const firstAt = ask.writes.find((write) => write.text.includes('First'))?.at ?? 0;
  const secondAt = ask.writes.find((write) => write.text.includes('Second'))?.at ?? 0;
  assert.ok(secondAt - firstAt >= 500, `chunks arrived ${secondAt - firstAt} ms apart`);
  assert.equal(provider.requests[before]?.body?.messages?.[1]?.content, 'What is a super-spreader?');
  assert.equal(provider.requests[before]?.body?.model, 'cli-model');
  assert.equal(provider.requests[before]?.headers.authorization, `Bearer ${API_KEY}`);
});

test('ask takes the question as arguments; Ctrl-C cancels the session upstream', async () => {
  const before = provider.requests.length;
  provider.script({ kind: 'stream', events: ['Thinking... ', { waitMs: 20_000 }, 'never'] });
  const ask = run(cli, ['ask', '--address', address, 'explain', 'this', 'alert']);
  await waitFor(() => ask.stdout.includes('Thinking...'), 'the first chunk');
  assert.equal(provider.requests[before]?.body?.messages?.[1]?.content, 'explain this alert');
  ask.child.kill('SIGINT');
  assert.equal(await ask.exit, 130);
  assert.match(ask.stderr, /canceled/);
  await provider.waitForClientAbort(before);
});

test('ask reports a provider failure from error_text, without the key; usage errors exit 2', async () => {
  provider.script({ kind: 'error', status: 401, message: `Incorrect API key provided: ${API_KEY}` });
  const failed = run(cli, ['ask', '-port', address, 'hello']);
  assert.equal(await failed.exit, 1);
  assert.match(failed.stderr, /^netspectra: NS_ERR_AI_PROVIDER_AUTH: the LLM at 127\.0\.0\.1:\d+ answered HTTP 401: Incorrect API key provided: \[redacted\]/m);
  assert.ok(!failed.stderr.includes(API_KEY) && !failed.stdout.includes(API_KEY));

  const noQuestion = run(cli, ['ask', '-port', address]);
  assert.equal(await noQuestion.exit, 2);
  assert.match(noQuestion.stderr, /NS_ERR_USAGE: a question is required/);
  const badAddress = run(cli, ['ask', '-port', 'nowhere', 'hi']);
  assert.equal(await badAddress.exit, 2);
  assert.match(badAddress.stderr, /--port expects HOST:PORT/);
});

test('ask against no service fails with a clear code', async () => {
  const ask = run(cli, ['ask', '-port', '127.0.0.1:1', 'hi']);
  assert.equal(await ask.exit, 1);
  assert.match(ask.stderr, /NS_ERR_AI_SERVICE_UNREACHABLE: could not connect to the AI service at 127\.0\.0\.1:1: ECONNREFUSED/);
});

test('ns-ai is the same command; the service stops cleanly on SIGTERM with no key in its log', async () => {
  const help = run(nsAi, ['--help']);
  assert.equal(await help.exit, 0);
  assert.match(help.stdout, /Usage: netspectra ai \[options\]\n\s+ns-ai \[options\]/);
  service.child.kill('SIGTERM');
  assert.equal(await service.exit, 0);
  assert.match(service.stderr, /SIGTERM: stopping/);
  assert.ok(!service.stderr.includes(API_KEY), 'the API key reached the service log');
  assert.ok(!service.stdout.includes(API_KEY));
});
