// The wire contracts of Go2NetSpectra (docs/compatibility.md), field for field.
// Struct names do not travel on the wire (binary protocol); service and method names, field ids
// and types do, so they must not change. Requiredness does not travel but decides what a reader
// accepts: the original's Go code rejects a struct that lacks a required field, so every field that
// the original's contract does not mark optional is `required` here, as in the original's IDL.
// Regenerate the checked-in code with scripts/gen-thrift.sh.

namespace js netspectra

// ---- NATS payload: one PacketInfo per message on probe.subject ----

struct FiveTuple {
  1: required binary src_ip    // 4 bytes for IPv4, 16 for IPv6
  2: required binary dst_ip
  3: required i32 src_port
  4: required i32 dst_port
  5: required i32 protocol
}

struct PacketInfo {
  1: required i64 timestamp_unix_nano
  2: required FiveTuple five_tuple
  3: required i64 length             // original wire length
}

// ---- QueryService (api.rpc_listen_addr, default :50051; buffered transport, binary protocol) ----

struct HealthCheckRequest {}

struct HealthCheckResponse {
  1: required string status
}

struct SearchTasksRequest {}

struct SearchTasksResponse {
  1: required list<string> task_names
}

struct AggregationRequest {
  1: optional i64 end_time_unix_nano
  2: optional string task_name
  3: optional string src_ip
  4: optional string dst_ip
  5: optional i32 src_port
  6: optional i32 dst_port
  7: optional i32 protocol
}

struct TaskSummary {
  1: required string task_name
  2: required i64 total_bytes
  3: required i64 total_packets
  4: required i64 flow_count
}

struct QueryTotalCountsResponse {
  1: required list<TaskSummary> summaries
}

struct TraceFlowRequest {
  1: required string task_name
  2: required map<string, string> flow_keys
  3: optional i64 end_time_unix_nano
}

struct FlowLifecycle {
  1: required i64 first_seen_unix_nano
  2: required i64 last_seen_unix_nano
  3: required i64 total_packets
  4: required i64 total_bytes
}

struct TraceFlowResponse {
  1: required FlowLifecycle lifecycle
}

struct HeavyHittersRequest {
  1: required string task_name
  2: required i32 type                        // 0 packet count, 1 bytes, 2 super-spreader spread
  3: optional i64 end_time_unix_nano
  4: required i32 limit
}

struct HeavyHitter {
  1: required string flow
  2: required i64 value
}

struct HeavyHittersResponse {
  1: required list<HeavyHitter> hitters
}

// ---- QueryService additions of NetSpectra (docs/query.md) ----
// New structs and new methods only: the original's methods and structs are unchanged, so its
// clients keep working; they never call these (the original's server answers them with an
// "unknown method" application exception). All times are int64 ns since the epoch (UTC); a range
// is (start, end]: start exclusive and optional (from the beginning), end inclusive and optional.

struct TimeRange {
  1: optional i64 start_time_unix_nano
  2: optional i64 end_time_unix_nano
}

struct FlowFilter {
  1: optional string src_ip
  2: optional string dst_ip
  3: optional i32 src_port
  4: optional i32 dst_port
  5: optional i32 protocol
}

struct AggregateRangeRequest {
  1: optional string task_name
  2: optional TimeRange range
  3: optional FlowFilter filter
}

struct ListTasksRequest {}

struct TaskInfo {
  1: required string name
  2: required string kind                     // exact, heavy_hitter, super_spreader
  3: required list<string> key_fields         // of an exact task
}

struct ListTasksResponse {
  1: required list<TaskInfo> tasks
}

struct FlowListRequest {
  1: required string task_name
  2: optional TimeRange range
  3: optional FlowFilter filter
  4: optional list<string> group_by           // key fields; absent: the task's whole key
  5: optional string order_by                 // bytes (default), packets, first_seen, last_seen
  6: optional bool ascending                  // default: descending
  7: required i32 limit
  8: optional i32 offset
}

struct FlowRecord {
  1: required string task_name
  2: required map<string, string> key         // the grouped fields only
  3: required i64 total_bytes
  4: required i64 total_packets
  5: required i64 first_seen_unix_nano
  6: required i64 last_seen_unix_nano
}

struct FlowsResponse {
  1: required list<FlowRecord> flows
}

struct FlowSeriesRequest {
  1: optional string task_name                // absent: every exact task
  2: required i64 start_time_unix_nano
  3: optional i64 end_time_unix_nano          // absent: now
  4: required i64 bucket_nanos
  5: optional FlowFilter filter
}

struct SeriesBucket {
  1: required string task_name
  2: required i64 bucket_start_unix_nano      // the bucket is (start, start + bucket_nanos]
  3: required i64 total_bytes
  4: required i64 total_packets
  5: required i64 flow_count
}

