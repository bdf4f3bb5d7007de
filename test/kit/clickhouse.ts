/**
 * A private clickhouse-server for integration tests (like nats.js `nst/src/launcher.ts` does for
 * nats-server): loopback-only, on free ports, with its own temporary data, log and tmp folders and
 * a generated minimal config.xml/users.xml whose `default` user has a random password. Nothing of
 * the system's server (/etc/clickhouse-server, /var/lib/clickhouse) is read or touched.
 *
 *   await using server = await ClickHouseServer.start();
 *   server.url, server.username, server.password, server.httpPort
 *
 * Tests that need it are declared with `{ skip: clickHouseSkip }`: skipped with a reason when no
 * clickhouse-server is installed, but run (and fail in `start()`) when `CI` is set, because CI must
 * install it (`apt-get install -y clickhouse-server`). Debian's 18.16 starts in about 0.1 s; `stop()`
 * kills it (the data is thrown away anyway) and takes milliseconds.
 *
 * The binary is `$CLICKHOUSE_SERVER_BIN`, else `clickhouse-server` on PATH or in /usr/sbin or
 * /usr/bin; a single-binary `clickhouse` install is run as `clickhouse server`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ClickHouseServerOptions {
  /**
   * Server time zone (`<timezone>`): tests of UTC storage run the server in another zone, so a
   * value that depended on it would show.
   * @default "UTC"
   */
  timezone?: string;
  /**
   * How long to wait for `SELECT 1` to answer.
   * @default 30000
   */
  startTimeoutMs?: number;
}

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const fromEnv = process.env.CLICKHOUSE_SERVER_BIN ?? '';

function findBinary(): string | undefined {
  if (fromEnv !== '') return executable(fromEnv) ? fromEnv : undefined;
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const name of ['clickhouse-server', 'clickhouse']) {
    for (const folder of folders) {
      if (folder !== '' && executable(join(folder, name))) return join(folder, name);
    }
  }
  return undefined;
}

const binary = findBinary();
const missing =
  fromEnv !== ''
    ? `CLICKHOUSE_SERVER_BIN=${fromEnv} is not an executable`
    : 'clickhouse-server is not installed (apt-get install -y clickhouse-server, or set CLICKHOUSE_SERVER_BIN)';

/**
 * `skip` option for tests that need a ClickHouse server: a reason when none is installed and this
 * is not CI; `false` otherwise (in CI a missing server then fails the test in `start()`).
 */
export const clickHouseSkip: string | false = binary !== undefined || process.env.CI !== undefined ? false : `${missing}; with CI set this fails instead`;

/** `count` different TCP ports free on 127.0.0.1 right now (bound together, read and released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function configXml(dir: string, ports: { http: number; tcp: number; interserver: number }, timezone: string): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/log/server.log</log>
    <errorlog>${dir}/log/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>${escapeXml(timezone)}</timezone>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

function usersXml(password: string): string {
  return `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
    </default>
  </profiles>
  <users>
    <default>
      <password>${escapeXml(password)}</password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;
}

export class ClickHouseServer implements AsyncDisposable {
  readonly username = 'default';
  readonly password: string;
  /** The temporary folder holding config, data and logs; removed by `stop()`. */
  readonly dir: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly interserverPort: number;
  /** How long the last start took, until `SELECT 1` answered (ms). */
  startupMs = 0;
  readonly #options: Required<ClickHouseServerOptions>;
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';

  private constructor(dir: string, ports: { http: number; tcp: number; interserver: number }, password: string, options: Required<ClickHouseServerOptions>) {
    this.dir = dir;
    this.httpPort = ports.http;
    this.tcpPort = ports.tcp;
    this.interserverPort = ports.interserver;
    this.password = password;
    this.#options = options;
  }

  /** Start a private server and wait until it answers `SELECT 1` over HTTP with its password. */
  static async start(options: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
    if (binary === undefined) throw new Error(`${missing}: CI must install it (see .ci/run)`);
    const resolved: Required<ClickHouseServerOptions> = { timezone: options.timezone ?? 'UTC', startTimeoutMs: options.startTimeoutMs ?? 30_000 };
    // 18.16 cannot bind port 0 and say which port it got, so the ports are chosen free; another
    // process can take one before the server binds it (it then exits with "Address already in use"):
    // try again with others.
    for (let attempt = 1; ; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'ns-clickhouse-'));
      const [http, tcp, interserver] = (await freePorts(3)) as [number, number, number];
      const server = new ClickHouseServer(dir, { http, tcp, interserver }, randomBytes(12).toString('base64url'), resolved);
      try {
        for (const sub of ['data', 'log', 'tmp', 'user_files', 'format_schemas']) await mkdir(join(dir, sub));
        await writeFile(join(dir, 'config.xml'), configXml(dir, { http: server.httpPort, tcp: server.tcpPort, interserver: server.interserverPort }, resolved.timezone));
        await writeFile(join(dir, 'users.xml'), usersXml(server.password), { mode: 0o600 });
        await server.restart();
        return server;
      } catch (error) {
        await server.stop();
        if (attempt >= 5 || !/Address already in use/.test(String(error))) throw error;
      }
    }
  }

  /** Base URL of the HTTP interface. */
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /**
   * (Re)start the server process on the same ports and data folder: after `kill()`, to test what
   * a client does while the server is away and when it comes back.
   */
  async restart(): Promise<void> {
    if (this.#process !== undefined) return;
    const started = performance.now();
    const configFile = join(this.dir, 'config.xml');
    const args = basename(binary!) === 'clickhouse' ? ['server', `--config-file=${configFile}`] : [`--config-file=${configFile}`];
    const child = spawn(binary!, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    this.#output = '';
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.#process === child) this.#process = undefined;
        resolve();
      });
      child.once('error', (error) => {
        keep(Buffer.from(String(error)));
        if (this.#process === child) this.#process = undefined;
        resolve();
      });
    });
    const deadline = started + this.#options.startTimeoutMs;
    while (true) {
      if (this.#process !== child) throw new Error(`clickhouse-server exited during start: ${await this.#diagnostics()}`);
      if (await this.#answers()) break;
      if (performance.now() > deadline) {
        const diagnostics = await this.#diagnostics();
        await this.kill();
        throw new Error(`clickhouse-server did not answer within ${this.#options.startTimeoutMs} ms: ${diagnostics}`);
      }
      await sleep(10);
    }
    this.startupMs = performance.now() - started;
  }

  /**
   * End the server process and keep its data for `restart()`. SIGKILL by default: a crash is the
   * outage tests want, and a graceful SIGTERM shutdown of 18.16 takes 2–8 s (it waits for idle
   * keep-alive connections).
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Stop the server and remove its folder. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Run one statement over HTTP and return the response body (TabSeparated unless the SQL says otherwise). */
  async query(statement: string): Promise<string> {
    const response = await fetch(`${this.url}/`, { method: 'POST', headers: this.#headers(), body: statement });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${text.trim()}`);
    return text;
  }

  #headers(): Record<string, string> {
    return { 'X-ClickHouse-User': this.username, 'X-ClickHouse-Key': this.password };
  }

  async #answers(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/?query=SELECT%201`, { headers: this.#headers(), signal: AbortSignal.timeout(1000) });
      return response.ok && (await response.text()).trim() === '1';
    } catch {
      return false;
    }
  }

  async #diagnostics(): Promise<string> {
    const errorLog = await readFile(join(this.dir, 'log', 'error.log'), 'utf8').catch(() => '');
    return `${this.#output.trim()}\n${errorLog.split('\n').slice(-20).join('\n')}`.trim() || '(no output)';
  }
}
