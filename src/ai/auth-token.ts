/**
 * The optional token of the AI endpoints (`ai.auth_token`). The Thrift binary protocol over a
 * buffered transport has no headers, and the AIService structs are fixed by the original's IDL, so
 * the token travels inside the one free-form field of the calls that reach the LLM: a first line
 * `NSAUTH <token>` in front of AnalyzeTraffic's text_input and StartPromptAnalysis's prompt. The
 * wire stays the original's (clients without a token keep working while no token is configured).
 * ReadPromptChunks and CancelPromptAnalysis need none: their session id is an unguessable
 * 128-bit capability handed out only to an authorised caller.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { NetSpectraError } from '../model/errors.js';

const PREFIX = 'NSAUTH ';

/** `text` with the token line in front; unchanged without a token. */
export function withAuthToken(text: string, token: string): string {
  return token === '' ? text : `${PREFIX}${token}\n${text}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The request text without its token line. Throws NS_ERR_AI_UNAUTHORIZED when `expected` is set and
 * the line is missing or wrong (compared in constant time). A token line is removed even when none
 * is expected, so a client's token never reaches the LLM.
 */
export function checkAuthToken(text: string, expected: string): string {
  let presented: string | undefined;
  let rest = text;
  if (text.startsWith(PREFIX)) {
    const end = text.indexOf('\n');
    presented = (end < 0 ? text.slice(PREFIX.length) : text.slice(PREFIX.length, end)).replace(/\r$/, '');
    rest = end < 0 ? '' : text.slice(end + 1);
  }
  if (expected === '') return rest;
  if (presented === undefined) throw new NetSpectraError('NS_ERR_AI_UNAUTHORIZED', 'this AI service requires a token (ai.auth_token): the request has none');
  if (!timingSafeEqual(digest(presented), digest(expected))) throw new NetSpectraError('NS_ERR_AI_UNAUTHORIZED', 'the token of the request does not match ai.auth_token of the AI service');
  return rest;
}
