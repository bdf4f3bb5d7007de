/**
 * A short-lived cache of query answers for the HTTP API, keyed by the resolved request (absolute
 * times, parsed filters). Why it is sound: a store changes only when a snapshot is written, so an
 * answer is at most one snapshot interval old anyway (docs/query.md, "Resolution"), and a DuckDB
 * file served by `netspectra api` cannot change at all while it is open. Why it is needed: a
 * dashboard shown on several screens, or Grafana panels refreshing together, ask the same
 * questions at once, and each one can scan millions of rows.
 *
 * Identical requests in flight share one store call (single flight); answers are kept for `ttlMs`;
 * failures are never kept. Bounded by `maxEntries` (oldest dropped first).
 */
import type { QueryService } from '../query/query-service.js';

export interface QueryCacheOptions {
  /**
   * How long an answer is reused (ms); 0 turns the cache off (in-flight sharing stays).
   * @default 2000
   */
  ttlMs?: number;
  /**
   * Most answers kept.
   * @default 1000
   */
  maxEntries?: number;
  /** The clock; tests pass their own. */
  nowMs?: () => number;
}

export class QueryCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #nowMs: () => number;
  readonly #answers = new Map<string, { at: number; value: Promise<unknown> }>();
  readonly #inFlight = new Map<string, Promise<unknown>>();
  hits = 0;
  misses = 0;

  constructor(options: QueryCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 2000;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** The answer of `compute` for `key`: reused while fresh, shared while in flight. */
  async get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const now = this.#nowMs();
    const cached = this.#answers.get(key);
    if (cached !== undefined) {
      if (now - cached.at < this.#ttlMs) {
        this.hits++;
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
    const value = compute();
    this.#inFlight.set(key, value);
    try {
      const result = await value;
      if (this.#ttlMs > 0) {
        this.#answers.set(key, { at: this.#nowMs(), value });
        while (this.#answers.size > this.#maxEntries) this.#answers.delete(this.#answers.keys().next().value!);
      }
      return result;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  clear(): void {
    this.#answers.clear();
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

/** The query service's questions through the cache; health is always asked afresh. */
export function cachedQueries(service: QueryService, cache: QueryCache): QueryMethods {
  return {
    health: () => service.health(),
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
