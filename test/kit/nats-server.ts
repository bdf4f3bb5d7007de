/**
 * A private nats-server for tests: its own free loopback port and JetStream store folder, so a test
 * can stop it, start it again on the same port (JetStream state survives), or kill it.
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
import { freePort } from './free-port.js';

export { freePort };

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

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

export class NatsServer {
  readonly port: number;
  readonly storeDir: string;
  #process: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
  }

  /** Start a server with JetStream on a free port. */
  static async start(): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), await mkdtemp(join(tmpdir(), 'ns-nats-')));
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /** (Re)start on the same port and store folder. */
  async restart(): Promise<void> {
    if (this.#process !== undefined) return;
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error('nats-server is not installed');
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    const collect = (chunk: Buffer): void => {
      this.#log = (this.#log + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('exit', () => {
      if (this.#process === child) this.#process = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await this.#answers())) {
      if (this.#process !== child) throw new Error(`nats-server exited while starting:\n${this.#log}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not answer on port ${this.port} within 10 s:\n${this.#log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
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
      socket.setTimeout(500, () => done(false));
      socket.once('data', (data) => done(data.toString('utf8').startsWith('INFO')));
      socket.once('error', () => done(false));
    });
  }
}
