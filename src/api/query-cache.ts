/**
 * A short-lived cache of query answers for the HTTP API, keyed by the resolved request (absolute
 * times, parsed filters). Why it is sound: a store changes only when a snapshot is written, so an
 * answer is at most one snapshot interval old anyway (docs/query.md, "Resolution"), and a DuckDB
 * file served by `netspectra api` cannot change at all while it is open. Why it is needed: a
 * dashboard shown on several screens, or Grafana panels refreshing together, ask the same
 * questions at once, and each one can scan millions of rows.
 *
 * Identical requests in flight share one store call (single flight); answers are fresh for
 * `ttlMs`, and beyond it while the store's version (FlowQueryStore.version) is unchanged — a file
 * served read-only never changes, `serve`'s store changes at each snapshot; for `staleMs` after that an answer is still given at once while one store call in the
 * background renews it (stale-while-revalidate), so panels that refresh every few seconds never
 * wait for a scan after the first. Failures are never kept (a failed renewal leaves the old answer
 * to its stale window). Bounded by `maxEntries` (oldest dropped first).
 */
import type { QueryService } from '../query/query-service.js';

export interface QueryCacheOptions {
  /**
   * How long an answer is fresh (ms); 0 turns the cache off (in-flight sharing stays).
   * @default 2000
   */
  ttlMs?: number;
  /**
   * How long after that an answer is still given while it is renewed in the background (ms); 0:
   * an expired answer is asked again and waited for.
   * @default 10000
   */
  staleMs?: number;
  /**
   * Most answers kept.
   * @default 1000
   */
  maxEntries?: number;
  /** The clock; tests pass their own. */
  nowMs?: () => number;
  /**
   * The store's version (FlowQueryStore.version): an answer stays fresh past its TTL while the
   * version it was asked at is still the store's, since nothing it depends on has changed.
   */
  version?: () => number | undefined;
}

interface Answer {
  at: number;
  version: number | undefined;
  value: Promise<unknown>;
}

export class QueryCache {
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #maxEntries: number;
  readonly #nowMs: () => number;
  readonly #version: () => number | undefined;
  readonly #answers = new Map<string, Answer>();
  readonly #inFlight = new Map<string, Promise<unknown>>();
  hits = 0;
  misses = 0;
  /** Answers given stale while being renewed (not in hits; their renewals are misses). */
  staleHits = 0;

  constructor(options: QueryCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 2000;
    this.#staleMs = this.#ttlMs > 0 ? (options.staleMs ?? 10_000) : 0;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#version = options.version ?? (() => undefined);
  }

  /**
   * The answer of `compute` for `key`: reused while fresh, given and renewed while stale, shared
   * while in flight. `health`: fresh for the TTL alone whatever the version says, and given stale
   * for one more TTL at most — a store that went away shows within two TTLs.
   */
  async get<T>(key: string, compute: () => Promise<T>, health = false): Promise<T> {
    const now = this.#nowMs();
    const cached = this.#answers.get(key);
    if (cached !== undefined) {
      const age = now - cached.at;
      if (age < this.#ttlMs || (!health && cached.version !== undefined && cached.version === this.#version())) {
        this.hits++;
        return cached.value as Promise<T>;
      }
      if (age < this.#ttlMs + (health ? Math.min(this.#ttlMs, this.#staleMs) : this.#staleMs)) {
        this.staleHits++;
        if (!this.#inFlight.has(key)) {
          this.misses++;
          // a failed renewal is not kept and not reported here: the next request past the stale window asks and sees it
          this.#compute(key, compute).catch(() => undefined);
        }
        return cached.value as Promise<T>;
      }
      this.#answers.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      this.hits++;
      return pending as Promise<T>;
    }
    this.misses++;
    return this.#compute(key, compute);
  }

  clear(): void {
    this.#answers.clear();
  }

  async #compute<T>(key: string, compute: () => Promise<T>): Promise<T> {
    // the version before asking: a change while the store answers makes this answer stale
    const version = this.#version();
    const value = compute();
    this.#inFlight.set(key, value);
    try {
      const result = await value;
      if (this.#ttlMs > 0) {
        this.#answers.delete(key);
        this.#answers.set(key, { at: this.#nowMs(), version, value });
        while (this.#answers.size > this.#maxEntries) this.#answers.delete(this.#answers.keys().next().value!);
      }
      return result;
    } finally {
      this.#inFlight.delete(key);
    }
  }
}

/** A cache key for a request object: bigints as text, keys in a stable order. */
export function cacheKey(method: string, request: unknown): string {
  return `${method} ${JSON.stringify(request, (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  })}`;
}

/** What the HTTP routes ask of the query service. */
export type QueryMethods = Pick<QueryService, 'health' | 'tasks' | 'aggregateFlows' | 'traceFlow' | 'heavyHitters' | 'sketchSnapshots' | 'top' | 'search' | 'series' | 'alerts' | 'activeAlerts'>;

/**
 * The query service's questions through the cache. Health too, by its age only: a monitor or a
 * dashboard polling it many times a second asks the store about once per TTL, and a store that
 * went away shows within two TTLs. (/readyz asks afresh.)
 */
export function cachedQueries(service: QueryService, cache: QueryCache): QueryMethods {
  return {
    health: () => cache.get('health', () => service.health(), true),
    tasks: () => cache.get('tasks', () => service.tasks()),
    aggregateFlows: (request) => cache.get(cacheKey('aggregate', request), () => service.aggregateFlows(request)),
    traceFlow: (request) => cache.get(cacheKey('trace', request), () => service.traceFlow(request)),
    heavyHitters: (request) => cache.get(cacheKey('heavyHitters', request), () => service.heavyHitters(request)),
    sketchSnapshots: (request) => cache.get(cacheKey('sketchSnapshots', request), () => service.sketchSnapshots(request)),
    top: (request) => cache.get(cacheKey('top', request), () => service.top(request)),
    search: (request) => cache.get(cacheKey('search', request), () => service.search(request)),
    series: (request) => cache.get(cacheKey('series', request), () => service.series(request)),
    alerts: (request) => cache.get(cacheKey('alerts', request), () => service.alerts(request)),
    activeAlerts: (request) => cache.get(cacheKey('activeAlerts', request), () => service.activeAlerts(request)),
  };
}
