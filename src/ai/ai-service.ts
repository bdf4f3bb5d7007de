/**
 * The AIService Thrift server (`netspectra ai`): buffered transport, binary protocol, the
 * original's four methods, so its clients (ask-ai, the Go alerter) keep working.
 *
 * - AnalyzeTraffic: one LLM call analysing alerts. The alerter sends alert JSON (alert-input.ts);
 *   the original sent free text, still accepted. Without an LLM, or when the LLM fails, alert JSON
 *   is answered by the built-in analyst (labelled as such); free text then gets a clear error.
 * - StartPromptAnalysis / ReadPromptChunks / CancelPromptAnalysis: streamed answers through bounded
 *   sessions (prompt-sessions.ts).
 *
 * Handler failures become Thrift application exceptions whose message is `CODE: text`. Nothing this
 * service logs or answers contains the API key.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import thrift from 'thrift';
import type { Alert } from '../model/alert.js';
import { NetSpectraError, isNetSpectraError, errorMessage } from '../model/errors.js';
import { builtinAnalysisMarkdown } from '../alerting/builtin-analyst.js';
import * as AIService from '../wire/gen/AIService.js';
import { AnalyzeTrafficResponse, PromptAnalysisSession, ReadPromptChunksResponse, CancelPromptAnalysisResponse } from '../wire/gen/netspectra_types.js';
import type { AnalyzeTrafficRequest, CancelPromptAnalysisRequest, ReadPromptChunksRequest, StartPromptAnalysisRequest } from '../wire/gen/netspectra_types.js';
import { parseAlertInput } from './alert-input.js';
import { checkAuthToken } from './auth-token.js';
import { redactSecrets, type LlmClient } from './llm-client.js';
import { PromptSessionStore, type PromptSessionLimits } from './prompt-sessions.js';
import { MAX_PROMPT_CHARS, alertAnalysisMessages, promptSessionMessages } from './prompts.js';

/** Largest Thrift message accepted: a prompt is capped far below, alert input too. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** AnalyzeTraffic inputs longer than this are refused outright (alert data is cut much shorter anyway). */
const MAX_ANALYZE_INPUT_CHARS = 2_000_000;
/** Client connections at once; more are refused by the socket layer. */
const MAX_CONNECTIONS = 256;
/**
 * A connection silent this long is closed. Far above the 15 s a ReadPromptChunks waits, so a polling
 * client never hits it; it only collects clients that went away without closing.
 */
const IDLE_CONNECTION_MS = 10 * 60_000;

export interface AiServiceOptions {
  /** Where to listen; port 0 picks a free one (see `address`). */
  listen: { host: string; port: number };
  /** The model; undefined when none is configured (built-in analyses only). */
  llm: LlmClient | undefined;
  /** `ai.auth_token`; empty for none. */
  authToken: string;
  sessions: PromptSessionLimits;
  /** Secrets that must never appear in a log line or an answer (the API key). */
  secrets: readonly string[];
  log?: (line: string) => void;
}

export class AiService implements AsyncDisposable {
  readonly #options: AiServiceOptions;
  readonly #sessions: PromptSessionStore;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #analysesInFlight = 0;

  constructor(options: AiServiceOptions) {
    this.#options = options;
    this.#sessions = new PromptSessionStore(options.sessions);
  }

  /** The bound address (the real port when 0 was asked for). */
  get address(): { host: string; port: number } {
    const bound = this.#server?.address() as AddressInfo | null | undefined;
    if (bound === null || bound === undefined) return this.#options.listen;
    return { host: bound.address, port: bound.port };
  }

