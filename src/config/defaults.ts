/**
 * The built-in configuration (used when no config file is given) and the per-field defaults the
 * loader fills in for keys a file leaves out. Values follow the original's configs/config.yaml
 * except where docs/configuration.md says otherwise: loopback listen addresses, no passwords, an
 * embedded DuckDB store instead of ClickHouse, and as many workers as the machine has cores.
 */
import { availableParallelism } from 'node:os';
import type {
  AlertRuleConfig,
  ClickHouseConfig,
  ExactTaskConfig,
  NetSpectraConfig,
  SketchTaskConfig,
  WebhookConfig,
  WriterConfig,
} from './schema.js';

/** Freeze an object graph in place; the config is shared by every component and must not drift. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export const DEFAULT_SNAPSHOT_INTERVAL_MS = 60_000;
export const DEFAULT_DUCKDB_PATH = 'netspectra.duckdb';
export const DEFAULT_FILE_WRITER_ROOT = 'snapshots';

export const CLICKHOUSE_DEFAULTS: Readonly<ClickHouseConfig> = deepFreeze({
  host: 'localhost',
  port: 9000,
  database: 'default',
  username: 'default',
  password: '',
  cloud: false,
  spoolPath: 'clickhouse-spool',
  spoolMaxBytes: 1024 * 1024 * 1024,
});

/** Defaults of an exact task's optional keys. */
export const EXACT_TASK_DEFAULTS: Readonly<Pick<ExactTaskConfig, 'numShards'>> = deepFreeze({ numShards: 64 });

/**
 * Defaults of a sketch task's optional keys: the original's `ss_src_dst` parameters, and 0 for a
 * missing threshold as Go's zero value gave.
 */
export const SKETCH_TASK_DEFAULTS: Readonly<Omit<SketchTaskConfig, 'name' | 'sktType' | 'flowFields'>> = deepFreeze({
  elementFields: [],
  width: 32768,
  depth: 2,
  sizeThreshold: 0,
  countThreshold: 0,
  m: 128,
  size: 5,
  base: 0.5,
  b: 1.08,
  seed: undefined,
});

function duckdbWriter(): WriterConfig {
  return { type: 'duckdb', enabled: true, snapshotIntervalMs: DEFAULT_SNAPSHOT_INTERVAL_MS, path: DEFAULT_DUCKDB_PATH };
}

const DEFAULT_EXACT_TASKS: ExactTaskConfig[] = [
  { name: 'per_five_tuple', keyFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], numShards: 128 },
  { name: 'per_src_ip', keyFields: ['SrcIP'], numShards: 64 },
];

// The original's thresholds are tuned for a backbone link (4096 packets / 4 096 000 bytes before a
// source counts as a heavy hitter) while its `count_thereshold: 1` reports every source with any
// spread; small captures showed no heavy hitters and every source as a spreader. Ours are absolute
// counts that mean something on a laptop capture and on the 5M-packet benchmark alike: 1024
// packets or 1 MiB from one source, and 256 distinct destinations (a /24 sweep). The sketch sizes
// keep ss_src_dst under 1 MB and are the ones whose accuracy bench/ and test/engine assert.
const DEFAULT_SKETCH_TASKS: SketchTaskConfig[] = [
  {
    name: 'ss_src_dst',
    sktType: 1,
    flowFields: ['SrcIP'],
    elementFields: ['DstIP'],
    width: 4096,
    depth: 2,
    sizeThreshold: 0,
    countThreshold: 256,
    m: 128,
    size: 5,
    base: 0.5,
    b: 1.08,
    seed: undefined,
  },
  {
    name: 'cm_src_left',
    sktType: 0,
    flowFields: ['SrcIP'],
    elementFields: ['DstIP', 'SrcPort', 'DstPort', 'Protocol'],
    width: 8192,
    depth: 2,
    sizeThreshold: 1_048_576,
    countThreshold: 1024,
    m: SKETCH_TASK_DEFAULTS.m,
    size: SKETCH_TASK_DEFAULTS.size,
    base: SKETCH_TASK_DEFAULTS.base,
    b: SKETCH_TASK_DEFAULTS.b,
    seed: undefined,
  },
];

