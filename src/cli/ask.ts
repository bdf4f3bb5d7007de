/**
 * `netspectra ask "question"`: the original's ask-ai. Starts a prompt session on the AI service and
 * prints the answer chunk by chunk as it is written (StartPromptAnalysis, then ReadPromptChunks
 * until done). Ctrl-C cancels the session on the service, upstream LLM call included.
 */
import { parseArgs } from 'node:util';
import { AiServiceClient, parseServiceAddress } from '../ai/ai-service-client.js';
import { withAuthToken } from '../ai/auth-token.js';
import { loadConfig } from '../config/load.js';
import { ErrorCodes, NetSpectraError, type ErrorCode } from '../model/errors.js';
import type { CliIo } from './io.js';
import { integerFlag, normaliseGoFlags, reportError, usageError } from './io.js';
import { ASK_HELP } from './help.js';

export async function runAsk(argv: readonly string[], io: CliIo): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: normaliseGoFlags(argv),
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        address: { type: 'string' },
        prompt: { type: 'string' },
        'max-chunks': { type: 'string' },
        token: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return reportError(io, usageError(`${(error as Error).message}\n\n${ASK_HELP}`));
  }
  if (values.help) {
    io.stdout.write(ASK_HELP);
    return 0;
  }
  let client: AiServiceClient | undefined;
  let sigint: (() => void) | undefined;
  try {
    if (values.port !== undefined && values.address !== undefined) throw usageError('--port and --address name the same thing; give one');
    const prompt = values.prompt ?? positionals.join(' ');
    if (prompt.trim() === '') throw usageError(`a question is required: netspectra ask "question" (or -prompt "question")\n\n${ASK_HELP}`);
    if (values.prompt !== undefined && positionals.length > 0) throw usageError('give the question either with --prompt or as arguments, not both');
    const config = values.config === undefined ? undefined : loadConfig({ file: values.config });
    const address = values.port ?? values.address ?? config?.ai.rpcListenAddr ?? 'localhost:50052';
    if (parseServiceAddress(address) === undefined) throw usageError(`--port expects HOST:PORT (e.g. localhost:50052), got "${address}"`);
    const maxChunks = values['max-chunks'] === undefined ? 8 : integerFlag('--max-chunks', values['max-chunks'], 1, 1024);
    const token = values.token ?? process.env.NETSPECTRA_AI_TOKEN ?? config?.ai.authToken ?? '';

    client = await AiServiceClient.connect(address);
    const session = await client.startPromptAnalysis(withAuthToken(prompt, token));
    if (session.done) {
      if (session.errorText !== undefined) throw remoteFailure(session.errorText);
      return 0;
    }
    let canceled = false;
    const activeClient = client;
    sigint = () => {
      if (canceled) process.exit(130);
      canceled = true;
      io.stderr.write('\nnetspectra ask: canceling...\n');
      // Sent on the same connection while a read waits: the read then returns with the session's end.
      activeClient.cancelPromptAnalysis(session.sessionId).catch(() => undefined);
      setTimeout(() => process.exit(130), 3000).unref();
    };
    process.on('SIGINT', sigint);
    let wroteAny = false;
    let lastChunk = '';
    while (true) {
      const read = await client.readPromptChunks(session.sessionId, maxChunks);
      for (const chunk of read.chunks) {
        io.stdout.write(chunk);
        wroteAny = true;
        lastChunk = chunk;
      }
      if (read.done) {
        if (wroteAny && !lastChunk.endsWith('\n')) io.stdout.write('\n');
        if (canceled) {
          io.stderr.write('netspectra ask: canceled\n');
          return 130;
        }
        if (read.errorText !== undefined) throw remoteFailure(read.errorText);
        return 0;
      }
    }
  } catch (error) {
    return reportError(io, error);
  } finally {
    if (sigint !== undefined) process.off('SIGINT', sigint);
    client?.close();
  }
}

/** A session's error_text (`CODE: message` from NetSpectra's service, free text from others). */
function remoteFailure(errorText: string): NetSpectraError {
  const coded = /^(NS_ERR_[A-Z0-9_]+): ([\s\S]*)$/.exec(errorText);
  const code = coded?.[1];
  if (code !== undefined && code in ErrorCodes) return new NetSpectraError(code as ErrorCode, coded?.[2] ?? '');
  return new NetSpectraError('NS_ERR_AI_SERVICE_ERROR', `the prompt analysis failed: ${errorText}`);
}
