import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOfSource } from '../../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import type { PacketBatch } from '../../src/model/packet.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';

/** One line per packet, every field. */
function lines(batch: PacketBatch): string[] {
  const out: string[] = [];
  for (let i = 0; i < batch.count; i++) {
    out.push(
      [batch.tsSeconds[i], batch.tsNanos[i], batch.wireLength[i], batch.family[i], batch.protocol[i], batch.srcPort[i], batch.dstPort[i], ...batch.srcAddr.subarray(i * 4, i * 4 + 4), ...batch.dstAddr.subarray(i * 4, i * 4 + 4)].join(' '),
    );
  }
  return out;
}

test('round robin: N engines own disjoint partition sets that cover every partition', () => {
  for (const [partitions, engines] of [
    [16, 1],
    [16, 2],
    [16, 3],
    [16, 16],
    [7, 4],
    [256, 5],
  ] as const) {
    const owners = new Array<number>(partitions).fill(-1);
    for (let index = 0; index < engines; index++) {
      const ownership = PartitionOwnership.roundRobin(partitions, engines, index);
      assert.equal(ownership.ownsAll, engines === 1);
      for (const p of ownership.owned) {
        assert.equal(owners[p], -1, `partition ${p} owned twice`);
        assert.equal(p % engines, index);
        owners[p] = index;
      }
    }
    assert.ok(owners.every((o) => o >= 0), `${partitions}/${engines}: every partition has an owner`);
  }
  assert.deepEqual(PartitionOwnership.roundRobin(16, 2, 1).owned, [1, 3, 5, 7, 9, 11, 13, 15]);
  assert.equal(PartitionOwnership.roundRobin(16, 2, 1).toString(), '1,3,5,7,9,11,13,15');
  assert.deepEqual(PartitionOwnership.roundRobin(16, 2, 0).subjects('s').slice(0, 2), ['s.0', 's.2']);
  assert.throws(() => PartitionOwnership.roundRobin(16, 17, 0), /at least as many partitions/);
  assert.throws(() => PartitionOwnership.roundRobin(16, 2, 2), /index must be 0\.\.1/);
});

test('a partition list: numbers and inclusive ranges, printed back compactly; bad lists refused', () => {
  const ownership = PartitionOwnership.parse('0,3, 5-7,6', 16);
  assert.deepEqual(ownership.owned, [0, 3, 5, 6, 7]);
  assert.equal(ownership.toString(), '0,3,5-7');
  assert.equal(PartitionOwnership.parse('0-15', 16).ownsAll, true);
  assert.throws(() => PartitionOwnership.parse('16', 16), /partition 16 does not exist/);
  assert.throws(() => PartitionOwnership.parse('3-1', 16), /empty/);
  assert.throws(() => PartitionOwnership.parse('a', 16), /not a partition number/);
  assert.throws(() => PartitionOwnership.parse('', 16), /not a partition number/);
  assert.throws(() => new PartitionOwnership(0, [0]), /partitions must be/);
});

test('key-owner rule: each engine keeps exactly the packets whose source hashes to its partitions, in order', () => {
  const packets = randomPackets(20_000, 21, 2000);
  const everything = fillBatches(packets, 4096).flatMap(lines);
  const engines = 3;
  const partitions = 16;
  const kept: string[][] = [];
  const sources = new Map<string, number>();
  for (let index = 0; index < engines; index++) {
    const ownership = PartitionOwnership.roundRobin(partitions, engines, index);
    const mine: string[] = [];
    let dropped = 0;
    for (const batch of fillBatches(packets, 4096)) {
      const before = batch.count;
      assert.equal(ownership.countForeign(batch), before - countOwned(batch, ownership));
      dropped += ownership.keepOwned(batch);
      assert.equal(ownership.countForeign(batch), 0, 'nothing foreign is left');
      for (let i = 0; i < batch.count; i++) {
        const source = batch.srcAddr.subarray(i * 4, i * 4 + 4).join('.');
        assert.ok(sources.get(source) === undefined || sources.get(source) === index, `source ${source} kept by two engines`);
        sources.set(source, index);
      }
      mine.push(...lines(batch));
    }
    assert.equal(mine.length + dropped, packets.length);
    assert.ok(mine.length > 0);
    kept.push(mine);
  }
  // together: every packet once; each engine's share in the original order
  assert.deepEqual(kept.flat().sort(), [...everything].sort());
  for (const mine of kept) {
    const positions = mine.map((line) => everything.indexOf(line));
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
  }
});

function countOwned(batch: PacketBatch, ownership: PartitionOwnership): number {
  let owned = 0;
  for (let i = 0; i < batch.count; i++) if (ownership.owns(partitionOfSource(batch.srcAddr, i * 4, ownership.partitions))) owned++;
  return owned;
}
