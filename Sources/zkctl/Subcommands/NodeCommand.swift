import ArgumentParser
import Foundation
import ZKOrchestration

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Start, stop, kill, pause, resume or restart one node (fault drills).",
        discussion: """
            stop sends SIGTERM (SIGKILL after the timeout); kill sends SIGKILL; pause and resume use \
            SIGSTOP and SIGCONT, which freeze a node without closing its connections.

            Examples:
              zkctl node 2 kill && zkctl status      # exit code 3: degraded
              zkctl node 2 start
              zkctl node 1 pause; sleep 10; zkctl node 1 resume
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption

    @Argument(help: "Server id.")
    var id: Int

    @Argument(help: "start, stop, kill, pause, resume or restart.")
    var action: NodeAction

    @OptionGroup var stop: StopOptions

    mutating func run() async throws {
        let orchestrator = try global.orchestrator(stopTimeout: stop.timeout)
        let (name, inventory) = try cluster.load(orchestrator.store)
        if stop.dryRun {
            printOut(Report.plan(try orchestrator.planNode(inventory, id: id, action: action), title: "plan for node \(id) of \(name):"))
            return
        }
        let plan = try await orchestrator.node(inventory, id: id, action: action)
        if plan.steps.isEmpty { printOut("node \(id): already \(action == .start || action == .resume ? "running" : "stopped"); nothing to do") }
        else { printOut("node \(id): \(action.rawValue) done") }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the end of a node's log (all nodes when no id is given).",
        discussion: """
            Examples:
              zkctl logs 2
              zkctl logs --lines 200
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var cluster: ClusterOption

    @Argument(help: "Server id (default: every node).")
    var id: Int?

    @Option(name: [.customShort("l"), .long], help: "Lines per node.")
    var lines: Int = 40

    mutating func run() async throws {
        let store = global.store
        let (name, inventory) = try cluster.load(store)
        let ids = id.map { [$0] } ?? inventory.nodes.map(\.id)
        for i in ids {
            guard inventory.node(id: i) != nil else { throw ZKCtlError("cluster \(name) has no node \(i)") }
            let file = store.layout(name).node(i).logFile
            if ids.count > 1 { printOut("==> node \(i): \(file) <==") }
            printOut(FileSystem.exists(file) ? FileSystem.tail(file, maxLines: lines) : "(no log yet: \(file))")
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the clusters on this machine.",
        discussion: "Example:\n  zkctl list --output json")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var output: OutputFormat = .text

    struct Row: Codable {
        var name: String
        var engine: String
        var nodes: Int
        var running: Int
        var connectString: String
        var stateDir: String
    }

    mutating func run() async throws {
        let orchestrator = try global.orchestrator()
        var rows: [Row] = []
        for name in orchestrator.store.clusterNames() {
            guard let inv = try? orchestrator.store.loadInventory(name) else { continue }
            let running = orchestrator.observe(inv).filter { $0.process == .running || $0.process == .paused }.count
            rows.append(Row(name: name, engine: inv.cluster.engine.rawValue, nodes: inv.nodes.count, running: running,
                            connectString: inv.connectString, stateDir: orchestrator.store.layout(name).root))
        }
        if output == .json { printOut(Report.encode(rows)); return }
        if rows.isEmpty { printOut("no clusters in \(orchestrator.store.home); start one with `zkctl up`"); return }
        let header = ["NAME", "ENGINE", "NODES", "RUNNING", "CONNECT"]
        let table = [header] + rows.map { [$0.name, $0.engine, "\($0.nodes)", "\($0.running)", $0.connectString] }
        let widths = header.indices.map { c in table.map { $0[c].count }.max() ?? 0 }
        for r in table {
            printOut(zip(r, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}

struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the per-node config tree (zoo.cfg, dynamic config, myid, env) without starting anything.",
        discussion: """
            For a loopback inventory: <out>/clusters/<name>/nodes/<id>/{conf,data}/..., the layout `up` \
            uses. For other hosts: <out>/hosts/<host>/..., with zoo.cfg pointing at the inventory's \
            zk_data_dir, zk_datalog_dir and zk_conf_dir on that host. Default out: ./zkctl-render. \
            With --dry-run the files are printed instead.

            Examples:
              zkctl render -i inventory/production-3.yaml --out /tmp/prod
              zkctl render -n 3 --engine apache --dry-run
              zkctl render -i inventory/local.yaml --templates ./my-templates --dry-run
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: InventoryOptions

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Cluster name for a generated inventory.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Directory to write into.", valueName: "dir"))
    var out: String = "zkctl-render"

    @Flag(help: "Print the files instead of writing them.")
    var dryRun = false

    mutating func run() async throws {
        let orchestrator = try global.orchestrator()
        let (inventory, _) = try source.load(name: name)
        let out = self.out.hasPrefix("/") ? self.out : FileManager.default.currentDirectoryPath + "/" + self.out
        if dryRun {
            for (_, layout, files) in try orchestrator.renderedFiles(inventory, root: out) {
                for f in files {
                    printOut("--- \(layout.root)/\(f.path)")
                    printOut(f.contents, terminator: "")
                }
            }
            return
        }
        let written = try orchestrator.render(inventory, root: out)
        for w in written { printOut(w) }
    }
}

func printOut(_ s: String, terminator: String) { print(s, terminator: terminator) }
