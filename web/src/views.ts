/**
 * Pieces the pages share: links to hosts, tasks and flows (every address, task and flow on a page
 * leads somewhere), and the flow table.
 */
import type { FlowKey, FlowRow, KeyField, Task } from './api.js';
import { h, num, time } from './dom.js';
import { protocolName } from './format.js';
import { hostPath, withParams } from './router.js';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;

export function looksLikeAddress(text: string): boolean {
  return IPV4.test(text) || (IPV6.test(text) && text.length >= 2);
}

/** The query parameters a link keeps from the current page: the range (and so the same view of time). */
export function carriedParams(current: URLSearchParams): URLSearchParams {
  const kept = new URLSearchParams();
  for (const name of ['range', 'from', 'to']) {
    const value = current.get(name);
    if (value !== null) kept.set(name, value);
  }
  return kept;
}

export function hostLink(address: string, current: URLSearchParams): HTMLAnchorElement {
  // IPv4 never breaks inside; long IPv6 addresses may (at any character) on narrow screens
  return h('a', { href: hostPath(address, carriedParams(current)), class: address.includes(':') ? 'host v6' : 'host', 'data-host': address }, address);
}

/** The flow explorer of a task, optionally filtered (filter names as in the explorer's URL). */
export function explorerPath(current: URLSearchParams, filters: Record<string, string | number | undefined>): string {
  const params = carriedParams(current);
  for (const [name, value] of Object.entries(filters)) if (value !== undefined && value !== '') params.set(name, String(value));
  return withParams('/flows', params);
}

export function taskLink(task: string, current: URLSearchParams): HTMLAnchorElement {
  return h('a', { href: explorerPath(current, { task }), class: 'task', 'data-task': task }, task);
}

/** Explorer filters that select exactly this flow (or group) of the task. */
export function keyFilters(task: string, key: FlowKey): Record<string, string | number | undefined> {
  return { task, src: key.SrcIP, dst: key.DstIP, sport: key.SrcPort, dport: key.DstPort, proto: key.Protocol };
}

/** A sketch's flow text (`10.0.0.1` or `10.0.0.1,192.0.2.7` for multi-field keys): addresses become host links. */
export function sketchFlow(flow: string, current: URLSearchParams): HTMLElement {
  const parts = flow.split(',');
  const cell = h('span', { class: 'sketch-flow', 'data-flow': flow });
  parts.forEach((part, index) => {
    if (index > 0) cell.append(', ');
    cell.append(looksLikeAddress(part) ? hostLink(part, current) : part);
  });
  return cell;
}

const FIELD_LABELS: Readonly<Record<KeyField, string>> = { SrcIP: 'Source', SrcPort: 'Src port', DstIP: 'Destination', DstPort: 'Dst port', Protocol: 'Protocol' };
const FIELD_ORDER: readonly KeyField[] = ['SrcIP', 'SrcPort', 'DstIP', 'DstPort', 'Protocol'];

function keyCell(field: KeyField, key: FlowKey, current: URLSearchParams): HTMLTableCellElement {
  const value = key[field];
  const label = FIELD_LABELS[field];
  if (value === undefined || value === null) return h('td', { 'data-label': label, 'data-field': field }, '–');
  if (field === 'SrcIP' || field === 'DstIP') return h('td', { 'data-label': label, 'data-field': field, class: 'address' }, hostLink(String(value), current));
  if (field === 'Protocol') return h('td', { 'data-label': label, 'data-field': field, 'data-value': value, title: `IP protocol ${value}` }, protocolName(Number(value)));
  return h('td', { 'data-label': label, 'data-field': field, 'data-value': value }, String(value));
}

export type SortColumn = 'bytes' | 'packets' | 'first_seen' | 'last_seen';

export interface FlowTableOptions {
  /** Key fields to show, in the order of FIELD_ORDER (the rows' groupBy). */
  fields: readonly KeyField[];
  current: URLSearchParams;
  /** Clickable headers that sort (flow explorer); omitted: plain headers. */
  sort?: { column: SortColumn; dir: 'asc' | 'desc'; onSort: (column: SortColumn) => void };
  /** Show first/last seen (explorer, host page); top lists leave them out to stay narrow. */
  times?: boolean;
  /** A share-of-total bar behind the bytes (top lists). */
  totalBytes?: number;
  /** Start numbering at (the page's offset). */
  offset?: number;
}

