/**
 * The built-in analyst: a deterministic, offline analysis of triggered alerts from their evidence
 * alone, for when no LLM is configured or the LLM fails. It recognises the patterns a flow monitor
 * can actually see — volumetric floods, SYN floods, port scans, super-spreader (worm-like) fan-out,
 * possible exfiltration — and writes threat classification, severity, likely root cause and
 * mitigation steps in markdown, labelled as the built-in analysis so nobody mistakes it for a
 * model's. Values from alerts (rule names, flow keys) are escaped for markdown, so a crafted name
 * cannot inject links or markup into the rendered email.
 */
import type { Alert, AlertAnalysis, AlertAnalyst } from '../model/alert.js';
import type { KeyObject } from '../model/snapshot.js';

export type ThreatKind = 'syn-flood' | 'port-scan' | 'super-spreader' | 'exfiltration' | 'volumetric-flood' | 'traffic-drop' | 'traffic-anomaly';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

const SEVERITY_ORDER: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** The analysis of one alert, before it is written out. */
export interface AlertFinding {
  alert: Alert;
  kind: ThreatKind;
  /** Threat classification as a person reads it, e.g. "SYN flood"; markdown (values in code spans). */
  classification: string;
  severity: Severity;
  /** Facts from the evidence that support the classification. */
  facts: string[];
  rootCause: string;
  mitigation: string[];
}

/** Thresholds of the heuristics; exported so tests and docs state the same numbers. */
export const HEURISTICS = {
  /** Average packet size (bytes) at or below which TCP traffic is "tiny" (bare SYNs are 40–78 bytes on the wire). */
  synMaxAveragePacketBytes: 100,
  /** Packets in one flow (or on one alert) from which a tiny-packet TCP pattern counts as a flood. */
  synMinPackets: 1000,
  /** Distinct destination ports from one source that make a port scan. */
  portScanMinPorts: 16,
  /** Distinct destinations from one source that make a fan-out (super-spreader). */
  fanOutMinDestinations: 16,
  /** Average packet size (bytes) from which one-way bytes look like a bulk transfer. */
  exfiltrationMinAveragePacketBytes: 500,
  /** Bytes from which a bulk transfer from one internal source is worth calling possible exfiltration. */
  exfiltrationMinBytes: 50_000_000,
  /** Alerts written out in full; the rest are counted in the summary table only. */
  maxDetailedAlerts: 20,
} as const;

/** Well-known ports worms spread over, named in the fan-out analysis. */
const WORM_PORTS: Readonly<Record<number, string>> = {
  22: 'SSH', 23: 'Telnet', 135: 'MS-RPC', 139: 'NetBIOS', 445: 'SMB', 1433: 'MS-SQL', 2323: 'Telnet (IoT)', 3306: 'MySQL', 3389: 'RDP', 5555: 'ADB', 5900: 'VNC', 6379: 'Redis',
};

/** UDP source ports of common reflection/amplification services. */
const AMPLIFICATION_PORTS: Readonly<Record<number, string>> = {
  19: 'CharGEN', 53: 'DNS', 123: 'NTP', 161: 'SNMP', 389: 'CLDAP', 1900: 'SSDP', 3702: 'WS-Discovery', 11211: 'memcached',
};

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 47: 'GRE', 50: 'ESP', 132: 'SCTP' };

interface EvidenceStats {
  flows: number;
  packets: number;
  bytes: number;
  /** Bytes per packet over the flows that carry both numbers; undefined without such flows. */
  averagePacketBytes: number | undefined;
  maxPacketsPerFlow: number;
  maxSpread: number;
  protocols: Set<number>;
  sources: Set<string>;
  destinations: Set<string>;
  destinationPorts: Set<number>;
  sourcePorts: Set<number>;
}

