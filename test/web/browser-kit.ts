/**
 * What the dashboard's browser tests share: Debian's Chromium driven by playwright-core (skipped
 * locally without it, required in CI), the real HTTP API serving a DuckDB file and web/dist, tabs
 * that already hold the API token, and the page helpers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createHttpApi, type HttpApi } from '../../src/api/http-server.js';
import { QueryService } from '../../src/query/query-service.js';
import { DuckDbQueryStore } from '../../src/store/duckdb-query.js';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const staticRoot = join(root, 'web', 'dist');
export const artifacts = join(root, 'test-artifacts', 'dashboard');
export const LAPTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };
export const run = promisify(execFile);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

// The browser globals the page callbacks use, typed narrowly here: the Node test program has no
// DOM lib (web/tsconfig.json has it, for the dashboard itself), and must not get one.
export interface DomNode {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): Iterable<DomNode>;
}
declare global {
  const document: { body: DomNode; documentElement: { scrollWidth: number; clientWidth: number }; querySelector(selector: string): DomNode | null };
  const localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
}

/** For `test(name, { skip: chromiumSkip() }, …)`: skip locally without Chromium, never in CI. */
export function chromiumSkip(): string | false {
  if (CHROMIUM !== undefined) return false;
  if (process.env.CI) throw new Error('Chromium is not installed, and CI must run the dashboard tests (apt-get install chromium)');
  return 'Chromium is not installed (apt-get install chromium)';
}

/** Run an action that renders a page (navigation, a click) and wait until the page has loaded all its panels. */
export async function rendered(page: Page, action: () => Promise<unknown>): Promise<void> {
  const before = await page.evaluate(() => document.body.dataset.ready ?? '');
  await action();
  await page.waitForFunction((previous) => document.body.dataset.ready !== undefined && document.body.dataset.ready !== previous, before, { timeout: 20_000 });
}

export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

export interface Dashboard {
  http: HttpApi;
  /** Script errors of every tab opened here. */
  pageErrors: string[];
  /** A REST answer of the API (with the token), its status checked. */
  apiGet: <T>(path: string, params?: Record<string, string | number>) => Promise<T>;
  /** A new tab; by default one that already holds the token (as a user who entered it once). */
  openPage: (viewport: { width: number; height: number }, options?: { token?: boolean }) => Promise<Page>;
  close: () => Promise<void>;
}

/** The real HTTP API over a DuckDB file, requiring `token`, serving web/dist; and a browser. */
export async function openDashboard(storePath: string, token: string): Promise<Dashboard> {
  const store = new DuckDbQueryStore({ path: storePath });
  await store.start();
  const http: HttpApi = createHttpApi({ queryService: new QueryService(store), authTokens: [token], listenAddr: '127.0.0.1:0', staticRoot, log: () => undefined });
  await http.start();
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];
  return {
    http,
    pageErrors,
    async apiGet<T>(path: string, params: Record<string, string | number> = {}): Promise<T> {
      const query = new URLSearchParams(Object.entries(params).map(([name, value]): [string, string] => [name, String(value)]));
      const response = await fetch(`${http.url}/api/v1/${path}?${query.toString()}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200, `${path}?${query.toString()}: ${await response.clone().text()}`);
      return (await response.json()) as T;
    },
    async openPage(viewport, options = {}) {
      const context = await browser.newContext({ viewport });
      contexts.push(context);
      if (options.token !== false) await context.addInitScript((held) => localStorage.setItem('netspectra.apiToken', held), token);
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      return page;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await http.stop();
      await store.stop();
    },
  };
}
