/**
 * A few DOM helpers instead of a framework: pages are rebuilt from data on every load, which is
 * simple and fast enough for tables of at most a few hundred rows.
 */
import { formatBitRate, formatBytes, formatCount, formatPacketRate, formatPrecise, formatTimeNs } from './format.js';

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | null | EventListener>;

/** h('a', { href: '/flows', class: 'link' }, 'text', child): attributes starting with "on" are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(element: Element): void {
  element.replaceChildren();
}

export type NumberKind = 'count' | 'bytes' | 'bitRate' | 'packetRate';

/**
 * A number as people read it, with the exact value in data-value (what the API said, or the exact
 * rate computed from it) and in the title.
 */
export function num(value: number, kind: NumberKind = 'count', exact: string = String(value)): HTMLSpanElement {
  const text = kind === 'bytes' ? formatBytes(value) : kind === 'bitRate' ? formatBitRate(value) : kind === 'packetRate' ? formatPacketRate(value) : formatCount(value);
  const unit = kind === 'bytes' ? ' bytes' : kind === 'bitRate' ? ' bit/s' : kind === 'packetRate' ? ' packets/s' : '';
  const title = `${Number.isInteger(value) ? formatCount(value) : formatPrecise(value)}${unit}`;
  return h('span', { class: 'num', 'data-value': exact, 'data-kind': kind, title }, text);
}

/** A time given in ns since the epoch (decimal text), printed in UTC with the exact ns in data-value. */
export function time(ns: string, withZone = true): HTMLTimeElement {
  const text = withZone ? formatTimeNs(ns) : formatTimeNs(ns).replace(/ UTC$/, '');
  const iso = /^\d+$/.test(ns) ? new Date(Number(BigInt(ns) / 1_000_000n)).toISOString() : '';
  return h('time', { 'data-value': ns, datetime: iso, title: `${ns} ns since the epoch` }, text);
}

/** A panel with a heading and a body that shows loading, empty and error states. */
export class Panel {
  readonly element: HTMLElement;
  readonly body: HTMLDivElement;

  constructor(title: string, id: string, extraClass = '') {
    this.body = h('div', { class: 'panel-body' });
    this.element = h('section', { class: `panel ${extraClass}`.trim(), id, 'data-state': 'loading', 'aria-busy': 'true' }, h('h2', {}, title), this.body);
    this.loading();
  }

  loading(): void {
    // keep the previous content while refreshing, so that auto-refresh does not flicker
    const refreshing = this.element.dataset.state === 'ready' || this.element.dataset.state === 'refreshing';
    this.element.dataset.state = refreshing ? 'refreshing' : 'loading';
    this.element.setAttribute('aria-busy', 'true');
    if (!refreshing) this.body.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  }

  show(...children: Child[]): void {
    this.element.dataset.state = 'ready';
    this.element.removeAttribute('aria-busy');
    this.body.replaceChildren();
    append(this.body, ...children);
  }

  empty(message: string, ...more: Child[]): void {
    this.element.dataset.state = 'empty';
    this.element.removeAttribute('aria-busy');
    this.body.replaceChildren(h('p', { class: 'empty' }, message, ...more));
  }

  error(error: unknown): void {
    this.element.dataset.state = 'error';
    this.element.removeAttribute('aria-busy');
    this.body.replaceChildren(errorBox(error));
  }
}

/** An error as a reader wants it: the code (when the API gave one) and the message, never a stack. */
export function errorBox(error: unknown): HTMLElement {
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return h('div', { class: 'error', role: 'alert' }, code === undefined ? null : h('code', {}, code), ' ', message);
}
