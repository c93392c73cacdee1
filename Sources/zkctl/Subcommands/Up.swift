import ArgumentParser
import Foundation
import ZKOrchestration

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an ensemble on this machine and wait until it is healthy.",
        discussion: """
            With no arguments: 3 nodes of the bundled zkserver on 127.0.0.1 (clients on 2181-2183), \
            state in $ZKCTL_HOME/clusters/local. Nodes run detached and outlive zkctl.

            Before launching, zkctl checks that ports are free, binaries exist and data dirs hold the \
            right myid. It then waits until every node answers ruok, there is one leader, the others \
            follow (or observe) and a test write commits, and prints the nodes and the connect string.

            Idempotent: on a running cluster it changes nothing; on a stopped one it restarts the \
            nodes with their data.

            Examples:
              zkctl up
              zkctl up --engine apache -n 5 --name big
              zkctl up -i inventory/local-5-observer.yaml
              zkctl up --dry-run
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: InventoryOptions

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Cluster name (default: local, or zk_cluster from the inventory).", valueName: "name"))
    var name: String?

    @Option(help: "Seconds to wait for the ensemble to become healthy.")
    var timeout: Double = 90

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Option(name: .shortAndLong, help: "Output format of the final report: text or json.")
    var output: OutputFormat = .text

    mutating func run() async throws {
        let orchestrator = try global.orchestrator()
        let (inventory, yaml) = try source.load(name: name, store: orchestrator.store)
        let plan = try orchestrator.planUp(inventory)
        if dryRun {
            printOut(Report.plan(plan, title: "plan for cluster \(inventory.cluster.name) (\(inventory.cluster.engine.rawValue), \(inventory.nodes.count) nodes):"))
            return
        }
        Interrupt.install()
        printErr("zkctl: bringing up \(inventory.cluster.name) (\(inventory.cluster.engine.rawValue), \(inventory.nodes.count) \(inventory.nodes.count == 1 ? "node" : "nodes")) in \(orchestrator.store.layout(inventory.cluster.name).root)")
        let result = try await orchestrator.up(inventory, inventoryYAML: yaml, timeout: .milliseconds(Int64(timeout * 1000)))
        guard let health = result.health else { return }
        if result.plan.changesNothing {
            printErr("zkctl: \(inventory.cluster.name) was already running; nothing changed")
        } else {
            printErr(String(format: "zkctl: %@ healthy after %.1fs", inventory.cluster.name, result.seconds))
        }
        switch output {
        case .text: printOut(Report.table(inventory, health))
        case .json:
            var json = Report.json(inventory, health)
            json.secondsToHealthy = (result.seconds * 10).rounded() / 10
            printOut(Report.encode(json))
        }
        if health.state != .healthy { throw ExitCode(health.state.exitCode) }
    }
}
