/**
 * The `analyze` report: one JSON object (`--json`, schema in docs/cli.md) and its readable text form.
 */
import { basename } from 'node:path';
import { topFlowIndices } from '../model/flow-ranking.js';
import { KeySpec } from '../model/flow-key.js';
import type { KeyObject, SketchEntry, TaskSnapshot, Timestamp } from '../model/snapshot.js';
import { formatTimestamp } from '../model/time.js';
import type { AnalysisResult } from './offline-analysis.js';
import type { AlertEpisode } from '../alerting/alerter.js';
import type { NotifierStats } from '../alerting/notification-dispatcher.js';
import type { AlertEvidenceFlow } from '../model/alert.js';

export interface FlowJson {
  key: KeyObject;
  packets: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string;
}

export type TaskJson =
  | {
      name: string;
      kind: 'exact';
      keyFields: string[];
      flows: number;
      packets: number;
      bytes: number;
      memoryBytes: number;
      bytesPerFlow: number;
      top: FlowJson[];
    }
  | { name: string; kind: 'heavy_hitter'; flowFields: string[]; memoryBytes: number; byCount: SketchJson[]; bySize: SketchJson[] }
  | { name: string; kind: 'super_spreader'; flowFields: string[]; elementFields: string[]; memoryBytes: number; spreaders: SketchJson[] };

export interface SketchJson {
  flow: KeyObject;
  value: number;
}

export interface FileJson {
  file: string;
  frames: number;
  ipFrames: number;
  bytes: number;
  error: { code: string; message: string; offset: number | undefined } | null;
}

export interface ReportJson {
  files: FileJson[];
  packets: { total: number; ip: number; nonIp: number; malformed: number };
  bytes: number;
  ipv4Packets: number;
  ipv6Packets: number;
  truncatedFrames: number;
  unsupportedLinkTypes: Record<string, number>;
  malformedByReason: Record<string, number>;
  firstPacket: string | null;
  lastPacket: string | null;
  durationSeconds: number;
  elapsedSeconds: number;
  packetsPerSecond: number;
  workers: number;
  snapshots: number;
  /** Measurement periods the input spanned; tasks cover all of them (see docs/cli.md). */
  periods: number;
  store: { path: string; runId: string } | null;
  tasks: TaskJson[];
  /** Alerts that fired (packet time), in firing order; [] when none did or rules were not evaluated. */
  alerts: AlertJson[];
  /** Rule evaluation and delivery; null when no rule was evaluated. */
  alerting: { evaluations: number; notifications: number; analysisFailures: number; notifiers: NotifierStats[] } | null;
}

export interface AlertJson {
  id: string;
  rule: string;
  taskName: string;
  metric: string;
  operator: string;
  threshold: number;
  /** The offending flow; null for a task-wide metric. */
  flow: KeyObject | null;
  flowText: string;
  /** Value at the last evaluation that saw the alert active. */
  value: number;
  peakValue: number;
  /** `firing` when still active at the end of the capture. */
  status: 'firing' | 'resolved';
  since: string;
  firedAt: string;
  resolvedAt: string | null;
  /** Notices delivered to the notifiers for it (firing, repeats, resolved). */
  notices: number;
  evidence: AlertEvidenceFlow[];
}

function sketchJson(entries: readonly SketchEntry[]): SketchJson[] {
  return entries.map((e) => ({ flow: e.flow, value: Math.round(e.value) }));
}

function durationBetween(first: Timestamp | undefined, last: Timestamp | undefined): number {
  if (first === undefined || last === undefined) return 0;
  return last.seconds - first.seconds + (last.nanos - first.nanos) / 1e9;
}

