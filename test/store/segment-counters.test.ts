/**
 * Segment counters against a plain model (a Map of key → last committed counters): every row's
 * growth is exact whatever the shortcuts meet — engine ids that are stable, missing, misleading
 * (ids of other flows) or huge, delta snapshots that skip most flows, new flows in the middle, a
 * write that failed (not committed), a new segment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateFlowColumns, type FlowColumns } from '../../src/model/snapshot.js';
import { SegmentCounters } from '../../src/store/segment-counters.js';

const KW = 3;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type IdMode = 'stable' | 'none' | 'shuffled' | 'huge';

/** A snapshot of `keys` (each [a, b, c]) with their counters, in the given order. */
function columns(flows: { key: number[]; packets: number; bytes: number; id: number; changed: number }[], mode: IdMode, random: () => number): FlowColumns {
  const out = allocateFlowColumns(flows.length, KW, 0, -1, mode !== 'none');
  flows.forEach((flow, i) => {
    out.keys.set(flow.key, i * KW);
    out.packets[i] = flow.packets;
    out.bytes[i] = flow.bytes;
    out.changedEpoch[i] = flow.changed;
    if (out.ids !== undefined) out.ids[i] = mode === 'stable' ? flow.id : mode === 'huge' ? 4_000_000_000 + flow.id : Math.floor(random() * flows.length);
  });
  return out;
}

for (const mode of ['stable', 'none', 'shuffled', 'huge'] as const) {
  test(`growth per row equals a plain model's, ids ${mode}`, () => {
    const random = prng(mode.length * 7919);
    const counters = new SegmentCounters(KW);
    let model = new Map<string, { packets: number; bytes: number }>();
    // the engine's flows in its entry order: ids are their places
    let flows: { key: number[]; packets: number; bytes: number; id: number; changed: number }[] = [];
    for (let snapshot = 1; snapshot <= 12; snapshot++) {
      if (snapshot === 7) {
        // a new period: the engine's table and the counters start again
        flows = [];
        counters.clear();
        model = new Map();
      }
      for (const flow of flows) {
        if (random() < 0.3) {
          flow.packets += 1 + Math.floor(random() * 5);
          flow.bytes += 60 + Math.floor(random() * 1400);
          flow.changed = snapshot;
        }
      }
      const fresh = Math.floor(random() * 400);
      for (let i = 0; i < fresh; i++) {
        flows.push({ key: [Math.floor(random() * 50), Math.floor(random() * 1e9), flows.length], packets: 1, bytes: 100, id: flows.length, changed: snapshot });
      }
      // a delta since the previous snapshot (every other one complete, as at a period end)
      const since = snapshot % 2 === 0 ? -1 : snapshot - 1;
      const cols = columns(flows, mode, random);
      const deltas = counters.deltas(cols, since);
      let total = 0;
      flows.forEach((flow, f) => {
        const name = flow.key.join();
        if (flow.changed <= since) {
          assert.equal(deltas.entries[f], -1, 'a row not written');
          return;
        }
        const before = model.get(name) ?? { packets: 0, bytes: 0 };
        assert.equal(deltas.packets[f], flow.packets - before.packets, `${mode} snapshot ${snapshot} flow ${name}`);
        assert.equal(deltas.bytes[f], flow.bytes - before.bytes);
        total += flow.packets - before.packets;
      });
      assert.equal(deltas.totalPackets, total);
      // every third write fails: nothing committed, the next snapshot's growth covers it
      if (snapshot % 3 === 0) continue;
      counters.commit(cols, deltas);
      flows.forEach((flow, f) => {
        if (deltas.entries[f]! >= 0) model.set(flow.key.join(), { packets: flow.packets, bytes: flow.bytes });
      });
    }
    assert.ok(counters.size > 0);
  });
}
