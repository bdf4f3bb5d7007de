/**
 * The distributed pipeline end to end (issue "Distributed pipeline" §5): probe → nats-server →
 * engine, in both payload formats, against the bars.
 *
 *   node dist/bench/pipeline-bench.js [--packets N] [--runs R]   (defaults 2,000,000 and 3)
 *
 * - Trace: the first N packets of the cached 5M-packet benchmark trace (bench/trace-cache.ts,
 *   shared with `npm run bench`, so nothing new is generated).
 * - NATS: a private nats-server on a free loopback port, started with test/kit/nats-server.ts as
 *   the tests do (bench/ already imports test/ helpers; the server is skipped with a message when
 *   nats-server is not installed).
 * - Probe: this process, with the probe's publishing path of `probe --file … --max` (CaptureFileSource
 *   → PacketPublisher → NatsConnection, the 100 ms flush timer included), no persistence.
 * - Engine: one EngineService per run in a child process (this file with --engine-child): the
 *   default tasks and workers, no writers, one engine owning all 16 partitions. A separate process
 *   because that is how it is deployed: in one process the probe's synchronous publishing loop and
 *   the engine's NATS callbacks would share one event loop and each would slow the other in a way
 *   a real deployment does not. On this 2-core VM probe, nats-server and the engine's workers still
 *   share the two cores, which is the reality the figures describe.
 * - Measured: packets counted by the engine ÷ wall time from the probe's first publish to the
 *   engine having counted the last packet. The engine child polls its counters every 1 ms once it
 *   knows how many packets were published, and when they are all accepted waits for one stats round
 *   trip to its workers (they answer in order, so every batch handed over has then been counted by
 *   every task). The engine's `maxDelayMs` is 20 ms instead of 200: the last, partly filled batch
 *   would otherwise idle up to 200 ms after the last message — latency, not throughput, and 10 % of
 *   a 2 s run. Loss (packets published but never counted) is reported exactly, with the engine's
 *   own account of it (sequence gaps, queue overflow, NATS slow-consumer events).
 * - For reference: the NATS client alone publishing pre-encoded PacketInfo payloads to a subject
 *   nobody listens on (msgs/s until the server has them all), yielding every 16,384 messages as the
 *   probe does between decoded batches.
 *
 * The median of R runs per mode, modes alternating. Figures vary by ±30 % on this VM from one
 * invocation to the next: compare figures of one invocation only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NatsConnection } from '../src/bus/nats-connection.js';
import { PacketPublisher, type PublishFormat } from '../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../src/bus/partition-ownership.js';
import { CaptureFileSource } from '../src/capture/capture-sources.js';
import { EngineService, type EngineCounters, type EngineFormat } from '../src/pipeline/engine-service.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import type { NetSpectraConfig } from '../src/config/schema.js';
import { BatchPool } from '../src/model/packet.js';
import { encodePacketInfoBytes } from '../src/wire/index.js';
import { NatsServer, natsServerBinary } from '../test/kit/nats-server.js';
import { BENCH_TRACE_OPTIONS, ensureBenchTrace } from './trace-cache.js';

const SUBJECT = 'gons.packets.raw';
const PARTITIONS = 16;
/** The bars, packets/s. */
const BARS: Record<PublishFormat, number> = { 'packet-batch': 1_000_000, 'packet-info': 250_000 };
/** The engine is considered stuck (the rest lost) when its count has not moved for this long, ms. */
const IDLE_MS = 3000;
/** Distinct payloads cycled through by the publish-only reference. */
const PUBLISH_ONLY_PAYLOADS = 65_536;

/** Parent → engine child. */
type ToEngine = { type: 'expect'; packets: number } | { type: 'stop' };
/** Engine child → parent. */
type FromEngine =
  | { type: 'ready' }
  | {
      type: 'counted';
      counters: EngineCounters;
      slowConsumer: number;
      /** How long ago (ms, child's clock) the last packet was counted: 0 when all were, else since the count last moved. */
      sinceCountedMs: number;
    };

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '2000000' },
    runs: { type: 'string', default: '3' },
    'engine-child': { type: 'boolean', default: false },
    nats: { type: 'string' },
    format: { type: 'string' },
  },
});

// ---------------------------------------------------------------- engine (child process)

