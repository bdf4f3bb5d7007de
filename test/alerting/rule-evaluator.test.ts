import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleEvaluator } from '../../src/alerting/rule-evaluator.js';
import type { RuleEvaluation } from '../../src/alerting/rule-evaluator.js';
import type { AlertMetric, AlertOperator, AlertRule } from '../../src/model/alert.js';
import { allocateFlowColumns } from '../../src/model/snapshot.js';
import type { GroupSnapshot, SketchEntry, TaskSnapshot } from '../../src/model/snapshot.js';

const T0 = 1_700_000_000;

function rule(metric: AlertMetric, threshold: number, operator: AlertOperator = '>', taskName = 'per_proto'): AlertRule {
  return { name: `${metric}${operator}${threshold}`, taskName, metric, operator, threshold, forSeconds: 0, cooldownSeconds: 3600 };
}

/** An exact task keyed by Protocol (one key word: the protocol number), flows given as [protocol, packets, bytes, firstSecondsAfterT0]. */
function exactTask(flows: [number, number, number, number][], sinceEpoch = -1): TaskSnapshot {
  const columns = allocateFlowColumns(flows.length, 1, 0, sinceEpoch);
  flows.forEach(([protocol, packets, bytes, first], i) => {
    columns.keys[i] = protocol;
    columns.packets[i] = packets;
    columns.bytes[i] = bytes;
    columns.firstSeconds[i] = T0 + first;
    columns.lastSeconds[i] = T0 + first;
  });
  return { kind: 'exact', name: 'per_proto', keyFields: ['Protocol'], memoryBytes: 0, flows: columns };
}

function snapshot(tasks: TaskSnapshot[], atSeconds: number, options: { periodId?: number; reason?: GroupSnapshot['reason']; group?: GroupSnapshot['group'] } = {}): GroupSnapshot {
  return { group: options.group ?? 'exact', time: { seconds: T0 + atSeconds, nanos: 0 }, periodId: options.periodId ?? T0, reason: options.reason ?? 'interval', tasks };
}

function entry(ip: string, value: number): SketchEntry {
  return { flow: { SrcIP: ip }, flowText: ip, value };
}

function values(evaluations: RuleEvaluation[]): (number[] | 'unavailable')[] {
  return evaluations.map((e) => (e.reading.kind === 'unavailable' ? 'unavailable' : e.reading.offenders.map((o) => o.value)));
}

test('evaluator: task-wide totals of an exact task, compared with every operator', () => {
  const task = exactTask([
    [6, 10, 1000, 0],
    [17, 5, 300, 0],
    [1, 1, 64, 0],
  ]);
  const rules = [
    rule('total_packets', 15, '>'),
    rule('total_packets', 16, '>'),
    rule('total_bytes', 1364, '='),
    rule('total_bytes', 1364, '>='),
    rule('total_bytes', 1364, '<'),
    rule('total_flows', 3, '<='),
    rule('total_flows', 2, '<='),
  ];
  const evaluator = new RuleEvaluator({ rules, checkIntervalMs: 60_000 });
  assert.deepEqual(values(evaluator.evaluate(snapshot([task], 60))), [[16], [], [1364], [1364], [], [3], []]);
});

test('evaluator: a task-wide alert has flowText "" and the largest flows as evidence', () => {
  const task = exactTask([
    [6, 10, 1000, 0],
    [17, 50, 300, 0],
    [1, 1, 64, 0],
  ]);
  const evaluator = new RuleEvaluator({ rules: [rule('total_bytes', 100), rule('total_packets', 10)], checkIntervalMs: 60_000 });
  const [bytes, packets] = evaluator.evaluate(snapshot([task], 60));
  assert.ok(bytes!.reading.kind === 'measured' && packets!.reading.kind === 'measured');
  const offender = bytes!.reading.offenders[0]!;
  assert.equal(offender.flowText, '');
  assert.deepEqual(offender.flow, {});
  assert.deepEqual(offender.evidence.map((e) => e.flowText), ['6', '17', '1']);
  assert.deepEqual(offender.evidence[0], { flowText: '6', flow: { Protocol: 6 }, packets: 10, bytes: 1000 });
  // ranked by packets for a packet metric
  assert.deepEqual(packets!.reading.offenders[0]!.evidence.map((e) => e.flowText), ['17', '6', '1']);
});

test('evaluator: sketch metrics are per flow; each flow over the threshold is its own offender', () => {
  const hh: TaskSnapshot = {
    kind: 'heavy_hitter',
    name: 'hh',
    flowFields: ['SrcIP'],
    memoryBytes: 0,
    byCount: [entry('10.0.0.1', 5000), entry('10.0.0.2', 900), entry('10.0.0.3', 20)],
    bySize: [entry('10.0.0.2', 9_000_000), entry('10.0.0.1', 300_000)],
  };
  const ss: TaskSnapshot = { kind: 'super_spreader', name: 'ss', flowFields: ['SrcIP'], elementFields: ['DstIP'], memoryBytes: 0, spreaders: [entry('100.64.0.9', 812.4), entry('10.0.0.1', 30)] };
  const rules = [rule('heavy_hitter_count', 800, '>', 'hh'), rule('heavy_hitter_size', 1_000_000, '>=', 'hh'), rule('super_spreader_spread', 500, '>', 'ss')];
  const evaluator = new RuleEvaluator({ rules, checkIntervalMs: 60_000 });
  const evaluations = evaluator.evaluate(snapshot([hh, ss], 60, { group: 'sketch' }));
  assert.deepEqual(values(evaluations), [[5000, 900], [9_000_000], [812]]);
  const count = evaluations[0]!.reading;
  assert.ok(count.kind === 'measured');
  assert.deepEqual(
    count.offenders.map((o) => o.flowText),
    ['10.0.0.1', '10.0.0.2'],
  );
  // the other list of the heavy-hitter task supplies the flow's other counter
  assert.deepEqual(count.offenders[0]!.evidence, [{ flowText: '10.0.0.1', flow: { SrcIP: '10.0.0.1' }, packets: 5000, bytes: 300_000 }]);
  assert.deepEqual(evaluations[2]!.elementFields, ['DstIP']);
  assert.equal(evaluations[2]!.taskKind, 'super_spreader');
});

