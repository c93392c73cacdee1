import ArgumentParser
import Foundation
import ZKOrchestration

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a cluster's nodes (SIGTERM, then SIGKILL after a timeout); --purge deletes its data.",
        discussion: """
            Idempotent: stopping a stopped or unknown cluster succeeds. Only processes zkctl started \
            are signalled: a pid file whose pid now belongs to another program is removed, not used. \
            Data stays unless --purge is given.

            Examples:
              zkctl down
              zkctl down --purge --name big
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption

    @Flag(help: "Also delete the cluster's state dir: data, logs and config.")
    var purge = false

    @OptionGroup var stop: StopOptions

    mutating func run() async throws {
        let orchestrator = try global.orchestrator(stopTimeout: stop.timeout)
        let name = try cluster.resolve(orchestrator.store)
        guard orchestrator.store.exists(name) else {
            printErr("zkctl: no cluster named '\(name)'; nothing to do")
            return
        }
        let inventory = try orchestrator.store.loadInventory(name)
        if stop.dryRun {
            printOut(Report.plan(orchestrator.planDown(inventory, purge: purge), title: "plan for cluster \(name):"))
            return
        }
        let plan = try await orchestrator.down(inventory, purge: purge)
        let stopped = plan.steps.filter { if case .stop = $0 { return true } else { return false } }.count
        printOut("\(name): \(stopped) \(stopped == 1 ? "node" : "nodes") stopped" + (purge ? ", state dir removed" : "; data kept (use --purge to delete it)"))
    }
}
