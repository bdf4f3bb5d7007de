/**
 * `netspectra engine` (alias `ns-engine`): the live engine of the distributed pipeline. Subscribes
 * to the packets the probes publish on NATS, runs the configured tasks on them in wall-clock time,
 * and writes snapshots to the configured writers; several engines share the traffic by source
 * partition (docs/pipeline.md). The service itself is engine-service.ts; this is the command line.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { MAX_PARTITIONS, PartitionOwnership } from '../bus/partition-ownership.js';
import { loadConfig } from '../config/load.js';
import { EngineService, type EngineFormat, type EngineStopResult } from '../pipeline/engine-service.js';
import { parseListenAddress, type ListenAddress } from '../api/metrics-server.js';
import type { CliIo } from './io.js';
import { StopRequest, durationFlag, integerFlag, normaliseGoFlags, reportError, usageError } from './io.js';

export const ENGINE_HELP = `Usage: netspectra engine [options]
       ns-engine [options]

Run the engine on the packets probes publish on NATS: the configured exact and sketch tasks in
wall-clock time, snapshots to the configured writers (aggregator.*.writers: duckdb, clickhouse,
gob, text), each at its own snapshot_interval. Several engines share the traffic by source
partition without counting anything twice (docs/pipeline.md).

Input:
  --nats URL             NATS server (default: probe.nats_url, nats://127.0.0.1:4222)
  --subject S            subject (default: probe.subject, gons.packets.raw)
  --format F             batch (default: probe.format): the partitioned packets of \`probe --format
                         batch\` on <subject>.<partition>; packet-info: the original's one
                         Thrift PacketInfo per message on <subject>
  --partitions P         partitions the probes publish (default: probe.partitions, 16; must
                         equal the probes'; 1..${MAX_PARTITIONS})
  --jetstream            durable mode (default: probe.jetstream): consume the JetStream stream
                         from this engine's checkpoint, so a restart or crash loses nothing and
                         counts nothing twice (needs nats-server -js; the probes must use it too)
  --stream NAME          the stream (default: probe.stream, NETSPECTRA_PACKETS)

Sharing the traffic between engines:
  --engines N --index I  this is engine I of N (0-based): it owns the partitions p with
                         p mod N = I (default: --engines 1 --index 0, everything)
  --partitions-owned L   own exactly these partitions instead, e.g. 0,3,5-7
  With batch, an engine subscribes to its partitions' subjects only; with packet-info it
  receives every packet and keeps those whose source address hashes to its partitions.
  --engine-id ID         written with every row (ClickHouse EngineId) and used as the leader
                         lease holder (default: <hostname>-<index>)
  --leader-election      take part in the engine-leader election for singleton duties (needs
                         JetStream: nats-server -js); on by default with more than one engine
  --no-leader-election   do not; this engine then does the singleton duties itself
  --leader-ttl DURATION  how long a crashed leader keeps the lease (default 3s)

Engine and storage:
  --config FILE          configuration in the original's schema (tasks, writers, period)
  --workers N            engine worker threads (default: aggregator.num_workers); 0 runs
                         every task on the main thread
  --store FILE           embedded store file for the duckdb writers (default: their path)
  --no-store             no embedded store
  --no-alerts            do not evaluate the alerter's rules (alerter.*; docs/alerting.md).
                         Otherwise each engine evaluates them on the traffic it owns; with
                         leader election the leader alone delivers every engine's notifications

Monitoring:
  --metrics-listen A     address of /metrics (Prometheus) and /healthz (default
                         127.0.0.1:9464; port 0 picks a free one)
  --no-metrics           no HTTP endpoint

SIGINT or SIGTERM stops the engine cleanly: it stops subscribing, counts the last packets,
writes a final snapshot to every writer and exits. The original's single-dash flags
(-config FILE) work too.

Exit status: 0 stopped cleanly; 1 NATS unreachable at start, the engine failed, or the final
snapshot could not be written; 2 usage or configuration error.
`;

export async function runEngine(argv: readonly string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: normaliseGoFlags(argv),
      allowPositionals: false,
      strict: true,
      options: {
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
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return reportError(io, usageError(`${(error as Error).message}\n\n${ENGINE_HELP}`));
  }
  if (values.help) {
    io.stdout.write(ENGINE_HELP);
    return 0;
  }

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
