/**
 * The life of every alert, as a pure state machine over evaluation times (no timers, no clock of
 * its own: packet time offline, wall-clock time live, whatever the caller's snapshots say).
 *
 * Identity is the rule plus the offending flow key (`flowText`, '' for a task-wide metric). For
 * each rule evaluation:
 *
 *   absent  ──condition true──▶ pending (since = now)            [fires at once when `for` is 0]
 *   pending ──true, now − since ≥ for──▶ firing  → notice `firing`
 *   pending ──false──▶ absent (silently: nobody was told)
 *   firing  ──true, now − lastNotified ≥ cooldown──▶ firing → notice `repeat`
 *   firing  ──false──▶ absent → notice `resolved`
 *   any     ──reading unavailable──▶ unchanged
 *
 * A rule with cooldown 0 repeats at every evaluation while active (the original's behaviour, on
 * request only). An alert that resolves and comes back later is a new episode: it waits for `for`
 * again and fires again.
 */
import type { Alert, AlertNoticeKind } from '../model/alert.js';
import type { Timestamp } from '../model/snapshot.js';
import type { RuleEvaluation } from './rule-evaluator.js';

export interface AlertNotice {
  kind: AlertNoticeKind;
  alert: Alert;
}

interface AlertState {
  alert: Alert;
  since: Timestamp;
  /** Undefined while pending. */
  fired: Timestamp | undefined;
  lastNotified: Timestamp | undefined;
}

/**
 * `to − from` in ms, from the parts: epoch milliseconds as one double (≈1.7e12) keep only about
 * a quarter microsecond, and `for: 500ms` must not fire a nanosecond early.
 */
export function elapsedMs(from: Timestamp, to: Timestamp): number {
  return (to.seconds - from.seconds) * 1000 + (to.nanos - from.nanos) / 1e6;
}

export function alertId(rule: string, flowText: string): string {
  return `${rule}|${flowText}`;
}

export class AlertLifecycle {
  /** Per rule name, its pending and firing alerts by id. */
  readonly #states = new Map<string, Map<string, AlertState>>();

  /** Apply one rule's reading at time `at`; returns the notices it causes, largest value first. */
  update(evaluation: RuleEvaluation, at: Timestamp): AlertNotice[] {
    const { rule, reading } = evaluation;
    if (reading.kind === 'unavailable') return [];
    let states = this.#states.get(rule.name);
    if (states === undefined) {
      states = new Map();
      this.#states.set(rule.name, states);
    }
    const notices: AlertNotice[] = [];
    const seen = new Set<string>();
    for (const offender of reading.offenders) {
      const id = alertId(rule.name, offender.flowText);
      seen.add(id);
      let state = states.get(id);
      const previous = state?.alert;
      const alert: Alert = {
        id,
        rule: rule.name,
        taskName: rule.taskName,
        taskKind: evaluation.taskKind,
        metric: rule.metric,
        operator: rule.operator,
        threshold: rule.threshold,
        flowText: offender.flowText,
        flow: offender.flow,
        value: offender.value,
        status: 'firing',
        since: previous?.since ?? at,
        at,
        flowFields: evaluation.flowFields,
        ...(evaluation.elementFields === undefined ? {} : { elementFields: evaluation.elementFields }),
        evidence: offender.evidence,
        ...(previous?.firedAt === undefined ? {} : { firedAt: previous.firedAt }),
      };
      if (state === undefined) {
        state = { alert, since: at, fired: undefined, lastNotified: undefined };
        states.set(id, state);
      } else {
        state.alert = alert;
      }
      if (state.fired === undefined) {
        if (elapsedMs(state.since, at) >= rule.forSeconds * 1000) {
          state.fired = at;
          state.lastNotified = at;
          alert.firedAt = at;
          notices.push({ kind: 'firing', alert });
        }
      } else if (state.lastNotified === undefined || elapsedMs(state.lastNotified, at) >= rule.cooldownSeconds * 1000) {
        state.lastNotified = at;
        notices.push({ kind: 'repeat', alert });
      }
    }
    for (const [id, state] of states) {
      if (seen.has(id)) continue;
      states.delete(id);
      if (state.fired === undefined) continue;
      // the value is the last one seen over the threshold; `at` says when it cleared
      notices.push({ kind: 'resolved', alert: { ...state.alert, status: 'resolved', at } });
    }
    notices.sort((a, b) => b.alert.value - a.alert.value || (a.alert.flowText < b.alert.flowText ? -1 : a.alert.flowText > b.alert.flowText ? 1 : 0));
    return notices;
  }

  /** The alert with this id as last evaluated, while it is pending or firing. */
  current(id: string): Alert | undefined {
    // flow texts never hold '|'; a rule name may
    const rule = id.slice(0, id.lastIndexOf('|'));
    return this.#states.get(rule)?.get(id)?.alert;
  }

  /** Alerts firing now (not pending ones), for status pages and shutdown summaries. */
  active(): Alert[] {
    const out: Alert[] = [];
    for (const states of this.#states.values()) for (const state of states.values()) if (state.fired !== undefined) out.push(state.alert);
    return out;
  }

  /** Alerts whose condition holds but whose `for` has not elapsed yet. */
  pending(): Alert[] {
    const out: Alert[] = [];
    for (const states of this.#states.values()) for (const state of states.values()) if (state.fired === undefined) out.push(state.alert);
    return out;
  }
}