function evidenceStats(alert: Alert): EvidenceStats {
  const stats: EvidenceStats = {
    flows: alert.evidence.length,
    packets: 0,
    bytes: 0,
    averagePacketBytes: undefined,
    maxPacketsPerFlow: 0,
    maxSpread: 0,
    protocols: new Set(),
    sources: new Set(),
    destinations: new Set(),
    destinationPorts: new Set(),
    sourcePorts: new Set(),
  };
  const addKey = (key: KeyObject): void => {
    if (key.Protocol !== undefined) stats.protocols.add(key.Protocol);
    if (key.SrcIP !== undefined) stats.sources.add(key.SrcIP);
    if (key.DstIP !== undefined) stats.destinations.add(key.DstIP);
    if (key.DstPort !== undefined) stats.destinationPorts.add(key.DstPort);
    if (key.SrcPort !== undefined) stats.sourcePorts.add(key.SrcPort);
  };
  addKey(alert.flow);
  let sizedPackets = 0;
  let sizedBytes = 0;
  for (const flow of alert.evidence) {
    addKey(flow.flow);
    stats.packets += flow.packets ?? 0;
    stats.bytes += flow.bytes ?? 0;
    stats.maxPacketsPerFlow = Math.max(stats.maxPacketsPerFlow, flow.packets ?? 0);
    stats.maxSpread = Math.max(stats.maxSpread, flow.spread ?? 0);
    if (flow.packets !== undefined && flow.bytes !== undefined && flow.packets > 0) {
      sizedPackets += flow.packets;
      sizedBytes += flow.bytes;
    }
  }
  // The alert's own value fills in what the evidence lacks (e.g. a packet-count heavy hitter).
  if (stats.packets === 0 && isPacketMetric(alert)) stats.packets = alert.value;
  if (stats.bytes === 0 && isByteMetric(alert)) stats.bytes = alert.value;
  if (alert.metric === 'super_spreader_spread') stats.maxSpread = Math.max(stats.maxSpread, alert.value);
  if (sizedPackets > 0) stats.averagePacketBytes = sizedBytes / sizedPackets;
  return stats;
}

function isPacketMetric(alert: Alert): boolean {
  return alert.metric === 'total_packets' || alert.metric === 'heavy_hitter_count' || alert.metric === 'packets_per_second';
}

function isByteMetric(alert: Alert): boolean {
  return alert.metric === 'total_bytes' || alert.metric === 'heavy_hitter_size' || alert.metric === 'bytes_per_second';
}

/** RFC 1918, CGNAT, loopback, link-local and IPv6 unique-local/link-local addresses. */
export function isInternalAddress(address: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const a = Number(v4[1]);
    const b = Number(v4[2]);
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
  }
  const v6 = address.toLowerCase();
  return v6 === '::1' || /^f[cd][0-9a-f]{2}:/.test(v6) || /^fe[89ab][0-9a-f]:/.test(v6);
}

/** The single value of a set, or undefined when it has none or several. */
function only<T>(values: Set<T>): T | undefined {
  return values.size === 1 ? values.values().next().value : undefined;
}

function ratioOf(alert: Alert): number {
  if (alert.operator === '<' || alert.operator === '<=') return alert.threshold / Math.max(alert.value, 1);
  if (alert.operator === '=') return 1;
  return alert.value / Math.max(alert.threshold, 1);
}

function severityByRatio(ratio: number): Severity {
  if (ratio >= 10) return 'critical';
  if (ratio >= 3) return 'high';
  if (ratio >= 1.5) return 'medium';
  return 'low';
}

function atLeast(severity: Severity, floor: Severity): Severity {
  return SEVERITY_ORDER.indexOf(severity) >= SEVERITY_ORDER.indexOf(floor) ? severity : floor;
}

function atMost(severity: Severity, ceiling: Severity): Severity {
  return SEVERITY_ORDER.indexOf(severity) <= SEVERITY_ORDER.indexOf(ceiling) ? severity : ceiling;
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US');

function byteText(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${count(value)} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Text safe to drop into markdown inline: the characters that start emphasis, code, links, HTML or
 * table cells are backslash-escaped (the rest stays readable in the plain-text email).
 */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (char) => `\\${char}`).replace(/\r?\n/g, ' ');
}

/** A code span holding `text` verbatim, whatever backticks it contains. */
export function markdownCode(text: string): string {
  const oneLine = text.replace(/\r?\n/g, ' ');
  let longest = 0;
  for (const run of oneLine.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const fence = '`'.repeat(longest + 1);
  const padded = oneLine.startsWith('`') || oneLine.endsWith('`') ? ` ${oneLine} ` : oneLine;
  return `${fence}${padded}${fence}`;
}

function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? `protocol ${protocol}`;
}

function subject(alert: Alert): string {
  return alert.flowText === '' ? `task ${markdownCode(alert.taskName)}` : markdownCode(alert.flowText);
}

