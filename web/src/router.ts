/**
 * History routing: every page has a real URL (/, /flows?…, /alerts?…, /host/<ip>) that can be bookmarked and
 * shared; the API server answers unknown paths with index.html (SPA fallback), and this module
 * picks the page. The page's state (range, filters, sorting, page) lives in the query string, so
 * back/forward and reloads restore it.
 */

export type Route = { page: 'overview' } | { page: 'flows' } | { page: 'alerts' } | { page: 'host'; address: string } | { page: 'not-found'; path: string };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/index.html' || path === '/overview') return { page: 'overview' };
  if (path === '/flows') return { page: 'flows' };
  if (path === '/alerts') return { page: 'alerts' };
  const host = /^\/host\/([^/]+)$/.exec(path);
  if (host !== null) {
    try {
      return { page: 'host', address: decodeURIComponent(host[1]!) };
    } catch {
      return { page: 'not-found', path };
    }
  }
  return { page: 'not-found', path };
}

/** The link to a host's page; IPv6 colons are fine in a path segment. */
export function hostPath(address: string, params?: URLSearchParams): string {
  return withParams(`/host/${encodeURIComponent(address).replace(/%3A/gi, ':')}`, params);
}

export function withParams(path: string, params?: URLSearchParams): string {
  const query = params?.toString() ?? '';
  return query === '' ? path : `${path}?${query}`;
}

type Listener = () => void;
const listeners: Listener[] = [];

export function onNavigate(listener: Listener): void {
  listeners.push(listener);
}

/** Go to a URL of the dashboard without reloading. `replace` changes the state of the current entry (filters typed in a form). */
export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const listener of listeners) listener();
}

/** Same-origin links are handled here (left clicks without modifier keys), the rest by the browser. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest('a');
    if (anchor === null || anchor === undefined || anchor.target !== '' || anchor.hasAttribute('download')) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || anchor.dataset.external !== undefined) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', () => {
    for (const listener of listeners) listener();
  });
}
