/**
 * Micro-benchmark of the exact flow table: decodes the cached benchmark trace into memory once, then
 * times ExactFlowTable.ingest for the default exact tasks on one thread.
 *   node dist/bench/exact-bench.js [--rounds N]
 */
import { parseArgs } from 'node:util';
import { openCaptureFile } from '../src/capture/file-source.js';
import { CaptureDecoder } from '../src/decode/index.js';
import { KeySpec } from '../src/model/flow-key.js';
import { ExactFlowTable } from '../src/engine/tasks/exact-flow-table.js';
import { BatchPool, type PacketBatch } from '../src/model/packet.js';
import { ensureBenchTrace } from './trace-cache.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const { pcapPath } = await ensureBenchTrace();
const pool = new BatchPool();
const decoder = new CaptureDecoder({ name: 'bench', pool });
const batches: PacketBatch[] = [];
for await (const batch of decoder.decode(openCaptureFile(pcapPath))) batches.push(batch);
const packets = batches.reduce((sum, b) => sum + b.count, 0);
console.log(`decoded ${packets.toLocaleString('en-US')} packets into ${batches.length} batches`);

for (const fields of [['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'], ['SrcIP']] as const) {
  const times: number[] = [];
  let table: ExactFlowTable | undefined;
  for (let r = 0; r < rounds; r++) {
    table = new ExactFlowTable(new KeySpec(fields), 1234);
    const started = performance.now();
    for (const batch of batches) table.ingest(batch);
    times.push(performance.now() - started);
  }
  const best = Math.min(...times);
  console.log(
    `${fields.join('+').padEnd(40)} best ${(best / 1000).toFixed(3)} s  ${((packets / best) * 1000 / 1e6).toFixed(1)} M packets/s  ` +
      `${table!.size.toLocaleString('en-US')} flows  ${(table!.memoryBytes() / table!.size).toFixed(1)} B/flow`,
  );
}
