/**
 * The web dashboard in a real headless Chromium (Debian's, driven by playwright-core), against the
 * real HTTP API over a real embedded store: a synthetic capture from the project's generator is
 * analysed into a DuckDB file by the real CLI, served by createHttpApi with a bearer token and the
 * built dashboard (web/dist, made by `npm run build`).
 *
 * Every number the pages show is compared with the API's answer to the same question (fetched here
 * with the same parameters), and the totals with the generator's ground truth. Screenshots of
 * every page at laptop and phone widths go to test-artifacts/dashboard/.
 *
 * Skips locally when Chromium is not installed; fails in CI (apt-get install chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { LAPTOP, PHONE, artifacts, chromiumSkip, cli, horizontalOverflow, openDashboard, rendered, run, staticRoot, type DomNode } from './browser-kit.js';

const TOKEN = 'dashboard-test-token-5f1c2a';

interface FlowRow {
  key: Record<string, string | number>;
  bytes: number;
  packets: number;
  firstSeenNs: string;
  lastSeenNs: string;
}

/** What a flow table shows, read back from the DOM: key fields, exact counters, exact times. */
interface ShownRow {
  key: Record<string, string | number>;
  bytes: number;
  packets: number;
  firstSeenNs?: string;
  lastSeenNs?: string;
}

async function readFlowTable(page: Page, selector: string): Promise<ShownRow[]> {
  return page.$$eval(`${selector} table.flows tbody tr`, (rows) =>
    (rows as unknown as DomNode[]).map((row) => {
      const key: Record<string, string | number> = {};
      for (const field of ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol']) {
        const cell = row.querySelector(`td[data-field="${field}"]`);
        if (cell === null) continue;
        key[field] = field === 'SrcIP' || field === 'DstIP' ? (cell.textContent ?? '') : Number(cell.dataset.value);
      }
      const value = (field: string) => row.querySelector(`td[data-field="${field}"] [data-value]`)?.dataset.value;
      const shown: ShownRow = { key, bytes: Number(value('bytes')), packets: Number(value('packets')) };
      const first = value('first_seen');
      const last = value('last_seen');
      if (first !== undefined) shown.firstSeenNs = first;
      if (last !== undefined) shown.lastSeenNs = last;
      return shown;
    }),
  );
}

function expectedRows(rows: FlowRow[], times: boolean): ShownRow[] {
  return rows.map((row) => (times ? { key: row.key, bytes: row.bytes, packets: row.packets, firstSeenNs: row.firstSeenNs, lastSeenNs: row.lastSeenNs } : { key: row.key, bytes: row.bytes, packets: row.packets }));
}

async function exactValue(page: Page, selector: string): Promise<number> {
  const text = await page.getAttribute(selector, 'data-value');
  assert.ok(text !== null, `${selector} has no data-value`);
  return Number(text);
}

