/**
 * Keeps a remote writer's snapshots safe while its server is unreachable: a SnapshotWriter wrapper
 * that writes through while it can, and otherwise spools snapshots to local files and writes them,
 * oldest first, once the server answers again.
 *
 * - Order: once anything is spooled, new snapshots queue behind it, so the server receives them in
 *   the order they were taken (the stores write changes since the previous snapshot, so order and
 *   completeness matter).
 * - What is retried: only errors the inner writer marks as "unreachable" (`retryableCodes`);
 *   a refused query or bad credentials will not heal by waiting, so those fail the write.
 * - Bounded: at most `maxBytes` of spool files. A snapshot that would exceed it is refused with
 *   NS_ERR_SPOOL_FULL (counted, reported), never silently dropped; size the spool for the longest
 *   outage to ride out (a snapshot's size is about 100 bytes per changed flow).
 * - Durable across restarts: spool files are named by sequence and written atomically (temp file,
 *   then rename); a process that starts with a non-empty spool sends it first.
 * - At-least-once: a spooled snapshot is deleted only after the inner write succeeded. A write
 *   that times out after the server stored it is sent again; the ClickHouse store reads back what
 *   it may have stored before such a repeat, so repeated rows carry no growth.
 * - `forgetFrom` (a resumed JetStream engine) keeps its place in the order: while anything is
 *   spooled it is spooled too (a small `.nsforget` file) and done by the inner writer between the
 *   snapshots before and after it.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isNetSpectraError, NetSpectraError, type ErrorCode } from '../model/errors.js';
import type { RunPeriod, SnapshotWriter } from '../model/ports.js';
import type { GroupSnapshot } from '../model/snapshot.js';
import { decodeSnapshotFile, encodeSnapshotFile } from './snapshot-file.js';

export interface SpoolingWriterOptions {
  /** Folder of the spool files (created if missing). */
  directory: string;
  /** This process's run id, kept with every spooled snapshot so a later process writes it under the run that took it. */
  runId?: string;
  /** Largest total size of the spool files. @default 1 GiB */
  maxBytes?: number;
  /** Error codes of the inner writer that mean "try again later". @default ['NS_ERR_CLICKHOUSE_UNREACHABLE'] */
  retryableCodes?: readonly ErrorCode[];
  /** First and largest pause between retries, ms (doubling). @default 500 and 30000 */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface SpoolStats {
  /** Snapshots waiting in the spool. */
  queued: number;
  queuedBytes: number;
  /** Snapshots that went to the spool, and those later written from it. */
  spooled: number;
  replayed: number;
  /** Snapshots refused because the spool was full. */
  refused: number;
  /** Whether the inner writer is currently reachable (as far as the last attempt knows). */
  reachable: boolean;
}

const SUFFIX = '.nssnap';
/** A spooled `forgetFrom` (JSON RunPeriod). */
const FORGET_SUFFIX = '.nsforget';

export class SpoolingWriter implements SnapshotWriter {
  readonly description: string;
  readonly acceptsDeltas: boolean | undefined;
  readonly #inner: SnapshotWriter;
  readonly #options: Required<Omit<SpoolingWriterOptions, 'runId'>> & Pick<SpoolingWriterOptions, 'runId'>;
  /** Spool files in order: name and size. */
  #files: { name: string; bytes: number }[] = [];
  #nextSequence = 1;
  #innerStarted = false;
  #draining: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #backoff = 0;
  #stopped = false;
  #writes: Promise<void> = Promise.resolve();
  readonly #stats: SpoolStats = { queued: 0, queuedBytes: 0, spooled: 0, replayed: 0, refused: 0, reachable: false };
  /** The last retryable error, for health reports. */
  lastError: NetSpectraError | undefined;

