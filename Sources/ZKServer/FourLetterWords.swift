import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZKProtocol
import ZKStateMachine

/// Plain-text answers to four-letter words, laid out like Apache ZooKeeper's so probes and exporters parse them.
enum FourLetterWords {
    static let version = "3.8.0-zkserver-0.1, built on 2026-11-21 00:00 UTC"

    static func respond(_ cmd: String, server s: ZooKeeperServer, requester: ClientConnection) -> String {
        guard s.config.fourLetterAllowed(cmd) else { return "\(cmd) is not executed because it is not in the whitelist.\n" }
        if let q = s.quorum, !q.serving, ["srvr", "stat", "cons", "wchs", "wchc", "wchp", "dump"].contains(cmd) {
            return "This ZooKeeper instance is not currently serving requests\n"
        }
        switch cmd {
        case "ruok": return "imok"
        case "isro": return "rw"
        case "srvr": return serverStats(s, withClients: false, requester: requester)
        case "stat": return serverStats(s, withClients: true, requester: requester)
        case "mntr": return monitor(s)
        case "conf": return conf(s)
        case "envi": return environment(s)
        case "cons": return s.connectionList(requester: requester, detailed: true) + "\n"
        case "wchs":
            return "\(s.watches.dataWatchConnections) connections watching \(s.watches.dataWatchPaths) paths\nTotal watches:\(s.watches.dataWatchTotal)\n"
        case "wchc":
            var out = ""
            for (w, paths) in s.watches.dataWatchesByWatcher().sorted(by: { $0.key < $1.key }) {
                let sid = s.connections[w]?.sessionId ?? 0
                out += "0x\(String(sid, radix: 16))\n" + paths.sorted().map { "\t\($0)\n" }.joined()
            }
            return out + "\n"
        case "wchp":
            var out = ""
            for (p, ws) in s.watches.dataWatches.sorted(by: { $0.key < $1.key }) {
                out += p + "\n" + ws.sorted().map { "\t0x\(String(s.connections[$0]?.sessionId ?? 0, radix: 16))\n" }.joined()
            }
            return out + "\n"
        case "dirs":
            return "datadir_size: \(s.snapshots.totalBytes)\nlogdir_size: \(s.txnLog.totalBytes)\n"
        case "crst":
            for c in s.connections.values {
                c.received = 0; c.sent = 0; c.minLatencyMs = Int64.max; c.maxLatencyMs = 0; c.totalLatencyMs = 0; c.latencyCount = 0
            }
            return "Connection stats reset.\n"
        case "srst":
            s.stats.reset()
            return "Server stats reset.\n"
        case "gtmk": return "306\n"
        case "stmk": return "306\n"
        case "hash": return "\(String(s.tree.lastZxid, radix: 16)): \(s.tree.digest)\n"
        case "dump": return dump(s)
        default: return "\(cmd) is not executed because it is not in the whitelist.\n"
        }
    }

    static func latency(_ s: ZooKeeperServer) -> String {
        let st = s.stats
        let minL = st.latencyCount == 0 ? 0 : st.minLatencyMs
        let avg = st.latencyCount == 0 ? 0 : Double(st.totalLatencyMs) / Double(st.latencyCount)
        return "\(minL)/\(fixed(avg, 4))/\(st.maxLatencyMs)"
    }

    static func serverStats(_ s: ZooKeeperServer, withClients: Bool, requester: ClientConnection) -> String {
        var out = "Zookeeper version: \(version)\n"
        if withClients {
            out += "Clients:\n" + s.connectionList(requester: requester, detailed: false) + "\n"
        }
        out += "Latency min/avg/max: \(latency(s))\n"
        out += "Received: \(s.stats.packetsReceived)\n"
        out += "Sent: \(s.stats.packetsSent)\n"
        out += "Connections: \(s.connections.count + 1)\n"
        out += "Outstanding: \(s.outstandingWrites)\n"
        out += "Zxid: 0x\(String(s.tree.lastZxid, radix: 16))\n"
        out += "Mode: \(s.modeName)\n"
        out += "Node count: \(s.tree.nodeCount + 1)\n"   // Apache ZooKeeper counts the root twice ("" and "/")
        return out
    }

    static func monitor(_ s: ZooKeeperServer) -> String {
        let st = s.stats
        let avg = st.latencyCount == 0 ? 0 : Double(st.totalLatencyMs) / Double(st.latencyCount)
        var lines: [(String, String)] = [
            ("zk_version", version),
            ("zk_server_state", s.modeName),
            ("zk_ephemerals_count", "\(s.tree.ephemerals.values.reduce(0) { $0 + $1.count })"),
            ("zk_num_alive_connections", "\(s.connections.count + 1)"),
            ("zk_avg_latency", fixed(avg, 4)),
            ("zk_min_latency", "\(st.latencyCount == 0 ? 0 : st.minLatencyMs)"),
            ("zk_max_latency", "\(st.maxLatencyMs)"),
            ("zk_outstanding_requests", "\(s.outstandingWrites)"),
            ("zk_znode_count", "\(s.tree.nodeCount + 1)"),
            ("zk_global_sessions", "\(s.tree.sessions.count)"),
            ("zk_local_sessions", "0"),
            ("zk_packets_sent", "\(st.packetsSent)"),
            ("zk_packets_received", "\(st.packetsReceived)"),
            ("zk_watch_count", "\(s.watches.totalWatches)"),
            ("zk_approximate_data_size", "\(s.tree.approximateDataSize)"),
            ("zk_open_file_descriptor_count", "\(openFileDescriptors())"),
            ("zk_max_file_descriptor_count", "\(maxFileDescriptors())"),
            ("zk_uptime", "\(Int64(Date().timeIntervalSince(s.startedAt) * 1000))"),
            ("zk_auth_failed_count", "\(st.authFailed)"),
            ("zk_connection_rejected", "\(st.connectionsRejected)"),
            ("zk_large_requests_rejected", "\(st.largeRequestsRejected)"),
            ("zk_snap_count", "\(st.snapshotsTaken)"),
            ("zk_last_proposal_size", "-1"),
            ("zk_fsync_count", "\(st.fsyncCount)"),
            ("zk_avg_fsynctime", fixed(st.fsyncCount == 0 ? 0 : Double(st.fsyncTotalNanos) / Double(st.fsyncCount) / 1e6, 4)),
            ("zk_digest", "\(s.tree.digest)"),
        ]
        lines.append(contentsOf: s.roleMonitorLines())
        return lines.map { "\($0.0)\t\($0.1)\n" }.joined()
    }

