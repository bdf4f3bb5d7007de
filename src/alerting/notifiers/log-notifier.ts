/**
 * Log notifier: one JSON line per alert notice on a stream (stderr by default), for log shippers
 * and `jq`. Fields: time (of the evaluation), level (`warn` firing/repeat, `info` resolved), event,
 * rule, id, task, metric, operator, threshold, value, flow, since, firedAt, analysis (its source).
 */
import { NetSpectraError } from '../../model/errors.js';
import type { AlertNotification, Notifier } from '../../model/alert.js';
import { isoTime } from '../notification-format.js';

export interface LogNotifierOptions {
  stream: NodeJS.WritableStream;
  /** For messages: `stderr`, `stdout`. */
  streamName: string;
}

export class LogNotifier implements Notifier {
  readonly name: string;
  readonly #stream: NodeJS.WritableStream;

  constructor(options: LogNotifierOptions) {
    this.name = `log:${options.streamName}`;
    this.#stream = options.stream;
  }

  async notify(notification: AlertNotification): Promise<void> {
    const lines = notification.alerts.map(
      (alert) =>
        JSON.stringify({
          time: isoTime(notification.at),
          level: notification.kind === 'resolved' ? 'info' : 'warn',
          event: `alert_${notification.kind}`,
          rule: alert.rule,
          id: alert.id,
          task: alert.taskName,
          metric: alert.metric,
          operator: alert.operator,
          threshold: alert.threshold,
          value: alert.value,
          flow: alert.flowText === '' ? null : alert.flow,
          since: isoTime(alert.since),
          firedAt: alert.firedAt === undefined ? null : isoTime(alert.firedAt),
          analysis: notification.analysis?.source ?? null,
        }) + '\n',
    );
    await new Promise<void>((resolve, reject) => {
      this.#stream.write(lines.join(''), (error) => {
        if (error === null || error === undefined) resolve();
        else reject(new NetSpectraError('NS_ERR_NOTIFY_FAILED', `${this.name}: ${error.message}`, { cause: error }));
      });
    });
  }
}
