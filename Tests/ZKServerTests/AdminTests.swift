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
    for cmd in AdminCommands.all where cmd.primary != "snapshot" {
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

@Test func prometheusTextHasCumulativeBucketsAndStates() {
    var m = ServerMetrics()
    m.readLatency.observe(0.0002)
    m.readLatency.observe(0.003)
    m.writeLatency.observe(20)
    m.fsyncTime.observe(nanos: 1_000_000)
    var r = sampleReading()
    r.mode = "leader"
    let text = PrometheusText.render(r, m)
    let lines = Set(text.split(separator: "\n").map(String.init))
    #expect(lines.contains("# TYPE zk_request_latency_seconds histogram"))
    #expect(lines.contains(#"zk_request_latency_seconds_bucket{type="read",le="0.00025"} 1"#))
    #expect(lines.contains(#"zk_request_latency_seconds_bucket{type="read",le="0.005"} 2"#))
    #expect(lines.contains(#"zk_request_latency_seconds_bucket{type="read",le="+Inf"} 2"#))
    #expect(lines.contains(#"zk_request_latency_seconds_bucket{type="write",le="10"} 0"#))
    #expect(lines.contains(#"zk_request_latency_seconds_count{type="write"} 1"#))
    #expect(lines.contains(#"zk_fsync_seconds_bucket{le="0.001"} 1"#))
    #expect(lines.contains("zk_znode_count 12"))
    #expect(lines.contains(#"zk_quorum_state{state="leader"} 1"#))
    #expect(lines.contains(#"zk_quorum_state{state="standalone"} 0"#))
    #expect(lines.contains("zk_last_zxid \(0x1_0000_0005)"))
    // Every sample line is `name{labels} value` with a numeric value.
    for l in lines where !l.hasPrefix("#") {
        #expect(Double(l.split(separator: " ").last!) != nil, "\(l)")
    }
}
