import Dispatch
import Foundation
import ZKClient

/// CPU time and resident memory of a process, from /proc (Linux).
public enum ProcUsage {
    /// VmRSS in kB, nil when the process is gone.
    public static func rssKB(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return parseRSS(text)
    }
    public static func parseRSS(_ status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }
    /// utime + stime in seconds.
    public static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return parseCPU(text, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }
    public static func parseCPU(_ stat: String, ticksPerSecond: Double) -> Double? {
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        guard rest.count > 13, let u = Double(rest[11]), let s = Double(rest[12]) else { return nil }
        return (u + s) / ticksPerSecond
    }
}

public struct CompareConfig: Sendable {
    public var nodes = 3
    public var clients = 8
    public var outstanding = 32
    public var valueSize = 100
    public var ops = 20_000
    public var duration: Duration = .seconds(20)
    public var readRatio = 0.9
    public var workloads: [BenchWorkload] = [.create, .set, .get, .mixed, .multi, .ephemeral, .churn]
    /// Operations of the single-client, single-outstanding latency runs.
    public var latencyOps = 2_000
    /// Untimed mixed (50% reads) operations before the measured workloads, so that both servers
    /// are past start-up effects (JIT compilation, first allocations).
    public var warmupOps = 10_000
    /// Znodes created to measure memory per znode (0 skips it).
    public var memoryZnodes = 100_000
    public var healthyTimeout: Duration = .seconds(120)
    public init() {}
}

/// One engine's figures.
public struct EngineFigures: Sendable, Codable {
    public var engine: String
    public var nodes: Int
    public var secondsToHealthy: Double
    public var results: [BenchResult]
    /// c=1 k=1 runs, setData and getData, through a follower (where most clients of an ensemble are
    /// connected; the only server of a 1-node ensemble).
    public var latencyWrite: BenchResult?
    public var latencyRead: BenchResult?
    /// The same runs through the leader (nil for a 1-node ensemble).
    public var latencyWriteLeader: BenchResult?
    public var latencyReadLeader: BenchResult?
    /// Summed over the ensemble's servers, right after it became healthy.
    public var rssKBIdle: Int
    /// Summed over the ensemble's servers, after the workloads.
    public var rssKB: Int
    public var cpuSeconds: Double
    public var memoryZnodes: Int
    /// Per server: (RSS after creating the znodes - RSS before) / znodes, averaged over servers.
    public var bytesPerZnode: Double?
    public var rssKBWithZnodes: Int?
}

/// Brings up one ensemble per engine in a private zkctl home, runs the same workloads against
/// each in turn, measures the servers, and tears each ensemble down (shell).
public struct BenchCompare: Sendable {
    public var orchestrator: Orchestrator
    public var progress: @Sendable (String) -> Void

    public init(orchestrator: Orchestrator, progress: @escaping @Sendable (String) -> Void) {
        self.orchestrator = orchestrator
        self.progress = progress
    }

    /// The JVM heap an Apache server needs to hold the memory figure's znodes: its default when
    /// that is plenty, else about 1 KiB per znode plus the value, rounded up to 256 MB (pure).
    public static func apacheHeapMB(memoryZnodes: Int, valueSize: Int, default heap: Int) -> Int {
        let needMB = (memoryZnodes * (1024 + valueSize)) / (1024 * 1024) + 128
        guard needMB > heap else { return heap }
        return (needMB + 255) / 256 * 256
    }

    /// Ports P..P+n-1 (client), P+100.. (quorum), P+200.. (election), P+400.. (metrics), all free on 127.0.0.1.
    public static func freeBasePort(nodes: Int) -> Int? {
        for _ in 0..<200 {
            let p = Int.random(in: 20_000...60_000)
            let ports: [Int] = (0..<nodes).flatMap { (i: Int) -> [Int] in [0, 100, 200, 400, 500].map { p + $0 + i } }
            if ports.allSatisfy({ PortCheck.isFree(host: "127.0.0.1", port: $0) }) { return p }
        }
        return nil
    }

