/**
 * The usage texts of the commands (`netspectra <command> --help`), kept together so the command
 * files hold only their wiring. Keep them true when a command changes (docs/cli.md says the same).
 */
import { MAX_PARTITIONS } from '../bus/partition-ownership.js';

export const ANALYZE_HELP = `Usage: netspectra analyze <capture...> [options]
       pcap-analyzer <capture...> [options]

Analyse pcap, pcapng or gzip-compressed captures: exact per-flow accounting, heavy hitters and
super-spreaders. Prints a report and stores every snapshot in an embedded DuckDB file.

Options:
  --config FILE      configuration in the original's schema (default: built-in tasks
                     per_five_tuple, per_src_ip, ss_src_dst, cm_src_left)
  --workers N        engine worker threads (default: aggregator.num_workers = number of
                     cores); the main thread also runs a share of the tasks; 0 runs them
                     all on the main thread. Results do not depend on it.
  --top N            rows in each top list of the report (default 10)
  --json             print exactly one JSON object instead of the text report
  --flows-out FILE   write every flow of every exact task as JSON lines
  --store FILE       embedded store file (default: the config's duckdb writer path,
                     netspectra.duckdb)
  --no-store         do not write the embedded store
  --no-alerts        do not evaluate the alerter's rules
  --no-notify        evaluate the rules and report alerts, but send no notification
  --no-progress      no progress bar (it is only drawn on a terminal anyway)
  -h, --help         this help

Snapshots follow packet time: one per writer snapshot_interval of capture time and one at the
end; the measurement period resets all tasks after a snapshot. The alerter's rules (config
alerter.rules) are evaluated every alerter.check_interval of capture time, at every period end
and at the end; alerts that fire are listed in the report and sent to the configured notifiers
(smtp, alerter.notifiers) once each, with a resolved notice when they clear (docs/alerting.md).

Exit status: 0 success; 1 an input was damaged or a snapshot could not be written (the report
is still printed, the error goes to stderr with its code); 2 usage or configuration error.
`;

export const ENGINE_HELP = `Usage: netspectra engine [options]
       ns-engine [options]

Run the engine on the packets probes publish on NATS: the configured exact and sketch tasks in
wall-clock time, snapshots to the configured writers (aggregator.*.writers: duckdb, clickhouse,
gob, text), each at its own snapshot_interval. Several engines share the traffic by source
partition without counting anything twice (docs/pipeline.md).

Input:
  --nats URL             NATS server (default: probe.nats_url, nats://127.0.0.1:4222)
  --subject S            subject (default: probe.subject, gons.packets.raw)
  --format F             batch (default: probe.format): the partitioned packets of \`probe --format
                         batch\` on <subject>.<partition>; packet-info: the original's one
                         Thrift PacketInfo per message on <subject>
  --partitions P         partitions the probes publish (default: probe.partitions, 16; must
                         equal the probes'; 1..${MAX_PARTITIONS})
  --jetstream            durable mode (default: probe.jetstream): consume the JetStream stream
                         from this engine's checkpoint, so a restart or crash loses nothing and
                         counts nothing twice (needs nats-server -js; the probes must use it too)
  --stream NAME          the stream (default: probe.stream, NETSPECTRA_PACKETS)

Sharing the traffic between engines:
  --engines N --index I  this is engine I of N (0-based): it owns the partitions p with
                         p mod N = I (default: --engines 1 --index 0, everything)
  --partitions-owned L   own exactly these partitions instead, e.g. 0,3,5-7
  With batch, an engine subscribes to its partitions' subjects only; with packet-info it
  receives every packet and keeps those whose source address hashes to its partitions.
  --engine-id ID         written with every row (ClickHouse EngineId) and used as the leader
                         lease holder (default: <hostname>-<index>)
  --leader-election      take part in the engine-leader election for singleton duties (needs
                         JetStream: nats-server -js); on by default with more than one engine
  --no-leader-election   do not; this engine then does the singleton duties itself
  --leader-ttl DURATION  how long a crashed leader keeps the lease (default 3s)

Engine and storage:
  --config FILE          configuration in the original's schema (tasks, writers, period)
  --workers N            engine worker threads (default: aggregator.num_workers); 0 runs
                         every task on the main thread
  --store FILE           embedded store file for the duckdb writers (default: their path)
  --no-store             no embedded store
  --no-alerts            do not evaluate the alerter's rules (alerter.*; docs/alerting.md).
                         Otherwise each engine evaluates them on the traffic it owns; with
                         leader election the leader alone delivers every engine's notifications

Monitoring:
  --metrics-listen A     address of /metrics (Prometheus) and /healthz (default
                         127.0.0.1:9464; port 0 picks a free one)
  --no-metrics           no HTTP endpoint

SIGINT or SIGTERM stops the engine cleanly: it stops subscribing, counts the last packets,
writes a final snapshot to every writer and exits. The original's single-dash flags
(-config FILE) work too.

Exit status: 0 stopped cleanly; 1 NATS unreachable at start, the engine failed, or the final
snapshot could not be written; 2 usage or configuration error.
`;

