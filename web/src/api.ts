/**
 * The dashboard's client of the HTTP API (docs/http-api.md): typed answers, readable errors, and
 * the bearer token. When the API answers 401 the user is asked for a token (once for all the
 * requests that failed together); it is kept in localStorage and sent with every later request.
 */

export type KeyField = 'SrcIP' | 'DstIP' | 'SrcPort' | 'DstPort' | 'Protocol';
export type FlowKey = Partial<Record<'SrcIP' | 'DstIP', string> & Record<'SrcPort' | 'DstPort' | 'Protocol', number>>;

export interface Task {
  name: string;
  kind: 'exact' | 'heavy_hitter' | 'super_spreader';
  keyFields: KeyField[];
}

export interface RangeEcho {
  startNs: string | null;
  startMs: number | null;
  endNs: string | null;
  endMs: number | null;
}

export interface TaskTotals {
  task: string;
  bytes: number;
  packets: number;
  flows: number;
}

export interface FlowRow {
  task: string;
  key: FlowKey;
  bytes: number;
  packets: number;
  firstSeenNs: string;
  firstSeenMs: number;
  lastSeenNs: string;
  lastSeenMs: number;
}

export interface TopAnswer {
  task: string;
  by: 'bytes' | 'packets';
  groupBy: KeyField[];
  range: RangeEcho;
  flows: FlowRow[];
}

export interface FlowsAnswer {
  task: string;
  order: FlowOrder;
  dir: 'asc' | 'desc';
  limit: number;
  offset: number;
  nextOffset: number | null;
  range: RangeEcho;
  flows: FlowRow[];
}

export type FlowOrder = 'bytes' | 'packets' | 'first_seen' | 'last_seen';

export interface SketchAnswer {
  task: string;
  type: 'packets' | 'bytes' | 'spread';
  snapshotNs: string | null;
  snapshotMs: number | null;
  entries: { flow: string; value: number }[];
}

export interface SeriesPoint {
  task: string;
  startNs: string;
  startMs: number;
  bytes: number;
  packets: number;
  flows: number;
}

export interface SeriesAnswer {
  range: RangeEcho;
  bucketNs: string;
  bucketMs: number;
  points: SeriesPoint[];
}

export type AlertKind = 'firing' | 'repeat' | 'resolved';

/** One stored alert notice (docs/alerting.md "Storage"); `flow` is '' and `key` {} for task-wide alerts. */
export interface AlertRow {
  atNs: string;
  atMs: number;
  kind: AlertKind;
  id: string;
  rule: string;
  task: string;
  taskKind?: string;
  metric: string;
  operator?: string;
  threshold?: number;
  flow: string;
  key?: FlowKey;
  value: number;
  sinceNs?: string;
  sinceMs?: number;
  firedAtNs?: string | null;
  firedAtMs?: number | null;
  engineId?: string;
  source?: string;
}

/** Query parameters as docs/http-api.md names them; undefined and '' are left out. */
export type Params = Record<string, string | number | undefined>;

/** An error the API (or the network) reported, with the API's code when it gave one. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const TOKEN_KEY = 'netspectra.apiToken';

export function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token === null) localStorage.removeItem(TOKEN_KEY);
    else localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // private mode without storage: the token lives until the page closes
  }
  sessionToken = token;
}

let sessionToken: string | null = storedToken();

/** Asks the user for a token; resolves to null when they cancel. Set by the app (a dialog). */
export type TokenPrompt = (reason: string) => Promise<string | null>;
let promptForToken: TokenPrompt = async () => null;
let pendingPrompt: Promise<string | null> | undefined;

export function setTokenPrompt(prompt: TokenPrompt): void {
  promptForToken = prompt;
}

export function apiUrl(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue;
    query.set(name, String(value));
  }
  const text = query.toString();
  return `/api/v1/${path}${text === '' ? '' : `?${text}`}`;
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText || 'error'}`;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON (a proxy's error page): keep the status line
  }
  return new ApiError(response.status, code, message);
}

/** GET an API route; on 401 ask for a token and try again until it works or the user cancels. */
export async function get<T>(path: string, params: Params = {}): Promise<T> {
  const url = apiUrl(path, params);
  for (;;) {
    const tokenSent = sessionToken;
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept: 'application/json', ...(tokenSent === null ? {} : { authorization: `Bearer ${tokenSent}` }) } });
    } catch (error) {
      throw new ApiError(0, 'NETWORK', `the API did not answer (${error instanceof Error ? error.message : String(error)})`);
    }
    if (response.ok) return (await response.json()) as T;
    const error = await errorOf(response);
    if (response.status !== 401) throw error;
    // another request may already have obtained a new token while this one was in flight
    if (sessionToken !== tokenSent) continue;
    pendingPrompt ??= promptForToken(tokenSent === null ? 'The API needs a token.' : 'The API refused this token.').finally(() => {
      pendingPrompt = undefined;
    });
    const token = await pendingPrompt;
    if (token === null) throw error;
    if (sessionToken === tokenSent) storeToken(token);
  }
}

export const api = {
  tasks: () => get<{ tasks: Task[] }>('tasks').then((answer) => answer.tasks),
  aggregate: (params: Params) => get<{ range: RangeEcho; totals: TaskTotals[] }>('aggregate', params),
  top: (what: 'flows' | 'sources' | 'destinations', params: Params) => get<TopAnswer>(`top/${what}`, params),
  flows: (params: Params) => get<FlowsAnswer>('flows', params),
  series: (params: Params) => get<SeriesAnswer>('series', params),
  heavyHitters: (params: Params) => get<SketchAnswer>('heavy-hitters', params),
  superSpreaders: (params: Params) => get<SketchAnswer>('super-spreaders', params),
  alerts: (params: Params) => get<{ alerts: AlertRow[]; nextOffset: number | null }>('alerts', params),
  activeAlerts: (params: Params) => get<{ alerts: AlertRow[] }>('alerts/active', params),
  sketchSnapshots: (params: Params) => get<{ task: string; snapshots: { timeNs: string; timeMs: number; type: string; entries: number }[] }>('sketch-snapshots', params),
};
