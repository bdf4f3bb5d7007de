/**
 * The alerts page: what is firing as of the range's end (`GET /api/v1/alerts/active`) and every
 * stored notice of the range, newest first (`GET /api/v1/alerts`), filtered by rule and kind, one
 * page at a time. Everything is in the URL (range, rule, kind, size, offset).
 */
import { api, type AlertKind, type AlertRow, type FlowKey, type KeyField } from '../api.js';
import { Panel, h } from '../dom.js';
import { formatCount } from '../format.js';
import { rangeParams, type Page, type PageContext } from '../page.js';
import { rangePicker, readRange, resolveRange, writeRange } from '../range.js';
import { withParams } from '../router.js';
import { carriedParams, hostLink, taskLink } from '../views.js';

const PAGE_SIZES = [25, 50, 100, 200];
const DEFAULT_PAGE_SIZE = 50;
const KINDS: readonly AlertKind[] = ['firing', 'repeat', 'resolved'];
/** More active alerts than this are not listed (the API's answer is cut there, and the page says so). */
export const ACTIVE_LIMIT = 1000;

/** The page's URL parameters → the API's. */
export function alertsQuery(params: URLSearchParams): { rule: string | undefined; kind: AlertKind | undefined; size: number; offset: number } {
  const sizeParam = Number(params.get('size') ?? DEFAULT_PAGE_SIZE);
  const offsetParam = Number(params.get('offset') ?? '0');
  const kind = params.get('kind');
  return {
    rule: params.get('rule')?.trim() || undefined,
    kind: (KINDS as readonly string[]).includes(kind ?? '') ? (kind as AlertKind) : undefined,
    size: PAGE_SIZES.includes(sizeParam) ? sizeParam : DEFAULT_PAGE_SIZE,
    offset: Number.isInteger(offsetParam) && offsetParam >= 0 ? offsetParam : 0,
  };
}

// metric values may be rates with fractions: print up to two decimals, keep the exact one in data-value
const valueFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function metricValue(value: number | undefined, field: string): HTMLElement {
  if (value === undefined) return h('span', { class: 'muted' }, '–');
  return h('span', { class: 'num', 'data-field': field, 'data-value': String(value), title: String(value) }, valueFormat.format(value));
}

function nsTime(ns: string | null | undefined, field: string): HTMLElement {
  if (ns === null || ns === undefined || !/^\d+$/.test(ns)) return h('span', { class: 'muted', 'data-field': field }, '–');
  const iso = new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
  return h('time', { 'data-field': field, 'data-value': ns, datetime: iso, title: `${ns} ns since the epoch` }, `${iso.replace('T', ' ').replace('Z', '')}`);
}

const KEY_ORDER: readonly KeyField[] = ['SrcIP', 'SrcPort', 'DstIP', 'DstPort', 'Protocol'];

/** The offending flow: its addresses link to their host pages; a task-wide alert has none. */
function flowCell(alert: AlertRow, current: URLSearchParams): HTMLElement {
  const key: FlowKey = alert.key ?? {};
  const fields = KEY_ORDER.filter((field) => key[field] !== undefined && key[field] !== null);
  const cell = h('span', { class: 'alert-flow', 'data-flow': alert.flow });
  if (alert.flow === '' || fields.length === 0) {
    cell.append(alert.flow === '' ? h('span', { class: 'muted' }, 'task-wide') : alert.flow);
    return cell;
  }
  fields.forEach((field, index) => {
    if (index > 0) cell.append(' ');
    const value = key[field]!;
    if (field === 'SrcIP' || field === 'DstIP') cell.append(h('span', { class: 'key-part', 'data-key': field }, `${field === 'SrcIP' ? 'src' : 'dst'} `, hostLink(String(value), current)));
    else cell.append(h('span', { class: 'key-part', 'data-key': field, 'data-value': value }, `${field} ${value}`));
  });
  return cell;
}

function condition(alert: AlertRow): HTMLElement {
  return h(
    'span',
    { class: 'condition', 'data-operator': alert.operator ?? '', 'data-threshold': alert.threshold === undefined ? '' : String(alert.threshold) },
    metricValue(alert.value, 'value'),
    ` ${alert.operator ?? '?'} `,
    metricValue(alert.threshold, 'threshold'),
  );
}

