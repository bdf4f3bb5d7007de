/**
 * Alert notifications in a cluster (docs/alerting.md, "In a cluster"): every engine evaluates the
 * rules on the traffic it owns — per-flow alerts are exact there, because a source's packets all
 * reach one engine — and publishes its notifications on NATS; only the leader (bus/leader-lease.ts)
 * delivers them to the notifiers. So there is one email per alert whichever engine saw it, and
 * when the leader dies the next one delivers.
 *
 * The relay is core NATS: a notification published while the server is away is lost (counted by
 * the publishing alerter as a failed delivery). Payloads are JSON; one that is not a notification
 * is counted and dropped, never fatal.
 */
import type { Subscription } from '@nats-io/nats-core';
import type { Alert, AlertNotification } from '../model/alert.js';
import type { NatsConnection } from './nats-connection.js';

/** Default subject of the relay. */
export const ALERT_RELAY_SUBJECT = 'netspectra.alerts';

interface RelayedNotification {
  /** The engine whose alerter produced it. */
  engineId: string;
  notification: AlertNotification;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A Notifier that hands every notification to the relay subject (on each engine). */
export class AlertRelayPublisher {
  readonly name: string;
  readonly #connection: NatsConnection;
  readonly #subject: string;
  readonly #engineId: string;

  constructor(connection: NatsConnection, options: { subject?: string; engineId: string }) {
    this.#connection = connection;
    this.#subject = options.subject ?? ALERT_RELAY_SUBJECT;
    this.#engineId = options.engineId;
    this.name = `relay:${this.#subject}`;
  }

  async notify(notification: AlertNotification): Promise<void> {
    const message: RelayedNotification = { engineId: this.#engineId, notification };
    this.#connection.publish(this.#subject, encoder.encode(JSON.stringify(message)));
    // a publish is buffered by the client: flushing turns "server away" into a failed delivery
    await this.#connection.flush();
  }
}

export interface AlertRelayStats {
  received: number;
  /** Payloads that were not a relayed notification. */
  malformed: number;
}

/** Receives the relay subject's notifications (on each engine; the owner decides whether to deliver). */
export class AlertRelayReceiver {
  readonly #connection: NatsConnection;
  readonly #subject: string;
  readonly #onNotification: (notification: AlertNotification, engineId: string) => void;
  readonly #stats: AlertRelayStats = { received: 0, malformed: 0 };
  #subscription: Subscription | undefined;

  constructor(connection: NatsConnection, options: { subject?: string; onNotification: (notification: AlertNotification, engineId: string) => void }) {
    this.#connection = connection;
    this.#subject = options.subject ?? ALERT_RELAY_SUBJECT;
    this.#onNotification = options.onNotification;
  }

  get stats(): AlertRelayStats {
    return { ...this.#stats };
  }

  async start(): Promise<void> {
    this.#subscription = this.#connection.subscribe(this.#subject, (payload) => {
      const relayed = parseRelayed(payload);
      if (relayed === undefined) {
        this.#stats.malformed++;
        return;
      }
      this.#stats.received++;
      this.#onNotification(relayed.notification, relayed.engineId);
    });
    await this.#connection.flush();
  }

  stop(): void {
    if (this.#subscription !== undefined && !this.#subscription.isClosed()) this.#subscription.unsubscribe();
    this.#subscription = undefined;
  }
}

/** The relayed notification in a payload, or undefined when it is not one (shape checked, values left to the notifiers, which escape them). */
export function parseRelayed(payload: Uint8Array): RelayedNotification | undefined {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    return undefined;
  }
  if (!isObject(value) || typeof value.engineId !== 'string' || !isObject(value.notification)) return undefined;
  const n = value.notification;
  if (typeof n.rule !== 'string' || !['firing', 'repeat', 'resolved'].includes(n.kind as string) || !Array.isArray(n.alerts) || !isTimestamp(n.at)) return undefined;
  if (!n.alerts.every(isAlert)) return undefined;
  return value as unknown as RelayedNotification;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTimestamp(value: unknown): boolean {
  return isObject(value) && Number.isFinite(value.seconds) && Number.isFinite(value.nanos);
}

function isAlert(value: unknown): value is Alert {
  return (
    isObject(value) &&
    typeof value.id === 'string' &&
    typeof value.rule === 'string' &&
    typeof value.taskName === 'string' &&
    typeof value.metric === 'string' &&
    typeof value.flowText === 'string' &&
    Number.isFinite(value.value) &&
    Number.isFinite(value.threshold) &&
    (value.status === 'firing' || value.status === 'resolved') &&
    isTimestamp(value.since) &&
    isTimestamp(value.at) &&
    Array.isArray(value.evidence) &&
    Array.isArray(value.flowFields)
  );
}
