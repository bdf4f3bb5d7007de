/**
 * A private nats-server for tests: its own loopback port (the server picks a free one, `-p -1`, and
 * says which in its log) and JetStream store folder, so a test can stop it, start it again on the
 * same port (JetStream state survives), or kill it.
 *
 * Tests skip when nats-server is not installed locally and fail when `CI` is set (CI must install
 * it), as the style guide asks for integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
/** How long a (re)start may take: generous, for a CI machine running test files in parallel. */
const START_TIMEOUT_MS = 30_000;

/** The nats-server binary, or undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

/**
 * For `test(name, { skip: natsSkip() }, …)`: a reason to skip locally, never in CI (where a missing
 * server must fail the run, so it throws).
 */
export function natsSkip(): string | false {
  if (natsServerBinary() !== undefined) return false;
  if (process.env.CI) throw new Error('nats-server is not installed, and CI must run the NATS tests (apt-get install nats-server)');
  return 'nats-server is not installed (apt-get install nats-server)';
}

export interface NatsServerOptions {
  /**
   * Enable JetStream (`-js`, with the store folder). A server without it is what tests of the
   * "JetStream is not enabled" errors need.
   * @default true
   */
  jetstream?: boolean;
}

export class NatsServer {
  readonly storeDir: string;
  readonly #jetstream: boolean;
  /** 0 until the first start has read the port the server picked. */
  #port = 0;
  #process: ChildProcess | undefined;
  #log = '';

  private constructor(storeDir: string, jetstream: boolean) {
    this.storeDir = storeDir;
    this.#jetstream = jetstream;
  }

  /** Start a server (with JetStream unless `jetstream: false`) on a port it picks. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(await mkdtemp(join(tmpdir(), 'ns-nats-')), options.jetstream ?? true);
    try {
      await server.restart();
    } catch (error) {
      await server.dispose();
      throw error;
    }
    return server;
  }

  /** The client port. */
  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /** (Re)start: the first time on a port the server picks, then on that port, with the same store folder. */
  async restart(): Promise<void> {
    if (this.#process !== undefined) return;
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error('nats-server is not installed');
    const args = ['-a', '127.0.0.1', '-p', this.#port === 0 ? '-1' : String(this.#port), ...(this.#jetstream ? ['-js', '-sd', this.storeDir] : [])];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    // This start's own output: the ready line of an earlier start must not count.
    let output = '';
    let wake: () => void = () => {};
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      this.#log = (this.#log + text).slice(-20_000);
      wake();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('exit', () => {
      if (this.#process === child) this.#process = undefined;
      wake();
    });
    child.on('error', (error) => {
      this.#log += `\n${String(error)}`;
      if (this.#process === child) this.#process = undefined;
      wake();
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    // nats-server logs "Listening for client connections on HOST:PORT" and then "Server is ready".
    while (!/\[INF\] Server is ready/.test(output)) {
      if (this.#process !== child) throw new Error(`nats-server exited while starting:\n${this.#log}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        child.kill('SIGKILL');
        throw new Error(`nats-server was not ready within ${START_TIMEOUT_MS / 1000} s:\n${this.#log}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const listening = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(output);
    if (listening === null) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not say its client port:\n${this.#log}`);
    }
    this.#port = Number(listening[1]);
    if (!(await this.#answers())) throw new Error(`nats-server is ready but does not answer on port ${this.#port}:\n${this.#log}`);
  }

  /** Stop the server (SIGTERM, or SIGKILL with `kill: true`) and wait for it to exit. */
  async stop(kill = false): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(kill ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }

  /** Stop the server and remove its store folder. */
  async dispose(): Promise<void> {
    await this.stop(true);
    await rm(this.storeDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** The server's recent log, for assertion messages. */
  get log(): string {
    return this.#log;
  }

  /** Whether the port sends the NATS INFO line. */
  #answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: this.port });
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(5000, () => done(false));
      socket.once('data', (data) => done(data.toString('utf8').startsWith('INFO')));
      socket.once('error', () => done(false));
    });
  }
}
