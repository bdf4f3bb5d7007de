/**
 * The dashboard's alerts page in a real headless Chromium (Debian's, driven by playwright-core)
 * against the real HTTP API: a generated capture with a SYN flood and two scanners is analysed by
 * the real CLI with rules that fire, repeat and resolve, into a DuckDB file (analyze stores every
 * notice there), served by createHttpApi with a bearer token and the built dashboard (web/dist).
 *
 * What the page shows is compared, value by value, with the API's answer to the same request.
 * Screenshots go to test-artifacts/dashboard/alerts-*.png.
 *
 * Skips locally when Chromium is not installed; fails in CI (apt-get install chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { LAPTOP, PHONE, artifacts, chromiumSkip, cli, horizontalOverflow, openDashboard, rendered, run, staticRoot, type DomNode } from './browser-kit.js';

const TOKEN = 'alerts-page-test-token-9d3e';

// Rules that fire on the generated attacks: the SYN flood (heavy hitter by destination), the
// scanners (super-spreaders, repeated every 10 s), and a task-wide packet rate that fires and
// resolves as the rate swings around it (repeated at every check while it lasts).
const CONFIG = `
alerter:
  check_interval: 10s
  rules:
    - {name: Potential_SYN_Flood, task_name: hh_dst, metric: heavy_hitter_count, operator: ">", threshold: 2000}
    - {name: Potential_Scanner, task_name: ss_src_dst, metric: super_spreader_spread, operator: ">", threshold: 50, cooldown: 10s}
    - {name: Packet_Rate_Spike, task_name: per_src_ip, metric: packets_per_second, operator: ">", threshold: 200, cooldown: 0s}
aggregator:
  num_workers: 1
  exact:
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol]}
      - {name: per_src_ip, key_fields: [SrcIP]}
  sketch:
    tasks:
      - {name: hh_dst, skt_type: 0, flow_fields: [DstIP], count_thereshold: 1000, size_thereshold: 100000000, width: 4096, seed: 1}
      - {name: ss_src_dst, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP], count_thereshold: 100, width: 4096, seed: 2}
`;

interface AlertRow {
  atNs: string;
  kind: string;
  id: string;
  rule: string;
  task: string;
  metric: string;
  operator: string;
  threshold: number;
  flow: string;
  key: Record<string, string | number>;
  value: number;
  sinceNs: string;
  firedAtNs: string | null;
}

/** An alert row as the page shows it, read back from the DOM (exact values from data-value). */
interface ShownAlert {
  id: string | undefined;
  rule: string | undefined;
  kind?: string | undefined;
  atNs?: string | undefined;
  task: string | undefined;
  flow: string | undefined;
  hosts: string[];
  metric: string;
  value: number;
  operator: string | undefined;
  threshold: number;
  sinceNs?: string | undefined;
  firedAtNs?: string | undefined;
}

async function readAlerts(page: Page, table: 'active' | 'history'): Promise<ShownAlert[]> {
  return page.$$eval(`table.alerts.${table} tbody tr`, (rows, which) =>
    (rows as unknown as DomNode[]).map((row) => {
      const cell = (field: string) => row.querySelector(`td[data-field=${field}]`);
      const shown: ShownAlert = {
        id: row.dataset.id,
        rule: row.dataset.rule,
        task: cell('task')?.querySelector('[data-task]')?.dataset.task,
        flow: cell('flow')?.querySelector('[data-flow]')?.dataset.flow,
        hosts: [...(cell('flow')?.querySelectorAll('a.host') ?? [])].map((link) => link.getAttribute('href') ?? ''),
        metric: cell('metric')?.textContent ?? '',
        value: Number(cell('condition')?.querySelector('[data-field=value]')?.dataset.value),
        operator: cell('condition')?.querySelector('.condition')?.dataset.operator,
        threshold: Number(cell('condition')?.querySelector('[data-field=threshold]')?.dataset.value),
      };
      if (which === 'active') {
        shown.sinceNs = cell('since')?.querySelector('[data-value]')?.dataset.value;
        shown.firedAtNs = cell('fired_at')?.querySelector('[data-value]')?.dataset.value;
      } else {
        shown.kind = row.dataset.kind;
        shown.atNs = cell('at')?.querySelector('[data-value]')?.dataset.value;
      }
      return shown;
    }),
  table);
}

