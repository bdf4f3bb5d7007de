/**
 * The alerter under a live (wall-clock) manager with a real engine: evaluated at every
 * check_interval by the clock, whatever the packets' timestamps say, and delivered to a real
 * webhook receiver. This is how the engine service runs it (alerter-setup.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { Manager } from '../../src/engine/manager.js';
import type { TaskGroup } from '../../src/model/ports.js';
import { alerterFromConfig, scheduleAlerter } from '../../src/alerting/alerter-setup.js';
import { WebhookNotifier } from '../../src/alerting/notifiers/index.js';
import type { WebhookBody } from '../../src/alerting/notification-format.js';
import { parseConfig } from '../../src/config/load.js';
import { fillBatches, randomPackets } from '../kit/random-packets.js';
import { startWebhookReceiver } from './receivers.js';

test('live: a wall-clock manager evaluates the rules every check_interval; totals fire, a rate fires and resolves', async () => {
  const config = parseConfig(
    [
      'aggregator:',
      '  types: [exact]',
      '  period: 10s',
      '  exact:',
      '    writers: []',
      '    tasks: [{name: per_src, key_fields: [SrcIP]}]',
      'alerter:',
      '  check_interval: 2s',
      '  rules:',
      '    - {name: Many_Packets, task_name: per_src, metric: total_packets, operator: ">", threshold: 150}',
      '    - {name: Packet_Rate, task_name: per_src, metric: packets_per_second, operator: ">", threshold: 40}',
      '',
    ].join('\n'),
    { file: 'live.yaml', env: {} },
  );
  const receiver = await startWebhookReceiver();
  const alerter = alerterFromConfig(config, ['per_src'], {
    notifiers: [new WebhookNotifier({ url: receiver.url, secret: 'k', timeoutMs: 2000, retries: 0, format: 'json' })],
    fallbackAnalyst: null,
  });
  assert.ok(alerter !== undefined);
  let now = 1_700_000_000_500;
  const engine = new Engine({ workers: 1, batchCapacity: 256, tasks: { exact: [{ name: 'per_src', keyFields: ['SrcIP'], seed: 1 }], sketch: [] } });
  const groups: TaskGroup[] = [{ name: 'exact', taskNames: ['per_src'], writers: [] }];
  scheduleAlerter(groups, alerter, config);
  const manager = new Manager({ engine, groups, periodMs: config.aggregator.periodMs, clock: 'wall', now: () => now });
  await engine.start();
  try {
    // stamped years ago: live evaluation goes by the wall clock
    const packets = randomPackets(200, 4, 50, 1_500_000_000);
    const feed = async (from: number, to: number): Promise<void> => {
      for (const source of fillBatches(packets.slice(from, to), 256)) {
        const batch = engine.pool.acquire();
        for (let i = 0; i < source.count; i++) batch.copyPacketFrom(source, i);
        await manager.ingest(batch);
      }
    };
    await manager.tick(); // the clock starts: period from …000.5
    await feed(0, 100);
    now += 1000;
    await manager.tick(); // …001.5: no check due
    await feed(100, 200);
    now += 1000;
    await manager.tick(); // …002.5: the check at …002.0 sees 200 packets since the period began
    now += 2000;
    await manager.tick(); // …004.5: the check at …004.0: no new packet, 0 packets/s → the rate resolves
    await manager.finish();
  } finally {
    await engine.stop();
  }
  await alerter.stop();
  await receiver.close();
  const bodies = receiver.requests.map((r) => JSON.parse(r.body) as WebhookBody);
  assert.deepEqual(
    bodies.map((b) => `${b.kind}:${b.rule}@${b.at.slice(17, 23)}`),
    ['firing:Many_Packets@22.000', 'firing:Packet_Rate@22.000', 'resolved:Packet_Rate@24.000'], // …000 is 22:13:20Z,
  );
  assert.equal(bodies[0]!.alerts[0]!.value, 200);
  // the first period's start is known to the whole second (its id, …000): 200 packets / 2 s
  assert.equal(bodies[1]!.alerts[0]!.value, 100);
  assert.equal(bodies[0]!.analysis, null, 'no analyst configured');
  const episodes = alerter.episodes();
  assert.deepEqual(
    episodes.map((e) => [e.alert.rule, e.resolvedAt === undefined ? 'firing' : 'resolved']),
    [
      ['Many_Packets', 'firing'],
      ['Packet_Rate', 'resolved'],
    ],
  );
  assert.equal(alerter.stats().evaluations, 3, 'checks at …002.0 and …004.0, and the final snapshot');
});
