/**
 * `netspectra engine` (alias `ns-engine`): the live engine of the distributed pipeline. Subscribes
 * to the packets the probes publish on NATS, runs the configured tasks on them in wall-clock time,
 * and writes snapshots to the configured writers; several engines share the traffic by source
 * partition (docs/pipeline.md). The service itself is engine-service.ts; this is the command line.
 */
import { hostname } from 'node:os';
import { MAX_PARTITIONS, PartitionOwnership } from '../bus/partition-ownership.js';
import { loadConfig } from '../config/load.js';
import { EngineService, type EngineFormat, type EngineStopResult } from '../pipeline/engine-service.js';
import { parseListenAddress, type ListenAddress } from '../api/metrics-server.js';
import type { CliIo } from './io.js';
import { durationFlag, integerFlag, normaliseGoFlags, parseCommand, reportError, StopRequest, usageError } from './io.js';
import { ENGINE_HELP } from './help.js';

export async function runEngine(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(io, normaliseGoFlags(argv), ENGINE_HELP, {
      config: { type: 'string' },
      nats: { type: 'string' },
      subject: { type: 'string' },
      format: { type: 'string' },
      partitions: { type: 'string' },
      jetstream: { type: 'boolean' },
      stream: { type: 'string' },
      engines: { type: 'string' },
      index: { type: 'string' },
      'partitions-owned': { type: 'string' },
      'engine-id': { type: 'string' },
      'leader-election': { type: 'boolean' },
      'no-leader-election': { type: 'boolean' },
      'no-alerts': { type: 'boolean' },
      'leader-ttl': { type: 'string' },
      workers: { type: 'string' },
      store: { type: 'string' },
      'no-store': { type: 'boolean', default: false },
      'metrics-listen': { type: 'string' },
      'no-metrics': { type: 'boolean', default: false },
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;

  // Stop requests may come while starting: remembered, acted on once started.
  using stop = new StopRequest((signal) => {
    io.stderr.write(`netspectra engine: ${signal} again: exiting without the final snapshot\n`);
    process.exit(130);
  });
  let service: EngineService | undefined;
  try {
    const config = loadConfig(values.config === undefined ? {} : { file: values.config });
    const formatName = values.format ?? config.probe.format;
    const format: EngineFormat = formatName === 'batch' || formatName === 'packet-info' ? formatName : invalid(`--format expects batch or packet-info, got "${formatName}"`);
    const partitions = values.partitions === undefined ? config.probe.partitions : integerFlag('--partitions', values.partitions, 1, MAX_PARTITIONS);
    const ownership = ownershipOf(values, partitions);
    const engineId = values['engine-id'] ?? `${hostname()}-${values['partitions-owned'] === undefined ? (values.index ?? '0') : `p${ownership.toString()}`}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(engineId)) invalid(`--engine-id expects letters, digits, ".", "_" and "-" (at most 128), got "${engineId}"`);
    if (values['leader-election'] === true && values['no-leader-election'] === true) invalid('--leader-election and --no-leader-election cannot be combined');
    const leaderElection = values['leader-election'] ?? (values['no-leader-election'] === true ? false : !ownership.ownsAll);
    const leaderTtlMs = values['leader-ttl'] === undefined ? 3000 : durationFlag('--leader-ttl', values['leader-ttl'], 300);
    if (values.store !== undefined && values['no-store']) invalid('--store and --no-store cannot be combined');
    if (values['metrics-listen'] !== undefined && values['no-metrics']) invalid('--metrics-listen and --no-metrics cannot be combined');
    let metricsListen: ListenAddress | undefined;
    if (!values['no-metrics']) {
      const text = values['metrics-listen'] ?? '127.0.0.1:9464';
      metricsListen = parseListenAddress(text) ?? invalid(`--metrics-listen expects HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, :9464), got "${text}"`);
    }
    const workers = values.workers === undefined ? undefined : integerFlag('--workers', values.workers, 0, 256);

    const natsUrl = values.nats ?? config.probe.natsUrl;
    const subject = values.subject ?? config.probe.subject;
    if (values.stream !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(values.stream)) invalid(`--stream expects a stream name of letters, digits, "_" and "-", got "${values.stream}"`);
    const durable = values.jetstream ?? config.probe.jetstream;
    service = new EngineService({
      config,
      natsUrl,
      subject,
      format,
      ownership,
      engineId,
      leaderElection,
      leaderTtlMs,
      ...(metricsListen === undefined ? {} : { metricsListen }),
      ...(workers === undefined ? {} : { workers }),
      ...(values['no-store'] ? { store: null } : values.store === undefined ? {} : { store: values.store }),
      // engines of a cluster may share a disk: each writes its files in a folder of its own
      ...(ownership.ownsAll ? {} : { fileSubfolder: engineId }),
      log: (line) => io.stderr.write(`netspectra engine: ${line}\n`),
      notifierStreams: { stdout: io.stderr, stderr: io.stderr },
      ...(values['no-alerts'] === true ? { alerting: false } : {}),
      ...(durable ? { jetstream: { stream: values.stream ?? config.probe.stream, maxAgeMs: config.probe.streamMaxAgeMs, maxBytes: config.probe.streamMaxBytes } } : {}),
    });
    const running = service;
    running.once('failed', () => stop.request());
    await service.start();
    const subjects = format === 'batch' ? `${subject}.<p> for p in ${ownership.toString()} of ${partitions} partitions` : `${subject}${ownership.ownsAll ? '' : ` (keeping sources of partitions ${ownership.toString()} of ${partitions})`}`;
    io.stderr.write(
      `netspectra engine: ${engineId} started: ${format} on ${subjects}, NATS ${natsUrl}, ` +
        `${service.metricsUrl === undefined ? 'no metrics endpoint' : `metrics ${service.metricsUrl}/metrics`}, leader election ${leaderElection ? 'on' : 'off'}` +
        `${durable ? `, JetStream stream ${values.stream ?? config.probe.stream} (run ${service.runId})` : ''}\n`,
    );
    await stop.requested;
    const result = await service.stop();
    io.stderr.write(summary(result));
    if (result.failure !== undefined) return reportError(io, result.failure);
    if (result.finalWriteErrors.length > 0) return 1;
    return 0;
  } catch (error) {
    await service?.stop();
    return reportError(io, error);
  }
}

function summary(result: EngineStopResult): string {
  const c = result.counters;
  const seconds = Math.max(result.elapsedSeconds, 1e-9);
  const notOwned = c.packetsNotOwned > 0 ? `, ${c.packetsNotOwned} left to the engines owning their sources` : '';
  const foreign = c.packetsForeignPartition > 0 ? `, ${c.packetsForeignPartition} from partitions not owned (probe --partitions differs)` : '';
  const final = result.failure !== undefined ? 'no final snapshot (the engine failed)' : result.finalWriteErrors.length > 0 ? `the final snapshot failed for ${result.finalWriteErrors.length} writer(s)` : 'final snapshot written';
  return (
    `netspectra engine: stopped after ${result.elapsedSeconds.toFixed(1)} s: ${c.packetsReceived} packets in ${c.messages} messages ` +
    `(${Math.round(c.packetsReceived / seconds)} packets/s), ${c.packetsAccepted} counted${notOwned}${foreign}, ${c.malformed} malformed, ` +
    `${c.missing} missing, ${c.overflow} dropped while behind; ${final}\n`
  );
}

interface OwnershipFlags {
  engines?: string | undefined;
  index?: string | undefined;
  'partitions-owned'?: string | undefined;
}

function ownershipOf(values: OwnershipFlags, partitions: number): PartitionOwnership {
  const owned = values['partitions-owned'];
  if (owned !== undefined) {
    if (values.engines !== undefined || values.index !== undefined) invalid('--partitions-owned cannot be combined with --engines/--index');
    try {
      return PartitionOwnership.parse(owned, partitions);
    } catch (error) {
      return invalid(`--partitions-owned: ${(error as Error).message}`);
    }
  }
  if ((values.engines === undefined) !== (values.index === undefined)) invalid('--engines and --index go together (engine I of N, 0-based)');
  const engines = values.engines === undefined ? 1 : integerFlag('--engines', values.engines, 1, MAX_PARTITIONS);
  const index = values.index === undefined ? 0 : integerFlag('--index', values.index, 0, engines - 1);
  try {
    return PartitionOwnership.roundRobin(partitions, engines, index);
  } catch (error) {
    return invalid(`${(error as Error).message} (raise --partitions on the probes and the engines)`);
  }
}

function invalid(message: string): never {
  throw usageError(message);
}
