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

    @Test func repetitionsReportMediansAndRanges() throws {
        // Follower set p50 over three repetitions: ratios 0.75, 0.6, 0.65 -> median 0.65 (met), met in 2 of 3.
        let runs = [(0.6, 0.8), (0.48, 0.8), (0.52, 0.8)].map { b, a in
            (bundled: Self.figures(engine: "bundled", nodes: 3, followerSet: b, leaderSet: 0.4),
             apache: Self.figures(engine: "apache", nodes: 3, followerSet: a, leaderSet: 0.8))
        }
        let t = CompareReport.targets(runs: runs).first { $0.name == "c=1 k=1 latency p50 (set, via a follower)" }!
        func near(_ x: Double?, _ y: Double) -> Bool { x.map { abs($0 - y) < 1e-9 } ?? false }
        #expect(near(t.ratio, 0.65))
        #expect(near(t.min, 0.6) && near(t.max, 0.75))
        #expect(t.metIn == 2 && t.repetitions == 3 && t.met == true)
        let median = try CompareReport.medianFigures(runs.map(\.bundled))
        #expect(median.latencyWrite?.latencyMs.p50 == 0.52)
        #expect(median.rssKB == 1 && median.engine == "bundled")
        let text = CompareReport.text(runs: runs, config: CompareConfig())
        #expect(text.contains("median of 3 repetitions"))
        #expect(text.contains("0.60-0.75x") && text.contains("2/3"))
        // A single run keeps the one-run layout.
        let one = CompareReport.text(runs: [runs[0]], config: CompareConfig())
        #expect(!one.contains("min-max") && one.contains("NOT MET"))
    }

    @Test func apacheGetsAHeapThatHoldsTheMemoryFiguresZnodes() {
        // The default memory figure fits the default heap; one million znodes do not.
        #expect(BenchCompare.apacheHeapMB(memoryZnodes: 100_000, valueSize: 100, default: 256) == 256)
        #expect(BenchCompare.apacheHeapMB(memoryZnodes: 0, valueSize: 100, default: 256) == 256)
        let million = BenchCompare.apacheHeapMB(memoryZnodes: 1_000_000, valueSize: 100, default: 256)
        #expect(million >= 1_100 && million % 256 == 0)
        // A larger configured heap is kept.
        #expect(BenchCompare.apacheHeapMB(memoryZnodes: 1_000_000, valueSize: 100, default: 4096) == 4096)
    }
}
