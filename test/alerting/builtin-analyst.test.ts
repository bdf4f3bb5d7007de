import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuiltinAnalyst, analyzeAlert, builtinAnalysisMarkdown, isInternalAddress, markdownCode } from '../../src/alerting/builtin-analyst.js';
import { markdownToHtml } from '../../src/alerting/markdown-html.js';
import type { Alert, AlertEvidenceFlow } from '../../src/model/alert.js';
import type { KeyObject } from '../../src/model/snapshot.js';

function flowText(key: KeyObject): string {
  return [key.SrcIP, key.DstIP, key.SrcPort, key.DstPort, key.Protocol].filter((v) => v !== undefined).join(',');
}

function evidence(key: KeyObject, numbers: Omit<AlertEvidenceFlow, 'flow' | 'flowText'>): AlertEvidenceFlow {
  return { flow: key, flowText: flowText(key), ...numbers };
}

function alert(overrides: Partial<Alert>): Alert {
  const base: Alert = {
    id: 'rule|',
    rule: 'rule',
    taskName: 'per_five_tuple',
    taskKind: 'exact',
    metric: 'total_packets',
    operator: '>',
    threshold: 1000,
    flowText: '',
    flow: {},
    value: 5000,
    status: 'firing',
    since: { seconds: 1_700_000_000, nanos: 0 },
    at: { seconds: 1_700_000_060, nanos: 0 },
    flowFields: ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'],
    evidence: [],
  };
  const merged = { ...base, ...overrides };
  return { ...merged, id: `${merged.rule}|${merged.flowText}` };
}

test('SYN flood: TCP, tiny packets, many packets per flow', () => {
  const flows = [
    evidence({ SrcIP: '203.0.113.9', DstIP: '10.0.0.80', SrcPort: 40000, DstPort: 80, Protocol: 6 }, { packets: 20_000, bytes: 20_000 * 60 }),
    evidence({ SrcIP: '203.0.113.9', DstIP: '10.0.0.80', SrcPort: 40001, DstPort: 80, Protocol: 6 }, { packets: 5_000, bytes: 5_000 * 60 }),
  ];
  const finding = analyzeAlert(alert({ rule: 'packets', value: 25_000, evidence: flows }));
  assert.equal(finding.kind, 'syn-flood');
  assert.match(finding.classification, /SYN flood against `10\.0\.0\.80` port 80/);
  assert.equal(finding.severity, 'critical'); // 25x the threshold
  assert.ok(finding.mitigation.some((step) => /syncookies/.test(step)));
  assert.ok(finding.facts.some((fact) => /Average packet size 60 bytes/.test(fact)));

  // Same numbers with big packets is not a SYN flood.
  const bulk = flows.map((flow) => ({ ...flow, bytes: (flow.packets ?? 0) * 1400 }));
  assert.notEqual(analyzeAlert(alert({ value: 25_000, evidence: bulk })).kind, 'syn-flood');
  // Nor tiny UDP.
  const udp = flows.map((flow) => ({ ...flow, flow: { ...flow.flow, Protocol: 17 } }));
  assert.notEqual(analyzeAlert(alert({ value: 25_000, evidence: udp })).kind, 'syn-flood');
});

test('SYN flood from many spoofed sources on a flow-count rule', () => {
  const flows = Array.from({ length: 40 }, (_, i) => evidence({ SrcIP: `198.51.100.${i + 1}`, DstIP: '10.0.0.5', SrcPort: 1024 + i, DstPort: 443, Protocol: 6 }, { packets: 3, bytes: 180 }));
  const finding = analyzeAlert(alert({ rule: 'flows', metric: 'new_flows', threshold: 10, value: 40, evidence: flows }));
  assert.equal(finding.kind, 'syn-flood');
  assert.match(finding.rootCause, /from 40 sources/);
  assert.ok(finding.mitigation.some((step) => /spoofed/.test(step)));
});

test('port scan: one source to many ports', () => {
  const flows = Array.from({ length: 30 }, (_, i) => evidence({ SrcIP: '10.1.1.1', DstIP: '10.2.2.2', SrcPort: 50000, DstPort: 20 + i, Protocol: 6 }, { packets: 1, bytes: 60 }));
  const finding = analyzeAlert(alert({ rule: 'flows', metric: 'total_flows', threshold: 20, value: 30, evidence: flows }));
  assert.equal(finding.kind, 'port-scan');
  assert.match(finding.classification, /vertical scan/);
  assert.ok(finding.facts.some((fact) => /30 distinct destination ports from `10\.1\.1\.1` on `10\.2\.2\.2`/.test(fact)));

  // A super-spreader task counting destination ports is a port scan by construction.
  const spreader = analyzeAlert(
    alert({ taskKind: 'super_spreader', taskName: 'ss_src_port', metric: 'super_spreader_spread', flowFields: ['SrcIP'], elementFields: ['DstPort'], flowText: '10.1.1.1', flow: { SrcIP: '10.1.1.1' }, threshold: 100, value: 900 }),
  );
  assert.equal(spreader.kind, 'port-scan');
  assert.equal(spreader.severity, 'high'); // 9x, and scans are capped at high
});

