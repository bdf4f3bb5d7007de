/**
 * Live capture through a tcpdump child process (`tcpdump -i IFACE -U -w - …`), whose stdout is a
 * pcap stream for the same streaming decoder the capture files use.
 *
 * Why a child process and not a libpcap addon: tcpdump is packaged everywhere, needs no compiler
 * or native build at install time (Node 20 ABI, musl, arm64 all just work), drops its root
 * privileges after opening the interface (`-Z`), and BPF filters are compiled by the real libpcap.
 * The price is one copy of every packet through a pipe (about 1 GB/s here, far above what the
 * engine takes) and coarse drop statistics: tcpdump prints them on SIGUSR1 and at exit, and we ask
 * every `statsIntervalMs`.
 *
 * Kernel drops are what the kernel's capture buffer lost because tcpdump (that is, we, through the
 * pipe) did not read fast enough; `-B` sets that buffer. `--immediate-mode` hands packets over as
 * they arrive: without it libpcap delivers them in ring blocks up to a second late, and a block
 * still open when tcpdump is stopped is lost (measured on loopback: 10 of 20 packets arrived).
 * Under load the ring still hands over many packets per wake-up, so the cost is only at low rates.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { NetSpectraError } from '../model/errors.js';

export interface LiveCaptureOptions {
  /** Interface name, e.g. `eth0`, or `any`. */
  iface: string;
  /** BPF filter expression, e.g. `tcp or udp`. @default none */
  filter?: string;
  /** Bytes kept per packet. Only headers are decoded, so 256 is plenty. @default 256 */
  snaplen?: number;
  /** Kernel capture buffer in MiB (`-B`). @default 64 */
  bufferMiB?: number;
  /** The tcpdump binary. @default the first of /usr/bin/tcpdump, /usr/sbin/tcpdump, `tcpdump` on PATH */
  tcpdump?: string;
  /** How often to ask tcpdump for its counters (SIGUSR1). @default 5000 */
  statsIntervalMs?: number;
}

export interface LiveCaptureStats {
  /** Packets tcpdump wrote to us. */
  captured: number;
  /** Packets the filter accepted (captured + dropped, roughly). */
  receivedByFilter: number;
  /** Packets the kernel dropped because its buffer was full. */
  droppedByKernel: number;
}

const COUNTERS = /(\d+) packets? captured[,\s]+(\d+) packets? received by filter[,\s]+(\d+) packets? dropped by kernel/;

export function findTcpdump(): string | undefined {
  return ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].find((path) => existsSync(path));
}

export class LiveCapture {
  readonly #options: LiveCaptureOptions;
  #child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  #stderr = '';
  #timer: NodeJS.Timeout | undefined;
  readonly #stats: LiveCaptureStats = { captured: 0, receivedByFilter: 0, droppedByKernel: 0 };
  #exited: Promise<number | null> = Promise.resolve(null);
  /** stop() was called: tcpdump's exit by our SIGTERM is the end of the stream, not a failure. */
  #stopping = false;

  constructor(options: LiveCaptureOptions) {
    this.#options = options;
  }

  /** Latest counters tcpdump reported (updated every `statsIntervalMs` and at exit). */
  get stats(): LiveCaptureStats {
    return { ...this.#stats };
  }

  /**
   * Start tcpdump and yield its pcap stream. Ends when `stop()` is called or tcpdump exits; a
   * tcpdump that fails to start (no such interface, no permission, bad filter) raises
   * NS_ERR_CAPTURE_LIVE with its own message.
   */
  async *chunks(): AsyncGenerator<Uint8Array> {
    const binary = this.#options.tcpdump ?? findTcpdump() ?? 'tcpdump';
    const args = ['-i', this.#options.iface, '--immediate-mode', '-U', '-w', '-', '-n', '-s', String(this.#options.snaplen ?? 256), '-B', String((this.#options.bufferMiB ?? 64) * 1024)];
    if (this.#options.filter !== undefined && this.#options.filter.trim() !== '') args.push(this.#options.filter);
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let endedBy: NodeJS.Signals | null = null;
    this.#exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        endedBy = signal;
        resolve(code);
      });
      child.once('error', () => resolve(null));
    });
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    // SIGUSR1 terminates a process that has not installed its handler yet: ask for counters only
    // once tcpdump says it is listening (its handlers are set by then). Under load that line can
    // take seconds; an early SIGUSR1 killed tcpdump before it captured anything.
    let listening = false;
    child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-8192);
      if (!listening && /listening on /.test(this.#stderr)) {
        listening = true;
        this.#timer = setInterval(() => {
          if (child.exitCode === null) child.kill('SIGUSR1');
        }, this.#options.statsIntervalMs ?? 5000);
        this.#timer.unref();
      }
      this.#parseCounters();
    });
    let bytes = 0;
    try {
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      }
      const code = await this.#exited;
      this.#parseCounters();
      // tcpdump could not start (an error status without data), or it ended by itself other than
      // cleanly (killed, or an error status) while nobody asked it to stop: the capture is lost
      if (spawnError !== undefined || (bytes === 0 && code !== 0 && code !== null) || (!this.#stopping && code !== 0)) {
        const reason = spawnError?.message ?? (this.#stderr.trim().split('\n').filter((line) => !line.startsWith('tcpdump: listening')).pop() || (endedBy === null ? `exit status ${code}` : `tcpdump ended by ${endedBy as string}`));
        throw new NetSpectraError('NS_ERR_CAPTURE_LIVE', `cannot capture on ${this.#options.iface}: ${reason}`);
      }
    } finally {
      clearInterval(this.#timer);
      if (child.exitCode === null) child.kill('SIGTERM');
    }
  }

  /** Stop capturing: tcpdump flushes what it has, prints its counters and exits; `chunks()` ends. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await this.#exited;
    this.#parseCounters();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The last counters line tcpdump printed (the SIGUSR1 one-liner or the three lines at exit). */
  #parseCounters(): void {
    const flat = this.#stderr.replace(/\n/g, ', ');
    let match: RegExpExecArray | null = null;
    const all = new RegExp(COUNTERS.source, 'g');
    for (let m = all.exec(flat); m !== null; m = all.exec(flat)) match = m;
    if (match === null) return;
    this.#stats.captured = Number(match[1]);
    this.#stats.receivedByFilter = Number(match[2]);
    this.#stats.droppedByKernel = Number(match[3]);
  }
}
