/**
 * The typed configuration every component receives. Field names are the camelCase forms of the
 * original's YAML keys (`size_thereshold` → `sizeThreshold`; the YAML keeps the original's spelling,
 * typos included, so its configs keep loading). Durations are milliseconds.
 *
 * `loadConfig` returns this object deeply frozen: treat every array and object as read-only.
 * The `@default` of each field is the value used when the key is absent from the YAML; the built-in
 * task and writer lists used when no config file is given are in `defaults.ts`.
 */
import type { AlertMetric, AlertOperator } from '../model/alert.js';

/** The packet fields a flow key or an element key can be built from. */
export type KeyField = 'SrcIP' | 'DstIP' | 'SrcPort' | 'DstPort' | 'Protocol';

/** Canonical order of the key fields (the order the engine lays them out in a key). */
export const KEY_FIELDS: readonly KeyField[] = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'];

/** The two task groups the engine can run side by side. */
export type AggregatorType = 'exact' | 'sketch';
export const AGGREGATOR_TYPES: readonly AggregatorType[] = ['exact', 'sketch'];

export type WriterType = 'clickhouse' | 'gob' | 'text' | 'duckdb';
export const WRITER_TYPES: readonly WriterType[] = ['clickhouse', 'gob', 'text', 'duckdb'];

export type PersistenceEncoding = 'text' | 'gob' | 'pcap';
export const PERSISTENCE_ENCODINGS: readonly PersistenceEncoding[] = ['text', 'gob', 'pcap'];

export const ALERT_OPERATORS: readonly AlertOperator[] = ['>', '<', '=', '>=', '<='];

/** Which metrics each kind of task can answer; the loader rejects a rule that mixes them up. */
export const ALERT_METRICS_BY_TASK_KIND: Readonly<Record<'exact' | 'heavyHitter' | 'superSpread', readonly AlertMetric[]>> = {
  exact: ['total_packets', 'total_bytes', 'total_flows', 'bytes_per_second', 'packets_per_second', 'new_flows'],
  heavyHitter: ['heavy_hitter_count', 'heavy_hitter_size'],
  superSpread: ['super_spreader_spread'],
};

export interface NetSpectraConfig {
  /** Query gateway (YAML `api`). */
  api: ApiConfig;
  /** LLM gateway (YAML `ai`). */
  ai: AiConfig;
  /** Live capture and publishing (YAML `probe`). */
  probe: ProbeConfig;
  /** Rule evaluation and notification (YAML `alerter`). */
  alerter: AlerterConfig;
  /** Email notifier (YAML `smtp`). */
  smtp: SmtpConfig;
  /** Task groups, their writers and the worker pool (YAML `aggregator`). */
  aggregator: AggregatorConfig;
}

export interface ApiConfig {
  /**
   * `host:port` of the Thrift QueryService (YAML `rpc_listen_addr`; the older `grpc_listen_addr` is
   * accepted too). Loopback by default because the API has no authentication; set `0.0.0.0:50051`
   * deliberately to expose it.
   * @default "127.0.0.1:50051"
   */
  rpcListenAddr: string;
  /**
   * `host:port` of the HTTP API (REST, Grafana, dashboard) (YAML `http_listen_addr`).
   * @default "127.0.0.1:8080"
   */
  httpListenAddr: string;
  /**
   * PEM certificate (chain) file: when set, with `rpcTlsKeyFile`, the Thrift QueryService speaks
   * TLS instead of plain TCP (YAML `rpc_tls_cert_file`; new, the original had no TLS).
   * @default ""
   */
  rpcTlsCertFile: string;
  /**
   * PEM private key file of `rpcTlsCertFile` (YAML `rpc_tls_key_file`).
   * @default ""
   */
  rpcTlsKeyFile: string;
  /**
   * Bearer tokens of the HTTP API (YAML `auth_tokens`; new, the original had no auth). When any is
   * set, every HTTP route but /healthz, /readyz and the dashboard's files needs
   * `Authorization: Bearer <one of them>`. Give them as `${VAR}`, never literally; empty items (an
   * unset `${VAR:-}`) are dropped. 16 to 512 printable ASCII characters each.
   * @default []
   */
  authTokens: string[];
  /**
   * Origins whose browser pages may call the HTTP API (YAML `cors_origins`; new): e.g. a Grafana
   * whose JSON datasource uses browser access, `https://grafana.example.com:3000`. Each is
   * `scheme://host[:port]` exactly as browsers send it, or `*` for any. Empty: no CORS headers, so
   * only pages of the API's own origin (its dashboard) can read its answers.
   * @default []
   */
  corsOrigins: string[];
}

