/** Snapshots for the writer tests: exact tasks over random packets (with their packets, for a reference) and sketch lists. */
import { KeySpec } from '../../src/model/flow-key.js';
import { ExactFlowTable } from '../../src/engine/tasks/exact-flow-table.js';
import type { KeyFieldName } from '../../src/model/flow.js';
import type { FlowColumns, GroupSnapshot } from '../../src/model/snapshot.js';
import { fillBatches, randomPackets, type RandomPacket } from './random-packets.js';

export const FIVE_TUPLE: KeyFieldName[] = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'];

/** One exact task `t_<fields>` over `count` random packets, snapshotted at 1_700_000_060 s. */
export function exactSnapshot(fields: KeyFieldName[], count: number, seed: number): { snapshot: GroupSnapshot; packets: RandomPacket[] } {
  const packets = randomPackets(count, seed);
  const table = new ExactFlowTable(new KeySpec(fields));
  for (const b of fillBatches(packets, 512)) table.ingest(b);
  return {
    packets,
    snapshot: {
      group: 'exact',
      time: { seconds: 1_700_000_060, nanos: 0 },
      periodId: 1_699_920_000,
      reason: 'interval',
      tasks: [{ kind: 'exact', name: `t_${fields.join('_')}`, keyFields: fields, memoryBytes: table.memoryBytes(), flows: table.toColumns() }],
    },
  };
}

export const sketchSnapshot: GroupSnapshot = {
  group: 'sketch',
  time: { seconds: 1_700_000_060, nanos: 500 },
  periodId: 1_699_920_000,
  reason: 'final',
  tasks: [
    {
      kind: 'heavy_hitter',
      name: 'cm_src_left',
      flowFields: ['SrcIP'],
      memoryBytes: 1000,
      byCount: [{ flow: { SrcIP: '10.0.0.1' }, flowText: '10.0.0.1', value: 900 }],
      bySize: [
        { flow: { SrcIP: '10.0.0.1' }, flowText: '10.0.0.1', value: 123456 },
        { flow: { SrcIP: '2001:db8::1' }, flowText: '2001:db8::1', value: 100000 },
      ],
    },
    { kind: 'super_spreader', name: 'ss_src_dst', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 2000, spreaders: [{ flow: { SrcIP: '10.9.9.9' }, flowText: '10.9.9.9', value: 5012 }] },
  ],
};

/** Flow columns for explicit SrcIP keys (4 address words each, family 6), one packet more per flow. */
export function srcAddressFlows(addresses: readonly number[][], seconds: number): FlowColumns {
  const keyWords = new KeySpec(['SrcIP']).words;
  const keys = new Uint32Array(addresses.length * keyWords);
  addresses.forEach((words, i) => {
    keys.set(words, i * keyWords);
    keys[i * keyWords + 4] = 6 << 8;
  });
  const count = addresses.length;
  return {
    count,
    keyWords,
    keys,
    packets: new Float64Array(count).map((_, i) => i + 1),
    bytes: new Float64Array(count).fill(100),
    firstSeconds: new Float64Array(count).fill(seconds),
    firstNanos: new Uint32Array(count),
    lastSeconds: new Float64Array(count).fill(seconds),
    lastNanos: new Uint32Array(count),
    changedEpoch: new Uint32Array(count),
    epoch: 0,
    sinceEpoch: -1,
  };
}