function expected(rows: AlertRow[], table: 'active' | 'history'): ShownAlert[] {
  return rows.map((row) => {
    const hosts = ['SrcIP', 'DstIP'].filter((field) => row.key[field] !== undefined).map((field) => `/host/${String(row.key[field])}`);
    const shown: ShownAlert = { id: row.id, rule: row.rule, task: row.task, flow: row.flow, hosts, metric: row.metric, value: row.value, operator: row.operator, threshold: row.threshold };
    if (table === 'active') {
      shown.sinceNs = row.sinceNs;
      shown.firedAtNs = row.firedAtNs ?? undefined;
    } else {
      shown.kind = row.kind;
      shown.atNs = row.atNs;
    }
    return shown;
  });
}

test('alerts page in headless Chromium: active alerts and notices equal the API', { skip: chromiumSkip(), timeout: 180_000 }, async (t) => {
  assert.ok(existsSync(join(staticRoot, 'index.html')), `the dashboard is not built (${staticRoot}): run npm run build (or npm run build:web)`);
  const work = await mkdtemp(join(tmpdir(), 'ns-web-alerts-'));
  await mkdir(artifacts, { recursive: true });
  const capture = join(work, 'attack.pcap');
  const storePath = join(work, 'store.duckdb');
  const configPath = join(work, 'alerts.yaml');
  await writeFile(configPath, CONFIG);
  // five minutes: 1500 flows, two scanners probing 400 hosts each, a 20 000-packet SYN flood, some IPv6
  await run(process.execPath, [cli, 'gen-pcap', '--out', capture, '--packets', '40000', '--flows', '1500', '--spreaders', '2', '--spread', '400', '--syn-flood', '20000', '--seed', '7', '--duration', '300', '--ipv6', '0.1'], { timeout: 60_000 });
  await run(process.execPath, [cli, 'analyze', capture, '--config', configPath, '--store', storePath, '--no-progress', '--json'], { timeout: 120_000, maxBuffer: 1 << 26 });

  const dashboard = await openDashboard(storePath, TOKEN);
  const { http, pageErrors, apiGet, openPage } = dashboard;

  try {
    const active = (await apiGet<{ alerts: AlertRow[] }>('alerts/active', { limit: 1000 })).alerts;
    const all = (await apiGet<{ alerts: AlertRow[]; nextOffset: number | null }>('alerts', { limit: 1000 })).alerts;
    // the capture really produced what the page must cope with: several active alerts with flows, every kind of notice, more than a page
    assert.ok(active.length >= 3, `active alerts: ${active.length}`);
    assert.ok(active.some((row) => row.key.SrcIP !== undefined) && active.some((row) => row.key.DstIP !== undefined), 'active alerts keyed by source and by destination');
    for (const kind of ['firing', 'repeat', 'resolved']) assert.ok(all.some((row) => row.kind === kind), `a ${kind} notice is stored`);
    const repeats = all.filter((row) => row.kind === 'repeat').length;
    assert.ok(repeats > 25, `repeat notices: ${repeats} (more than one page of 25)`);

    await t.test('overview: the active-alerts badge counts the API active alerts and links to the page', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/`));
      const badge = page.locator('#alert-badge');
      assert.equal(await badge.getAttribute('data-value'), String(active.length));
      assert.equal(await badge.getAttribute('data-state'), 'firing');
      assert.equal((await badge.textContent())?.trim(), `${active.length} active alerts`);
      await rendered(page, () => badge.click());
      assert.equal(new URL(page.url()).pathname, '/alerts');
      assert.equal(await page.getAttribute('nav.main-nav a[data-nav="/alerts"]', 'aria-current'), 'page');
    });

    await t.test('alerts page: active alerts and the newest notices equal the API, links go to host pages', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/alerts`));
      assert.equal(await page.getAttribute('#active-alerts', 'data-state'), 'ready');
      assert.deepEqual(await readAlerts(page, 'active'), expected(active, 'active'));
      const history = await apiGet<{ alerts: AlertRow[]; nextOffset: number | null }>('alerts', { limit: 50 });
      assert.deepEqual(await readAlerts(page, 'history'), expected(history.alerts, 'history'));
      assert.deepEqual(history.alerts, all.slice(0, 50), 'the first page is the start of the whole list');
      for (let i = 1; i < history.alerts.length; i++) assert.ok(BigInt(history.alerts[i - 1]!.atNs) >= BigInt(history.alerts[i]!.atNs), 'newest first');
      assert.equal(await page.locator('#alert-history .pager button.next').isDisabled(), history.nextOffset === null);
      await page.screenshot({ path: join(artifacts, 'alerts-laptop.png'), fullPage: true });

      // the offending destination of the SYN flood opens its host page, with the range kept
      const flood = active.find((row) => row.key.DstIP !== undefined)!;
      const link = page.locator(`table.alerts.active tr[data-id="${flood.id}"] a.host`).first();
      await rendered(page, () => link.click());
      assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/host/${String(flood.key.DstIP)}`);
      assert.equal((await page.textContent('h1 .address'))?.trim(), String(flood.key.DstIP));
    });

    await t.test('filters by kind and rule and paging follow the API', async () => {
      const page = await openPage(LAPTOP);
      await rendered(page, () => page.goto(`${http.url}/alerts`));
      // kind repeat, 25 a page: page one, then "older" to the API's nextOffset
      await page.selectOption('form.filters select[name=kind]', 'repeat');
      await page.selectOption('form.filters select[name=size]', '25');
      await rendered(page, () => page.click('form.filters button[type=submit]'));
      const url = new URL(page.url());
      assert.equal(url.searchParams.get('kind'), 'repeat');
      assert.equal(url.searchParams.get('size'), '25');
      const first = await apiGet<{ alerts: AlertRow[]; nextOffset: number | null }>('alerts', { kind: 'repeat', limit: 25 });
      assert.deepEqual(await readAlerts(page, 'history'), expected(first.alerts, 'history'));
      assert.ok(first.alerts.every((row) => row.kind === 'repeat'));
      assert.equal(first.nextOffset, 25);
      assert.equal(await page.locator('#alert-history .pager button.prev').isDisabled(), true);
      await rendered(page, () => page.click('#alert-history .pager button.next'));
      assert.equal(new URL(page.url()).searchParams.get('offset'), '25');
      const second = await apiGet<{ alerts: AlertRow[]; nextOffset: number | null }>('alerts', { kind: 'repeat', limit: 25, offset: 25 });
      assert.deepEqual(await readAlerts(page, 'history'), expected(second.alerts, 'history'));
      assert.equal(second.alerts.length, repeats - 25);
      assert.equal(await page.getAttribute('#alert-history .hint', 'data-first'), '26');
      assert.equal(await page.locator('#alert-history .pager button.next').isDisabled(), second.nextOffset === null);
      await rendered(page, () => page.click('#alert-history .pager button.prev'));
      assert.equal(new URL(page.url()).searchParams.get('offset'), null);

      // rule: only that rule's notices (every kind) and active alerts; the rule list offers the stored rules
      const rules = await page.$$eval('datalist#alert-rules option', (options) => (options as unknown as DomNode[]).map((option) => option.getAttribute('value')));
      assert.ok(rules.includes('Potential_Scanner'), `rules offered: ${rules.join(', ')}`);
      await page.selectOption('form.filters select[name=kind]', '');
      await page.fill('form.filters input[name=rule]', 'Potential_Scanner');
      await rendered(page, () => page.click('form.filters button[type=submit]'));
      const byRule = await apiGet<{ alerts: AlertRow[] }>('alerts', { rule: 'Potential_Scanner', limit: 25 });
      assert.ok(byRule.alerts.length > 0 && byRule.alerts.every((row) => row.rule === 'Potential_Scanner'));
      assert.deepEqual(await readAlerts(page, 'history'), expected(byRule.alerts, 'history'));
      const activeByRule = await apiGet<{ alerts: AlertRow[] }>('alerts/active', { rule: 'Potential_Scanner', limit: 1000 });
      assert.deepEqual(await readAlerts(page, 'active'), expected(activeByRule.alerts, 'active'));
      assert.ok(activeByRule.alerts.length < active.length, 'the rule filter narrows the active alerts too');

      // a rule nothing matches: both panels say so
      await page.fill('form.filters input[name=rule]', 'No_Such_Rule');
      await rendered(page, () => page.click('form.filters button[type=submit]'));
      assert.equal(await page.getAttribute('#active-alerts', 'data-state'), 'empty');
      assert.equal(await page.getAttribute('#alert-history', 'data-state'), 'empty');
    });

    await t.test('a range before the capture: no active alerts, no notices; the badge says none', async () => {
      const page = await openPage(LAPTOP);
      const range = 'range=custom&from=2020-01-01T00:00:00.000Z&to=2020-01-02T00:00:00.000Z';
      await rendered(page, () => page.goto(`${http.url}/alerts?${range}`));
      assert.equal(await page.getAttribute('#active-alerts', 'data-state'), 'empty');
      assert.equal(await page.getAttribute('#alert-history', 'data-state'), 'empty');
      assert.match((await page.textContent('#alert-history .empty')) ?? '', /No alert notice/);
      await rendered(page, () => page.goto(`${http.url}/?${range}`));
      assert.equal(await page.getAttribute('#alert-badge', 'data-value'), '0');
      assert.equal(await page.getAttribute('#alert-badge', 'data-state'), 'none');
      assert.equal(await page.getAttribute('#alert-badge', 'href'), `/alerts?${range.replaceAll(':', '%3A')}`);
    });

    await t.test('an answer the API refuses shows its code in the panel', async () => {
      const page = await openPage(LAPTOP);
      // an offset beyond the API's 10,000 is refused by its schema
      await rendered(page, () => page.goto(`${http.url}/alerts?offset=20000`));
      assert.equal(await page.getAttribute('#alert-history', 'data-state'), 'error');
      const refusal = await fetch(`${http.url}/api/v1/alerts?offset=20000&limit=50`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(refusal.status, 400);
      const { error } = (await refusal.json()) as { error: { code: string; message: string } };
      assert.equal((await page.textContent('#alert-history .error code'))?.trim(), error.code);
      assert.match((await page.textContent('#alert-history .error')) ?? '', /offset/);
      assert.equal(await page.getAttribute('#active-alerts', 'data-state'), 'ready', 'the other panel still answers');
    });

    await t.test('phone width: the alerts page does not overflow sideways', async () => {
      const page = await openPage(PHONE);
      await rendered(page, () => page.goto(`${http.url}/alerts`));
      assert.equal(await horizontalOverflow(page), 0);
      assert.deepEqual(await readAlerts(page, 'active'), expected(active, 'active'));
      await page.screenshot({ path: join(artifacts, 'alerts-phone.png'), fullPage: true });
      await rendered(page, () => page.goto(`${http.url}/`));
      assert.equal(await horizontalOverflow(page), 0);
    });

    assert.deepEqual(pageErrors, [], 'no script errors in the pages');
  } finally {
    await dashboard.close();
    await rm(work, { recursive: true, force: true });
  }
});
