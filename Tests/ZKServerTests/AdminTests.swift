import Testing
@testable import ZKServer

private func sampleReading() -> ServerReading {
    var r = ServerReading()
    r.version = "3.8.0-test"
    r.lastZxid = 0x1_0000_0005
    r.nodeCount = 12
    r.ephemerals = 2
    r.watchCount = 3
    r.dataWatchConnections = 1
    r.dataWatchPaths = 2
    r.dataWatchTotal = 3
    r.sessions = 4
    r.latencyAvgMs = 1.5
    r.latencyMaxMs = 7
    r.packetsReceived = 100
    r.packetsSent = 99
    r.digest = UInt64.max - 1
    r.config.dataDir = "/d"
    r.config.clientPort = 2181
    return r
}

@Test func adminConfigKeysAreParsedAndBadValuesNamed() throws {
    var c = try ConfigParser.parse("dataDir=/d\nclientPort=2181\n").get()
    #expect(!c.adminEnabled && !c.metricsEnabled)
    c = try ConfigParser.parse("dataDir=/d\nclientPort=2181\nadmin.serverPort=8081\nmetricsProvider.httpPort=7001\n").get()
    #expect(c.adminEnabled && c.effectiveAdminPort == 8081 && c.metricsEnabled && c.effectiveMetricsPort == 7001)
    c = try ConfigParser.parse("dataDir=/d\nclientPort=2181\nadmin.enableServer=true\nmetricsProvider.className=\(ServerConfig.prometheusProvider)\n").get()
    #expect(c.adminEnabled && c.effectiveAdminPort == 8080 && c.metricsEnabled && c.effectiveMetricsPort == 7000)
    c = try ConfigParser.parse("dataDir=/d\nclientPort=2181\nadmin.serverPort=8081\nadmin.enableServer=false\n").get()
    #expect(!c.adminEnabled)
    let bad = "dataDir=/d\nclientPort=2181\nadmin.serverPort=http\nadmin.enableServer=maybe\nmetricsProvider.className=com.example.Nope\nadmin.snapshot.requireAuth=2\n"
    guard case .failure(let e) = ConfigParser.parse(bad, path: "z.cfg") else { Issue.record("accepted bad values"); return }
    #expect(e.problems.contains { $0.hasPrefix("z.cfg:3: admin.serverPort") })
    #expect(e.problems.contains { $0.hasPrefix("z.cfg:4: admin.enableServer") })
    #expect(e.problems.contains { $0.hasPrefix("z.cfg:5: metricsProvider.className") })
    #expect(e.problems.contains { $0.hasPrefix("z.cfg:6: admin.snapshot.requireAuth") })
}

@Test func adminCommandsAnswerWithCommandAndNullError() {
    let r = sampleReading()
    for cmd in AdminCommands.all where !["snapshot", "transfer_leadership"].contains(cmd.primary) {
        for name in cmd.names {
            let a = AdminCommands.run(name, r)
            #expect(a.status == 200, "\(name)")
            #expect(a.body["command"] == .string(cmd.primary), "\(name)")
            #expect(a.body["error"] == .null, "\(name)")
        }
    }
    let mntr = AdminCommands.run("mntr", r).body
    #expect(mntr["znode_count"] == .int(12))
    #expect(mntr["server_state"] == .string("standalone"))
    #expect(mntr["digest"] == .uint(UInt64.max - 1))
    let srvr = AdminCommands.run("srvr", r).body
    #expect(srvr["server_stats"]?["packets_received"] == .int(100))
    #expect(srvr["node_count"] == .int(12))
    #expect(AdminCommands.run("wchs", r).body["num_total_watches"] == .int(3))
    #expect(AdminCommands.run("isro", r).body["read_only"] == .bool(false))
    #expect(AdminCommands.run("conf", r).body["client_port"] == .int(2181))
}

@Test func unknownAdminCommandIs404WithAnError() {
    let a = AdminCommands.run("bogus", sampleReading())
    #expect(a.status == 404)
    #expect(a.body["error"] == .string("Unknown command: bogus"))
    #expect(AdminCommands.index()["commands"].map { if case .array(let xs) = $0 { return xs.contains(.string("monitor")) } else { return false } } == true)
}

@Test func monitorFieldsKeepTheFourLetterWordText() {
    let lines = sampleReading().monitorFields(extraConnections: 1).map { "zk_\($0.0)\t\($0.1.plainText)" }
    #expect(lines.contains("zk_avg_latency\t1.5000"))
    #expect(lines.contains("zk_num_alive_connections\t1"))
    #expect(lines.contains("zk_digest\t\(UInt64.max - 1)"))
    #expect(lines.first == "zk_version\t3.8.0-test")
}

@Test func jsonTextEscapesAndKeepsOrder() {
    let v = JSONValue.object([("b", .int(1)), ("a", .string("x\"y\n")), ("n", .null), ("l", .array([.bool(true), .double(0.25)]))])
    #expect(v.text == #"{"b":1,"a":"x\"y\n","n":null,"l":[true,0.25]}"#)
}

