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
            #expect(line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE "), "\(line)")
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
    m.observeRequest(nanos: 200_000, write: false, now: 1)
    m.observeRequest(nanos: 3_000_000, write: false, now: 1)
    m.observeRequest(nanos: 20_000_000_000, write: true, now: 1)
    m.observeFsync(nanos: 1_000_000, now: 1)
    var r = sampleReading()
    r.mode = "leader"
    r.quotas = [("app", 5, -1, 2, 4), ("q\"x", 1, 1, 0, 0)]
    r.quotaRefusals = [("app", 3)]
    let s = parseExposition(m.scrape(r, now: 2))
    #expect(s[#"quota_count_limit_per_namespace{key="app"}"#] == 5 && s[#"quota_bytes_limit_per_namespace{key="app"}"#] == -1)
    #expect(s[#"quota_count_usage_per_namespace{key="app"}"#] == 2 && s[#"quota_bytes_usage_per_namespace{key="app"}"#] == 4)
    #expect(s[#"quota_count_limit_per_namespace{key="q\"x"}"#] == 1)
    #expect(s[#"quota_exceeded_error_per_namespace{key="app"}"#] == 3)
    #expect(s[#"zk_request_latency_seconds_bucket{le="0.00025",type="read"}"#] == 1)
    #expect(s[#"zk_request_latency_seconds_bucket{le="0.005",type="read"}"#] == 2)
    #expect(s[#"zk_request_latency_seconds_bucket{le="+Inf",type="read"}"#] == 2)
    #expect(s[#"zk_request_latency_seconds_bucket{le="10.0",type="write"}"#] == 0)
    #expect(s[#"zk_request_latency_seconds_bucket{le="+Inf",type="write"}"#] == 1)
    #expect(s[#"zk_request_latency_seconds_count{type="write"}"#] == 1)
    #expect(s[#"zk_request_latency_seconds_sum{type="read"}"#].map { abs($0 - 0.0032) < 1e-9 } == true)
    #expect(s[#"zk_fsync_seconds_bucket{le="0.001"}"#] == 1)
    #expect(s["zk_fsync_seconds_count"] == 1)
    #expect(s["znode_count"] == 12)
    #expect(s["watch_count"] == 3)
    #expect(s["global_sessions"] == 4)
    #expect(s[#"zk_quorum_state{state="leader"}"#] == 1)
    #expect(s[#"zk_quorum_state{state="standalone"}"#] == 0)
    #expect(s["zk_last_zxid"] == Double(0x1_0000_0005))
    #expect(s["packets_received"] == 100)
    // Apache's summaries: milliseconds, a median (and 0.9, 0.99 for latencies), count and sum.
    #expect(s["fsynctime_count"] == 1 && s["fsynctime_sum"] == 1 && s[#"fsynctime{quantile="0.5"}"#] == 1)
    #expect(s["updatelatency_count"] == 1 && s[#"updatelatency{quantile="0.99"}"#] == 20_000)
    #expect(s["readlatency_count"] == 2 && s[#"readlatency{quantile="0.5"}"#] == 0.2)
    #expect(s["election_time_count"] == 0 && s[#"election_time{quantile="0.5"}"#]?.isNaN == true)
    #expect(s[#"jvm_memory_bytes_used{area="heap"}"#].map { $0 > 0 } == true)
    #expect(s["process_cpu_seconds_total"].map { $0 > 0 } == true)
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
    let first = parseExposition(m.scrape(r, now: 1))
    for _ in 0..<5 { m.observeRequest(nanos: 2_000_000, write: true, now: 2) }
    m.observeFsync(nanos: 40_000, now: 2)
    r.nodeCount += 7
    r.outstandingRequests = 2
    r.packetsReceived += 50
    r.mode = "follower"
    let second = parseExposition(m.scrape(r, now: 3))
    #expect(second[#"zk_request_latency_seconds_count{type="write"}"#] == first[#"zk_request_latency_seconds_count{type="write"}"#]! + 5)
    #expect(second[#"zk_request_latency_seconds_bucket{le="0.0025",type="write"}"#] == 5)
    #expect(second[#"zk_request_latency_seconds_bucket{le="0.001",type="write"}"#] == 0)
    #expect(second[#"zk_fsync_seconds_bucket{le="0.0001"}"#] == 1)
    #expect(second["znode_count"] == first["znode_count"]! + 7)
    #expect(second["outstanding_requests"] == 2)
    #expect(second["packets_received"] == 150)
    #expect(second["updatelatency_count"] == 5 && second["updatelatency_sum"] == 10)
    #expect(second[#"zk_quorum_state{state="follower"}"#] == 1 && second[#"zk_quorum_state{state="standalone"}"#] == 0)
    // Apache's packets_received is a gauge that `srst` resets.
    r.packetsReceived = 10
    #expect(parseExposition(m.scrape(r, now: 4))["packets_received"] == 10)
    // Observations older than the 10-minute window leave the quantiles, not the count and sum.
    let later = parseExposition(m.scrape(r, now: 3 + SlidingSummary.windowNanos + 1))
    #expect(later[#"updatelatency{quantile="0.5"}"#]?.isNaN == true && later["updatelatency_count"] == 5)
}

@Test func serversHaveSeparateRegistries() {
    let a = ServerMetrics(), b = ServerMetrics()
    a.observeRequest(nanos: 1000, write: true, now: 1)
    #expect(parseExposition(a.scrape(sampleReading(), now: 2))[#"zk_request_latency_seconds_count{type="write"}"#] == 1)
    #expect(parseExposition(b.scrape(sampleReading(), now: 2))[#"zk_request_latency_seconds_count{type="write"}"#] == 0)
}