/** Classifies one alert from its metric, its flow key and its evidence. */
export function analyzeAlert(alert: Alert): AlertFinding {
  const stats = evidenceStats(alert);
  const ratio = ratioOf(alert);
  let severity = severityByRatio(ratio);
  const facts: string[] = [
    `Rule ${markdownCode(alert.rule)} on task ${markdownCode(alert.taskName)}: observed ${count(alert.value)} for ${markdownCode(`${alert.metric} ${alert.operator} ${alert.threshold}`)}${alert.operator === '=' ? '' : ` (${ratio.toFixed(1)}× the threshold)`}.`,
  ];
  if (stats.flows > 0) facts.push(`${count(stats.flows)} supporting flow${stats.flows === 1 ? '' : 's'} in the evidence${stats.packets > 0 ? `, ${count(stats.packets)} packets` : ''}${stats.bytes > 0 ? `, ${byteText(stats.bytes)}` : ''}.`);
  if (stats.averagePacketBytes !== undefined) facts.push(`Average packet size ${count(stats.averagePacketBytes)} bytes.`);
  const protocol = only(stats.protocols);
  if (protocol !== undefined) facts.push(`Protocol: ${protocolName(protocol)} (${protocol}).`);
  const source = only(stats.sources);
  const destination = only(stats.destinations);
  const destinationPort = only(stats.destinationPorts);
  const spread = stats.maxSpread;
  const elementFields = alert.elementFields ?? [];
  const countsPorts = elementFields.includes('DstPort') && !elementFields.includes('DstIP');

  const finding = (kind: ThreatKind, classification: string, rootCause: string, mitigation: string[]): AlertFinding => {
    if (alert.status === 'resolved') {
      facts.push('The alert has **resolved**: the metric is back within the threshold.');
      severity = 'info';
    }
    return { alert, kind, classification, severity, facts, rootCause, mitigation };
  };

  if (alert.operator === '<' || alert.operator === '<=') {
    severity = atMost(severity, 'medium');
    return finding(
      'traffic-drop',
      'Traffic drop (metric below its floor)',
      'Traffic fell below the expected level: an outage or routing change upstream, a failed link or service, a capture or probe problem (interface down, NATS disconnected), or a legitimately quiet period.',
      [
        'Check that the probe and the engine are running and receiving packets (`/metrics`, `/healthz`).',
        'Check the monitored links and services for an outage or a routing change.',
        'If the quiet period is expected, lower the rule threshold or add `for` to require a longer drop.',
      ],
    );
  }

  const portScan = (alert.taskKind === 'super_spreader' && countsPorts) || (stats.destinationPorts.size >= HEURISTICS.portScanMinPorts && stats.sources.size <= 1);
  if (portScan) {
    const ports = countsPorts ? Math.max(spread, stats.destinationPorts.size) : stats.destinationPorts.size;
    facts.push(`${count(ports)} distinct destination ports${source === undefined ? '' : ` from ${markdownCode(source)}`}${destination === undefined ? '' : ` on ${markdownCode(destination)}`}.`);
    severity = atMost(severity, 'high');
    return finding(
      'port-scan',
      destination === undefined ? 'Port scan' : 'Port scan of one host (vertical scan)',
      `${source === undefined ? 'One source' : `The source ${markdownCode(source)}`} probes many ports, typical of reconnaissance (nmap, masscan) before an attack, a compromised host mapping the network, or a misconfigured monitoring tool.`,
      [
        `Identify the owner of ${source === undefined ? 'the source' : markdownCode(source)}; if it is not an authorised scanner, block it at the perimeter firewall.`,
        'Check the scanned hosts for services that should not be exposed and close them.',
        'Watch for follow-up connections from the same source to the ports that answered.',
        'Enable scan detection / rate limiting of new connections per source on the firewall or IPS.',
      ],
    );
  }

  const fanOut = alert.taskKind === 'super_spreader' || alert.metric === 'super_spreader_spread' || (stats.destinations.size >= HEURISTICS.fanOutMinDestinations && stats.sources.size <= 1);
  if (fanOut) {
    const destinations = Math.max(spread, stats.destinations.size);
    facts.push(`${count(destinations)} distinct ${elementFields.length > 0 ? elementFields.map(markdownText).join('/') : 'destination'} values contacted${source === undefined ? '' : ` by ${markdownCode(source)}`}.`);
    const wormPort = destinationPort === undefined ? undefined : WORM_PORTS[destinationPort];
    if (destinationPort !== undefined) facts.push(`Every evidence flow targets port ${destinationPort}${wormPort === undefined ? '' : ` (${wormPort})`}.`);
    if (wormPort !== undefined) severity = atLeast(severity, 'high');
    return finding(
      'super-spreader',
      wormPort === undefined ? 'Super-spreader: fan-out to many destinations (host sweep or worm-like spreading)' : `Worm-like fan-out on ${wormPort} (port ${destinationPort})`,
      `${source === undefined ? 'One source' : `The source ${markdownCode(source)}`} contacts an unusual number of distinct hosts: a network sweep, a worm or bot spreading${wormPort === undefined ? '' : ` over ${wormPort}`}, a compromised host, or a legitimate many-peer service (DNS resolver, proxy, P2P client, monitoring system).`,
      [
        `Check whether ${source === undefined ? 'the source' : markdownCode(source)} is a known many-peer service; if so, exclude it from the rule.`,
        'Otherwise isolate the host (quarantine VLAN or switch port) and inspect it for malware.',
        wormPort === undefined ? 'Rate-limit new connections per source at the firewall.' : `Block outbound and lateral ${wormPort} (port ${destinationPort}) from hosts that do not need it, and patch the service on the contacted hosts.`,
        'Look for other hosts with the same pattern: a worm rarely infects just one.',
      ],
    );
  }

  const tinyTcp = protocol === 6 && stats.averagePacketBytes !== undefined && stats.averagePacketBytes <= HEURISTICS.synMaxAveragePacketBytes;
  if (tinyTcp && (stats.packets >= HEURISTICS.synMinPackets || stats.maxPacketsPerFlow >= HEURISTICS.synMinPackets / 10 || alert.metric === 'new_flows' || alert.metric === 'total_flows')) {
    severity = atLeast(severity, 'medium');
    const target = destination === undefined ? '' : ` against ${markdownCode(destination)}${destinationPort === undefined ? '' : ` port ${destinationPort}`}`;
    return finding(
      'syn-flood',
      `SYN flood${target}`,
      `Many TCP packets of near-minimal size (about ${count(stats.averagePacketBytes ?? 0)} bytes, the size of a bare SYN) ${stats.sources.size > 1 ? `from ${count(stats.sources.size)} sources` : source === undefined ? '' : `from ${markdownCode(source)}`}: connection attempts that never carry data, the signature of a SYN flood exhausting the target's connection backlog (possibly with spoofed sources).`,
      [
        'Enable SYN cookies on the target (`sysctl -w net.ipv4.tcp_syncookies=1`) and raise the SYN backlog.',
        `Rate-limit SYN packets${destination === undefined ? '' : ` to ${markdownCode(destination)}`} at the edge (firewall, load balancer or provider scrubbing).`,
        source === undefined || stats.sources.size > 1 ? 'If the sources are spoofed, ask the upstream provider for filtering or DDoS scrubbing.' : `Block ${markdownCode(source)} at the perimeter if it is not a legitimate client.`,
        'Confirm with a packet capture that the packets are SYNs without completed handshakes.',
      ],
    );
  }

  if (source !== undefined && isInternalAddress(source) && (destination === undefined || !isInternalAddress(destination)) && stats.averagePacketBytes !== undefined &&
      stats.averagePacketBytes >= HEURISTICS.exfiltrationMinAveragePacketBytes && stats.bytes >= HEURISTICS.exfiltrationMinBytes && stats.destinations.size <= 3) {
    severity = atLeast(severity, 'high');
    return finding(
      'exfiltration',
      'Possible data exfiltration (large outbound transfer)',
      `The internal host ${markdownCode(source)} sent ${byteText(stats.bytes)} in full-size packets${destination === undefined ? '' : ` to the external address ${markdownCode(destination)}`}: a bulk upload that may be data theft, or a legitimate backup, sync or software distribution.`,
      [
        `Find the process on ${markdownCode(source)} responsible for the transfer and whether it is an approved backup or sync job.`,
        destination === undefined ? 'Identify the destination of the transfer.' : `Look up who owns ${markdownCode(destination)}; block it if it is not a known service.`,
        'If unexplained, isolate the host and preserve evidence (process list, connections, logs) before cleaning it.',
        'Apply egress filtering / DLP so internal hosts can reach only the services they need.',
      ],
    );
  }

  // Volume without a more specific shape.
  const amplification = protocol === 17 ? [...stats.sourcePorts].map((port) => AMPLIFICATION_PORTS[port]).find((name) => name !== undefined) : undefined;
  const protocolPart = protocol === undefined ? '' : ` (${protocolName(protocol)})`;
  const classification = amplification !== undefined ? `Volumetric ${amplification} reflection/amplification flood` : isPacketMetric(alert) || isByteMetric(alert) || alert.metric === 'new_flows' || alert.metric === 'total_flows' ? `Volumetric flood${protocolPart}` : `Traffic anomaly${protocolPart}`;
  const kind: ThreatKind = classification.startsWith('Traffic anomaly') ? 'traffic-anomaly' : 'volumetric-flood';
  if (amplification !== undefined) facts.push(`UDP source port of a ${amplification} service: replies from reflectors.`);
  const connectionStorm = alert.metric === 'new_flows' || alert.metric === 'total_flows';
  return finding(
    kind,
    classification,
    amplification !== undefined
      ? `Open ${amplification} servers are answering spoofed requests that carry the victim's address, multiplying the attacker's traffic toward ${destination === undefined ? 'the target' : markdownCode(destination)}.`
      : connectionStorm
        ? `An unusual number of new flows${source === undefined ? '' : ` from ${markdownCode(source)}`}: a connection storm (flood with randomised ports, a bot, a retrying client), or a surge of legitimate users.`
        : `${source === undefined ? `Traffic on ${subject(alert)}` : `The source ${markdownCode(source)}`} sends far more than usual: a flood (DoS) or, if the source is trusted, a legitimate surge such as a backup, a deployment or a traffic shift.`,
    [
      source === undefined ? 'Find the top talkers behind the increase (`netspectra query` heavy hitters on the task).' : `Identify ${markdownCode(source)} and whether the volume is expected.`,
      amplification !== undefined ? `Filter inbound UDP from source port ${[...stats.sourcePorts].join(', ')} at the edge or through the provider's scrubbing service.` : 'If unwanted, rate-limit or block the source at the edge; for a distributed flood ask the upstream provider for scrubbing.',
      'Check that the links and the targets keep up (interface drops, CPU, connection tables).',
      'If the traffic is legitimate, raise the threshold or add a `for` duration to the rule.',
    ],
  );
}

