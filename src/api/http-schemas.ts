/**
 * Every JSON schema of the HTTP API's routes, in one module: the query strings and bodies fastify
 * validates (unknown parameters refused), the answers it serialises, and the tags and summaries
 * that make up /openapi.json. The route plugins only name their schema here, so the API's shape
 * can be read (and reviewed against docs/http-api.md) in one place.
 *
 * Changing a schema changes validation, serialisation and the OpenAPI document together: fields
 * missing from a response schema are dropped from the answer.
 */

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Query-string text values: bounded, so that nothing huge reaches a parser or a message. */
export const text = (description: string, maxLength = 256): Record<string, unknown> => ({ type: 'string', minLength: 1, maxLength, description });

export const TIME_DESCRIPTION = 'RFC 3339, unix seconds (≤ 11 digits), ms (12–15 digits) or ns (16–19 digits), now, or -15m / now-6h';

export const RANGE_PROPERTIES = {
  start: text(`range start, exclusive: ${TIME_DESCRIPTION}`, 64),
  end: text(`range end, inclusive: ${TIME_DESCRIPTION}`, 64),
} as const;

export const FILTER_PROPERTIES = {
  src_ip: text('source address (IPv4 or IPv6 text)', 64),
  dst_ip: text('destination address (IPv4 or IPv6 text)', 64),
  src_port: { type: 'integer', minimum: 0, maximum: 65535, description: 'source port' },
  dst_port: { type: 'integer', minimum: 0, maximum: 65535, description: 'destination port' },
  protocol: { type: 'integer', minimum: 0, maximum: 255, description: 'IP protocol number (6 TCP, 17 UDP)' },
} as const;

export const TASK_PROPERTY = { task: text('task name (GET /api/v1/tasks lists them)') } as const;

export const limitProperty = (fallback: number): Record<string, unknown> => ({ type: 'integer', minimum: 1, maximum: 10_000, default: fallback, description: 'rows to return' });

export const nsString = { type: 'string', pattern: '^[0-9]+$', description: 'nanoseconds since the epoch, as a decimal string' } as const;
export const nsStringOrNull = { type: ['string', 'null'], description: 'nanoseconds since the epoch, as a decimal string; null when absent' } as const;
export const msNumber = { type: 'integer', description: 'milliseconds since the epoch' } as const;
export const msNumberOrNull = { type: ['integer', 'null'], description: 'milliseconds since the epoch; null when absent' } as const;

export const RANGE_SCHEMA = {
  type: 'object',
  description: 'the range as resolved: (start, end]; null = open',
  properties: { startNs: nsStringOrNull, startMs: msNumberOrNull, endNs: nsStringOrNull, endMs: msNumberOrNull },
  required: ['startNs', 'startMs', 'endNs', 'endMs'],
} as const;

export const KEY_SCHEMA = {
  type: 'object',
  description: "the flow key: the task's key fields (or the grouped ones)",
  properties: {
    SrcIP: { type: 'string' },
    DstIP: { type: 'string' },
    SrcPort: { type: 'integer' },
    DstPort: { type: 'integer' },
    Protocol: { type: 'integer' },
  },
} as const;

export const FLOW_ROW_SCHEMA = {
  type: 'object',
  properties: {
    task: { type: 'string' },
    key: KEY_SCHEMA,
    bytes: { type: 'number' },
    packets: { type: 'number' },
    firstSeenNs: nsString,
    firstSeenMs: msNumber,
    lastSeenNs: nsString,
    lastSeenMs: msNumber,
  },
  required: ['task', 'key', 'bytes', 'packets', 'firstSeenNs', 'firstSeenMs', 'lastSeenNs', 'lastSeenMs'],
} as const;