export const SERVE_HELP = `Usage: netspectra serve --iface NAME [options]
       netspectra serve --file CAPTURE... [options]
       netspectra serve [options]

Capture, count, store and serve in one process: the engine runs the configured tasks on live
traffic or on capture files, writes snapshots to the embedded DuckDB store, evaluates the
alerter's rules, and answers queries on the same store while it runs — the web dashboard and
the HTTP API (REST, Grafana), the Thrift QueryService (netspectra query, the original's
clients) and Prometheus metrics. Without --iface or --file it serves what the store already
holds.

Source (one of):
  --iface NAME           capture live on NAME through tcpdump (needs root or tcpdump's
                         capture capability); snapshots follow the wall clock
  --filter BPF           capture filter, e.g. "tcp or udp" (live only)
  --snaplen N            bytes kept per packet (live only; default 256: headers are enough)
  --file CAPTURE...      read pcap / pcapng / .gz captures (repeatable; further captures may
                         follow as plain arguments) as fast as possible in packet time, exactly
                         as analyze does, then keep serving the results until signalled
  --exit-when-done       with --file: exit once the files are read and stored

Engine and store:
  --config FILE          configuration in the original's schema (tasks, writers, period, api,
                         alerter)
  --store FILE           the embedded store (default: the config's duckdb writer path,
                         netspectra.duckdb); every task group writes to it
  --snapshot-interval D  how often the store gets a snapshot, e.g. 5s (default: the duckdb
                         writer's snapshot_interval, 60s); live data is queryable from the
                         first snapshot on, so a dashboard wants a few seconds
  --workers N            engine worker threads (default: aggregator.num_workers)
  --no-alerts            do not evaluate the alerter's rules

Serving:
  --http-listen HOST:PORT
                         the HTTP API (REST under /api/v1, Grafana, /openapi.json, /readyz,
                         the API's /metrics) and the web dashboard at /
                         (default: api.http_listen_addr, 127.0.0.1:8080); bearer tokens from
                         api.auth_tokens; port 0 takes a free port
  --static DIR           the dashboard's built files (default: web/dist of the package)
  --no-http              no HTTP API and dashboard
  --rpc-listen HOST:PORT Thrift QueryService (default: api.rpc_listen_addr, 127.0.0.1:50051);
                         port 0 takes a free port
  --tls-cert FILE        serve the QueryService over TLS with this PEM certificate ...
  --tls-key FILE         ... and key (default: api.rpc_tls_cert_file, api.rpc_tls_key_file)
  --metrics-listen A     serve's own /metrics (Prometheus: capture, engine, writers, alerts)
                         and /healthz (default 127.0.0.1:9464; port 0 picks a free one)
  --no-metrics           no metrics endpoint
  -h, --help             this help

Queries read the store through the process that writes it (DuckDB lets one process hold the
file): \`netspectra api\` cannot open it meanwhile, \`netspectra query --addr\` asks this process.
SIGINT or SIGTERM stops serve cleanly: the capture stops, the last packets are counted, a final
snapshot is written, and the store is closed (then \`netspectra api --store\` opens it). A
second signal exits at once.

Exit status: 0 stopped cleanly (signal, or --exit-when-done); 1 the store, an address or the
capture could not be opened, an input was damaged, the engine failed or the final snapshot
could not be written; 2 usage or configuration error.
`;

