/** What a command may touch of its process: its output streams. Tests pass their own. */
import { NetSpectraError, isNetSpectraError } from '../model/errors.js';

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

/** Print an error as `netspectra: CODE: message` and return the exit status it calls for. */
export function reportError(io: CliIo, error: unknown): number {
  if (isNetSpectraError(error)) {
    io.stderr.write(`netspectra: ${error.toDisplayString()}\n`);
    if (error.code === 'NS_ERR_USAGE' || error.code.startsWith('NS_ERR_CONFIG_')) return 2;
    return 1;
  }
  // Not one of ours: still no stack trace for the user, but enough to report a bug.
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`netspectra: internal error: ${message}\n`);
  if (process.env.NETSPECTRA_DEBUG) io.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  return 1;
}
