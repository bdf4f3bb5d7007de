/**
 * The notifiers a configuration asks for: email when `smtp.host` is set (the original's switch),
 * every enabled `alerter.notifiers.webhook`, and the log notifier when enabled.
 */
import { readFileSync } from 'node:fs';
import { NetSpectraError } from '../../model/errors.js';
import type { Notifier } from '../../model/alert.js';
import type { NetSpectraConfig } from '../../config/schema.js';
import { markdownToHtml } from '../markdown-html.js';
import { EmailNotifier } from './email-notifier.js';
import { LogNotifier } from './log-notifier.js';
import { WebhookNotifier } from './webhook-notifier.js';

export { EmailNotifier } from './email-notifier.js';
export { LogNotifier } from './log-notifier.js';
export { WebhookNotifier, webhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER } from './webhook-notifier.js';

export interface NotifierStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function notifiersFromConfig(config: NetSpectraConfig, streams: NotifierStreams): Notifier[] {
  const notifiers: Notifier[] = [];
  const { smtp } = config;
  if (smtp.host !== '') {
    let caPem: string | undefined;
    if (smtp.caFile !== '') {
      try {
        caPem = readFileSync(smtp.caFile, 'utf8');
      } catch (cause) {
        throw new NetSpectraError('NS_ERR_CONFIG_READ', `cannot read smtp.ca_file ${smtp.caFile}: ${(cause as Error).message}`, { cause, location: { key: 'smtp.ca_file', file: smtp.caFile } });
      }
    }
    notifiers.push(
      new EmailNotifier({
        host: smtp.host,
        port: smtp.port,
        username: smtp.username,
        password: smtp.password,
        from: smtp.from,
        to: smtp.to,
        tls: smtp.tls,
        timeoutMs: smtp.timeoutMs,
        renderMarkdown: markdownToHtml,
        ...(caPem === undefined ? {} : { caPem }),
      }),
    );
  }
  for (const hook of config.alerter.notifiers.webhooks) {
    if (!hook.enabled) continue;
    notifiers.push(new WebhookNotifier({ url: hook.url, secret: hook.secret, timeoutMs: hook.timeoutMs, retries: hook.retries, format: hook.format }));
  }
  const log = config.alerter.notifiers.log;
  if (log.enabled) notifiers.push(new LogNotifier({ stream: log.stream === 'stdout' ? streams.stdout : streams.stderr, streamName: log.stream }));
  return notifiers;
}
