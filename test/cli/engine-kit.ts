/** Shared by the engine tests: replaying captures onto NATS like `probe --max`, waiting, truth files. */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { PacketPublisher, type PublishFormat } from '../../src/bus/packet-publisher.js';
import { openCaptureFile } from '../../src/capture/file-source.js';
import { parseConfig } from '../../src/config/load.js';
import type { NetSpectraConfig } from '../../src/config/schema.js';
import { CaptureDecoder } from '../../src/decode/index.js';
import { BatchPool } from '../../src/model/packet.js';
import { flowKey, type TruthFlow } from '../decode/decode-helpers.js';
import { SHARED_PCAPS, sharedPcaps } from '../kit/shared-pcaps.js';

export { SHARED_PCAPS, flowKey, sharedPcaps };

/**
 * Publish every packet of a capture as fast as possible (the probe's `--max`); returns the packets
 * published. `midway` is awaited once, after the first decoded batch went out (e.g. to let the
 * engines take a snapshot between the two parts).
 */
export async function replayCapture(url: string, path: string, options: { subject: string; format: PublishFormat; partitions: number }, midway?: (publishedSoFar: number) => Promise<void>): Promise<number> {
  await using connection = new NatsConnection({ url, name: 'test-probe' });
  await connection.start();
  const publisher = new PacketPublisher(connection, options);
  const pool = new BatchPool();
  const decoder = new CaptureDecoder({ name: basename(path), pool });
  for await (const batch of decoder.decode(openCaptureFile(path))) {
    publisher.publish(batch);
    pool.release(batch);
    if (midway !== undefined) {
      publisher.flush();
      await connection.flush();
      await midway(publisher.stats.packets);
      midway = undefined;
    }
  }
  publisher.flush();
  await connection.flush();
  if (decoder.error !== undefined) throw decoder.error;
  return publisher.stats.packets;
}

/** Poll `check` every 20 ms until it holds; fails after `ms` with `what` and its last detail. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string | (() => string)): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

/** `src dst sport dport proto` → [packets, bytes] of the shared captures' truth/<name>.json. */
export function truthFlows(name: string): Map<string, [number, number]> {
  const truth = JSON.parse(readFileSync(join(SHARED_PCAPS, 'truth', `${name}.json`), 'utf8')) as { flows: TruthFlow[] };
  return new Map(truth.flows.map((f) => [flowKey(f.src, f.dst, f.sport, f.dport, f.proto), [f.packets, f.bytes]]));
}

/** A configuration from YAML (the original's schema), `${VAR}`s from `env`. */
export function configFrom(yaml: string, env: Record<string, string> = {}): NetSpectraConfig {
  return parseConfig(yaml, { file: 'test.yaml', env });
}

/** `name{labels} value` lines of a Prometheus text as a map (labels kept in the key as written). */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}
