/**
 * How a notification reads: its title, one line per alert, the webhook bodies (NetSpectra JSON and
 * Slack) and the email's plain-text and HTML parts. Every value that comes from traffic, rules or
 * a model is data: escaped for HTML, Slack's control characters neutralised, CR/LF kept out of
 * header lines.
 */
import type { Alert, AlertEvidenceFlow, AlertNotification, AlertNoticeKind } from '../model/alert.js';
import type { KeyObject, Timestamp } from '../model/snapshot.js';
import { formatTimestamp } from '../model/time.js';
import { escapeHtml, markdownToHtml } from './markdown-html.js';

/** Version of the webhook JSON body (docs/alerting.md); bumped only for incompatible changes. */
export const WEBHOOK_BODY_VERSION = 1;

/** Alerts listed in one message at most; the rest are counted ("… and 12 more"). */
export const MAX_ALERTS_PER_MESSAGE = 100;

const KIND_WORDS: Readonly<Record<AlertNoticeKind, string>> = { firing: 'Triggered', repeat: 'Still Active', resolved: 'Resolved' };

export function isoTime(time: Timestamp): string {
  return formatTimestamp(time, false);
}

/** One header-safe line: control characters (CR, LF, …) become spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/**
 * The original's subject, `Go2NetSpectra Alert Summary (N Triggered)`, kept so existing mail
 * filters still match, with the rule after it (one message per rule and kind).
 */
export function notificationTitle(notification: AlertNotification): string {
  return oneLine(`Go2NetSpectra Alert Summary (${notification.alerts.length} ${KIND_WORDS[notification.kind]}): ${notification.rule}`);
}

/** `SrcIP=10.0.0.1 DstPort=80`, or `whole task` for a task-wide alert. */
export function keyLabel(flow: KeyObject, fields: readonly string[]): string {
  const parts = fields.filter((f) => flow[f as keyof KeyObject] !== undefined).map((f) => `${f}=${String(flow[f as keyof KeyObject])}`);
  return parts.length === 0 ? 'whole task' : parts.join(' ');
}

