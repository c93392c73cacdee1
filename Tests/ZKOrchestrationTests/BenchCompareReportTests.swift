import Testing
@testable import ZKOrchestration

/// Answers `srvr` from a table of `host:port` to modes; an address missing from it does not answer.
private struct ScriptedWords: FourLetterWordClient {
    var modes: [String: String]
    func send(_ word: String, host: String, port: Int, timeout: Duration) throws -> String {
        guard word == "srvr", let mode = modes["\(host):\(port)"] else { throw ZKCtlError("connection refused") }
        return "Zookeeper version: test\nZxid: 0x100000003\nMode: \(mode)\nNode count: 5\n"
    }
}

@Suite struct BenchCompareReportTests {
    static func figures(engine: String, nodes: Int, followerSet: Double, leaderSet: Double?) -> EngineFigures {
        func result(_ w: String, _ p50: Double) -> BenchResult {
            BenchResult(workload: w, clients: 1, outstanding: 1, valueSize: 100, ops: 2000, errors: 0, errorsByCode: [:],
                        seconds: 1, opsPerSecond: 2000,
                        latencyMs: LatencySummary(p50: p50, p90: p50, p99: p50, p999: p50, max: p50, mean: p50))
        }
        return EngineFigures(engine: engine, nodes: nodes, secondsToHealthy: 1, results: [],
                             latencyWrite: result("set", followerSet), latencyRead: result("get", 0.1),
                             latencyWriteLeader: leaderSet.map { result("set", $0) },
                             latencyReadLeader: leaderSet.map { _ in result("get", 0.1) },
                             rssKBIdle: 1, rssKB: 1, cpuSeconds: 1, memoryZnodes: 0)
    }

    @Test func latencyRunsGoThroughOneFollowerAndTheLeader() throws {
        let inv = try GenerateTests.load("production-3")
        // The leader is the last node, a follower does not answer: the next follower is taken.
        var modes: [String: String] = [:]
        for (i, node) in inv.nodes.enumerated() where i > 0 { modes[node.clientAddress] = i == inv.nodes.count - 1 ? "leader" : "follower" }
        let targets = BenchCompare.latencyTargets(inv, words: ScriptedWords(modes: modes))
        #expect(targets.map(\.0) == [.follower, .leader])
        #expect(targets.map(\.1) == [inv.nodes[1].clientAddress, inv.nodes[inv.nodes.count - 1].clientAddress])

        // A standalone server is measured once.
        let alone = BenchCompare.latencyTargets(inv, words: ScriptedWords(modes: [inv.nodes[0].clientAddress: "standalone"]))
        #expect(alone.map(\.0) == [.standalone])
        // Nobody answers: no latency runs rather than a run through an unknown role.
        #expect(BenchCompare.latencyTargets(inv, words: ScriptedWords(modes: [:])).isEmpty)
    }

    @Test func latencyTargetsAreCheckedPerRole() {
        let bundled = Self.figures(engine: "bundled", nodes: 3, followerSet: 0.6, leaderSet: 0.5)
        let apache = Self.figures(engine: "apache", nodes: 3, followerSet: 0.8, leaderSet: 0.8)
        let targets = CompareReport.targets(bundled: bundled, apache: apache)
        let follower = targets.first { $0.name == "c=1 k=1 latency p50 (set, via a follower)" }
        let leader = targets.first { $0.name == "c=1 k=1 latency p50 (set, via the leader)" }
        #expect(follower?.met == false, "0.75x is above 0.7x")
        #expect(leader?.met == true, "0.625x is within 0.7x")

        // One node: no leader rows, and the target names carry no role.
        let one = CompareReport.targets(bundled: Self.figures(engine: "bundled", nodes: 1, followerSet: 0.2, leaderSet: nil),
                                        apache: Self.figures(engine: "apache", nodes: 1, followerSet: 0.4, leaderSet: nil))
        #expect(one.contains { $0.name == "c=1 k=1 latency p50 (set)" && $0.met == true })
        #expect(!one.contains { $0.name.contains("leader") })
    }
}
