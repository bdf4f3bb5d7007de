/**
 * The time range every page shows, kept in the URL (`range=1h`, or `range=custom&from=…&to=…`).
 *
 * Presets are relative to now and move with auto-refresh. `all` is everything stored: totals and
 * lists ask without a start or end; the series spans the stored data's own extent (first packet to
 * newest snapshot), which for an analysed capture may be years ago.
 */
import { h } from './dom.js';

export const PRESETS = ['15m', '1h', '6h', '24h', 'all'] as const;
export type Preset = (typeof PRESETS)[number];

const PRESET_MS: Readonly<Record<Exclude<Preset, 'all'>, number>> = {
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
};

export const DEFAULT_PRESET: Preset = 'all';

export type RangeChoice = { kind: 'preset'; preset: Preset } | { kind: 'custom'; fromMs: number; toMs: number };

/** A range as the API takes it: ns since the epoch as decimal text; absent = open end. */
export interface ResolvedRange {
  startNs?: string;
  endNs?: string;
  /** For labels: "last 1h", "all stored traffic", "2013-05-02 20:20 → 20:21". */
  label: string;
}

const NS_PER_MS = 1_000_000n;

export function msToNs(ms: number): string {
  return (BigInt(Math.floor(ms)) * NS_PER_MS).toString();
}

export function readRange(params: URLSearchParams): RangeChoice {
  const range = params.get('range');
  if (range === 'custom') {
    const fromMs = Date.parse(params.get('from') ?? '');
    const toMs = Date.parse(params.get('to') ?? '');
    if (Number.isFinite(fromMs) && Number.isFinite(toMs) && fromMs < toMs) return { kind: 'custom', fromMs, toMs };
  }
  const preset = (PRESETS as readonly string[]).includes(range ?? '') ? (range as Preset) : DEFAULT_PRESET;
  return { kind: 'preset', preset };
}

export function writeRange(params: URLSearchParams, choice: RangeChoice): void {
  params.delete('from');
  params.delete('to');
  if (choice.kind === 'custom') {
    params.set('range', 'custom');
    params.set('from', new Date(choice.fromMs).toISOString());
    params.set('to', new Date(choice.toMs).toISOString());
  } else if (choice.preset === DEFAULT_PRESET) {
    params.delete('range');
  } else {
    params.set('range', choice.preset);
  }
}

/** The range at this moment (presets are relative to `nowMs`). */
export function resolveRange(choice: RangeChoice, nowMs: number): ResolvedRange {
  if (choice.kind === 'custom') {
    return { startNs: msToNs(choice.fromMs), endNs: msToNs(choice.toMs), label: `${new Date(choice.fromMs).toISOString()} → ${new Date(choice.toMs).toISOString()}` };
  }
  if (choice.preset === 'all') return { label: 'all stored traffic' };
  return { startNs: msToNs(nowMs - PRESET_MS[choice.preset]), endNs: msToNs(nowMs), label: `last ${choice.preset}` };
}

/** `<input type="datetime-local">` works in local time; the dashboard speaks UTC, so it converts. */
function toInputValue(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

function fromInputValue(value: string): number {
  return Date.parse(`${value}Z`);
}

/**
 * The range picker: preset buttons and a custom from/to form (UTC). `onChange` gets the new choice;
 * the caller puts it into the URL.
 */
export function rangePicker(choice: RangeChoice, onChange: (choice: RangeChoice) => void): HTMLElement {
  const nowMs = Date.now();
  const buttons = PRESETS.map((preset) =>
    h(
      'button',
      {
        type: 'button',
        class: choice.kind === 'preset' && choice.preset === preset ? 'preset active' : 'preset',
        'aria-pressed': choice.kind === 'preset' && choice.preset === preset ? 'true' : 'false',
        'data-preset': preset,
        onclick: () => onChange({ kind: 'preset', preset }),
      },
      preset,
    ),
  );
  const from = h('input', { type: 'datetime-local', step: 1, name: 'from', 'aria-label': 'from (UTC)', value: toInputValue(choice.kind === 'custom' ? choice.fromMs : nowMs - 3_600_000) });
  const to = h('input', { type: 'datetime-local', step: 1, name: 'to', 'aria-label': 'to (UTC)', value: toInputValue(choice.kind === 'custom' ? choice.toMs : nowMs) });
  const problem = h('span', { class: 'form-problem', role: 'status' });
  const custom = h(
    'form',
    {
      class: 'custom-range',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const fromMs = fromInputValue(from.value);
        const toMs = fromInputValue(to.value);
        if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
          problem.textContent = 'Enter both times.';
        } else if (fromMs >= toMs) {
          problem.textContent = '“From” must be before “to”.';
        } else {
          onChange({ kind: 'custom', fromMs, toMs });
        }
      },
    },
    h('label', {}, 'from ', from),
    h('label', {}, 'to ', to),
    h('span', { class: 'utc' }, 'UTC'),
    h('button', { type: 'submit', class: choice.kind === 'custom' ? 'active' : '' }, 'Apply'),
    problem,
  );
  return h('div', { class: 'range-picker' }, h('div', { class: 'presets', role: 'group', 'aria-label': 'time range' }, ...buttons), h('details', { class: 'custom', open: choice.kind === 'custom' }, h('summary', {}, 'custom'), custom));
}