export const PROBE_HELP = `Usage: netspectra probe (--iface NAME | --file CAPTURE...) [options]
       netspectra probe --mode sub [options]
       ns-probe [-mode pub|sub] [-iface NAME] [options]

Publish packets on NATS for the engines: live from an interface (through tcpdump), or replayed
from pcap / pcapng / .gz captures. With --mode sub, print the packets arriving on the subject.

Source (publish mode):
  --iface NAME       capture live on NAME (needs root or tcpdump's capture capability)
  --filter BPF       capture filter, e.g. "tcp or udp" (live only)
  --snaplen N        bytes kept per packet (live only; default 256: headers are enough)
  --file FILE        replay a capture (repeatable, in order)
  --speed X          replay at X times the capture's own pace (default 1)
  --rate PPS         replay at a fixed PPS packets per second instead
  --max              replay as fast as possible

Publishing:
  --format F         batch (default: probe.format): many packets per message, partitioned by source
                     address onto <subject>.<partition>, with sequence numbers for loss
                     counting; packet-info: the original's one Thrift PacketInfo per
                     message on <subject>, for the original's engines and tools
  --partitions N     partitions of the batch format (default: probe.partitions, 16; 1..256)
  --jetstream        durable mode (default: probe.jetstream): publish into the JetStream
                     stream with acknowledgements and message ids, pausing (never dropping)
                     while the server is away; creates the stream if missing
  --stream NAME      the stream (default: probe.stream, NETSPECTRA_PACKETS)
  --nats URL         NATS server (default: probe.nats_url, nats://127.0.0.1:4222)
  --subject S        subject (default: probe.subject, gons.packets.raw)
  --config FILE      configuration in the original's schema

Persistence (a local copy of the published packets, beside publishing):
  --persist DIR      write the packets to files in DIR (default: off, or on in
                     probe.persistence.path when probe.persistence.enabled is true)
  --persist-format F pcap (original frames, ns timestamps), pcapng, or jsonl (one JSON
                     object per packet); default from probe.persistence.encoding:
                     pcap -> pcap, text and gob -> jsonl
  --persist-max-bytes N
                     start a new file before one exceeds N bytes (K, M, G suffixes are
                     KiB, MiB, GiB; 0: no limit; default 256M)
  --persist-rotate D start a new file at every multiple of D of packet time, e.g. 1h
                     or 15m (default: no time rotation)
                     Files are DIR/probe-<UTC of first packet>-w<worker>-<sequence>.<ext>,
                     one series per probe.persistence.num_workers writer; a full queue
                     (probe.persistence.channel_buffer_size packets) drops and counts.

Subscribe mode:
  --mode sub         print arriving packets (both formats; --partition P to pick one
                     partition's subject, default: <subject> and <subject>.*)
  --count N          stop after N packets

The original's flags -mode and -iface work too. A summary (packets, messages, drops, files
persisted and packets dropped by the persistence queue) goes to stderr when the probe stops (end
of the files, or SIGINT/SIGTERM).

Exit status: 0 success; 1 a capture was damaged, NATS failed or persistence could not write;
2 usage or configuration error.
`;

export const API_HELP = `Usage: netspectra api [options]
       ns-api [options]

Serve, over the store the engines write:
- the Thrift QueryService of the original (buffered transport, binary protocol; its clients
  work unchanged) plus NetSpectra's additions (docs/query.md);
- the HTTP API: REST under /api/v1, Grafana (POST /query, the JSON datasource under /grafana),
  /openapi.json, /healthz, /readyz, /metrics, and the web dashboard at / (docs/http-api.md).

Which store: --store FILE reads that embedded DuckDB file; otherwise the first enabled
clickhouse writer of aggregator.exact.writers (then aggregator.sketch.writers) in the config;
otherwise the config's duckdb writer path (default netspectra.duckdb). The DuckDB file is
opened read-only: it cannot be read while analyze or engine is writing it.

Options:
  --config FILE        configuration in the original's schema
  --store FILE         embedded store file to serve
  --listen HOST:PORT   Thrift address (default: api.rpc_listen_addr, 127.0.0.1:50051);
                       port 0 takes a free port. Loopback unless set otherwise: the Thrift
                       API has no authentication.
  --tls-cert FILE      serve Thrift over TLS with this PEM certificate (chain) ...
  --tls-key FILE       ... and this PEM private key (default: api.rpc_tls_cert_file and
                       api.rpc_tls_key_file of the config)
  --http-listen HOST:PORT
                       HTTP address (default: api.http_listen_addr, 127.0.0.1:8080); bearer
                       tokens from api.auth_tokens
  --static DIR         the dashboard's built files (default: web/dist of the package)
  --no-http            serve Thrift only
  --no-thrift          serve HTTP only
  -h, --help           this help

SIGINT or SIGTERM stops both servers and closes the store.

Exit status: 0 stopped by a signal; 1 the store or an address could not be opened;
2 usage or configuration error.
`;

