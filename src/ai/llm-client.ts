/**
 * LLM access through the official `openai` client: any OpenAI-compatible chat-completions API
 * (`ai.base_url`, `ai.model`, `ai.api_key`). Provider failures become NetSpectraErrors with stable
 * codes and readable text; the API key never appears in them (provider messages are scrubbed, the
 * SDK's own logging is off). Streams yield only non-empty content deltas: chunks with no choices, an
 * empty delta or a role-only delta are skipped (the original crashed on an empty streamed choice).
 */
import OpenAI from 'openai';
import { NetSpectraError, isNetSpectraError, type ErrorCode, errorMessage } from '../model/errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What the AI service needs of a model; tests and other providers can implement it too. */
export interface LlmClient {
  /** For logs and analyses: the model name. */
  readonly model: string;
  /** One answer, whole. */
  complete(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<string>;
  /** The answer as it is written, piece by piece (never an empty piece). */
  stream(messages: readonly ChatMessage[], signal?: AbortSignal): AsyncIterable<string>;
}

export interface OpenAiLlmConfig {
  baseUrl: string;
  apiKey: string;
  model: string;
  /** Per attempt; for streams also the longest silence between two chunks. */
  timeoutMs: number;
  maxRetries: number;
}

/** Whether a configuration names an LLM at all (the original's configs leave api_key empty). */
export function llmConfigured(config: Pick<OpenAiLlmConfig, 'apiKey' | 'baseUrl'>): boolean {
  return config.apiKey.trim() !== '' && config.baseUrl.trim() !== '';
}

/** Longest provider message kept in an error: enough to read, not a dump. */
const MAX_PROVIDER_MESSAGE_CHARS = 400;

/**
 * Removes secrets from text that may reach a log or a client: the configured key wherever it
 * appears, and anything shaped like a bearer token or an OpenAI-style key.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret.length >= 4) clean = clean.split(secret).join('[redacted]');
  }
  return clean.replace(/\b(Bearer\s+)[^\s"',]+/gi, '$1[redacted]').replace(/\bsk-[A-Za-z0-9_*-]{8,}/g, 'sk-[redacted]');
}

function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

export class OpenAiLlmClient implements LlmClient {
  readonly model: string;
  readonly #config: OpenAiLlmConfig;
  readonly #client: OpenAI;

  constructor(config: OpenAiLlmConfig) {
    this.#config = config;
    this.model = config.model;
    this.#client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: config.maxRetries,
      // The SDK's logger could print request details; errors are reported by us, scrubbed.
      logLevel: 'off',
      organization: null,
      project: null,
    });
  }

  async complete(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<string> {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.#client.chat.completions.create({ model: this.model, messages: [...messages], stream: false }, { signal });
    } catch (error) {
      throw this.#error(error, signal);
    }
    // Providers differ in what they leave out; read defensively.
    const choices: unknown = (completion as { choices?: unknown }).choices;
    const first = Array.isArray(choices) ? (choices[0] as { message?: { content?: unknown } } | undefined) : undefined;
    const content = first?.message?.content;
    if (typeof content !== 'string' || content.trim() === '') {
      throw new NetSpectraError('NS_ERR_AI_PROVIDER_FAILED', `the LLM at ${hostOf(this.#config.baseUrl)} answered with no text (${Array.isArray(choices) && choices.length > 0 ? 'empty content' : 'no choices'})`);
    }
    return content;
  }

  async *stream(messages: readonly ChatMessage[], signal?: AbortSignal): AsyncIterable<string> {
    // The SDK's timeout ends when the response headers arrive; a stream that then stalls is caught
    // by this inactivity timer, which aborts the request like a cancel would.
    const controller = new AbortController();
    const onOuterAbort = (): void => controller.abort(signal?.reason);
    if (signal?.aborted === true) controller.abort(signal.reason);
    else signal?.addEventListener('abort', onOuterAbort, { once: true });
    let silence: NodeJS.Timeout | undefined;
    const armSilenceTimer = (): void => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(this.#timeoutError('between two chunks of the streamed answer')), this.#config.timeoutMs);
      silence.unref();
    };
    let pieces = 0;
    try {
      armSilenceTimer();
      let stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
      try {
        stream = await this.#client.chat.completions.create({ model: this.model, messages: [...messages], stream: true }, { signal: controller.signal });
      } catch (error) {
        throw this.#error(error, controller.signal);
      }
      try {
        for await (const chunk of stream) {
          armSilenceTimer();
          const choices: unknown = (chunk as { choices?: unknown } | null)?.choices;
          if (!Array.isArray(choices)) continue;
          for (const choice of choices as Array<{ index?: unknown; delta?: { content?: unknown } | null } | null>) {
            // n = 1: only the first choice is the answer.
            if (choice === null || typeof choice !== 'object' || (choice.index !== undefined && choice.index !== 0)) continue;
            const content = choice.delta?.content;
            if (typeof content === 'string' && content !== '') {
              pieces++;
              yield content;
            }
          }
        }
      } catch (error) {
        throw this.#error(error, controller.signal);
      }
      // The SDK ends the iteration quietly when the request is aborted.
      if (controller.signal.aborted) throw this.#error(controller.signal.reason, controller.signal);
      if (pieces === 0) throw new NetSpectraError('NS_ERR_AI_PROVIDER_FAILED', `the LLM at ${hostOf(this.#config.baseUrl)} ended its streamed answer without any text`);
    } finally {
      clearTimeout(silence);
      signal?.removeEventListener('abort', onOuterAbort);
      // Stopping early (the consumer broke off) must not leave the HTTP request running.
      if (!controller.signal.aborted) controller.abort(new NetSpectraError('NS_ERR_AI_CANCELED', 'the streamed answer was abandoned'));
    }
  }

  #timeoutError(what: string): NetSpectraError {
    return new NetSpectraError('NS_ERR_AI_TIMEOUT', `the LLM at ${hostOf(this.#config.baseUrl)} sent nothing for ${this.#config.timeoutMs / 1000}s ${what} (ai.timeout)`);
  }

  /** A provider or SDK failure as a NetSpectraError with a stable code and no secret in it. */
  #error(error: unknown, signal: AbortSignal | undefined): NetSpectraError {
    if (signal?.aborted === true && isNetSpectraError(signal.reason)) return signal.reason;
    if (isNetSpectraError(error)) return error;
    const host = hostOf(this.#config.baseUrl);
    const scrub = (text: string): string => {
      const clean = redactSecrets(text, [this.#config.apiKey]).replace(/\s+/g, ' ').trim();
      return clean.length > MAX_PROVIDER_MESSAGE_CHARS ? `${clean.slice(0, MAX_PROVIDER_MESSAGE_CHARS)}…` : clean;
    };
    const make = (code: ErrorCode, message: string): NetSpectraError => new NetSpectraError(code, scrub(message));
    if (signal?.aborted === true || error instanceof OpenAI.APIUserAbortError) return make('NS_ERR_AI_CANCELED', 'the LLM request was canceled');
    const attempts = this.#config.maxRetries === 0 ? '' : ` (after ${this.#config.maxRetries + 1} attempts)`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      return make('NS_ERR_AI_TIMEOUT', `the LLM at ${host} did not answer within ${this.#config.timeoutMs / 1000}s (ai.timeout)${attempts}`);
    }
    if (error instanceof OpenAI.APIConnectionError) {
      const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
      return make('NS_ERR_AI_PROVIDER_UNREACHABLE', `could not reach the LLM at ${host}${cause}${attempts}`);
    }
    if (error instanceof OpenAI.APIError) {
      const body = error.error as { message?: unknown } | undefined;
      const reason = typeof body?.message === 'string' && body.message !== '' ? body.message : error.message;
      const status: number | undefined = (error as { status?: number }).status;
      if (status === undefined) return make('NS_ERR_AI_PROVIDER_FAILED', `the LLM at ${host} reported an error in its streamed answer: ${reason}`);
      const what = `the LLM at ${host} answered HTTP ${status}: ${reason}`;
      if (status === 401 || status === 403) return make('NS_ERR_AI_PROVIDER_AUTH', `${what} (check ai.api_key)`);
      if (status === 429) return make('NS_ERR_AI_PROVIDER_RATE_LIMIT', `${what}${attempts}`);
      if (status >= 400 && status < 500) return make('NS_ERR_AI_PROVIDER_REJECTED', `${what}${status === 404 ? ` (check ai.model "${this.model}" and ai.base_url)` : ''}`);
      return make('NS_ERR_AI_PROVIDER_FAILED', `${what}${attempts}`);
    }
    if (error instanceof SyntaxError) return make('NS_ERR_AI_PROVIDER_FAILED', `the LLM at ${host} sent a malformed streamed answer: ${error.message}`);
    const message = errorMessage(error);
    // undici reports a connection cut mid-body as "terminated".
    return make('NS_ERR_AI_PROVIDER_FAILED', `the answer of the LLM at ${host} broke off: ${message}`);
  }
}