function taskCell(alert: AlertRow, current: URLSearchParams): HTMLElement {
  // only exact tasks have flows to explore; sketch tasks are named as text
  return alert.taskKind === 'exact' ? taskLink(alert.task, current) : h('span', { class: 'task', 'data-task': alert.task }, alert.task);
}

function td(label: string, field: string, ...children: (Node | string)[]): HTMLTableCellElement {
  return h('td', { 'data-label': label, 'data-field': field }, ...children);
}

function activeTable(alerts: AlertRow[], current: URLSearchParams): HTMLElement {
  const head = ['Rule', 'Task', 'Flow', 'Metric', 'Value vs threshold', 'Since (UTC)', 'Fired at (UTC)'].map((label) => h('th', { scope: 'col' }, label));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'alerts active' },
      h('thead', {}, h('tr', {}, ...head)),
      h(
        'tbody',
        {},
        ...alerts.map((alert) =>
          h(
            'tr',
            { 'data-id': alert.id, 'data-rule': alert.rule },
            td('Rule', 'rule', h('strong', {}, alert.rule)),
            td('Task', 'task', taskCell(alert, current)),
            td('Flow', 'flow', flowCell(alert, current)),
            td('Metric', 'metric', alert.metric),
            td('Value', 'condition', condition(alert)),
            td('Since', 'since', nsTime(alert.sinceNs, 'since')),
            td('Fired at', 'fired_at', nsTime(alert.firedAtNs, 'fired_at')),
          ),
        ),
      ),
    ),
  );
}

function historyTable(alerts: AlertRow[], current: URLSearchParams): HTMLElement {
  const head = ['Time (UTC)', 'Kind', 'Rule', 'Task', 'Flow', 'Metric', 'Value vs threshold'].map((label) => h('th', { scope: 'col' }, label));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'alerts history' },
      h('thead', {}, h('tr', {}, ...head)),
      h(
        'tbody',
        {},
        ...alerts.map((alert) =>
          h(
            'tr',
            { 'data-id': alert.id, 'data-kind': alert.kind, 'data-rule': alert.rule },
            td('Time', 'at', nsTime(alert.atNs, 'at')),
            td('Kind', 'kind', h('span', { class: `alert-kind ${alert.kind}` }, alert.kind)),
            td('Rule', 'rule', alert.rule),
            td('Task', 'task', taskCell(alert, current)),
            td('Flow', 'flow', flowCell(alert, current)),
            td('Metric', 'metric', alert.metric),
            td('Value', 'condition', condition(alert)),
          ),
        ),
      ),
    ),
  );
}

