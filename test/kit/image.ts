/**
 * The container image in tests, without a container daemon (none runs on these machines): the
 * image is built from the repository's Dockerfile with `buildah bud --isolation chroot` (its base,
 * when no registry has it, made by scripts/make-node-base-image.sh), and a command runs in it the
 * way a container runtime would start it: the image's root filesystem (a buildah working
 * container, mounted), a PID namespace of its own in which node is PID 1, the image's user and
 * environment, and the host's network (services talk over loopback).
 *
 * Layers are cached by buildah between runs, so a build after the first takes seconds.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const IMAGE = 'localhost/netspectra:test';
/** What the Dockerfile sets: the user, the environment, the working directory and the entry point. */
export const IMAGE_USER = '10001:10001';
const IMAGE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production', 'HOME=/var/lib/netspectra'];
const ENTRYPOINT = ['node', '/app/dist/src/cli/main.js'];

/** Skip (locally) or fail (CI) when the tools are missing; root is needed for chroot and namespaces. */
export function imageSkip(): string | false {
  const missing = ['/usr/bin/buildah', '/usr/bin/mmdebstrap', '/usr/bin/unshare'].filter((tool) => !existsSync(tool));
  const reason = missing.length > 0 ? `${missing.join(', ')} not installed (apt-get install buildah mmdebstrap)` : process.getuid?.() !== 0 ? 'building and running the image needs root' : undefined;
  if (reason === undefined) return false;
  if (process.env.CI) throw new Error(`${reason}, and CI must run the image tests`);
  return reason;
}

let built: Promise<{ seconds: number; size: string }> | undefined;

/** Build the image once per process (cached layers make a rebuild quick); its build time and size. */
export function buildImage(): Promise<{ seconds: number; size: string }> {
  built ??= (async () => {
    const started = performance.now();
    await execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'make-node-base-image.sh')], { maxBuffer: 1 << 24 });
    // the registry configuration of this machine, as build secrets (never stored in a layer)
    const secrets = [
      ['npmrc', join(homedir(), '.npmrc')],
      ['cacert', '/etc/ssl/certs/ca-certificates.crt'],
    ].flatMap(([id, src]) => (existsSync(src!) ? ['--secret', `id=${id},src=${src}`] : []));
    try {
      await execFileAsync(
        'buildah',
        ['bud', '--format', 'docker', '--isolation', 'chroot', '--layers', '--pull-never', ...secrets, '-t', IMAGE, REPO_ROOT],
        { maxBuffer: 1 << 26, cwd: REPO_ROOT, timeout: 900_000 },
      );
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(`buildah bud failed:\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`);
    }
    const { stdout } = await execFileAsync('buildah', ['images', '--format', '{{.Size}}', IMAGE]).catch(() => ({ stdout: 'unknown size' }));
    return { seconds: (performance.now() - started) / 1000, size: stdout.trim() };
  })();
  return built;
}

/** A working container of the image: its root filesystem on the host, and a way to run commands in it. */
export class ImageContainer implements AsyncDisposable {
  readonly name: string;
  readonly root: string;

  private constructor(name: string, root: string) {
    this.name = name;
    this.root = root;
  }

  static async create(): Promise<ImageContainer> {
    const { stdout: name } = await execFileAsync('buildah', ['from', '--pull-never', IMAGE]);
    const { stdout: root } = await execFileAsync('buildah', ['mount', name.trim()]);
    return new ImageContainer(name.trim(), root.trim());
  }

  /** A host path inside the container's file system. */
  path(inside: string): string {
    return join(this.root, inside);
  }

  /**
   * Start `netspectra ARGS` as the container would: node as PID 1 of a new PID namespace, the
   * image's user and environment (plus `env`), working directory /var/lib/netspectra.
   */
  spawn(args: readonly string[], env: readonly string[] = []): ContainerProcess {
    return this.spawnRaw([...ENTRYPOINT, ...args], env);
  }

  /** Any command of the image (e.g. `id -u`), the same way. */
  spawnRaw(command: readonly string[], env: readonly string[] = []): ContainerProcess {
    const child = spawn(
      'unshare',
      [
        '--pid',
        '--fork',
        '--mount-proc',
        '--kill-child',
        'chroot',
        `--userspec=${IMAGE_USER}`,
        this.root,
        '/usr/bin/env',
        '-i',
        ...IMAGE_ENV,
        ...env,
        '/bin/sh',
        '-c',
        'cd /var/lib/netspectra && exec "$@"',
        'sh',
        ...command,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return new ContainerProcess(child);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await execFileAsync('buildah', ['umount', this.name]).catch(() => undefined);
    await execFileAsync('buildah', ['rm', this.name]).catch(() => undefined);
  }
}

/** A process in the container: its output so far, a wait for a line, its exit, and signals to its PID 1. */
export class ContainerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout = '';
  stderr = '';
  readonly #waiters: { pattern: RegExp; resolve: () => void }[] = [];

  constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout!.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.#check();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.#check();
    });
  }

  async waitFor(pattern: RegExp, ms = 60_000): Promise<void> {
    if (pattern.test(this.stderr) || pattern.test(this.stdout)) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push({ pattern, resolve })),
        this.exited.then((code) => Promise.reject(new Error(`exited (${code}) before ${pattern}: ${this.stderr}`))),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms: ${this.stderr}`)), ms))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The host pid of the container's PID 1 (the child `unshare --fork` started). */
  async initPid(): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { stdout } = await execFileAsync('pgrep', ['-P', String(this.child.pid)]).catch(() => ({ stdout: '' }));
      const pid = Number(stdout.trim().split('\n')[0]);
      if (pid > 0) return pid;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the container has no PID 1');
  }

  /**
   * Stop it as `docker stop` does: SIGTERM to PID 1, then, after `graceMs`, SIGKILL. `killed`
   * says whether the grace period ran out.
   */
  async stop(graceMs: number): Promise<{ code: number | null; killed: boolean }> {
    process.kill(await this.initPid(), 'SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.kill();
    }, graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return { code, killed };
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  #check(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.pattern.test(this.stderr) || waiter.pattern.test(this.stdout)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

/** Run to the end: exit status and output. */
export async function runToEnd(process: ContainerProcess, ms = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const timer = setTimeout(() => process.kill(), ms);
  const code = await process.exited;
  clearTimeout(timer);
  return { code, stdout: process.stdout, stderr: process.stderr };
}

