/**
 * `netspectra query <sub>`: the original's query tool (scripts/query: -addr, -mode, -task, -key,
 * -type, -limit, -end) as subcommands over Thrift, plus NetSpectra's additions. Tables for people,
 * `--json` (one JSON document) for scripts. Subcommands that only use the original's methods
 * (tasks without kinds, aggregate/heavy-hitters/super-spreaders without --start, trace) also work
 * against the original's ns-api.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { parseDuration } from '../model/duration.js';
import { parseTimeText } from '../query/time-text.js';
import { NetSpectraError, isNetSpectraError } from '../model/errors.js';
import { ThriftQueryClient } from '../api/thrift-query-client.js';
import { bigToInt64, int64ToBig } from '../api/thrift-query-server.js';
import {
  ActiveAlertsRequest,
  AggregateRangeRequest,
  AlertsRequest,
  AggregationRequest,
  FlowFilter,
  FlowListRequest,
  FlowSeriesRequest,
  HeavyHittersRequest,
  ListTasksRequest,
  SearchTasksRequest,
  SketchListRequest,
  TimeRange,
  TraceFlowRequest,
  type AlertNotice,
  type FlowRecord,
  type QueryTotalCountsResponse,
} from '../wire/gen/netspectra_types.js';
import type { CliIo } from './io.js';
import { integerFlag, normaliseGoFlags, reportError, usageError } from './io.js';
import { QUERY_HELP } from './help.js';

const SUBCOMMANDS = ['tasks', 'aggregate', 'trace', 'heavy-hitters', 'super-spreaders', 'top', 'flows', 'series', 'alerts'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];
const ORIGINAL_MODES: Record<string, Subcommand> = { aggregate: 'aggregate', trace: 'trace', heavyhitters: 'heavy-hitters', superspreader: 'super-spreaders' };

const NS_PER_MS = 1_000_000n;

/** `--start`/`--end`: the query plane's one time parser (src/query/time-text.ts), errors as usage errors. */
export function parseTime(flag: string, text: string, nowMs: number): bigint {
  return parseTimeText(flag, text, nowMs, 'NS_ERR_USAGE');
}

/** `SrcIP=1.2.3.4,DstPort=443` as the original's query tool parsed it. */
export function parseFlowKeys(text: string): Record<string, string> {
  if (text.trim() === '') throw usageError('--key cannot be empty (e.g. --key SrcIP=10.0.0.1,DstPort=443)');
  const keys: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at < 0) throw usageError(`--key: "${pair}" is not FIELD=VALUE`);
    keys[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return keys;
}

const isoOf = (ns: bigint | undefined): string => (ns === undefined ? '' : new Date(Number(ns / NS_PER_MS)).toISOString());
const num = (value: Parameters<typeof int64ToBig>[0]): number => Number(int64ToBig(value) ?? 0n);

