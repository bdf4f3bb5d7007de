/**
 * Rule evaluation: what each rule's metric reads in a group snapshot, and which flows (or the whole
 * task) cross its threshold. Stateless except for the rate baselines (`bytes_per_second`,
 * `packets_per_second`, `new_flows`), which remember the task totals of earlier evaluations.
 *
 * Rate semantics (docs/alerting.md, "Rates"): an evaluation at time t of a task in measurement
 * period p compares the task's cumulative totals now with those at a baseline t₀: the latest
 * earlier evaluation of the same period at least one check interval before t, or, when there is
 * none, the start of the period (totals 0 there). `bytes_per_second` = Δbytes / (t − t₀) in
 * seconds, `packets_per_second` likewise, `new_flows` = Δflows (flows first seen in (t₀, t]: flows
 * never leave a task within a period). A window shorter than min(1 s, check interval) says nothing
 * reliable (a final snapshot a millisecond after the last check), so the rule is not evaluated
 * then: its alerts keep their state.
 */
import type { AlertEvidenceFlow, AlertMetric, AlertOperator, AlertRule } from '../model/alert.js';
import type { ExactTaskSnapshot, GroupSnapshot, KeyObject, SketchEntry, TaskSnapshot } from '../model/snapshot.js';
import { KeySpec } from '../model/flow-key.js';
import { topFlowIndices } from '../model/flow-ranking.js';
import type { RankBy } from '../model/flow-ranking.js';

/** Supporting flows kept per alert, largest first. */
export const MAX_EVIDENCE_FLOWS = 20;

/** One flow (or the whole task, flowText '') over a rule's threshold. */
export interface Offender {
  flowText: string;
  flow: KeyObject;
  value: number;
  evidence: AlertEvidenceFlow[];
}

/**
 * A rule's reading of one snapshot: `offenders` (possibly none) when the metric could be read;
 * `unavailable` when it could not (the task is absent, a rate window is too short, a delta
 * snapshot): the rule's alerts must then keep their state, neither firing nor resolving.
 */
export type RuleReading = { kind: 'measured'; offenders: Offender[] } | { kind: 'unavailable'; reason: string };

export type TaskKind = TaskSnapshot['kind'];

export interface RuleEvaluation {
  rule: AlertRule;
  taskKind: TaskKind;
  flowFields: string[];
  elementFields?: string[];
  reading: RuleReading;
}

export function compare(value: number, operator: AlertOperator, threshold: number): boolean {
  switch (operator) {
    case '>':
      return value > threshold;
    case '<':
      return value < threshold;
    case '>=':
      return value >= threshold;
    case '<=':
      return value <= threshold;
    case '=':
      return value === threshold;
  }
}

const RATE_METRICS: ReadonlySet<AlertMetric> = new Set(['bytes_per_second', 'packets_per_second', 'new_flows']);

interface Totals {
  ms: number;
  packets: number;
  bytes: number;
  flows: number;
}

interface RateHistory {
  periodId: number;
  /** Evaluations of this period, oldest first; the first may be the period's start (all zero). */
  points: Totals[];
}

export interface RuleEvaluatorOptions {
  rules: readonly AlertRule[];
  /** The check interval (ms): the shortest window a rate is measured over when it can be. */
  checkIntervalMs: number;
}

export class RuleEvaluator {
  readonly #rules: readonly AlertRule[];
  readonly #checkIntervalMs: number;
  readonly #rates = new Map<string, RateHistory>();
  /** Time of the last period-end snapshot per group: the exact start of the next period. */
  readonly #periodEnds = new Map<string, number>();

  constructor(options: RuleEvaluatorOptions) {
    this.#rules = options.rules;
    this.#checkIntervalMs = options.checkIntervalMs;
  }

