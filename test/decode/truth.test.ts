/**
 * Every shared real capture against its tshark ground truth:
 * frame and byte totals, IP frame counts and every 5-tuple's packets and bytes, exactly.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openCaptureFile } from '../../src/capture/file-source.js';
import type { ErrorCode } from '../../src/model/errors.js';
import { sharedPcaps } from '../kit/shared-pcaps.js';
import { decodeAll, flowKey, type TruthFlow } from './decode-helpers.js';

const shared = sharedPcaps();

interface Truth {
  frames: number;
  bytes: number;
  captured_bytes: number;
  truncated_frames: number;
  ip_frames: number;
  ipv4_frames: number;
  ipv6_frames: number;
  ip_bytes: number;
  non_ip_frames: number;
  tshark_exit_status: number;
  flows: TruthFlow[];
}

/** Damaged files: where tshark stops, we stop too, with a stable code. */
const EXPECTED_ERRORS: Record<string, { code: ErrorCode; offset: number }> = {
  // Cut short inside the last record header (1 stray byte after the last full record).
  'http-mime-truncated-input.pcap': { code: 'NS_ERR_PCAP_TRUNCATED', offset: 2715459 },
  // The 7th record header claims 4,325,376 captured bytes; libpcap and tshark stop there (262144 maximum).
  'tls_DER-incomplete-header.pcap': { code: 'NS_ERR_PCAP_RECORD_TOO_LARGE', offset: 5035 },
  // Major version 1: tshark refuses the file, so its truth is "no truth" (0 frames, exit status 2).
  'pcap-invalid-version-1.pcap': { code: 'NS_ERR_PCAP_BAD_HEADER', offset: 0 },
};

const captures = shared.skip === false
  ? readdirSync(shared.dir)
      .filter((name) => /\.(pcap|pcapng)$/.test(name))
      .sort()
  : [];

test('the shared capture corpus is present', { skip: shared.skip }, () => {
  assert.ok(captures.length >= 40, `expected the 40 shared captures in ${shared.dir}, found ${captures.length}`);
});

for (const name of captures) {
  test(`truth: ${name}`, async () => {
    const truth = JSON.parse(readFileSync(join(shared.dir, 'truth', `${name}.json`), 'utf8')) as Truth;
    const result = await decodeAll(openCaptureFile(join(shared.dir, name)), name, { keepPackets: false });
    const { stats, error } = result;

    const expectedError = EXPECTED_ERRORS[name];
    if (expectedError === undefined) {
      assert.equal(error, undefined, `unexpected error: ${error?.message}`);
    } else {
      assert.equal(error?.code, expectedError.code);
      assert.equal(error.location.file, name);
      assert.equal(error.location.offset, expectedError.offset);
      assert.ok(error.message.includes(name) && error.message.includes(String(expectedError.offset)), error.message);
    }
    if (truth.tshark_exit_status !== 0 && truth.frames === 0) {
      // No truth: tshark could not open the file. Our own verdict is the error code above.
      assert.equal(stats.frames, 0);
      assert.equal(result.flows.size, 0);
      return;
    }

    // Every link type in the corpus is one we decode, so IP-level numbers must match too.
    assert.deepEqual(stats.unsupportedLinkTypes, {});
    assert.equal(stats.frames, truth.frames, 'frames');
    assert.equal(stats.bytes, truth.bytes, 'bytes');
    assert.equal(stats.capturedBytes, truth.captured_bytes, 'captured bytes');
    assert.equal(stats.truncatedFrames, truth.truncated_frames, 'truncated frames');
    assert.equal(stats.ipFrames, truth.ip_frames, 'IP frames');
    assert.equal(stats.ipv4Frames, truth.ipv4_frames, 'IPv4 frames');
    assert.equal(stats.ipv6Frames, truth.ipv6_frames, 'IPv6 frames');
    assert.equal(stats.ipBytes, truth.ip_bytes, 'IP bytes');
    assert.equal(stats.nonIpFrames, truth.non_ip_frames, 'non-IP frames');

    const expectedFlows = new Map(truth.flows.map((flow) => [flowKey(flow.src, flow.dst, flow.sport, flow.dport, flow.proto), [flow.packets, flow.bytes]]));
    const missing: string[] = [];
    for (const [key, counts] of expectedFlows) {
      const ours = result.flows.get(key);
      if (ours === undefined || ours[0] !== counts[0] || ours[1] !== counts[1]) missing.push(`${key}: truth ${counts.join('/')}, ours ${ours?.join('/') ?? 'none'}`);
    }
    const extra = [...result.flows.keys()].filter((key) => !expectedFlows.has(key));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} flows differ`);
    assert.deepEqual(extra.slice(0, 10), [], `${extra.length} flows that the truth does not have`);

    if (stats.frames > 0) {
      assert.ok(stats.firstTimestamp !== undefined && stats.lastTimestamp !== undefined);
      assert.ok(stats.firstTimestamp.seconds <= stats.lastTimestamp.seconds);
    }
  });
}
