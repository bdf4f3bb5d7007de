/**
 * The alert routes of the HTTP API over a real socket, on notices stored by the real DuckDB writer:
 * every notice newest first with filters and paging, the alerts active now, the same answers as the
 * query service, tokens required, hostile values refused with 400 or matched as plain text.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlertRecord } from '../../src/model/alert.js';
import { S, jsonOf, startWorld, type HttpWorld } from './http-kit.js';

const T0 = 1_700_000_100n * S;

function notice(kind: AlertRecord['kind'], rule: string, flowText: string, atNs: bigint, value: number): AlertRecord {
  return {
    atNs,
    kind,
    id: `${rule}|${flowText}`,
    rule,
    taskName: rule === 'Spike' ? 'per_five_tuple' : 'hh_src',
    taskKind: rule === 'Spike' ? 'exact' : 'heavy_hitter',
    metric: rule === 'Spike' ? 'total_bytes' : 'heavy_hitter_count',
    operator: '>',
    threshold: 100,
    flowText,
    flow: flowText === '' ? {} : { SrcIP: flowText },
    flowFields: rule === 'Spike' ? [] : ['SrcIP'],
    elementFields: [],
    value,
    sinceNs: T0,
    firedAtNs: kind === 'firing' ? atNs : T0,
    evidence: [{ flowText: flowText === '' ? '10.0.0.9' : flowText, flow: { SrcIP: flowText === '' ? '10.0.0.9' : flowText }, packets: value }],
    runId: 'run-1',
    engineId: 'test',
    source: 'analyze',
  };
}

const NOTICES = [
  notice('firing', 'Scan', '10.0.0.1', T0, 150),
  notice('firing', 'Spike', '', T0 + 10n * S, 5000),
  notice('resolved', 'Scan', '10.0.0.1', T0 + 20n * S, 150),
  notice('firing', 'Scan', '2001:db8::7', T0 + 30n * S, 400),
];

interface AlertJson {
  atNs: string;
  atMs: number;
  kind: string;
  rule: string;
  flow: string;
  value: number;
  firedAtNs: string | null;
}

describe('HTTP API: alerts', () => {
  let world: HttpWorld;
  before(async () => {
    world = await startWorld({}, { alerts: NOTICES });
  });
  after(async () => {
    await world?.close();
  });

  test('every stored notice, newest first, equal to the query service; filters by rule, kind and flow; pages', async () => {
    const all = await jsonOf<{ alerts: AlertJson[]; nextOffset: number | null }>(await world.call('/api/v1/alerts'));
    assert.deepEqual(
      all.alerts.map((a) => [a.kind, a.rule, a.flow, a.value, a.atNs]),
      [...NOTICES].reverse().map((n) => [n.kind, n.rule, n.flowText, n.value, n.atNs.toString()]),
    );
    assert.equal(all.alerts[0]!.atMs, Number((T0 + 30n * S) / 1_000_000n));
    assert.equal(all.nextOffset, null);
    const service = await world.service.alerts({ limit: 100 });
    assert.deepEqual(
      all.alerts.map((a) => a.atNs),
      service.map((r) => r.atNs.toString()),
    );

    const resolved = await jsonOf<{ alerts: AlertJson[] }>(await world.call('/api/v1/alerts?kind=resolved'));
    assert.deepEqual(
      resolved.alerts.map((a) => [a.rule, a.flow]),
      [['Scan', '10.0.0.1']],
    );
    const taskWide = await jsonOf<{ alerts: AlertJson[] }>(await world.call('/api/v1/alerts?flow='));
    assert.deepEqual(
      taskWide.alerts.map((a) => a.rule),
      ['Spike'],
    );
    const ranged = await jsonOf<{ alerts: AlertJson[] }>(await world.call(`/api/v1/alerts?rule=Scan&start=${(T0 + 5n * S).toString()}`));
    assert.deepEqual(
      ranged.alerts.map((a) => [a.kind, a.flow]),
      [
        ['firing', '2001:db8::7'],
        ['resolved', '10.0.0.1'],
      ],
    );
    const page = await jsonOf<{ alerts: AlertJson[]; nextOffset: number | null }>(await world.call('/api/v1/alerts?limit=3'));
    assert.equal(page.alerts.length, 3);
    assert.equal(page.nextOffset, 3);
    const rest = await jsonOf<{ alerts: AlertJson[]; nextOffset: number | null }>(await world.call('/api/v1/alerts?limit=3&offset=3'));
    assert.deepEqual(
      rest.alerts.map((a) => a.atNs),
      [T0.toString()],
    );
  });

  test('active alerts: the newest notice of each alert unless it resolved', async () => {
    const active = await jsonOf<{ alerts: AlertJson[] }>(await world.call('/api/v1/alerts/active'));
    assert.deepEqual(
      active.alerts.map((a) => [a.rule, a.flow]).sort(),
      [
        ['Scan', '2001:db8::7'],
        ['Spike', ''],
      ],
    );
    // as of before the resolve, the first scan was still active
    const earlier = await jsonOf<{ alerts: AlertJson[] }>(await world.call(`/api/v1/alerts/active?end=${(T0 + 15n * S).toString()}`));
    assert.deepEqual(
      earlier.alerts.map((a) => [a.rule, a.flow]).sort(),
      [
        ['Scan', '10.0.0.1'],
        ['Spike', ''],
      ],
    );
  });

  test('a token is required; bad values are 400 with a code; injection text is only ever matched', async () => {
    assert.equal((await world.call('/api/v1/alerts', { token: null })).status, 401);
    assert.equal((await world.call('/api/v1/alerts/active', { token: null })).status, 401);
    for (const query of ['kind=bogus', 'limit=0', 'limit=100000', 'offset=-1', 'start=yesterday', 'colour=red']) {
      const body = await jsonOf<{ error: { code: string; message: string } }>(await world.call(`/api/v1/alerts?${query}`), 400);
      assert.match(body.error.code, /^NS_ERR_/, query);
    }
    const hostile = encodeURIComponent("x' OR 1=1 --");
    const none = await jsonOf<{ alerts: AlertJson[] }>(await world.call(`/api/v1/alerts?rule=${hostile}&flow=${hostile}`));
    assert.deepEqual(none.alerts, []);
    // the store still holds every notice afterwards
    assert.equal((await jsonOf<{ alerts: AlertJson[] }>(await world.call('/api/v1/alerts'))).alerts.length, NOTICES.length);
  });
});
