/**
 * Delivers notifications to every notifier at once. Each notifier has its own ordered queue (a
 * `resolved` never overtakes the `firing` of the same alert at one receiver), and every delivery is
 * bounded by `timeoutMs`: a failing or hanging notifier is counted and abandoned, and never holds
 * up the others or the evaluation.
 */
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { AlertNotification, Notifier } from '../model/alert.js';

export interface NotifierStats {
  name: string;
  delivered: number;
  failed: number;
  /** Dropped because the notifier's queue was full (NS_ERR_NOTIFY_BACKLOG). */
  dropped: number;
}

export interface DeliveryFailure {
  notifier: string;
  notification: AlertNotification;
  error: NetSpectraError;
}

export interface NotificationDispatcherOptions {
  notifiers: readonly Notifier[];
  /** Longest time for one delivery by one notifier, all its attempts included. */
  timeoutMs: number;
  /** Deliveries waiting per notifier at most; more are dropped and counted. @default 1000 */
  maxQueued?: number;
  onFailure?: (failure: DeliveryFailure) => void;
  onDelivered?: (notifier: string, notification: AlertNotification) => void;
}

interface Lane {
  notifier: Notifier;
  tail: Promise<void>;
  queued: number;
  stats: NotifierStats;
}

export class NotificationDispatcher {
  readonly #options: NotificationDispatcherOptions;
  readonly #lanes: Lane[];

  constructor(options: NotificationDispatcherOptions) {
    this.#options = options;
    this.#lanes = options.notifiers.map((notifier) => ({
      notifier,
      tail: Promise.resolve(),
      queued: 0,
      stats: { name: notifier.name, delivered: 0, failed: 0, dropped: 0 },
    }));
  }

  get notifierCount(): number {
    return this.#lanes.length;
  }

  stats(): NotifierStats[] {
    return this.#lanes.map((lane) => ({ ...lane.stats }));
  }

  /**
   * Queue a notification for every notifier. `ready` resolves to the notification to send (after
   * its enrichment); lanes wait for it in order, so enrichment runs while earlier deliveries do.
   */
  dispatch(ready: Promise<AlertNotification>): void {
    for (const lane of this.#lanes) {
      if (lane.queued >= (this.#options.maxQueued ?? 1000)) {
        lane.stats.dropped++;
        void ready.then((notification) =>
          this.#fail(lane, notification, new NetSpectraError('NS_ERR_NOTIFY_BACKLOG', `${lane.notifier.name}: ${lane.queued} notifications already waiting; this one was dropped`)),
        );
        continue;
      }
      lane.queued++;
      lane.tail = lane.tail.then(async () => {
        try {
          await this.#deliver(lane, await ready);
        } finally {
          lane.queued--;
        }
      });
    }
  }

  /** Resolves when every queued delivery has finished (each is bounded by the timeout). */
  async drain(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.tail));
  }

  /** Drain, then let every notifier release its connections. */
  async close(): Promise<void> {
    await this.drain();
    await Promise.allSettled(this.#lanes.map(async (lane) => lane.notifier.close?.()));
  }

  async #deliver(lane: Lane, notification: AlertNotification): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new NetSpectraError('NS_ERR_NOTIFY_TIMEOUT', `${lane.notifier.name}: no answer within ${this.#options.timeoutMs} ms; delivery abandoned`);
        controller.abort(error);
        reject(error);
      }, this.#options.timeoutMs);
    });
    try {
      // The race, not only the signal: a notifier that ignores its signal still cannot hang the lane.
      await Promise.race([lane.notifier.notify(notification, controller.signal), timeout]);
      lane.stats.delivered++;
      this.#options.onDelivered?.(lane.notifier.name, notification);
    } catch (error) {
      this.#fail(lane, notification, asNotifyError(lane.notifier.name, error));
    } finally {
      clearTimeout(timer);
    }
  }

  #fail(lane: Lane, notification: AlertNotification, error: NetSpectraError): void {
    if (error.code !== 'NS_ERR_NOTIFY_BACKLOG') lane.stats.failed++;
    try {
      this.#options.onFailure?.({ notifier: lane.notifier.name, notification, error });
    } catch {
      // a reporting hook that throws must not break the lane
    }
  }
}

function asNotifyError(name: string, error: unknown): NetSpectraError {
  if (error instanceof NetSpectraError) return error;
  const message = errorMessage(error);
  return new NetSpectraError('NS_ERR_NOTIFY_FAILED', `${name}: ${message}`, { cause: error });
}