export const QUERY_HELP = `Usage: netspectra query <subcommand> [options]

Ask \`netspectra api\` (or the original's ns-api, for the methods it has) over Thrift.

Subcommands:
  tasks              the stored tasks, their kind and key fields
  aggregate          totals per exact task: bytes, packets, flows        (AggregateFlows)
  trace              one flow's lifetime and totals: --task, --key       (TraceFlow)
  heavy-hitters      a heavy-hitter task's list: --task, --type 0|1      (QueryHeavyHitters)
  super-spreaders    a SuperSpread task's list: --task                   (QueryHeavyHitters type 2)
  top                top flows, or top sources etc. with --group-by      (TopFlows)
  flows              flow search: filters, --order, --offset pages       (SearchFlows)
  series             bytes, packets, flows per --bucket from --start     (FlowSeries)
  alerts             stored alert notices, newest first; --active: the    (QueryAlerts,
                     alerts active at --end (default: as last stored)      QueryActiveAlerts)

Options (the original's query tool's flags keep their names; -flag works like --flag):
  --addr HOST:PORT     the API (default: api.rpc_listen_addr of --config, else 127.0.0.1:50051)
  --config FILE        configuration to take the address from
  --task NAME          task to query (all exact tasks when omitted, for aggregate and series)
  --key K=V,...        flow key of trace, e.g. SrcIP=10.0.0.1,DstPort=443
  --type 0|1           heavy hitters by packets (0, default) or bytes (1)
  --limit N            rows of a list (default 10; at most 10000)
  --start TIME         range start, exclusive (RFC 3339, unix seconds/ms/ns, now, or -15m
                       for 15 minutes ago); without it the range starts at the beginning
  --end TIME           range end, inclusive (default: everything stored; series: now)
  --src-ip, --dst-ip, --src-port, --dst-port, --protocol   filters (aggregate, top, flows, series)
  --by bytes|packets   what top ranks by (default bytes)
  --group-by F[,F]     top: group by these key fields (e.g. SrcIP for top sources)
  --order O            flows: bytes, packets, first_seen or last_seen (default bytes)
  --asc                flows: ascending order
  --offset N           flows, alerts: skip N rows (at most 10000)
  --bucket DURATION    series: bucket size, e.g. 10s, 5m (default 60s)
  --rule NAME          alerts: of this rule only
  --kind K             alerts: firing, repeat or resolved notices only
  --flow TEXT          alerts: of this flow key (e.g. 10.0.0.1; "" for task-wide alerts)
  --active             alerts: the alerts active at --end instead of the notices
  --mode M             the original's tool: aggregate, trace, heavyhitters, superspreader
  --json               print one JSON document instead of a table
  --timeout DURATION   connect and call timeout (default 15s)
  --tls                connect with TLS; --tls-ca FILE trusts a private certificate
  -h, --help           this help

Exit status: 0 success; 1 the API refused the request or could not be reached (the code says
which); 2 usage error.
`;

export const AI_HELP = `Usage: netspectra ai [options]
       ns-ai [options]

Run the AI service: the Thrift AIService of the original (buffered transport, binary protocol)
on ai.rpc_listen_addr. AnalyzeTraffic analyses alerts with the configured LLM (any
OpenAI-compatible API: ai.base_url, ai.model, ai.api_key); prompt sessions stream answers to
\`netspectra ask\`. Without an LLM (api_key or base_url empty), or when it fails, alerts are
answered with the built-in analysis. docs/ai.md describes the service.

Options:
  --config FILE     configuration in the original's schema (default: built-in defaults; the
                    original's -config flag works too)
  --listen ADDR     listen address (default: ai.rpc_listen_addr, 127.0.0.1:50052; port 0
                    picks a free one)
  -h, --help        show this help

The API key is never logged. SIGINT or SIGTERM stops the service (running sessions are
canceled).

Exit status: 0 stopped cleanly; 1 the address could not be bound; 2 usage or configuration error.
`;

export const ASK_HELP = `Usage: netspectra ask [options] "question"
       netspectra ask -port HOST:PORT -prompt "question"     (the original's ask-ai flags)

Ask the AI service (\`netspectra ai\`) a question and print the answer as it streams in.

Options:
  --port, --address A   AI service address (default: ai.rpc_listen_addr of --config, else
                        localhost:50052)
  --prompt TEXT         the question; without it, the arguments are the question
  --max-chunks N        chunks fetched per read, 1..1024 (default 8, as ask-ai)
  --token T             token of an AI service with ai.auth_token set (default: the
                        NETSPECTRA_AI_TOKEN environment variable, else ai.auth_token of --config)
  --config FILE         take the address and token from this configuration
  -h, --help            show this help

Ctrl-C cancels the session on the service. The original's single-dash flags work too.

Exit status: 0 answered; 1 the service or its LLM failed (the message says why); 2 usage error;
130 canceled.
`;
