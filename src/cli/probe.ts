/**
 * `netspectra probe` (alias `ns-probe`): capture live traffic or replay capture files onto NATS,
 * or (`--mode sub`) print what arrives there.
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { DurationSyntaxError, parseDuration } from '../model/duration.js';
import type { NetSpectraConfig } from '../config/schema.js';
import { DEFAULT_PERSISTENCE_OPTIONS, PERSISTENCE_FORMATS, PacketPersistence, type PersistenceFormat } from '../capture/persistence/index.js';
import { LiveCapture } from '../capture/live-capture.js';
import { openCaptureFile } from '../capture/file-source.js';
import { NatsConnection } from '../bus/nats-connection.js';
import { PacketPublisher, partitionSubject, type PublishFormat } from '../bus/packet-publisher.js';
import { PacketSubscriber } from '../bus/packet-subscriber.js';
import { JetStreamSink } from '../bus/jetstream-sink.js';
import { ensurePacketStream } from '../bus/jetstream-stream.js';
import { CaptureDecoder } from '../decode/index.js';
import { formatAddressWords } from '../model/ip.js';
import { BatchPool, type PacketBatch } from '../model/packet.js';
import { formatTimestamp } from '../model/time.js';
import type { CliIo } from './io.js';
import { integerFlag, normaliseGoFlags, reportError, usageError } from './io.js';

export const PROBE_HELP = `Usage: netspectra probe (--iface NAME | --file CAPTURE...) [options]
       netspectra probe --mode sub [options]
       ns-probe [-mode pub|sub] [-iface NAME] [options]

Publish packets on NATS for the engines: live from an interface (through tcpdump), or replayed
from pcap / pcapng / .gz captures. With --mode sub, print the packets arriving on the subject.

Source (publish mode):
  --iface NAME       capture live on NAME (needs root or tcpdump's capture capability)
  --filter BPF       capture filter, e.g. "tcp or udp" (live only)
  --snaplen N        bytes kept per packet (live only; default 256: headers are enough)
  --file FILE        replay a capture (repeatable, in order)
  --speed X          replay at X times the capture's own pace (default 1)
  --rate PPS         replay at a fixed PPS packets per second instead
  --max              replay as fast as possible

Publishing:
  --format F         batch (default: probe.format): many packets per message, partitioned by source
                     address onto <subject>.<partition>, with sequence numbers for loss
                     counting; packet-info: the original's one Thrift PacketInfo per
                     message on <subject>, for the original's engines and tools
  --partitions N     partitions of the batch format (default: probe.partitions, 16; 1..256)
  --jetstream        durable mode (default: probe.jetstream): publish into the JetStream
                     stream with acknowledgements and message ids, pausing (never dropping)
                     while the server is away; creates the stream if missing
  --stream NAME      the stream (default: probe.stream, NETSPECTRA_PACKETS)
  --nats URL         NATS server (default: probe.nats_url, nats://127.0.0.1:4222)
  --subject S        subject (default: probe.subject, gons.packets.raw)
  --config FILE      configuration in the original's schema

Persistence (a local copy of the published packets, beside publishing):
  --persist DIR      write the packets to files in DIR (default: off, or on in
                     probe.persistence.path when probe.persistence.enabled is true)
  --persist-format F pcap (original frames, ns timestamps), pcapng, or jsonl (one JSON
                     object per packet); default from probe.persistence.encoding:
                     pcap -> pcap, text and gob -> jsonl
  --persist-max-bytes N
                     start a new file before one exceeds N bytes (K, M, G suffixes are
                     KiB, MiB, GiB; 0: no limit; default 256M)
  --persist-rotate D start a new file at every multiple of D of packet time, e.g. 1h
                     or 15m (default: no time rotation)
                     Files are DIR/probe-<UTC of first packet>-w<worker>-<sequence>.<ext>,
                     one series per probe.persistence.num_workers writer; a full queue
                     (probe.persistence.channel_buffer_size packets) drops and counts.

Subscribe mode:
  --mode sub         print arriving packets (both formats; --partition P to pick one
                     partition's subject, default: <subject> and <subject>.*)
  --count N          stop after N packets

The original's flags -mode and -iface work too. A summary (packets, messages, drops, files
persisted and packets dropped by the persistence queue) goes to stderr when the probe stops (end
of the files, or SIGINT/SIGTERM).

Exit status: 0 success; 1 a capture was damaged, NATS failed or persistence could not write;
2 usage or configuration error.
`;

export async function runProbe(argv: readonly string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: normaliseGoFlags(argv),
      allowPositionals: false,
      strict: true,
      options: {
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
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return reportError(io, usageError(`${(error as Error).message}\n\n${PROBE_HELP}`));
  }
  if (values.help) {
    io.stdout.write(PROBE_HELP);
    return 0;
  }
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
    const pace: Pace = values.max ? { kind: 'max' } : values.rate !== undefined ? { kind: 'rate', pps: number('--rate', values.rate) } : { kind: 'speed', factor: values.speed === undefined ? 1 : number('--speed', values.speed) };
    if (values.stream !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(values.stream)) throw usageError(`--stream expects a stream name of letters, digits, "_" and "-", got "${values.stream}"`);
    const durable = values.jetstream ?? config.probe.jetstream;
    return await publish(io, {
      url,
      subject,
      format,
      jetstream: durable ? { stream: values.stream ?? config.probe.stream, maxAgeMs: config.probe.streamMaxAgeMs, maxBytes: config.probe.streamMaxBytes } : undefined,
      partitions: values.partitions === undefined ? config.probe.partitions : integerFlag('--partitions', values.partitions, 1, 256),
      files,
      iface: values.iface,
      filter: values.filter,
      snaplen: values.snaplen === undefined ? undefined : integerFlag('--snaplen', values.snaplen, 64, 262_144),
      pace,
      persist: persistencePlan(config, values.persist, values['persist-format'], values['persist-max-bytes'], values['persist-rotate'], persistFlagGiven),
    });
  } catch (error) {
    return reportError(io, error);
  }
}

type Pace = { kind: 'max' } | { kind: 'rate'; pps: number } | { kind: 'speed'; factor: number };

interface PublishPlan {
  url: string;
  subject: string;
  format: PublishFormat;
  partitions: number;
  /** Durable mode: the stream and its limits. */
  jetstream: { stream: string; maxAgeMs: number; maxBytes: number } | undefined;
  files: readonly string[];
  iface: string | undefined;
  filter: string | undefined;
  snaplen: number | undefined;
  pace: Pace;
  persist: PersistPlan | undefined;
}