/// Prometheus text -> samples keyed by `name{k="v",...}` with the labels sorted; checks every line's shape.
private func parseExposition(_ bytes: [UInt8]) -> [String: Double] {
    var out: [String: Double] = [:]
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init) {
        if line.hasPrefix("#") {
            #expect(line.hasPrefix("# HELP zk_") || line.hasPrefix("# TYPE zk_"), "\(line)")
            continue
        }
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            Issue.record("not a sample: \(line)"); continue
        }
        var key = String(line[..<space])
        if let open = key.firstIndex(of: "{"), key.hasSuffix("}") {
            let labels = key[key.index(after: open)..<key.index(before: key.endIndex)].split(separator: ",").sorted()
            key = String(key[..<open]) + "{" + labels.joined(separator: ",") + "}"
        }
        #expect(out[key] == nil, "duplicate sample \(key)")
        out[key] = value
    }
    return out
}

@Test func metricsExpositionHasCumulativeBucketsAndStates() {
    let m = ServerMetrics()
    m.observeRequest(nanos: 200_000, write: false)
    m.observeRequest(nanos: 3_000_000, write: false)
    m.observeRequest(nanos: 20_000_000_000, write: true)
    m.observeFsync(nanos: 1_000_000)
    var r = sampleReading()
    r.mode = "leader"
    let s = parseExposition(m.scrape(r))
    #expect(s[#"zk_request_latency_seconds_bucket{le="0.00025",type="read"}"#] == 1)
    #expect(s[#"zk_request_latency_seconds_bucket{le="0.005",type="read"}"#] == 2)
    #expect(s[#"zk_request_latency_seconds_bucket{le="+Inf",type="read"}"#] == 2)
    #expect(s[#"zk_request_latency_seconds_bucket{le="10.0",type="write"}"#] == 0)
    #expect(s[#"zk_request_latency_seconds_bucket{le="+Inf",type="write"}"#] == 1)
    #expect(s[#"zk_request_latency_seconds_count{type="write"}"#] == 1)
    #expect(s[#"zk_request_latency_seconds_sum{type="read"}"#].map { abs($0 - 0.0032) < 1e-9 } == true)
    #expect(s[#"zk_fsync_seconds_bucket{le="0.001"}"#] == 1)
    #expect(s["zk_fsync_seconds_count"] == 1)
    #expect(s["zk_znode_count"] == 12)
    #expect(s["zk_watch_count"] == 3)
    #expect(s["zk_global_sessions"] == 4)
    #expect(s[#"zk_quorum_state{state="leader"}"#] == 1)
    #expect(s[#"zk_quorum_state{state="standalone"}"#] == 0)
    #expect(s["zk_last_zxid"] == Double(0x1_0000_0005))
    #expect(s["zk_packets_received_total"] == 100)
    #expect(s["zk_serving"] == 1)
    // Every bucket series is cumulative.
    let prefix = #"zk_request_latency_seconds_bucket{le=""#, suffix = #"",type="read"}"#
    let read = s.filter { $0.key.hasPrefix(prefix) && $0.key.hasSuffix(suffix) }
        .map { (le: Double($0.key.dropFirst(prefix.count).dropLast(suffix.count))!, count: $0.value) }
        .sorted { $0.le < $1.le }
    #expect(read.count == ServerMetrics.latencyBuckets.count + 1 && read.last?.le == .infinity)
    #expect(read.map(\.count) == read.map(\.count).sorted())
}

@Test func metricsMoveBetweenScrapes() {
    let m = ServerMetrics()
    var r = sampleReading()
    let first = parseExposition(m.scrape(r))
    for _ in 0..<5 { m.observeRequest(nanos: 2_000_000, write: true) }
    m.observeFsync(nanos: 40_000)
    r.nodeCount += 7
    r.outstandingRequests = 2
    r.packetsReceived += 50
    r.mode = "follower"
    let second = parseExposition(m.scrape(r))
    #expect(second[#"zk_request_latency_seconds_count{type="write"}"#] == first[#"zk_request_latency_seconds_count{type="write"}"#]! + 5)
    #expect(second[#"zk_request_latency_seconds_bucket{le="0.0025",type="write"}"#] == 5)
    #expect(second[#"zk_request_latency_seconds_bucket{le="0.001",type="write"}"#] == 0)
    #expect(second[#"zk_fsync_seconds_bucket{le="0.0001"}"#] == 1)
    #expect(second["zk_znode_count"] == first["zk_znode_count"]! + 7)
    #expect(second["zk_outstanding_requests"] == 2)
    #expect(second["zk_packets_received_total"] == 150)
    #expect(second[#"zk_quorum_state{state="follower"}"#] == 1 && second[#"zk_quorum_state{state="standalone"}"#] == 0)
    // `srst` resets the server's count; the Prometheus counter keeps going up.
    r.packetsReceived = 10
    #expect(parseExposition(m.scrape(r))["zk_packets_received_total"] == 160)
}

@Test func serversHaveSeparateRegistries() {
    let a = ServerMetrics(), b = ServerMetrics()
    a.observeRequest(nanos: 1000, write: true)
    #expect(parseExposition(a.scrape(sampleReading()))[#"zk_request_latency_seconds_count{type="write"}"#] == 1)
    #expect(parseExposition(b.scrape(sampleReading()))[#"zk_request_latency_seconds_count{type="write"}"#] == 0)
}
