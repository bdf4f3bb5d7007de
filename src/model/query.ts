/**
 * What the query plane asks a flow store, and what it gets back (the FlowQueryStore port in
 * ports.ts). Requests here are already validated by src/query: addresses parsed, ranges ordered,
 * limits bounded; a store only turns them into SQL with every value bound.
 *
 * Time is int64 nanoseconds since the epoch (UTC) as bigint; counters are numbers (sums of
 * UInt64 counters stay exact below 2^53: 9 PB or 9·10^15 packets).
 *
 * ## What "total over a range" means
 *
 * Stores keep, per flow, CUMULATIVE counters: every snapshot writes the flows that changed since
 * the previous one, each row holding the flow's totals so far. Counters restart at zero whenever a
 * measurement period starts and whenever an engine (re)starts, so a flow's rows form independent
 * SEGMENTS — one per (task, flow key, run, engine, period) — each one non-decreasing in time.
 *
 * - The state of a segment at time t is its newest row with snapshot time ≤ t (zero if none).
 * - A range is (startNs, endNs]: the traffic recorded by the snapshots taken after startNs and at
 *   or before endNs. Per segment it is state(endNs) − state(startNs); a total is the sum over
 *   segments. Without startNs the range starts at the beginning (state = 0): the original's
 *   end-only requests keep their meaning, and stay right across period resets and restarts
 *   (the original's newest-row-per-flow took only the last period's counters).
 * - A flow counts in a range when its packet count grew in it; flow counts are of distinct keys,
 *   not segments (a flow that spans a period reset counts once).
 * - A time series splits (startNs, endNs] into buckets (startNs + k·bucketNs, startNs + (k+1)·bucketNs];
 *   the buckets of a series sum to the range's total.
 * Snapshot granularity is the resolution: traffic between the last snapshot ≤ t and t itself is
 * not yet stored.
 */
import type { KeyFieldName } from './flow.js';
import type { AlertNoticeKind } from './alert.js';
import type { KeyObject } from './snapshot.js';

/** (startNs, endNs]; startNs undefined: from the beginning. */
export interface TimeRangeNs {
  startNs?: bigint;
  endNs: bigint;
}

/** An address to match: the text as stores print it (dotted quad, RFC 5952) and its 16-byte form. */
export interface AddressMatch {
  text: string;
  /** 4 for an IPv4 address, 6 for IPv6 (an IPv4-mapped IPv6 address is family 6 and another flow). */
  family: 4 | 6;
  /** The address as four 32-bit words (IPv4 mapped into ::ffff:0:0/96). */
  words: readonly [number, number, number, number];
}

/** Exact matches on key fields; a field that a task's key lacks is NULL in its rows and never matches. */
export interface FlowFilter {
  SrcIP?: AddressMatch;
  DstIP?: AddressMatch;
  SrcPort?: number;
  DstPort?: number;
  Protocol?: number;
}

export interface FlowRangeQuery {
  /** One task, or every exact task. */
  taskName?: string;
  range: TimeRangeNs;
  filter: FlowFilter;
}

export interface TaskTotals {
  taskName: string;
  bytes: number;
  packets: number;
  /** Distinct flow keys whose packet count grew in the range. */
  flows: number;
}

/** A flow (or a group of flows: see FlowListQuery.groupBy) over a range. */
export interface FlowTotals {
  taskName: string;
  /** Only the grouped fields are present. */
  key: KeyObject;
  bytes: number;
  packets: number;
  /** Earliest first-seen of the segments that contribute (may precede the range's start). */
  firstSeenNs: bigint;
  /** Latest last-seen of the contributing segments, at the range's end. */
  lastSeenNs: bigint;
}

export type FlowOrder = 'bytes' | 'packets' | 'firstSeen' | 'lastSeen';

export interface FlowListQuery extends FlowRangeQuery {
  taskName: string;
  /** Key fields to group by (e.g. ['SrcIP'] for top sources); all of the task's fields for flows. */
  groupBy: readonly KeyFieldName[];
  orderBy: FlowOrder;
  descending: boolean;
  limit: number;
  offset: number;
}

export interface SeriesQuery {
  taskName?: string;
  range: Required<TimeRangeNs>;
  bucketNs: bigint;
  filter: FlowFilter;
}

export interface SeriesPoint {
  taskName: string;
  /** The bucket is (bucketStartNs, bucketStartNs + bucketNs]. */
  bucketStartNs: bigint;
  bytes: number;
  packets: number;
  /** Distinct flow keys whose packet count grew in the bucket. */
  flows: number;
}

/** `heavy_hitters.Type`: 0 packet-count heavy hitters, 1 byte heavy hitters, 2 super-spreaders. */
export type SketchListType = 0 | 1 | 2;

export interface SketchListQuery {
  taskName: string;
  type: SketchListType;
  range: TimeRangeNs;
  limit: number;
}

export interface SketchList {
  /** The snapshot the entries come from: the newest in the range with entries of the type; undefined when none. */
  snapshotNs: bigint | undefined;
  entries: { flow: string; value: number }[];
}

export interface SketchSnapshotInfo {
  timestampNs: bigint;
  type: SketchListType;
  entries: number;
}

export type StoredTaskKind = 'exact' | 'heavy_hitter' | 'super_spreader';

export interface StoredTask {
  name: string;
  kind: StoredTaskKind;
  /** Key fields of an exact task (from the rows' non-NULL columns where the store does not record them). */
  keyFields: KeyFieldName[];
}

export interface StoreHealth {
  ok: boolean;
  /** What was checked, or why it failed. */
  detail: string;
}

/** Stored alert notices (AlertQueryStore.alerts), validated by the query service. */
export interface AlertQuery {
  /** On the notice's evaluation time. */
  range: TimeRangeNs;
  rule?: string;
  taskName?: string;
  kind?: AlertNoticeKind;
  /** The offending flow key as text (`flowText`; '' for task-wide alerts). */
  flowText?: string;
  limit: number;
  offset: number;
}

/**
 * Alerts active at a time (AlertQueryStore.activeAlerts): per engine, its newest run that stored a
 * notice by `endNs`; per alert of that run, its newest notice by `endNs` — active when that is a
 * `firing` or `repeat` notice.
 */
export interface ActiveAlertQuery {
  endNs: bigint;
  rule?: string;
  taskName?: string;
  limit: number;
}