/** Columns aligned; numbers right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  if (rows.length === 0) return 'No data returned.\n';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.some((r) => typeof r[i] === 'number'));
  const line = (cells: readonly (string | number)[]): string =>
    cells
      .map((cell, i) => (numeric[i] ? String(cell).padStart(widths[i]!) : String(cell).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`;
}

interface Output {
  json: unknown;
  table: string;
}

export async function runQuery(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: normaliseGoFlags(argv),
      allowPositionals: true,
      strict: true,
      options: {
        addr: { type: 'string' },
        config: { type: 'string' },
        task: { type: 'string' },
        key: { type: 'string' },
        type: { type: 'string' },
        limit: { type: 'string' },
        start: { type: 'string' },
        end: { type: 'string' },
        'src-ip': { type: 'string' },
        'dst-ip': { type: 'string' },
        'src-port': { type: 'string' },
        'dst-port': { type: 'string' },
        protocol: { type: 'string' },
        by: { type: 'string' },
        'group-by': { type: 'string' },
        order: { type: 'string' },
        asc: { type: 'boolean', default: false },
        offset: { type: 'string' },
        bucket: { type: 'string' },
        mode: { type: 'string' },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        tls: { type: 'boolean', default: false },
        'tls-ca': { type: 'string' },
        rule: { type: 'string' },
        kind: { type: 'string' },
        flow: { type: 'string' },
        active: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return reportError(io, usageError(`${(error as Error).message}\n\n${QUERY_HELP}`));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(QUERY_HELP);
    return 0;
  }
  let client: ThriftQueryClient | undefined;
  try {
    let sub = positionals[0];
    if (sub === undefined && values.mode !== undefined) {
      sub = ORIGINAL_MODES[values.mode];
      if (sub === undefined) throw usageError(`--mode "${values.mode}" is not one of ${Object.keys(ORIGINAL_MODES).join(', ')}`);
    }
    if (sub === undefined) throw usageError(`query needs a subcommand: ${SUBCOMMANDS.join(', ')} (see --help)`);
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError(`unknown query subcommand "${sub}": use ${SUBCOMMANDS.join(', ')}`);
    if (positionals.length > 1) throw usageError(`unexpected argument "${positionals[1]}"`);
    const nowMs = Date.now();
    const startNs = values.start === undefined ? undefined : parseTime('--start', values.start, nowMs);
    const endNs = values.end === undefined ? undefined : parseTime('--end', values.end, nowMs);
    const limit = values.limit === undefined ? 10 : integerFlag('--limit', values.limit, 1, 10_000);
    const timeoutMs = values.timeout === undefined ? 15_000 : durationFlag('--timeout', values.timeout);
    const port = (flag: string, text: string | undefined, max: number): number | undefined => (text === undefined ? undefined : integerFlag(flag, text, 0, max));
    const filter = new FlowFilter({
      ...(values['src-ip'] === undefined ? {} : { src_ip: values['src-ip'] }),
      ...(values['dst-ip'] === undefined ? {} : { dst_ip: values['dst-ip'] }),
      ...(values['src-port'] === undefined ? {} : { src_port: port('--src-port', values['src-port'], 65535)! }),
      ...(values['dst-port'] === undefined ? {} : { dst_port: port('--dst-port', values['dst-port'], 65535)! }),
      ...(values.protocol === undefined ? {} : { protocol: port('--protocol', values.protocol, 255)! }),
    });
    const range = new TimeRange({
      ...(startNs === undefined ? {} : { start_time_unix_nano: bigToInt64(startNs) }),
      ...(endNs === undefined ? {} : { end_time_unix_nano: bigToInt64(endNs) }),
    });
    const needTask = (): string => values.task ?? (() => { throw usageError(`query ${sub} needs --task NAME (netspectra query tasks lists them)`); })();
    const addr = values.addr ?? (values.config === undefined ? '127.0.0.1:50051' : loadConfig({ file: values.config }).api.rpcListenAddr);
    const tls = values.tls || values['tls-ca'] !== undefined ? (values['tls-ca'] === undefined ? {} : { ca: readFileSync(values['tls-ca']) }) : undefined;
    client = await ThriftQueryClient.connect(addr, { timeoutMs, ...(tls === undefined ? {} : { tls }) });
    const c = client;
    let output: Output;
    switch (sub as Subcommand) {
      case 'tasks': {
        let tasks: { name: string; kind: string; keyFields: string[] }[];
        try {
          tasks = (await c.call('ListTasks', (q) => q.ListTasks(new ListTasksRequest()))).tasks.map((t) => ({ name: t.name, kind: t.kind, keyFields: t.key_fields }));
        } catch (error) {
          // the original's ns-api has only SearchTasks
          if (!isNetSpectraError(error) || error.code !== 'NS_ERR_API_REMOTE') throw error;
          tasks = (await c.call('SearchTasks', (q) => q.SearchTasks(new SearchTasksRequest()))).task_names.map((name) => ({ name, kind: '', keyFields: [] }));
        }
        output = { json: tasks, table: renderTable(['TASK', 'KIND', 'KEY FIELDS'], tasks.map((t) => [t.name, t.kind, t.keyFields.join(',')])) };
        break;
      }
      case 'aggregate': {
        const task = values.task === undefined ? {} : { task_name: values.task };
        const response: QueryTotalCountsResponse =
          startNs === undefined
            ? await c.call('AggregateFlows', (q) =>
                q.AggregateFlows(new AggregationRequest({ ...task, ...filter, ...(endNs === undefined ? {} : { end_time_unix_nano: bigToInt64(endNs) }) })),
              )
            : await c.call('AggregateFlowsInRange', (q) => q.AggregateFlowsInRange(new AggregateRangeRequest({ ...task, range, filter })));
        const rows = response.summaries.map((s) => ({ task: s.task_name, flows: num(s.flow_count), packets: num(s.total_packets), bytes: num(s.total_bytes) }));
        output = { json: rows, table: renderTable(['TASK', 'FLOWS', 'PACKETS', 'BYTES'], rows.map((r) => [r.task, r.flows, r.packets, r.bytes])) };
        break;
      }
      case 'trace': {
        if (values.key === undefined) throw usageError('query trace needs --key (e.g. --key SrcIP=10.0.0.1,DstPort=443)');
        const request = new TraceFlowRequest({ task_name: needTask(), flow_keys: parseFlowKeys(values.key), ...(endNs === undefined ? {} : { end_time_unix_nano: bigToInt64(endNs) }) });
        const { lifecycle } = await c.call('TraceFlow', (q) => q.TraceFlow(request));
        const first = int64ToBig(lifecycle.first_seen_unix_nano);
        const last = int64ToBig(lifecycle.last_seen_unix_nano);
        const json = { firstSeen: isoOf(first), lastSeen: isoOf(last), firstSeenNs: String(first), lastSeenNs: String(last), packets: num(lifecycle.total_packets), bytes: num(lifecycle.total_bytes) };
        output = { json, table: renderTable(['FIRST SEEN', 'LAST SEEN', 'PACKETS', 'BYTES'], [[json.firstSeen, json.lastSeen, json.packets, json.bytes]]) };
        break;
      }
      case 'heavy-hitters':
      case 'super-spreaders': {
        const type = sub === 'super-spreaders' ? 2 : values.type === undefined ? 0 : integerFlag('--type', values.type, 0, 1);
        const taskName = needTask();
        let snapshot: bigint | undefined;
        let hitters;
        if (startNs === undefined) {
          const request = new HeavyHittersRequest({ task_name: taskName, type, limit, ...(endNs === undefined ? {} : { end_time_unix_nano: bigToInt64(endNs) }) });
          hitters = (await c.call('QueryHeavyHitters', (q) => q.QueryHeavyHitters(request))).hitters;
        } else {
          const response = await c.call('QuerySketchList', (q) => q.QuerySketchList(new SketchListRequest({ task_name: taskName, type, limit, range })));
          hitters = response.hitters;
          snapshot = int64ToBig(response.snapshot_unix_nano);
        }
        const rows = hitters.map((h, i) => ({ rank: i + 1, flow: h.flow, value: num(h.value) }));
        const valueName = type === 2 ? 'SPREAD' : type === 1 ? 'BYTES' : 'PACKETS';
        output = {
          json: snapshot === undefined ? rows : { snapshot: isoOf(snapshot), snapshotNs: String(snapshot), hitters: rows },
          table: (snapshot === undefined ? '' : `snapshot ${isoOf(snapshot)}\n`) + renderTable(['RANK', 'FLOW', valueName], rows.map((r) => [r.rank, r.flow, r.value])),
        };
        break;
      }
      case 'top':
      case 'flows': {
        const groupBy = values['group-by'] === undefined ? undefined : values['group-by'].split(',').map((f) => f.trim());
        const base = { task_name: needTask(), range, filter, limit, ...(groupBy === undefined ? {} : { group_by: groupBy }) };
        const response =
          sub === 'top'
            ? await c.call('TopFlows', (q) => q.TopFlows(new FlowListRequest({ ...base, order_by: values.by ?? 'bytes' })))
            : await c.call('SearchFlows', (q) =>
                q.SearchFlows(
                  new FlowListRequest({ ...base, order_by: values.order ?? 'bytes', ascending: values.asc, offset: values.offset === undefined ? 0 : integerFlag('--offset', values.offset, 0, 10_000) }),
                ),
              );
        output = flowsOutput(response.flows);
        break;
      }
      case 'alerts': {
        const filters = { ...(values.rule === undefined ? {} : { rule: values.rule }), ...(values.task === undefined ? {} : { task_name: values.task }) };
        let notices: AlertNotice[];
        if (values.active) {
          if (startNs !== undefined || values.kind !== undefined || values.flow !== undefined || values.offset !== undefined) {
            throw usageError('query alerts --active takes --end, --rule, --task and --limit only');
          }
          const request = new ActiveAlertsRequest({ ...filters, limit, ...(endNs === undefined ? {} : { end_time_unix_nano: bigToInt64(endNs) }) });
          notices = (await c.call('QueryActiveAlerts', (q) => q.QueryActiveAlerts(request))).alerts;
        } else {
          const request = new AlertsRequest({
            ...filters,
            range,
            limit,
            ...(values.kind === undefined ? {} : { kind: values.kind }),
            ...(values.flow === undefined ? {} : { flow: values.flow }),
            offset: values.offset === undefined ? 0 : integerFlag('--offset', values.offset, 0, 10_000),
          });
          notices = (await c.call('QueryAlerts', (q) => q.QueryAlerts(request))).alerts;
        }
        output = alertsOutput(notices);
        break;
      }
      case 'series': {
        if (startNs === undefined) throw usageError('query series needs --start (e.g. --start -1h)');
        const bucketNs = BigInt(values.bucket === undefined ? 60_000 : durationFlag('--bucket', values.bucket)) * NS_PER_MS;
        const request = new FlowSeriesRequest({
          ...(values.task === undefined ? {} : { task_name: values.task }),
          start_time_unix_nano: bigToInt64(startNs),
          ...(endNs === undefined ? {} : { end_time_unix_nano: bigToInt64(endNs) }),
          bucket_nanos: bigToInt64(bucketNs),
          filter,
        });
        const rows = (await c.call('FlowSeries', (q) => q.FlowSeries(request))).buckets.map((b) => {
          const start = int64ToBig(b.bucket_start_unix_nano);
          return { task: b.task_name, bucketStart: isoOf(start), bucketStartNs: String(start), packets: num(b.total_packets), bytes: num(b.total_bytes), flows: num(b.flow_count) };
        });
        output = { json: rows, table: renderTable(['TASK', 'BUCKET START', 'PACKETS', 'BYTES', 'FLOWS'], rows.map((r) => [r.task, r.bucketStart, r.packets, r.bytes, r.flows])) };
        break;
      }
    }
    io.stdout.write(values.json ? `${JSON.stringify(output.json)}\n` : output.table);
    return 0;
  } catch (error) {
    return reportError(io, error);
  } finally {
    client?.close();
  }
}

function alertsOutput(notices: AlertNotice[]): Output {
  const rows = notices.map((n) => {
    const at = int64ToBig(n.timestamp_unix_nano);
    const since = int64ToBig(n.since_unix_nano);
    const firedAt = int64ToBig(n.fired_at_unix_nano);
    return {
      at: isoOf(at),
      atNs: String(at),
      kind: n.kind,
      id: n.alert_id,
      rule: n.rule,
      task: n.task_name,
      taskKind: n.task_kind,
      metric: n.metric,
      operator: n.operator,
      threshold: n.threshold,
      flow: n.flow,
      flowKey: n.flow_key,
      value: n.value,
      since: isoOf(since),
      firedAt: firedAt === undefined ? null : isoOf(firedAt),
      evidence: JSON.parse(n.evidence_json) as unknown,
      engineId: n.engine_id,
      runId: n.run_id,
      source: n.source,
    };
  });
  return {
    json: rows,
    table: renderTable(
      ['TIME', 'KIND', 'RULE', 'FLOW', 'METRIC', 'VALUE', 'THRESHOLD', 'ENGINE'],
      rows.map((r) => [r.at, r.kind, r.rule, r.flow === '' ? `(task ${r.task})` : r.flow, r.metric, r.value, `${r.operator} ${r.threshold}`, r.engineId]),
    ),
  };
}

function flowsOutput(flows: FlowRecord[]): Output {
  const fields = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'].filter((f) => flows.some((flow) => flow.key[f] !== undefined));
  const rows = flows.map((f) => {
    const first = int64ToBig(f.first_seen_unix_nano);
    const last = int64ToBig(f.last_seen_unix_nano);
    return { task: f.task_name, key: f.key, packets: num(f.total_packets), bytes: num(f.total_bytes), firstSeen: isoOf(first), lastSeen: isoOf(last), firstSeenNs: String(first), lastSeenNs: String(last) };
  });
  return {
    json: rows,
    table: renderTable(
      ['RANK', ...fields.map((f) => f.toUpperCase()), 'PACKETS', 'BYTES', 'FIRST SEEN', 'LAST SEEN'],
      rows.map((r, i) => [i + 1, ...fields.map((f) => r.key[f] ?? ''), r.packets, r.bytes, r.firstSeen, r.lastSeen]),
    ),
  };
}

function durationFlag(flag: string, text: string): number {
  try {
    const ms = parseDuration(text);
    if (ms >= 1) return ms;
  } catch {
    // reported below
  }
  throw new NetSpectraError('NS_ERR_USAGE', `${flag} expects a duration such as 500ms, 10s or 5m, got "${text}"`);
}