  /** Every rule whose task is in this snapshot, with its reading. */
  evaluate(snapshot: GroupSnapshot): RuleEvaluation[] {
    const at = snapshot.time.seconds * 1000 + snapshot.time.nanos / 1e6;
    const out: RuleEvaluation[] = [];
    const totalsByTask = new Map<string, Totals | undefined>();
    for (const task of snapshot.tasks) {
      const rules = this.#rules.filter((r) => r.taskName === task.name);
      if (rules.length === 0) continue;
      if (task.kind === 'exact') {
        const complete = task.flows.sinceEpoch < 0;
        const totals = complete ? exactTotals(task, at) : undefined;
        totalsByTask.set(task.name, totals);
        const rateWindow = totals !== undefined && rules.some((r) => RATE_METRICS.has(r.metric)) ? this.#rateBaseline(snapshot, task.name, totals) : undefined;
        for (const rule of rules) {
          const reading: RuleReading =
            totals === undefined
              ? { kind: 'unavailable', reason: 'a delta snapshot holds only the changed flows' }
              : readExact(task, rule, totals, RATE_METRICS.has(rule.metric) ? rateWindow ?? null : undefined);
          out.push({ rule, taskKind: 'exact', flowFields: [...task.keyFields], reading });
        }
      } else {
        for (const rule of rules) {
          const entries = sketchEntries(task, rule.metric);
          const reading: RuleReading =
            entries === undefined
              ? { kind: 'unavailable', reason: `${rule.metric} is not a metric of a ${task.kind} task` }
              : { kind: 'measured', offenders: sketchOffenders(task, rule, entries) };
          out.push({
            rule,
            taskKind: task.kind,
            flowFields: [...task.flowFields],
            ...(task.kind === 'super_spreader' ? { elementFields: [...task.elementFields] } : {}),
            reading,
          });
        }
      }
    }
    if (snapshot.reason === 'period-end') this.#periodEnds.set(snapshot.group, at);
    return out;
  }

  /**
   * The baseline of this evaluation's rate window (and the bookkeeping for later ones), or null
   * when the window would be too short to say anything.
   */
  #rateBaseline(snapshot: GroupSnapshot, taskName: string, now: Totals): Totals | null {
    let history = this.#rates.get(taskName);
    if (history === undefined || history.periodId !== snapshot.periodId) {
      // A new period: counting restarted from zero at its start.
      const idMs = snapshot.periodId * 1000;
      const ended = this.#periodEnds.get(snapshot.group);
      // periodId is whole seconds; the previous period-end snapshot knows the start to the nanosecond.
      const startMs = ended !== undefined && ended >= idMs && ended < idMs + 1000 ? ended : idMs;
      history = { periodId: snapshot.periodId, points: [{ ms: Math.min(startMs, now.ms), packets: 0, bytes: 0, flows: 0 }] };
      this.#rates.set(taskName, history);
    }
    const points = history.points;
    const latestAllowed = now.ms - this.#checkIntervalMs;
    let baseline = points[0]!;
    let baselineIndex = 0;
    for (let i = points.length - 1; i >= 0; i--) {
      if (points[i]!.ms <= latestAllowed) {
        baseline = points[i]!;
        baselineIndex = i;
        break;
      }
    }
    const windowMs = now.ms - baseline.ms;
    if (windowMs >= Math.min(1000, this.#checkIntervalMs)) {
      // Later evaluations need this point and the ones after; older ones can no longer be a baseline.
      points.splice(0, baselineIndex);
      points.push(now);
      return baseline;
    }
    if (now.ms > (points.at(-1)?.ms ?? Number.NEGATIVE_INFINITY)) points.push(now);
    return null;
  }
}

function exactTotals(task: ExactTaskSnapshot, ms: number): Totals {
  const f = task.flows;
  let packets = 0;
  let bytes = 0;
  for (let i = 0; i < f.count; i++) {
    packets += f.packets[i]!;
    bytes += f.bytes[i]!;
  }
  return { ms, packets, bytes, flows: f.count };
}

/**
 * `baseline`: undefined for a total metric; null when a rate's window is too short; the window's
 * start otherwise.
 */
