/**
 * A host's page (/host/<ip>): what it sent and received (totals), its traffic over time in both
 * directions, its peers (the hosts it sent to and received from, largest first) and its largest
 * flows each way — all from the flows where it is the source or the destination.
 */
import type { Chart } from 'chart.js';
import { api, type FlowRow, type Task } from '../api.js';
import { rateChart } from '../charts.js';
import { Panel, h, num } from '../dom.js';
import { formatDuration } from '../format.js';
import { autoBucketMs, rangeParams, ratePoints, seriesParams, seriesWindow, storeTimes, type Page, type PageContext, type SeriesWindow } from '../page.js';
import { rangePicker, readRange, resolveRange, writeRange, type ResolvedRange } from '../range.js';
import { bucketSelect, defaultExactTask, explorerPath, flowTable, looksLikeAddress, readBucket, taskSelect } from '../views.js';

const PEER_LIMIT = 10;
const FLOW_LIMIT = 10;

export function hostPage(context: PageContext, address: string): Page {
  const { params, tasks } = context;
  const choice = readRange(params);
  // the host's flows need both addresses in the key
  const task = defaultExactTask(
    tasks.filter((t) => t.kind !== 'exact' || (t.keyFields.includes('SrcIP') && t.keyFields.includes('DstIP'))),
    params.get('task'),
  );
  let chart: Chart | undefined;

  const totals = new Panel('Totals', 'host-totals', 'wide');
  const traffic = new Panel('Traffic over time', 'host-traffic', 'wide');
  const sentTo = new Panel('Peers it sent to', 'peers-sent');
  const receivedFrom = new Panel('Peers it received from', 'peers-received');
  const flowsOut = new Panel('Largest flows from it', 'flows-out', 'wide');
  const flowsIn = new Panel('Largest flows to it', 'flows-in', 'wide');
  const exactTasks = tasks.filter((t) => t.kind === 'exact' && t.keyFields.includes('SrcIP') && t.keyFields.includes('DstIP'));

  const element = h(
    'div',
    { class: 'page host', 'data-host': address },
    h('div', { class: 'page-head' }, h('h1', {}, 'Host ', h('span', { class: 'address' }, address)), h('p', { class: 'range-label' })),
    h(
      'div',
      { class: 'controls' },
      rangePicker(choice, (next) => context.update((p) => writeRange(p, next))),
      exactTasks.length > 0 ? taskSelect(exactTasks, task?.name, (name) => context.update((p) => p.set('task', name))) : null,
      bucketSelect(params, (ms) => context.update((p) => (ms === undefined ? p.delete('bucket') : p.set('bucket', String(ms))))),
    ),
    h('div', { class: 'grid' }, totals.element, traffic.element, sentTo.element, receivedFrom.element, flowsOut.element, flowsIn.element),
  );

  async function refresh(): Promise<void> {
    const range = resolveRange(choice, Date.now());
    element.querySelector('.range-label')!.textContent = `Range: ${range.label} (UTC)`;
    const panels = [totals, traffic, sentTo, receivedFrom, flowsOut, flowsIn];
    if (!looksLikeAddress(address)) {
      for (const panel of panels) panel.error(new Error(`“${address}” is not an IPv4 or IPv6 address.`));
      return;
    }
    if (task === undefined || task.kind !== 'exact') {
      for (const panel of panels) panel.empty('No exact task with both SrcIP and DstIP in its key is stored.');
      return;
    }
    await Promise.all([loadTotals(task, range), loadTraffic(task, range), loadPeers(task, range), loadFlows(task, range)]);
  }

  async function guarded(panel: Panel, load: () => Promise<void>): Promise<void> {
    panel.loading();
    try {
      await load();
    } catch (error) {
      panel.error(error);
    }
  }

  const loadTotals = (t: Task, range: ResolvedRange) =>
    guarded(totals, async () => {
      const [sent, received] = await Promise.all([
        api.aggregate({ task: t.name, src_ip: address, ...rangeParams(range) }),
        api.aggregate({ task: t.name, dst_ip: address, ...rangeParams(range) }),
      ]);
      const out = sent.totals[0] ?? { bytes: 0, packets: 0, flows: 0 };
      const into = received.totals[0] ?? { bytes: 0, packets: 0, flows: 0 };
      if (out.packets === 0 && into.packets === 0) return totals.empty(`${address} has no traffic in ${t.name} in this range.`);
      const row = (label: string, direction: string, values: { bytes: number; packets: number; flows: number }) =>
        h(
          'tr',
          { 'data-direction': direction },
          h('th', { scope: 'row' }, label),
          h('td', { class: 'numeric', 'data-label': 'Bytes', 'data-field': 'bytes' }, num(values.bytes, 'bytes')),
          h('td', { class: 'numeric', 'data-label': 'Packets', 'data-field': 'packets' }, num(values.packets)),
          h('td', { class: 'numeric', 'data-label': 'Flows', 'data-field': 'flows' }, num(values.flows)),
        );
      totals.show(
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'host-totals' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t.name), ...['Bytes', 'Packets', 'Flows'].map((label) => h('th', { scope: 'col', class: 'numeric' }, label)))),
            h('tbody', {}, row('sent (as source)', 'sent', out), row('received (as destination)', 'received', into)),
          ),
        ),
      );
    });

  const loadTraffic = (t: Task, range: ResolvedRange) =>
    guarded(traffic, async () => {
      // one window for both directions, so that the two lines share their buckets
      const times = await storeTimes(tasks, t.name, range, Date.now());
      const bucketMs = readBucket(params);
      const [outWindow, inWindow] = await Promise.all([
        seriesWindow(range, t.name, { src_ip: address }, times, bucketMs),
        seriesWindow(range, t.name, { dst_ip: address }, times, bucketMs),
      ]);
      const window = mergeWindows(outWindow, inWindow, bucketMs ?? times.snapshotSpacingMs, bucketMs !== undefined);
      if (window === undefined) return traffic.empty('No traffic in this range.');
      const [out, into] = await Promise.all([
        api.series({ task: t.name, src_ip: address, ...seriesParams(window) }),
        api.series({ task: t.name, dst_ip: address, ...seriesParams(window) }),
      ]);
      const canvas = h('canvas', { role: 'img', 'aria-label': `traffic of ${address}: sent and received, packets and bits per second` });
      const sentPoints = ratePoints(out, t.name);
      const receivedPoints = ratePoints(into, t.name);
      const sum = (points: { packets: number }[]) => points.reduce((total, p) => total + p.packets, 0);
      traffic.show(
        h(
          'div',
          { class: 'chart', 'data-task': t.name, 'data-start-ns': window.startNs, 'data-end-ns': window.endNs, 'data-bucket-ms': window.bucketMs },
          canvas,
        ),
        h(
          'p',
          { class: 'hint' },
          `Per ${formatDuration(window.bucketMs)} bucket. Packets in the chart: sent `,
          num(sum(out.points), 'count'),
          ', received ',
          num(sum(into.points), 'count'),
          '.',
        ),
      );
      chart?.destroy();
      chart = rateChart(canvas, [
        { label: 'sent', points: sentPoints },
        { label: 'received', points: receivedPoints },
      ]);
    });

  const loadPeers = (t: Task, range: ResolvedRange) =>
    Promise.all([
      guarded(sentTo, async () => {
        const answer = await api.top('destinations', { task: t.name, src_ip: address, ...rangeParams(range), limit: PEER_LIMIT });
        peers(sentTo, answer.flows, 'DstIP', explorerPath(params, { task: t.name, src: address, group: 'DstIP' }));
      }),
      guarded(receivedFrom, async () => {
        const answer = await api.top('sources', { task: t.name, dst_ip: address, ...rangeParams(range), limit: PEER_LIMIT });
        peers(receivedFrom, answer.flows, 'SrcIP', explorerPath(params, { task: t.name, dst: address, group: 'SrcIP' }));
      }),
    ]);

  function peers(panel: Panel, rows: FlowRow[], field: 'SrcIP' | 'DstIP', allHref: string): void {
    if (rows.length === 0) return panel.empty('None in this range.');
    const total = rows.reduce((sum, row) => sum + row.bytes, 0);
    panel.show(flowTable(rows, { fields: [field], current: params, totalBytes: total }), h('p', { class: 'more' }, h('a', { href: allHref }, 'all peers →')));
  }

  const loadFlows = (t: Task, range: ResolvedRange) =>
    Promise.all([
      guarded(flowsOut, async () => {
        const answer = await api.top('flows', { task: t.name, src_ip: address, ...rangeParams(range), limit: FLOW_LIMIT });
        if (answer.flows.length === 0) return flowsOut.empty('None in this range.');
        flowsOut.show(flowTable(answer.flows, { fields: t.keyFields, current: params, times: true }), h('p', { class: 'more' }, h('a', { href: explorerPath(params, { task: t.name, src: address }) }, 'all flows from it →')));
      }),
      guarded(flowsIn, async () => {
        const answer = await api.top('flows', { task: t.name, dst_ip: address, ...rangeParams(range), limit: FLOW_LIMIT });
        if (answer.flows.length === 0) return flowsIn.empty('None in this range.');
        flowsIn.show(flowTable(answer.flows, { fields: t.keyFields, current: params, times: true }), h('p', { class: 'more' }, h('a', { href: explorerPath(params, { task: t.name, dst: address }) }, 'all flows to it →')));
      }),
    ]).then(() => undefined);

  return {
    element,
    refresh,
    dispose: () => chart?.destroy(),
  };
}

/** The window covering both directions' windows, with one bucket for both (the chosen one, else automatic over the merged span). */
function mergeWindows(a: SeriesWindow | undefined, b: SeriesWindow | undefined, spacingOrChosenMs: number, chosen: boolean): SeriesWindow | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const startNs = BigInt(a.startNs) < BigInt(b.startNs) ? BigInt(a.startNs) : BigInt(b.startNs);
  const endNs = BigInt(a.endNs) > BigInt(b.endNs) ? BigInt(a.endNs) : BigInt(b.endNs);
  const bucketMs = chosen ? spacingOrChosenMs : autoBucketMs(Number((endNs - startNs) / 1_000_000n), spacingOrChosenMs);
  const bucketNs = BigInt(bucketMs) * 1_000_000n;
  const buckets = (endNs - startNs + bucketNs - 1n) / bucketNs;
  return { startNs: startNs.toString(), endNs: (startNs + buckets * bucketNs).toString(), bucketMs };
}