    public func run(engine: Engine, config: CompareConfig) async throws -> EngineFigures {
        guard let base = Self.freeBasePort(nodes: config.nodes) else { throw ZKCtlError("no free ports found for the benchmark ensemble") }
        var inventory = Inventory.local(name: "bench-\(engine.rawValue)", engine: engine, count: config.nodes,
                                        clientPort: base, quorumPort: base + 100, electionPort: base + 200,
                                        metricsPort: base + 400, adminPort: base + 500)
        let heap = Self.apacheHeapMB(memoryZnodes: config.memoryZnodes, valueSize: config.valueSize,
                                     default: inventory.cluster.javaHeapMB)
        if engine == .apache, heap != inventory.cluster.javaHeapMB {
            inventory.cluster.javaHeapMB = heap
            progress("apache: -Xmx\(heap)m so the JVM can hold \(config.memoryZnodes) znodes (the default \(ClusterSettings.Defaults.javaHeapMB) MB cannot)")
        }
        progress("\(engine.rawValue): bringing up \(config.nodes) nodes on 127.0.0.1:\(base)...")
        let yaml = InventoryWriter.yaml(inventory, comment: "Generated by `zkctl bench --compare`.")
        // Tearing down must not stop half-way when the run was interrupted.
        var teardown = orchestrator
        teardown.interrupted = { false }
        let up: Orchestrator.UpResult
        do {
            up = try await orchestrator.up(inventory, inventoryYAML: yaml, timeout: config.healthyTimeout)
        } catch {
            _ = try? await teardown.down(inventory, purge: true)
            throw error
        }
        do {
            let figures = try await measure(engine: engine, inventory: inventory, up: up, config: config)
            _ = try await teardown.down(inventory, purge: true)
            return figures
        } catch {
            _ = try? await teardown.down(inventory, purge: true)
            throw error
        }
    }

    /// The servers the c=1 k=1 runs go through: a follower and the leader as `srvr` reports them now,
    /// or the only server of a standalone ensemble. A role no server reports is left out.
    static func latencyTargets(_ inventory: Inventory, words: any FourLetterWordClient = TCPFourLetterWordClient()) -> [(ServerMode, String)] {
        var modes: [(ServerMode, NodeSpec)] = []
        for node in inventory.nodes {
            let text = (try? words.send("srvr", host: node.host, port: node.clientPort, timeout: .seconds(2))) ?? ""
            if let status = FourLetterWords.parseSrvr(text) { modes.append((status.mode, node)) }
        }
        if let only = modes.first(where: { $0.0 == .standalone }) { return [(.standalone, only.1.clientAddress)] }
        var out: [(ServerMode, String)] = []
        if let f = modes.first(where: { $0.0 == .follower }) { out.append((.follower, f.1.clientAddress)) }
        if let l = modes.first(where: { $0.0 == .leader }) { out.append((.leader, l.1.clientAddress)) }
        return out
    }

