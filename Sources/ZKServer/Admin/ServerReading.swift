import FoundationEssentials
import ZKStateMachine

/// One client connection's counters, as `cons`/`stat` and the `connections` admin command show them.
public struct ConnectionReading: Sendable {
    public var remoteAddress: String
    public var queued: Int
    public var received: Int
    public var sent: Int
    public var sessionId: Int64
    public var lastOp: String
    public var establishedMs: Int64
    public var timeoutMs: Int32
    public var lastCxid: Int32
    public var lastZxid: Int64
    public var lastResponseMs: UInt64
    public var lastLatencyMs: Int64
    public var minLatencyMs: Int64
    public var avgLatencyMs: Int64
    public var maxLatencyMs: Int64
}

/// A point-in-time reading of a server, taken on its event loop. The four-letter words, the admin
/// commands and /metrics all format this one value, so they cannot disagree.
public struct ServerReading: Sendable {
    public var version = ""
    /// standalone, leader, follower or observer.
    public var mode = "standalone"
    public var serving = true
    public var serverId: Int64 = 0
    public var leaderId: Int64?
    public var lastZxid: Int64 = 0
    /// Znodes counted as Apache ZooKeeper does (the root twice).
    public var nodeCount = 0
    public var ephemerals = 0
    public var connections: [ConnectionReading] = []
    public var outstandingRequests = 0
    public var latencyMinMs: Int64 = 0
    public var latencyAvgMs: Double = 0
    public var latencyMaxMs: Int64 = 0
    public var packetsReceived = 0
    public var packetsSent = 0
    public var watchCount = 0
    public var dataWatchConnections = 0
    public var dataWatchPaths = 0
    public var dataWatchTotal = 0
    public var sessions = 0
    public var approximateDataSize = 0
    public var openFileDescriptors = 0
    public var maxFileDescriptors = 0
    public var uptimeMs: Int64 = 0
    public var authFailed = 0
    public var connectionsRejected = 0
    public var largeRequestsRejected = 0
    /// Per quota namespace: count and bytes limits and usage (`DataTree.quotaNamespaces`).
    public var quotas: [(namespace: String, countLimit: Int64, bytesLimit: Int64, count: Int64, bytes: Int64)] = []
    /// Writes refused by a quota, per namespace (on the member that prepared them: the leader).
    public var quotaRefusals: [(namespace: String, count: Int)] = []
    /// The summaries' mntr keys (`SlidingSummary.monitorFields`), without `zk_`.
    public var summaryFields: [(String, JSONValue)] = []
    public var snapshotsTaken = 0
    public var lookingCount = 0
    public var lastSnapshotZxid: Int64 = 0
    public var digest: UInt64 = 0
    public var dataDirSize = 0
    public var logDirSize = 0
    /// Ensemble-only monitor lines (zk_peer_state, zk_quorum_size, ...), with their zk_ names.
    public var roleLines: [(String, String)] = []
    /// The voting view: members as zoo.cfg spells them.
    public var members: [ServerSpec] = []
    public var configVersion: String?
    public var config = ServerConfig()

    public init() {}

    /// The `mntr` fields without their `zk_` prefix, in mntr order. `extraConnections` counts a
    /// requester that is itself a client connection (a four-letter word), which Apache counts too.
    public func monitorFields(extraConnections: Int = 0) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = [
            ("version", .string(version)),
            ("server_state", .string(mode)),
            ("ephemerals_count", .int(ephemerals)),
            ("num_alive_connections", .int(connections.count + extraConnections)),
            ("avg_latency", .double(latencyAvgMs)),
            ("min_latency", .int(latencyMinMs)),
            ("max_latency", .int(latencyMaxMs)),
            ("outstanding_requests", .int(outstandingRequests)),
            ("znode_count", .int(nodeCount)),
            ("global_sessions", .int(sessions)),
            ("local_sessions", .int(0)),
            ("packets_sent", .int(packetsSent)),
            ("packets_received", .int(packetsReceived)),
            ("watch_count", .int(watchCount)),
            ("approximate_data_size", .int(approximateDataSize)),
            ("open_file_descriptor_count", .int(openFileDescriptors)),
            ("max_file_descriptor_count", .int(maxFileDescriptors)),
            ("uptime", .int(uptimeMs)),
            ("auth_failed_count", .int(authFailed)),
            ("connection_rejected", .int(connectionsRejected)),
            ("large_requests_rejected", .int(largeRequestsRejected)),
            ("snap_count", .int(snapshotsTaken)),
            ("last_proposal_size", .int(-1)),
            ("digest", .uint(digest)),
        ]
        out += summaryFields
        // Apache's gauge sets: zk_<namespace>_<gauge>.
        for q in quotas {
            out += [("\(q.namespace)_quota_count_limit_per_namespace", .int(Int(q.countLimit))),
                    ("\(q.namespace)_quota_bytes_limit_per_namespace", .int(Int(q.bytesLimit))),
                    ("\(q.namespace)_quota_count_usage_per_namespace", .int(Int(q.count))),
                    ("\(q.namespace)_quota_bytes_usage_per_namespace", .int(Int(q.bytes)))]
        }
        for q in quotaRefusals { out.append(("\(q.namespace)_quota_exceeded_error_per_namespace", .int(q.count))) }
        for (k, v) in roleLines {
            let key = k.hasPrefix("zk_") ? String(k.dropFirst(3)) : k
            out.append((key, Int64(v).map(JSONValue.int) ?? .string(v)))
        }
        return out
    }

    public var zxidHex: String { "0x" + String(lastZxid, radix: 16) }
}
