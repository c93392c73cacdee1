import ArgumentParser
import Foundation
import ZKOrchestration

/// Options shared by scale, restart --rolling and upgrade.
struct RollingOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Progress output: text (on stderr) or json (one event object per line on stdout).")
    var output: OutputFormat = .text

    @Option(help: "Seconds a node may take to come back and sync before the run stops.")
    var syncTimeout: Double = 90

    @Option(help: "Seconds to wait after SIGTERM before SIGKILL.")
    var stopTimeout: Double = 20

    func executor(_ orchestrator: Orchestrator) -> RollingExecutor {
        let json = output == .json
        return RollingExecutor(
            orchestrator: orchestrator,
            events: { e in
                if json {
                    printOut(e.json)
                    fflush(nil) // every output stream, stdout's buffer among them, so each event shows at once
                } else if e.event == "plan" {
                    printErr(e.message)
                } else {
                    let where_ = e.step.map { s in "[\(s)/\(e.total ?? 0)] " } ?? ""
                    printErr(String(format: "%6.1fs ", e.seconds) + where_ + e.message)
                }
            },
            syncTimeout: .milliseconds(Int64(syncTimeout * 1000)))
    }
}

/// Loads a running cluster and checks it can be changed from this machine.
func loadRunningCluster(_ global: GlobalOptions, _ cluster: ClusterOption, stopTimeout: Double) throws -> (Orchestrator, Inventory) {
    let orchestrator = try global.orchestrator(stopTimeout: stopTimeout)
    let (name, inventory) = try cluster.load(orchestrator.store)
    guard inventory.isLocal else {
        throw ZKCtlError("cluster \(name) has hosts that are not on this machine; rolling operations run on loopback clusters only")
    }
    return (orchestrator, inventory)
}

func reportFailure(_ error: Error, json: Bool) -> Error {
    if let f = error as? RollingFailure {
        if json {
            printOut(RollingEvent(event: "aborted", step: f.step, total: f.total, node: f.node, message: f.description, seconds: 0).json)
        }
        return ZKCtlError(f.description)
    }
    return error
}
