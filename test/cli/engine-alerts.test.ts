/**
 * Alerting in a cluster, against real servers: two engines with leader election share a real
 * capture by source address; each evaluates the rules on its own sources and relays its
 * notifications over NATS, and only the leader delivers them — to a real webhook receiver that
 * checks the signature. Every heavy source of the capture (tshark truth) must arrive exactly once,
 * including the ones only the follower saw.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERT_RELAY_SUBJECT } from '../../src/bus/alert-relay.js';
import { NatsConnection } from '../../src/bus/nats-connection.js';
import { partitionOfSource } from '../../src/bus/packet-publisher.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { EngineService } from '../../src/pipeline/engine-service.js';
import { parseAddress } from '../../src/model/ip.js';
import { webhookSignature } from '../../src/alerting/notifiers/index.js';
import { startWebhookReceiver, type WebhookReceiver } from '../alerting/receivers.js';
import { NatsServer, natsSkip } from '../kit/nats-server.js';
import { SHARED_PCAPS, configFrom, parseMetrics, replayCapture, sharedPcaps, waitFor } from './engine-kit.js';

const skip = natsSkip() || sharedPcaps().skip;
const CAPTURE = 'gnutella.pcap';
const THRESHOLD = 40;
const PARTITIONS = 16;
const SECRET = 'relay-secret';

/** Sources of the capture with more than THRESHOLD packets, from its tshark truth. */
function heavySources(): Set<string> {
  const truth = JSON.parse(readFileSync(join(SHARED_PCAPS, 'truth', `${CAPTURE}.json`), 'utf8')) as { flows: { src: string; packets: number }[] };
  const packets = new Map<string, number>();
  for (const flow of truth.flows) packets.set(flow.src, (packets.get(flow.src) ?? 0) + flow.packets);
  return new Set([...packets].filter(([, n]) => n > THRESHOLD).map(([src]) => src));
}

interface WebhookBody {
  kind: string;
  rule: string;
  alerts: { flowText: string; value: number }[];
}

describe('alerting in a cluster: every engine evaluates, the leader alone delivers', { skip }, () => {
  let nats: NatsServer;
  let receiver: WebhookReceiver;
  before(async () => {
    [nats, receiver] = await Promise.all([NatsServer.start(), startWebhookReceiver()]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), receiver?.close()]);
  });

  test('each heavy source of a real capture is notified exactly once, whichever engine owns it; garbage on the relay is counted, not fatal', async (t) => {
    const config = configFrom(`
aggregator:
  types: [sketch]
  period: 720h # engine periods fall on multiples of the period since the epoch: no reset during the test
  sketch:
    writers: []
    tasks:
      - { name: hh_src, skt_type: 0, flow_fields: [SrcIP], width: 1024, depth: 2, count_thereshold: ${THRESHOLD}, size_thereshold: 1000000000 }
alerter:
  enabled: true
  check_interval: 1s
  rules:
    - { name: Heavy_Source, task_name: hh_src, metric: heavy_hitter_count, operator: ">", threshold: ${THRESHOLD} }
  notifiers:
    webhook: { url: "${receiver.url}", secret: "${SECRET}", retries: 0 }
`);
    const engines = [0, 1].map(
      (index) =>
        new EngineService({
          config,
          natsUrl: nats.url,
          subject: 'gons.packets.raw',
          format: 'batch',
          ownership: PartitionOwnership.roundRobin(PARTITIONS, 2, index),
          engineId: `alerts-${index}`,
          leaderElection: true,
          leaderTtlMs: 1000,
          workers: 0,
          store: null,
        }),
    );
    const expected = heavySources();
    // the capture's heavy sources fall on both engines, so the follower's alerts must be relayed
    const ownerOf = (src: string): number => partitionOfSource(parseAddress(src)!.words, 0, PARTITIONS) % 2;
    assert.deepEqual(new Set([...expected].map(ownerOf)), new Set([0, 1]), 'heavy sources on both engines');
    const firing = (): WebhookBody[] => receiver.requests.map((r) => JSON.parse(r.body) as WebhookBody).filter((b) => b.kind === 'firing');
    const notified = (): string[] => firing().flatMap((b) => b.alerts.map((a) => a.flowText));
    const garbage = new NatsConnection({ url: nats.url, name: 'garbage' });
    try {
      await Promise.all(engines.map((e) => e.start()));
      await waitFor(() => engines.some((e) => e.isLeader), 30_000, 'a leader');
      await garbage.start();
      garbage.publish(ALERT_RELAY_SUBJECT, new TextEncoder().encode('{"engineId": 7, "notification": "<script>"}'));
      garbage.publish(ALERT_RELAY_SUBJECT, new Uint8Array([0xff, 0xfe, 0x00]));
      await garbage.flush();
      const published = await replayCapture(nats.url, join(SHARED_PCAPS, CAPTURE), { subject: 'gons.packets.raw', format: 'packet-batch', partitions: PARTITIONS });
      await waitFor(() => engines[0]!.counters.packetsAccepted + engines[1]!.counters.packetsAccepted === published, 30_000, 'every packet in the engines');
      await waitFor(() => new Set(notified()).size >= expected.size, 30_000, () => `notified ${JSON.stringify(notified())}, expected ${JSON.stringify([...expected])}`);
      const leader = engines.find((e) => e.isLeader)!;
      const follower = engines.find((e) => e !== leader)!;
      const deliveries = (metrics: Map<string, number>): number => [...metrics].filter(([name]) => name.startsWith('netspectra_alert_deliveries_total{notifier="webhook:')).reduce((sum, [, n]) => sum + n, 0);
      // a delivery is counted once the receiver's answer is back, a moment after the request arrived
      await waitFor(async () => deliveries(parseMetrics(await leader.metricsText())) >= receiver.requests.length, 30_000, 'the leader counted its deliveries');
      const leaderMetrics = parseMetrics(await leader.metricsText());
      const followerMetrics = parseMetrics(await follower.metricsText());
      t.diagnostic(`leader ${leader.options.engineId}; relay received ${leaderMetrics.get('netspectra_alert_relay_received_total')}, webhook requests ${receiver.requests.length}`);
      // every engine receives the relay; both counted the two garbage payloads and went on
      assert.equal(leaderMetrics.get('netspectra_alert_relay_malformed_total'), 2);
      assert.equal(followerMetrics.get('netspectra_alert_relay_malformed_total'), 2);
      assert.ok(leaderMetrics.get('netspectra_alert_notifications_total')! >= 1 && followerMetrics.get('netspectra_alert_notifications_total')! >= 1, 'both engines produced notifications');
      assert.equal(deliveries(followerMetrics), 0, 'the follower delivers nothing');
      assert.equal(deliveries(leaderMetrics), receiver.requests.length, 'the leader delivered every request');
    } finally {
      await garbage.stop();
      await Promise.all(engines.map((e) => e.stop()));
    }
    const names = notified();
    assert.deepEqual(new Set(names), expected);
    assert.equal(names.length, expected.size, `each source once, got ${JSON.stringify(names)}`);
    for (const request of receiver.requests) {
      const timestamp = request.headers['x-netspectra-timestamp'] as string;
      assert.equal(request.headers['x-netspectra-signature'], webhookSignature(SECRET, timestamp, request.body));
    }
  });
});