export const ERROR_SCHEMA = {
  type: 'object',
  description: 'every error: a NetSpectra code (docs/errors.md) and a readable message',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** Standard error answers of a data route, for the OpenAPI document. */
export const ERROR_RESPONSES = {
  400: { ...ERROR_SCHEMA, description: 'invalid request (NS_ERR_HTTP_REQUEST, NS_ERR_QUERY_*)' },
  401: { ...ERROR_SCHEMA, description: 'token missing or wrong (NS_ERR_HTTP_UNAUTHORIZED)' },
  503: { ...ERROR_SCHEMA, description: 'the store failed or did not answer in time' },
} as const;

/** A query string of exactly these parameters. */
const querystring = (properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> => ({
  type: 'object',
  properties,
  ...(required.length === 0 ? {} : { required }),
  additionalProperties: false,
});

/** A 200 answer of these properties (all required unless told), and the standard errors. */
const ok = (description: string, properties: Record<string, unknown>, required = Object.keys(properties)): Record<string, unknown> => ({
  200: { description, type: 'object', properties, required },
  ...ERROR_RESPONSES,
});

// ---------------------------------------------------------------------------------------------
// Service routes: liveness, readiness, this document, Prometheus

const SERVICE_TAGS = ['service'];

export const SERVICE_SCHEMAS = {
  healthz: { tags: SERVICE_TAGS, summary: 'Liveness', security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
  readyz: {
    tags: SERVICE_TAGS,
    summary: 'Readiness: the store answers',
    security: [],
    response: { 200: { type: 'object', properties: { status: { type: 'string' }, store: { type: 'string' } } }, 503: ERROR_RESPONSES[503] },
  },
  /** The "dashboard not built" page at `/`: not part of the API's document. */
  notBuiltPage: { hide: true },
  openapi: { tags: SERVICE_TAGS, summary: 'This OpenAPI document' },
  metrics: { tags: SERVICE_TAGS, summary: 'Prometheus metrics (text format 0.0.4)', produces: ['text/plain'] },
};

// ---------------------------------------------------------------------------------------------
// REST under /api/v1

const REST_TAGS = ['rest'];

/** The sketch lists' `type` names, by the query service's list type (0, 1, 2). */
export const SKETCH_TYPE_NAMES = ['packets', 'bytes', 'spread'] as const;

/** The sort keys of GET /api/v1/flows. */
export const FLOW_ORDERS = ['bytes', 'packets', 'first_seen', 'last_seen'] as const;
export type FlowOrder = (typeof FLOW_ORDERS)[number];

const ALERT_KINDS = ['firing', 'repeat', 'resolved'];

const sketchListResponse = ok('the newest list in the range', {
  task: { type: 'string' },
  type: { type: 'string', enum: [...SKETCH_TYPE_NAMES] },
  snapshotNs: nsStringOrNull,
  snapshotMs: msNumberOrNull,
  entries: {
    type: 'array',
    items: { type: 'object', properties: { flow: { type: 'string' }, value: { type: 'number' } }, required: ['flow', 'value'] },
  },
});

const ALERT_ROW_SCHEMA = {
  type: 'object',
  properties: {
    atNs: nsString,
    atMs: msNumber,
    kind: { type: 'string', enum: ALERT_KINDS },
    id: { type: 'string' },
    rule: { type: 'string' },
    task: { type: 'string' },
    taskKind: { type: 'string' },
    metric: { type: 'string' },
    operator: { type: 'string' },
    threshold: { type: 'number' },
    flow: { type: 'string', description: "the offending flow key as text; '' for a task-wide alert" },
    key: KEY_SCHEMA,
    value: { type: 'number' },
    sinceNs: nsString,
    sinceMs: msNumber,
    firedAtNs: nsStringOrNull,
    firedAtMs: msNumberOrNull,
    evidence: { type: 'array', items: { type: 'object', additionalProperties: true } },
    runId: { type: 'string' },
    engineId: { type: 'string' },
    source: { type: 'string' },
  },
  required: ['atNs', 'atMs', 'kind', 'id', 'rule', 'task', 'metric', 'flow', 'value'],
} as const;

const ALERT_FILTERS = {
  rule: text('only this rule'),
  task: text('only rules on this task'),
} as const;

export const REST_SCHEMAS = {
  health: {
    tags: REST_TAGS,
    summary: "The store's health, as Thrift HealthCheck reports it",
    querystring: querystring({}),
    response: ok('health', { ok: { type: 'boolean' }, status: { type: 'string', description: 'SERVING or NOT_SERVING: <why>' } }),
  },
  tasks: {
    tags: REST_TAGS,
    summary: 'Every stored task with its kind and key fields',
    querystring: querystring({}),
    response: ok('tasks', {
      tasks: {
        type: 'array',
        items: {
          type: 'object',
          properties: { name: { type: 'string' }, kind: { type: 'string', enum: ['exact', 'heavy_hitter', 'super_spreader'] }, keyFields: { type: 'array', items: { type: 'string' } } },
          required: ['name', 'kind', 'keyFields'],
        },
      },
    }),
  },
  aggregate: {
    tags: REST_TAGS,
    summary: 'AggregateFlows: bytes, packets and flows per exact task over a range',
    querystring: querystring({ ...TASK_PROPERTY, ...RANGE_PROPERTIES, ...FILTER_PROPERTIES }),
    response: ok('totals per task', {
      range: RANGE_SCHEMA,
      totals: {
        type: 'array',
        items: {
          type: 'object',
          properties: { task: { type: 'string' }, bytes: { type: 'number' }, packets: { type: 'number' }, flows: { type: 'number' } },
          required: ['task', 'bytes', 'packets', 'flows'],
        },
      },
    }),
  },
  trace: {
    tags: REST_TAGS,
    summary: "TraceFlow: one flow's lifetime and totals across periods and runs",
    description: 'The flow key is given by the filter parameters (at least one, each in the task key). 404 NS_ERR_QUERY_NOT_FOUND when no flow matches.',
    querystring: querystring({ ...TASK_PROPERTY, ...RANGE_PROPERTIES, ...FILTER_PROPERTIES }, ['task']),
    response: {
      ...ok('the flow', {
        task: { type: 'string' },
        key: KEY_SCHEMA,
        firstSeenNs: nsString,
        firstSeenMs: msNumber,
        lastSeenNs: nsString,
        lastSeenMs: msNumber,
        packets: { type: 'number' },
        bytes: { type: 'number' },
      }),
      404: { ...ERROR_RESPONSES[400], description: 'no flow matches (NS_ERR_QUERY_NOT_FOUND)' },
    },
  },
  heavyHitters: {
    tags: REST_TAGS,
    summary: "A heavy-hitter task's list (by packets or bytes) of the newest snapshot in the range",
    querystring: querystring(
      { ...TASK_PROPERTY, type: { type: 'string', enum: ['packets', 'bytes'], default: 'packets', description: 'rank by packets or bytes' }, limit: limitProperty(10), ...RANGE_PROPERTIES },
      ['task'],
    ),
    response: sketchListResponse,
  },
  superSpreaders: {
    tags: REST_TAGS,
    summary: "A SuperSpread task's list of the newest snapshot in the range",
    querystring: querystring({ ...TASK_PROPERTY, limit: limitProperty(10), ...RANGE_PROPERTIES }, ['task']),
    response: sketchListResponse,
  },
  sketchSnapshots: {
    tags: REST_TAGS,
    summary: "A sketch task's snapshots in the range, newest first",
    querystring: querystring({ ...TASK_PROPERTY, limit: limitProperty(10), ...RANGE_PROPERTIES }, ['task']),
    response: ok('snapshots', {
      task: { type: 'string' },
      snapshots: {
        type: 'array',
        items: {
          type: 'object',
          properties: { timeNs: nsString, timeMs: msNumber, type: { type: 'string', enum: [...SKETCH_TYPE_NAMES] }, entries: { type: 'integer' } },
          required: ['timeNs', 'timeMs', 'type', 'entries'],
        },
      },
    }),
  },
  alerts: {
    tags: REST_TAGS,
    summary: 'Stored alert notices in the range, newest first',
    querystring: querystring({
      ...RANGE_PROPERTIES,
      ...ALERT_FILTERS,
      kind: { type: 'string', enum: ALERT_KINDS },
      flow: { type: 'string', maxLength: 256, description: "the offending flow key as text; '' selects task-wide alerts" },
      limit: limitProperty(100),
      offset: { type: 'integer', minimum: 0, maximum: 10_000, default: 0 },
    }),
    response: ok('alert notices', { alerts: { type: 'array', items: ALERT_ROW_SCHEMA }, nextOffset: { type: ['integer', 'null'] } }),
  },
  activeAlerts: {
    tags: REST_TAGS,
    summary: 'Alerts whose newest notice (by `end`, default all stored) is not a resolve: what is firing',
    querystring: querystring({ end: RANGE_PROPERTIES.end, ...ALERT_FILTERS, limit: limitProperty(100) }),
    response: ok('active alerts', { alerts: { type: 'array', items: ALERT_ROW_SCHEMA } }),
  },
  flows: {
    tags: REST_TAGS,
    summary: 'Flow search: filters, sorting and paging',
    querystring: querystring(
      {
        ...TASK_PROPERTY,
        order: { type: 'string', enum: [...FLOW_ORDERS], default: 'bytes', description: 'sort key' },
        dir: { type: 'string', enum: ['asc', 'desc'], default: 'desc', description: 'sort direction' },
        limit: limitProperty(100),
        offset: { type: 'integer', minimum: 0, maximum: 10_000, default: 0, description: 'rows to skip' },
        group_by: text('comma-separated key fields to group by (default: the whole key)', 64),
        ...RANGE_PROPERTIES,
        ...FILTER_PROPERTIES,
      },
      ['task'],
    ),
    response: ok('one page of flows', {
      task: { type: 'string' },
      order: { type: 'string' },
      dir: { type: 'string' },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
      nextOffset: { type: ['integer', 'null'], description: 'offset of the next page; null after the last' },
      range: RANGE_SCHEMA,
      flows: { type: 'array', items: FLOW_ROW_SCHEMA },
    }),
  },
  series: {
    tags: REST_TAGS,
    summary: 'Bytes, packets and flows per bucket of (start, end], every bucket present',
    querystring: querystring(
      {
        ...TASK_PROPERTY,
        ...RANGE_PROPERTIES,
        bucket: text('bucket size: a Go duration (10s, 5m) or milliseconds', 32),
        ...FILTER_PROPERTIES,
      },
      ['start'],
    ),
    response: ok('the series', {
      range: RANGE_SCHEMA,
      bucketNs: nsString,
      bucketMs: { type: 'number' },
      points: {
        type: 'array',
        items: {
          type: 'object',
          properties: { task: { type: 'string' }, startNs: nsString, startMs: msNumber, bytes: { type: 'number' }, packets: { type: 'number' }, flows: { type: 'number' } },
          required: ['task', 'startNs', 'startMs', 'bytes', 'packets', 'flows'],
        },
      },
    }),
  },
};

/**
 * A top route: `/top/flows` takes `group_by`, `/top/sources` and `/top/destinations` group by a
 * fixed field and refuse it. A function, since each route needs its own summary and parameters.
 */
export function topSchema(fixedGroupBy: string | undefined, summary: string): Record<string, unknown> {
  return {
    tags: REST_TAGS,
    summary,
    querystring: querystring(
      {
        ...TASK_PROPERTY,
        by: { type: 'string', enum: ['bytes', 'packets'], default: 'bytes', description: 'rank by bytes or packets' },
        limit: limitProperty(10),
        ...(fixedGroupBy === undefined ? { group_by: text('comma-separated key fields to group by, e.g. SrcIP,DstPort (default: the whole key)', 64) } : {}),
        ...RANGE_PROPERTIES,
        ...FILTER_PROPERTIES,
      },
      ['task'],
    ),
    response: ok('the largest flows or groups', {
      task: { type: 'string' },
      by: { type: 'string' },
      groupBy: { type: ['array', 'null'], items: { type: 'string' } },
      range: RANGE_SCHEMA,
      flows: { type: 'array', items: FLOW_ROW_SCHEMA },
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Grafana: the original's POST /query and the JSON datasource protocol under /grafana

const GRAFANA_TAGS = ['grafana'];

/** The ad-hoc filter keys (Grafana's tag keys), as the plugin names them. */
export const GRAFANA_TAG_KEYS = ['src_ip', 'dst_ip', 'src_port', 'dst_port', 'protocol'] as const;
export type GrafanaTagKey = (typeof GRAFANA_TAG_KEYS)[number];

const RANGE_BODY = {
  type: 'object',
  properties: { from: { type: 'string', minLength: 1, maxLength: 64 }, to: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['from', 'to'],
} as const;

const PAYLOAD = { type: ['object', 'string'], maxProperties: 32, maxLength: 4096, description: 'free-form JSON of the target (see docs/http-api.md)' } as const;

const QUERY_BODY = {
  type: 'object',
  properties: {
    targets: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        properties: {
          target: { type: 'string', maxLength: 256 },
          refId: { type: 'string', maxLength: 64 },
          hide: { type: 'boolean' },
          payload: PAYLOAD,
        },
      },
    },
    range: RANGE_BODY,
    intervalMs: { type: 'number', minimum: 0 },
    maxDataPoints: { type: 'integer', minimum: 1 },
    adhocFilters: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        properties: { key: { type: 'string', maxLength: 64 }, operator: { type: 'string', maxLength: 8 }, value: { type: 'string', maxLength: 256 } },
        required: ['key', 'operator', 'value'],
      },
    },
  },
  required: ['targets', 'range'],
} as const;

const grafanaQuery = {
  tags: GRAFANA_TAGS,
  summary: 'Grafana query: time series and tables (simpod-json-datasource), or the original: a task name → bytes per bucket',
  body: QUERY_BODY,
  response: { 200: { type: 'array', description: '[{target, datapoints: [[value, epochMs]…]}] or [{type: "table", columns, rows}]' }, ...ERROR_RESPONSES },
};

const grafanaHealth = {
  tags: GRAFANA_TAGS,
  summary: "The plugin's Test connection: 200 with the store's status (needs the token)",
  response: { 200: { type: 'object', properties: { status: { type: 'string' }, store: { type: 'string' } } }, ...ERROR_RESPONSES },
};

export const GRAFANA_SCHEMAS = {
  /** The root `POST /query`: the same request and answer as `/grafana/query`. */
  originalQuery: { ...grafanaQuery, summary: "The original's Grafana endpoint (the same handler as POST /grafana/query)" },
  query: grafanaQuery,
  health: grafanaHealth,
  /** `/grafana/`: the plugin's URL with a slash; the same answer, left out of the document. */
  healthSlash: { ...grafanaHealth, hide: true },
  metrics: { tags: GRAFANA_TAGS, summary: 'The metrics (targets) and their payload fields', body: { type: ['object', 'null'] } },
  metricPayloadOptions: {
    tags: GRAFANA_TAGS,
    summary: 'Options of a select payload field',
    body: { type: 'object', properties: { metric: { type: 'string', maxLength: 64 }, name: { type: 'string', maxLength: 64 }, payload: PAYLOAD }, required: ['name'] },
  },
  variable: {
    tags: GRAFANA_TAGS,
    summary: 'Values of a query variable: tasks, exact_tasks, heavy_hitter_tasks, super_spreader_tasks, key_fields',
    body: { type: 'object', properties: { payload: PAYLOAD, target: { type: 'string', maxLength: 64 }, range: RANGE_BODY } },
  },
  tagKeys: { tags: GRAFANA_TAGS, summary: 'Keys of ad-hoc filters', body: { type: ['object', 'null'] } },
  tagValues: {
    tags: GRAFANA_TAGS,
    summary: 'Values of an ad-hoc filter key: the most frequent in the top flows by bytes of the exact tasks',
    body: { type: 'object', properties: { key: { type: 'string', enum: [...GRAFANA_TAG_KEYS] }, range: RANGE_BODY }, required: ['key'] },
  },
};
