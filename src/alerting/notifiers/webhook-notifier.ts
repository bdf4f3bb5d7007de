/**
 * Webhook notifier: POSTs each notification as JSON (NetSpectra's documented body, or a Slack
 * incoming-webhook message) and signs it so the receiver can tell it came from us, unchanged and
 * recently:
 *
 *   X-NetSpectra-Timestamp: <unix seconds when this attempt was signed>
 *   X-NetSpectra-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<exact body bytes>")>
 *   X-NetSpectra-Delivery:  <uuid, the same for every attempt of one notification>
 *
 * The timestamp is inside the signed text, so a captured request cannot be replayed later with a
 * fresh timestamp; receivers reject timestamps more than a few minutes off (docs/alerting.md).
 *
 * Each attempt has its own timeout. Network errors, timeouts, 5xx, 408 and 429 answers are retried
 * with exponential backoff (base, 2×, 4×, … capped); other 4xx answers and redirects are final:
 * sending the same request again cannot help, and following a redirect could hand the body to
 * another host. Messages name the webhook by origin only: a URL path may itself be a secret
 * (Slack's are).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { NetSpectraError, errorMessage } from '../../model/errors.js';
import type { AlertNotification, Notifier } from '../../model/alert.js';
import type { WebhookFormat } from '../../config/schema.js';
import { slackBody, webhookBody } from '../notification-format.js';

export const SIGNATURE_HEADER = 'x-netspectra-signature';
export const TIMESTAMP_HEADER = 'x-netspectra-timestamp';
export const DELIVERY_HEADER = 'x-netspectra-delivery';

export interface WebhookNotifierOptions {
  url: string;
  /** Empty: requests are not signed. */
  secret: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  format: WebhookFormat;
  /** First backoff; doubled after every failed attempt. @default 500 */
  backoffMs?: number;
  /** @default 30000 */
  maxBackoffMs?: number;
  /** Unix time in ms, for the timestamp header (tests inject their own). @default Date.now */
  now?: () => number;
}

/** `sha256=<hex>` over `<timestamp>.<body>`: what a receiver recomputes and compares. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

const RETRIED_4XX = new Set([408, 429]);
/** Bytes of an answer read at most (only to let the connection be reused; the content is ignored). */
const MAX_ANSWER_BYTES = 64 * 1024;

export class WebhookNotifier implements Notifier {
  readonly name: string;
  readonly #options: WebhookNotifierOptions;

  constructor(options: WebhookNotifierOptions) {
    this.#options = options;
    this.name = `webhook:${new URL(options.url).origin}`;
  }

  async notify(notification: AlertNotification, signal: AbortSignal): Promise<void> {
    const { secret, retries, timeoutMs } = this.#options;
    const body = JSON.stringify(this.#options.format === 'slack' ? slackBody(notification) : webhookBody(notification));
    const delivery = randomUUID();
    let lastProblem = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(Math.min(this.#options.maxBackoffMs ?? 30_000, (this.#options.backoffMs ?? 500) * 2 ** (attempt - 1)), signal);
      signal.throwIfAborted();
      const timestamp = String(Math.floor((this.#options.now ?? Date.now)() / 1000));
      const headers: Record<string, string> = {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'netspectra-alerter',
        [DELIVERY_HEADER]: delivery,
        [TIMESTAMP_HEADER]: timestamp,
      };
      if (secret !== '') headers[SIGNATURE_HEADER] = webhookSignature(secret, timestamp, body);
      let status: number;
      try {
        const answer = await fetch(this.#options.url, {
          method: 'POST',
          body,
          headers,
          redirect: 'manual',
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
        status = answer.status;
        await drain(answer);
      } catch (error) {
        signal.throwIfAborted();
        lastProblem = describeNetworkError(error, timeoutMs);
        continue;
      }
      if (status >= 200 && status < 300) return;
      lastProblem = `answered HTTP ${status}`;
      if (status < 500 && !RETRIED_4XX.has(status)) {
        throw new NetSpectraError('NS_ERR_NOTIFY_WEBHOOK', `${this.name} ${lastProblem}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}; not retried`);
      }
    }
    throw new NetSpectraError('NS_ERR_NOTIFY_WEBHOOK', `${this.name} ${lastProblem} on all ${retries + 1} attempt(s)`);
  }
}

async function drain(answer: Response): Promise<void> {
  if (answer.body === null) return;
  let read = 0;
  try {
    for await (const chunk of answer.body as AsyncIterable<Uint8Array>) {
      read += chunk.byteLength;
      if (read > MAX_ANSWER_BYTES) break;
    }
  } catch {
    // the status is what counts
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `did not answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : errorMessage(error);
  return `could not be reached (${code ?? message})`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