test('web dashboard in headless Chromium against the real HTTP API', { skip: chromiumSkip(), timeout: 240_000 }, async (t) => {
  assert.ok(existsSync(join(staticRoot, 'index.html')), `the dashboard is not built (${staticRoot}): run npm run build (or npm run build:web)`);
  const work = await mkdtemp(join(tmpdir(), 'ns-web-'));
  await mkdir(artifacts, { recursive: true });
  const capture = join(work, 'capture.pcap');
  const storePath = join(work, 'store.duckdb');
  // a quarter hour of traffic: 15 snapshots a minute apart, IPv6, two super-spreaders, a SYN flood
  await run(process.execPath, [cli, 'gen-pcap', '--out', capture, '--packets', '20000', '--flows', '600', '--spreaders', '2', '--spread', '300', '--syn-flood', '1500', '--duration', '900', '--seed', '11'], { timeout: 60_000 });
  await run(process.execPath, [cli, 'analyze', capture, '--store', storePath, '--no-progress', '--no-alerts', '--json'], { timeout: 120_000, maxBuffer: 1 << 26 });
  const truth = JSON.parse(await readFile(`${capture}.truth.json`, 'utf8')) as { frames: number; bytes: number };

  const dashboard = await openDashboard(storePath, TOKEN);
  const { http, pageErrors, apiGet, openPage } = dashboard;

  try {
    await t.test('without a token the API answers 401: the page asks for one, keeps it and sends it', async () => {
      const page = await openPage(LAPTOP, { token: false });
      await page.goto(`${http.url}/`);
      const dialog = page.locator('dialog#token-dialog');
      await dialog.waitFor({ state: 'visible' });
      assert.match((await dialog.textContent()) ?? '', /needs a token/);
      await page.screenshot({ path: join(artifacts, 'token-dialog.png') });
      // cancelled: the page says what the API answered, and offers the dialog again
      await page.click('dialog button[value=cancel]');
      await page.waitForSelector('h1:has-text("The API needs a token")');
      assert.match((await page.textContent('main .error')) ?? '', /NS_ERR_HTTP_UNAUTHORIZED/);
      await page.click('main button:has-text("Enter a token")');
      await dialog.waitFor({ state: 'visible' });
      // a wrong token is refused by the API and asked for again
      await page.fill('dialog input[name=token]', 'wrong-token');
      await page.click('dialog button[value=ok]');
      await page.waitForFunction(() => /refused this token/.test(document.querySelector('dialog .token-reason')?.textContent ?? ''));
      await rendered(page, async () => {
        await page.fill('dialog input[name=token]', TOKEN);
        await page.click('dialog button[value=ok]');
      });
      assert.equal(await page.evaluate(() => localStorage.getItem('netspectra.apiToken')), TOKEN);
      assert.equal(await page.locator('#totals[data-state=ready]').count(), 1);
      // a reload uses the stored token without asking
      await rendered(page, () => page.reload());
      assert.equal(await dialog.isVisible(), false);
      assert.equal(await page.locator('#totals[data-state=ready]').count(), 1);
    });

    await t.test('overview: every number equals the API answer (and the totals equal the capture truth)', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/`));
      const task = 'per_five_tuple';

      const aggregate = await apiGet<{ totals: { task: string; bytes: number; packets: number; flows: number }[] }>('aggregate');
      const five = aggregate.totals.find((row) => row.task === task)!;
      assert.equal(await page.getAttribute('#totals .cards', 'data-task'), task);
      assert.equal(await exactValue(page, '#totals .card[data-field=bytes] [data-value]'), five.bytes);
      assert.equal(await exactValue(page, '#totals .card[data-field=packets] [data-value]'), five.packets);
      assert.equal(await exactValue(page, '#totals .card[data-field=flows] [data-value]'), five.flows);
      assert.equal(five.packets, truth.frames, 'stored packets equal the capture');
      assert.equal(five.bytes, truth.bytes, 'stored bytes equal the capture');
      // the card prints a rounded SI value, with the exact one in its title
      assert.match((await page.textContent('#totals .card[data-field=bytes] .num')) ?? '', /^\d+(\.\d+)? [kMG]B$/);
      assert.match((await page.getAttribute('#totals .card[data-field=bytes] .num', 'title')) ?? '', new RegExp(`^${five.bytes.toLocaleString('en-US')} bytes$`));
      const totalsTable = await page.$$eval('#totals table.totals tbody tr', (rows) =>
        (rows as unknown as DomNode[]).map((row) => ({
          task: row.dataset.task,
          bytes: Number(row.querySelector('[data-field=bytes] [data-value]')?.dataset.value),
          packets: Number(row.querySelector('[data-field=packets] [data-value]')?.dataset.value),
          flows: Number(row.querySelector('[data-field=flows] [data-value]')?.dataset.value),
        })),
      );
      assert.deepEqual(totalsTable, aggregate.totals);

      // the series: the window the page chose, asked again here, bucket by bucket
      const chart = page.locator('#traffic .chart');
      const startNs = (await chart.getAttribute('data-start-ns'))!;
      const endNs = (await chart.getAttribute('data-end-ns'))!;
      const bucketMs = Number(await chart.getAttribute('data-bucket-ms'));
      const series = await apiGet<{ bucketMs: number; points: { task: string; startNs: string; bytes: number; packets: number; flows: number }[] }>('series', { task, start: startNs, end: endNs, bucket: bucketMs });
      const shownSeries = await page.$$eval('#traffic .series-table tbody tr', (rows) =>
        (rows as unknown as DomNode[]).map((row) => {
          const value = (field: string) => Number(row.querySelector(`[data-field=${field}] [data-value]`)?.dataset.value);
          return { startNs: row.dataset.bucket, packets: value('packets'), bytes: value('bytes'), flows: value('flows'), packetsPerSecond: value('packets_per_second'), bitsPerSecond: value('bits_per_second') };
        }),
      );
      const seconds = series.bucketMs / 1000;
      assert.deepEqual(
        shownSeries,
        series.points.map((p) => ({ startNs: p.startNs, packets: p.packets, bytes: p.bytes, flows: p.flows, packetsPerSecond: p.packets / seconds, bitsPerSecond: (p.bytes * 8) / seconds })),
      );
      assert.ok(shownSeries.length >= 10, `a quarter hour in ${shownSeries.length} buckets`);
      // "all" must cover every snapshot: the buckets add up to the totals
      assert.equal(
        shownSeries.reduce((sum, p) => sum + p.packets, 0),
        five.packets,
      );
      assert.equal(
        shownSeries.reduce((sum, p) => sum + p.bytes, 0),
        five.bytes,
      );

      const sources = await apiGet<{ flows: FlowRow[] }>('top/sources', { task, limit: 10 });
      assert.deepEqual(await readFlowTable(page, '#top-talkers'), expectedRows(sources.flows, false));
      const flows = await apiGet<{ flows: FlowRow[] }>('top/flows', { task, limit: 10 });
      assert.deepEqual(await readFlowTable(page, '#top-flows'), expectedRows(flows.flows, false));
      assert.equal(flows.flows.length, 10);

      const mix = await apiGet<{ flows: FlowRow[] }>('top/flows', { task, group_by: 'Protocol', limit: 20 });
      const shownMix = await page.$$eval('#protocol-mix table.mix tbody tr', (rows) =>
        (rows as unknown as DomNode[]).map((row) => ({
          protocol: Number(row.dataset.protocol),
          bytes: Number(row.querySelector('[data-field=bytes] [data-value]')?.dataset.value),
          packets: Number(row.querySelector('[data-field=packets] [data-value]')?.dataset.value),
        })),
      );
      assert.deepEqual(
        shownMix,
        mix.flows.map((row) => ({ protocol: row.key.Protocol, bytes: row.bytes, packets: row.packets })),
      );
      assert.ok(shownMix.length >= 2, 'TCP and UDP at least');

      const readSketch = (selector: string) =>
        page.$$eval(selector, (lists) =>
          (lists as unknown as DomNode[]).map((list) => ({
            task: list.dataset.task,
            type: list.dataset.type,
            entries: [...list.querySelectorAll('tbody tr')].map((row) => ({ flow: row.querySelector('[data-flow]')?.dataset.flow, value: Number(row.querySelector('[data-field=value] [data-value]')?.dataset.value) })),
          })),
        );
      const byPackets = await apiGet<{ task: string; type: string; entries: { flow: string; value: number }[] }>('heavy-hitters', { task: 'cm_src_left', type: 'packets', limit: 10 });
      const byBytes = await apiGet<{ task: string; type: string; entries: { flow: string; value: number }[] }>('heavy-hitters', { task: 'cm_src_left', type: 'bytes', limit: 10 });
      assert.ok(byPackets.entries.length > 0);
      assert.deepEqual(await readSketch('#heavy-hitters .sketch'), [byPackets, byBytes].filter((list) => list.entries.length > 0).map(({ task: name, type, entries }) => ({ task: name, type, entries })));
      const spreaders = await apiGet<{ task: string; type: string; entries: { flow: string; value: number }[] }>('super-spreaders', { task: 'ss_src_dst', limit: 10 });
      assert.equal(spreaders.entries.length, 2, 'the two generated super-spreaders');
      assert.deepEqual(await readSketch('#super-spreaders .sketch'), [{ task: spreaders.task, type: spreaders.type, entries: spreaders.entries }]);

      assert.equal(await horizontalOverflow(page), 0);
      await page.screenshot({ path: join(artifacts, 'overview-laptop.png'), fullPage: true });
    });

    await t.test('links: top talker → host page (numbers equal the API) → peer → flow explorer → overview', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/`));
      const talker = page.locator('#top-talkers a.host').first();
      const address = (await talker.getAttribute('data-host'))!;
      await rendered(page, () => talker.click());
      assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/host/${address}`);
      assert.equal(await page.textContent('h1 .address'), address);

      const task = 'per_five_tuple';
      const sent = await apiGet<{ totals: { bytes: number; packets: number; flows: number }[] }>('aggregate', { task, src_ip: address });
      const received = await apiGet<{ totals: { bytes: number; packets: number; flows: number }[] }>('aggregate', { task, dst_ip: address });
      const direction = async (name: string) => ({
        bytes: await exactValue(page, `#host-totals tr[data-direction=${name}] [data-field=bytes] [data-value]`),
        packets: await exactValue(page, `#host-totals tr[data-direction=${name}] [data-field=packets] [data-value]`),
        flows: await exactValue(page, `#host-totals tr[data-direction=${name}] [data-field=flows] [data-value]`),
      });
      const counters = (totals: { bytes: number; packets: number; flows: number } | undefined) => ({ bytes: totals?.bytes ?? 0, packets: totals?.packets ?? 0, flows: totals?.flows ?? 0 });
      assert.deepEqual(await direction('sent'), counters(sent.totals[0]));
      assert.deepEqual(await direction('received'), counters(received.totals[0]));
      assert.ok(sent.totals[0]!.packets > 0, 'a top talker sent something');

      const peersSent = await apiGet<{ flows: FlowRow[] }>('top/destinations', { task, src_ip: address, limit: 10 });
      assert.deepEqual(await readFlowTable(page, '#peers-sent'), expectedRows(peersSent.flows, false));
      const peersReceived = await apiGet<{ flows: FlowRow[] }>('top/sources', { task, dst_ip: address, limit: 10 });
      if (peersReceived.flows.length > 0) assert.deepEqual(await readFlowTable(page, '#peers-received'), expectedRows(peersReceived.flows, false));
      const flowsOut = await apiGet<{ flows: FlowRow[] }>('top/flows', { task, src_ip: address, limit: 10 });
      assert.deepEqual(await readFlowTable(page, '#flows-out'), expectedRows(flowsOut.flows, true));

      // the host's chart covers all of its traffic in both directions
      const hint = page.locator('#host-traffic .hint [data-value]');
      assert.equal(Number(await hint.nth(0).getAttribute('data-value')), sent.totals[0]!.packets);
      assert.equal(Number(await hint.nth(1).getAttribute('data-value')), received.totals[0]?.packets ?? 0);
      await page.screenshot({ path: join(artifacts, 'host-laptop.png'), fullPage: true });

      const peer = page.locator('#peers-sent a.host').first();
      const peerAddress = (await peer.getAttribute('data-host'))!;
      await rendered(page, () => peer.click());
      assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/host/${peerAddress}`);
      const peerReceived = await apiGet<{ totals: { bytes: number; packets: number; flows: number }[] }>('aggregate', { task, dst_ip: peerAddress });
      assert.equal(await exactValue(page, '#host-totals tr[data-direction=received] [data-field=packets] [data-value]'), peerReceived.totals[0]!.packets);

      // a flow's "flows →" link opens the explorer on exactly that flow
      const flowLink = page.locator('#flows-in a.flow-link').first();
      await rendered(page, () => flowLink.click());
      const url = new URL(page.url());
      assert.equal(url.pathname, '/flows');
      assert.equal(url.searchParams.get('dst'), peerAddress);
      const params = { task, src_ip: url.searchParams.get('src')!, dst_ip: peerAddress, src_port: url.searchParams.get('sport')!, dst_port: url.searchParams.get('dport')!, protocol: url.searchParams.get('proto')! };
      const one = await apiGet<{ flows: FlowRow[] }>('flows', { ...params, limit: 50, order: 'bytes', dir: 'desc', offset: 0 });
      assert.equal(one.flows.length, 1);
      assert.deepEqual(await readFlowTable(page, '#flow-results'), expectedRows(one.flows, true));
      assert.equal(await page.inputValue('form.filters input[name=dst]'), peerAddress);

      await rendered(page, () => page.click('nav.main-nav a[data-nav="/"]'));
      assert.equal(new URL(page.url()).pathname, '/');
      assert.equal(await page.locator('#totals[data-state=ready]').count(), 1);
      // back goes back to the explorer
      await rendered(page, () => page.goBack());
      assert.equal(new URL(page.url()).pathname, '/flows');
    });

    await t.test('flow explorer: filters, sorting and paging show what the API answers', async () => {
      const page = await openPage(LAPTOP);
      const task = 'per_five_tuple';
      await rendered(page, () => page.goto(`${http.url}/flows?task=${task}`));
      const flows = (params: Record<string, string | number>) => apiGet<{ flows: FlowRow[]; nextOffset: number | null }>('flows', { task, limit: 50, ...params });
      const shown = () => readFlowTable(page, '#flow-results');

      let expected = await flows({ order: 'bytes', dir: 'desc', offset: 0 });
      assert.equal(expected.flows.length, 50);
      assert.deepEqual(await shown(), expectedRows(expected.flows, true));

      await rendered(page, () => page.click('#flow-results button[data-sort=packets]'));
      assert.equal(new URL(page.url()).searchParams.get('order'), 'packets');
      expected = await flows({ order: 'packets', dir: 'desc', offset: 0 });
      assert.deepEqual(await shown(), expectedRows(expected.flows, true));

      await rendered(page, () => page.click('#flow-results button[data-sort=packets]'));
      assert.equal(new URL(page.url()).searchParams.get('dir'), 'asc');
      expected = await flows({ order: 'packets', dir: 'asc', offset: 0 });
      assert.deepEqual(await shown(), expectedRows(expected.flows, true));

      await rendered(page, () => page.click('#flow-results button[data-sort=last_seen]'));
      await rendered(page, () => page.click('nav.pager button.next'));
      assert.equal(new URL(page.url()).searchParams.get('offset'), '50');
      expected = await flows({ order: 'last_seen', dir: 'desc', offset: 50 });
      assert.deepEqual(await shown(), expectedRows(expected.flows, true));
      assert.equal(await page.getAttribute('#flow-results .hint', 'data-first'), '51');
      await rendered(page, () => page.click('nav.pager button.prev'));
      assert.equal(new URL(page.url()).searchParams.get('offset'), null);
      assert.equal(await page.isDisabled('nav.pager button.prev'), true);

      // filters: UDP to port 53 (DNS in the generator's mix), sorted by first seen
      await page.fill('form.filters input[name=dport]', '53');
      await page.fill('form.filters input[name=proto]', '17');
      await rendered(page, () => page.click('form.filters button[type=submit]'));
      expected = await flows({ order: 'last_seen', dir: 'desc', offset: 0, dst_port: 53, protocol: 17 });
      assert.ok(expected.flows.length > 0, 'the capture has DNS flows');
      const filtered = await shown();
      assert.deepEqual(filtered, expectedRows(expected.flows, true));
      assert.ok(filtered.every((row) => row.key.DstPort === 53 && row.key.Protocol === 17));

      // group by source: one row per source, as top/sources with the same filter
      await page.selectOption('form.filters select[name=group]', 'SrcIP');
      await rendered(page, () => page.click('form.filters button[type=submit]'));
      expected = await flows({ order: 'last_seen', dir: 'desc', offset: 0, dst_port: 53, protocol: 17, group_by: 'SrcIP' });
      assert.deepEqual(await shown(), expectedRows(expected.flows, true));
      assert.deepEqual(Object.keys((await shown())[0]!.key), ['SrcIP']);

      // a bad filter: the API's refusal, readable, with its code
      await page.selectOption('form.filters select[name=group]', '');
      await page.fill('form.filters input[name=src]', '10.0.0.999');
      await rendered(page, () => page.click('form.filters button[type=submit]'));
      assert.equal(await page.locator('#flow-results[data-state=error]').count(), 1);
      const error = (await page.textContent('#flow-results .error')) ?? '';
      assert.match(error, /NS_ERR_QUERY_FILTER/);
      assert.match(error, /10\.0\.0\.999/);
      assert.doesNotMatch(error, /at .*\.js:\d+/);
      await page.screenshot({ path: join(artifacts, 'flows-error-laptop.png'), fullPage: true });

      await rendered(page, () => page.click('form.filters button:has-text("Clear")'));
      expected = await flows({ order: 'last_seen', dir: 'desc', offset: 0 });
      assert.deepEqual(await shown(), expectedRows(expected.flows, true));
      await page.screenshot({ path: join(artifacts, 'flows-laptop.png'), fullPage: true });
    });

    await t.test('time ranges: presets far from the capture are empty; a custom range shows its own totals', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/`));
      await rendered(page, () => page.click('button[data-preset="15m"]'));
      assert.equal(new URL(page.url()).searchParams.get('range'), '15m');
      // the capture is from 2025-01-01: nothing in the last 15 minutes
      assert.equal(await page.locator('#totals[data-state=empty]').count(), 1);
      assert.equal(await page.locator('#top-flows[data-state=empty]').count(), 1);
      assert.equal(await page.locator('#traffic[data-state=empty]').count(), 1);
      await page.screenshot({ path: join(artifacts, 'overview-empty-laptop.png') });
      // the empty state offers the way back to everything stored
      await rendered(page, () => page.click('#totals a.show-all'));
      assert.equal(new URL(page.url()).searchParams.get('range'), null);
      assert.equal(await page.locator('#totals[data-state=ready]').count(), 1);

      // the capture's second five minutes
      await page.click('details.custom summary');
      await page.fill('input[name=from]', '2025-01-01T00:05:00');
      await page.fill('input[name=to]', '2025-01-01T00:10:00');
      await rendered(page, () => page.click('form.custom-range button[type=submit]'));
      const url = new URL(page.url());
      assert.equal(url.searchParams.get('range'), 'custom');
      assert.equal(url.searchParams.get('from'), '2025-01-01T00:05:00.000Z');
      const part = await apiGet<{ totals: { task: string; packets: number; bytes: number }[] }>('aggregate', { task: 'per_five_tuple', start: '2025-01-01T00:05:00Z', end: '2025-01-01T00:10:00Z' });
      const all = await apiGet<{ totals: { task: string; packets: number }[] }>('aggregate', { task: 'per_five_tuple' });
      assert.ok(part.totals[0]!.packets > 0 && part.totals[0]!.packets < all.totals[0]!.packets, 'a part of the capture');
      assert.equal(await exactValue(page, '#totals .card[data-field=packets] [data-value]'), part.totals[0]!.packets);
      assert.equal(await exactValue(page, '#totals .card[data-field=bytes] [data-value]'), part.totals[0]!.bytes);
      const top = await apiGet<{ flows: FlowRow[] }>('top/flows', { task: 'per_five_tuple', start: '2025-01-01T00:05:00Z', end: '2025-01-01T00:10:00Z', limit: 10 });
      assert.deepEqual(await readFlowTable(page, '#top-flows'), expectedRows(top.flows, false));
      // links keep the range
      const hostHref = (await page.locator('#top-flows a.host').first().getAttribute('href'))!;
      assert.match(hostHref, /range=custom/);
    });

    await t.test('auto-refresh reloads the panels on its interval', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/?refresh=5`));
      assert.equal(await page.isChecked('input[name=auto-refresh]'), true);
      const first = await page.textContent('.updated');
      let requests = 0;
      page.on('request', (request) => {
        if (request.url().includes('/api/v1/aggregate')) requests++;
      });
      await page.waitForFunction((before) => document.querySelector('.updated')?.textContent !== before, first, { timeout: 12_000 });
      assert.ok(requests >= 1, 'the refresh asked the API again');
      // switching it off stops it (the URL says so)
      await rendered(page, () => page.uncheck('input[name=auto-refresh]'));
      assert.equal(new URL(page.url()).searchParams.get('refresh'), null);
    });

    await t.test('phone width: no page scrolls sideways', async () => {
      const page = await openPage(PHONE);
      const top = await apiGet<{ flows: FlowRow[] }>('top/sources', { task: 'per_five_tuple', limit: 1 });
      const address = String(top.flows[0]!.key.SrcIP);
      for (const [name, path] of [
        ['overview', '/'],
        ['flows', '/flows'],
        ['host', `/host/${address}`],
      ] as const) {
        await rendered(page, () => page.goto(`${http.url}${path}`));
        assert.equal(await horizontalOverflow(page), 0, `${path} overflows at ${PHONE.width}px`);
        await page.screenshot({ path: join(artifacts, `${name}-phone.png`) });
        await page.screenshot({ path: join(artifacts, `${name}-phone-full.png`), fullPage: true });
      }
      // the numbers are the same as on a laptop: cards, not other data
      const sources = await apiGet<{ flows: FlowRow[] }>('top/sources', { task: 'per_five_tuple', limit: 10 });
      await rendered(page, () => page.goto(`${http.url}/`));
      assert.deepEqual(await readFlowTable(page, '#top-talkers'), expectedRows(sources.flows, false));
      const cell = page.locator('#top-talkers tbody tr').first().locator('td[data-field=bytes]');
      const box = await cell.boundingBox();
      assert.ok(box !== null && box.x >= 0 && box.x + box.width <= PHONE.width, 'a table cell fits the screen');
    });

    await t.test('unknown paths show a page, not a blank screen', async () => {
      const page = await openPage(LAPTOP);
      await page.goto(`${http.url}/no/such/page`);
      await page.waitForSelector('h1:has-text("Not found")');
    });

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  } finally {
    await dashboard.close();
    await rm(work, { recursive: true, force: true });
  }
});
