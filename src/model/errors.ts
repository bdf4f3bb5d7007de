/**
 * Every error NetSpectra reports to a user carries a stable code (listed with its fix in
 * docs/errors.md; a test keeps both in sync), a readable message and, where there is one, the cause.
 */

export const ErrorCodes = {
  // Capture files
  NS_ERR_CAPTURE_OPEN: 'a capture file could not be opened or read',
  NS_ERR_CAPTURE_LIVE: 'live capture could not start (interface, permission, filter or tcpdump missing)',
  NS_ERR_CAPTURE_FORMAT: 'the input is not a pcap, pcapng or gzip-compressed capture',
  NS_ERR_CAPTURE_GZIP: 'the gzip stream of a compressed capture is damaged',
  NS_ERR_PERSIST_WRITE: "the probe's persistence folder or one of its files could not be written (persistence stops, capture goes on)",
  NS_ERR_PCAP_BAD_HEADER: 'the pcap file header is invalid (version, snaplen)',
  NS_ERR_PCAP_TRUNCATED: 'the capture ends inside a record header or record data',
  NS_ERR_PCAP_RECORD_TOO_LARGE: 'a record declares a captured length larger than the limit',
  NS_ERR_PCAPNG_BAD_BLOCK: 'a pcapng block has an invalid length, trailer or byte-order magic',
  NS_ERR_PCAPNG_TRUNCATED: 'the capture ends inside a pcapng block',
  NS_ERR_PCAPNG_BAD_INTERFACE: 'a pcapng packet refers to an interface that was not described',
  // Configuration
  NS_ERR_CONFIG_READ: 'the configuration file could not be read',
  NS_ERR_CONFIG_PARSE: 'the configuration file is not valid YAML',
  NS_ERR_CONFIG_UNKNOWN_KEY: 'the configuration has a key the schema does not know',
  NS_ERR_CONFIG_INVALID_VALUE: 'a configuration value has the wrong type or is out of range',
  NS_ERR_CONFIG_ENV: 'a ${VAR} reference names an unset environment variable, or .env is malformed',
  // Command line
  NS_ERR_USAGE: 'the command line is invalid',
  // Engine
  NS_ERR_WORKER_FAILED: 'an engine worker thread failed',
  // Storage
  NS_ERR_STORE_OPEN: 'the embedded store could not be opened or created',
  NS_ERR_STORE_SCHEMA: 'the embedded store file was written with another store layout',
  NS_ERR_STORE_WRITE: 'a snapshot could not be written to a store or file writer',
  NS_ERR_SPOOL_FULL: 'a store was unreachable for so long that its local spool filled up',
  NS_ERR_CLICKHOUSE_UNREACHABLE: 'the ClickHouse server could not be reached (refused, unknown host, TLS, timeout)',
  NS_ERR_CLICKHOUSE_AUTH: 'ClickHouse refused the user name, the password or the rights of the user',
  NS_ERR_CLICKHOUSE_QUERY: 'ClickHouse refused a statement, or a value could not be bound into SQL',
  NS_ERR_CLICKHOUSE_SCHEMA: 'a ClickHouse table has a column of another type than NetSpectra writes',
  // Wire formats (NATS payloads)
  NS_ERR_WIRE_MALFORMED: 'a NATS payload is not a valid PacketInfo or packet batch message',
  NS_ERR_WIRE_VERSION: 'a packet batch message has a format version this build does not know',
  NS_ERR_WIRE_UNREPRESENTABLE: 'a packet cannot be encoded in the wire format (timestamp or family out of range)',
  // Message bus
  NS_ERR_NATS_CONNECT: 'the NATS server could not be reached',
  NS_ERR_NATS_JETSTREAM: 'a feature needing JetStream (leader election, durable mode) could not use it on the NATS server',
  // Network endpoints
  NS_ERR_LISTEN: 'a listen address could not be bound (in use, not local, or not permitted)',
  // Alerting
  NS_ERR_NOTIFY_WEBHOOK: 'a webhook did not accept a notification (refused, a 4xx answer, or 5xx/network errors on every attempt)',
  NS_ERR_NOTIFY_EMAIL: 'an alert email could not be sent (connection, TLS, login or recipients refused)',
  NS_ERR_NOTIFY_FAILED: 'a notifier failed in another way (e.g. the log notifier could not write its stream)',
  NS_ERR_NOTIFY_TIMEOUT: 'a notifier did not finish a delivery within alerter.notifiers.timeout',
  NS_ERR_NOTIFY_BACKLOG: 'a notifier fell so far behind that notifications for it were dropped',
  NS_ERR_ALERT_ANALYSIS: 'the alert analyst (AI service) failed or missed its deadline; the built-in analysis was sent instead',
  NS_ERR_ALERT_STORE: 'alert notices could not be written to a store (the notifications still went out)',
  // Query plane
  NS_ERR_QUERY_RANGE: 'a query time range is invalid (start not before end, beyond int64, too many buckets)',
  NS_ERR_QUERY_LIMIT: 'a query limit, offset or bucket size is out of range',
  NS_ERR_QUERY_FILTER: 'a query filter is invalid (IP address, port, protocol, flow key field, grouping or order)',
  NS_ERR_QUERY_TASK: 'a query names no task, a task the store does not hold, or a task of the wrong kind',
  NS_ERR_QUERY_NOT_FOUND: 'no stored flow matches the flow key of a trace',
  NS_ERR_QUERY_STORE: 'the store could not answer a query',
  NS_ERR_API_UNREACHABLE: 'the query API could not be reached (refused, unknown host, timeout)',
  NS_ERR_API_REMOTE: 'the query API answered a request with an error',
  // HTTP API (docs/http-api.md)
  NS_ERR_HTTP_REQUEST: 'an HTTP API request is malformed (bad JSON, unknown or mistyped parameter, unparsable time, body too large)',
  NS_ERR_HTTP_UNAUTHORIZED: 'an HTTP API request lacks the bearer token of api.auth_tokens, or has a wrong one',
  NS_ERR_HTTP_NOT_FOUND: 'no HTTP API route has that path and method',
  NS_ERR_HTTP_INTERNAL: 'the HTTP API failed on a request in a way it did not expect (a bug; details are in its log)',
  // AI service (docs/ai.md)
  NS_ERR_AI_NOT_CONFIGURED: 'no LLM is configured (ai.api_key or ai.base_url is empty)',
  NS_ERR_AI_INPUT: 'an AI request is empty or larger than the service accepts',
  NS_ERR_AI_UNAUTHORIZED: 'the AI service requires a token (ai.auth_token) that the request lacks or gets wrong',
  NS_ERR_AI_PROVIDER_AUTH: 'the LLM provider refused the API key or its rights (401/403)',
  NS_ERR_AI_PROVIDER_RATE_LIMIT: 'the LLM provider is rate-limiting the key or its quota is used up (429)',
  NS_ERR_AI_PROVIDER_REJECTED: 'the LLM provider rejected the request (unknown model, bad request, content filter)',
  NS_ERR_AI_PROVIDER_FAILED: 'the LLM provider failed (5xx, broken stream) or answered with nothing usable',
  NS_ERR_AI_PROVIDER_UNREACHABLE: 'the LLM provider could not be reached (refused, unknown host, TLS)',
  NS_ERR_AI_TIMEOUT: 'an LLM request took longer than ai.timeout',
  NS_ERR_AI_CANCELED: 'a prompt session was canceled (CancelPromptAnalysis, or the service stopped)',
  NS_ERR_AI_SESSION_NOT_FOUND: 'a prompt session id is unknown (never started, finished and collected, or expired)',
  NS_ERR_AI_SESSION_LIMIT: 'the AI service already runs ai.max_sessions prompt sessions',
  NS_ERR_AI_SESSION_EXPIRED: 'a prompt session outlived ai.session_ttl or was not read for ai.session_idle_timeout',
  NS_ERR_AI_SERVICE_UNREACHABLE: 'the AI service could not be reached, or its connection broke or timed out',
  NS_ERR_AI_SERVICE_ERROR: 'the AI service answered a call with an error',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Where in an input the problem was found. */
export interface ErrorLocation {
  /** File name (or stream name) of the input. */
  readonly file?: string;
  /** Byte offset in the (decompressed) input where the faulty structure starts. */
  readonly offset?: number;
  /** Configuration key path, e.g. `aggregator.sketch.tasks[1].width`. */
  readonly key?: string;
}

export class NetSpectraError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; location?: ErrorLocation } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetSpectraError';
    this.code = code;
    this.location = options.location ?? {};
  }

  /** One line for a terminal: `CODE: message`. */
  toDisplayString(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isNetSpectraError(value: unknown): value is NetSpectraError {
  return value instanceof NetSpectraError;
}

/** The message of anything thrown: an Error's message, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
