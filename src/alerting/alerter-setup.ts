/**
 * The alerter of a configuration, for every command that runs the engine (`analyze` now; the live
 * engine with the same two calls): built from `alerter.*` for the tasks the process runs, and
 * scheduled on the manager's task groups at `alerter.check_interval`.
 */
import type { NetSpectraConfig } from '../config/schema.js';
import type { ScheduledWriter, TaskGroup } from '../model/ports.js';
import type { AlertAnalyst, AlertNotification, Notifier } from '../model/alert.js';
import type { Timestamp } from '../model/snapshot.js';
import type { AlertNotice } from './alert-lifecycle.js';
import { Alerter, alertRulesOf } from './alerter.js';
import { BuiltinAnalyst } from './builtin-analyst.js';

export interface AlerterSetupOptions {
  notifiers?: readonly Notifier[];
  /** The AI service's analyst, when `alerter.ai_analysis.enabled`. */
  analyst?: AlertAnalyst;
  /** @default the built-in analyst; null for none */
  fallbackAnalyst?: AlertAnalyst | null;
  /** false: evaluate and record, deliver nothing (a follower engine). @default true */
  notify?: boolean;
  /** Asked per notification; false skips its delivery (leader-only notification: `() => lease.leader`). */
  shouldDeliver?: () => boolean;
  /** Delivery and analysis failures, one line each with the error code. */
  onWarning?: (message: string) => void;
  onNotices?: (notices: readonly AlertNotice[], at: Timestamp) => void;
  onNotification?: (notification: AlertNotification) => void;
}

/**
 * The configured alerter, or undefined when it is disabled or none of its rules names a task this
 * process runs (a rule on a group left out of `aggregator.types` cannot be read).
 */
export function alerterFromConfig(config: NetSpectraConfig, taskNames: Iterable<string>, options: AlerterSetupOptions = {}): Alerter | undefined {
  if (!config.alerter.enabled) return undefined;
  const present = new Set(taskNames);
  const rules = alertRulesOf(config.alerter.rules.filter((r) => present.has(r.taskName)));
  if (rules.length === 0) return undefined;
  const { onWarning } = options;
  return new Alerter({
    rules,
    checkIntervalMs: config.alerter.checkIntervalMs,
    notifiers: options.notifiers ?? [],
    deliveryTimeoutMs: config.alerter.notifiers.timeoutMs,
    analysisTimeoutMs: config.alerter.aiAnalysis.timeoutMs,
    ...(options.analyst === undefined ? {} : { analyst: options.analyst }),
    ...(options.fallbackAnalyst === null ? {} : { fallbackAnalyst: options.fallbackAnalyst ?? new BuiltinAnalyst() }),
    ...(options.notify === undefined ? {} : { notify: options.notify }),
    ...(options.shouldDeliver === undefined ? {} : { shouldDeliver: options.shouldDeliver }),
    ...(options.onNotices === undefined ? {} : { onNotices: options.onNotices }),
    ...(options.onNotification === undefined ? {} : { onNotification: options.onNotification }),
    onDeliveryFailure: (failure) => onWarning?.(`alert notification not delivered: ${failure.error.toDisplayString()}`),
    onAnalysisFailure: (error) => onWarning?.(error.toDisplayString()),
  });
}

/**
 * Let the manager hand the alerter complete snapshots of every group that holds a rule's task, at
 * every `check_interval` (plus period ends and the final snapshot, which every writer gets).
 */
export function scheduleAlerter(groups: readonly TaskGroup[], alerter: Alerter, config: NetSpectraConfig): void {
  const ruleTasks = new Set(config.alerter.rules.map((r) => r.taskName));
  for (const group of groups) {
    if (group.taskNames.some((name) => ruleTasks.has(name))) (group.writers as ScheduledWriter[]).push({ writer: alerter, intervalMs: config.alerter.checkIntervalMs });
  }
}