export interface AiConfig {
  /**
   * LLM provider; `openai` means any OpenAI-compatible chat-completions endpoint (YAML `provider`).
   * @default "openai"
   */
  provider: string;
  /**
   * API key of the provider (YAML `api_key`). Give it as `${AI_API_KEY}`, never literally.
   * @default ""
   */
  apiKey: string;
  /**
   * Model name sent to the provider (YAML `model`).
   * @default "gemini-2.5-flash"
   */
  model: string;
  /**
   * Base URL of the OpenAI-compatible API (YAML `base_url`).
   * @default "https://generativelanguage.googleapis.com/v1beta/openai/"
   */
  baseUrl: string;
  /**
   * `host:port` of the Thrift AIService (YAML `rpc_listen_addr`, or the older `grpc_listen_addr`).
   * @default "127.0.0.1:50052"
   */
  rpcListenAddr: string;
  /**
   * Time one LLM request may take, per attempt (YAML `timeout`, a Go duration; new).
   * @default 60000 (`"60s"`)
   */
  timeoutMs: number;
  /**
   * Retries of a failed LLM request (connection errors, 408/409/429/5xx), with backoff (YAML `max_retries`, new).
   * @default 2
   */
  maxRetries: number;
  /**
   * Shared secret the AI service requires in front of every AnalyzeTraffic input and
   * StartPromptAnalysis prompt (`NSAUTH <token>` and a newline; docs/ai.md); empty means no token.
   * Clients (`netspectra ask`, the alerter) send the same value. Give it as `${AI_AUTH_TOKEN}`
   * (YAML `auth_token`, new).
   * @default ""
   */
  authToken: string;
  /**
   * Prompt sessions (StartPromptAnalysis) running at once; more are refused (YAML `max_sessions`, new).
   * @default 16
   */
  maxSessions: number;
  /**
   * Chunks a session buffers for its reader; when full, the upstream stream is paused until the
   * client reads (YAML `max_buffered_chunks`, new).
   * @default 1024
   */
  maxBufferedChunks: number;
  /**
   * Longest life of a prompt session; a session still running then is aborted, upstream call
   * included (YAML `session_ttl`, a Go duration; new).
   * @default 600000 (`"10m"`)
   */
  sessionTtlMs: number;
  /**
   * A running session nobody has read for this long is aborted (the client went away)
   * (YAML `session_idle_timeout`, a Go duration; new).
   * @default 120000 (`"2m"`)
   */
  sessionIdleTimeoutMs: number;
}

export interface PersistenceConfig {
  /**
   * Whether the probe also writes what it captures to local files (YAML `enabled`).
   * @default false
   */
  enabled: boolean;
  /**
   * Folder the persisted packets are written to (YAML `path`).
   * @default "probe-packets"
   */
  path: string;
  /**
   * Writer workers; each owns its own file, so output is never interleaved (YAML `num_workers`).
   * @default 4
   */
  numWorkers: number;
  /**
   * Packets waiting for the writers at most (YAML `channel_buffer_size`). Capturing live, packets
   * beyond it are dropped and counted, never blocking the capture; replaying files, the probe waits.
   * @default 10000
   */
  channelBufferSize: number;
  /**
   * File format (YAML `encoding`): `pcap` writes the original frames; `text` and `gob` both write
   * JSON lines, one object per packet.
   * @default "pcap"
   */
  encoding: PersistenceEncoding;
}

export type ProbeFormat = 'batch' | 'packet-info';
export const PROBE_FORMATS: readonly ProbeFormat[] = ['batch', 'packet-info'];

