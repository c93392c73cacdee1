import ArgumentParser
import Atomics
import Foundation
import ZKOrchestration

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension Engine: ExpressibleByArgument {}
extension NodeAction: ExpressibleByArgument {}

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("zkctl home holding the clusters' state (env ZKCTL_HOME, default ~/.zkctl).", valueName: "dir"))
    var home: String?

    @Option(name: .long, help: ArgumentHelp("Directory with your own copies of zkctl's templates (env ZKCTL_TEMPLATES; default: the templates built into zkctl).", valueName: "dir"))
    var templates: String?

    @Option(name: .long, help: ArgumentHelp("The zkserver binary (env ZKCTL_ZKSERVER; default: next to zkctl, then PATH).", valueName: "path"))
    var zkserver: String?

    @Option(name: .long, help: ArgumentHelp("An unpacked Apache ZooKeeper release (default: Debian's package in /usr/share/java).", valueName: "dir"))
    var apacheHome: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var store: ClusterStore {
        ClusterStore(home: home ?? ClusterStore.defaultHome(environment: environment))
    }

    /// --templates or $ZKCTL_TEMPLATES (your own copies), else the templates built into zkctl.
    func templateSource() throws -> any TemplateSource {
        if let t = templates ?? environment["ZKCTL_TEMPLATES"] {
            guard FileSystem.isDirectory(t) else {
                throw ZKCtlError("templates directory \(t) (from --templates or ZKCTL_TEMPLATES) does not exist; "
                    + "point it at a copy of zkctl's templates/, or unset it to use the built-in templates")
            }
            return DirectoryTemplateSource(directory: t)
        }
        return InMemoryTemplateSource(BundledTemplates.files, description: "zkctl's built-in templates")
    }

    func orchestrator(stopTimeout: Double = 10) throws -> Orchestrator {
        Orchestrator(
            store: store, templates: try templateSource(),
            locator: EngineLocator(zkserver: zkserver, apacheHome: apacheHome, environment: environment),
            progress: { line in FileHandle.standardError.write(Data(("  " + line + "\n").utf8)) },
            interrupted: { Interrupt.requested },
            stopTimeout: .milliseconds(Int64(stopTimeout * 1000)))
    }
}

struct ClusterOption: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Cluster name (env ZKCTL_CLUSTER; default: local, or the only cluster).", valueName: "name"))
    var name: String?

    func resolve(_ store: ClusterStore) throws -> String {
        try store.resolveName(name ?? ProcessInfo.processInfo.environment["ZKCTL_CLUSTER"])
    }

    /// The cluster's name (as `resolve` finds it) and its saved inventory.
    func load(_ store: ClusterStore) throws -> (name: String, inventory: Inventory) {
        let name = try resolve(store)
        return (name, try store.loadInventory(name))
    }
}

/// --timeout and --dry-run of the commands that stop servers themselves (down, node).
struct StopOptions: ParsableArguments {
    @Option(help: "Seconds to wait after SIGTERM before SIGKILL.")
    var timeout: Double = 10

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false
}

/// Chooses the inventory from -i, or builds a loopback one from -n/--engine/--base-port.
struct InventoryOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Ansible YAML inventory to use (see inventory/).", valueName: "file"))
    var inventory: String?

    @Option(name: [.customShort("n"), .long], help: "Number of nodes of a generated loopback ensemble (default 3; 1 runs standalone).")
    var nodes: Int?

    @Option(name: .long, help: "Engine of a generated ensemble: bundled (zkserver) or apache.")
    var engine: Engine?

    @Option(name: .long, help: ArgumentHelp("Ports of a generated ensemble: clients at P+id-1, quorum at P+100+id-1, election at P+200+id-1, metrics at P+400+id-1, admin server (bundled engine) at P+500+id-1 (default 2181/2888/3888/7000/7100).", valueName: "P"))
    var basePort: Int?

    @Flag(help: "Generated ensemble: TLS clients on 2281+id-1 (P+300+id-1 with --base-port) and TLS between members, with certificates from `zkctl tls init` (zk_tls: true in an inventory).")
    var tls = false

    func validate() throws {
        if inventory != nil && (nodes != nil || engine != nil || basePort != nil || tls) {
            throw ValidationError("-i/--inventory cannot be combined with -n, --engine, --base-port or --tls; set those in the inventory")
        }
        if let n = nodes, n < 1 || n > 99 { throw ValidationError("-n must be between 1 and 99") }
        if let n = nodes, n % 2 == 0 { throw ValidationError("-n \(n): an even number of voters tolerates no more failures than \(n - 1); use an odd number") }
        if let p = basePort, p < 1024 || p > 65000 { throw ValidationError("--base-port must be between 1024 and 65000") }
    }

    var generatorFlagsGiven: Bool { nodes != nil || engine != nil || basePort != nil || tls }

    /// The inventory and the YAML text to store with the cluster. Without -i/-n/--engine/--base-port,
    /// an existing cluster's stored inventory is used (so `zkctl up` restarts it as it was).
    func load(name: String?, store: ClusterStore? = nil) throws -> (Inventory, String) {
        if inventory == nil, !generatorFlagsGiven, let store {
            let existing = name ?? ProcessInfo.processInfo.environment["ZKCTL_CLUSTER"] ?? "local"
            if store.exists(existing) {
                let inv = try store.loadInventory(existing)
                return (inv, try FileSystem.readString(store.layout(existing).inventoryFile))
            }
        }
        if let path = inventory {
            var inv = try InventoryLoader.load(path: path)
            var text = try FileSystem.readString(path)
            if let name, name != inv.cluster.name {
                inv.cluster.name = name
                text = InventoryWriter.yaml(inv, comment: "Copied from \(path) with the cluster renamed to \(name).")
            }
            return (inv, text)
        }
        let count = nodes ?? 3
        var inv: Inventory
        if let p = basePort {
            inv = Inventory.local(name: name ?? "local", engine: engine ?? .bundled, count: count,
                                  clientPort: p, quorumPort: p + 100, electionPort: p + 200, metricsPort: p + 400,
                                  adminPort: p + 500)
        } else {
            inv = Inventory.local(name: name ?? "local", engine: engine ?? .bundled, count: count)
        }
        if tls {
            inv.cluster.tls = true
            // 2281.. by default; with --base-port P, P+300.. (P+100 and P+200 are the quorum and election ports).
            if let p = basePort { inv.cluster.secureClientPort = p + 300 }
        }
        if !ClusterName.isValid(inv.cluster.name) {
            throw ValidationError("cluster name '\(inv.cluster.name)' must be 1-40 characters of a-z, 0-9, '-' or '_'")
        }
        return (inv, InventoryWriter.yaml(inv, comment: "Generated by `zkctl up`; also an Ansible inventory."))
    }
}

/// Ctrl-C during a wait: the flag is polled by the orchestrator, which stops waiting and explains.
enum Interrupt {
    /// Set by the SIGINT handler, read by any thread: a lock-free atomic, so the handler may store it.
    private static let flag = ManagedAtomic(false)

    static var requested: Bool { flag.load(ordering: .relaxed) }

    static func install() {
        signal(SIGINT) { _ in Interrupt.flag.store(true, ordering: .relaxed) }
    }
}

func printOut(_ s: String) { print(s) }
func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
