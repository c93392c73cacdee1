import ArgumentParser
import Foundation
import ZKOrchestration

let healthExitCodes = """
    Exit codes:
      0  healthy: every node serves in its role, one leader, a test write committed
      1  error (no such cluster, unreadable state)
      2  usage error
      3  degraded: the ensemble serves writes but a node is down, paused or in the wrong role
      4  down: no quorum (no leader, too few voters serving, or the test write failed)
      130  interrupted (Ctrl-C)
    """

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each node's role, process, zxid and load figures, and the cluster's health.",
        discussion: """
            Probes every node with the four-letter words ruok and srvr and writes an ephemeral \
            znode through the connect string. For a bundled cluster it also reads each node's \
            Prometheus metrics (zk_metrics_port): outstanding requests, znodes, watches, sessions, \
            and the 99th percentile of write latency and fsync time estimated from the histograms. \
            A node whose metrics cannot be read shows '-' there; the apache engine serves none.

            Examples:
              zkctl status
              zkctl status --output json | jq .roles
              zkctl status --output json | jq '.nodes[] | {id, metrics}'

            \(healthExitCodes)
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var output: OutputFormat = .text

    mutating func run() async throws {
        let orchestrator = try global.orchestrator()
        let inventory = try cluster.load(orchestrator.store).inventory
        let health = await orchestrator.health(inventory)
        let metrics = orchestrator.metrics(inventory, health: health)
        switch output {
        case .text: printOut(Report.table(inventory, health, metrics: metrics))
        case .json: printOut(Report.encode(Report.json(inventory, health, metrics: metrics)))
        }
        if health.state != .healthy { throw ExitCode(health.state.exitCode) }
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until the cluster is healthy, or fail after a timeout (a gate for scripts).",
        discussion: """
            Examples:
              zkctl health --timeout 30 && ./run-integration-tests.sh
              zkctl health --timeout 0      # check once
              zkctl health -o json | jq .state

            \(healthExitCodes)
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption

    @Option(help: "Seconds to wait; 0 checks once.")
    var timeout: Double = 60

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit code tells.")
    var quiet = false

    @Option(name: .shortAndLong, help: "Output format of the final verdict: text or json.")
    var output: OutputFormat = .text

    mutating func run() async throws {
        let orchestrator = try global.orchestrator()
        let (name, inventory) = try cluster.load(orchestrator.store)
        Interrupt.install()
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var health = await orchestrator.health(inventory)
        var lastLine = ""
        while health.state != .healthy && ContinuousClock.now < deadline && !Interrupt.requested {
            if !quiet && health.summary != lastLine {
                printErr("  waiting: \(health.summary)")
                lastLine = health.summary
            }
            try await Task.sleep(for: .milliseconds(250))
            health = await orchestrator.health(inventory)
        }
        if !quiet {
            switch output {
            case .text: printOut("\(name): \(health.summary)")
            case .json: printOut(Report.encode(Report.json(inventory, health)))
            }
        }
        if health.state != .healthy { throw ExitCode(health.state.exitCode) }
    }
}