    static func conf(_ s: ZooKeeperServer) -> String {
        let c = s.config
        var out = """
            clientPort=\(c.clientPort ?? 0)
            secureClientPort=-1
            dataDir=\(c.dataDir)/version-2
            dataDirSize=\(s.snapshots.totalBytes)
            dataLogDir=\(c.effectiveDataLogDir)/version-2
            dataLogSize=\(s.txnLog.totalBytes)
            tickTime=\(c.tickTime)
            maxClientCnxns=\(c.maxClientCnxns)
            minSessionTimeout=\(c.effectiveMinSessionTimeout)
            maxSessionTimeout=\(c.effectiveMaxSessionTimeout)
            clientPortListenBacklog=-1
            serverId=\(c.isEnsemble ? s.serverId : 0)

            """
        if c.isEnsemble {
            out += "initLimit=\(c.initLimit)\nsyncLimit=\(c.syncLimit)\nelectionAlg=3\n"
            let members = s.quorum?.members ?? c.servers
            if let me = members.first(where: { $0.id == s.serverId }) {
                out += "electionPort=\(me.electionPort)\nquorumPort=\(me.quorumPort)\npeerType=\(me.role == .observer ? 1 : 0)\n"
            }
            out += "membership: \n" + members.sorted { $0.id < $1.id }.map { "\($0)\n" }.joined()
            if let data = s.tree.node(DataTree.configPath)?.data,
               let v = String(decoding: data, as: UTF8.self).split(separator: "\n").last, v.hasPrefix("version=") {
                out += v + "\n"
            }
        }
        return out
    }

    static func environment(_ s: ZooKeeperServer) -> String {
        let p = ProcessInfo.processInfo
        return """
            Environment:
            zookeeper.version=\(version)
            host.name=\(p.hostName)
            os.name=Linux
            os.arch=\(Self.arch)
            os.version=\(p.operatingSystemVersionString)
            user.name=\(p.environment["USER"] ?? "")
            user.home=\(p.environment["HOME"] ?? "")
            user.dir=\(FileManager.default.currentDirectoryPath)
            server.pid=\(p.processIdentifier)

            """
    }

    static func dump(_ s: ZooKeeperServer) -> String {
        var out = "SessionTracker dump:\nSession Sets (\(s.tracker.count)):\n"
        for (id, exp) in s.tracker.expiry.sorted(by: { $0.value < $1.value }) {
            out += "\t0x\(String(id, radix: 16)) expires in \(max(0, exp - ZooKeeperServer.monotonicMs())) ms\n"
        }
        out += "ephemeral nodes dump:\nSessions with Ephemerals (\(s.tree.ephemerals.count)):\n"
        for (sid, paths) in s.tree.ephemerals.sorted(by: { $0.key < $1.key }) {
            out += "0x\(String(sid, radix: 16)):\n" + paths.sorted().map { "\t\($0)\n" }.joined()
        }
        return out
    }

    static var arch: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "aarch64"
        #else
        return "unknown"
        #endif
    }

    static func openFileDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0 }
    static func maxFileDescriptors() -> Int {
        var r = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        return Int(r.rlim_cur)
    }
}

extension ZooKeeperServer {
    var modeName: String { quorum?.modeName ?? "standalone" }
    func roleMonitorLines() -> [(String, String)] { quorum?.monitorLines() ?? [] }

    func connectionList(requester: ClientConnection, detailed: Bool) -> String {
        var lines: [String] = []
        for c in connections.values.sorted(by: { $0.id < $1.id }) {
            var l = " /\(c.remoteAddress)[1](queued=\(c.queuedCount),recved=\(c.received),sent=\(c.sent)"
            if detailed {
                let avg = c.latencyCount == 0 ? 0 : c.totalLatencyMs / c.latencyCount
                l += ",sid=0x\(String(c.sessionId, radix: 16)),lop=\(c.lastOp),est=\(c.establishedMs),to=\(c.timeoutMs)"
                l += ",lcxid=0x\(String(c.lastCxid, radix: 16)),lzxid=0x\(String(c.lastZxid, radix: 16))"
                l += ",lresp=\(c.lastResponseNanos / 1_000_000),llat=\(c.lastLatencyMs),minlat=\(c.latencyCount == 0 ? 0 : c.minLatencyMs),avglat=\(avg),maxlat=\(c.maxLatencyMs)"
            }
            lines.append(l + ")")
        }
        lines.append(" /\(requester.remoteAddress)[0](queued=0,recved=1,sent=0)")
        return lines.joined(separator: "\n") + "\n"
    }
}
