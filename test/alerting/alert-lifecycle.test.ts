import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertLifecycle } from '../../src/alerting/alert-lifecycle.js';
import type { AlertNotice } from '../../src/alerting/alert-lifecycle.js';
import type { Offender, RuleEvaluation } from '../../src/alerting/rule-evaluator.js';
import type { AlertRule } from '../../src/model/alert.js';

const T0 = 1_700_000_000;

function rule(overrides: Partial<AlertRule> = {}): AlertRule {
  return { name: 'r', taskName: 'hh', metric: 'heavy_hitter_count', operator: '>', threshold: 100, forSeconds: 0, cooldownSeconds: 600, ...overrides };
}

function offender(flowText: string, value: number): Offender {
  return { flowText, flow: { SrcIP: flowText }, value, evidence: [{ flowText, flow: { SrcIP: flowText }, packets: value }] };
}

function reading(r: AlertRule, offenders: Offender[] | 'unavailable'): RuleEvaluation {
  return {
    rule: r,
    taskKind: 'heavy_hitter',
    flowFields: ['SrcIP'],
    reading: offenders === 'unavailable' ? { kind: 'unavailable', reason: 'test' } : { kind: 'measured', offenders },
  };
}

/** Run a script of (seconds after T0, offenders) through one lifecycle; returns the notices per step as `kind:flow`. */
function script(r: AlertRule, steps: [number, Offender[] | 'unavailable'][]): string[][] {
  const lifecycle = new AlertLifecycle();
  return steps.map(([at, offenders]) => lifecycle.update(reading(r, offenders), { seconds: T0 + at, nanos: 0 }).map((n: AlertNotice) => `${n.kind}:${n.alert.flowText}`));
}

test('lifecycle: fires once at the first evaluation when for is 0, then stays quiet until the cooldown', () => {
  const a = offender('10.0.0.1', 500);
  assert.deepEqual(
    script(rule({ cooldownSeconds: 600 }), [
      [0, [a]],
      [60, [a]],
      [120, [a]],
      [599, [a]],
      [600, [a]],
      [660, [a]],
      [1200, [a]],
    ]),
    [['firing:10.0.0.1'], [], [], [], ['repeat:10.0.0.1'], [], ['repeat:10.0.0.1']],
  );
});

test('lifecycle: resolved once when the condition clears, and nothing more while it stays clear', () => {
  const a = offender('10.0.0.1', 500);
  assert.deepEqual(
    script(rule(), [
      [0, [a]],
      [60, []],
      [120, []],
    ]),
    [['firing:10.0.0.1'], ['resolved:10.0.0.1'], []],
  );
});

test('lifecycle: `for` delays firing until the condition has held that long; a gap restarts the wait silently', () => {
  const a = offender('10.0.0.1', 500);
  assert.deepEqual(
    script(rule({ forSeconds: 120 }), [
      [0, [a]], // pending since 0
      [60, [a]], // 60 s < 120 s
      [90, []], // cleared while pending: nobody was told, so no resolved notice
      [100, [a]], // pending again since 100
      [180, [a]], // 80 s
      [220, [a]], // 120 s: fires
      [280, []],
    ]),
    [[], [], [], [], [], ['firing:10.0.0.1'], ['resolved:10.0.0.1']],
  );
});

test('lifecycle: identity is rule + flow: each flow fires and resolves on its own', () => {
  const a = offender('10.0.0.1', 500);
  const b = offender('10.0.0.2', 900);
  assert.deepEqual(
    script(rule(), [
      [0, [a]],
      [60, [a, b]],
      [120, [b]],
      [180, []],
    ]),
    [['firing:10.0.0.1'], ['firing:10.0.0.2'], ['resolved:10.0.0.1'], ['resolved:10.0.0.2']],
  );
});

test('lifecycle: an unavailable reading keeps every alert as it is (no resolve, no repeat, no firing)', () => {
  const a = offender('10.0.0.1', 500);
  assert.deepEqual(
    script(rule({ forSeconds: 60, cooldownSeconds: 60 }), [
      [0, [a]], // pending
      [30, 'unavailable'],
      [60, [a]], // fires: the pending time counts from 0
      [120, 'unavailable'], // a repeat would be due, but nothing was measured
      [130, [a]], // now it is
      [200, 'unavailable'],
      [300, []],
    ]),
    [[], [], ['firing:10.0.0.1'], [], ['repeat:10.0.0.1'], [], ['resolved:10.0.0.1']],
  );
});

