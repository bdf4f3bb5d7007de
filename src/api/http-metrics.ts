/**
 * Request counters and latency of the HTTP API for its Prometheus `/metrics`. Labels are route
 * patterns (`/api/v1/flows`), never raw URLs, so a scanner cannot grow the label set without bound.
 * Quantiles come from a ring of the last `window` latencies per route: cheap, and honest about
 * what they are (recent requests, not all time).
 */
import { PrometheusText } from '../model/prometheus-text.js';

const QUANTILES = [0.5, 0.9, 0.99] as const;

class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #filled = 0;
  sum = 0;
  count = 0;

  constructor(size: number) {
    this.#samples = new Float64Array(size);
  }

  add(seconds: number): void {
    this.#samples[this.#next] = seconds;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.#filled = Math.min(this.#filled + 1, this.#samples.length);
    this.sum += seconds;
    this.count++;
  }

  quantiles(): number[] {
    if (this.#filled === 0) return QUANTILES.map(() => Number.NaN);
    const sorted = this.#samples.slice(0, this.#filled).sort();
    return QUANTILES.map((q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  }
}

export class HttpRequestMetrics {
  readonly #window: number;
  readonly #requests = new Map<string, { route: string; method: string; status: string; count: number }>();
  readonly #latency = new Map<string, LatencyWindow>();
  unauthorized = 0;

  constructor(window = 1024) {
    this.#window = window;
  }

  record(route: string, method: string, status: number, seconds: number): void {
    const id = `${method} ${route} ${status}`;
    const entry = this.#requests.get(id);
    if (entry === undefined) this.#requests.set(id, { route, method, status: String(status), count: 1 });
    else entry.count++;
    let window = this.#latency.get(route);
    if (window === undefined) {
      window = new LatencyWindow(this.#window);
      this.#latency.set(route, window);
    }
    window.add(seconds);
  }

  /** Prometheus text; `storeUp` is the store's health now (1 or 0). */
  render(storeUp: boolean, cache?: { hits: number; staleHits: number; misses: number }): string {
    const text = new PrometheusText();
    text.family(
      'netspectra_http_requests_total',
      'counter',
      'HTTP API requests answered, by route pattern, method and status',
      [...this.#requests.values()].map((r) => ({ value: r.count, labels: { route: r.route, method: r.method, status: r.status } })),
    );
    const latency = [...this.#latency.entries()].flatMap(([route, window]) => {
      const quantiles = window.quantiles();
      return [
        ...QUANTILES.map((q, i) => ({ value: quantiles[i]!, labels: { route, quantile: String(q) } })),
        { value: window.sum, labels: { route }, suffix: '_sum' },
        { value: window.count, labels: { route }, suffix: '_count' },
      ];
    });
    text.family('netspectra_http_request_duration_seconds', 'summary', `HTTP API request latency by route (quantiles over the last ${this.#window} requests of the route)`, latency);
    text.single('netspectra_http_unauthorized_total', 'counter', 'HTTP API requests refused for a missing or wrong token', this.unauthorized);
    if (cache !== undefined) {
      text.family('netspectra_http_query_cache_total', 'counter', 'Query answers reused (hit: fresh or shared with an identical request in flight; stale: given while renewed in the background) or asked of the store (miss)', [
        { value: cache.hits, labels: { result: 'hit' } },
        { value: cache.staleHits, labels: { result: 'stale' } },
        { value: cache.misses, labels: { result: 'miss' } },
      ]);
    }
    text.single('netspectra_store_up', 'gauge', '1 when the store answered its health check at this scrape, else 0', storeUp ? 1 : 0);
    return text.toString();
  }
}
