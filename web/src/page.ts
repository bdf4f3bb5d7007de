/**
 * What every page gets and gives: the URL's state, the stored tasks, and a way to change the URL;
 * a page gives back its element, a refresh (auto-refresh calls it) and a dispose (charts, timers).
 */
import type { Params, SeriesAnswer, Task } from './api.js';
import { api } from './api.js';
import type { RatePoint } from './charts.js';
import { msToNs, type ResolvedRange } from './range.js';

export interface PageContext {
  params: URLSearchParams;
  tasks: Task[];
  /** Change the URL's query (same path); `replace` for typing in forms, push for deliberate steps. */
  update(mutate: (params: URLSearchParams) => void, replace?: boolean): void;
}

export interface Page {
  element: HTMLElement;
  refresh(): Promise<void>;
  dispose(): void;
}

/** ns since the epoch (decimal text) as RFC 3339 with all nine fraction digits: what the API parses exactly, for any time. */
export function nsToRfc3339(ns: string): string {
  const value = BigInt(ns);
  const seconds = value / 1_000_000_000n;
  const fraction = (value % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/** A resolved range as API parameters (`start`, `end`); open ends left out. */
export function rangeParams(range: ResolvedRange): Params {
  return { start: range.startNs === undefined ? undefined : nsToRfc3339(range.startNs), end: range.endNs === undefined ? undefined : nsToRfc3339(range.endNs) };
}

const NICE_BUCKETS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000,
  43_200_000, 86_400_000, 172_800_000, 604_800_000,
];
const TARGET_BUCKETS = 60;

/** The bucket (ms) for about 60 points over a span: a round duration, never below 1 ms. */
export function autoBucketMs(spanMs: number, snapshotSpacingMs = 0): number {
  const wanted = spanMs >= 4 * snapshotSpacingMs ? Math.max(spanMs / TARGET_BUCKETS, snapshotSpacingMs) : spanMs / TARGET_BUCKETS;
  const nice = NICE_BUCKETS_MS.find((bucket) => bucket >= wanted);
  return nice ?? Math.ceil(wanted / 86_400_000) * 86_400_000;
}

export interface SeriesWindow {
  startNs: string;
  endNs: string;
  bucketMs: number;
}

/** What the series need to know about the stored data, asked once per refresh. */
export interface StoreTimes {
  /** The newest time a snapshot can have: the latest last-seen of the task, the newest sketch snapshot, or now for live data. */
  newestNs: bigint | undefined;
  /** The usual time between snapshots (ms): buckets shorter than it would alternate between spikes and zeros. */
  snapshotSpacingMs: number;
}

/** The engines' default snapshot_interval, used when no sketch snapshots show the real one. */
const DEFAULT_SNAPSHOT_SPACING_MS = 60_000;
/** Data whose newest packet is this recent is live: its newest snapshot may come after its newest packet. */
const LIVE_WITHIN_MS = 3_600_000;

export async function storeTimes(tasks: Task[], exactTask: string, range: ResolvedRange, nowMs: number): Promise<StoreTimes> {
  const sketchTask = tasks.find((t) => t.kind !== 'exact');
  const [latest, snapshots] = await Promise.all([
    api.flows({ task: exactTask, ...rangeParams(range), order: 'last_seen', dir: 'desc', limit: 1 }),
    sketchTask === undefined ? undefined : api.sketchSnapshots({ task: sketchTask.name, ...rangeParams(range), limit: 10 }),
  ]);
  let newestNs = latest.flows[0] === undefined ? undefined : BigInt(latest.flows[0].lastSeenNs);
  const times = [...new Set((snapshots?.snapshots ?? []).map((s) => BigInt(s.timeNs)))].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  if (times[0] !== undefined && (newestNs === undefined || times[0] > newestNs)) newestNs = times[0];
  const nowNs = BigInt(Math.floor(nowMs)) * 1_000_000n;
  if (newestNs !== undefined && newestNs < nowNs && nowNs - newestNs < BigInt(LIVE_WITHIN_MS) * 1_000_000n) newestNs = nowNs;
  if (range.endNs !== undefined && newestNs !== undefined && BigInt(range.endNs) < newestNs) newestNs = BigInt(range.endNs);
  // the gaps between the snapshots, newest first; the newest (final) one may be short, the median is the interval
  const gaps = times
    .slice(0, -1)
    .map((time, index) => Number((time - times[index + 1]!) / 1_000_000n))
    .sort((a, b) => a - b);
  const snapshotSpacingMs = gaps.length === 0 ? DEFAULT_SNAPSHOT_SPACING_MS : gaps[Math.floor(gaps.length / 2)]!;
  return { newestNs, snapshotSpacingMs };
}

/**
 * The window a series covers. A preset or custom range is used as it is. For "all stored traffic"
 * the window is the data's own extent: from just before the earliest first packet of the flows
 * asked for (ranges exclude their start) to the newest snapshot of the store (a flow's last
 * snapshot may be taken after its last packet), extended to a whole number of buckets.
 *
 * The bucket: the one chosen, else about 60 buckets over the span but not shorter than the
 * snapshot spacing (when the span holds at least four snapshots).
 */
export async function seriesWindow(range: ResolvedRange, task: string, filters: Params, times: StoreTimes, bucketChoiceMs: number | undefined): Promise<SeriesWindow | undefined> {
  let startNs: bigint;
  let endNs: bigint;
  if (range.startNs !== undefined && range.endNs !== undefined) {
    startNs = BigInt(range.startNs);
    endNs = BigInt(range.endNs);
  } else {
    const first = await api.flows({ task, ...filters, ...rangeParams(range), order: 'first_seen', dir: 'asc', limit: 1 });
    const earliest = first.flows[0];
    if (earliest === undefined || times.newestNs === undefined) return undefined;
    startNs = BigInt(earliest.firstSeenNs) - 1n;
    endNs = times.newestNs > startNs ? times.newestNs : startNs + 1n;
  }
  const spanMs = Math.max(Number((endNs - startNs) / 1_000_000n), 1);
  const bucketMs = bucketChoiceMs ?? autoBucketMs(spanMs, times.snapshotSpacingMs);
  const bucketNs = BigInt(bucketMs) * 1_000_000n;
  const buckets = (endNs - startNs + bucketNs - 1n) / bucketNs;
  return { startNs: startNs.toString(), endNs: (startNs + (buckets > 0n ? buckets : 1n) * bucketNs).toString(), bucketMs };
}

export function seriesParams(window: SeriesWindow): Params {
  return { start: nsToRfc3339(window.startNs), end: nsToRfc3339(window.endNs), bucket: window.bucketMs };
}

/** Rates per bucket: packets/s and bits/s over the bucket's length, stamped at the bucket's end. */
export function ratePoints(answer: SeriesAnswer, task: string): RatePoint[] {
  const seconds = answer.bucketMs / 1000;
  return answer.points
    .filter((point) => point.task === task)
    .map((point) => ({ ms: point.startMs + answer.bucketMs, packetsPerSecond: point.packets / seconds, bitsPerSecond: (point.bytes * 8) / seconds }));
}

export { msToNs };