// The original's rules, thresholds unchanged. Its comment calls 1 000 000 bytes "100 MB"; it is 1 MB.
const DEFAULT_RULES: AlertRuleConfig[] = [
  { name: 'Potential_DDoS_Source_Detected', taskName: 'ss_src_dst', metric: 'super_spreader_spread', operator: '>', threshold: 5000, forMs: 0, cooldownMs: 3_600_000 },
  { name: 'Potential_Nmap_Scan_Detected', taskName: 'cm_src_left', metric: 'heavy_hitter_count', operator: '>', threshold: 10, forMs: 0, cooldownMs: 3_600_000 },
  { name: 'Total_Traffic_Spike', taskName: 'per_five_tuple', metric: 'total_bytes', operator: '>', threshold: 1_000_000, forMs: 0, cooldownMs: 3_600_000 },
];

/** Defaults of a rule's optional keys (`for`, `cooldown`). */
export const ALERT_RULE_DEFAULTS: Readonly<Pick<AlertRuleConfig, 'forMs' | 'cooldownMs'>> = deepFreeze({ forMs: 0, cooldownMs: 3_600_000 });

/** Defaults of one `alerter.notifiers.webhook` entry's optional keys. */
export const WEBHOOK_DEFAULTS: Readonly<Omit<WebhookConfig, 'url'>> = deepFreeze({ enabled: true, secret: '', timeoutMs: 5000, retries: 3, format: 'json' });

/** The configuration used when no `--config` is given. Deeply frozen. */
export const DEFAULT_CONFIG: NetSpectraConfig = deepFreeze({
  api: { rpcListenAddr: '127.0.0.1:50051', httpListenAddr: '127.0.0.1:8080', rpcTlsCertFile: '', rpcTlsKeyFile: '', authTokens: [], corsOrigins: [] },
  ai: {
    provider: 'openai',
    apiKey: '',
    model: 'gemini-2.5-flash',
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai/',
    rpcListenAddr: '127.0.0.1:50052',
    timeoutMs: 60_000,
    maxRetries: 2,
    authToken: '',
    maxSessions: 16,
    maxBufferedChunks: 1024,
    sessionTtlMs: 600_000,
    sessionIdleTimeoutMs: 120_000,
  },
  probe: {
    natsUrl: 'nats://127.0.0.1:4222',
    subject: 'gons.packets.raw',
    format: 'batch',
    partitions: 16,
    jetstream: false,
    stream: 'NETSPECTRA_PACKETS',
    streamMaxAgeMs: 24 * 3_600_000,
    streamMaxBytes: 10 * 1024 ** 3,
    persistence: { enabled: false, path: 'probe-packets', numWorkers: 4, channelBufferSize: 10_000, encoding: 'pcap' },
  },
  alerter: {
    enabled: true,
    checkIntervalMs: 600_000,
    aiAnalysis: { enabled: false, serviceAddr: '127.0.0.1:50052', timeoutMs: 20_000 },
    notifiers: { timeoutMs: 60_000, log: { enabled: false, stream: 'stderr' }, webhooks: [] },
    rules: DEFAULT_RULES,
  },
  smtp: { host: '', port: 587, username: '', password: '', from: '', to: [], tls: 'auto', caFile: '', timeoutMs: 30_000 },
  aggregator: {
    types: ['exact', 'sketch'],
    periodMs: 720 * 3_600_000,
    numWorkers: availableParallelism(),
    sizeOfPacketChannel: 10_000,
    exact: { writers: [duckdbWriter()], tasks: DEFAULT_EXACT_TASKS },
    sketch: { writers: [duckdbWriter()], tasks: DEFAULT_SKETCH_TASKS },
  },
});
