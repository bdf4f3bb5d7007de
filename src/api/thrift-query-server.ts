/**
 * The Thrift QueryService of the original (docs/compatibility.md): buffered (unframed) transport and binary
 * protocol on a plain TCP socket (or TLS when configured), served from the generated code in
 * src/wire/gen over the QueryService of src/query. The handlers only convert: Thrift structs (i64
 * as node-int64) in, validated requests to the query service, structs out.
 *
 * A handler error reaches the client as a TApplicationException whose message is
 * `NS_ERR_…: <readable text>` (the generated processor sends `error.message`); nothing else of it
 * (no stack) leaves the process. A connection that sends garbage is closed and counted; the server
 * goes on.
 */
import type { Server, Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import thrift from 'thrift';
import Int64 from 'node-int64';
import { NetSpectraError, isNetSpectraError, errorMessage } from '../model/errors.js';
import type { QueryService } from '../query/query-service.js';
import { Processor } from '../wire/gen/QueryService.js';
import type { FlowTotals, TaskTotals } from '../model/query.js';
import type { AlertRecord } from '../model/alert.js';
import type { FlowFilterRequest } from '../query/query-service.js';
import {
  AlertNotice,
  AlertsResponse,
  FlowLifecycle,
  FlowRecord,
  FlowSeriesResponse,
  FlowsResponse,
  HealthCheckResponse,
  HeavyHitter,
  HeavyHittersResponse,
  ListTasksResponse,
  QueryTotalCountsResponse,
  SearchTasksResponse,
  SeriesBucket,
  SketchListResponse,
  SketchSnapshotInfo,
  SketchSnapshotsResponse,
  TaskInfo,
  TaskSummary,
  TraceFlowResponse,
  type ActiveAlertsRequest,
  type AggregateRangeRequest,
  type AlertsRequest,
  type AggregationRequest,
  type FlowFilter,
  type FlowListRequest,
  type FlowSeriesRequest,
  type HealthCheckRequest,
  type HeavyHittersRequest,
  type ListTasksRequest,
  type SearchTasksRequest,
  type SketchListRequest,
  type SketchSnapshotsRequest,
  type TimeRange,
  type TraceFlowRequest,
} from '../wire/gen/netspectra_types.js';

export interface ThriftQueryServerOptions {
  /**
   * `host:port` to listen on (`api.rpc_listen_addr`); port 0 takes a free port (see `address`).
   * @default "127.0.0.1:50051"
   */
  listenAddr?: string;
  /** Serve TLS instead of plain TCP (certificate and key in PEM, as node:tls takes them). */
  tls?: TlsOptions;
  /** Called for a connection-level problem (garbage on the socket, a reset); the server goes on. */
  onConnectionError?: (error: Error) => void;
}

/** A Thrift i64 (node-int64) as a bigint. */
export function int64ToBig(value: Int64 | number | null | undefined): bigint | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return BigInt(value);
  return BigInt.asIntN(64, BigInt(`0x${value.toOctetString()}`));
}

/** A bigint or safe integer as a Thrift i64, exactly (node-int64 from its 8 bytes). */
export function bigToInt64(value: bigint | number): Int64 {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt.asIntN(64, BigInt(value)));
  return new Int64(bytes);
}

/** `host:port` (IPv6 as `[::1]:port`) split for listen(). */
export function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65535) throw new NetSpectraError('NS_ERR_LISTEN', `${JSON.stringify(address)} is not a host:port address`);
  return { host: match[1] === '' ? '127.0.0.1' : match[1]!, port };
}

/** Error text for a Thrift application exception: the code first, so clients can tell them apart. */
function exceptionText(error: unknown): string {
  if (isNetSpectraError(error)) return error.toDisplayString();
  return `internal error: ${errorMessage(error)}`;
}