async function engineChild(natsUrl: string, format: EngineFormat): Promise<void> {
  const aggregator = DEFAULT_CONFIG.aggregator;
  // the default tasks, nothing written: the store's cost is measured by `npm run bench`
  const config: NetSpectraConfig = { ...DEFAULT_CONFIG, aggregator: { ...aggregator, exact: { ...aggregator.exact, writers: [] }, sketch: { ...aggregator.sketch, writers: [] } } };
  const service = new EngineService({
    config,
    natsUrl,
    subject: SUBJECT,
    format,
    ownership: PartitionOwnership.roundRobin(PARTITIONS, 1, 0),
    engineId: `bench-${format}`,
    leaderElection: false,
    store: null,
    maxDelayMs: 20,
    log: (line) => process.stderr.write(`  engine: ${line}\n`),
  });
  await service.start();
  const send = (message: FromEngine): void => void process.send!(message);
  process.on('message', (message: ToEngine) => {
    if (message.type === 'expect') {
      void countUntil(service, message.packets).then(send, (error: unknown) => {
        process.stderr.write(`  engine: ${String(error)}\n`);
        process.exitCode = 1;
      });
    } else {
      void service.stop().then(() => process.disconnect());
    }
  });
  send({ type: 'ready' });
}

/** Poll every 1 ms until the engine accepted `packets` (or stopped moving for IDLE_MS), then let its workers finish. */
async function countUntil(service: EngineService, packets: number): Promise<FromEngine> {
  let accepted = service.counters.packetsAccepted;
  let movedAt = performance.now();
  while (accepted < packets && performance.now() - movedAt < IDLE_MS) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const now = service.counters.packetsAccepted;
    if (now !== accepted) {
      accepted = now;
      movedAt = performance.now();
    }
  }
  // a stats round trip to every worker: they answer after the batches handed to them before
  const metrics = await service.metricsText();
  const slowConsumer = Number(/^netspectra_nats_slow_consumer_total (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN);
  return { type: 'counted', counters: service.counters, slowConsumer, sinceCountedMs: accepted >= packets ? 0 : performance.now() - movedAt };
}

// ---------------------------------------------------------------- probe and report (this process)

interface RunResult {
  published: number;
  counted: number;
  seconds: number;
  /** Packets/s at which the probe got everything to the server (publish + flush). */
  probeRate: number;
  counters: EngineCounters;
  slowConsumer: number;
}