    func measure(engine: Engine, inventory: Inventory, up: Orchestrator.UpResult, config: CompareConfig) async throws -> EngineFigures {
        guard up.health?.state == .healthy else {
            throw ZKCtlError("\(engine.rawValue) ensemble did not become healthy: \(up.health?.summary ?? "no health report")")
        }
        let layout = orchestrator.store.layout(inventory.cluster.name)
        let pids = inventory.nodes.compactMap { orchestrator.store.readRecord(layout.node($0.id))?.pid }
        guard pids.count == inventory.nodes.count else { throw ZKCtlError("missing pid files for \(engine.rawValue)") }
        progress(String(format: "%@: healthy after %.2fs (pids %@)", engine.rawValue, up.seconds, pids.map(String.init).joined(separator: " ")))
        let connect = inventory.nodes.map(\.clientAddress).joined(separator: ",")
        let rssIdle = pids.compactMap(ProcUsage.rssKB).reduce(0, +)
        var runner = BenchRunner(progress: { self.progress("\(engine.rawValue): \($0)") })
        runner.interrupted = orchestrator.interrupted
        func checkInterrupt() throws {
            if orchestrator.interrupted() { throw ZKCtlError("interrupted; the benchmark ensembles are being stopped") }
        }
        if config.warmupOps > 0 {
            var c = BenchConfig(connectString: connect, workload: .mixed)
            c.clients = config.clients; c.outstanding = config.outstanding; c.valueSize = config.valueSize
            c.ops = config.warmupOps; c.duration = config.duration; c.readRatio = 0.5
            let r = try await runner.run(c)
            progress(String(format: "%@: warm-up (not reported) %.0f ops/s", engine.rawValue, r.opsPerSecond))
        }
        let cpuBefore = pids.compactMap(ProcUsage.cpuSeconds).reduce(0, +)
        var results: [BenchResult] = []
        for w in config.workloads {
            var c = BenchConfig(connectString: connect, workload: w)
            c.clients = config.clients; c.outstanding = config.outstanding; c.valueSize = config.valueSize
            c.ops = w == .churn ? min(config.ops, 2_000) : config.ops
            c.duration = config.duration; c.readRatio = config.readRatio
            if w == .churn { c.outstanding = min(config.outstanding, BenchConfig.churnOutstandingCap) }
            try checkInterrupt()
            let r = try await runner.run(c)
            progress(String(format: "%@: %@ %.0f ops/s, p99 %.2f ms, %d errors", engine.rawValue, r.workload, r.opsPerSecond, r.latencyMs.p99, r.errors))
            results.append(r)
        }
        var latencyWrite: BenchResult?
        var latencyRead: BenchResult?
        var latencyWriteLeader: BenchResult?
        var latencyReadLeader: BenchResult?
        if config.latencyOps > 0 {
            // One server per role, found now (srvr), so both engines are measured through the same role:
            // the leader answers a write in two fewer hops than a follower.
            let targets = Self.latencyTargets(inventory)
            for (role, address) in targets {
                for w in [BenchWorkload.set, .get] {
                    try checkInterrupt()
                    var c = BenchConfig(connectString: address, workload: w)
                    c.clients = 1; c.outstanding = 1; c.valueSize = config.valueSize
                    c.ops = config.latencyOps; c.duration = config.duration
                    let r = try await runner.run(c)
                    progress(String(format: "%@: c=1 k=1 %@ via the %@ (%@) p50 %.3f ms", engine.rawValue, w.rawValue, role.rawValue, address, r.latencyMs.p50))
                    switch (role, w) {
                    case (.leader, .set): latencyWriteLeader = r
                    case (.leader, _): latencyReadLeader = r
                    case (_, .set): latencyWrite = r
                    default: latencyRead = r
                    }
                }
            }
        }
        let cpuAfter = pids.compactMap(ProcUsage.cpuSeconds).reduce(0, +)
        let rssAfter = pids.compactMap(ProcUsage.rssKB)
        var figures = EngineFigures(engine: engine.rawValue, nodes: inventory.nodes.count, secondsToHealthy: up.seconds,
                                    results: results, latencyWrite: latencyWrite, latencyRead: latencyRead,
                                    latencyWriteLeader: latencyWriteLeader, latencyReadLeader: latencyReadLeader,
                                    rssKBIdle: rssIdle, rssKB: rssAfter.reduce(0, +), cpuSeconds: cpuAfter - cpuBefore,
                                    memoryZnodes: config.memoryZnodes)
        if config.memoryZnodes > 0 {
            try checkInterrupt()
            progress("\(engine.rawValue): creating \(config.memoryZnodes) znodes of \(config.valueSize) bytes for the memory figure")
            let client = try await ZooKeeperClient.connect(connectString: connect, sessionTimeout: .seconds(30))
            let value = [UInt8](repeating: 0x62, count: config.valueSize)
            _ = try? await client.create("/mem", data: [])
            let parents = (config.memoryZnodes + 9_999) / 10_000
            for p in 0..<parents { _ = try await client.create("/mem/p\(p)", data: []) }
            let before = pids.compactMap(ProcUsage.rssKB)
            let n = config.memoryZnodes
            try await BenchRunner.pipelined(count: n, window: 256) { i in
                let path = "/mem/p\(i / 10_000)/n\(String(i, radix: 10))-xxxxxxxxxx"
                // A create lost with a connection is sent again (the client reconnects to another
                // server); one that had gone through is then reported as existing.
                for attempt in 1... {
                    do {
                        _ = try await client.create(path, data: value)
                        return
                    } catch let e as ZooKeeperError where e.code == .nodeExists && attempt > 1 {
                        return
                    } catch let e as ZooKeeperError where e.code == .connectionLoss && attempt < 5 {
                        try await Task.sleep(for: .milliseconds(100 * attempt))
                    }
                }
            }
            _ = try await client.sync("/")
            await client.close()
            // Both engines write snapshots (and the JVM collects) in the background after a burst of
            // writes: wait until the servers' memory settles (two readings a second apart within
            // 1%, at most 20 s) so the figure is the tree's, not a snapshot buffer's.
            progress("\(engine.rawValue): waiting for the servers' memory to settle")
            var after = pids.compactMap(ProcUsage.rssKB)
            for _ in 0..<20 {
                try checkInterrupt()
                try await Task.sleep(for: .seconds(1))
                let now = pids.compactMap(ProcUsage.rssKB)
                let settled = now.count == after.count && zip(now, after).allSatisfy { abs($0 - $1) * 100 <= max($1, 1) }
                after = now
                if settled { break }
            }
            if before.count == after.count, !after.isEmpty {
                let perServer = zip(after, before).map { Double($0 - $1) * 1024 / Double(n) }
                figures.bytesPerZnode = perServer.reduce(0, +) / Double(perServer.count)
                figures.rssKBWithZnodes = after.reduce(0, +)
            }
        }
        return figures
    }
}

