import FoundationEssentials

/// The admin server's commands (`GET /commands/<name>`), shaped like Apache ZooKeeper 3.8's AdminServer:
/// every answer is a JSON object with `command` (the primary name) and `error` (null when it worked).
/// Pure: each command is a function of a `ServerReading`.
public enum AdminCommands {
    public struct Command: Sendable {
        public var names: [String]
        public var primary: String { names[0] }
    }

    /// Primary name first, then the aliases (the four-letter word among them).
    public static let all: [Command] = [
        ["configuration", "conf", "config"], ["connections", "cons"], ["dirs"], ["environment", "env", "envi"],
        ["hash"], ["is_read_only", "isro"], ["last_snapshot", "lsnp"], ["leader", "lead"], ["monitor", "mntr"],
        ["ruok"], ["server_stats", "srvr"], ["stats", "stat"], ["voting_view"], ["watch_summary", "wchs"],
        ["zabstate"], ["snapshot", "snap"], ["transfer_leadership"],
    ].map { Command(names: $0) }

    /// The command a name or alias stands for.
    public static func find(_ name: String) -> Command? { all.first { $0.names.contains(name) } }

    public struct Answer: Sendable {
        public var status: Int
        public var body: JSONValue
    }

    /// The `/commands` index.
    public static func index() -> JSONValue {
        .object([
            ("commands", .array(all.map { .string($0.primary) })),
            ("aliases", .object(all.filter { $0.names.count > 1 }.map { ($0.primary, .array($0.names.dropFirst().map { .string($0) })) })),
            ("command", .string("commands")),
            ("error", .null),
        ])
    }

    /// An error answer: unknown command (404), wrong method (405), refused (403) and so on.
    public static func error(_ status: Int, command: String, _ message: String) -> Answer {
        Answer(status: status, body: .object([("command", .string(command)), ("error", .string(message))]))
    }

    /// Runs a GET command. `snapshot` and `transfer_leadership` are not answered here: they run on the
    /// server (see AdminServer).
    public static func run(_ name: String, _ r: ServerReading, environment env: [(String, String)] = []) -> Answer {
        guard let cmd = find(name) else { return error(404, command: name, "Unknown command: \(name)") }
        var fields: [(String, JSONValue)]
        if !r.serving, ["server_stats", "stats", "connections", "watch_summary", "hash"].contains(cmd.primary) {
            return error(503, command: cmd.primary, "This ZooKeeper instance is not currently serving requests")
        }
        switch cmd.primary {
        case "ruok": fields = []
        case "is_read_only": fields = [("read_only", .bool(false))]
        case "server_stats": fields = serverStats(r)
        case "stats": fields = serverStats(r) + [("connections", .array(r.connections.map(connection))), ("secure_connections", .array([]))]
        case "monitor": fields = r.monitorFields()
        case "configuration": fields = configuration(r)
        case "environment": fields = env.map { ($0.0, .string($0.1)) }
        case "connections": fields = [("connections", .array(r.connections.map(connection))), ("secure_connections", .array([]))]
        case "watch_summary":
            fields = [("num_connections", .int(r.dataWatchConnections)), ("num_paths", .int(r.dataWatchPaths)),
                      ("num_total_watches", .int(r.dataWatchTotal))]
        case "dirs": fields = [("datadir_size", .int(r.dataDirSize)), ("logdir_size", .int(r.logDirSize))]
        case "hash":
            fields = [("digests", .array([.object([("zxid", .int(r.lastZxid)), ("digest", .uint(r.digest))])]))]
        case "last_snapshot":
            fields = [("zxid", .string(String(r.snapshotsTaken == 0 ? -1 : r.lastSnapshotZxid, radix: 16))), ("timestamp", .int(-1))]
        case "leader":
            if r.mode == "standalone" {
                fields = [("is_leader", .bool(false))]
            } else {
                let leader = r.leaderId.flatMap { id in r.members.first { $0.id == id } }
                fields = [("is_leader", .bool(r.mode == "leader")), ("leader_id", .int(r.leaderId ?? -1)),
                          ("leader_ip", .string(leader?.host ?? ""))]
            }
        case "voting_view":
            fields = [("current_config", .object(r.mode == "standalone" ? [] : r.members.map { m in
                (String(m.id), .object([
                    ("serverAddresses", .array([.string("\(m.host):\(m.quorumPort)")])),
                    ("electionAddresses", .array([.string("\(m.host):\(m.electionPort)")])),
                    ("clientAddress", .string(m.clientPort.map { "\(m.clientHost ?? "0.0.0.0"):\($0)" } ?? "")),
                    ("learnerType", .string(m.role.rawValue)),
                ]))
            }))]
        case "zabstate":
            if r.mode == "standalone" {
                fields = [("voting", .bool(false)), ("zabstate", .string(""))]
            } else {
                fields = [("myid", .int(r.serverId)), ("is_leader", .bool(r.mode == "leader")),
                          ("voting", .bool(r.mode != "observer")),
                          ("last_zxid", .string(r.zxidHex)), ("zab_epoch", .int(r.lastZxid >> 32)),
                          ("zab_counter", .int(r.lastZxid & 0xffff_ffff)),
                          ("zabstate", .string(r.serving ? "broadcast" : "election"))]
            }
        default:
            return error(405, command: cmd.primary, "\(cmd.primary) is not a JSON command")
        }
        return Answer(status: 200, body: .object(fields + [("command", .string(cmd.primary)), ("error", .null)]))
    }

