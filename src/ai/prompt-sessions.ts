/**
 * Prompt sessions of the AIService (StartPromptAnalysis / ReadPromptChunks / CancelPromptAnalysis):
 * an answer streams from the LLM into a bounded per-session buffer, and the client drains it by
 * polling. Everything is bounded, unlike the original: the number of running sessions, the chunks a
 * session buffers (when full, the upstream stream waits for the reader: backpressure all the way to
 * the provider's TCP connection), a session's lifetime and the time it may go unread — both abort
 * the upstream call — and how long a finished session is kept for its last read.
 */
import { randomBytes } from 'node:crypto';
import { NetSpectraError, isNetSpectraError, errorMessage } from '../model/errors.js';

export interface PromptSessionLimits {
  /** Sessions running at once. */
  maxSessions: number;
  /** Chunks buffered per session. */
  maxBufferedChunks: number;
  /** Longest life of a running session. */
  ttlMs: number;
  /** A running session nobody reads for this long is aborted. */
  idleTimeoutMs: number;
  /**
   * Longest wait of one ReadPromptChunks for a chunk; then it answers with no chunks and done=false
   * (the original's Go client gives up on a socket after 60 s).
   * @default 15000
   */
  readWaitMs?: number;
  /**
   * How long a finished session stays readable (its last chunks, done, error_text).
   * @default 60000
   */
  retentionMs?: number;
  /**
   * How often expiry is checked.
   * @default 1000
   */
  sweepIntervalMs?: number;
}

/** Produces the answer of a session; must stop when `signal` aborts. */
export type AnswerProducer = (signal: AbortSignal) => AsyncIterable<string>;

export interface PromptChunkRead {
  chunks: string[];
  /** The session has finished and everything has been read. */
  done: boolean;
  /** Why the session failed (with done). */
  errorText?: string;
}

const DEFAULT_READ_CHUNKS = 16;
const MAX_READ_CHUNKS = 1024;

class PromptSession {
  readonly controller = new AbortController();
  readonly chunks: string[] = [];
  readonly startedAt: number;
  lastReadAt: number;
  activeReads = 0;
  finishedAt: number | undefined;
  error: NetSpectraError | undefined;
  readonly #wakeReaders = new Set<() => void>();
  readonly #wakeWriter = new Set<() => void>();

  constructor(readonly id: string, now: number) {
    this.startedAt = now;
    this.lastReadAt = now;
  }

  get finished(): boolean {
    return this.finishedAt !== undefined;
  }

  push(chunk: string): void {
    this.chunks.push(chunk);
    this.#wake(this.#wakeReaders);
  }

  finish(error: NetSpectraError | undefined, now: number): void {
    if (this.finished) return;
    this.finishedAt = now;
    this.error = error;
    this.#wake(this.#wakeReaders);
    this.#wake(this.#wakeWriter);
  }

  take(max: number): string[] {
    const taken = this.chunks.splice(0, max);
    if (taken.length > 0) this.#wake(this.#wakeWriter);
    return taken;
  }

  /** Resolves when a chunk arrives, the session ends, or after `ms`. */
  waitForChunks(ms: number): Promise<void> {
    return this.#wait(this.#wakeReaders, ms);
  }

  /** Resolves when the reader took chunks or the session ended (abort included). */
  waitForSpace(): Promise<void> {
    return this.#wait(this.#wakeWriter, undefined);
  }

  abort(reason: NetSpectraError): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(reason);
    this.#wake(this.#wakeWriter);
  }

  #wait(waiters: Set<() => void>, ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve();
      };
      waiters.add(wake);
      if (ms !== undefined) timer = setTimeout(wake, ms);
    });
  }

  #wake(waiters: Set<() => void>): void {
    for (const wake of [...waiters]) wake();
  }
}

export class PromptSessionStore {
  readonly #limits: Required<PromptSessionLimits>;
  readonly #sessions = new Map<string, PromptSession>();
  readonly #pumps = new Set<Promise<void>>();
  #sweeper: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #now: () => number;

  constructor(limits: PromptSessionLimits, now: () => number = Date.now) {
    this.#limits = { readWaitMs: 15_000, retentionMs: 60_000, sweepIntervalMs: 1000, ...limits };
    this.#now = now;
  }

