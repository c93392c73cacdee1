import ArgumentParser
import Foundation
import ZKOrchestration

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency of a running ensemble, or compare zkserver with Apache ZooKeeper.",
        discussion: """
            Each client is one session; each keeps --outstanding requests in flight. A run stops \
            after --ops operations or --duration seconds, whichever comes first. Only successful \
            operations count. Workloads: create, set, get, mixed (--read-ratio), multi, ephemeral \
            (create + exists watch + delete), churn (session open/close; at most 4 opens in flight per client, \
            so the default maxClientCnxns of 60 holds), or all.

            --compare brings up a bundled and an Apache ZooKeeper ensemble of --nodes servers on \
            free loopback ports in a private zkctl home (fsync on for both), runs the workloads \
            against each in turn, prints them side by side with the servers' RSS, CPU seconds and \
            launch-to-healthy times, checks the targets, and tears both ensembles down. With \
            --repeat N it does that N times, engine order alternating, and reports medians with \
            each target's min-max over the repetitions.

            Examples:
              zkctl bench --connect 127.0.0.1:2181 --workload set --clients 1 --outstanding 1
              zkctl bench --workload all --ops 5000 --output json
              zkctl bench --compare --nodes 3
              zkctl bench --compare --nodes 3 --workload all --repeat 5
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Connect string of the servers to load (ignored with --compare).")
    var connect = "127.0.0.1:2181"

    @Option(help: "Comma-separated workloads: create,set,get,mixed,multi,ephemeral,churn or all.")
    var workload = "create,set,get,mixed"

    @Option(help: "Sessions (clients).")
    var clients = 8

    @Option(help: "Requests in flight per client.")
    var outstanding = 32

    @Option(help: "Bytes per znode value.")
    var valueSize = 100

    @Option(help: "Operations per workload (bounded also by --duration).")
    var ops = 10_000

    @Option(help: "Seconds per workload at most.")
    var duration: Double = 30

    @Option(help: "Share of reads in the mixed workload (0...1).")
    var readRatio = 0.9

    @Option(help: "Operations of a multi (multi workload).")
    var multiSize = 10

    @Flag(help: "Keep the benchmark's znodes instead of deleting them.")
    var keep = false

    @Flag(help: "Compare the bundled zkserver with Apache ZooKeeper on fresh ensembles.")
    var compare = false

    @Option(name: [.customShort("n"), .long], help: "Servers per ensemble with --compare: 1, 3 or 5.")
    var nodes = 3

    @Option(help: "Znodes created for the memory-per-znode figure with --compare (0 skips).")
    var memoryZnodes = 100_000

    @Flag(help: "Use one million znodes for the memory figure (Apache then gets a heap that holds them).")
    var million = false

    @Option(name: .customLong("repeat"), help: ArgumentHelp(
        "Repetitions of the whole comparison with --compare, engine order alternating; the table shows medians, each target its median ratio with min-max.",
        valueName: "n"))
    var repetitions = 1

    @Option(help: "Operations of each c=1 k=1 latency run with --compare.")
    var latencyOps = 2_000

    @Option(help: "Untimed warm-up operations (mixed, 50% reads) on each ensemble before measuring, with --compare.")
    var warmupOps = 10_000

    @Option(name: .shortAndLong, help: "Output: text (table) or json (one line).")
    var output: OutputFormat = .text

    func validate() throws {
        guard clients >= 1, clients <= 1000 else { throw ValidationError("--clients must be 1...1000") }
        guard outstanding >= 1, outstanding <= 10_000 else { throw ValidationError("--outstanding must be 1...10000") }
        guard valueSize >= 0, valueSize <= 1_000_000 else { throw ValidationError("--value-size must be 0...1000000") }
        guard ops >= 1, ops <= 100_000_000 else { throw ValidationError("--ops must be 1...100000000") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration must be in (0, 3600] seconds") }
        guard (0...1).contains(readRatio) else { throw ValidationError("--read-ratio must be within 0...1") }
        guard [1, 3, 5].contains(nodes) else { throw ValidationError("--nodes must be 1, 3 or 5") }
        guard (1...20).contains(repetitions) else { throw ValidationError("--repeat must be 1...20") }
        guard repetitions == 1 || compare else { throw ValidationError("--repeat goes with --compare") }
        guard memoryZnodes >= 0, memoryZnodes <= 1_000_000 else { throw ValidationError("--memory-znodes must be 0...1000000") }
        _ = try workloads()
    }

    func workloads() throws -> [BenchWorkload] {
        if workload == "all" { return BenchWorkload.allCases }
        return try workload.split(separator: ",").map { name in
            guard let w = BenchWorkload(rawValue: String(name)) else {
                throw ValidationError("unknown workload '\(name)'; use \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ",")) or all")
            }
            return w
        }
    }

    mutating func run() async throws {
        Interrupt.install()
        if compare { try await runCompare(); return }
        var runner = BenchRunner(progress: { printErr("  " + $0) })
        runner.keepData = keep
        runner.interrupted = { Interrupt.requested }
        var results: [BenchResult] = []
        for w in try workloads() {
            var c = BenchConfig(connectString: connect, workload: w)
            c.clients = clients; c.outstanding = outstanding; c.valueSize = valueSize; c.ops = ops
            c.duration = .milliseconds(Int64(duration * 1000)); c.readRatio = readRatio; c.multiSize = multiSize
            if w == .churn { c.outstanding = min(outstanding, BenchConfig.churnOutstandingCap) }
            results.append(try await runner.run(c))
        }
        switch output {
        case .text: printOut(BenchReport.table(results))
        case .json: printOut(BenchReport.json(results))
        }
    }

    func runCompare() async throws {
        var orchestrator = try global.orchestrator()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("zkctl-bench-\(getpid())").path
        try FileSystem.makeDirectory(home)
        defer { try? FileManager.default.removeItem(atPath: home) }
        orchestrator.store = ClusterStore(home: home)
        orchestrator.pollInterval = .milliseconds(20)
        var config = CompareConfig()
        config.nodes = nodes; config.clients = clients; config.outstanding = outstanding; config.valueSize = valueSize
        config.ops = ops; config.duration = .milliseconds(Int64(duration * 1000)); config.readRatio = readRatio
        config.workloads = try workloads(); config.latencyOps = latencyOps; config.warmupOps = warmupOps
        config.memoryZnodes = million ? 1_000_000 : memoryZnodes
        let compare = BenchCompare(orchestrator: orchestrator, progress: { printErr("  " + $0) })
        if global.zkserver == nil, ProcessInfo.processInfo.environment["ZKCTL_ZKSERVER"] == nil,
           let dir = EngineLocator.currentExecutableDirectory(), dir.contains("/debug") {
            printErr("zkctl: warning: this is a debug build, so its zkserver is too; build with `swift build -c release` and run .build/release/zkctl for meaningful figures")
        }
        printErr("zkctl: comparing bundled and apache, \(nodes) nodes each, state in \(home)")
        var runs: [(bundled: EngineFigures, apache: EngineFigures)] = []
        for i in 0..<repetitions {
            // Alternating order, so drift on a shared machine does not favour one engine.
            let order: [Engine] = i % 2 == 0 ? [.bundled, .apache] : [.apache, .bundled]
            if repetitions > 1 { printErr("zkctl: repetition \(i + 1)/\(repetitions): \(order[0].rawValue) first") }
            var figures: [Engine: EngineFigures] = [:]
            for engine in order {
                if Interrupt.requested { throw ZKCtlError("interrupted") }
                figures[engine] = try await compare.run(engine: engine, config: config)
            }
            runs.append((figures[.bundled]!, figures[.apache]!))
        }
        switch output {
        case .text: printOut(CompareReport.text(runs: runs, config: config))
        case .json: printOut(CompareReport.json(runs: runs, config: config))
        }
    }
}