struct FlowSeriesResponse {
  1: required list<SeriesBucket> buckets
}

struct SketchListRequest {
  1: required string task_name
  2: required i32 type                        // 0 packet count, 1 bytes, 2 super-spreader spread
  3: optional TimeRange range
  4: required i32 limit
}

struct SketchListResponse {
  1: optional i64 snapshot_unix_nano          // absent: no snapshot in the range
  2: required list<HeavyHitter> hitters
}

struct SketchSnapshotsRequest {
  1: required string task_name
  2: optional TimeRange range
  3: required i32 limit
}

struct SketchSnapshotInfo {
  1: required i64 timestamp_unix_nano
  2: required i32 type
  3: required i32 entries
}

struct SketchSnapshotsResponse {
  1: required list<SketchSnapshotInfo> snapshots
}

// Stored alert notices (docs/alerting.md, "Storage"): one per state change of an alert.
struct AlertsRequest {
  1: optional TimeRange range                 // on the notices' evaluation time
  2: optional string rule
  3: optional string task_name
  4: optional string kind                     // firing, repeat or resolved
  5: optional string flow                     // the offending flow key as text; "" for task-wide alerts
  6: required i32 limit
  7: optional i32 offset
}

struct ActiveAlertsRequest {
  1: optional i64 end_time_unix_nano          // absent: as last stored
  2: optional string rule
  3: optional string task_name
  4: required i32 limit
}

struct AlertNotice {
  1: required i64 timestamp_unix_nano         // the evaluation (packet time offline, wall clock live)
  2: required string kind                     // firing, repeat, resolved
  3: required string alert_id                 // <rule>|<flow>
  4: required string rule
  5: required string task_name
  6: required string task_kind                // exact, heavy_hitter, super_spreader
  7: required string metric
  8: required string operator
  9: required double threshold
  10: required string flow
  11: required map<string, string> flow_key   // the task's key fields of the flow; empty for task-wide alerts
  12: required double value
  13: required i64 since_unix_nano
  14: optional i64 fired_at_unix_nano
  15: required string evidence_json           // JSON array of {flowText, flow, packets?, bytes?, spread?}
  16: required list<string> flow_fields
  17: required list<string> element_fields
  18: required string run_id
  19: required string engine_id
  20: required string source                  // analyze or engine
}

struct AlertsResponse {
  1: required list<AlertNotice> alerts
}

service QueryService {
  HealthCheckResponse HealthCheck(1: HealthCheckRequest req)
  SearchTasksResponse SearchTasks(1: SearchTasksRequest req)
  QueryTotalCountsResponse AggregateFlows(1: AggregationRequest req)
  TraceFlowResponse TraceFlow(1: TraceFlowRequest req)
  HeavyHittersResponse QueryHeavyHitters(1: HeavyHittersRequest req)
  // NetSpectra additions
  QueryTotalCountsResponse AggregateFlowsInRange(1: AggregateRangeRequest req)
  ListTasksResponse ListTasks(1: ListTasksRequest req)
  FlowsResponse TopFlows(1: FlowListRequest req)
  FlowsResponse SearchFlows(1: FlowListRequest req)
  FlowSeriesResponse FlowSeries(1: FlowSeriesRequest req)
  SketchListResponse QuerySketchList(1: SketchListRequest req)
  SketchSnapshotsResponse ListSketchSnapshots(1: SketchSnapshotsRequest req)
  AlertsResponse QueryAlerts(1: AlertsRequest req)
  AlertsResponse QueryActiveAlerts(1: ActiveAlertsRequest req)
}

// ---- AIService (ai.rpc_listen_addr, default :50052; buffered transport, binary protocol) ----

struct AnalyzeTrafficRequest {
  1: required string text_input
}

struct AnalyzeTrafficResponse {
  1: required string text_output
}

struct StartPromptAnalysisRequest {
  1: required string prompt
}

struct PromptAnalysisSession {
  1: required string session_id
  2: required bool done
  3: optional string error_text
}

struct ReadPromptChunksRequest {
  1: required string session_id
  2: optional i32 max_chunks
}

struct ReadPromptChunksResponse {
  1: required list<string> chunks
  2: required bool done
  3: optional string error_text
}

struct CancelPromptAnalysisRequest {
  1: required string session_id
}

struct CancelPromptAnalysisResponse {
  1: required bool canceled
}

service AIService {
  AnalyzeTrafficResponse AnalyzeTraffic(1: AnalyzeTrafficRequest req)
  PromptAnalysisSession StartPromptAnalysis(1: StartPromptAnalysisRequest req)
  ReadPromptChunksResponse ReadPromptChunks(1: ReadPromptChunksRequest req)
  CancelPromptAnalysisResponse CancelPromptAnalysis(1: CancelPromptAnalysisRequest req)
}