export interface ProbeConfig {
  /**
   * NATS server the probe publishes to and the engine subscribes to (YAML `nats_url`).
   * @default "nats://127.0.0.1:4222"
   */
  natsUrl: string;
  /**
   * Payload format on NATS, the same for probes and engines (YAML `format`, new): `batch`, many
   * packets per message partitioned by source address onto `<subject>.<partition>`; or
   * `packet-info`, the original's one Thrift PacketInfo per message on `<subject>`.
   * @default "batch"
   */
  format: ProbeFormat;
  /**
   * Partitions of the batch format, which probes and engines must agree on (YAML `partitions`, new).
   * @default 16
   */
  partitions: number;
  /**
   * Durable mode (YAML `jetstream`, new): probes publish into a JetStream stream with
   * acknowledgements and engines consume it from their last checkpoint, so a NATS restart or an
   * engine crash loses nothing (docs/pipeline.md "JetStream durable mode"). Probes and engines must
   * agree, like `format` and `partitions`.
   * @default false
   */
  jetstream: boolean;
  /**
   * Name of the JetStream stream holding `<subject>` and `<subject>.*` (YAML `stream`, new).
   * @default "NETSPECTRA_PACKETS"
   */
  stream: string;
  /**
   * Longest a message is kept in the stream, ms (YAML `stream_max_age`, new, a duration). Must
   * exceed `aggregator.period`: an engine replays from the start of its current period.
   * @default 86400000 (24h)
   */
  streamMaxAgeMs: number;
  /**
   * Most bytes the stream keeps; the oldest messages go first (YAML `stream_max_bytes`, new).
   * @default 10737418240 (10 GiB)
   */
  streamMaxBytes: number;
  /**
   * Subject carrying one Thrift-encoded PacketInfo per message (YAML `subject`).
   * @default "gons.packets.raw"
   */
  subject: string;
  /** Local copy of captured packets (YAML `persistence`). */
  persistence: PersistenceConfig;
}

export interface AiAnalysisConfig {
  /**
   * Whether triggered alerts are sent to the AI service for an analysis (YAML `enabled`).
   * Off by default: the default config has no AI service and no API key.
   * @default false
   */
  enabled: boolean;
  /**
   * `host:port` of the AI service's RPC endpoint (YAML `service_addr`).
   * @default "127.0.0.1:50052"
   */
  serviceAddr: string;
  /**
   * Longest wait for an analysis before the notification goes out with the built-in analysis
   * instead (YAML `timeout`, new; a Go duration).
   * @default 20000 (`"20s"`)
   */
  timeoutMs: number;
}

export interface AlertRuleConfig {
  /** Name shown in notifications; unique among the rules (YAML `name`). Required. */
  name: string;
  /** An exact or sketch task of `aggregator` (YAML `task_name`). Required. */
  taskName: string;
  /** What is compared; must suit the task's kind (YAML `metric`). Required. */
  metric: AlertMetric;
  /** Comparison `value <operator> threshold` (YAML `operator`). Required. */
  operator: AlertOperator;
  /** Packets, bytes, flows or distinct elements depending on `metric` (YAML `threshold`). Required. */
  threshold: number;
  /**
   * How long the condition must hold, from the first evaluation that saw it, before the alert
   * fires (YAML `for`, new; a Go duration, `0` fires at once).
   * @default 0
   */
  forMs: number;
  /**
   * Time after a notification before a still-active alert is notified again (YAML `cooldown`,
   * new; a Go duration; `0` re-notifies at every check as the original did).
   * @default 3600000 (`"1h"`)
   */
  cooldownMs: number;
}

export type WebhookFormat = 'json' | 'slack';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['json', 'slack'];

export interface WebhookConfig {
  /**
   * Whether this webhook is used (YAML `enabled`).
   * @default true
   */
  enabled: boolean;
  /** `http://` or `https://` URL the notifications are POSTed to (YAML `url`). Required. */
  url: string;
  /**
   * Shared secret of the HMAC-SHA256 signature (YAML `secret`); give it as `${WEBHOOK_SECRET}`.
   * Empty sends unsigned requests (not recommended; Slack URLs carry their own secret).
   * @default ""
   */
  secret: string;
  /**
   * Longest wait for one attempt (YAML `timeout`, a Go duration).
   * @default 5000 (`"5s"`)
   */
  timeoutMs: number;
  /**
   * Further attempts after a network error, a timeout or a 5xx/429 answer, with exponential
   * backoff (YAML `retries`); a 4xx answer is never retried.
   * @default 3
   */
  retries: number;
  /**
   * Body format (YAML `format`): `json`, NetSpectra's documented body (docs/alerting.md), or
   * `slack`, a Slack incoming-webhook message.
   * @default "json"
   */
  format: WebhookFormat;
}

export type LogStream = 'stdout' | 'stderr';
export const LOG_STREAMS: readonly LogStream[] = ['stdout', 'stderr'];

export interface NotifiersConfig {
  /**
   * Longest time one delivery (all attempts of one notifier) may take before it is abandoned and
   * counted as failed (YAML `timeout`, a Go duration).
   * @default 60000 (`"60s"`)
   */
  timeoutMs: number;
  /** Structured log notifier: one JSON line per alert notice (YAML `log`). */
  log: {
    /**
     * @default false
     */
    enabled: boolean;
    /**
     * Where the lines go (YAML `stream`).
     * @default "stderr"
     */
    stream: LogStream;
  };
  /**
   * Webhooks (YAML `webhook`: one mapping or a list of them). The email notifier is configured by
   * the top-level `smtp` section.
   * @default []
   */
  webhooks: WebhookConfig[];
}