/// The side-by-side report and the target checks (pure).
public enum CompareReport {
    public struct Target: Sendable, Codable, Equatable {
        public var name: String
        public var goal: String
        /// With repetitions: the median of the repetitions' ratios.
        public var ratio: Double?
        /// nil when the compare did not measure it (workload not run).
        public var met: Bool?
        /// With repetitions: the smallest and largest ratio, and in how many repetitions it was met.
        public var min: Double?
        public var max: Double?
        public var metIn: Int?
        public var repetitions: Int?
    }

    /// Lower median: an observed value (so integers stay integers).
    static func median(_ xs: [Double]) -> Double? {
        guard !xs.isEmpty else { return nil }
        return xs.sorted()[(xs.count - 1) / 2]
    }

    /// The targets over repetitions: each target's median ratio decides, with its range beside it.
    public static func targets(runs: [(bundled: EngineFigures, apache: EngineFigures)]) -> [Target] {
        guard let first = runs.first else { return [] }
        let each = runs.map { targets(bundled: $0.bundled, apache: $0.apache) }
        if runs.count == 1 { return each[0] }
        return targets(bundled: first.bundled, apache: first.apache).enumerated().map { i, t in
            let ratios = each.compactMap { $0.count > i ? $0[i].ratio : nil }
            var out = t
            out.ratio = median(ratios)
            out.min = ratios.min()
            out.max = ratios.max()
            out.repetitions = runs.count
            let atLeast = t.goal.hasPrefix(">=")
            let bound = Double(t.goal.filter { $0.isNumber || $0 == "." }) ?? 0
            out.met = out.ratio.map { atLeast ? $0 >= bound : $0 <= bound }
            out.metIn = ratios.filter { atLeast ? $0 >= bound : $0 <= bound }.count
            return out
        }
    }