    /// Response buffer sizes are not tracked; -1 as Apache ZooKeeper reports before any response.
    static let bufferSizes = JSONValue.object([("last_buffer_size", .int(-1)), ("min_buffer_size", .int(-1)), ("max_buffer_size", .int(-1))])

    static func serverStats(_ r: ServerReading) -> [(String, JSONValue)] {
        [
            ("version", .string(r.version)),
            ("read_only", .bool(false)),
            ("server_stats", .object([
                ("packets_sent", .int(r.packetsSent)),
                ("packets_received", .int(r.packetsReceived)),
                ("fsync_threshold_exceed_count", .int(0)),
                ("client_response_stats", bufferSizes),
                ("data_dir_size", .int(r.dataDirSize)),
                ("log_dir_size", .int(r.logDirSize)),
                ("provider_null", .bool(false)),
                ("server_state", .string(r.mode)),
                ("last_processed_zxid", .int(r.lastZxid)),
                ("outstanding_requests", .int(r.outstandingRequests)),
                ("avg_latency", .double(r.latencyAvgMs)),
                ("max_latency", .int(r.latencyMaxMs)),
                ("min_latency", .int(r.latencyMinMs)),
                ("num_alive_client_connections", .int(r.connections.count)),
                ("auth_failed_count", .int(r.authFailed)),
                ("non_mtlsremote_conn_count", .int(0)),
                ("non_mtlslocal_conn_count", .int(0)),
                ("uptime", .int(r.uptimeMs)),
            ])),
            ("client_response", bufferSizes),
            ("node_count", .int(r.nodeCount)),
        ]
    }

    static func connection(_ c: ConnectionReading) -> JSONValue {
        .object([
            ("remote_socket_address", .string(c.remoteAddress)),
            ("interest_ops", .int(1)),
            ("outstanding_requests", .int(c.queued)),
            ("packets_received", .int(c.received)),
            ("packets_sent", .int(c.sent)),
            ("session_id", .string("0x" + String(c.sessionId, radix: 16))),
            ("last_operation", .string(c.lastOp)),
            ("session_timeout", .int(Int64(c.timeoutMs))),
            ("last_cxid", .string("0x" + String(c.lastCxid, radix: 16))),
            ("last_zxid", .string("0x" + String(c.lastZxid, radix: 16))),
            ("last_response_time", .int(Int64(c.lastResponseMs))),
            ("last_latency", .int(c.lastLatencyMs)),
            ("min_latency", .int(c.minLatencyMs)),
            ("avg_latency", .int(c.avgLatencyMs)),
            ("max_latency", .int(c.maxLatencyMs)),
            ("established", .int(c.establishedMs)),
        ])
    }

    static func configuration(_ r: ServerReading) -> [(String, JSONValue)] {
        let c = r.config
        var f: [(String, JSONValue)] = [
            ("client_port", .int(c.clientPort ?? r.members.first { $0.id == r.serverId }?.clientPort ?? 0)),
            ("data_dir", .string(c.dataDir + "/version-2")),
            ("data_log_dir", .string(c.effectiveDataLogDir + "/version-2")),
            ("tick_time", .int(c.tickTime)),
            ("max_client_cnxns", .int(c.maxClientCnxns)),
            ("min_session_timeout", .int(c.effectiveMinSessionTimeout)),
            ("max_session_timeout", .int(c.effectiveMaxSessionTimeout)),
            ("server_id", .int(r.serverId)),
            ("client_port_listen_backlog", .int(-1)),
        ]
        if c.isEnsemble {
            f += [("init_limit", .int(c.initLimit)), ("sync_limit", .int(c.syncLimit)), ("election_alg", .int(3))]
            if let me = r.members.first(where: { $0.id == r.serverId }) {
                f += [("election_port", .int(me.electionPort)), ("quorum_port", .int(me.quorumPort)),
                      ("peer_type", .int(me.role == .observer ? 1 : 0))]
            }
            f.append(("membership", .string(r.members.map { "\($0)\n" }.joined() + (r.configVersion.map { "version=\($0)\n" } ?? ""))))
        }
        return f
    }
}