function nextMessage<T extends FromEngine['type']>(child: ChildProcess, type: T): Promise<Extract<FromEngine, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromEngine): void => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<FromEngine, { type: T }>);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`the engine process exited (${code}) before sending "${type}"`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function pipelineRun(url: string, pcapPath: string, format: PublishFormat, packets: number): Promise<RunResult> {
  const child = fork(fileURLToPath(import.meta.url), ['--engine-child', '--nats', url, '--format', format === 'packet-info' ? 'packet-info' : 'batch'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  try {
    await nextMessage(child, 'ready');
    // the probe's publishing path, as in `probe --file … --max`
    await using connection = new NatsConnection({ url, name: 'bench-probe' });
    await connection.start();
    const publisher = new PacketPublisher(connection, { subject: SUBJECT, format, partitions: PARTITIONS });
    const flusher = setInterval(() => publisher.flush(), 100);
    const pool = new BatchPool();
    const source = new CaptureFileSource({ files: [pcapPath] });
    await source.start({ pool, tick: async () => undefined });
    let started = Number.NaN;
    let read = 0;
    try {
      for await (const batch of source.batches()) {
        if (Number.isNaN(started)) started = performance.now();
        const end = Math.min(batch.count, packets - read);
        publisher.publish(batch, 0, end);
        read += end;
        pool.release(batch);
        if (read >= packets) break;
      }
      publisher.flush();
      await connection.flush();
    } finally {
      clearInterval(flusher);
    }
    const damage = source.stats.inputErrors[0];
    if (damage !== undefined) throw damage;
    const published = publisher.stats.packets;
    const probeSeconds = (performance.now() - started) / 1000;
    const counting = nextMessage(child, 'counted');
    child.send({ type: 'expect', packets: published } satisfies ToEngine);
    const counted = await counting;
    const seconds = (performance.now() - counted.sinceCountedMs - started) / 1000;
    return {
      published,
      counted: counted.counters.packetsAccepted,
      seconds,
      probeRate: published / probeSeconds,
      counters: counted.counters,
      slowConsumer: counted.slowConsumer,
    };
  } finally {
    if (child.connected) child.send({ type: 'stop' } satisfies ToEngine);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The NATS client alone: `messages` publishes of PacketInfo payloads until the server has them all, msgs/s. */
async function publishOnly(url: string, payloads: readonly Uint8Array[], messages: number): Promise<number> {
  await using connection = new NatsConnection({ url, name: 'bench-publish-only' });
  await connection.start();
  const started = performance.now();
  for (let i = 0; i < messages; ) {
    const end = Math.min(messages, i + 16_384);
    for (; i < end; i++) connection.publish('bench.publish-only', payloads[i % payloads.length]!);
    // the probe returns to the event loop between decoded batches (16,384 packets) too
    await new Promise((resolve) => setImmediate(resolve));
  }
  await connection.flush();
  return messages / ((performance.now() - started) / 1000);
}

async function packetInfoPayloads(pcapPath: string, count: number): Promise<Uint8Array[]> {
  const payloads: Uint8Array[] = [];
  const pool = new BatchPool();
  const source = new CaptureFileSource({ files: [pcapPath] });
  await source.start({ pool, tick: async () => undefined });
  for await (const batch of source.batches()) {
    for (let i = 0; i < batch.count && payloads.length < count; i++) payloads.push(encodePacketInfoBytes(batch, i));
    pool.release(batch);
    if (payloads.length >= count) break;
  }
  return payloads;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const packets = Number(values.packets);
  const runs = Number(values.runs);
  if (!(Number.isSafeInteger(packets) && packets >= 1 && packets <= BENCH_TRACE_OPTIONS.packets)) throw new RangeError(`--packets expects 1..${BENCH_TRACE_OPTIONS.packets} (the cached trace's size), got ${values.packets}`);
  if (!(Number.isSafeInteger(runs) && runs >= 1)) throw new RangeError(`--runs expects a positive integer, got ${values.runs}`);
  console.log('== distributed pipeline (probe → nats-server → engine)');
  if (natsServerBinary() === undefined) {
    console.log('  skipped: nats-server is not installed (apt-get install nats-server)');
    return;
  }
  const { pcapPath } = await ensureBenchTrace();
  // Warm the page cache so the probe does not pay for the disk.
  const warm = createReadStream(pcapPath, { highWaterMark: 8 << 20 });
  warm.resume();
  await once(warm, 'end');

  await using server = await NatsServer.start();
  console.log(`  ${fmt(packets)} packets of ${pcapPath}; nats-server at ${server.url}; engine in a child process, default tasks, no writers; median of ${runs} runs`);

  const modes: { format: PublishFormat; label: string }[] = [
    { format: 'packet-batch', label: `packet-batch (${PARTITIONS} partitions, 1 engine owning all)` },
    { format: 'packet-info', label: 'packet-info (one message per packet)' },
  ];
  const results = new Map<PublishFormat, RunResult[]>(modes.map((m) => [m.format, []]));
  for (let r = 0; r < runs; r++) {
    for (const { format } of modes) results.get(format)!.push(await pipelineRun(server.url, pcapPath, format, packets));
  }
  const payloads = await packetInfoPayloads(pcapPath, Math.min(PUBLISH_ONLY_PAYLOADS, packets));
  const payloadBytes = payloads.reduce((sum, p) => sum + p.byteLength, 0) / payloads.length;
  const publishOnlyRates: number[] = [];
  for (let r = 0; r < runs; r++) publishOnlyRates.push(await publishOnly(server.url, payloads, packets));

  console.log('== results');
  for (const { format, label } of modes) {
    const list = results.get(format)!;
    const rates = list.map((x) => x.counted / x.seconds);
    const rate = median(rates);
    console.log(`  ${label}`);
    console.log(`    end to end     ${rates.map(fmt).join(' / ')} packets/s   median ${fmt(rate)} packets/s = ${(rate / BARS[format]).toFixed(2)}× the bar of ${fmt(BARS[format])}`);
    console.log(`    probe alone    median ${fmt(median(list.map((x) => x.probeRate)))} packets/s published (decode + encode + publish until the server has them)`);
    for (const [i, x] of list.entries()) {
      const lost = x.published - x.counted;
      const c = x.counters;
      console.log(
        `    run ${i + 1}          ${fmt(x.counted)} of ${fmt(x.published)} published packets counted in ${x.seconds.toFixed(2)} s` +
          (lost === 0 ? ', none lost' : `, ${fmt(lost)} LOST (engine: ${c.missing} messages missing from the sequence, ${c.overflow} dropped by its full queue, ${x.slowConsumer} slow-consumer events, ${c.malformed} malformed)`),
      );
    }
  }
  console.log(`  NATS client alone, publish-only, packet-info payloads (${payloadBytes.toFixed(1)} B on average)`);
  console.log(`    ${publishOnlyRates.map(fmt).join(' / ')} msgs/s   median ${fmt(median(publishOnlyRates))} msgs/s`);
}

// last: the helpers above are initialised by now
if (values['engine-child']) await engineChild(values.nats!, values.format === 'packet-info' ? 'packet-info' : 'batch');
else await main();
