/**
 * The metric families of a process that runs the pipeline (`engine` and `serve`, under the
 * engine's names): tasks, snapshots, writers and alerts. Each part of the pipeline contributes its
 * own; the source adds its families itself (PacketSource.addMetrics).
 */
import type { AlerterStats } from '../alerting/alerter.js';
import type { AlertRecorderStats } from '../alerting/alert-recorder.js';
import type { NotifierStats } from '../alerting/notification-dispatcher.js';
import type { TaskStats } from '../engine/engine.js';
import type { PrometheusText } from '../model/prometheus-text.js';
import type { TaskGroupName } from '../model/snapshot.js';
import type { WriterMeasurements } from '../store/instrumented-writer.js';

/**
 * The metric families every process that runs the engine reports (`engine` and `serve`, under the
 * engine's names): flows and memory per task, snapshots per group, and per writer its writes,
 * write time, errors and whether it is up.
 */
export function addEngineMetrics(
  text: PrometheusText,
  taskStats: readonly TaskStats[],
  snapshots: Readonly<Record<TaskGroupName, number>>,
  writers: readonly WriterMeasurements[],
): PrometheusText {
  return text
    .family('netspectra_engine_task_flows', 'gauge', 'Distinct keys held by an exact task (0 for sketches).', taskStats.map((t) => ({ value: t.flows, labels: { task: t.name, kind: t.kind } })))
    .family('netspectra_engine_task_memory_bytes', 'gauge', 'Memory held by a task.', taskStats.map((t) => ({ value: t.memoryBytes, labels: { task: t.name, kind: t.kind } })))
    .family(
      'netspectra_engine_snapshots_total',
      'counter',
      'Snapshots taken per task group (interval, period end and final).',
      (Object.keys(snapshots) as TaskGroupName[]).map((group) => ({ value: snapshots[group], labels: { group } })),
    )
    .family('netspectra_engine_snapshot_writes_total', 'counter', 'Snapshots written successfully per writer.', writers.map((m) => ({ value: m.writes, labels: { writer: m.description } })))
    .family(
      'netspectra_engine_snapshot_write_seconds',
      'summary',
      'Time spent writing snapshots per writer (successful or not).',
      writers.flatMap((m) => [
        { value: m.writeSeconds, labels: { writer: m.description }, suffix: '_sum' },
        { value: m.writes + m.failures, labels: { writer: m.description }, suffix: '_count' },
      ]),
    )
    .family('netspectra_engine_writer_errors_total', 'counter', 'Failed snapshot writes per writer.', writers.map((m) => ({ value: m.failures, labels: { writer: m.description } })))
    .family(
      'netspectra_engine_writer_up',
      'gauge',
      '1 when the writer is started and its last write succeeded.',
      writers.map((m) => ({ value: m.started && m.lastError === undefined ? 1 : 0, labels: { writer: m.description } })),
    )
    .family('netspectra_engine_snapshot_last_write_seconds', 'gauge', 'Duration of the last snapshot write per writer.', writers.map((m) => ({ value: m.lastWriteSeconds, labels: { writer: m.description } })))
    .family(
      'netspectra_engine_snapshot_rows_total',
      'counter',
      'Rows written per writer (writers that count them).',
      writers.flatMap((m) => (m.rows === undefined ? [] : [{ value: m.rows, labels: { writer: m.description } }])),
    );
}

/**
 * The alerter's families: evaluations, notifications, analyses, stored notices and deliveries per
 * notifier (`deliveries` when someone else delivers them: the cluster leader's dispatcher).
 */
export function addAlertMetrics(text: PrometheusText, alerts: AlerterStats, recorder: AlertRecorderStats | undefined, deliveries?: readonly NotifierStats[]): PrometheusText {
  const delivery = deliveries ?? alerts.notifiers;
  return text
    .single('netspectra_alert_evaluations_total', 'counter', 'Rule evaluations (snapshots the alerter checked).', alerts.evaluations)
    .single('netspectra_alert_notifications_total', 'counter', 'Notifications this process produced (firing, repeat, resolved).', alerts.notifications)
    .single('netspectra_alert_analysis_failures_total', 'counter', 'Analyses that failed or missed their deadline (the built-in analysis went instead).', alerts.analysisFailures)
    .single('netspectra_alert_notices_stored_total', 'counter', 'Alert notices written to the stores (summed over the stores).', recorder?.written ?? 0)
    .single('netspectra_alert_store_failures_total', 'counter', 'Writes of alert notices to a store that failed (NS_ERR_ALERT_STORE).', recorder?.failed ?? 0)
    .family('netspectra_alert_deliveries_total', 'counter', 'Notifications delivered per notifier.', delivery.map((n) => ({ value: n.delivered, labels: { notifier: n.name } })))
    .family('netspectra_alert_delivery_failures_total', 'counter', 'Failed or dropped deliveries per notifier.', delivery.map((n) => ({ value: n.failed + n.dropped, labels: { notifier: n.name } })));
}
