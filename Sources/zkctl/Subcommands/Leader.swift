import ArgumentParser
import ZKOrchestration

struct Leader: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leadership of a bundled ensemble.",
        subcommands: [LeaderTransfer.self])

    struct LeaderTransfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer",
            abstract: "Hand leadership to another voter, without an election timeout.",
            discussion: """
                The leader stops taking new writes (they wait, they do not fail), brings the target up to \
                date and tells it to campaign; the other voters follow it at once. On loopback it takes a \
                few milliseconds. Without --to, the voter holding the most of the log is chosen.

                zkserver does this by itself before it stops on SIGTERM, so `zkctl restart --rolling`, \
                `zkctl upgrade`, `zkctl down`, a Kubernetes pod deletion and a systemd restart never wait \
                for an election; this command is for an operator or a hook that wants the leader elsewhere \
                first. It asks the leader's admin server (zk_admin_port), which accepts the command from \
                its own host, or from elsewhere with the superuser's credentials. Apache ZooKeeper has no \
                such command: for an apache cluster this fails and changes nothing.

                Examples:
                  zkctl leader transfer
                  zkctl leader transfer --to 3 -c prod
                  zkctl leader transfer --output json | jq .to

                Exit codes:
                  0  done: another voter leads (or --to named the leader already)
                  1  refused or failed: nothing changed (why is printed)
                  2  usage error
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var cluster: ClusterOption

        @Option(help: ArgumentHelp("The voter to lead (server id); default: the most up-to-date one.", valueName: "id"))
        var to: Int?

        @Option(name: .shortAndLong, help: "Output format: text or json.")
        var output: OutputFormat = .text

        mutating func run() async throws {
            let orchestrator = try global.orchestrator()
            let (name, inventory) = try cluster.load(orchestrator.store)
            let health = await orchestrator.health(inventory)
            let outcome = try ZKOrchestration.LeaderTransfer.perform(inventory, health: health, to: to)
            switch output {
            case .text:
                printOut(outcome.from == outcome.to ? "\(name): server \(outcome.to) leads already"
                         : "\(name): server \(outcome.to) leads now (was \(outcome.from); hand-over took \(outcome.tookMs) ms)")
            case .json:
                printOut(Report.encode(outcome))
            }
        }
    }
}