function readExact(task: ExactTaskSnapshot, rule: AlertRule, totals: Totals, baseline: Totals | null | undefined): RuleReading {
  let value: number;
  let rankBy: RankBy = 'bytes';
  let since: Totals | undefined;
  switch (rule.metric) {
    case 'total_packets':
      value = totals.packets;
      rankBy = 'packets';
      break;
    case 'total_bytes':
      value = totals.bytes;
      break;
    case 'total_flows':
      value = totals.flows;
      rankBy = 'packets';
      break;
    case 'bytes_per_second':
    case 'packets_per_second':
    case 'new_flows': {
      if (baseline === null || baseline === undefined) return { kind: 'unavailable', reason: 'the rate window is shorter than the shortest one measured' };
      since = baseline;
      const seconds = (totals.ms - baseline.ms) / 1000;
      if (rule.metric === 'new_flows') {
        value = Math.max(0, totals.flows - baseline.flows);
        rankBy = 'packets';
      } else if (rule.metric === 'bytes_per_second') {
        value = Math.max(0, totals.bytes - baseline.bytes) / seconds;
      } else {
        value = Math.max(0, totals.packets - baseline.packets) / seconds;
        rankBy = 'packets';
      }
      break;
    }
    default:
      return { kind: 'unavailable', reason: `${rule.metric} is not a metric of an exact task` };
  }
  if (!compare(value, rule.operator, rule.threshold)) return { kind: 'measured', offenders: [] };
  return { kind: 'measured', offenders: [{ flowText: '', flow: {}, value, evidence: exactEvidence(task, rankBy, rule.metric === 'new_flows' ? since : undefined) }] };
}

/** The largest flows of the task; for new_flows, the largest of those first seen after the window's start. */
function exactEvidence(task: ExactTaskSnapshot, rankBy: RankBy, newSince: Totals | undefined): AlertEvidenceFlow[] {
  const f = task.flows;
  const spec = new KeySpec(task.keyFields);
  let indices: number[];
  if (newSince === undefined) {
    indices = topFlowIndices(f, MAX_EVIDENCE_FLOWS, rankBy);
  } else {
    const sinceSeconds = Math.floor(newSince.ms / 1000);
    const sinceNanos = Math.round((newSince.ms - sinceSeconds * 1000) * 1e6);
    indices = [];
    for (let i = 0; i < f.count; i++) {
      const s = f.firstSeconds[i]!;
      if (s > sinceSeconds || (s === sinceSeconds && f.firstNanos[i]! >= sinceNanos)) indices.push(i);
    }
    const primary = rankBy === 'bytes' ? f.bytes : f.packets;
    indices.sort((a, b) => primary[b]! - primary[a]! || a - b);
    indices.length = Math.min(indices.length, MAX_EVIDENCE_FLOWS);
  }
  return indices.map((i) => ({
    flowText: spec.toText(f.keys, i * f.keyWords),
    flow: spec.toObject(f.keys, i * f.keyWords),
    packets: f.packets[i]!,
    bytes: f.bytes[i]!,
  }));
}

function sketchEntries(task: TaskSnapshot, metric: AlertMetric): readonly SketchEntry[] | undefined {
  if (task.kind === 'heavy_hitter') {
    if (metric === 'heavy_hitter_count') return task.byCount;
    if (metric === 'heavy_hitter_size') return task.bySize;
  }
  if (task.kind === 'super_spreader' && metric === 'super_spreader_spread') return task.spreaders;
  return undefined;
}

/** Per reported flow: each one over the threshold is its own offender (its own alert). */
function sketchOffenders(task: TaskSnapshot, rule: AlertRule, entries: readonly SketchEntry[]): Offender[] {
  const offenders: Offender[] = [];
  let otherList: Map<string, number> | undefined;
  for (const entry of entries) {
    const value = Math.round(entry.value);
    if (!compare(value, rule.operator, rule.threshold)) continue;
    const evidence: AlertEvidenceFlow = { flowText: entry.flowText, flow: entry.flow };
    if (rule.metric === 'heavy_hitter_count') evidence.packets = value;
    else if (rule.metric === 'heavy_hitter_size') evidence.bytes = value;
    else evidence.spread = value;
    // The other list of a heavy-hitter task may know this flow's other counter.
    if (task.kind === 'heavy_hitter') {
      otherList ??= new Map((rule.metric === 'heavy_hitter_count' ? task.bySize : task.byCount).map((e) => [e.flowText, e.value]));
      const match = otherList.get(entry.flowText);
      if (match !== undefined) {
        if (rule.metric === 'heavy_hitter_count') evidence.bytes = Math.round(match);
        else evidence.packets = Math.round(match);
      }
    }
    offenders.push({ flowText: entry.flowText, flow: entry.flow, value, evidence: [evidence] });
  }
  return offenders;
}