export interface AlerterConfig {
  /**
   * Whether rules are evaluated at all (YAML `enabled`).
   * @default true
   */
  enabled: boolean;
  /**
   * Time between two evaluations of all rules (YAML `check_interval`, a Go duration).
   * @default 600000 (`"600s"`)
   */
  checkIntervalMs: number;
  /** AI enrichment of alerts (YAML `ai_analysis`). */
  aiAnalysis: AiAnalysisConfig;
  /** Where notifications go besides email (YAML `notifiers`, new). */
  notifiers: NotifiersConfig;
  /**
   * Rules (YAML `rules`). Left out of a file means none: the built-in rules name the built-in
   * tasks, which a file may not have.
   * @default [] in a file; without a file, the original's three rules on `ss_src_dst`,
   * `cm_src_left` and `per_five_tuple`
   */
  rules: AlertRuleConfig[];
}

export interface SmtpConfig {
  /**
   * SMTP server; empty disables the email notifier (YAML `host`).
   * @default ""
   */
  host: string;
  /**
   * SMTP port (YAML `port`).
   * @default 587
   */
  port: number;
  /**
   * Login (YAML `username`).
   * @default ""
   */
  username: string;
  /**
   * Password; give it as `${SMTP_PASSWORD}`, never literally (YAML `password`).
   * @default ""
   */
  password: string;
  /**
   * Sender address (YAML `from`); required when `host` is set.
   * @default ""
   */
  from: string;
  /**
   * Recipients (YAML `to`: a comma-separated string as in the original, or a list); at least one is
   * required when `host` is set.
   * @default []
   */
  to: string[];
  /**
   * Transport security (YAML `tls`, new): `auto` uses implicit TLS on port 465 and otherwise
   * upgrades with STARTTLS when the server offers it (as the original's Go client did);
   * `starttls` requires the upgrade; `implicit` speaks TLS from the first byte; `none` never
   * encrypts (a local relay only).
   * @default "auto"
   */
  tls: SmtpTls;
  /**
   * PEM file of a CA to trust besides the system's, for a server with a private certificate
   * (YAML `ca_file`, new). Certificates are always verified.
   * @default ""
   */
  caFile: string;
  /**
   * Longest wait for the connection, the greeting and each command (YAML `timeout`, new).
   * @default 30000 (`"30s"`)
   */
  timeoutMs: number;
}

export type SmtpTls = 'auto' | 'starttls' | 'implicit' | 'none';
export const SMTP_TLS_MODES: readonly SmtpTls[] = ['auto', 'starttls', 'implicit', 'none'];

export interface ClickHouseConfig {
  /**
   * @default "localhost"
   */
  host: string;
  /**
   * Native-protocol port as in the original (the HTTP client derives its own port from it when needed).
   * @default 9000
   */
  port: number;
  /**
   * @default "default"
   */
  database: string;
  /**
   * @default "default"
   */
  username: string;
  /**
   * Give it as `${CLICKHOUSE_PASSWORD}`, never literally.
   * @default ""
   */
  password: string;
  /**
   * ClickHouse Cloud (TLS) instead of a self-hosted server.
   * @default false
   */
  cloud: boolean;
  /**
   * Folder where snapshots wait while the server is unreachable; they are sent, in order, once it
   * answers again, also by the next process started (YAML `spool_path`).
   * @default "clickhouse-spool"
   */
  spoolPath: string;
  /**
   * Largest total size of the spool (YAML `spool_max_bytes`); a snapshot that does not fit is
   * refused with NS_ERR_SPOOL_FULL.
   * @default 1073741824 (1 GiB)
   */
  spoolMaxBytes: number;
}

export interface WriterConfig {
  /** Where snapshots go (YAML `type`). Required. */
  type: WriterType;
  /**
   * A listed writer runs unless switched off (YAML `enabled`). The original treated a missing
   * `enabled` as false.
   * @default true
   */
  enabled: boolean;
  /**
   * Time between two snapshots of every task of the group (YAML `snapshot_interval`).
   * @default 60000 (`"60s"`)
   */
  snapshotIntervalMs: number;
  /** Connection settings; present exactly when `type` is `clickhouse` (YAML `clickhouse`). */
  clickhouse?: ClickHouseConfig;
  /**
   * Folder of per-snapshot subfolders; present exactly when `type` is `gob` or `text`
   * (YAML `gob.root_path` or `text.root_path`).
   * @default "snapshots"
   */
  rootPath?: string;
  /**
   * Embedded database file; present exactly when `type` is `duckdb` (YAML `duckdb.path`).
   * @default "netspectra.duckdb"
   */
  path?: string;
}