test('evaluator: rules of tasks absent from the snapshot are not evaluated; a delta snapshot is unavailable', () => {
  const evaluator = new RuleEvaluator({ rules: [rule('total_bytes', 1), rule('heavy_hitter_count', 1, '>', 'hh')], checkIntervalMs: 60_000 });
  const evaluations = evaluator.evaluate(snapshot([exactTask([[6, 1, 100, 0]], 3)], 60));
  assert.deepEqual(
    evaluations.map((e) => e.rule.taskName),
    ['per_proto'],
  );
  assert.deepEqual(values(evaluations), ['unavailable']);
});

test('evaluator: rates over the check window (Δ since the evaluation one interval earlier)', () => {
  const rules = [rule('bytes_per_second', -1), rule('packets_per_second', -1), rule('new_flows', -1)];
  const evaluator = new RuleEvaluator({ rules, checkIntervalMs: 60_000 });
  // The period starts at T0; the first evaluation measures from there (all zero).
  assert.deepEqual(values(evaluator.evaluate(snapshot([exactTask([[6, 60, 6000, 10]])], 60))), [[100], [1], [1]]);
  // 60 s later: +12 000 bytes, +120 packets, +2 flows (18 000 bytes, 180 packets, 3 flows in all)
  const second = exactTask([
    [6, 120, 12_000, 10],
    [17, 60, 6000, 70],
    [1, 0, 0, 80],
  ]);
  const evaluations = evaluator.evaluate(snapshot([second], 120));
  assert.deepEqual(values(evaluations), [[200], [2], [2]]);
  // new_flows' evidence: the flows first seen in the window (after T0+60), largest first
  const fresh = evaluations[2]!.reading;
  assert.ok(fresh.kind === 'measured');
  assert.deepEqual(fresh.offenders[0]!.evidence.map((e) => e.flowText), ['17', '1']);
});

test('evaluator: a window shorter than the interval reaches back to the evaluation at least one interval earlier', () => {
  const evaluator = new RuleEvaluator({ rules: [rule('bytes_per_second', -1), rule('new_flows', -1)], checkIntervalMs: 60_000 });
  evaluator.evaluate(snapshot([exactTask([[6, 1, 6000, 0]])], 60));
  evaluator.evaluate(snapshot([exactTask([[6, 1, 12_000, 0]])], 120));
  // A final snapshot 0.5 s after the last check: the window is 60.5 s back to the check at 60 s,
  // not a half-second window that would multiply a single packet into a spike.
  const final = { ...snapshot([exactTask([[6, 1, 13_000, 0], [17, 1, 100, 120]])], 120), reason: 'final' as const, time: { seconds: T0 + 120, nanos: 500_000_000 } };
  const [rate, flows] = values(evaluator.evaluate(final));
  assert.ok(Array.isArray(rate) && Math.abs(rate[0]! - (13_100 - 6000) / 60.5) < 1e-9, String(rate));
  assert.deepEqual(flows, [1]);
});

test('evaluator: a window shorter than a second is not measured (the alert keeps its state)', () => {
  const evaluator = new RuleEvaluator({ rules: [rule('bytes_per_second', -1)], checkIntervalMs: 60_000 });
  // a capture whose first check falls 0.2 s after the period's start
  const early = { ...snapshot([exactTask([[6, 1, 5000, 0]])], 0), time: { seconds: T0, nanos: 200_000_000 } };
  assert.deepEqual(values(evaluator.evaluate(early)), ['unavailable']);
  // later checks measure from the period start
  assert.deepEqual(values(evaluator.evaluate(snapshot([exactTask([[6, 1, 10_000, 0]])], 10))), [[1000]]);
});

test('evaluator: a new period restarts the rates from zero at its start', () => {
  const evaluator = new RuleEvaluator({ rules: [rule('bytes_per_second', -1), rule('new_flows', -1)], checkIntervalMs: 60_000 });
  evaluator.evaluate(snapshot([exactTask([[6, 1, 60_000, 0], [17, 1, 60_000, 0]])], 60));
  // the period ends at T0+100 with a final snapshot of it
  evaluator.evaluate(snapshot([exactTask([[6, 1, 100_000, 0], [17, 1, 100_000, 0]])], 100, { reason: 'period-end' }));
  // the next period (id T0+100) restarted counting at T0+100: 3000 bytes in 30 s, one flow
  const next = snapshot([exactTask([[6, 1, 3000, 101]])], 130, { periodId: T0 + 100 });
  assert.deepEqual(values(evaluator.evaluate(next)), [[100], [1]]);
});

test('evaluator: with a short check interval the shortest window is the interval itself', () => {
  const evaluator = new RuleEvaluator({ rules: [rule('packets_per_second', -1)], checkIntervalMs: 200 });
  evaluator.evaluate({ ...snapshot([exactTask([[6, 10, 0, 0]])], 0), time: { seconds: T0, nanos: 200_000_000 } });
  const [rate] = values(evaluator.evaluate({ ...snapshot([exactTask([[6, 30, 0, 0]])], 0), time: { seconds: T0, nanos: 400_000_000 } }));
  assert.deepEqual(rate, [100]);
});