test('lifecycle: cooldown 0 repeats at every evaluation (the original behaviour, on request)', () => {
  const a = offender('10.0.0.1', 500);
  assert.deepEqual(
    script(rule({ cooldownSeconds: 0 }), [
      [0, [a]],
      [10, [a]],
      [20, [a]],
    ]),
    [['firing:10.0.0.1'], ['repeat:10.0.0.1'], ['repeat:10.0.0.1']],
  );
});

test('lifecycle: an alert that comes back after resolving is a new episode that waits for `for` again', () => {
  const a = offender('10.0.0.1', 500);
  assert.deepEqual(
    script(rule({ forSeconds: 60, cooldownSeconds: 3600 }), [
      [0, [a]],
      [60, [a]],
      [120, []],
      [180, [a]],
      [200, [a]],
      [240, [a]],
    ]),
    [[], ['firing:10.0.0.1'], ['resolved:10.0.0.1'], [], [], ['firing:10.0.0.1']],
  );
});

test('lifecycle: notices carry since, firedAt, the latest value and status; resolved keeps the last value', () => {
  const lifecycle = new AlertLifecycle();
  const r = rule({ forSeconds: 30 });
  const at = (s: number) => ({ seconds: T0 + s, nanos: 0 });
  assert.deepEqual(lifecycle.update(reading(r, [offender('x', 200)]), at(0)), []);
  assert.equal(lifecycle.pending().length, 1);
  assert.equal(lifecycle.active().length, 0);
  const [fired] = lifecycle.update(reading(r, [offender('x', 300)]), at(30));
  assert.equal(fired!.kind, 'firing');
  assert.equal(fired!.alert.id, 'r|x');
  assert.equal(fired!.alert.value, 300);
  assert.equal(fired!.alert.status, 'firing');
  assert.deepEqual(fired!.alert.since, at(0));
  assert.deepEqual(fired!.alert.firedAt, at(30));
  assert.equal(lifecycle.active().length, 1);
  lifecycle.update(reading(r, [offender('x', 450)]), at(60));
  const [resolved] = lifecycle.update(reading(r, []), at(90));
  assert.equal(resolved!.kind, 'resolved');
  assert.equal(resolved!.alert.status, 'resolved');
  assert.equal(resolved!.alert.value, 450);
  assert.deepEqual(resolved!.alert.at, at(90));
  assert.deepEqual(resolved!.alert.firedAt, at(30));
  assert.equal(lifecycle.active().length, 0);
});

test('lifecycle: rules are independent even on the same flow; notices come largest value first', () => {
  const lifecycle = new AlertLifecycle();
  const r1 = rule({ name: 'one' });
  const r2 = rule({ name: 'two' });
  const at = { seconds: T0, nanos: 0 };
  const n1 = lifecycle.update(reading(r1, [offender('a', 1), offender('b', 3), offender('c', 2)]), at);
  assert.deepEqual(n1.map((n) => n.alert.flowText), ['b', 'c', 'a']);
  const n2 = lifecycle.update(reading(r2, [offender('a', 1)]), at);
  assert.deepEqual(n2.map((n) => n.alert.id), ['two|a']);
  // clearing rule one leaves rule two's alert on the same flow alone
  const cleared = lifecycle.update(reading(r1, []), { seconds: T0 + 1, nanos: 0 });
  assert.deepEqual(cleared.map((n) => n.alert.id).sort(), ['one|a', 'one|b', 'one|c']);
  assert.deepEqual(lifecycle.active().map((a) => a.id), ['two|a']);
});

test('lifecycle: sub-second times count (packet time has nanoseconds)', () => {
  const lifecycle = new AlertLifecycle();
  const r = rule({ forSeconds: 0.5 });
  const a = offender('x', 200);
  assert.deepEqual(lifecycle.update(reading(r, [a]), { seconds: T0, nanos: 600_000_000 }), []);
  assert.deepEqual(lifecycle.update(reading(r, [a]), { seconds: T0 + 1, nanos: 99_999_999 }), []);
  assert.equal(lifecycle.update(reading(r, [a]), { seconds: T0 + 1, nanos: 100_000_000 })[0]?.kind, 'firing');
});
