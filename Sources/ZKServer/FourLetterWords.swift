import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZKProtocol
import ZKStateMachine
import ZKReplication

/// Plain-text answers to four-letter words, laid out like Apache ZooKeeper's so probes and exporters parse them.
enum FourLetterWords {
    static let version = "3.8.0-zkserver-0.1, built on 2026-11-21 00:00 UTC"

    static func respond(_ cmd: String, server s: ZooKeeperServer, requester: ClientConnection) -> String {
        guard s.config.fourLetterAllowed(cmd) else { return "\(cmd) is not executed because it is not in the whitelist.\n" }
        if !s.quorum.servesClients, ["srvr", "stat", "cons", "wchs", "wchc", "wchp", "dump"].contains(cmd) {
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
        case "cons": return connectionList(s.reading().connections, requester: requester, detailed: true) + "\n"
        case "wchs":
            let r = s.reading()
            return "\(r.dataWatchConnections) connections watching \(r.dataWatchPaths) paths\nTotal watches:\(r.dataWatchTotal)\n"
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
            return "datadir_size: \(s.quorum.store.snapshots.totalBytes)\nlogdir_size: \(s.quorum.store.txnLog.totalBytes)\n"
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

    static func latency(_ r: ServerReading) -> String {
        "\(r.latencyMinMs)/\(fixed(r.latencyAvgMs, 4))/\(r.latencyMaxMs)"
    }

    static func serverStats(_ s: ZooKeeperServer, withClients: Bool, requester: ClientConnection) -> String {
        let r = s.reading()
        var out = "Zookeeper version: \(r.version)\n"
        if withClients {
            out += "Clients:\n" + connectionList(r.connections, requester: requester, detailed: false) + "\n"
        }
        out += "Latency min/avg/max: \(latency(r))\n"
        out += "Received: \(r.packetsReceived)\n"
        out += "Sent: \(r.packetsSent)\n"
        out += "Connections: \(r.connections.count + 1)\n"
        out += "Outstanding: \(r.outstandingRequests)\n"
        out += "Zxid: \(r.zxidHex)\n"
        out += "Mode: \(r.mode)\n"
        out += "Node count: \(r.nodeCount)\n"
        return out
    }

    static func monitor(_ s: ZooKeeperServer) -> String {
        s.reading().monitorFields(extraConnections: 1).map { "zk_\($0.0)\t\($0.1.plainText)\n" }.joined()
    }

    static func conf(_ s: ZooKeeperServer) -> String {
        let c = s.config
        var out = """
            clientPort=\(c.clientPort ?? 0)
            secureClientPort=\(c.secureClientPort ?? -1)
            dataDir=\(c.dataDir)/version-2
            dataDirSize=\(s.quorum.store.snapshots.totalBytes)
            dataLogDir=\(c.effectiveDataLogDir)/version-2
            dataLogSize=\(s.quorum.store.txnLog.totalBytes)
            tickTime=\(c.tickTime)
            maxClientCnxns=\(c.maxClientCnxns)
            minSessionTimeout=\(c.effectiveMinSessionTimeout)
            maxSessionTimeout=\(c.effectiveMaxSessionTimeout)
            clientPortListenBacklog=-1
            serverId=\(c.isEnsemble ? s.serverId : 0)

            """
        if c.isEnsemble {
            out += "initLimit=\(c.initLimit)\nsyncLimit=\(c.syncLimit)\nelectionAlg=3\n"
            let members = s.quorum.members
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

    /// The process environment shown by `envi` and the `environment` admin command.
    static func environmentPairs() -> [(String, String)] {
        let p = ProcessInfo.processInfo
        return [
            ("zookeeper.version", version),
            ("host.name", p.hostName),
            ("os.name", "Linux"),
            ("os.arch", Self.arch),
            ("os.version", p.operatingSystemVersionString),
            ("user.name", p.environment["USER"] ?? ""),
            ("user.home", p.environment["HOME"] ?? ""),
            ("user.dir", FileManager.default.currentDirectoryPath),
            ("server.pid", String(p.processIdentifier)),
        ]
    }

    static func environment(_ s: ZooKeeperServer) -> String {
        "Environment:\n" + environmentPairs().map { "\($0.0)=\($0.1)\n" }.joined()
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
    var modeName: String { standalone ? "standalone" : quorum.modeName }
    func roleMonitorLines() -> [(String, String)] { standalone ? [] : quorum.monitorLines() }

    /// Reads the server's state for the four-letter words, the admin commands and /metrics. Call on the loop.
    func reading() -> ServerReading {
        var r = ServerReading()
        let st = stats
        r.version = FourLetterWords.version
        r.mode = modeName
        r.serving = quorum.servesClients
        r.serverId = config.isEnsemble ? serverId : 0
        r.leaderId = standalone ? nil : quorum.servingLeader.map { Int64(bitPattern: $0) }
        r.lastZxid = tree.lastZxid
        r.nodeCount = tree.nodeCount + 1   // Apache ZooKeeper counts the root twice ("" and "/")
        r.ephemerals = tree.ephemerals.values.reduce(0) { $0 + $1.count }
        r.connections = connections.values.sorted(by: { $0.id < $1.id }).map { c in
            ConnectionReading(
                remoteAddress: c.remoteAddress, queued: c.queuedCount, received: c.received, sent: c.sent,
                sessionId: c.sessionId, lastOp: c.lastOp, establishedMs: c.establishedMs, timeoutMs: c.timeoutMs,
                lastCxid: c.lastCxid, lastZxid: c.lastZxid, lastResponseMs: c.lastResponseNanos / 1_000_000,
                lastLatencyMs: c.lastLatencyMs, minLatencyMs: c.latencyCount == 0 ? 0 : c.minLatencyMs,
                avgLatencyMs: c.latencyCount == 0 ? 0 : c.totalLatencyMs / c.latencyCount, maxLatencyMs: c.maxLatencyMs)
        }
        r.outstandingRequests = connections.values.reduce(0) { $0 + $1.waitingSlots.count }
        r.latencyMinMs = st.latencyCount == 0 ? 0 : st.minLatencyMs
        r.latencyAvgMs = st.latencyCount == 0 ? 0 : Double(st.totalLatencyMs) / Double(st.latencyCount)
        r.latencyMaxMs = st.maxLatencyMs
        r.packetsReceived = st.packetsReceived
        r.packetsSent = st.packetsSent
        r.watchCount = watches.totalWatches
        r.dataWatchConnections = watches.dataWatchConnections
        r.dataWatchPaths = watches.dataWatchPaths
        r.dataWatchTotal = watches.dataWatchTotal
        r.sessions = tree.sessions.count
        r.approximateDataSize = tree.approximateDataSize
        r.openFileDescriptors = FourLetterWords.openFileDescriptors()
        r.maxFileDescriptors = FourLetterWords.maxFileDescriptors()
        r.uptimeMs = Int64(Date().timeIntervalSince(startedAt) * 1000)
        r.authFailed = st.authFailed
        r.connectionsRejected = st.connectionsRejected
        r.largeRequestsRejected = st.largeRequestsRejected
        let disk = quorum.stats
        r.snapshotsTaken = disk.snapshotsTaken
        r.lookingCount = disk.lookingCount
        r.quotas = tree.quotaNamespaces()
        r.quotaRefusals = applier.preparer.quotaRefusals.sorted { $0.key < $1.key }.map { (namespace: $0.key, count: $0.value) }
        let now = Self.monotonicNanos()
        r.summaryFields = metrics.summaries.flatMap { $0.monitorFields(now: now) }
        r.lastSnapshotZxid = disk.lastSnapshotZxid
        r.digest = tree.digest
        r.dataDirSize = quorum.store.snapshots.totalBytes
        r.logDirSize = quorum.store.txnLog.totalBytes
        r.roleLines = roleMonitorLines()
        r.members = (standalone ? config.servers : quorum.members).sorted { $0.id < $1.id }
        if let data = tree.node(DataTree.configPath)?.data,
           let v = String(decoding: data, as: UTF8.self).split(separator: "\n").last, v.hasPrefix("version=") {
            r.configVersion = String(v.dropFirst("version=".count))
        }
        r.config = config
        return r
    }
}

extension FourLetterWords {
    static func connectionList(_ conns: [ConnectionReading], requester: ClientConnection, detailed: Bool) -> String {
        var lines: [String] = []
        for c in conns {
            var l = " /\(c.remoteAddress)[1](queued=\(c.queued),recved=\(c.received),sent=\(c.sent)"
            if detailed {
                l += ",sid=0x\(String(c.sessionId, radix: 16)),lop=\(c.lastOp),est=\(c.establishedMs),to=\(c.timeoutMs)"
                l += ",lcxid=0x\(String(c.lastCxid, radix: 16)),lzxid=0x\(String(c.lastZxid, radix: 16))"
                l += ",lresp=\(c.lastResponseMs),llat=\(c.lastLatencyMs),minlat=\(c.minLatencyMs),avglat=\(c.avgLatencyMs),maxlat=\(c.maxLatencyMs)"
            }
            lines.append(l + ")")
        }
        lines.append(" /\(requester.remoteAddress)[0](queued=0,recved=1,sent=0)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// What `zkserver --version` prints. `zkctl upgrade` reads the peer protocol from it: members that
/// speak different peer protocol versions refuse each other, so a rolling upgrade cannot mix them.
public enum ZKServerVersion {
    public static var line: String { "zkserver \(FourLetterWords.version) (peer protocol \(PeerCodec.version))" }
}
