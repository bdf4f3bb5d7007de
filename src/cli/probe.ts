/**
 * `netspectra probe` (alias `ns-probe`): capture live traffic or replay capture files onto NATS,
 * or (`--mode sub`) print what arrives there.
 */
import { loadConfig } from '../config/load.js';
import { DurationSyntaxError, parseDuration } from '../model/duration.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { DEFAULT_PERSISTENCE_OPTIONS, PERSISTENCE_FORMATS, type PersistenceFormat } from '../capture/persistence/index.js';
import type { PublishFormat } from '../bus/packet-publisher.js';
import { PacketTail } from '../pipeline/packet-tail.js';
import { ProbeForwarder, type Pace, type ProbeForwarderOptions, type ProbeResult } from '../pipeline/probe-forwarder.js';
import type { CliIo } from './io.js';
import { byteSizeFlag, integerFlag, normaliseGoFlags, parseCommand, positiveNumberFlag, reportError, usageError } from './io.js';
import { PROBE_HELP } from './help.js';

export async function runProbe(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(io, normaliseGoFlags(argv), PROBE_HELP, {
      mode: { type: 'string', default: 'pub' },
      iface: { type: 'string' },
      filter: { type: 'string' },
      snaplen: { type: 'string' },
      file: { type: 'string', multiple: true },
      speed: { type: 'string' },
      rate: { type: 'string' },
      max: { type: 'boolean', default: false },
      format: { type: 'string' },
      partitions: { type: 'string' },
      jetstream: { type: 'boolean' },
      stream: { type: 'string' },
      partition: { type: 'string' },
      count: { type: 'string' },
      nats: { type: 'string' },
      subject: { type: 'string' },
      config: { type: 'string' },
      persist: { type: 'string' },
      'persist-format': { type: 'string' },
      'persist-max-bytes': { type: 'string' },
      'persist-rotate': { type: 'string' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  try {
    const config = loadConfig(values.config === undefined ? {} : { file: values.config });
    const url = values.nats ?? config.probe.natsUrl;
    const subject = values.subject ?? config.probe.subject;
    const persistFlags = ['persist', 'persist-format', 'persist-max-bytes', 'persist-rotate'] as const;
    const persistFlagGiven = persistFlags.find((flag) => values[flag] !== undefined);
    if (values.mode === 'sub') {
      if (persistFlagGiven !== undefined) throw usageError(`--${persistFlagGiven} applies to publish mode only`);
      return await subscribe(io, url, subject, values.partition === undefined ? undefined : integerFlag('--partition', values.partition, 0, 255), values.count === undefined ? Infinity : integerFlag('--count', values.count, 1, Number.MAX_SAFE_INTEGER));
    }
    if (values.mode !== 'pub') throw usageError(`--mode expects pub or sub, got "${values.mode}"`);
    const files = values.file ?? [];
    if ((values.iface === undefined) === (files.length === 0)) throw usageError(`give either --iface NAME or --file CAPTURE\n\n${PROBE_HELP}`);
    const paces = [values.speed !== undefined, values.rate !== undefined, values.max].filter(Boolean).length;
    if (paces > 1) throw usageError('--speed, --rate and --max cannot be combined');
    const formatName = values.format ?? config.probe.format;
    const format: PublishFormat = formatName === 'batch' ? 'packet-batch' : formatName === 'packet-info' ? 'packet-info' : (() => { throw usageError(`--format expects batch or packet-info, got "${formatName}"`); })();
    const pace: Pace = values.max ? { kind: 'max' } : values.rate !== undefined ? { kind: 'rate', pps: positiveNumberFlag('--rate', values.rate) } : { kind: 'speed', factor: values.speed === undefined ? 1 : positiveNumberFlag('--speed', values.speed) };
    if (values.stream !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(values.stream)) throw usageError(`--stream expects a stream name of letters, digits, "_" and "-", got "${values.stream}"`);
    const durable = values.jetstream ?? config.probe.jetstream;
    const persist = persistencePlan(config, values.persist, values['persist-format'], values['persist-max-bytes'], values['persist-rotate'], persistFlagGiven);
    return await publish(io, {
      natsUrl: url,
      subject,
      format,
      ...(durable ? { jetstream: { stream: values.stream ?? config.probe.stream, maxAgeMs: config.probe.streamMaxAgeMs, maxBytes: config.probe.streamMaxBytes } } : {}),
      partitions: values.partitions === undefined ? config.probe.partitions : integerFlag('--partitions', values.partitions, 1, 256),
      source:
        values.iface !== undefined
          ? { kind: 'live', iface: values.iface, ...(values.filter === undefined ? {} : { filter: values.filter }), ...(values.snaplen === undefined ? {} : { snaplen: integerFlag('--snaplen', values.snaplen, 64, 262_144) }) }
          : { kind: 'files', files, pace },
      ...(persist === undefined ? {} : { persist }),
    });
  } catch (error) {
    return reportError(io, error);
  }
}

type PersistPlan = NonNullable<ProbeForwarderOptions['persist']>;

/** Persistence from the config and the flags: on with `--persist DIR` or `probe.persistence.enabled`. */
function persistencePlan(
  config: NetSpectraConfig,
  directory: string | undefined,
  format: string | undefined,
  maxBytes: string | undefined,
  rotate: string | undefined,
  flagGiven: string | undefined,
): PersistPlan | undefined {
  const persistence = config.probe.persistence;
  if (directory === undefined && !persistence.enabled) {
    if (flagGiven !== undefined) throw usageError(`--${flagGiven} needs --persist DIR (or probe.persistence.enabled: true in the config)`);
    return undefined;
  }
  if (format !== undefined && !(PERSISTENCE_FORMATS as readonly string[]).includes(format)) {
    throw usageError(`--persist-format expects ${PERSISTENCE_FORMATS.join(', ')}, got "${format}"`);
  }
  let rotateMs = 0;
  if (rotate !== undefined) {
    try {
      rotateMs = parseDuration(rotate);
    } catch (error) {
      if (error instanceof DurationSyntaxError) throw usageError(`--persist-rotate: ${error.message}`);
      throw error;
    }
    if (!(rotateMs >= 1000)) throw usageError(`--persist-rotate expects a duration of at least 1s, got "${rotate}"`);
  }
  return {
    directory: directory ?? persistence.path,
    // The original's `text` and `gob` encodings are both JSON lines here (docs/configuration.md).
    format: (format as PersistenceFormat | undefined) ?? (persistence.encoding === 'pcap' ? 'pcap' : 'jsonl'),
    workers: persistence.numWorkers,
    queuePackets: persistence.channelBufferSize,
    maxFileBytes: maxBytes === undefined ? DEFAULT_PERSISTENCE_OPTIONS.maxFileBytes : byteSizeFlag('--persist-max-bytes', maxBytes),
    rotateMs,
  };
}

async function publish(io: CliIo, plan: Omit<ProbeForwarderOptions, 'onError' | 'log'>): Promise<number> {
  let status = 0;
  const forwarder = new ProbeForwarder({
    ...plan,
    onError: (error) => {
      status = reportError(io, error);
    },
    log: (line) => io.stderr.write(`netspectra probe: ${line}\n`),
  });
  // the first signal stops reading; a second gives up on what JetStream has not acknowledged
  const onSignal = (): void => forwarder.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: ProbeResult;
  try {
    result = await forwarder.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const stats = result.publisher;
  const drops = result.capture === undefined ? '' : `, kernel drops ${result.capture.droppedByKernel}`;
  io.stderr.write(
    `netspectra probe: ${result.frames} frames read, ${stats.packets} IP packets published in ${stats.messages} messages (${stats.bytes} bytes) in ${result.seconds.toFixed(2)} s` +
      ` (${Math.round(stats.packets / Math.max(result.seconds, 1e-9))} packets/s)${stats.unencodable > 0 ? `, ${stats.unencodable} not encodable` : ''}${drops}` +
      `${result.jetstream === undefined ? '' : jetStreamSummary(result.jetstream)}` +
      `${result.persistence === undefined ? '' : persistenceSummary(result.persistence)}\n`,
  );
  return result.failed ? 1 : status;
}

function jetStreamSummary(s: NonNullable<ProbeResult['jetstream']>): string {
  return `; JetStream: ${s.acknowledged} acknowledged (${s.duplicates} duplicates recognised), ${s.retries} retried attempts${s.abandoned > 0 ? `, ${s.abandoned} NOT acknowledged (stopped)` : ''}`;
}

function persistenceSummary(persistence: NonNullable<ProbeResult['persistence']>): string {
  const stats = persistence.stats;
  const notWritten = stats.lost > 0 ? `, ${stats.lost} not written after a disk error` : '';
  const unrepresentable = stats.unrepresentable > 0 ? `, ${stats.unrepresentable} with timestamps ${persistence.format} cannot hold` : '';
  return `; persisted ${stats.written} packets (${stats.bytesWritten} bytes) to ${stats.files} ${persistence.format} files in ${persistence.directory}, ${stats.dropped} dropped by the full persistence queue${notWritten}${unrepresentable}`;
}

async function subscribe(io: CliIo, url: string, subject: string, partition: number | undefined, limit: number): Promise<number> {
  const tail = new PacketTail({ natsUrl: url, subject, ...(partition === undefined ? {} : { partition }), limit, write: (line) => io.stdout.write(`${line}\n`) });
  const onSignal = (): void => tail.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const stats = await tail.run();
    io.stderr.write(`netspectra probe: ${stats.packets} packets in ${stats.messages} messages, ${stats.malformed} malformed, ${stats.missing} missing\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
