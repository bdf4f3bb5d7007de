/**
 * The flow explorer: one exact task's flows (or groups of them) over a range, filtered by address,
 * port and protocol, sorted by any counter or time, one page at a time. Everything is in the URL
 * (task, src, dst, sport, dport, proto, group, order, dir, size, offset), so a view can be shared.
 */
import { api, type FlowOrder, type KeyField, type Params } from '../api.js';
import { Panel, h } from '../dom.js';
import { KNOWN_PROTOCOLS, formatCount } from '../format.js';
import { rangeParams, type Page, type PageContext } from '../page.js';
import { rangePicker, readRange, resolveRange, writeRange } from '../range.js';
import { defaultExactTask, flowTable, taskSelect, type SortColumn } from '../views.js';

const PAGE_SIZES = [25, 50, 100, 200];
const DEFAULT_PAGE_SIZE = 50;
const ORDERS: readonly FlowOrder[] = ['bytes', 'packets', 'first_seen', 'last_seen'];
const FILTER_NAMES = ['src', 'dst', 'sport', 'dport', 'proto'] as const;
const KEY_FIELDS: readonly KeyField[] = ['SrcIP', 'SrcPort', 'DstIP', 'DstPort', 'Protocol'];

/** The explorer's URL parameters → the API's. */
export function explorerQuery(params: URLSearchParams): { order: FlowOrder; dir: 'asc' | 'desc'; size: number; offset: number; group: KeyField[]; filters: Params } {
  const order = (ORDERS as readonly string[]).includes(params.get('order') ?? '') ? (params.get('order') as FlowOrder) : 'bytes';
  const dir = params.get('dir') === 'asc' ? 'asc' : 'desc';
  const sizeParam = Number(params.get('size') ?? DEFAULT_PAGE_SIZE);
  const size = PAGE_SIZES.includes(sizeParam) ? sizeParam : DEFAULT_PAGE_SIZE;
  const offsetParam = Number(params.get('offset') ?? '0');
  const offset = Number.isInteger(offsetParam) && offsetParam >= 0 ? offsetParam : 0;
  const group = (params.get('group') ?? '')
    .split(',')
    .filter((field): field is KeyField => (KEY_FIELDS as readonly string[]).includes(field));
  const text = (name: string) => params.get(name)?.trim() || undefined;
  return {
    order,
    dir,
    size,
    offset,
    group,
    filters: { src_ip: text('src'), dst_ip: text('dst'), src_port: text('sport'), dst_port: text('dport'), protocol: text('proto') },
  };
}