  /** Prompt sessions running now (for tests and logs). */
  get runningSessions(): number {
    return this.#sessions.running;
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = thrift.createServer(AIService.Processor, this.#handler(), {
      transport: thrift.TBufferedTransport,
      protocol: thrift.TBinaryProtocol,
      // Not in @types/thrift: the receiver's bound on one buffered message.
      ...({ maxLength: MAX_MESSAGE_BYTES } as object),
    }) as unknown as Server;
    // The thrift server reports undecodable input and broken connections as 'error' events; without
    // a listener they would crash the process.
    server.on('error', (error: Error) => this.#log(`rejected a connection's input: ${error.message}`));
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket: Socket) => {
      socket.setTimeout(IDLE_CONNECTION_MS, () => socket.destroy());
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new NetSpectraError('NS_ERR_LISTEN', `cannot listen on ${host}:${port} for the AI service: ${error.code ?? error.message}`, { cause: error }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await this.#sessions.stop();
    if (server === undefined) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #log(line: string): void {
    this.#options.log?.(redactSecrets(line, this.#options.secrets));
  }

  /** The Thrift handler: promise-style methods (the generated es6 processor awaits them). */
  #handler(): object {
    const guard = <Req, Res>(method: string, body: (request: Req) => Promise<Res>) => async (request: Req): Promise<Res> => {
      try {
        return await body(request);
      } catch (error) {
        const failure = isNetSpectraError(error) ? error : new NetSpectraError('NS_ERR_AI_PROVIDER_FAILED', `internal error: ${errorMessage(error)}`, { cause: error });
        const text = redactSecrets(failure.toDisplayString(), this.#options.secrets);
        this.#log(`${method} failed: ${text}`);
        // The processor turns a rejection into a TApplicationException carrying this message.
        throw new Error(text);
      }
    };
    return {
      AnalyzeTraffic: guard('AnalyzeTraffic', (request: AnalyzeTrafficRequest) => this.#analyzeTraffic(request)),
      StartPromptAnalysis: guard('StartPromptAnalysis', (request: StartPromptAnalysisRequest) => this.#startPromptAnalysis(request)),
      ReadPromptChunks: guard('ReadPromptChunks', (request: ReadPromptChunksRequest) => this.#readPromptChunks(request)),
      CancelPromptAnalysis: guard('CancelPromptAnalysis', (request: CancelPromptAnalysisRequest) => this.#cancelPromptAnalysis(request)),
    };
  }

  async #analyzeTraffic(request: AnalyzeTrafficRequest): Promise<AnalyzeTrafficResponse> {
    const raw = typeof request?.text_input === 'string' ? request.text_input : '';
    if (raw.length > MAX_ANALYZE_INPUT_CHARS) throw new NetSpectraError('NS_ERR_AI_INPUT', `the AnalyzeTraffic input has ${raw.length} characters; at most ${MAX_ANALYZE_INPUT_CHARS} are accepted`);
    const input = checkAuthToken(raw, this.#options.authToken);
    if (input.trim() === '') throw new NetSpectraError('NS_ERR_AI_INPUT', 'the AnalyzeTraffic input is empty');
    const alerts = parseAlertInput(input);
    const llm = this.#options.llm;
    if (llm === undefined) {
      if (alerts !== undefined) return new AnalyzeTrafficResponse({ text_output: builtinAnalysisMarkdown(alerts) });
      throw new NetSpectraError('NS_ERR_AI_NOT_CONFIGURED', 'no LLM is configured (ai.api_key or ai.base_url is empty) and the input is not alert JSON, so the built-in analyst cannot answer it either');
    }
    if (this.#analysesInFlight >= this.#options.sessions.maxSessions) {
      if (alerts !== undefined) return new AnalyzeTrafficResponse({ text_output: this.#fallback(alerts, `${this.#options.sessions.maxSessions} analyses are already running (ai.max_sessions)`) });
      throw new NetSpectraError('NS_ERR_AI_SESSION_LIMIT', `the AI service already runs ${this.#options.sessions.maxSessions} analyses (ai.max_sessions); retry later`);
    }
    this.#analysesInFlight++;
    try {
      const markdown = await llm.complete(alertAnalysisMessages(alerts !== undefined ? { alerts } : { text: input }));
      return new AnalyzeTrafficResponse({ text_output: markdown });
    } catch (error) {
      if (alerts === undefined) throw error;
      const reason = isNetSpectraError(error) ? error.toDisplayString() : String(error);
      this.#log(`AnalyzeTraffic: the LLM failed, answered with the built-in analysis: ${reason}`);
      return new AnalyzeTrafficResponse({ text_output: this.#fallback(alerts, reason) });
    } finally {
      this.#analysesInFlight--;
    }
  }

  #fallback(alerts: readonly Alert[], reason: string): string {
    const note = redactSecrets(reason, this.#options.secrets).replace(/[\r\n]+/g, ' ');
    return `${builtinAnalysisMarkdown(alerts)}\n\n> The LLM analysis was not available (${note.replace(/[\\`*_[\]<>]/g, (char) => `\\${char}`)}).`;
  }

  async #startPromptAnalysis(request: StartPromptAnalysisRequest): Promise<PromptAnalysisSession> {
    const raw = typeof request?.prompt === 'string' ? request.prompt : '';
    if (raw.length > MAX_PROMPT_CHARS * 4) throw new NetSpectraError('NS_ERR_AI_INPUT', `the prompt has ${raw.length} characters; at most ${MAX_PROMPT_CHARS} are accepted`);
    const prompt = checkAuthToken(raw, this.#options.authToken);
    const messages = promptSessionMessages(prompt);
    const llm = this.#options.llm;
    if (llm === undefined) throw new NetSpectraError('NS_ERR_AI_NOT_CONFIGURED', 'no LLM is configured (ai.api_key or ai.base_url is empty): prompt sessions need one');
    const sessionId = this.#sessions.start((signal) => llm.stream(messages, signal));
    return new PromptAnalysisSession({ session_id: sessionId, done: false });
  }

  async #readPromptChunks(request: ReadPromptChunksRequest): Promise<ReadPromptChunksResponse> {
    const maxChunks = typeof request?.max_chunks === 'number' ? request.max_chunks : undefined;
    const read = await this.#sessions.read(String(request?.session_id ?? ''), maxChunks);
    const response = new ReadPromptChunksResponse({ chunks: read.chunks, done: read.done });
    if (read.errorText !== undefined) response.error_text = redactSecrets(read.errorText, this.#options.secrets);
    return response;
  }

  async #cancelPromptAnalysis(request: CancelPromptAnalysisRequest): Promise<CancelPromptAnalysisResponse> {
    return new CancelPromptAnalysisResponse({ canceled: this.#sessions.cancel(String(request?.session_id ?? '')) });
  }
}
