/**
 * The alerter: evaluates the rules on every snapshot it is given (it is a SnapshotWriter, so the
 * engine's manager schedules it at `check_interval` like any writer: packet time offline,
 * wall-clock time live, plus every period end and the final snapshot), runs each alert through
 * its lifecycle, and hands the resulting notifications to the notifiers.
 *
 * Evaluation never waits for delivery or analysis: `write()` returns once the rules are evaluated.
 * Firing notifications are first sent to the analyst (the AI service) with a deadline
 * (`analysisTimeoutMs`); when it fails or is late the built-in analyst's text goes out instead, so
 * a slow or broken LLM delays a notification by at most the deadline and never stalls detection.
 *
 * Hooks for the rest of the system: `onNotices` sees every state change (the AlertRecorder stores
 * them, alert-recorder.ts), `onNotification` every enriched notification, and `notify: false`
 * evaluates without delivering (a follower engine).
 */
import { NetSpectraError, errorMessage } from '../model/errors.js';
import type { Alert, AlertAnalysis, AlertAnalyst, AlertNotification, AlertNoticeKind, AlertRule, Notifier } from '../model/alert.js';
import type { SnapshotWriter } from '../model/ports.js';
import type { GroupSnapshot, Timestamp } from '../model/snapshot.js';
import type { AlertRuleConfig } from '../config/schema.js';
import { AlertLifecycle } from './alert-lifecycle.js';
import type { AlertNotice } from './alert-lifecycle.js';
import { NotificationDispatcher } from './notification-dispatcher.js';
import type { DeliveryFailure, NotifierStats } from './notification-dispatcher.js';
import { RuleEvaluator } from './rule-evaluator.js';

/** The config's rules (`alerter.rules`) in the model's units. */
export function alertRulesOf(rules: readonly AlertRuleConfig[]): AlertRule[] {
  return rules.map((r) => ({
    name: r.name,
    taskName: r.taskName,
    metric: r.metric,
    operator: r.operator,
    threshold: r.threshold,
    forSeconds: r.forMs / 1000,
    cooldownSeconds: r.cooldownMs / 1000,
  }));
}

export interface AlerterOptions {
  rules: readonly AlertRule[];
  /** `alerter.check_interval` in ms: the shortest window rates are measured over. */
  checkIntervalMs: number;
  notifiers?: readonly Notifier[];
  /** Longest time one delivery by one notifier may take. @default 60000 */
  deliveryTimeoutMs?: number;
  /** The analyst asked first (the AI service); its answer is awaited at most `analysisTimeoutMs`. */
  analyst?: AlertAnalyst;
  /** The analyst used when there is no `analyst` or it failed or was late (the built-in one). */
  fallbackAnalyst?: AlertAnalyst;
  /** @default 20000 */
  analysisTimeoutMs?: number;
  /** Deliver notifications (false: evaluate and record only, e.g. a follower engine). @default true */
  notify?: boolean;
  /**
   * Asked for every notification: false skips its delivery (it is still recorded and passed to
   * `onNotification`). For a cluster, `() => lease.leader`: every engine evaluates, so a new
   * leader takes over with warm state, and only the leader notifies.
   */
  shouldDeliver?: () => boolean;
  /** Every state change of every alert, in evaluation order (for stores and status pages). */
  onNotices?: (notices: readonly AlertNotice[], at: Timestamp) => void;
  /** Every notification: once enriched, before it is delivered; as evaluated when it is not delivered. */
  onNotification?: (notification: AlertNotification) => void;
  onDeliveryFailure?: (failure: DeliveryFailure) => void;
  /** The analyst failed or was late (NS_ERR_ALERT_ANALYSIS); the fallback was used. */
  onAnalysisFailure?: (error: NetSpectraError) => void;
}

/** One firing of one alert, from firing to resolution (or the end of the run). */
export interface AlertEpisode {
  /** The alert as last evaluated (status `resolved` once it cleared). */
  alert: Alert;
  firedAt: Timestamp;
  resolvedAt: Timestamp | undefined;
  /** Largest value seen while firing. */
  peakValue: number;
  /** Notices sent for it: firing, repeats, resolved. */
  notices: number;
}

export interface AlerterStats {
  evaluations: number;
  notifications: number;
  analysisFailures: number;
  notifiers: NotifierStats[];
}

/** How long the fallback analyst may take: it is local and deterministic, so it should be instant. */
const FALLBACK_ANALYSIS_TIMEOUT_MS = 2000;

export class Alerter implements SnapshotWriter {
  readonly description = 'alerter';
  readonly #options: AlerterOptions;
  readonly #evaluator: RuleEvaluator;
  readonly #lifecycle = new AlertLifecycle();
  readonly #dispatcher: NotificationDispatcher;
  readonly #episodes: AlertEpisode[] = [];
  readonly #openEpisodes = new Map<string, AlertEpisode>();
  readonly #enrichments = new Set<Promise<unknown>>();
  #evaluations = 0;
  #notifications = 0;
  #analysisFailures = 0;
  #stopped = false;