export function buildReport(result: AnalysisResult, top: number): ReportJson {
  const t = result.totals;
  const ns = t.nanosecondResolution;
  const malformed = Object.values(t.malformed).reduce((a, b) => a + b, 0);
  const memory = new Map(result.taskStats.map((s) => [s.name, s.memoryBytes]));
  const tasks: TaskJson[] = result.finals.flatMap((group) => group.tasks.map((task) => taskJson(task, top, ns, memory.get(task.name))));
  return {
    files: result.files.map((f) => ({
      file: f.path,
      frames: f.stats.frames,
      ipFrames: f.stats.ipFrames,
      bytes: f.stats.bytes,
      error: f.error === undefined ? null : { code: f.error.code, message: f.error.message, offset: f.error.location.offset },
    })),
    packets: { total: t.frames, ip: t.ipFrames, nonIp: t.nonIpFrames, malformed },
    bytes: t.bytes,
    ipv4Packets: t.ipv4Frames,
    ipv6Packets: t.ipv6Frames,
    truncatedFrames: t.truncatedFrames,
    unsupportedLinkTypes: t.unsupportedLinkTypes,
    malformedByReason: t.malformed,
    firstPacket: t.firstTimestamp === undefined ? null : formatTimestamp(t.firstTimestamp, ns),
    lastPacket: t.lastTimestamp === undefined ? null : formatTimestamp(t.lastTimestamp, ns),
    durationSeconds: durationBetween(t.firstTimestamp, t.lastTimestamp),
    elapsedSeconds: round(result.elapsedSeconds, 3),
    packetsPerSecond: Math.round(t.frames / Math.max(result.elapsedSeconds, 1e-9)),
    workers: result.workers,
    snapshots: result.snapshotsTaken + result.finals.length,
    periods: result.periods,
    store: result.storePath === undefined ? null : { path: result.storePath, runId: result.runId },
    tasks,
    alerts: (result.alerts ?? []).map((episode) => alertJson(episode, ns)),
    alerting:
      result.alerterStats === undefined
        ? null
        : {
            evaluations: result.alerterStats.evaluations,
            notifications: result.alerterStats.notifications,
            analysisFailures: result.alerterStats.analysisFailures,
            notifiers: result.alerterStats.notifiers,
          },
  };
}

function alertJson(episode: AlertEpisode, nanosecond: boolean): AlertJson {
  const a = episode.alert;
  return {
    id: a.id,
    rule: a.rule,
    taskName: a.taskName,
    metric: a.metric,
    operator: a.operator,
    threshold: a.threshold,
    flow: a.flowText === '' ? null : a.flow,
    flowText: a.flowText,
    value: round(a.value, 3),
    peakValue: round(episode.peakValue, 3),
    status: episode.resolvedAt === undefined ? 'firing' : 'resolved',
    since: formatTimestamp(a.since, nanosecond),
    firedAt: formatTimestamp(episode.firedAt, nanosecond),
    resolvedAt: episode.resolvedAt === undefined ? null : formatTimestamp(episode.resolvedAt, nanosecond),
    notices: episode.notices,
    evidence: a.evidence.slice(0, 5),
  };
}