test('super-spreader fan-out, worm-like when every flow hits one worm port', () => {
  const plain = analyzeAlert(
    alert({ taskKind: 'super_spreader', taskName: 'ss_src_dst', metric: 'super_spreader_spread', flowFields: ['SrcIP'], elementFields: ['DstIP'], flowText: '10.0.0.66', flow: { SrcIP: '10.0.0.66' }, threshold: 200, value: 300 }),
  );
  assert.equal(plain.kind, 'super-spreader');
  assert.match(plain.classification, /Super-spreader/);
  assert.equal(plain.severity, 'medium'); // 300/200 = 1.5x
  assert.ok(plain.facts.some((fact) => /300 distinct DstIP values contacted by `10\.0\.0\.66`/.test(fact)));

  const flows = Array.from({ length: 50 }, (_, i) => evidence({ SrcIP: '10.0.0.66', DstIP: `10.9.${i >> 8}.${i & 255}`, DstPort: 445, Protocol: 6 }, { packets: 2, bytes: 120 }));
  const worm = analyzeAlert(alert({ metric: 'total_flows', threshold: 40, value: 50, evidence: flows }));
  assert.equal(worm.kind, 'super-spreader');
  assert.match(worm.classification, /Worm-like fan-out on SMB \(port 445\)/);
  assert.equal(worm.severity, 'high');
});

test('possible exfiltration: large outbound bytes from one internal source', () => {
  const flows = [evidence({ SrcIP: '192.168.1.20', DstIP: '198.51.100.7', SrcPort: 51000, DstPort: 443, Protocol: 6 }, { packets: 100_000, bytes: 140_000_000 })];
  const finding = analyzeAlert(alert({ metric: 'total_bytes', threshold: 100_000_000, value: 140_000_000, evidence: flows }));
  assert.equal(finding.kind, 'exfiltration');
  assert.equal(finding.severity, 'high'); // raised from low: exfiltration is never below high
  assert.match(finding.rootCause, /140\.0 MB/);

  // The same transfer inbound (external source) is volume, not exfiltration.
  const inbound = [evidence({ SrcIP: '198.51.100.7', DstIP: '192.168.1.20', SrcPort: 443, DstPort: 51000, Protocol: 6 }, { packets: 100_000, bytes: 140_000_000 })];
  assert.equal(analyzeAlert(alert({ metric: 'total_bytes', threshold: 100_000_000, value: 140_000_000, evidence: inbound })).kind, 'volumetric-flood');
});

test('volumetric flood, with UDP amplification recognised by source port', () => {
  const heavy = analyzeAlert(alert({ taskKind: 'heavy_hitter', taskName: 'cm_src_left', metric: 'heavy_hitter_size', flowFields: ['SrcIP'], flowText: '203.0.113.50', flow: { SrcIP: '203.0.113.50' }, threshold: 1_000_000, value: 4_000_000 }));
  assert.equal(heavy.kind, 'volumetric-flood');
  assert.equal(heavy.severity, 'high');
  const flows = [evidence({ SrcIP: '192.0.2.53', DstIP: '10.0.0.1', SrcPort: 53, DstPort: 33000, Protocol: 17 }, { packets: 50_000, bytes: 50_000 * 1200 })];
  const amplified = analyzeAlert(alert({ metric: 'bytes_per_second', threshold: 1_000_000, value: 30_000_000, evidence: flows }));
  assert.equal(amplified.kind, 'volumetric-flood');
  assert.match(amplified.classification, /DNS reflection\/amplification/);
  assert.equal(amplified.severity, 'critical');
});

test('a traffic drop and a resolved alert', () => {
  const drop = analyzeAlert(alert({ operator: '<', threshold: 1000, value: 10 }));
  assert.equal(drop.kind, 'traffic-drop');
  assert.equal(drop.severity, 'medium');
  const resolved = analyzeAlert(alert({ status: 'resolved', taskKind: 'super_spreader', metric: 'super_spreader_spread', elementFields: ['DstIP'], value: 5000, threshold: 200 }));
  assert.equal(resolved.severity, 'info');
  assert.ok(resolved.facts.some((fact) => /resolved/.test(fact)));
});

test('the markdown is labelled, covers every section and renders safely', async () => {
  const hostile = alert({ rule: 'x](javascript:alert(1)) <script>', flowText: '`<img src=x onerror=1>`', flow: { SrcIP: '10.0.0.1' }, value: 9000 });
  const analysis = await new BuiltinAnalyst().analyze([hostile, alert({ rule: 'second' })], new AbortController().signal);
  assert.equal(analysis.source, 'built-in');
  assert.match(analysis.markdown, /^## Built-in analysis \(NetSpectra, no LLM\)/);
  assert.match(analysis.markdown, /no language model was consulted/);
  for (const section of ['**Threat classification:**', '**Severity:**', '**Likely root cause:**', '**Mitigation steps:**']) {
    assert.equal(analysis.markdown.split(section).length - 1, 2, `${section} once per alert`);
  }
  assert.match(analysis.markdown, /\*\*Overall severity: High\*\*/);
  const html = markdownToHtml(analysis.markdown);
  assert.doesNotMatch(html, /<script|<img|href="javascript/i);
  assert.match(html, /<code>x\]\(javascript:alert\(1\)\) &lt;script&gt;<\/code>/);
  assert.match(html, /<h2>Built-in analysis \(NetSpectra, no LLM\)<\/h2>/);
  assert.match(html, /<table>/);
  // Deterministic: the same alerts give the same text.
  assert.equal(builtinAnalysisMarkdown([hostile]), builtinAnalysisMarkdown([hostile]));
});

test('an aborted signal is honoured, and helpers behave', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(new BuiltinAnalyst().analyze([alert({})], controller.signal), { name: 'AbortError' });
  assert.equal(markdownCode('a`b'), '``a`b``');
  assert.equal(markdownCode('`x`'), '`` `x` ``');
  for (const internal of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '100.64.0.1', 'fd00::1', 'fe80::1', '::1']) assert.ok(isInternalAddress(internal), internal);
  for (const external of ['8.8.8.8', '172.32.0.1', '2001:db8::1', '100.128.0.1']) assert.ok(!isInternalAddress(external), external);
  assert.match(builtinAnalysisMarkdown([]), /No alerts to analyse/);
});