    /// Figure by figure, the median over repetitions (every number in the figures, matched by position).
    public static func medianFigures(_ all: [EngineFigures]) throws -> EngineFigures {
        guard all.count > 1 else { return all[0] }
        let objects = try all.map { try JSONSerialization.jsonObject(with: JSONEncoder().encode($0)) }
        func combine(_ xs: [Any]) -> Any {
            if let ds = xs as? [[String: Any]] {
                var out: [String: Any] = [:]
                for k in ds[0].keys { out[k] = combine(ds.map { $0[k] ?? NSNull() }) }
                return out
            }
            if let arrays = xs as? [[Any]], let n = arrays.map(\.count).min() {
                return (0..<n).map { i in combine(arrays.map { $0[i] }) }
            }
            if xs.allSatisfy({ $0 is NSNumber && !($0 is Bool) }), let ns = xs as? [NSNumber] {
                return ns.sorted { $0.doubleValue < $1.doubleValue }[(ns.count - 1) / 2]
            }
            return xs.first { !($0 is NSNull) } ?? NSNull()
        }
        let merged = combine(objects)
        return try JSONDecoder().decode(EngineFigures.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    static func find(_ f: EngineFigures, _ w: String) -> BenchResult? { f.results.first { $0.workload.hasPrefix(w) } }

    static func ratio(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, b > 0 else { return nil }
        return a / b
    }

    public static func targets(bundled b: EngineFigures, apache a: EngineFigures) -> [Target] {
        var out: [Target] = []
        func add(_ name: String, _ goal: String, _ r: Double?, atLeast: Bool, _ bound: Double) {
            out.append(Target(name: name, goal: goal, ratio: r, met: r.map { atLeast ? $0 >= bound : $0 <= bound }))
        }
        for w in ["create", "set"] {
            add("write throughput (\(w))", ">= 1.5x", ratio(find(b, w)?.opsPerSecond, find(a, w)?.opsPerSecond), atLeast: true, 1.5)
        }
        add("read throughput (get)", ">= 1.5x", ratio(find(b, "get")?.opsPerSecond, find(a, "get")?.opsPerSecond), atLeast: true, 1.5)
        for w in ["create", "set", "get"] {
            add("p99 (\(w))", "<= 0.5x", ratio(find(b, w)?.latencyMs.p99, find(a, w)?.latencyMs.p99), atLeast: false, 0.5)
        }
        let via = b.nodes > 1 ? ", via a follower" : ""
        add("c=1 k=1 latency p50 (set\(via))", "<= 0.7x", ratio(b.latencyWrite?.latencyMs.p50, a.latencyWrite?.latencyMs.p50), atLeast: false, 0.7)
        add("c=1 k=1 latency p50 (get\(via))", "<= 0.7x", ratio(b.latencyRead?.latencyMs.p50, a.latencyRead?.latencyMs.p50), atLeast: false, 0.7)
        if b.latencyWriteLeader != nil || a.latencyWriteLeader != nil {
            add("c=1 k=1 latency p50 (set, via the leader)", "<= 0.7x", ratio(b.latencyWriteLeader?.latencyMs.p50, a.latencyWriteLeader?.latencyMs.p50), atLeast: false, 0.7)
            add("c=1 k=1 latency p50 (get, via the leader)", "<= 0.7x", ratio(b.latencyReadLeader?.latencyMs.p50, a.latencyReadLeader?.latencyMs.p50), atLeast: false, 0.7)
        }
        // The target is RSS after the run; idle RSS (mostly the binary's mapped code) is printed above as a figure.
        add("RSS after the run", "<= 0.2x", ratio(Double(b.rssKB), Double(a.rssKB)), atLeast: false, 0.2)
        add("launch to healthy", "<= 0.1x", ratio(b.secondsToHealthy, a.secondsToHealthy), atLeast: false, 0.1)
        return out
    }

    public static func text(bundled b: EngineFigures, apache a: EngineFigures, config: CompareConfig) -> String {
        text(runs: [(b, a)], config: config)
    }

    public static func text(runs: [(bundled: EngineFigures, apache: EngineFigures)], config: CompareConfig) -> String {
        let b = (try? medianFigures(runs.map(\.bundled))) ?? runs[0].bundled
        let a = (try? medianFigures(runs.map(\.apache))) ?? runs[0].apache
        let repeated = runs.count > 1
        var rows = [["metric", "bundled", "apache", "bundled/apache"]]
        func row(_ name: String, _ x: Double?, _ y: Double?, _ digits: Int) {
            rows.append([name, x.map { BenchReport.f($0, digits) } ?? "-", y.map { BenchReport.f($0, digits) } ?? "-",
                         ratio(x, y).map { BenchReport.f($0, 2) + "x" } ?? "-"])
        }
        for r in b.results {
            let other = a.results.first { $0.workload == r.workload }
            row("\(r.workload) ops/s", r.opsPerSecond, other?.opsPerSecond, 0)
            row("\(r.workload) p50 ms", r.latencyMs.p50, other?.latencyMs.p50, 3)
            row("\(r.workload) p99 ms", r.latencyMs.p99, other?.latencyMs.p99, 3)
            row("\(r.workload) p99.9 ms", r.latencyMs.p999, other?.latencyMs.p999, 3)
            row("\(r.workload) max ms", r.latencyMs.max, other?.latencyMs.max, 3)
            if r.errors > 0 || (other?.errors ?? 0) > 0 {
                row("\(r.workload) errors", Double(r.errors), other.map { Double($0.errors) }, 0)
            }
            if let got = r.watchEventsReceived {
                row("\(r.workload) watch events", Double(got), other?.watchEventsReceived.map(Double.init), 0)
            }
        }
        let via = b.nodes > 1 ? " (follower)" : ""
        row("c=1 k=1 set p50 ms\(via)", b.latencyWrite?.latencyMs.p50, a.latencyWrite?.latencyMs.p50, 3)
        row("c=1 k=1 set p99 ms\(via)", b.latencyWrite?.latencyMs.p99, a.latencyWrite?.latencyMs.p99, 3)
        row("c=1 k=1 get p50 ms\(via)", b.latencyRead?.latencyMs.p50, a.latencyRead?.latencyMs.p50, 3)
        row("c=1 k=1 get p99 ms\(via)", b.latencyRead?.latencyMs.p99, a.latencyRead?.latencyMs.p99, 3)
        if b.latencyWriteLeader != nil || a.latencyWriteLeader != nil {
            row("c=1 k=1 set p50 ms (leader)", b.latencyWriteLeader?.latencyMs.p50, a.latencyWriteLeader?.latencyMs.p50, 3)
            row("c=1 k=1 set p99 ms (leader)", b.latencyWriteLeader?.latencyMs.p99, a.latencyWriteLeader?.latencyMs.p99, 3)
            row("c=1 k=1 get p50 ms (leader)", b.latencyReadLeader?.latencyMs.p50, a.latencyReadLeader?.latencyMs.p50, 3)
            row("c=1 k=1 get p99 ms (leader)", b.latencyReadLeader?.latencyMs.p99, a.latencyReadLeader?.latencyMs.p99, 3)
        }
        row("RSS idle, MB (\(b.nodes) servers)", Double(b.rssKBIdle) / 1024, Double(a.rssKBIdle) / 1024, 1)
        row("RSS after run, MB (\(b.nodes) servers)", Double(b.rssKB) / 1024, Double(a.rssKB) / 1024, 1)
        row("server CPU seconds (workloads)", b.cpuSeconds, a.cpuSeconds, 2)
        row("launch to healthy, s", b.secondsToHealthy, a.secondsToHealthy, 2)
        if b.memoryZnodes > 0 {
            row("bytes/znode (\(b.memoryZnodes) x \(config.valueSize) B)", b.bytesPerZnode, a.bytesPerZnode, 0)
            row("RSS with znodes, MB", b.rssKBWithZnodes.map { Double($0) / 1024 }, a.rssKBWithZnodes.map { Double($0) / 1024 }, 1)
        }
        var out = "zkctl bench --compare: \(b.nodes) nodes, c=\(config.clients) k=\(config.outstanding), \(config.valueSize)-byte values, up to \(config.ops) ops or \(config.duration) per workload\n"
        if repeated {
            out += "median of \(runs.count) repetitions (engine order alternating, bundled first in the first); each figure is its own median\n"
        }
        out += BenchReport.align(rows)
        out += repeated ? "\n\ntargets (bundled vs apache; median of the repetitions' ratios decides):\n" : "\n\ntargets (bundled vs apache):\n"
        var trows: [[String]] = [repeated ? ["target", "goal", "measured", "min-max", "met in", "status"] : ["target", "goal", "measured", "status"]]
        for t in targets(runs: runs) {
            let measured = t.ratio.map { BenchReport.f($0, 2) + "x" } ?? "-"
            let status = t.met.map { $0 ? "MET" : "NOT MET" } ?? "not measured"
            if repeated {
                let range = t.min.flatMap { lo in t.max.map { BenchReport.f(lo, 2) + "-" + BenchReport.f($0, 2) + "x" } } ?? "-"
                trows.append([t.name, t.goal, measured, range, t.metIn.map { "\($0)/\(runs.count)" } ?? "-", status])
            } else {
                trows.append([t.name, t.goal, measured, status])
            }
        }
        out += BenchReport.align(trows)
        return out
    }

    public struct JSONReport: Codable {
        public var nodes: Int
        public var clients: Int
        public var outstanding: Int
        public var valueSize: Int
        /// Medians when repeated.
        public var bundled: EngineFigures
        public var apache: EngineFigures
        public var targets: [Target]
        public var repetitions: Int
        /// Every repetition's figures, in the order run.
        public var runs: [[EngineFigures]]?
    }

    public static func json(bundled b: EngineFigures, apache a: EngineFigures, config: CompareConfig) -> String {
        json(runs: [(b, a)], config: config)
    }

    public static func json(runs: [(bundled: EngineFigures, apache: EngineFigures)], config: CompareConfig) -> String {
        let b = (try? medianFigures(runs.map(\.bundled))) ?? runs[0].bundled
        let a = (try? medianFigures(runs.map(\.apache))) ?? runs[0].apache
        return BenchReport.json(JSONReport(nodes: config.nodes, clients: config.clients, outstanding: config.outstanding,
                                           valueSize: config.valueSize, bundled: b, apache: a, targets: targets(runs: runs),
                                           repetitions: runs.count,
                                           runs: runs.count > 1 ? runs.map { [$0.bundled, $0.apache] } : nil))
    }
}
