/**
 * Alerts: what the alerter (src/alerting) produces when a rule is crossed, what notifiers deliver,
 * what the stores keep and what the AI service (src/ai) explains. Plain, JSON-safe data.
 */
import type { KeyObject, Timestamp } from './snapshot.js';

/**
 * What a rule measures: the original's six metrics plus three new ones over the check window.
 * Exact tasks: totals over the task, and the window's `bytes_per_second`, `packets_per_second` and
 * `new_flows` (docs/alerting.md defines the window). Heavy-hitter sketches (`skt_type 0`) and
 * SuperSpread (`skt_type 1`): one value per reported flow, so a rule fires per offending flow.
 */
export type AlertMetric =
  | 'total_packets'
  | 'total_bytes'
  | 'total_flows'
  | 'heavy_hitter_count'
  | 'heavy_hitter_size'
  | 'super_spreader_spread'
  | 'bytes_per_second'
  | 'packets_per_second'
  | 'new_flows';

export type AlertOperator = '>' | '<' | '=' | '>=' | '<=';

/** One rule of `alerter.rules[]`. */
export interface AlertRule {
  name: string;
  taskName: string;
  metric: AlertMetric;
  operator: AlertOperator;
  threshold: number;
  /** Seconds the condition must hold before the alert fires (0: at once). */
  forSeconds: number;
  /** Seconds before a still-active alert is notified again. */
  cooldownSeconds: number;
}

/** A flow that supports an alert, with its numbers (the evidence table of a notification). */
export interface AlertEvidenceFlow {
  /** The flow key as text (`Flow` column form, e.g. `10.0.0.1` or `10.0.0.1,10.0.0.2,80,443,6`). */
  flowText: string;
  flow: KeyObject;
  packets?: number;
  bytes?: number;
  /** Distinct elements (super-spreaders). */
  spread?: number;
}

export type AlertStatus = 'firing' | 'resolved';

/**
 * One alert: identity is the rule plus the offending flow key (`flowText`, empty for metrics of a
 * whole task such as total_bytes). `value` is the observed metric at the last evaluation.
 */
export interface Alert {
  /** Stable identity: `<rule>|<flowText>`. */
  id: string;
  rule: string;
  taskName: string;
  /** What kind of task the rule watched. */
  taskKind: 'exact' | 'heavy_hitter' | 'super_spreader';
  metric: AlertMetric;
  operator: AlertOperator;
  threshold: number;
  /** Offending flow key as text; '' for task-wide metrics. */
  flowText: string;
  flow: KeyObject;
  value: number;
  status: AlertStatus;
  /** When the condition was first seen true (packet time offline, wall clock live). */
  since: Timestamp;
  /** When the alert fired (`since` plus the rule's `for`, at an evaluation); absent while pending. */
  firedAt?: Timestamp;
  /** The evaluation that produced this notice. */
  at: Timestamp;
  /** Key fields of the task (e.g. ['SrcIP']) and, for super-spreaders, of the counted elements. */
  flowFields: string[];
  elementFields?: string[];
  /** Up to a few dozen supporting flows, largest first. */
  evidence: AlertEvidenceFlow[];
}

/** An analysis of triggered alerts, in markdown. */
export interface AlertAnalysis {
  markdown: string;
  /** `llm` when a model wrote it, `built-in` for the deterministic offline analyst. */
  source: 'llm' | 'built-in';
  /** The model that wrote it (source `llm`). */
  model?: string;
}

/**
 * Explains alerts (threat classification, severity, likely root cause, mitigation). The alerter
 * calls it with a deadline through `signal` and never waits longer; implementations: the built-in
 * analyst (src/alerting) and the AI service client (src/ai).
 */
export interface AlertAnalyst {
  analyze(alerts: readonly Alert[], signal: AbortSignal): Promise<AlertAnalysis>;
}

/**
 * What people are told about an alert: it fired (after its rule's `for`), it is still active after
 * its rule's cooldown (`repeat`), or it cleared (`resolved`).
 */
export type AlertNoticeKind = 'firing' | 'repeat' | 'resolved';

/**
 * One delivery: the notices of one kind for one rule from one evaluation (a scan that trips a rule
 * for forty sources is one message listing forty flows, not forty messages), with the analysis of
 * the alerts when they fire.
 */
export interface AlertNotification {
  rule: string;
  kind: AlertNoticeKind;
  /** The alerts as of this evaluation, largest value first. */
  alerts: Alert[];
  /** The evaluation that produced it. */
  at: Timestamp;
  analysis?: AlertAnalysis;
}

/**
 * Delivers notifications (webhook, email, log). `signal` aborts when the alerter stops waiting for
 * this delivery; an implementation should give up then. Throw on failure: the alerter counts it.
 */
export interface Notifier {
  /** For counters and messages, e.g. `webhook:hooks.example.com`; never holds a secret. */
  readonly name: string;
  notify(notification: AlertNotification, signal: AbortSignal): Promise<void>;
  /** Release connections (SMTP pool); called once when the alerter stops. */
  close?(): Promise<void>;
}

/**
 * One stored alert notice: a state change of one alert (it fired, was repeated or resolved) as the
 * alert stores keep it (`alerts` table, docs/alerting.md "Storage"). Times are int64 nanoseconds
 * since the epoch (UTC), like the query plane's; `flow` and `evidence` as the alerter gave them.
 */
export interface AlertRecord {
  /** The evaluation that produced the notice (packet time offline, wall clock live). */
  atNs: bigint;
  kind: AlertNoticeKind;
  /** `<rule>|<flowText>`. */
  id: string;
  rule: string;
  taskName: string;
  taskKind: Alert['taskKind'];
  metric: AlertMetric;
  operator: AlertOperator;
  threshold: number;
  flowText: string;
  flow: KeyObject;
  flowFields: string[];
  elementFields: string[];
  /** The metric at this evaluation (for `resolved`: the last value over the threshold). */
  value: number;
  sinceNs: bigint;
  firedAtNs: bigint | undefined;
  evidence: AlertEvidenceFlow[];
  /** The run (RunId column of the flow rows of the same process) and engine that evaluated it. */
  runId: string;
  engineId: string;
  /** The command whose alerter produced it: `analyze` or `engine`. */
  source: string;
}

/**
 * Where alert notices are stored (the embedded store, ClickHouse). Called at every evaluation that
 * changed an alert's state; a failure is reported by the caller and never holds up detection.
 */
export interface AlertSink {
  /** For messages, e.g. `duckdb:netspectra.duckdb`; never a password. */
  readonly description: string;
  writeAlerts(records: readonly AlertRecord[]): Promise<void>;
}