export function flowsPage(context: PageContext): Page {
  const { params, tasks } = context;
  const choice = readRange(params);
  const task = defaultExactTask(tasks, params.get('task'));
  const query = explorerQuery(params);

  const input = (name: (typeof FILTER_NAMES)[number], label: string, attributes: Record<string, string>) =>
    h('label', {}, label, h('input', { name, value: params.get(name) ?? '', autocomplete: 'off', spellcheck: 'false', ...attributes }));
  const protocolList = h('datalist', { id: 'protocols' }, ...KNOWN_PROTOCOLS.map(([number, name]) => h('option', { value: number }, name)));
  const groupSelect = h(
    'select',
    { name: 'group', 'aria-label': 'group by' },
    h('option', { value: '' }, 'each flow'),
    // grouping a one-field key changes nothing
    ...(task !== undefined && task.keyFields.length > 1 ? task.keyFields : []).map((field) => h('option', { value: field, selected: query.group.length === 1 && query.group[0] === field }, field)),
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
          for (const name of [...FILTER_NAMES, 'group', 'size']) {
            const entry = data.get(name);
            const value = typeof entry === 'string' ? entry.trim() : '';
            if (value === '') p.delete(name);
            else p.set(name, value);
          }
          p.delete('offset');
        });
      },
    },
    input('src', 'source IP', { placeholder: '10.0.0.1', inputmode: 'text' }),
    input('dst', 'destination IP', { placeholder: '2001:db8::1', inputmode: 'text' }),
    input('sport', 'source port', { placeholder: '0–65535', inputmode: 'numeric' }),
    input('dport', 'destination port', { placeholder: '443', inputmode: 'numeric' }),
    input('proto', 'protocol', { placeholder: '6 = TCP', inputmode: 'numeric', list: 'protocols' }),
    protocolList,
    h('label', {}, 'group by', groupSelect),
    h('label', {}, 'page size', sizeSelect),
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h(
        'button',
        {
          type: 'button',
          onclick: () =>
            context.update((p) => {
              for (const name of [...FILTER_NAMES, 'group', 'offset']) p.delete(name);
            }),
        },
        'Clear',
      ),
    ),
  );

  const results = new Panel('Flows', 'flow-results', 'wide');
  const pager = h('nav', { class: 'pager', 'aria-label': 'pages' });
  const element = h(
    'div',
    { class: 'page flows' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Flow explorer'), h('p', { class: 'range-label' })),
    h(
      'div',
      { class: 'controls' },
      rangePicker(choice, (next) => context.update((p) => writeRange(p, next))),
      tasks.some((t) => t.kind === 'exact') ? taskSelect(tasks, task?.name, (name) => context.update((p) => {
        p.set('task', name);
        p.delete('offset');
        p.delete('group');
      })) : null,
    ),
    form,
    results.element,
    pager,
  );

  const sortBy = (column: SortColumn) =>
    context.update((p) => {
      const sameColumn = query.order === column;
      p.set('order', column);
      // a new column starts with the largest/newest first; the same column flips
      p.set('dir', sameColumn && query.dir === 'desc' ? 'asc' : 'desc');
      p.delete('offset');
    });
  const goTo = (offset: number) => context.update((p) => (offset === 0 ? p.delete('offset') : p.set('offset', String(offset))));

  async function refresh(): Promise<void> {
    const range = resolveRange(choice, Date.now());
    element.querySelector('.range-label')!.textContent = `Range: ${range.label} (UTC)`;
    pager.replaceChildren();
    if (task === undefined) return results.empty('No exact task is stored yet: analyse a capture or start an engine, then reload.');
    results.loading();
    try {
      const answer = await api.flows({
        task: task.name,
        ...query.filters,
        ...rangeParams(range),
        group_by: query.group.length > 0 ? query.group.join(',') : undefined,
        order: query.order,
        dir: query.dir,
        limit: query.size,
        offset: query.offset,
      });
      const fields = query.group.length > 0 ? query.group : task.keyFields;
      const first = answer.offset + 1;
      const last = answer.offset + answer.flows.length;
      if (answer.flows.length === 0) {
        results.empty(answer.offset > 0 ? 'No more flows: this page is past the last one.' : 'No flows match these filters in this range.');
      } else {
        results.show(
          h('p', { class: 'hint', 'data-first': first, 'data-last': last }, `${task.name}: rows ${formatCount(first)}–${formatCount(last)}, ordered by ${answer.order.replace('_', ' ')} (${answer.dir === 'desc' ? 'largest/newest first' : 'smallest/oldest first'})`),
          flowTable(answer.flows, { fields, current: params, times: true, offset: answer.offset, sort: { column: answer.order, dir: answer.dir, onSort: sortBy } }),
        );
      }
      const previous = answer.offset > 0 ? Math.max(0, answer.offset - query.size) : undefined;
      pager.append(
        h('button', { type: 'button', class: 'prev', disabled: previous === undefined, onclick: () => previous !== undefined && goTo(previous) }, '← previous'),
        h('span', { class: 'page-number' }, `page ${formatCount(Math.floor(answer.offset / query.size) + 1)}`),
        h('button', { type: 'button', class: 'next', disabled: answer.nextOffset === null, onclick: () => answer.nextOffset !== null && goTo(answer.nextOffset) }, 'next →'),
      );
    } catch (error) {
      results.error(error);
    }
  }

  return { element, refresh, dispose: () => undefined };
}