/** The generated processor's handler: promise-style, one argument per method. */
export function queryHandler(service: QueryService) {
  const guard =
    <A, R>(method: (request: A) => Promise<R>) =>
    async (request: A): Promise<R> => {
      try {
        return await method(request);
      } catch (error) {
        throw new Error(exceptionText(error));
      }
    };
  const text = (value: string | null | undefined): string | undefined => (value === null || value === undefined || value === '' ? undefined : value);
  const int = (value: number | null | undefined): number | undefined => (value === null || value === undefined ? undefined : value);
  const range = (value: TimeRange | null | undefined): { startNs?: bigint; endNs?: bigint } => ({
    startNs: int64ToBig(value?.start_time_unix_nano),
    endNs: int64ToBig(value?.end_time_unix_nano),
  });
  const filter = (value: FlowFilter | null | undefined): FlowFilterRequest => ({
    srcIP: text(value?.src_ip),
    dstIP: text(value?.dst_ip),
    srcPort: int(value?.src_port),
    dstPort: int(value?.dst_port),
    protocol: int(value?.protocol),
  });
  const summaries = (totals: TaskTotals[]): QueryTotalCountsResponse =>
    new QueryTotalCountsResponse({
      summaries: totals.map((t) => new TaskSummary({ task_name: t.taskName, total_bytes: bigToInt64(t.bytes), total_packets: bigToInt64(t.packets), flow_count: bigToInt64(t.flows) })),
    });
  const flows = (list: FlowTotals[]): FlowsResponse =>
    new FlowsResponse({
      flows: list.map(
        (f) =>
          new FlowRecord({
            task_name: f.taskName,
            key: Object.fromEntries(Object.entries(f.key).map(([field, value]) => [field, String(value)])),
            total_bytes: bigToInt64(f.bytes),
            total_packets: bigToInt64(f.packets),
            first_seen_unix_nano: bigToInt64(f.firstSeenNs),
            last_seen_unix_nano: bigToInt64(f.lastSeenNs),
          }),
      ),
    });
  /** The IDL's snake_case orders as the service's names; anything else goes on to be refused there. */
  const order = (value: string | null | undefined): string | undefined => {
    const name = text(value);
    return name === undefined ? undefined : ({ first_seen: 'firstSeen', last_seen: 'lastSeen' } as Record<string, string>)[name] ?? name;
  };
  const groupBy = (value: string[] | null | undefined): string[] | undefined => (value === null || value === undefined || value.length === 0 ? undefined : value);
  const alerts = (records: AlertRecord[]): AlertsResponse =>
    new AlertsResponse({
      alerts: records.map(
        (r) =>
          new AlertNotice({
            timestamp_unix_nano: bigToInt64(r.atNs),
            kind: r.kind,
            alert_id: r.id,
            rule: r.rule,
            task_name: r.taskName,
            task_kind: r.taskKind,
            metric: r.metric,
            operator: r.operator,
            threshold: r.threshold,
            flow: r.flowText,
            flow_key: Object.fromEntries(Object.entries(r.flow).map(([field, value]) => [field, String(value)])),
            value: r.value,
            since_unix_nano: bigToInt64(r.sinceNs),
            ...(r.firedAtNs === undefined ? {} : { fired_at_unix_nano: bigToInt64(r.firedAtNs) }),
            evidence_json: JSON.stringify(r.evidence),
            flow_fields: r.flowFields,
            element_fields: r.elementFields,
            run_id: r.runId,
            engine_id: r.engineId,
            source: r.source,
          }),
      ),
    });
  return {
    HealthCheck: guard(async (_request: HealthCheckRequest) => new HealthCheckResponse({ status: (await service.health()).status })),
    SearchTasks: guard(async (_request: SearchTasksRequest) => new SearchTasksResponse({ task_names: (await service.tasks()).map((task) => task.name) })),
    AggregateFlows: guard(async (request: AggregationRequest) =>
      summaries(
        await service.aggregateFlows({
          endNs: int64ToBig(request?.end_time_unix_nano),
          taskName: text(request?.task_name),
          srcIP: text(request?.src_ip),
          dstIP: text(request?.dst_ip),
          srcPort: int(request?.src_port),
          dstPort: int(request?.dst_port),
          protocol: int(request?.protocol),
        }),
      ),
    ),
    TraceFlow: guard(async (request: TraceFlowRequest) => {
      const flowKeys: Record<string, string> = {};
      const keys = request?.flow_keys as unknown;
      // the thrift library reads a map<string,string> as a plain object
      if (keys !== null && typeof keys === 'object') for (const [field, value] of Object.entries(keys)) flowKeys[field] = String(value);
      const lifecycle = await service.traceFlow({ taskName: request?.task_name ?? '', flowKeys, endNs: int64ToBig(request?.end_time_unix_nano) });
      return new TraceFlowResponse({
        lifecycle: new FlowLifecycle({
          first_seen_unix_nano: bigToInt64(lifecycle.firstSeenNs),
          last_seen_unix_nano: bigToInt64(lifecycle.lastSeenNs),
          total_packets: bigToInt64(lifecycle.packets),
          total_bytes: bigToInt64(lifecycle.bytes),
        }),
      });
    }),
    QueryHeavyHitters: guard(async (request: HeavyHittersRequest) => {
      const list = await service.heavyHitters({ taskName: request?.task_name ?? '', type: request?.type, limit: request?.limit, endNs: int64ToBig(request?.end_time_unix_nano) });
      return new HeavyHittersResponse({ hitters: list.entries.map((entry) => new HeavyHitter({ flow: entry.flow, value: bigToInt64(entry.value) })) });
    }),
    AggregateFlowsInRange: guard(async (request: AggregateRangeRequest) =>
      summaries(await service.aggregateFlows({ taskName: text(request?.task_name), ...range(request?.range), ...filter(request?.filter) })),
    ),
    ListTasks: guard(
      async (_request: ListTasksRequest) =>
        new ListTasksResponse({ tasks: (await service.tasks()).map((task) => new TaskInfo({ name: task.name, kind: task.kind, key_fields: task.keyFields })) }),
    ),
    TopFlows: guard(async (request: FlowListRequest) => {
      const by = order(request?.order_by);
      return flows(
        await service.top({
          taskName: request?.task_name ?? '',
          ...range(request?.range),
          filter: filter(request?.filter),
          groupBy: groupBy(request?.group_by),
          by: by as 'bytes' | 'packets' | undefined,
          limit: request?.limit,
        }),
      );
    }),
    SearchFlows: guard(async (request: FlowListRequest) =>
      flows(
        await service.search({
          taskName: request?.task_name ?? '',
          ...range(request?.range),
          filter: filter(request?.filter),
          groupBy: groupBy(request?.group_by),
          orderBy: order(request?.order_by),
          descending: request?.ascending !== true,
          limit: request?.limit,
          offset: int(request?.offset),
        }),
      ),
    ),
    FlowSeries: guard(async (request: FlowSeriesRequest) => {
      const bucketNs = int64ToBig(request?.bucket_nanos) ?? 0n;
      const points = await service.series({
        taskName: text(request?.task_name),
        startNs: int64ToBig(request?.start_time_unix_nano) ?? -1n,
        endNs: int64ToBig(request?.end_time_unix_nano),
        bucketNs,
        filter: filter(request?.filter),
      });
      return new FlowSeriesResponse({
        buckets: points.map(
          (p) =>
            new SeriesBucket({
              task_name: p.taskName,
              bucket_start_unix_nano: bigToInt64(p.bucketStartNs),
              total_bytes: bigToInt64(p.bytes),
              total_packets: bigToInt64(p.packets),
              flow_count: bigToInt64(p.flows),
            }),
        ),
      });
    }),
    QuerySketchList: guard(async (request: SketchListRequest) => {
      const list = await service.heavyHitters({ taskName: request?.task_name ?? '', type: request?.type, limit: request?.limit, ...range(request?.range) });
      return new SketchListResponse({
        ...(list.snapshotNs === undefined ? {} : { snapshot_unix_nano: bigToInt64(list.snapshotNs) }),
        hitters: list.entries.map((entry) => new HeavyHitter({ flow: entry.flow, value: bigToInt64(entry.value) })),
      });
    }),
    QueryAlerts: guard(async (request: AlertsRequest) =>
      alerts(
        await service.alerts({
          ...range(request?.range),
          rule: text(request?.rule),
          taskName: text(request?.task_name),
          kind: text(request?.kind),
          // "" is a filter of its own: the task-wide alerts
          flow: request?.flow ?? undefined,
          limit: request?.limit,
          offset: int(request?.offset),
        }),
      ),
    ),
    QueryActiveAlerts: guard(async (request: ActiveAlertsRequest) =>
      alerts(await service.activeAlerts({ endNs: int64ToBig(request?.end_time_unix_nano), rule: text(request?.rule), taskName: text(request?.task_name), limit: request?.limit })),
    ),
    ListSketchSnapshots: guard(async (request: SketchSnapshotsRequest) => {
      const snapshots = await service.sketchSnapshots({ taskName: request?.task_name ?? '', limit: request?.limit, ...range(request?.range) });
      return new SketchSnapshotsResponse({
        snapshots: snapshots.map((s) => new SketchSnapshotInfo({ timestamp_unix_nano: bigToInt64(s.timestampNs), type: s.type, entries: s.entries })),
      });
    }),
  };
}