interface PersistPlan {
  directory: string;
  format: PersistenceFormat;
  workers: number;
  queuePackets: number;
  maxFileBytes: number;
  rotateMs: number;
}

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
    maxFileBytes: maxBytes === undefined ? DEFAULT_PERSISTENCE_OPTIONS.maxFileBytes : byteSize('--persist-max-bytes', maxBytes),
    rotateMs,
  };
}

/** `65536`, `64K`, `256M`, `1G` (binary units, an optional `iB`/`B`), or `0`. */
function byteSize(flag: string, text: string): number {
  const match = /^(\d+)\s*(?:([KMGT])(?:i?B)?)?$/i.exec(text.trim());
  const unit = match?.[2]?.toUpperCase();
  const value = match === null ? Number.NaN : Number(match[1]) * (unit === undefined ? 1 : 1024 ** ('KMGT'.indexOf(unit) + 1));
  if (!Number.isSafeInteger(value) || (value !== 0 && value < 65_536)) {
    throw usageError(`${flag} expects 0 or a size of at least 64K, e.g. 256M or 1G, got "${text}"`);
  }
  return value;
}

async function publish(io: CliIo, plan: PublishPlan): Promise<number> {
  const connection = new NatsConnection({ url: plan.url, name: 'netspectra-probe' });
  await connection.start();
  let sink: JetStreamSink | undefined;
  if (plan.jetstream !== undefined) {
    try {
      await ensurePacketStream(connection, { ...plan.jetstream, subject: plan.subject });
    } catch (error) {
      await connection.stop();
      throw error;
    }
    let reported = 0;
    sink = new JetStreamSink(connection, {
      // one line per outage, not per message
      onRetry: (error) => {
        if (performance.now() - reported > 5000) io.stderr.write(`netspectra probe: JetStream publish not acknowledged (${error instanceof Error ? error.message : String(error)}); retrying, the replay waits\n`);
        reported = performance.now();
      },
    });
  }
  const publisher = new PacketPublisher(connection, { subject: plan.subject, format: plan.format, partitions: plan.partitions, ...(sink === undefined ? {} : { sink }) });
  const pool = new BatchPool();
  let status = 0;
  let persistence: PacketPersistence | undefined;
  if (plan.persist !== undefined) {
    persistence = new PacketPersistence({
      ...plan.persist,
      // Reported as it happens: a live probe may run for days after its disk filled up.
      onError: (error) => {
        status = reportError(io, error);
      },
    });
    try {
      await persistence.start();
    } catch (error) {
      // Capture and publishing are worth more than the local copy: go on without it.
      status = reportError(io, error);
      persistence = undefined;
    }
  }
  let live: LiveCapture | undefined;
  let stopping = false;
  const onSignal = (): void => {
    stopping = true;
    void live?.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // live traffic: partly filled messages go out at least every 100 ms
  const flusher = setInterval(() => publisher.flush(), 100);
  flusher.unref();
  let frames = 0;
  const started = performance.now();
  try {
    const sources: { name: string; chunks: AsyncIterable<Uint8Array> }[] =
      plan.iface !== undefined
        ? [{ name: plan.iface, chunks: (live = new LiveCapture({ iface: plan.iface, filter: plan.filter, snaplen: plan.snaplen })).chunks() }]
        : plan.files.map((path) => ({ name: basename(path), chunks: openCaptureFile(path) }));
    const isLive = plan.iface !== undefined;
    const pacer = new Pacer(isLive ? { kind: 'max' } : plan.pace);
    for (const source of sources) {
      if (stopping) break;
      // Live: a batch per pipe read, not per 16,384 packets; and what tcpdump hands over after the
      // stop signal is still published, as its stream ends on its own. A replay stops at once.
      const decoder = new CaptureDecoder({ name: source.name, pool, keepFrames: persistence?.needsFrames === true, yieldPartialBatches: isLive });
      for await (const batch of decoder.decode(source.chunks)) {
        for (let start = 0; start < batch.count && (isLive || !stopping); ) {
          const end = await pacer.due(batch, start);
          publisher.publish(batch, start, end);
          // durable mode: wait while the acknowledgement window is full (the server is slow or away)
          await sink?.ready();
          if (persistence !== undefined) {
            if (isLive) {
              // Live: never wait for the disk; a full queue drops and counts.
              persistence.offer(batch, start, end, decoder.frames);
            } else {
              // Replay: waiting loses nothing, so the replay runs at the disk's pace rather than drop.
              await persistence.offerWithoutDropping(batch, start, end, decoder.frames);
            }
          }
          start = end;
        }
        pool.release(batch);
        if (stopping && !isLive) break;
      }
      frames += decoder.stats.frames;
      if (decoder.error !== undefined) {
        reportError(io, decoder.error);
        status = 1;
      }
    }
    publisher.flush();
    if (sink !== undefined) {
      // a second signal gives up on what the server has not acknowledged yet
      const abandon = (): void => sink.stop();
      if (stopping) process.once('SIGINT', abandon).once('SIGTERM', abandon);
      await sink.flush();
      process.off('SIGINT', abandon).off('SIGTERM', abandon);
    }
    await connection.flush();
  } finally {
    clearInterval(flusher);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await live?.stop();
    // Writes what is still queued, then flushes and closes every file.
    await persistence?.stop();
    await connection.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const stats = publisher.stats;
  const drops = live === undefined ? '' : `, kernel drops ${live.stats.droppedByKernel}`;
  io.stderr.write(
    `netspectra probe: ${frames} frames read, ${stats.packets} IP packets published in ${stats.messages} messages (${stats.bytes} bytes) in ${seconds.toFixed(2)} s` +
      ` (${Math.round(stats.packets / Math.max(seconds, 1e-9))} packets/s)${stats.unencodable > 0 ? `, ${stats.unencodable} not encodable` : ''}${drops}` +
      `${sink === undefined ? '' : jetStreamSummary(sink)}` +
      `${persistence === undefined ? '' : persistenceSummary(persistence)}\n`,
  );
  if (sink !== undefined && sink.stats.abandoned > 0) status = 1;
  return status;
}

function jetStreamSummary(sink: JetStreamSink): string {
  const s = sink.stats;
  return `; JetStream: ${s.acknowledged} acknowledged (${s.duplicates} duplicates recognised), ${s.retries} retried attempts${s.abandoned > 0 ? `, ${s.abandoned} NOT acknowledged (stopped)` : ''}`;
}

function persistenceSummary(persistence: PacketPersistence): string {
  const stats = persistence.stats;
  const notWritten = stats.lost > 0 ? `, ${stats.lost} not written after a disk error` : '';
  const unrepresentable = stats.unrepresentable > 0 ? `, ${stats.unrepresentable} with timestamps ${persistence.format} cannot hold` : '';
  return `; persisted ${stats.written} packets (${stats.bytesWritten} bytes) to ${stats.files} ${persistence.format} files in ${persistence.directory}, ${stats.dropped} dropped by the full persistence queue${notWritten}${unrepresentable}`;
}

/**
 * Replay pacing: how many packets from `start` are due now, sleeping until the next one is. Works
 * in slices of at most 256 packets so a slow replay does not send a whole batch in one burst.
 */
class Pacer {
  readonly #pace: Pace;
  #wallStart = Number.NaN;
  #captureStart = Number.NaN;
  #sent = 0;

  constructor(pace: Pace) {
    this.#pace = pace;
  }

  async due(batch: PacketBatch, start: number): Promise<number> {
    const end = Math.min(batch.count, start + 256);
    if (this.#pace.kind === 'max') return batch.count;
    if (Number.isNaN(this.#wallStart)) {
      this.#wallStart = performance.now();
      this.#captureStart = batch.tsSeconds[start]! * 1000 + batch.tsNanos[start]! / 1e6;
    }
    const dueAt =
      this.#pace.kind === 'rate'
        ? this.#wallStart + (this.#sent * 1000) / this.#pace.pps
        : this.#wallStart + (batch.tsSeconds[start]! * 1000 + batch.tsNanos[start]! / 1e6 - this.#captureStart) / this.#pace.factor;
    const wait = dueAt - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 1000)));
    if (this.#pace.kind === 'rate') {
      // as many as are due by now, at least one
      const due = Math.floor(((performance.now() - this.#wallStart) * this.#pace.pps) / 1000) - this.#sent;
      const take = Math.max(1, Math.min(end - start, due));
      this.#sent += take;
      return start + take;
    }
    return end;
  }
}

async function subscribe(io: CliIo, url: string, subject: string, partition: number | undefined, limit: number): Promise<number> {
  const connection = new NatsConnection({ url, name: 'netspectra-probe-sub' });
  await connection.start();
  const pool = new BatchPool(1024);
  const subjects = partition === undefined ? [subject, `${subject}.*`] : [partitionSubject(subject, partition)];
  const subscriber = new PacketSubscriber(connection, { subjects, pool, maxDelayMs: 50 });
  await subscriber.start();
  const onSignal = (): void => subscriber.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let printed = 0;
  try {
    for await (const batch of subscriber.batches()) {
      for (let i = 0; i < batch.count && printed < limit; i++, printed++) {
        const family = batch.family[i]!;
        const src = formatAddressWords(batch.srcAddr, i * 4, family);
        const dst = formatAddressWords(batch.dstAddr, i * 4, family);
        const time = formatTimestamp({ seconds: batch.tsSeconds[i]!, nanos: batch.tsNanos[i]! }, true);
        io.stdout.write(`${time} ${src}:${batch.srcPort[i]} -> ${dst}:${batch.dstPort[i]} proto ${batch.protocol[i]} len ${batch.wireLength[i]}\n`);
      }
      pool.release(batch);
      if (printed >= limit) subscriber.stop();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await connection.stop();
  }
  const stats = subscriber.stats;
  io.stderr.write(`netspectra probe: ${stats.packets} packets in ${stats.messages} messages, ${stats.malformed} malformed, ${stats.missing} missing\n`);
  return 0;
}

function number(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw usageError(`${flag} expects a positive number, got "${text}"`);
  return value;
}
