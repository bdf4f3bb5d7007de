/**
 * Go's `time.ParseDuration` syntax, which the original's configs use (`60s`, `720h`, `1m30s`),
 * converted to milliseconds. The result may be fractional for `ns`/`us` inputs.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 MICRO SIGN, as Go accepts
  'μs': 1e-3, // U+03BC GREEK SMALL LETTER MU, as Go accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const UNIT_HINT = 'use ns, us, ms, s, m or h, e.g. "60s" or "1m30s"';

/** Thrown for text that is not a Go duration; the config loader adds the key it came from. */
export class DurationSyntaxError extends RangeError {
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {
    super(`invalid duration ${JSON.stringify(text)}: ${reason}; ${UNIT_HINT}`);
    this.name = 'DurationSyntaxError';
  }
}

/** Parse a Go duration (`300ms`, `-1.5h`, `2h45m`, `0`) into milliseconds. */
export function parseDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  // Go allows a bare zero and nothing else without a unit.
  if (rest === '0') return 0;
  if (rest === '') throw new DurationSyntaxError(text, 'it is empty');

  let total = 0;
  while (rest !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? '';
    const fraction = number?.[2] ?? '';
    if (whole === '' && fraction === '') {
      throw new DurationSyntaxError(text, `expected a number at ${JSON.stringify(rest)}`);
    }
    rest = rest.slice(number?.[0].length ?? 0);
    const unitMatch = /^[^\d.]*/.exec(rest);
    const unit = unitMatch?.[0] ?? '';
    if (unit === '') throw new DurationSyntaxError(text, `missing unit after ${JSON.stringify(number?.[0] ?? '')}`);
    const unitMs = UNIT_MS[unit];
    if (unitMs === undefined) throw new DurationSyntaxError(text, `unknown unit ${JSON.stringify(unit)}`);
    rest = rest.slice(unit.length);
    total += Number(`${whole === '' ? '0' : whole}.${fraction === '' ? '0' : fraction}`) * unitMs;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) throw new DurationSyntaxError(text, 'it is too large');
  // Go counts whole nanoseconds; rounding there also removes binary-fraction noise (1.1s → 1100).
  const rounded = Math.round(total * 1e6) / 1e6;
  // `0 * -1` would be -0, which prints and compares surprisingly.
  return rounded === 0 ? 0 : sign * rounded;
}

/** Milliseconds as the shortest Go duration that parses back to them (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const whole = Math.floor(rest / size);
    if (whole > 0) {
      out += `${whole}${unit}`;
      rest -= whole * size;
    }
  }
  // Sub-millisecond remainders come from ns/us inputs; keep them exact rather than rounding.
  if (rest > 0) out += `${Math.round(rest * 1e6) / 1e6}ms`;
  return sign + out;
}
