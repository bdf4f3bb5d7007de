/**
 * `netspectra ai` (alias `ns-ai`): the AI service. Wires the configured LLM (the official openai
 * client) and the built-in analyst into the AIService Thrift server (src/ai/ai-service.ts).
 */
import { AiService } from '../ai/ai-service.js';
import { OpenAiLlmClient, llmConfigured } from '../ai/llm-client.js';
import { loadConfig } from '../config/load.js';
import type { CliIo } from './io.js';
import { normaliseGoFlags, parseCommand, reportError, usageError } from './io.js';
import { parseListenAddress } from '../api/metrics-server.js';
import { AI_HELP } from './help.js';

export async function runAi(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(io, normaliseGoFlags(argv), AI_HELP, {
      config: { type: 'string' },
      listen: { type: 'string' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  let service: AiService | undefined;
  try {
    const config = loadConfig(values.config === undefined ? {} : { file: values.config });
    const ai = config.ai;
    const listenText = values.listen ?? ai.rpcListenAddr;
    const listen = parseListenAddress(listenText);
    if (listen === undefined) throw usageError(`--listen expects HOST:PORT (e.g. 127.0.0.1:50052), got "${listenText}"`);
    const llm = llmConfigured(ai) ? new OpenAiLlmClient({ baseUrl: ai.baseUrl, apiKey: ai.apiKey, model: ai.model, timeoutMs: ai.timeoutMs, maxRetries: ai.maxRetries }) : undefined;
    const log = (line: string): void => {
      io.stderr.write(`netspectra ai: ${line}\n`);
    };
    service = new AiService({
      listen,
      llm,
      authToken: ai.authToken,
      sessions: { maxSessions: ai.maxSessions, maxBufferedChunks: ai.maxBufferedChunks, ttlMs: ai.sessionTtlMs, idleTimeoutMs: ai.sessionIdleTimeoutMs },
      secrets: [ai.apiKey, ai.authToken],
      log,
    });
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await service.start();
    const { host, port } = service.address;
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    let provider = 'no LLM configured: alerts get the built-in analysis, prompt sessions are refused';
    if (llm !== undefined) {
      provider = `model ${ai.model} at ${new URL(ai.baseUrl).host}`;
      if (ai.provider !== 'openai') provider += ` (provider "${ai.provider}" is used as an OpenAI-compatible API)`;
    }
    log(`listening on ${where} (${provider}${ai.authToken === '' ? '' : '; requests need the auth token'})`);
    const signal = await stopped;
    log(`${signal}: stopping`);
    await service.stop();
    return 0;
  } catch (error) {
    await service?.stop();
    return reportError(io, error);
  }
}
