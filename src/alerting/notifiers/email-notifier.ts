/**
 * Email notifier (nodemailer over SMTP): one message per notification, with the original's subject
 * line, an HTML part (a table of the offending flows; every dynamic value escaped, the analysis
 * rendered from markdown by the escaping renderer) and a plain-text alternative.
 *
 * Transport security (`smtp.tls`): `implicit` speaks TLS from the first byte (port 465);
 * `starttls` requires the STARTTLS upgrade before anything else, login included; `auto` is
 * implicit on port 465 and otherwise upgrades whenever the server offers STARTTLS (what the
 * original's Go client did), except that with a login a server other than localhost must offer
 * it (Go's PlainAuth refused the same); `none` never encrypts. Certificates are always verified, against the
 * system's CAs plus `smtp.ca_file`.
 */
import { rootCertificates } from 'node:tls';
import { createTransport } from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { NetSpectraError, errorMessage } from '../../model/errors.js';
import type { AlertNotification, Notifier } from '../../model/alert.js';
import type { SmtpTls } from '../../config/schema.js';
import { emailHtml, emailText, notificationTitle } from '../notification-format.js';

export interface EmailNotifierOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  from: string;
  to: readonly string[];
  tls: SmtpTls;
  /** PEM text of extra CAs to trust (the content of `smtp.ca_file`). */
  caPem?: string;
  timeoutMs: number;
  /** Markdown → safe HTML for the analysis; undefined shows it escaped in a <pre>. */
  renderMarkdown?: (markdown: string) => string;
}

export class EmailNotifier implements Notifier {
  readonly name: string;
  readonly #options: EmailNotifierOptions;
  #transport: Transporter<SMTPTransport.SentMessageInfo> | undefined;

  constructor(options: EmailNotifierOptions) {
    this.#options = options;
    this.name = `email:${options.host}:${options.port}`;
  }

  async notify(notification: AlertNotification, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const transport = (this.#transport ??= this.#createTransport());
    const { from, to, renderMarkdown } = this.#options;
    try {
      const info = await transport.sendMail({
        from,
        to: [...to],
        subject: notificationTitle(notification),
        text: emailText(notification),
        html: emailHtml(notification, renderMarkdown),
      });
      if (info.rejected.length > 0 && info.accepted.length === 0) throw new Error(`every recipient was refused (${info.rejected.map(String).join(', ')})`);
    } catch (error) {
      if (error instanceof NetSpectraError) throw error;
      const message = errorMessage(error);
      throw new NetSpectraError('NS_ERR_NOTIFY_EMAIL', `${this.name}: ${message}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    this.#transport?.close();
    this.#transport = undefined;
  }

  #createTransport(): Transporter<SMTPTransport.SentMessageInfo> {
    const o = this.#options;
    const implicit = o.tls === 'implicit' || (o.tls === 'auto' && o.port === 465);
    const options: SMTPTransport.Options = {
      host: o.host,
      port: o.port,
      secure: implicit,
      // Like Go's smtp.PlainAuth in the original: a password never crosses an unencrypted
      // connection to another machine, so `auto` with a login requires the upgrade there.
      requireTLS: o.tls === 'starttls' || (o.tls === 'auto' && !implicit && o.username !== '' && !isLoopback(o.host)),
      ignoreTLS: o.tls === 'none',
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
      // `ca` replaces Node's default list, so the system's roots go with the extra CA.
      tls: { rejectUnauthorized: true, ...(o.caPem === undefined ? {} : { ca: [...rootCertificates, o.caPem] }) },
      ...(o.username === '' ? {} : { auth: { user: o.username, pass: o.password } }),
    };
    return createTransport(options);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host) || host === '::1' || host === '[::1]';
}
