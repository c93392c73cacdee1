import ArgumentParser
import Foundation
import ZKOrchestration

struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restart every node one at a time, followers first and the leader last.",
        discussion: """
            zkctl discovers the roles (srvr), checks that every member is healthy, then for each node:
            SIGTERM, start it with the same command line, and wait until it serves again, its zxid \
            reached the leader's and the leader counts every member as synced, before the next node. \
            At the first failure the node is started again with its previous command line and the run \
            stops, saying where and how to resume (--skip the nodes already done).

            Examples:
              zkctl restart --rolling
              zkctl restart --rolling --output json
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption
    @OptionGroup var rolling: RollingOptions

    @Flag(name: .customLong("rolling"), help: "Required: restart one node at a time (zkctl never restarts all nodes at once).")
    var oneAtATime = false

    @Option(help: ArgumentHelp("Node ids already done by an interrupted run (comma-separated).", valueName: "ids"))
    var skip: String?

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    static func parseSkip(_ s: String?) throws -> Set<Int> {
        guard let s, !s.isEmpty else { return [] }
        let ids = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard ids.allSatisfy({ $0 != nil }) else { throw ValidationError("--skip takes node ids, e.g. --skip 1,2") }
        return Set(ids.compactMap { $0 })
    }

    mutating func run() async throws {
        guard oneAtATime else { throw ValidationError("pass --rolling: zkctl restarts one node at a time, leader last") }
        try await runRolling(global: global, cluster: cluster, rolling: rolling, skip: try Self.parseSkip(skip),
                             dryRun: dryRun, upgradeTo: nil)
    }
}

/// Shared by `restart --rolling` and `upgrade`.
func runRolling(global: GlobalOptions, cluster: ClusterOption, rolling: RollingOptions, skip: Set<Int>,
                dryRun: Bool, upgradeTo: String?) async throws {
    var (orchestrator, inventory) = try loadRunningCluster(global, cluster, stopTimeout: rolling.stopTimeout)
    let executor = rolling.executor(orchestrator)
    var engine: ResolvedEngine? = nil
    var verb = "restart --rolling"
    if let to = upgradeTo {
        engine = try Upgrade.resolveTarget(to, engine: inventory.cluster.engine, orchestrator: orchestrator, settings: inventory.cluster)
        verb = "upgrade --to \(to)"
    }
    var protocols: RollingPlanner.PeerProtocols? = nil
    if let to = upgradeTo, case .bundled(let target)? = engine,
       case .bundled(let running)? = try? orchestrator.locator.resolve(.bundled, settings: inventory.cluster),
       let r = ZkserverProbe.peerProtocol(of: running), let t = ZkserverProbe.peerProtocol(of: target) {
        protocols = .init(running: r, target: t, targetPath: to)
    }
    let found = await executor.discover(inventory)
    let plan = RollingPlanner.rollingRestart(current: inventory, healthy: found.healthy, leader: found.leader, skip: skip,
                                             verb: upgradeTo == nil ? "rolling restart" : "upgrade", protocols: protocols)
    if dryRun || !plan.blockers.isEmpty {
        if rolling.output == .json {
            printOut(RollingEvent(event: plan.blockers.isEmpty ? "plan" : "refused", total: plan.steps.count, message: plan.text, seconds: 0).json)
        } else {
            printOut(plan.text)
        }
        if !plan.blockers.isEmpty {
            throw ZKCtlError("\(verb) refused, nothing was changed:\n" + plan.blockers.map { "  - " + $0 }.joined(separator: "\n"))
        }
        return
    }
    Interrupt.install()
    do {
        try await executor.restart(plan, inventory: inventory, engine: engine, verb: verb)
    } catch {
        throw reportFailure(error, json: rolling.output == .json)
    }
    // Later starts (`zkctl up`, `zkctl node N start`) use the new version too.
    if let to = upgradeTo, let engine {
        switch engine {
        case .apache(_, _, let home): inventory.cluster.apacheHome = home
        case .bundled(let zkserver): inventory.cluster.zkserver = zkserver
        }
        try orchestrator.store.saveInventory(InventoryWriter.yaml(inventory, comment: "Updated by `zkctl upgrade --to \(to)`; also an Ansible inventory."), name: inventory.cluster.name)
    }
}