/** Flows as a table; on phones every row becomes a card (CSS, data-label). */
export function flowTable(rows: FlowRow[], options: FlowTableOptions): HTMLElement {
  const fields = FIELD_ORDER.filter((field) => options.fields.includes(field));
  const header = (label: string, column?: SortColumn): HTMLTableCellElement => {
    const sort = options.sort;
    if (column === undefined || sort === undefined) return h('th', { scope: 'col', class: column === undefined ? '' : 'numeric' }, label);
    const active = sort.column === column;
    const nextDir = active && sort.dir === 'desc' ? 'ascending' : 'descending';
    return h(
      'th',
      { scope: 'col', class: 'numeric', 'aria-sort': active ? (sort.dir === 'desc' ? 'descending' : 'ascending') : 'none' },
      h('button', { type: 'button', class: 'sort', 'data-sort': column, title: `sort by ${label.toLowerCase()}, ${nextDir}`, onclick: () => sort.onSort(column) }, label, active ? (sort.dir === 'desc' ? ' ▼' : ' ▲') : ''),
    );
  };
  const head = h(
    'tr',
    {},
    h('th', { scope: 'col', class: 'rank' }, '#'),
    ...fields.map((field) => h('th', { scope: 'col' }, FIELD_LABELS[field])),
    header('Bytes', 'bytes'),
    header('Packets', 'packets'),
    options.times === true ? header('First seen (UTC)', 'first_seen') : null,
    options.times === true ? header('Last seen (UTC)', 'last_seen') : null,
    h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'visually-hidden' }, 'links')),
  );
  const body = rows.map((row, index) => {
    const share = options.totalBytes !== undefined && options.totalBytes > 0 ? Math.min(100, (row.bytes / options.totalBytes) * 100) : undefined;
    return h(
      'tr',
      { 'data-row': index },
      h('td', { class: 'rank', 'data-label': '#' }, String((options.offset ?? 0) + index + 1)),
      ...fields.map((field) => keyCell(field, row.key, options.current)),
      h(
        'td',
        { class: 'numeric', 'data-label': 'Bytes', 'data-field': 'bytes', style: share === undefined ? undefined : `--pct:${share.toFixed(2)}%` },
        num(row.bytes, 'bytes'),
      ),
      h('td', { class: 'numeric', 'data-label': 'Packets', 'data-field': 'packets' }, num(row.packets)),
      options.times === true ? h('td', { class: 'time', 'data-label': 'First seen', 'data-field': 'first_seen' }, time(row.firstSeenNs, false)) : null,
      options.times === true ? h('td', { class: 'time', 'data-label': 'Last seen', 'data-field': 'last_seen' }, time(row.lastSeenNs, false)) : null,
      h('td', { class: 'actions', 'data-label': '' }, h('a', { href: explorerPath(options.current, keyFilters(row.task, row.key)), class: 'flow-link', title: 'this flow in the flow explorer' }, 'flows →')),
    );
  });
  return h('div', { class: options.totalBytes === undefined ? 'table-wrap' : 'table-wrap with-share' }, h('table', { class: 'flows' }, h('thead', {}, head), h('tbody', {}, ...body)));
}

/** The exact task the pages use by default: the one with the most key fields (the 5-tuple task). */
export function defaultExactTask(tasks: Task[], preferred?: string | null): Task | undefined {
  const exact = tasks.filter((task) => task.kind === 'exact');
  return exact.find((task) => task.name === preferred) ?? exact.slice().sort((a, b) => b.keyFields.length - a.keyFields.length || (a.name < b.name ? -1 : 1))[0];
}

export function taskSelect(tasks: Task[], selected: string | undefined, onChange: (task: string) => void): HTMLElement {
  const select = h(
    'select',
    { name: 'task', 'aria-label': 'task', onchange: (event: Event) => onChange((event.target as HTMLSelectElement).value) },
    ...tasks
      .filter((task) => task.kind === 'exact')
      .map((task) => h('option', { value: task.name, selected: task.name === selected }, `${task.name} (${task.keyFields.join(', ')})`)),
  );
  return h('label', { class: 'task-select' }, 'task ', select);
}

const BUCKET_CHOICES: readonly [number, string][] = [
  [1_000, '1s'],
  [10_000, '10s'],
  [60_000, '1m'],
  [300_000, '5m'],
  [900_000, '15m'],
  [3_600_000, '1h'],
  [21_600_000, '6h'],
  [86_400_000, '1d'],
];

/** The series bucket chosen in the URL (`bucket=<ms>`), undefined for automatic. */
export function readBucket(params: URLSearchParams): number | undefined {
  const ms = Number(params.get('bucket'));
  return BUCKET_CHOICES.some(([choice]) => choice === ms) ? ms : undefined;
}

export function bucketSelect(params: URLSearchParams, onChange: (ms: number | undefined) => void): HTMLElement {
  const chosen = readBucket(params);
  const select = h(
    'select',
    { name: 'bucket', 'aria-label': 'series bucket', onchange: (event: Event) => onChange(Number((event.target as HTMLSelectElement).value) || undefined) },
    h('option', { value: '', selected: chosen === undefined }, 'auto'),
    ...BUCKET_CHOICES.map(([ms, label]) => h('option', { value: ms, selected: ms === chosen }, label)),
  );
  return h('label', { class: 'bucket-select' }, 'bucket ', select);
}
