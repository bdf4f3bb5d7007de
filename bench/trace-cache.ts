/**
 * The benchmark trace, generated once and cached under bench/.cache/ (git-ignored). The file name
 * carries a hash of the resolved parameters and GENERATOR_VERSION, so changing either produces a
 * new trace instead of silently benchmarking a stale one.
 *
 * Run directly (`node dist/bench/trace-cache.js`) to build the cache and print how long it took.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeSyntheticCapture } from '../src/synth/index.js';
import type { TrafficOptions } from '../src/synth/index.js';
import { GENERATOR_VERSION, resolveTrafficConfig } from '../src/synth/index.js';

export const BENCH_TRACE_OPTIONS: TrafficOptions = Object.freeze({
  packets: 5_000_000,
  flows: 200_000,
  zipfExponent: 1.1,
  spreaders: 20,
  spreadDestinations: 5_000,
  synFloodPackets: 100_000,
  seed: 1,
});

/** The repository root: the nearest folder above this module with a package.json (src or dist). */
function repositoryRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error('bench/trace-cache: no package.json above this module');
    folder = parent;
  }
  return folder;
}

export async function ensureBenchTrace(): Promise<{ pcapPath: string; truthPath: string }> {
  const config = resolveTrafficConfig(BENCH_TRACE_OPTIONS);
  const key = createHash('sha256').update(JSON.stringify({ generator: GENERATOR_VERSION, config })).digest('hex').slice(0, 16);
  const folder = join(repositoryRoot(), 'bench', '.cache');
  const pcapPath = join(folder, `synth-${key}.pcap`);
  const truthPath = `${pcapPath}.truth.json`;
  // The pcap is renamed into place last, so its presence means both files are complete.
  if (existsSync(pcapPath) && existsSync(truthPath)) return { pcapPath, truthPath };
  await mkdir(folder, { recursive: true });
  // Per-process temporary names: two benchmarks starting together each build, one wins the rename.
  const partial = `${pcapPath}.${process.pid}.partial`;
  try {
    await writeSyntheticCapture(config, { pcapPath: partial, truthPath: `${partial}.truth.json`, fileName: basename(pcapPath) });
    await rename(`${partial}.truth.json`, truthPath);
    await rename(partial, pcapPath);
  } finally {
    await rm(partial, { force: true });
    await rm(`${partial}.truth.json`, { force: true });
  }
  return { pcapPath, truthPath };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const { pcapPath, truthPath } = await ensureBenchTrace();
  process.stdout.write(`${pcapPath}\n${truthPath}\nready in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
}
