import ArgumentParser
import Foundation
import ZKOrchestration

struct Scale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change the number of voters (and observers) of a running ensemble, one member at a time.",
        discussion: """
            Prints a plan first: the members before and after and, for each step, the quorum size and \
            the failures tolerated. Refuses to start unless every member is healthy, and refuses a \
            target of 0 voters or an even number of voters (unless --allow-even).

            Adding a member: zkctl renders it with the current members plus itself, starts it, sends \
            a reconfig (as the cluster's superuser) and waits until the leader counts it as synced. \
            Removing a member: reconfig first, a write is committed in the new configuration, then \
            the node is stopped (and with --purge its data is deleted). The stored inventory is \
            updated after each step, so `zkctl status` and `zkctl down` keep telling the truth.

            Examples:
              zkctl scale 5 --dry-run
              zkctl scale 5
              zkctl scale 3 --purge
              zkctl scale 3 --observers 1 --output json
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption
    @OptionGroup var rolling: RollingOptions

    @Argument(help: "The number of voters wanted.")
    var voters: Int

    @Option(help: "The number of observers wanted (default: unchanged).")
    var observers: Int?

    @Flag(help: "Allow an even number of voters to remain.")
    var allowEven = false

    @Flag(help: "Delete the data of removed members.")
    var purge = false

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    func validate() throws {
        if voters < 0 || voters > 99 { throw ValidationError("the number of voters must be between 1 and 99") }
        if let o = observers, o < 0 || o > 99 { throw ValidationError("--observers must be between 0 and 99") }
    }

    mutating func run() async throws {
        let (orchestrator, inventory) = try loadRunningCluster(global, cluster, stopTimeout: rolling.stopTimeout)
        var executor = rolling.executor(orchestrator)
        // Apache ZooKeeper 3.8 did not always count a joiner started as a participant and
        // reconfigured in as an observer among its synced observers; voters join it directly.
        executor.observerFirst = inventory.cluster.engine == .bundled
        let found = await executor.discover(inventory)
        let desired = RollingPlanner.resize(inventory, voters: voters, observers: observers)
        let plan = RollingPlanner.scale(current: inventory, desired: desired, healthy: found.healthy, leader: found.leader,
                                        allowEven: allowEven, purge: purge, observerFirst: executor.observerFirst)
        if dryRun || !plan.blockers.isEmpty {
            if rolling.output == .json {
                printOut(RollingEvent(event: plan.blockers.isEmpty ? "plan" : "refused", total: plan.steps.count,
                                      message: plan.text, seconds: 0).json)
            } else {
                printOut(plan.text)
            }
            if !plan.blockers.isEmpty {
                throw ZKCtlError("scale refused, nothing was changed:\n" + plan.blockers.map { "  - " + $0 }.joined(separator: "\n"))
            }
            return
        }
        if plan.steps.isEmpty {
            printErr("zkctl: \(inventory.cluster.name) already has \(inventory.voters.count) voters and \(inventory.observers.count) observers; nothing to do")
            return
        }
        Interrupt.install()
        let engine = try orchestrator.locator.resolve(inventory.cluster.engine, settings: inventory.cluster)
        do {
            try await executor.scale(plan, inventory: inventory, engine: engine)
        } catch {
            throw reportFailure(error, json: rolling.output == .json)
        }
    }
}