  /** Sessions still producing their answer. */
  get running(): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (!session.finished) count++;
    return count;
  }

  /** Sessions held (running, or finished and kept for their last read). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Starts a session producing `produce`'s answer; returns its id. */
  start(produce: AnswerProducer): string {
    if (this.#stopped) throw new NetSpectraError('NS_ERR_AI_CANCELED', 'the AI service is stopping');
    if (this.running >= this.#limits.maxSessions) {
      throw new NetSpectraError('NS_ERR_AI_SESSION_LIMIT', `the AI service already runs ${this.#limits.maxSessions} prompt sessions (ai.max_sessions); retry when one has finished`);
    }
    this.#ensureSweeper();
    const id = randomBytes(16).toString('hex');
    const session = new PromptSession(id, this.#now());
    this.#sessions.set(id, session);
    this.#evictFinished();
    const pump = this.#pump(session, produce).finally(() => this.#pumps.delete(pump));
    this.#pumps.add(pump);
    return id;
  }

  /** Up to `maxChunks` chunks, waiting (up to readWaitMs) for at least one or for the end. */
  async read(id: string, maxChunks: number | undefined | null): Promise<PromptChunkRead> {
    const session = this.#get(id);
    const limit = maxChunks === undefined || maxChunks === null || maxChunks <= 0 ? DEFAULT_READ_CHUNKS : Math.min(maxChunks, MAX_READ_CHUNKS);
    session.activeReads++;
    session.lastReadAt = this.#now();
    try {
      if (session.chunks.length === 0 && !session.finished) await session.waitForChunks(this.#limits.readWaitMs);
    } finally {
      session.activeReads--;
      session.lastReadAt = this.#now();
    }
    const chunks = session.take(limit);
    const done = session.finished && session.chunks.length === 0;
    const read: PromptChunkRead = { chunks, done };
    if (done && session.error !== undefined) read.errorText = session.error.toDisplayString();
    return read;
  }

  /** Cancels a running session (its upstream call too); false when it is unknown or already finished. */
  cancel(id: string): boolean {
    const session = this.#sessions.get(id);
    if (session === undefined || session.finished) return false;
    session.abort(new NetSpectraError('NS_ERR_AI_CANCELED', 'the prompt session was canceled'));
    return true;
  }

  /** Aborts every session and waits for their upstream calls to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const session of this.#sessions.values()) session.abort(new NetSpectraError('NS_ERR_AI_CANCELED', 'the AI service is stopping'));
    await Promise.allSettled([...this.#pumps]);
    this.#sessions.clear();
  }

  /** Checks lifetimes now (the sweeper calls it every sweepIntervalMs). */
  sweep(): void {
    const now = this.#now();
    for (const [id, session] of this.#sessions) {
      if (session.finished) {
        if (now - (session.finishedAt ?? now) >= this.#limits.retentionMs) this.#sessions.delete(id);
        continue;
      }
      if (now - session.startedAt >= this.#limits.ttlMs) {
        session.abort(new NetSpectraError('NS_ERR_AI_SESSION_EXPIRED', `the prompt session ran longer than ${seconds(this.#limits.ttlMs)} (ai.session_ttl) and was aborted`));
      } else if (session.activeReads === 0 && now - session.lastReadAt >= this.#limits.idleTimeoutMs) {
        session.abort(new NetSpectraError('NS_ERR_AI_SESSION_EXPIRED', `nobody read the prompt session for ${seconds(this.#limits.idleTimeoutMs)} (ai.session_idle_timeout); it was aborted`));
      }
    }
  }

  #get(id: string): PromptSession {
    const session = this.#sessions.get(id);
    if (session === undefined) throw new NetSpectraError('NS_ERR_AI_SESSION_NOT_FOUND', `no prompt session "${id.slice(0, 64)}" (unknown, expired, or collected after it finished)`);
    return session;
  }

  async #pump(session: PromptSession, produce: AnswerProducer): Promise<void> {
    const signal = session.controller.signal;
    let failure: NetSpectraError | undefined;
    try {
      for await (const piece of produce(signal)) {
        if (piece === '') continue;
        while (session.chunks.length >= this.#limits.maxBufferedChunks && !signal.aborted) await session.waitForSpace();
        if (signal.aborted) break;
        session.push(piece);
      }
    } catch (error) {
      failure = isNetSpectraError(error) ? error : new NetSpectraError('NS_ERR_AI_PROVIDER_FAILED', `the answer failed: ${errorMessage(error)}`, { cause: error });
    }
    // An abort wins: its reason (canceled, expired, stopping) is what the reader must learn.
    if (signal.aborted) failure = isNetSpectraError(signal.reason) ? signal.reason : new NetSpectraError('NS_ERR_AI_CANCELED', 'the prompt session was canceled');
    session.finish(failure, this.#now());
  }

  /** Finished sessions beyond maxSessions are dropped oldest first, so retention stays bounded too. */
  #evictFinished(): void {
    const finished = [...this.#sessions.values()].filter((session) => session.finished).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const session of finished.slice(0, Math.max(0, finished.length - this.#limits.maxSessions))) this.#sessions.delete(session.id);
  }

  #ensureSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => this.sweep(), this.#limits.sweepIntervalMs);
    this.#sweeper.unref();
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
