/**
 * Times as people and tools type them, for every query front end (`netspectra query --start`, the
 * HTTP API's `start`/`end`, Grafana's ranges): one parser so that they all accept the same things.
 *
 * - RFC 3339: `2026-11-27T13:00:00Z`, `2026-11-27 13:00:00.123456789+01:00` (fraction up to ns);
 * - unix time as digits, the unit told by the number of integer digits: up to 11 digits seconds
 *   (a fraction allowed; 11 digits reach the year 5138), 12 to 15 milliseconds (what JavaScript
 *   and Grafana send), 16 to 19 nanoseconds (what the Thrift API uses);
 * - `now`, and a Go duration ago: `-15m`, `-1h30m`, or Grafana's `now-6h`.
 */
import { parseDuration } from '../model/duration.js';
import { NetSpectraError } from '../model/errors.js';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/** What the messages suggest. */
export const TIME_TEXT_HINT = 'give RFC 3339 (2026-11-27T13:00:00Z), unix seconds, milliseconds or nanoseconds, now, or -15m';

/**
 * Nanoseconds since the epoch for `text`, or a NetSpectraError (code `code`) naming `field`.
 * `nowMs` is the clock for `now` and relative times.
 */
export function parseTimeText(field: string, text: string, nowMs: number, code: 'NS_ERR_USAGE' | 'NS_ERR_HTTP_REQUEST' = 'NS_ERR_USAGE'): bigint {
  const refuse = (why: string): never => {
    const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new NetSpectraError(code, `${field} ${JSON.stringify(shown)} ${why}`);
  };
  const trimmed = text.trim();
  if (trimmed === 'now') return BigInt(nowMs) * NS_PER_MS;
  const digits = /^(\d{1,19})(?:\.(\d{1,9}))?$/.exec(trimmed);
  if (digits !== null) {
    const whole = digits[1]!;
    const fraction = digits[2];
    if (whole.length <= 11) return BigInt(whole) * NS_PER_S + BigInt((fraction ?? '').padEnd(9, '0'));
    if (fraction !== undefined) refuse('has a fraction: only unix seconds may have one (use whole milliseconds or nanoseconds)');
    if (whole.length <= 15) return BigInt(whole) * NS_PER_MS;
    return BigInt(whole);
  }
  const ago = /^(?:now)?-(.+)$/.exec(trimmed);
  if (ago !== null) {
    let ms: number;
    try {
      ms = parseDuration(ago[1]!);
    } catch {
      return refuse('is not a duration ago (e.g. -15m, -2h, now-6h)');
    }
    if (ms < 0) refuse('is not a duration ago (e.g. -15m, -2h, now-6h)');
    const ns = (BigInt(nowMs) - BigInt(Math.round(ms))) * NS_PER_MS;
    if (ns < 0n) refuse('is before 1970');
    return ns;
  }
  const rfc3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(trimmed);
  const ms = rfc3339 === null ? NaN : Date.parse(`${rfc3339[1]}T${rfc3339[2]}${rfc3339[4]!.toUpperCase()}`);
  if (rfc3339 === null || Number.isNaN(ms)) return refuse(`is not a time: ${TIME_TEXT_HINT}`);
  if (ms < 0) refuse('is before 1970');
  return BigInt(ms) * NS_PER_MS + BigInt((rfc3339[3] ?? '').padEnd(9, '0'));
}