export interface ExactTaskConfig {
  /** Unique among all tasks of both groups (YAML `name`). Required. */
  name: string;
  /** Fields of the flow key, each at most once (YAML `key_fields`). Required, non-empty. */
  keyFields: KeyField[];
  /**
   * The original's number of independently locked partitions of the flow table (YAML `num_shards`);
   * read so its configs load, unused by the engine. Ranges of this and every numeric sketch key are
   * in TASK_LIMITS (model/task-limits.ts), which the engine checks too.
   * @default 64
   */
  numShards: number;
}

export interface SketchTaskConfig {
  /** Unique among all tasks of both groups (YAML `name`). Required. */
  name: string;
  /** 0 = heavy hitters (the original's "Count-Min"), 1 = SuperSpread (YAML `skt_type`). Required. */
  sktType: 0 | 1;
  /** Fields of the flow key (YAML `flow_fields`). Required, non-empty. */
  flowFields: KeyField[];
  /**
   * Fields of the element whose distinct values SuperSpread counts per flow (YAML `element_fields`);
   * required and non-empty for `skt_type 1`, ignored by `skt_type 0`.
   * @default []
   */
  elementFields: KeyField[];
  /**
   * Buckets per row (YAML `width`). This and the other numeric keys stay within TASK_LIMITS
   * (model/task-limits.ts), per key and as products (`width × depth`, `width × depth × m`).
   * @default 32768
   */
  width: number;
  /**
   * Rows, each with its own hash (YAML `depth`).
   * @default 2
   */
  depth: number;
  /**
   * Heavy hitters: bytes a flow must reach to be reported (YAML `size_thereshold`, sic).
   * 0 reports every flow, as a missing key did in the original.
   * @default 0
   */
  sizeThreshold: number;
  /**
   * Heavy hitters: packets a flow must reach; SuperSpread: distinct elements a flow must reach
   * (YAML `count_thereshold`, sic). 0 reports every flow.
   * @default 0
   */
  countThreshold: number;
  /**
   * SuperSpread: registers per bucket sampler (YAML `m`).
   * @default 128
   */
  m: number;
  /**
   * SuperSpread: bits per register, 1 to 8 (YAML `size`).
   * @default 5
   */
  size: number;
  /**
   * SuperSpread: base of the sampler's geometric levels (YAML `base`).
   * @default 0.5
   */
  base: number;
  /**
   * SuperSpread: HeavyKeeper decay base (YAML `b`).
   * @default 1.08
   */
  b: number;
  /**
   * Hash seed, an integer 0..2^32-1 (YAML `seed`; not in the original). Fixing it makes runs
   * reproducible; undefined means a random seed chosen at start.
   * @default undefined
   */
  seed: number | undefined;
}

export interface AggregatorConfig {
  /**
   * Task groups to run (YAML `types`; the older single `type: "exact"` is accepted too).
   * @default ["exact", "sketch"]
   */
  types: AggregatorType[];
  /**
   * Measurement period: every task resets together at its end, after a final snapshot
   * (YAML `period`). Note for timers: the default exceeds setTimeout's 2^31-1 ms limit.
   * @default 2592000000 (`"720h"`)
   */
  periodMs: number;
  /**
   * Engine worker threads (YAML `num_workers`).
   * @default os.availableParallelism()
   */
  numWorkers: number;
  /**
   * Packets queued between the source and the workers (YAML `size_of_packet_channel`).
   * @default 10000
   */
  sizeOfPacketChannel: number;
  /** Exact per-flow accounting (YAML `exact`). */
  exact: {
    /** @default one enabled duckdb writer, snapshot every 60s, file `netspectra.duckdb` */
    writers: WriterConfig[];
    /** @default `per_five_tuple` (five fields) and `per_src_ip` (SrcIP) */
    tasks: ExactTaskConfig[];
  };
  /** Probabilistic tasks (YAML `sketch`). */
  sketch: {
    /** @default one enabled duckdb writer, snapshot every 60s, file `netspectra.duckdb` */
    writers: WriterConfig[];
    /** @default `ss_src_dst` (SuperSpread SrcIP → DstIP) and `cm_src_left` (heavy hitters by SrcIP) */
    tasks: SketchTaskConfig[];
  };
}
