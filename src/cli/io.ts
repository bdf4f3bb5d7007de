/** What a command may touch of its process: its output streams. Tests pass their own. */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DurationSyntaxError, parseDuration } from '../model/duration.js';
import { NetSpectraError, isNetSpectraError, errorMessage } from '../model/errors.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

export function usageError(message: string): NetSpectraError {
  return new NetSpectraError('NS_ERR_USAGE', message);
}

/** A flag's integer value in [min, max], or a usage error naming the flag. */
export function integerFlag(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw usageError(`${flag} expects an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

/** A flag's duration (`5s`, `500ms`, …) in ms, at least `minMs`, or a usage error naming the flag. */
export function durationFlag(flag: string, text: string, minMs: number): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw usageError(`${flag} expects a duration like 5s or 500ms, got "${text}"`);
    throw error;
  }
  if (ms < minMs) throw usageError(`${flag} must be at least ${minMs} ms, got "${text}"`);
  return ms;
}

/** `65536`, `64K`, `256M`, `1G` (binary units, an optional `iB`/`B`), or `0`. */
export function byteSizeFlag(flag: string, text: string): number {
  const match = /^(\d+)\s*(?:([KMGT])(?:i?B)?)?$/i.exec(text.trim());
  const unit = match?.[2]?.toUpperCase();
  const value = match === null ? Number.NaN : Number(match[1]) * (unit === undefined ? 1 : 1024 ** ('KMGT'.indexOf(unit) + 1));
  if (!Number.isSafeInteger(value) || (value !== 0 && value < 65_536)) {
    throw usageError(`${flag} expects 0 or a size of at least 64K, e.g. 256M or 1G, got "${text}"`);
  }
  return value;
}

/** A flag's positive number, or a usage error naming the flag. */
export function positiveNumberFlag(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw usageError(`${flag} expects a positive number, got "${text}"`);
  return value;
}

/** A PEM file named by a flag or a config key (`what`), or a usage error saying why it cannot be read. */
export function readPemFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new NetSpectraError('NS_ERR_USAGE', `${what} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
}

/** The original's Go-style single-dash long flags (`-mode sub`, `-config x`) as `--mode sub`. */
export function normaliseGoFlags(argv: readonly string[]): string[] {
  return argv.map((arg) => (/^-[a-z][a-z-]+(=.*)?$/.test(arg) ? `-${arg}` : arg));
}

/** Print an error as `netspectra: CODE: message` and return the exit status it calls for. */
export function reportError(io: CliIo, error: unknown): number {
  if (isNetSpectraError(error)) {
    io.stderr.write(`netspectra: ${error.toDisplayString()}\n`);
    if (error.code === 'NS_ERR_USAGE' || error.code.startsWith('NS_ERR_CONFIG_')) return 2;
    return 1;
  }
  // Not one of ours: still no stack trace for the user, but enough to report a bug.
  const message = errorMessage(error);
  io.stderr.write(`netspectra: internal error: ${message}\n`);
  if (process.env.NETSPECTRA_DEBUG) io.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  return 1;
}

/**
 * A long-running command's stop request: SIGINT or SIGTERM (also while it is still starting:
 * remembered, so `requested` resolves at once), or `request()` from the command itself (a failure,
 * the end of its input). With `secondSignal`, a second signal calls it (to exit at once).
 */
export class StopRequest implements Disposable {
  /** Resolves at the first stop request. */
  readonly requested: Promise<void>;
  #resolve!: () => void;
  #signals = 0;
  readonly #onSignal: (signal: NodeJS.Signals) => void;

  constructor(secondSignal?: (signal: NodeJS.Signals) => void) {
    this.requested = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    this.#onSignal = (signal) => {
      if (++this.#signals > 1 && secondSignal !== undefined) secondSignal(signal);
      this.#resolve();
    };
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  request(): void {
    this.#resolve();
  }

  /** Stop listening for the signals. */
  [Symbol.dispose](): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** What a command's flags parse to, or the exit status when there is nothing to run (`--help`: 0, a usage error: 2, reported). */
export type ParsedCommand<T extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> | number;

/**
 * Parse a command's flags (strict; positionals where `allowPositionals`): `--help`/`-h` prints
 * `help` and a flag error is a usage error followed by `help`, both as the exit status to return.
 */
export function parseCommand<const T extends FlagOptions>(io: CliIo, argv: readonly string[], help: string, options: T, allowPositionals = false): ParsedCommand<T & typeof HELP_FLAG> {
  let parsed: Exclude<ParsedCommand<T & typeof HELP_FLAG>, number>;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, ...HELP_FLAG }, allowPositionals: true, strict: true });
  } catch (error) {
    return reportError(io, usageError(`${errorMessage(error)}\n\n${help}`));
  }
  if (!allowPositionals && parsed.positionals.length > 0) return reportError(io, usageError(`Unexpected argument '${parsed.positionals[0]}'. This command does not take positional arguments\n\n${help}`));
  if ((parsed.values as { help?: boolean }).help === true) {
    io.stdout.write(help);
    return 0;
  }
  return parsed;
}

const HELP_FLAG = { help: { type: 'boolean', short: 'h', default: false } } as const;