function highest(findings: readonly AlertFinding[]): Severity {
  let worst: Severity = 'info';
  for (const finding of findings) worst = atLeast(worst, finding.severity);
  return worst;
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** The markdown of a built-in analysis of `alerts`. */
export function builtinAnalysisMarkdown(alerts: readonly Alert[]): string {
  const lines: string[] = ['## Built-in analysis (NetSpectra, no LLM)', ''];
  lines.push("> Written by NetSpectra's built-in analyst from the alert evidence alone, with fixed rules; no language model was consulted. Verify before acting.", '');
  if (alerts.length === 0) {
    lines.push('No alerts to analyse.');
    return lines.join('\n');
  }
  const findings = alerts.map(analyzeAlert);
  const byKind = new Map<string, number>();
  for (const finding of findings) byKind.set(finding.classification, (byKind.get(finding.classification) ?? 0) + 1);
  lines.push(`**Overall severity: ${capitalise(highest(findings))}** — ${count(alerts.length)} alert${alerts.length === 1 ? '' : 's'}: ${[...byKind].map(([name, n]) => `${name} (${n})`).join(', ')}.`, '');
  lines.push('| # | Rule | Flow | Classification | Severity |', '|---|---|---|---|---|');
  findings.forEach((finding, index) => {
    // A `|` inside a value would end the cell, even in a code span: escaped here (GFM unescapes it).
    const flow = finding.alert.flowText === '' ? '(whole task)' : markdownCode(finding.alert.flowText).replace(/\|/g, '\\|');
    lines.push(`| ${index + 1} | ${markdownCode(finding.alert.rule).replace(/\|/g, '\\|')} | ${flow} | ${finding.classification.replace(/\|/g, '\\|')} | ${capitalise(finding.severity)} |`);
  });
  findings.slice(0, HEURISTICS.maxDetailedAlerts).forEach((finding, index) => {
    lines.push('', `### ${index + 1}. ${finding.classification} — ${subject(finding.alert)}`, '');
    lines.push(`**Threat classification:** ${finding.classification}`, '');
    lines.push(`**Severity:** ${capitalise(finding.severity)}`, '');
    lines.push('**Evidence:**', '');
    for (const fact of finding.facts) lines.push(`- ${fact}`);
    lines.push('', `**Likely root cause:** ${finding.rootCause}`, '');
    lines.push('**Mitigation steps:**', '');
    finding.mitigation.forEach((step, stepIndex) => lines.push(`${stepIndex + 1}. ${step}`));
  });
  if (findings.length > HEURISTICS.maxDetailedAlerts) lines.push('', `_${count(findings.length - HEURISTICS.maxDetailedAlerts)} more alerts are listed in the table only._`);
  return lines.join('\n');
}

/** The offline AlertAnalyst: deterministic, instant, no network. */
export class BuiltinAnalyst implements AlertAnalyst {
  async analyze(alerts: readonly Alert[], signal?: AbortSignal): Promise<AlertAnalysis> {
    signal?.throwIfAborted();
    return { markdown: builtinAnalysisMarkdown(alerts), source: 'built-in' };
  }
}