export function formatValue(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** `per_src_ip total_bytes 2,000,000 > 1,000,000 (SrcIP=10.0.0.1)` */
export function alertLine(alert: Alert): string {
  const subject = alert.flowText === '' ? `task ${alert.taskName}` : `${keyLabel(alert.flow, alert.flowFields)} in ${alert.taskName}`;
  return oneLine(`${subject}: ${alert.metric} ${formatValue(alert.value)} ${alert.operator} ${formatValue(alert.threshold)}`);
}

function evidenceNumbers(flow: AlertEvidenceFlow): string {
  const numbers: string[] = [];
  if (flow.packets !== undefined) numbers.push(`${formatValue(flow.packets)} packets`);
  if (flow.bytes !== undefined) numbers.push(`${formatValue(flow.bytes)} bytes`);
  if (flow.spread !== undefined) numbers.push(`${formatValue(flow.spread)} distinct`);
  return numbers.join(', ');
}

function evidenceLine(flow: AlertEvidenceFlow, fields: readonly string[]): string {
  return oneLine(`${keyLabel(flow.flow, fields)}: ${evidenceNumbers(flow)}`);
}

// ---------------------------------------------------------------------------------------------
// Webhook, NetSpectra JSON (schema in docs/alerting.md)

export interface WebhookAlertJson {
  id: string;
  rule: string;
  taskName: string;
  taskKind: Alert['taskKind'];
  metric: Alert['metric'];
  operator: Alert['operator'];
  threshold: number;
  flowText: string;
  flow: KeyObject;
  flowFields: string[];
  elementFields: string[] | null;
  value: number;
  status: Alert['status'];
  since: string;
  firedAt: string | null;
  at: string;
  evidence: AlertEvidenceFlow[];
}

export interface WebhookBody {
  version: number;
  source: 'netspectra';
  kind: AlertNoticeKind;
  rule: string;
  at: string;
  title: string;
  alertCount: number;
  alerts: WebhookAlertJson[];
  analysis: { source: 'llm' | 'built-in'; model: string | null; markdown: string } | null;
}

export function alertJson(alert: Alert): WebhookAlertJson {
  return {
    id: alert.id,
    rule: alert.rule,
    taskName: alert.taskName,
    taskKind: alert.taskKind,
    metric: alert.metric,
    operator: alert.operator,
    threshold: alert.threshold,
    flowText: alert.flowText,
    flow: alert.flow,
    flowFields: alert.flowFields,
    elementFields: alert.elementFields ?? null,
    value: alert.value,
    status: alert.status,
    since: isoTime(alert.since),
    firedAt: alert.firedAt === undefined ? null : isoTime(alert.firedAt),
    at: isoTime(alert.at),
    evidence: alert.evidence,
  };
}

export function webhookBody(notification: AlertNotification): WebhookBody {
  const { analysis } = notification;
  return {
    version: WEBHOOK_BODY_VERSION,
    source: 'netspectra',
    kind: notification.kind,
    rule: notification.rule,
    at: isoTime(notification.at),
    title: notificationTitle(notification),
    alertCount: notification.alerts.length,
    alerts: notification.alerts.slice(0, MAX_ALERTS_PER_MESSAGE).map(alertJson),
    analysis: analysis === undefined ? null : { source: analysis.source, model: analysis.model ?? null, markdown: analysis.markdown },
  };
}

// ---------------------------------------------------------------------------------------------
// Webhook, Slack incoming-webhook message

/** Slack's three control characters; everything else is shown as typed. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack refuses a `text` over 40 000 characters; stay well below. */
const SLACK_MAX_CHARS = 3500;

export function slackBody(notification: AlertNotification): { text: string } {
  const icon = notification.kind === 'resolved' ? ':white_check_mark:' : ':rotating_light:';
  const lines = [`${icon} *${slackEscape(notificationTitle(notification))}*`];
  const shown = notification.alerts.slice(0, 20);
  for (const alert of shown) lines.push(`• ${slackEscape(alertLine(alert))}`);
  if (notification.alerts.length > shown.length) lines.push(`… and ${notification.alerts.length - shown.length} more`);
  if (notification.analysis !== undefined) {
    const label = notification.analysis.source === 'llm' ? 'Analysis' : 'Built-in analysis';
    lines.push('', `*${label}:*`, slackEscape(notification.analysis.markdown));
  }
  let text = lines.join('\n');
  if (text.length > SLACK_MAX_CHARS) text = `${text.slice(0, SLACK_MAX_CHARS)}\n… (truncated)`;
  return { text };
}

// ---------------------------------------------------------------------------------------------
// Email

export function emailText(notification: AlertNotification): string {
  const out: string[] = [notificationTitle(notification), ''];
  out.push(`Rule: ${oneLine(notification.rule)}`, `Evaluated at: ${isoTime(notification.at)}`, '');
  const shown = notification.alerts.slice(0, MAX_ALERTS_PER_MESSAGE);
  for (const alert of shown) {
    out.push(`- ${alertLine(alert)}`);
    out.push(`  since ${isoTime(alert.since)}${alert.status === 'resolved' ? `, resolved at ${isoTime(alert.at)}` : ''}`);
    if (alert.flowText === '') for (const flow of alert.evidence.slice(0, 10)) out.push(`    ${evidenceLine(flow, alert.flowFields)}`);
  }
  if (notification.alerts.length > shown.length) out.push(`… and ${notification.alerts.length - shown.length} more`);
  if (notification.analysis !== undefined) {
    out.push('', notification.analysis.source === 'llm' ? `Analysis (${notification.analysis.model ?? 'LLM'}):` : 'Built-in analysis:', '', notification.analysis.markdown);
  }
  return out.join('\n') + '\n';
}

const cell = (text: string, numeric = false): string => `<td style="padding:4px 8px;border:1px solid #ccc${numeric ? ';text-align:right' : ''}">${escapeHtml(text)}</td>`;
const headerCell = (text: string): string => `<th style="padding:4px 8px;border:1px solid #ccc;background:#f0f0f0;text-align:left">${escapeHtml(text)}</th>`;

/** The offending flows: one row per alert, and for a task-wide alert its largest flows. */
function offendingRows(alerts: readonly Alert[]): string[] {
  const rows: string[] = [];
  for (const alert of alerts) {
    const status = alert.status === 'resolved' ? `resolved ${isoTime(alert.at)}` : `since ${isoTime(alert.since)}`;
    rows.push(
      `<tr>${cell(alert.flowText === '' ? `whole task ${alert.taskName}` : keyLabel(alert.flow, alert.flowFields))}${cell(alert.metric)}${cell(formatValue(alert.value), true)}${cell(`${alert.operator} ${formatValue(alert.threshold)}`)}${cell(status)}</tr>`,
    );
    if (alert.flowText !== '') continue;
    for (const flow of alert.evidence.slice(0, 10)) {
      rows.push(`<tr>${cell(`↳ ${keyLabel(flow.flow, alert.flowFields)}`)}${cell('flow')}${cell(evidenceNumbers(flow), true)}${cell('')}${cell('')}</tr>`);
    }
  }
  return rows;
}

/**
 * The HTML part. `renderMarkdown` turns the analysis into HTML that is already safe (the shared
 * renderer escapes everything); without it the analysis is shown escaped in a <pre>.
 */
export function emailHtml(notification: AlertNotification, renderMarkdown: ((markdown: string) => string) | undefined = markdownToHtml): string {
  const shown = notification.alerts.slice(0, MAX_ALERTS_PER_MESSAGE);
  const parts = [
    '<!doctype html><html><head><meta charset="utf-8"></head><body style="font-family:sans-serif">',
    `<h1 style="font-size:18px">${escapeHtml(notificationTitle(notification))}</h1>`,
    `<p>Rule <b>${escapeHtml(notification.rule)}</b> on task <b>${escapeHtml(shown[0]?.taskName ?? '')}</b>, evaluated at ${escapeHtml(isoTime(notification.at))}.</p>`,
    '<table style="border-collapse:collapse">',
    `<tr>${headerCell('flow')}${headerCell('metric')}${headerCell('value')}${headerCell('threshold')}${headerCell('status')}</tr>`,
    ...offendingRows(shown),
    '</table>',
  ];
  if (notification.alerts.length > shown.length) parts.push(`<p>… and ${notification.alerts.length - shown.length} more.</p>`);
  const { analysis } = notification;
  if (analysis !== undefined) {
    const heading = analysis.source === 'llm' ? `AI-Powered Analysis${analysis.model === undefined ? '' : ` (${analysis.model})`}` : 'Built-in Analysis';
    parts.push('<hr>', `<h2 style="font-size:16px">${escapeHtml(heading)}</h2>`);
    parts.push(renderMarkdown === undefined ? `<pre>${escapeHtml(analysis.markdown)}</pre>` : renderMarkdown(analysis.markdown));
  }
  parts.push('</body></html>');
  return parts.join('\n');
}
