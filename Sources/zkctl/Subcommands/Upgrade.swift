import ArgumentParser
import Foundation
import ZKOrchestration

struct Upgrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rolling upgrade: restart each node on a new zkserver binary or Apache ZooKeeper release, leader last.",
        discussion: """
            The same procedure as `zkctl restart --rolling`, but each node is started with the binary \
            given by --to: a zkserver executable (engine bundled) or the directory of an unpacked \
            Apache ZooKeeper release with lib/ (engine apache). When a node does not start or does not \
            sync on the new version, it is started again on its previous command line and the run \
            stops; the ensemble keeps serving.

            Examples:
              zkctl upgrade --to /opt/zkserver-0.2/zkserver
              zkctl upgrade --to /opt/apache-zookeeper-3.8.4-bin --output json
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption
    @OptionGroup var rolling: RollingOptions

    @Option(help: ArgumentHelp("The new zkserver binary, or an Apache ZooKeeper directory.", valueName: "path"))
    var to: String

    @Option(help: ArgumentHelp("Node ids already done by an interrupted run (comma-separated).", valueName: "ids"))
    var skip: String?

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    mutating func run() async throws {
        try await runRolling(global: global, cluster: cluster, rolling: rolling, skip: try Restart.parseSkip(skip),
                             dryRun: dryRun, upgradeTo: to)
    }

    static func resolveTarget(_ path: String, engine: Engine, orchestrator: Orchestrator, settings: ClusterSettings) throws -> ResolvedEngine {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        switch engine {
        case .bundled:
            guard !FileSystem.isDirectory(absolute), FileSystem.isExecutable(absolute) else {
                throw ZKCtlError("\(path) is not an executable zkserver binary; the cluster runs the bundled engine")
            }
            return .bundled(zkserver: absolute)
        case .apache:
            let locator = EngineLocator(apacheHome: absolute, environment: orchestrator.locator.environment)
            return try locator.resolve(.apache, settings: settings)
        }
    }
}
