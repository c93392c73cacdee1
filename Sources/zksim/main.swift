import ArgumentParser
import ZKReplication
import ZKSimulation

extension ReplicaDriver.Fault: ExpressibleByArgument {}

struct ZKSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zksim",
        abstract: "Deterministic simulation of the replication core under faults.")

    @Option(help: "Run one seed.") var seed: UInt64?
    @Option(help: "Run a sweep of seeds, e.g. 1..200.") var seeds: String?
    @Option(help: "Ticks of the faulty phase.") var ticks: Int = 400
    @Option(help: "Voting members.") var nodes: Int = 3
    @Option(help: "Observers.") var observers: Int = 0
    @Option(help: "Ticks allowed to converge after healing.") var livenessTicks: Int = 300
    @Option(help: "Trace lines shown on failure.") var tail: Int = 40
    @Option(help: "Message drop probability.") var drop: Double = 0.05
    @Option(help: "Message duplication probability.") var duplicate: Double = 0.02
    @Option(help: "Maximum message delay in tenths of a tick.") var maxDelay: Int = 25
    @Option(help: "Per-tick crash probability.") var crashRate: Double = 0.006
    @Option(help: "Per-tick partition probability.") var partitionRate: Double = 0.01
    @Option(help: "Compact the log every N applied entries.") var compactEvery: Int = 40
    @Option(help: "Maximum entries per append message.") var maxEntries: Int = 8
    @Option(help: "Maximum ticks a crashed node stays down.") var maxDowntime: Int = 40
    @Option(help: "Per-tick probability of a long pause (stall) of one node.") var pauseRate: Double = 0.005
    @Flag(help: "Disable pre-vote.") var noPrevote = false
    @Flag(help: "The transport never reports a lost peer (shows the failover property catching it).")
    var noLinkLossReports = false
    @Flag(help: "Disable check-quorum (and leader leases).") var noCheckQuorum = false
    @Flag(help: "Print the whole trace.") var verbose = false
    @Flag(help: "Shell ignores fsync requests (demonstrates the checkers).") var skipFsync = false
    @Option(help: ArgumentHelp("A wrong ordering planted in the shared driver, to show the checkers catch it: \(ReplicaDriver.Fault.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "fault"))
    var driverFault: ReplicaDriver.Fault?
    @Option(help: "A member's disk work takes 0...N tenths of a tick (0: at once).") var diskLatency: Int = 4

    func options(_ s: UInt64) -> SimOptions {
        var o = SimOptions(seed: s)
        o.ticks = ticks
        o.voters = nodes
        o.observers = observers
        o.livenessTicks = livenessTicks
        o.traceTail = tail
        o.verbose = verbose
        o.skipFsync = skipFsync
        o.driverFault = driverFault
        o.diskLatency = diskLatency
        o.dropRate = drop
        o.duplicateRate = duplicate
        o.maxDelay = maxDelay
        o.crashRate = crashRate
        o.partitionRate = partitionRate
        o.compactEvery = compactEvery
        o.maxEntriesPerMessage = maxEntries
        o.maxDowntimeTicks = maxDowntime
        o.pauseRate = pauseRate
        o.preVote = !noPrevote
        o.reportLinkLoss = !noLinkLossReports
        o.checkQuorum = !noCheckQuorum
        return o
    }

    func run() throws {
        if let spec = seeds {
            let parts = spec.split(separator: ".", omittingEmptySubsequences: true)
            guard parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a <= b else {
                throw ValidationError("--seeds expects A..B")
            }
            let start = ContinuousClock.now
            let summary = sweep(seeds: a...b, base: options(a)) { r in
                if !r.ok { report(r) }
            }
            let secs = (ContinuousClock.now - start).components.seconds
            print("\(summary.description) time=\(secs)s")
            if !summary.failures.isEmpty { throw ExitCode(1) }
            return
        }
        let r = runSimulation(options(seed ?? 1))
        if r.ok {
            print("seed=\(r.seed) ok \(r.stats) trace=\(String(r.traceHash, radix: 16))")
        } else {
            report(r)
            throw ExitCode(1)
        }
    }

    func report(_ r: SimResult) {
        print("seed=\(r.seed) FAILED: \(r.failure ?? "")")
        print("  replay: zksim --seed \(r.seed) --ticks \(ticks) --nodes \(nodes) --observers \(observers)"
              + (driverFault.map { " --driver-fault \($0.rawValue)" } ?? "") + (skipFsync ? " --skip-fsync" : ""))
        for l in r.traceTail { print("  " + l) }
    }
}

ZKSim.main()