export function alertsPage(context: PageContext): Page {
  const { params } = context;
  const choice = readRange(params);
  const query = alertsQuery(params);

  const ruleInput = h('input', { name: 'rule', value: query.rule ?? '', autocomplete: 'off', spellcheck: 'false', placeholder: 'any rule', list: 'alert-rules' });
  const rules = h('datalist', { id: 'alert-rules' });
  const kindSelect = h(
    'select',
    { name: 'kind', 'aria-label': 'kind of notice' },
    h('option', { value: '' }, 'every kind'),
    ...KINDS.map((kind) => h('option', { value: kind, selected: kind === query.kind }, kind)),
  );
  const sizeSelect = h('select', { name: 'size', 'aria-label': 'rows per page' }, ...PAGE_SIZES.map((size) => h('option', { value: size, selected: size === query.size }, `${size} rows`)));
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const data = new FormData(form);
        context.update((p) => {
          for (const name of ['rule', 'kind', 'size']) {
            const entry = data.get(name);
            const value = typeof entry === 'string' ? entry.trim() : '';
            if (value === '' || (name === 'size' && value === String(DEFAULT_PAGE_SIZE))) p.delete(name);
            else p.set(name, value);
          }
          p.delete('offset');
        });
      },
    },
    h('label', {}, 'rule', ruleInput),
    rules,
    h('label', {}, 'kind', kindSelect),
    h('label', {}, 'page size', sizeSelect),
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', onclick: () => context.update((p) => ['rule', 'kind', 'offset'].forEach((name) => p.delete(name))) }, 'Clear'),
    ),
  );

  const active = new Panel('Active alerts', 'active-alerts', 'wide');
  const history = new Panel('Notices', 'alert-history', 'wide');
  const pager = h('nav', { class: 'pager', 'aria-label': 'pages' });
  const rangeLabel = h('p', { class: 'range-label' });
  const element = h(
    'div',
    { class: 'page alerts' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Alerts'), rangeLabel),
    h('div', { class: 'controls' }, rangePicker(choice, (next) => context.update((p) => writeRange(p, next)))),
    form,
    h('div', { class: 'grid' }, active.element, history.element),
  );
  history.element.append(pager);

  const goTo = (offset: number) => context.update((p) => (offset === 0 ? p.delete('offset') : p.set('offset', String(offset))));
  const knownRules = new Set<string>();
  const noteRules = (rows: AlertRow[]) => {
    for (const row of rows) knownRules.add(row.rule);
    rules.replaceChildren(...[...knownRules].sort().map((rule) => h('option', { value: rule })));
  };

  async function loadActive(endNs: string | undefined): Promise<void> {
    active.loading();
    try {
      const answer = await api.activeAlerts({ end: rangeParams({ endNs, label: '' }).end, rule: query.rule, limit: ACTIVE_LIMIT });
      noteRules(answer.alerts);
      const when = endNs === undefined ? 'as of the newest stored notice' : 'as of the end of the range';
      if (answer.alerts.length === 0) return active.empty(`No alert is firing ${when}${query.rule === undefined ? '' : ` for rule ${query.rule}`}.`);
      active.show(
        h('p', { class: 'hint', 'data-count': answer.alerts.length }, `${formatCount(answer.alerts.length)}${answer.alerts.length === ACTIVE_LIMIT ? '+' : ''} firing ${when}: each alert's newest notice was not a resolve.`),
        activeTable(answer.alerts, params),
      );
    } catch (error) {
      active.error(error);
    }
  }

  async function loadHistory(range: ReturnType<typeof resolveRange>): Promise<void> {
    history.loading();
    pager.replaceChildren();
    try {
      const answer = await api.alerts({ ...rangeParams(range), rule: query.rule, kind: query.kind, limit: query.size, offset: query.offset });
      noteRules(answer.alerts);
      const first = query.offset + 1;
      const last = query.offset + answer.alerts.length;
      if (answer.alerts.length === 0) {
        history.empty(query.offset > 0 ? 'No more notices: this page is past the last one.' : 'No alert notice matches these filters in this range.');
      } else {
        history.show(h('p', { class: 'hint', 'data-first': first, 'data-last': last }, `notices ${formatCount(first)}–${formatCount(last)}, newest first`), historyTable(answer.alerts, params));
      }
      const previous = query.offset > 0 ? Math.max(0, query.offset - query.size) : undefined;
      pager.append(
        h('button', { type: 'button', class: 'prev', disabled: previous === undefined, onclick: () => previous !== undefined && goTo(previous) }, '← newer'),
        h('span', { class: 'page-number' }, `page ${formatCount(Math.floor(query.offset / query.size) + 1)}`),
        h('button', { type: 'button', class: 'next', disabled: answer.nextOffset === null, onclick: () => answer.nextOffset !== null && goTo(answer.nextOffset) }, 'older →'),
      );
      history.element.append(pager);
    } catch (error) {
      history.error(error);
    }
  }

  async function refresh(): Promise<void> {
    const range = resolveRange(choice, Date.now());
    rangeLabel.textContent = `Range: ${range.label} (UTC)`;
    await Promise.all([loadActive(range.endNs), loadHistory(range)]);
  }

  return { element, refresh, dispose: () => undefined };
}

/** The alerts page's link with the current range. */
export function alertsPath(current: URLSearchParams): string {
  return withParams('/alerts', carriedParams(current));
}