function taskJson(task: TaskSnapshot, top: number, nanosecond: boolean, memoryBytes: number | undefined): TaskJson {
  switch (task.kind) {
    case 'exact': {
      const spec = new KeySpec(task.keyFields);
      const f = task.flows;
      let packets = 0;
      let bytes = 0;
      for (let i = 0; i < f.count; i++) {
        packets += f.packets[i]!;
        bytes += f.bytes[i]!;
      }
      const mem = memoryBytes ?? task.memoryBytes;
      return {
        name: task.name,
        kind: 'exact',
        keyFields: [...task.keyFields],
        flows: f.count,
        packets,
        bytes,
        memoryBytes: mem,
        bytesPerFlow: f.count === 0 ? 0 : round(mem / f.count, 1),
        top: topFlowIndices(f, top, 'bytes').map((i) => ({
          key: spec.toObject(f.keys, i * f.keyWords),
          packets: f.packets[i]!,
          bytes: f.bytes[i]!,
          firstSeen: formatTimestamp({ seconds: f.firstSeconds[i]!, nanos: f.firstNanos[i]! }, nanosecond),
          lastSeen: formatTimestamp({ seconds: f.lastSeconds[i]!, nanos: f.lastNanos[i]! }, nanosecond),
        })),
      };
    }
    case 'heavy_hitter':
      return { name: task.name, kind: 'heavy_hitter', flowFields: [...task.flowFields], memoryBytes: task.memoryBytes, byCount: sketchJson(task.byCount), bySize: sketchJson(task.bySize) };
    case 'super_spreader':
      return {
        name: task.name,
        kind: 'super_spreader',
        flowFields: [...task.flowFields],
        elementFields: [...task.elementFields],
        memoryBytes: task.memoryBytes,
        spreaders: sketchJson(task.spreaders),
      };
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Text form

const PROTOCOL_NAMES: Record<number, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6', 132: 'SCTP' };

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

function keyText(key: KeyObject): string {
  const src = key.SrcIP === undefined ? undefined : key.SrcPort === undefined ? key.SrcIP : `${bracket(key.SrcIP)}:${key.SrcPort}`;
  const dst = key.DstIP === undefined ? undefined : key.DstPort === undefined ? key.DstIP : `${bracket(key.DstIP)}:${key.DstPort}`;
  const parts: string[] = [];
  if (src !== undefined && dst !== undefined) parts.push(`${src} → ${dst}`);
  else if (src !== undefined) parts.push(src);
  else if (dst !== undefined) parts.push(`→ ${dst}`);
  if (key.SrcIP === undefined && key.SrcPort !== undefined) parts.push(`sport ${key.SrcPort}`);
  if (key.DstIP === undefined && key.DstPort !== undefined) parts.push(`dport ${key.DstPort}`);
  if (key.Protocol !== undefined) parts.push(PROTOCOL_NAMES[key.Protocol] ?? `proto ${key.Protocol}`);
  return parts.join(' ');
}

function bracket(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** A plain table: right-aligns numeric columns. */
function table(headers: string[], rows: string[][], numeric: boolean[]): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => '  ' + cells.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)];
}

