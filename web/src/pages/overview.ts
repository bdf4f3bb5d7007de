/**
 * Overview of a time range: totals, packets/s and bits/s over time, top talkers, top flows,
 * protocol mix, heavy hitters and super-spreaders. Every panel loads on its own, so a slow or
 * failing query shows in its panel and the rest of the page still answers.
 */
import type { Chart } from 'chart.js';
import { api, type SketchAnswer, type Task } from '../api.js';
import { mixChart, rateChart } from '../charts.js';
import { Panel, h, num, time } from '../dom.js';
import { formatCount, formatDuration, protocolName } from '../format.js';
import { rangeParams, ratePoints, seriesParams, seriesWindow, storeTimes, type Page, type PageContext } from '../page.js';
import { withParams } from '../router.js';
import { ACTIVE_LIMIT, alertsPath } from './alerts.js';
import { rangePicker, readRange, resolveRange, writeRange, type ResolvedRange } from '../range.js';
import { bucketSelect, defaultExactTask, explorerPath, flowTable, readBucket, sketchFlow, taskLink, taskSelect } from '../views.js';

const REFRESH_CHOICES_S = [5, 10, 30, 60, 300];
const TOP_LIMIT = 10;
const MIX_LIMIT = 20;

export function overviewPage(context: PageContext): Page {
  const { params, tasks } = context;
  const choice = readRange(params);
  const task = defaultExactTask(tasks, params.get('task'));
  const refreshSeconds = Number(params.get('refresh') ?? '0');
  const autoRefresh = REFRESH_CHOICES_S.includes(refreshSeconds);
  let trafficChart: Chart | undefined;
  let protocolChart: Chart | undefined;

  const updated = h('span', { class: 'updated', 'aria-live': 'polite' });
  const refreshToggle = h('input', {
    type: 'checkbox',
    name: 'auto-refresh',
    checked: autoRefresh,
    onchange: (event: Event) => context.update((p) => ((event.target as HTMLInputElement).checked ? p.set('refresh', String(autoRefresh ? refreshSeconds : 10)) : p.delete('refresh')), true),
  });
  const refreshInterval = h(
    'select',
    { name: 'refresh-interval', 'aria-label': 'refresh interval', onchange: (event: Event) => context.update((p) => p.set('refresh', (event.target as HTMLSelectElement).value), true) },
    ...REFRESH_CHOICES_S.map((seconds) => h('option', { value: seconds, selected: seconds === (autoRefresh ? refreshSeconds : 10) }, formatDuration(seconds * 1000))),
  );
  const controls = h(
    'div',
    { class: 'controls' },
    rangePicker(choice, (next) => context.update((p) => writeRange(p, next))),
    tasks.some((t) => t.kind === 'exact') ? taskSelect(tasks, task?.name, (name) => context.update((p) => p.set('task', name))) : null,
    bucketSelect(params, (ms) => context.update((p) => (ms === undefined ? p.delete('bucket') : p.set('bucket', String(ms))))),
    h('div', { class: 'refresh' }, h('label', {}, refreshToggle, ' auto-refresh every '), refreshInterval, ' ', updated),
  );

  const totals = new Panel('Totals', 'totals', 'wide');
  const traffic = new Panel('Traffic over time', 'traffic', 'wide');
  const talkers = new Panel('Top talkers (sources)', 'top-talkers');
  const topFlows = new Panel('Top flows', 'top-flows', 'wide');
  const mix = new Panel('Protocol mix', 'protocol-mix');
  const heavyHitters = new Panel('Heavy hitters', 'heavy-hitters');
  const superSpreaders = new Panel('Super-spreaders', 'super-spreaders');
  const title = h('h1', {}, 'Overview');
  const rangeLabel = h('p', { class: 'range-label' });
  const alertBadge = h('a', { href: alertsPath(params), class: 'alert-badge', id: 'alert-badge', 'data-state': 'loading' }, 'alerts…');

  const element = h(
    'div',
    { class: 'page overview' },
    h('div', { class: 'page-head' }, title, rangeLabel, alertBadge),
    controls,
    h('div', { class: 'grid' }, totals.element, traffic.element, talkers.element, mix.element, topFlows.element, heavyHitters.element, superSpreaders.element),
  );

  const noTasks = tasks.length === 0;
  let loading = false;

  async function refresh(): Promise<void> {
    if (loading) return;
    loading = true;
    try {
      const range = resolveRange(choice, Date.now());
      rangeLabel.textContent = `Range: ${range.label} (UTC)`;
      const badgeLoaded = loadAlertBadge(range);
      if (noTasks) {
        await badgeLoaded;
        for (const panel of [totals, traffic, talkers, topFlows, mix, heavyHitters, superSpreaders]) panel.empty('The store holds no tasks yet: analyse a capture or start an engine, then reload.');
        return;
      }
      await Promise.all([
        badgeLoaded,
        loadTotals(range),
        loadTraffic(range),
        loadTalkers(range),
        loadTopFlows(range),
        loadMix(range),
        loadSketches(range, heavyHitters, 'heavy_hitter'),
        loadSketches(range, superSpreaders, 'super_spreader'),
      ]);
      updated.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } finally {
      loading = false;
    }
  }

  /** The number of alerts firing as of the range's end, linking to the alerts page. */
  async function loadAlertBadge(range: ResolvedRange): Promise<void> {
    try {
      const count = (await api.activeAlerts({ end: rangeParams(range).end, limit: ACTIVE_LIMIT })).alerts.length;
      const text = count === 0 ? 'no active alerts' : `${formatCount(count)}${count === ACTIVE_LIMIT ? '+' : ''} active alert${count === 1 ? '' : 's'}`;
      alertBadge.dataset.state = count === 0 ? 'none' : 'firing';
      alertBadge.dataset.value = String(count);
      alertBadge.title = 'alerts firing as of the end of the range';
      alertBadge.textContent = text;
    } catch (error) {
      alertBadge.dataset.state = 'error';
      delete alertBadge.dataset.value;
      alertBadge.title = error instanceof Error ? error.message : String(error);
      alertBadge.textContent = 'alerts: ?';
    }
  }

  async function guarded(panel: Panel, load: () => Promise<void>): Promise<void> {
    panel.loading();
    try {
      await load();
    } catch (error) {
      panel.error(error);
    }
  }

  const loadTotals = (range: ResolvedRange) =>
    guarded(totals, async () => {
      const answer = await api.aggregate(rangeParams(range));
      if (answer.totals.length === 0) {
        const all = new URLSearchParams(params);
        writeRange(all, { kind: 'preset', preset: 'all' });
        return totals.empty('No exact task has traffic in this range. ', range.startNs === undefined ? null : h('a', { href: withParams('/', all), class: 'show-all' }, 'Show all stored traffic'));
      }
      const selected = answer.totals.find((t) => t.task === task?.name) ?? answer.totals[0]!;
      const card = (label: string, value: HTMLElement, field: string) => h('div', { class: 'card', 'data-field': field }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
      totals.show(
        h(
          'div',
          { class: 'cards', 'data-task': selected.task },
          card('Bytes', num(selected.bytes, 'bytes'), 'bytes'),
          card('Packets', num(selected.packets), 'packets'),
          card('Flows', num(selected.flows), 'flows'),
        ),
        h('p', { class: 'hint' }, 'Totals of ', taskLink(selected.task, params), '; every exact task:'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'totals' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Task'), h('th', { scope: 'col', class: 'numeric' }, 'Bytes'), h('th', { scope: 'col', class: 'numeric' }, 'Packets'), h('th', { scope: 'col', class: 'numeric' }, 'Flows'))),
            h(
              'tbody',
              {},
              ...answer.totals.map((row) =>
                h(
                  'tr',
                  { 'data-task': row.task },
                  h('td', { 'data-label': 'Task' }, taskLink(row.task, params)),
                  h('td', { class: 'numeric', 'data-label': 'Bytes', 'data-field': 'bytes' }, num(row.bytes, 'bytes')),
                  h('td', { class: 'numeric', 'data-label': 'Packets', 'data-field': 'packets' }, num(row.packets)),
                  h('td', { class: 'numeric', 'data-label': 'Flows', 'data-field': 'flows' }, num(row.flows)),
                ),
              ),
            ),
          ),
        ),
      );
    });

  const loadTraffic = (range: ResolvedRange) =>
    guarded(traffic, async () => {
      if (task === undefined) return traffic.empty('No exact task is stored.');
      const times = await storeTimes(tasks, task.name, range, Date.now());
      const window = await seriesWindow(range, task.name, {}, times, readBucket(params));
      if (window === undefined) return traffic.empty('No traffic in this range.');
      const answer = await api.series({ task: task.name, ...seriesParams(window) });
      const points = ratePoints(answer, task.name);
      if (!answer.points.some((p) => p.task === task.name && p.packets > 0)) return traffic.empty('No traffic in this range.');
      const canvas = h('canvas', { role: 'img', 'aria-label': `packets per second and bits per second of ${task.name}` });
      const rows = answer.points
        .filter((p) => p.task === task.name)
        .map((point, index) =>
          h(
            'tr',
            { 'data-bucket': point.startNs },
            h('td', { 'data-label': 'Bucket end' }, time((BigInt(point.startNs) + BigInt(answer.bucketNs)).toString())),
            h('td', { class: 'numeric', 'data-label': 'Packets/s', 'data-field': 'packets_per_second' }, num(points[index]!.packetsPerSecond, 'packetRate')),
            h('td', { class: 'numeric', 'data-label': 'Bits/s', 'data-field': 'bits_per_second' }, num(points[index]!.bitsPerSecond, 'bitRate')),
            h('td', { class: 'numeric', 'data-label': 'Packets', 'data-field': 'packets' }, num(point.packets)),
            h('td', { class: 'numeric', 'data-label': 'Bytes', 'data-field': 'bytes' }, num(point.bytes, 'bytes')),
            h('td', { class: 'numeric', 'data-label': 'Flows', 'data-field': 'flows' }, num(point.flows)),
          ),
        );
      traffic.show(
        h('div', { class: 'chart', 'data-task': task.name, 'data-start-ns': window.startNs, 'data-end-ns': window.endNs, 'data-bucket-ms': window.bucketMs }, canvas),
        h('p', { class: 'hint' }, `${task.name}: rates per ${formatDuration(window.bucketMs)} bucket; a bucket holds what the snapshots taken in it recorded.`),
        h(
          'details',
          { class: 'series-table' },
          h('summary', {}, `the ${rows.length} buckets as numbers`),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              {},
              h('thead', {}, h('tr', {}, ...['Bucket end', 'Packets/s', 'Bits/s', 'Packets', 'Bytes', 'Flows'].map((label, i) => h('th', { scope: 'col', class: i === 0 ? '' : 'numeric' }, label)))),
              h('tbody', {}, ...rows),
            ),
          ),
        ),
      );
      trafficChart?.destroy();
      trafficChart = rateChart(canvas, [{ label: task.name, points }]);
    });

  const loadTalkers = (range: ResolvedRange) =>
    guarded(talkers, async () => {
      if (task === undefined || !task.keyFields.includes('SrcIP')) return talkers.empty(task === undefined ? 'No exact task is stored.' : `Task ${task.name} has no SrcIP in its key.`);
      const answer = await api.top('sources', { task: task.name, ...rangeParams(range), limit: TOP_LIMIT });
      if (answer.flows.length === 0) return talkers.empty('No traffic in this range.');
      const total = answer.flows.reduce((sum, row) => sum + row.bytes, 0);
      talkers.show(flowTable(answer.flows, { fields: ['SrcIP'], current: params, totalBytes: total }), more(explorerPath(params, { task: task.name, group: 'SrcIP' }), 'all sources'));
    });

  const loadTopFlows = (range: ResolvedRange) =>
    guarded(topFlows, async () => {
      if (task === undefined) return topFlows.empty('No exact task is stored.');
      const answer = await api.top('flows', { task: task.name, ...rangeParams(range), limit: TOP_LIMIT });
      if (answer.flows.length === 0) return topFlows.empty('No traffic in this range.');
      const total = answer.flows.reduce((sum, row) => sum + row.bytes, 0);
      topFlows.show(flowTable(answer.flows, { fields: task.keyFields, current: params, totalBytes: total }), more(explorerPath(params, { task: task.name }), 'all flows'));
    });

  const loadMix = (range: ResolvedRange) =>
    guarded(mix, async () => {
      if (task === undefined || !task.keyFields.includes('Protocol')) return mix.empty(task === undefined ? 'No exact task is stored.' : `Task ${task.name} has no Protocol in its key.`);
      const answer = await api.top('flows', { task: task.name, ...rangeParams(range), group_by: 'Protocol', limit: MIX_LIMIT });
      const rows = answer.flows.filter((row) => row.bytes > 0 || row.packets > 0);
      if (rows.length === 0) return mix.empty('No traffic in this range.');
      const total = rows.reduce((sum, row) => sum + row.bytes, 0);
      const canvas = h('canvas', { role: 'img', 'aria-label': 'share of bytes per protocol' });
      mix.show(
        h('div', { class: 'chart small' }, canvas),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'mix' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Protocol'), h('th', { scope: 'col', class: 'numeric' }, 'Bytes'), h('th', { scope: 'col', class: 'numeric' }, 'Packets'), h('th', { scope: 'col', class: 'numeric' }, 'Share'))),
            h(
              'tbody',
              {},
              ...rows.map((row) => {
                const protocol = row.key.Protocol ?? 0;
                const share = total === 0 ? 0 : (row.bytes / total) * 100;
                return h(
                  'tr',
                  { 'data-protocol': protocol },
                  h('td', { 'data-label': 'Protocol' }, h('a', { href: explorerPath(params, { task: task.name, proto: protocol }), title: `IP protocol ${protocol}` }, protocolName(protocol))),
                  h('td', { class: 'numeric', 'data-label': 'Bytes', 'data-field': 'bytes' }, num(row.bytes, 'bytes')),
                  h('td', { class: 'numeric', 'data-label': 'Packets', 'data-field': 'packets' }, num(row.packets)),
                  h('td', { class: 'numeric', 'data-label': 'Share', 'data-field': 'share', 'data-value': share, title: `${share}% of the bytes` }, `${share.toFixed(1)} %`),
                );
              }),
            ),
          ),
        ),
      );
      protocolChart?.destroy();
      protocolChart = mixChart(canvas, rows.map((row) => ({ label: protocolName(row.key.Protocol ?? 0), bytes: row.bytes })));
    });

  const loadSketches = (range: ResolvedRange, panel: Panel, kind: Task['kind']) =>
    guarded(panel, async () => {
      const sketchTasks = tasks.filter((t) => t.kind === kind);
      if (sketchTasks.length === 0) {
        return panel.empty(kind === 'heavy_hitter' ? 'No heavy-hitter task has reported an entry yet.' : 'No super-spreader task has reported an entry yet.');
      }
      const lists = await Promise.all(
        sketchTasks.flatMap((t) =>
          kind === 'heavy_hitter'
            ? [api.heavyHitters({ task: t.name, type: 'packets', ...rangeParams(range), limit: TOP_LIMIT }), api.heavyHitters({ task: t.name, type: 'bytes', ...rangeParams(range), limit: TOP_LIMIT })]
            : [api.superSpreaders({ task: t.name, ...rangeParams(range), limit: TOP_LIMIT })],
        ),
      );
      const nonEmpty = lists.filter((list) => list.entries.length > 0);
      if (nonEmpty.length === 0) return panel.empty(kind === 'heavy_hitter' ? 'No heavy hitters in this range.' : 'No super-spreaders in this range.');
      panel.show(...nonEmpty.map((list) => sketchTable(list)));
    });

  function sketchTable(list: SketchAnswer): HTMLElement {
    const valueLabel = list.type === 'spread' ? 'Distinct destinations' : list.type === 'bytes' ? 'Bytes' : 'Packets';
    return h(
      'div',
      { class: 'sketch', 'data-task': list.task, 'data-type': list.type },
      h('h3', {}, list.task, ' ', h('span', { class: 'muted' }, `by ${list.type}`), list.snapshotNs === null ? null : h('span', { class: 'snapshot' }, ' · snapshot ', time(list.snapshotNs))),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'rank' }, '#'), h('th', { scope: 'col' }, 'Flow'), h('th', { scope: 'col', class: 'numeric' }, valueLabel))),
          h(
            'tbody',
            {},
            ...list.entries.map((entry, index) =>
              h(
                'tr',
                { 'data-row': index },
                h('td', { class: 'rank', 'data-label': '#' }, String(index + 1)),
                h('td', { 'data-label': 'Flow', class: 'address' }, sketchFlow(entry.flow, params)),
                h('td', { class: 'numeric', 'data-label': valueLabel, 'data-field': 'value' }, num(entry.value, list.type === 'bytes' ? 'bytes' : 'count')),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function destroyCharts(): void {
    trafficChart?.destroy();
    protocolChart?.destroy();
    trafficChart = undefined;
    protocolChart = undefined;
  }

  let timer: ReturnType<typeof setInterval> | undefined;
  if (autoRefresh) timer = setInterval(() => void refresh(), refreshSeconds * 1000);

  return {
    element,
    refresh,
    dispose: () => {
      if (timer !== undefined) clearInterval(timer);
      destroyCharts();
    },
  };
}

function more(href: string, label: string): HTMLElement {
  return h('p', { class: 'more' }, h('a', { href }, `${label} →`));
}
