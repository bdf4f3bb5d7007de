/**
 * The dashboard's entry: the frame (navigation, host search, token), the router, and the page of
 * the current URL. Pages are rebuilt on every navigation; the list of tasks is asked each time
 * too (it is small, and a new task should appear without a reload).
 */
import './styles.css';
import { ApiError, api, setTokenPrompt, storeToken, storedToken } from './api.js';
import { errorBox, h } from './dom.js';
import { alertsPage } from './pages/alerts.js';
import { flowsPage } from './pages/flows.js';
import { hostPage } from './pages/host.js';
import { overviewPage } from './pages/overview.js';
import type { Page, PageContext } from './page.js';
import { hostPath, interceptLinks, navigate, onNavigate, parseRoute, withParams } from './router.js';
import { carriedParams, looksLikeAddress } from './views.js';

const main = h('main', { id: 'page' });

function navLink(path: string, label: string): HTMLAnchorElement {
  return h('a', { href: path, 'data-nav': path }, label);
}

const hostSearch = h('input', { type: 'search', name: 'host', placeholder: 'host IP…', 'aria-label': 'go to a host by IP address', autocomplete: 'off', spellcheck: 'false' });
const hostForm = h(
  'form',
  {
    class: 'host-search',
    role: 'search',
    onsubmit: (event: Event) => {
      event.preventDefault();
      const address = hostSearch.value.trim();
      if (!looksLikeAddress(address)) {
        hostSearch.setCustomValidity('Enter an IPv4 or IPv6 address');
        hostSearch.reportValidity();
        return;
      }
      hostSearch.setCustomValidity('');
      navigate(hostPath(address, carriedParams(new URLSearchParams(location.search))));
    },
  },
  hostSearch,
);
hostSearch.addEventListener('input', () => hostSearch.setCustomValidity(''));

const tokenButton = h('button', { type: 'button', class: 'token-button', title: 'API token' }, 'token');
const nav = h('nav', { class: 'main-nav', 'aria-label': 'pages' }, navLink('/', 'Overview'), navLink('/flows', 'Flows'), navLink('/alerts', 'Alerts'));
const header = h('header', { class: 'top' }, h('a', { href: '/', class: 'brand' }, 'NetSpectra'), nav, hostForm, tokenButton);
document.body.replaceChildren(header, main);

// ---- bearer token ---------------------------------------------------------------------------

const tokenInput = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, 'aria-label': 'API token' });
const tokenReason = h('p', { class: 'token-reason' });
const tokenDialog = h(
  'dialog',
  { class: 'token-dialog', id: 'token-dialog' },
  h(
    'form',
    { method: 'dialog' },
    h('h2', {}, 'API token'),
    tokenReason,
    h('p', {}, 'Enter one of the bearer tokens of ', h('code', {}, 'api.auth_tokens'), '. It is kept in this browser (localStorage) and sent with every request.'),
    h('label', {}, 'token ', tokenInput),
    h('div', { class: 'form-buttons' }, h('button', { value: 'cancel', type: 'submit', formnovalidate: true }, 'Cancel'), h('button', { value: 'ok', type: 'submit', class: 'primary' }, 'Use token')),
  ),
);
document.body.append(tokenDialog);

function askForToken(reason: string): Promise<string | null> {
  tokenReason.textContent = reason;
  tokenInput.value = '';
  return new Promise((resolve) => {
    tokenDialog.addEventListener(
      'close',
      () => {
        const token = tokenDialog.returnValue === 'ok' ? tokenInput.value.trim() : '';
        resolve(token === '' ? null : token);
      },
      { once: true },
    );
    tokenDialog.showModal();
    tokenInput.focus();
  });
}

setTokenPrompt(askForToken);
tokenButton.addEventListener('click', () => {
  void askForToken(storedToken() === null ? 'No token is stored.' : 'A token is stored; enter another one, or cancel to keep it.').then((token) => {
    if (token !== null) {
      storeToken(token);
      void render();
    }
  });
});

// ---- pages ----------------------------------------------------------------------------------

let current: Page | undefined;
const LOAD_ID = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let generation = 0;

function update(mutate: (params: URLSearchParams) => void, replace = false): void {
  const params = new URLSearchParams(location.search);
  mutate(params);
  navigate(withParams(location.pathname, params), replace);
}

async function render(): Promise<void> {
  const mine = ++generation;
  current?.dispose();
  current = undefined;
  const route = parseRoute(location.pathname);
  for (const link of nav.querySelectorAll('a')) {
    const active = (link.dataset.nav === '/' && route.page === 'overview') || (link.dataset.nav === '/flows' && route.page === 'flows') || (link.dataset.nav === '/alerts' && route.page === 'alerts');
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (route.page === 'not-found') {
    document.title = 'Not found · NetSpectra';
    main.replaceChildren(h('div', { class: 'page' }, h('h1', {}, 'Not found'), h('p', {}, `There is no page at ${route.path}. `, h('a', { href: '/' }, 'Go to the overview'), '.')));
    return;
  }
  main.replaceChildren(h('div', { class: 'page', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading…')));
  let tasks;
  try {
    tasks = await api.tasks();
  } catch (error) {
    if (mine !== generation) return;
    const refused = error instanceof ApiError && error.status === 401;
    main.replaceChildren(
      h(
        'div',
        { class: 'page' },
        h('h1', {}, refused ? 'The API needs a token' : 'The API did not answer'),
        errorBox(error),
        h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => (refused ? tokenButton.click() : void render()) }, refused ? 'Enter a token' : 'Try again')),
      ),
    );
    return;
  }
  if (mine !== generation) return;
  const context: PageContext = { params: new URLSearchParams(location.search), tasks, update };
  const page = route.page === 'overview' ? overviewPage(context) : route.page === 'flows' ? flowsPage(context) : route.page === 'alerts' ? alertsPage(context) : hostPage(context, route.address);
  document.title = `${route.page === 'overview' ? 'Overview' : route.page === 'flows' ? 'Flows' : route.page === 'alerts' ? 'Alerts' : route.address} · NetSpectra`;
  current = page;
  main.replaceChildren(page.element);
  window.scrollTo(0, 0);
  await page.refresh();
  // a new value per finished render (unique across reloads): tests and scripts wait for it to change
  if (mine === generation) document.body.dataset.ready = `${LOAD_ID}.${mine}`;
}

interceptLinks(document.body);
onNavigate(() => void render());
void render();
