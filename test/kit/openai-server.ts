/**
 * A real OpenAI-compatible chat-completions server on a free loopback port, scripted per test: the
 * provider side of the AI service's tests. It speaks HTTP for real (node:http): JSON answers,
 * Server-Sent Events streams (`data: {...}\n\n` ... `data: [DONE]\n\n`), OpenAI error bodies,
 * slow and hanging answers, streams that break off. Every request is recorded (headers, body) so
 * tests can assert the prompt, the model and the Authorization header, and whether the client
 * went away before the answer ended (an aborted upstream call).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One event of a scripted stream. */
export type StreamEvent =
  /** A chunk with this content delta in choices[0]. */
  | string
  /** Any chunk JSON, sent as it is (e.g. `{ choices: [] }`, an empty delta, a usage-only chunk). */
  | { raw: unknown }
  /** Raw text written to the response body as it is (malformed SSE, comments, keep-alives). */
  | { text: string }
  /** Pause the stream. */
  | { waitMs: number }
  /** An error event mid-stream, as OpenAI sends it: `data: {"error": {...}}`. */
  | { error: { message: string; type?: string; code?: string } }
  /** Destroy the connection here (a broken stream). */
  | { destroy: true };

export type ScriptedReply =
  /** A non-streaming chat.completion with this content. */
  | { kind: 'json'; content: string; delayMs?: number; choices?: unknown[] }
  /** An SSE stream; `[DONE]` is sent at the end unless `noDone`. */
  | { kind: 'stream'; events: StreamEvent[]; delayMs?: number; eventGapMs?: number; noDone?: boolean }
  /** An OpenAI error body with this HTTP status. */
  | { kind: 'error'; status: number; message: string; type?: string; code?: string; delayMs?: number; headers?: Record<string, string> }
  /** Never answer; the request stays open until the client gives up. */
  | { kind: 'hang' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body (undefined when it was not JSON). */
  body: ChatRequestBody | undefined;
  rawBody: string;
  /** True once the client closed the connection before the answer was complete. */
  abortedByClient: boolean;
  /** True once the answer was sent completely. */
  completed: boolean;
}

export interface ChatRequestBody {
  model?: string;
  stream?: boolean;
  messages?: Array<{ role: string; content: string }>;
  [key: string]: unknown;
}

export class OpenAiTestServer {
  readonly requests: RecordedRequest[] = [];
  #server: Server | undefined;
  #port = 0;
  readonly #script: ScriptedReply[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #waiters: Array<() => void> = [];
  /** Answer of requests beyond the script: a 500, so an unexpected call shows in the test. */
  fallback: ScriptedReply = { kind: 'error', status: 500, message: 'openai-test-server: no scripted reply left', type: 'server_error' };

  static async start(): Promise<OpenAiTestServer> {
    const server = new OpenAiTestServer();
    await server.#listen();
    return server;
  }

  /** Base URL for the client, e.g. `http://127.0.0.1:PORT/v1`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  /** Queue replies, answered in order, one per request. */
  script(...replies: ScriptedReply[]): this {
    this.#script.push(...replies);
    return this;
  }

  /** Resolves when `count` requests have arrived in total. */
  async waitForRequests(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      if (Date.now() > deadline) throw new Error(`openai-test-server: expected ${count} requests, got ${this.requests.length}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Resolves when request `index` was closed by the client before it completed. */
  async waitForClientAbort(index: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests[index]?.abortedByClient !== true) {
      if (Date.now() > deadline) throw new Error(`openai-test-server: request ${index} was not aborted by the client`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #listen(): Promise<void> {
    const server = createServer((request, response) => {
      this.#handle(request, response);
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: ChatRequestBody | undefined;
      try {
        body = JSON.parse(rawBody) as ChatRequestBody;
      } catch {
        body = undefined;
      }
      const record: RecordedRequest = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body, rawBody, abortedByClient: false, completed: false };
      this.requests.push(record);
      for (const wake of this.#waiters.splice(0)) wake();
      response.on('close', () => {
        if (!response.writableFinished) record.abortedByClient = true;
      });
      response.on('finish', () => {
        record.completed = true;
      });
      if (record.method !== 'POST' || !record.path.endsWith('/chat/completions')) {
        sendError(response, { kind: 'error', status: 404, message: `openai-test-server: no route ${record.method} ${record.path}`, type: 'invalid_request_error' });
        return;
      }
      const reply = this.#script.shift() ?? this.fallback;
      void this.#reply(reply, body, response);
    });
  }

  async #reply(reply: ScriptedReply, body: ChatRequestBody | undefined, response: ServerResponse): Promise<void> {
    if (reply.kind === 'hang') return;
    if (reply.delayMs !== undefined) await sleep(reply.delayMs);
    if (response.destroyed) return;
    if (reply.kind === 'error') {
      sendError(response, reply);
      return;
    }
    const model = body?.model ?? 'unknown-model';
    if (reply.kind === 'json') {
      const completion = {
        id: 'chatcmpl-test',
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: reply.choices ?? [{ index: 0, message: { role: 'assistant', content: reply.content, refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(completion));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    response.flushHeaders();
    const chunk = (choices: unknown[]): unknown => ({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, choices });
    let first = true;
    for (const event of reply.events) {
      if (response.destroyed) return;
      if (!first && reply.eventGapMs !== undefined) await sleep(reply.eventGapMs);
      first = false;
      if (typeof event === 'string') {
        response.write(`data: ${JSON.stringify(chunk([{ index: 0, delta: { content: event }, finish_reason: null, logprobs: null }]))}\n\n`);
      } else if ('raw' in event) {
        response.write(`data: ${JSON.stringify(event.raw)}\n\n`);
      } else if ('text' in event) {
        response.write(event.text);
      } else if ('waitMs' in event) {
        await sleep(event.waitMs);
      } else if ('error' in event) {
        response.write(`data: ${JSON.stringify({ error: { type: 'server_error', code: null, param: null, ...event.error } })}\n\n`);
      } else {
        response.destroy();
        return;
      }
    }
    if (response.destroyed) return;
    if (reply.noDone !== true) {
      response.write(`data: ${JSON.stringify(chunk([{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }]))}\n\n`);
      response.write('data: [DONE]\n\n');
    }
    response.end();
  }
}

function sendError(response: ServerResponse, reply: Extract<ScriptedReply, { kind: 'error' }>): void {
  const body = { error: { message: reply.message, type: reply.type ?? 'invalid_request_error', param: null, code: reply.code ?? null } };
  response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  response.end(JSON.stringify(body));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