  constructor(inner: SnapshotWriter, options: SpoolingWriterOptions) {
    this.#inner = inner;
    this.description = `${inner.description} (spool ${options.directory})`;
    this.acceptsDeltas = inner.acceptsDeltas;
    this.#options = { maxBytes: 1 << 30, retryableCodes: ['NS_ERR_CLICKHOUSE_UNREACHABLE'], retryMinMs: 500, retryMaxMs: 30_000, ...options };
  }

  get stats(): SpoolStats {
    return { ...this.#stats, queued: this.#files.length, queuedBytes: this.#files.reduce((sum, f) => sum + f.bytes, 0) };
  }

  /** Open the spool (sending what a previous run left first) and the inner writer if it is reachable. */
  async start(): Promise<void> {
    this.#stopped = false;
    // the folder is made when the first snapshot is spooled, not before: most runs never need it
    const names = (await readdir(this.#options.directory).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error))))
      .filter((n) => n.endsWith(SUFFIX) || n.endsWith(FORGET_SUFFIX))
      .sort();
    for (const name of names) this.#files.push({ name, bytes: (await stat(join(this.#options.directory, name))).size });
    const last = names.at(-1);
    if (last !== undefined) this.#nextSequence = Number.parseInt(last, 10) + 1;
    try {
      await this.#inner.start();
      this.#innerStarted = true;
      this.#stats.reachable = true;
    } catch (error) {
      if (!this.#retryable(error)) throw error;
      this.lastError = error as NetSpectraError;
    }
    if (this.#files.length > 0 || !this.#innerStarted) this.#scheduleDrain(0);
  }

  /**
   * Writes run one at a time, in call order, even when two task groups share this writer: the
   * decision "write through or spool" must see the spool as the previous write left it.
   */
  write(snapshot: GroupSnapshot): Promise<void> {
    const run = this.#writes.then(() => this.#write(snapshot));
    this.#writes = run.catch(() => undefined);
    return run;
  }

  async #write(snapshot: GroupSnapshot): Promise<void> {
    if (this.#files.length === 0 && this.#innerStarted && this.#draining === undefined) {
      try {
        await this.#inner.write(snapshot);
        return;
      } catch (error) {
        if (!this.#retryable(error)) throw error;
        this.#unreachable(error);
      }
    }
    await this.#spool(snapshot);
    this.#scheduleDrain(this.#backoff);
  }

  /** The inner writer's forgetFrom, in order with the writes (see the module comment). */
  forgetFrom(from: RunPeriod): Promise<void> {
    const run = this.#writes.then(() => this.#forget(from));
    this.#writes = run.catch(() => undefined);
    return run;
  }

  async #forget(from: RunPeriod): Promise<void> {
    if (this.#inner.forgetFrom === undefined) return;
    if (this.#files.length === 0 && this.#innerStarted && this.#draining === undefined) {
      try {
        await this.#inner.forgetFrom(from);
        return;
      } catch (error) {
        if (!this.#retryable(error)) throw error;
        this.#unreachable(error);
      }
    }
    await this.#append([Buffer.from(JSON.stringify(from))], FORGET_SUFFIX, 'a deletion');
    this.#scheduleDrain(this.#backoff);
  }

  /** Stop retrying; what is still spooled stays on disk for the next start. */
  async stop(): Promise<void> {
    await this.#writes;
    // one last attempt to send what is spooled (the final snapshot may be among it); if the server
    // still does not answer, the files wait on disk for the next start
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#draining;
    if (this.#files.length > 0) await this.#drainOnce();
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#draining;
    if (this.#innerStarted) await this.#inner.stop();
    this.#innerStarted = false;
  }

  /** Wait until the spool is empty (or `ms` passed); true when it is. For shutdown and tests. */
  async drain(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (this.#files.length > 0 || !this.#innerStarted) {
      if (performance.now() > deadline || this.#stopped) return this.#files.length === 0;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #retryable(error: unknown): boolean {
    return isNetSpectraError(error) && this.#options.retryableCodes.includes(error.code);
  }

  #unreachable(error: unknown): void {
    this.lastError = error as NetSpectraError;
    this.#stats.reachable = false;
    this.#backoff = this.#backoff === 0 ? this.#options.retryMinMs : Math.min(this.#backoff * 2, this.#options.retryMaxMs);
  }

  async #spool(snapshot: GroupSnapshot): Promise<void> {
    const parts = encodeSnapshotFile(snapshot.runId === undefined && this.#options.runId !== undefined ? { ...snapshot, runId: this.#options.runId } : snapshot);
    const size = parts.reduce((sum, p) => sum + p.length, 0);
    const used = this.#files.reduce((sum, f) => sum + f.bytes, 0);
    if (used + size > this.#options.maxBytes) {
      this.#stats.refused++;
      throw new NetSpectraError(
        'NS_ERR_SPOOL_FULL',
        `${this.#inner.description} is unreachable and its spool ${this.#options.directory} is full (${used} of ${this.#options.maxBytes} bytes); the ${snapshot.group} snapshot of ${new Date(snapshot.time.seconds * 1000).toISOString()} was not kept`,
      );
    }
    await this.#append(parts, SUFFIX, 'a snapshot');
    this.#stats.spooled++;
  }

  /** A new spool file, written atomically, at the end of the queue. */
  async #append(parts: readonly Uint8Array[], suffix: string, what: string): Promise<void> {
    const size = parts.reduce((sum, p) => sum + p.length, 0);
    await mkdir(this.#options.directory, { recursive: true });
    const name = `${String(this.#nextSequence++).padStart(12, '0')}${suffix}`;
    const path = join(this.#options.directory, name);
    const temporary = `${path}.tmp`;
    try {
      const handle = await open(temporary, 'w');
      try {
        await handle.writev(parts);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
    } catch (cause) {
      await rm(temporary, { force: true });
      throw new NetSpectraError('NS_ERR_STORE_WRITE', `cannot spool ${what} for ${this.#inner.description} to ${path}: ${(cause as Error).message}`, { cause });
    }
    this.#files.push({ name, bytes: size });
  }

  #scheduleDrain(delayMs: number): void {
    if (this.#stopped || this.#draining !== undefined || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draining = this.#drainOnce().finally(() => {
        this.#draining = undefined;
        if (this.#files.length > 0 || !this.#innerStarted) this.#scheduleDrain(this.#backoff);
      });
    }, delayMs);
  }

  /** Send spooled snapshots in order until the spool is empty or the server fails again. */
  async #drainOnce(): Promise<void> {
    try {
      if (!this.#innerStarted) {
        await this.#inner.start();
        this.#innerStarted = true;
      }
      while (this.#files.length > 0 && !this.#stopped) {
        const file = this.#files[0]!;
        const path = join(this.#options.directory, file.name);
        if (file.name.endsWith(FORGET_SUFFIX)) {
          await this.#inner.forgetFrom?.(JSON.parse(await readFile(path, 'utf8')) as RunPeriod);
        } else {
          await this.#inner.write(decodeSnapshotFile(new Uint8Array(await readFile(path))));
          this.#stats.replayed++;
        }
        await rm(path, { force: true });
        this.#files.shift();
      }
      this.#stats.reachable = true;
      this.#backoff = 0;
    } catch (error) {
      if (this.#retryable(error)) {
        this.#unreachable(error);
        return;
      }
      // not something waiting fixes (a refused statement, a damaged spool file): keep the file for
      // a person to look at, move past it, and report it as a failed write
      const file = this.#files.shift();
      if (file !== undefined) await rename(join(this.#options.directory, file.name), join(this.#options.directory, `${file.name}.failed`)).catch(() => undefined);
      this.lastError = isNetSpectraError(error)
        ? error
        : new NetSpectraError('NS_ERR_STORE_WRITE', `a spooled snapshot for ${this.#inner.description} could not be written: ${(error as Error).message}`, { cause: error });
    }
  }
}
