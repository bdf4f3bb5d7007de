/**
 * A client of the AIService (Thrift, buffered transport, binary protocol) for `netspectra ask` and
 * the alerter. Wraps the thrift library's connection, which on its own never fails a pending call
 * when the socket closes and has no per-call deadline: here every call ends — answered, failed with
 * the service's error, or failed because the connection broke, timed out or was aborted.
 */
import thrift from 'thrift';
import { ErrorCodes, NetSpectraError, isNetSpectraError, type ErrorCode } from '../model/errors.js';
import * as AIService from '../wire/gen/AIService.js';
import { AnalyzeTrafficRequest, CancelPromptAnalysisRequest, ReadPromptChunksRequest, StartPromptAnalysisRequest } from '../wire/gen/netspectra_types.js';

export interface ServiceAddress {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port` or `:port` (loopback); undefined when it is none of these. */
export function parseServiceAddress(text: string): ServiceAddress | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

export interface AiServiceClientOptions {
  /** @default 5000 */
  connectTimeoutMs?: number;
  /** Longest wait for one answer; the connection is dropped after it. @default 120000 */
  callTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface PromptChunks {
  chunks: string[];
  done: boolean;
  errorText?: string;
}

type ThriftConnection = ReturnType<typeof thrift.createConnection>;

export class AiServiceClient implements AsyncDisposable {
  readonly #connection: ThriftConnection;
  readonly #client: AIService.Client;
  readonly #where: string;
  readonly #callTimeoutMs: number;
  #broken: NetSpectraError | undefined;
  readonly #onBroken = new Set<(error: NetSpectraError) => void>();

  private constructor(connection: ThriftConnection, where: string, callTimeoutMs: number) {
    this.#connection = connection;
    this.#where = where;
    this.#callTimeoutMs = callTimeoutMs;
    this.#client = thrift.createClient(AIService.Client, connection);
    const broke = (error: NetSpectraError): void => {
      this.#broken ??= error;
      for (const fail of [...this.#onBroken]) fail(this.#broken);
    };
    connection.on('error', (error: Error) => broke(new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `the connection to the AI service at ${where} failed: ${error.message}`, { cause: error })));
    connection.on('close', () => broke(new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `the AI service at ${where} closed the connection`)));
  }

  /** Connects to the AI service at `address` (`host:port`). */
  static async connect(address: string, options: AiServiceClientOptions = {}): Promise<AiServiceClient> {
    const parsed = parseServiceAddress(address);
    if (parsed === undefined) throw new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `"${address}" is not an AI service address (HOST:PORT, e.g. 127.0.0.1:50052)`);
    const where = `${parsed.host}:${parsed.port}`;
    options.signal?.throwIfAborted();
    const connection = thrift.createConnection(parsed.host, parsed.port, { transport: thrift.TBufferedTransport, protocol: thrift.TBinaryProtocol });
    // The library emits 'error' only when someone listens; an unhandled one would crash us.
    connection.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        cleanup();
        connection.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `could not connect to the AI service at ${where} within ${(options.connectTimeoutMs ?? 5000) / 1000}s`)), options.connectTimeoutMs ?? 5000);
      const onConnect = (): void => {
        cleanup();
        resolve();
      };
      const onError = (error: NodeJS.ErrnoException): void => fail(new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `could not connect to the AI service at ${where}: ${error.code ?? error.message}`, { cause: error }));
      const onClose = (): void => fail(new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `the AI service at ${where} closed the connection`));
      const onAbort = (): void => fail(abortError(options.signal));
      function cleanup(): void {
        clearTimeout(timer);
        connection.off('connect', onConnect);
        connection.off('error', onError);
        connection.off('close', onClose);
        options.signal?.removeEventListener('abort', onAbort);
      }
      connection.on('connect', onConnect);
      connection.on('error', onError);
      connection.on('close', onClose);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
    return new AiServiceClient(connection, where, options.callTimeoutMs ?? 120_000);
  }

  async analyzeTraffic(textInput: string, signal?: AbortSignal): Promise<string> {
    const response = await this.#call('AnalyzeTraffic', () => this.#client.AnalyzeTraffic(new AnalyzeTrafficRequest({ text_input: textInput })), signal);
    return response.text_output;
  }

  async startPromptAnalysis(prompt: string, signal?: AbortSignal): Promise<{ sessionId: string; done: boolean; errorText?: string }> {
    const session = await this.#call('StartPromptAnalysis', () => this.#client.StartPromptAnalysis(new StartPromptAnalysisRequest({ prompt })), signal);
    return { sessionId: session.session_id, done: session.done, ...(typeof session.error_text === 'string' ? { errorText: session.error_text } : {}) };
  }

  async readPromptChunks(sessionId: string, maxChunks: number, signal?: AbortSignal): Promise<PromptChunks> {
    const request = new ReadPromptChunksRequest({ session_id: sessionId });
    request.max_chunks = maxChunks;
    const response = await this.#call('ReadPromptChunks', () => this.#client.ReadPromptChunks(request), signal);
    return { chunks: response.chunks ?? [], done: response.done, ...(typeof response.error_text === 'string' ? { errorText: response.error_text } : {}) };
  }

  async cancelPromptAnalysis(sessionId: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.#call('CancelPromptAnalysis', () => this.#client.CancelPromptAnalysis(new CancelPromptAnalysisRequest({ session_id: sessionId })), signal);
    return response.canceled;
  }

  close(): void {
    this.#connection.end();
    this.#connection.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  async #call<T>(method: string, send: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (this.#broken !== undefined) throw this.#broken;
    signal?.throwIfAborted();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#onBroken.delete(onBroken);
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      // After a timeout or an abort the answer may still arrive later and would be taken for the
      // next call's: the connection is unusable, so it is dropped.
      const timer = setTimeout(() => {
        finish(() => reject(new NetSpectraError('NS_ERR_AI_SERVICE_UNREACHABLE', `the AI service at ${this.#where} did not answer ${method} within ${this.#callTimeoutMs / 1000}s`)));
        this.close();
      }, this.#callTimeoutMs);
      const onAbort = (): void => {
        finish(() => reject(abortError(signal)));
        this.close();
      };
      const onBroken = (error: NetSpectraError): void => finish(() => reject(error));
      this.#onBroken.add(onBroken);
      signal?.addEventListener('abort', onAbort, { once: true });
      let pending: Promise<T>;
      try {
        pending = send();
      } catch (error) {
        finish(() => reject(this.#remoteError(method, error)));
        return;
      }
      pending.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(this.#remoteError(method, error))),
      );
    });
  }

  /** A TApplicationException from the service, keeping the service's own code when it sent one. */
  #remoteError(method: string, error: unknown): NetSpectraError {
    if (isNetSpectraError(error)) return error;
    const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
    const coded = /^(NS_ERR_[A-Z0-9_]+): ([\s\S]*)$/.exec(message);
    if (coded !== null && (coded[1] ?? '') in ErrorCodes) {
      return new NetSpectraError(coded[1] as ErrorCode, `${coded[2] ?? ''} (AI service at ${this.#where})`, { cause: error });
    }
    return new NetSpectraError('NS_ERR_AI_SERVICE_ERROR', `the AI service at ${this.#where} answered ${method} with an error: ${message}`, { cause: error });
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new NetSpectraError('NS_ERR_AI_CANCELED', 'the call to the AI service was canceled');
}