  constructor(options: AlerterOptions) {
    this.#options = options;
    this.#evaluator = new RuleEvaluator({ rules: options.rules, checkIntervalMs: options.checkIntervalMs });
    this.#dispatcher = new NotificationDispatcher({
      notifiers: options.notify === false ? [] : options.notifiers ?? [],
      timeoutMs: options.deliveryTimeoutMs ?? 60_000,
      ...(options.onDeliveryFailure === undefined ? {} : { onFailure: options.onDeliveryFailure }),
    });
  }

  async start(): Promise<void> {}

  /** Evaluate a snapshot; notifications are delivered in the background (see stop()). */
  async write(snapshot: GroupSnapshot): Promise<void> {
    this.evaluate(snapshot);
  }

  /** Evaluate the rules on one snapshot; returns the notifications it causes (before enrichment). */
  evaluate(snapshot: GroupSnapshot): AlertNotification[] {
    if (this.#stopped) return [];
    this.#evaluations++;
    const at = snapshot.time;
    const notices: AlertNotice[] = [];
    const notifications: AlertNotification[] = [];
    for (const evaluation of this.#evaluator.evaluate(snapshot)) {
      const ruleNotices = this.#lifecycle.update(evaluation, at);
      if (ruleNotices.length === 0) continue;
      notices.push(...ruleNotices);
      for (const kind of ['firing', 'repeat', 'resolved'] as const satisfies readonly AlertNoticeKind[]) {
        const alerts = ruleNotices.filter((n) => n.kind === kind).map((n) => n.alert);
        if (alerts.length > 0) notifications.push({ rule: evaluation.rule.name, kind, alerts, at });
      }
    }
    this.#followOpenEpisodes();
    if (notices.length === 0) return [];
    this.#record(notices);
    this.#options.onNotices?.(notices, at);
    for (const notification of notifications) this.#send(notification);
    return notifications;
  }

  /** Every alert that fired during the run, in firing order. */
  episodes(): AlertEpisode[] {
    return this.#episodes.map((e) => ({ ...e }));
  }

  /** Alerts firing now. */
  active(): Alert[] {
    return this.#lifecycle.active();
  }

  stats(): AlerterStats {
    return { evaluations: this.#evaluations, notifications: this.#notifications, analysisFailures: this.#analysisFailures, notifiers: this.#dispatcher.stats() };
  }

  /** Wait for every pending analysis and delivery (each bounded by its deadline), then close the notifiers. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#enrichments]);
    await this.#dispatcher.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Alerts that stay active change value without a notice; episodes show the latest and the peak. */
  #followOpenEpisodes(): void {
    for (const [id, episode] of this.#openEpisodes) {
      const alert = this.#lifecycle.current(id);
      if (alert === undefined) continue;
      episode.alert = alert;
      if (alert.value > episode.peakValue) episode.peakValue = alert.value;
    }
  }

  #record(notices: readonly AlertNotice[]): void {
    for (const { kind, alert } of notices) {
      let episode = this.#openEpisodes.get(alert.id);
      if (kind === 'firing' || episode === undefined) {
        episode = { alert, firedAt: alert.firedAt ?? alert.at, resolvedAt: undefined, peakValue: alert.value, notices: 0 };
        this.#episodes.push(episode);
        this.#openEpisodes.set(alert.id, episode);
      }
      episode.alert = alert;
      episode.notices++;
      if (alert.value > episode.peakValue) episode.peakValue = alert.value;
      if (kind === 'resolved') {
        episode.resolvedAt = alert.at;
        this.#openEpisodes.delete(alert.id);
      }
    }
  }

  #send(notification: AlertNotification): void {
    this.#notifications++;
    // Nobody to deliver to: no analysis either (it may be an LLM call that costs money).
    if (this.#dispatcher.notifierCount === 0 || this.#options.shouldDeliver?.() === false) {
      this.#options.onNotification?.(notification);
      return;
    }
    const ready = this.#enrich(notification).then((enriched) => {
      this.#options.onNotification?.(enriched);
      return enriched;
    });
    this.#enrichments.add(ready);
    void ready.finally(() => this.#enrichments.delete(ready));
    this.#dispatcher.dispatch(ready);
  }

  async #enrich(notification: AlertNotification): Promise<AlertNotification> {
    if (notification.kind !== 'firing') return notification;
    const { analyst, fallbackAnalyst } = this.#options;
    if (analyst !== undefined) {
      try {
        return { ...notification, analysis: await withDeadline(analyst, notification.alerts, this.#options.analysisTimeoutMs ?? 20_000) };
      } catch (error) {
        this.#analysisFailures++;
        const message = errorMessage(error);
        this.#options.onAnalysisFailure?.(
          new NetSpectraError('NS_ERR_ALERT_ANALYSIS', `analysis of ${notification.rule} failed (${message}); ${fallbackAnalyst === undefined ? 'sent without one' : 'the built-in analysis was sent instead'}`, {
            cause: error,
          }),
        );
      }
    }
    if (fallbackAnalyst !== undefined) {
      try {
        return { ...notification, analysis: await withDeadline(fallbackAnalyst, notification.alerts, FALLBACK_ANALYSIS_TIMEOUT_MS) };
      } catch {
        // a notification without an analysis is still a notification
      }
    }
    return notification;
  }
}

/**
 * The analyst's answer, or a rejection once `timeoutMs` has passed: the signal asks the analyst to
 * stop, and the race makes sure nobody waits for one that does not listen.
 */
async function withDeadline(analyst: AlertAnalyst, alerts: readonly Alert[], timeoutMs: number): Promise<AlertAnalysis> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    const analysis = await Promise.race([analyst.analyze(alerts, controller.signal), deadline]);
    if (typeof analysis?.markdown !== 'string' || analysis.markdown.trim() === '') throw new Error('the analysis is empty');
    return analysis;
  } finally {
    clearTimeout(timer);
  }
}