export function renderReport(report: ReportJson): string {
  const out: string[] = [];
  out.push('NetSpectra capture analysis', '');
  for (const f of report.files) {
    out.push(`  ${basename(f.file)}: ${count(f.frames)} frames, ${formatBytes(f.bytes)}${f.error === null ? '' : `  [${f.error.code} at byte ${f.error.offset ?? '?'}]`}`);
  }
  out.push('');
  const p = report.packets;
  const share = (n: number): string => (p.total === 0 ? '' : ` (${((100 * n) / p.total).toFixed(1)}%)`);
  out.push(
    `  Frames        ${count(p.total)}`,
    `  IP            ${count(p.ip)}${share(p.ip)}  IPv4 ${count(report.ipv4Packets)}, IPv6 ${count(report.ipv6Packets)}`,
    `  Non-IP        ${count(p.nonIp)}${share(p.nonIp)}`,
    `  Malformed     ${count(p.malformed)}${Object.keys(report.malformedByReason).length > 0 ? `  (${Object.entries(report.malformedByReason).map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
    `  Truncated     ${count(report.truncatedFrames)} frames captured shorter than on the wire`,
    `  Bytes         ${formatBytes(report.bytes)} (${count(report.bytes)} on the wire)`,
    `  First packet  ${report.firstPacket ?? '-'}`,
    `  Last packet   ${report.lastPacket ?? '-'}`,
    `  Duration      ${report.durationSeconds.toFixed(3)} s`,
  );
  const unsupported = Object.entries(report.unsupportedLinkTypes);
  if (unsupported.length > 0) out.push(`  Unsupported   ${unsupported.map(([l, n]) => `${l}: ${n} frames`).join(', ')}`);
  for (const task of report.tasks) {
    out.push('');
    switch (task.kind) {
      case 'exact': {
        out.push(
          `${task.name} — exact by ${task.keyFields.join(', ')}: ${count(task.flows)} flows, ${count(task.packets)} packets, ${formatBytes(task.bytes)}; ${formatBytes(task.memoryBytes)} (${task.bytesPerFlow} B/flow)`,
        );
        if (task.top.length === 0) break;
        out.push(
          ...table(
            ['#', task.keyFields.length === 1 && task.keyFields[0] === 'SrcIP' ? 'top talker' : 'flow', 'packets', 'bytes', 'first seen', 'last seen'],
            task.top.map((f, i) => [String(i + 1), keyText(f.key), count(f.packets), formatBytes(f.bytes), f.firstSeen.slice(11), f.lastSeen.slice(11)]),
            [true, false, true, true, false, false],
          ),
        );
        break;
      }
      case 'heavy_hitter': {
        out.push(`${task.name} — heavy hitters by ${task.flowFields.join(', ')} (sketch, ${formatBytes(task.memoryBytes)})`);
        out.push(...sketchTable('by packets', task.byCount, (v) => count(v)));
        out.push(...sketchTable('by bytes', task.bySize, (v) => formatBytes(v)));
        break;
      }
      case 'super_spreader':
        out.push(`${task.name} — super-spreaders: ${task.flowFields.join(', ')} → distinct ${task.elementFields.join(', ')} (sketch, ${formatBytes(task.memoryBytes)})`);
        out.push(...sketchTable('spread', task.spreaders, (v) => count(v)));
        break;
    }
  }
  if (report.alerting !== null) out.push('', ...alertLines(report));
  out.push('');
  out.push(
    `Analysed ${count(report.packets.total)} packets in ${report.elapsedSeconds.toFixed(2)} s (${count(report.packetsPerSecond)} packets/s, ${report.workers} worker${report.workers === 1 ? '' : 's'}).`,
  );
  if (report.periods > 1) {
    out.push(`The capture spans ${report.periods} measurement periods (aggregator.period): exact tasks above cover all of them; sketch lists combine the per-period results.`);
  }
  if (report.store !== null) out.push(`Stored ${report.snapshots} snapshot(s) in ${report.store.path} (run ${report.store.runId}).`);
  return out.join('\n') + '\n';
}

const ALERT_ROWS = 25;

function alertLines(report: ReportJson): string[] {
  const alerting = report.alerting!;
  const out = [`Alerts — ${report.alerts.length} fired over ${count(alerting.evaluations)} rule evaluation(s)`];
  if (report.alerts.length > 0) {
    const shown = report.alerts.slice(0, ALERT_ROWS);
    out.push(
      ...table(
        ['rule', 'flow', 'metric', 'peak', 'threshold', 'fired', 'status'],
        shown.map((a) => [
          a.rule,
          a.flow === null ? `task ${a.taskName}` : keyText(a.flow),
          a.metric,
          count(a.peakValue),
          `${a.operator} ${count(a.threshold)}`,
          a.firedAt.slice(11),
          a.resolvedAt === null ? 'firing' : `resolved ${a.resolvedAt.slice(11)}`,
        ]),
        [false, false, false, true, false, false, false],
      ),
    );
    if (report.alerts.length > shown.length) out.push(`  … ${report.alerts.length - shown.length} more (see --json)`);
  }
  for (const n of alerting.notifiers) {
    out.push(`  ${n.name}: ${n.delivered} delivered${n.failed > 0 ? `, ${n.failed} failed` : ''}${n.dropped > 0 ? `, ${n.dropped} dropped` : ''}`);
  }
  return out;
}

const SKETCH_ROWS = 10;

function sketchTable(title: string, entries: readonly SketchJson[], value: (v: number) => string): string[] {
  if (entries.length === 0) return [`  ${title}: none over the threshold`];
  const shown = entries.slice(0, SKETCH_ROWS);
  const lines = table(
    ['#', title, 'estimate'],
    shown.map((e, i) => [String(i + 1), keyText(e.flow), value(e.value)]),
    [true, false, true],
  );
  if (entries.length > shown.length) lines.push(`  … ${entries.length - shown.length} more (see --json)`);
  return lines;
}