export class ThriftQueryServer implements AsyncDisposable {
  readonly #service: QueryService;
  readonly #options: ThriftQueryServerOptions;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  /** Connections closed because of a protocol or socket error. */
  connectionErrors = 0;

  constructor(service: QueryService, options: ThriftQueryServerOptions = {}) {
    this.#service = service;
    this.#options = options;
  }

  /** The bound address, once started (the real port when 0 was asked for). */
  get address(): { host: string; port: number } {
    const address = this.#server?.address();
    if (address === null || address === undefined || typeof address === 'string') throw new NetSpectraError('NS_ERR_LISTEN', 'the Thrift query server is not listening');
    return { host: address.address, port: address.port };
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    const listenAddr = this.#options.listenAddr ?? '127.0.0.1:50051';
    const { host, port } = splitAddress(listenAddr);
    const server = thrift.createServer(Processor, queryHandler(this.#service), {
      transport: thrift.TBufferedTransport,
      protocol: thrift.TBinaryProtocol,
      ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls }),
    }) as unknown as Server;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new NetSpectraError('NS_ERR_LISTEN', `the Thrift query server cannot listen on ${listenAddr}: ${error.code ?? error.message} (another process on the port? set api.rpc_listen_addr)`, {
            cause: error,
          }),
        );
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // The library emits connection problems on the server; unhandled they would end the process.
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('error', (error: Error) => {
      this.connectionErrors++;
      this.#options.onConnectionError?.(error);
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // open client connections would keep close() waiting
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
