import ArgumentParser
import Foundation
import ZKOrchestration

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a consistent snapshot of a running zkserver node to a file.",
        discussion: """
            Asks the node's admin server for GET /commands/snapshot: the whole data tree at one zxid, \
            with a header holding that zxid and the tree digest. The file is checked (checksum and \
            digest) before it is written. The node needs admin.serverPort in its zoo.cfg, and either \
            DigestAuthenticationProvider.superDigest (pass --auth super:password) or \
            admin.snapshot.requireAuth=false.

            Examples:
              zkctl backup --server 127.0.0.1:8080 --auth super:secret -o zk.backup
              zkctl restore zk.backup -c copy -n 1
            """)

    @Option(name: .long, help: ArgumentHelp("The node's admin server, host:adminPort.", valueName: "host:port"))
    var server: String

    @Option(name: .long, help: ArgumentHelp("Superuser credentials, user:password (env ZKCTL_SUPERUSER).", valueName: "user:password"))
    var auth: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Backup file to write.", valueName: "file"))
    var output: String

    @Option(help: "Seconds to wait for the snapshot.")
    var timeout: Double = 120

    func validate() throws {
        do { _ = try BackupRestore.parseEndpoint(server) } catch let e as ZKCtlError { throw ValidationError(e.message) }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let (host, port) = try BackupRestore.parseEndpoint(server)
        let backup = try BackupRestore.fetch(host: host, port: port, auth: auth ?? ProcessInfo.processInfo.environment["ZKCTL_SUPERUSER"],
                                             timeout: .milliseconds(Int64(timeout * 1000)))
        try BackupRestore.write(backup, to: output)
        let h = backup.header
        printOut("wrote \(output): zxid 0x\(String(h.zxid, radix: 16)), \(h.znodes) znodes, digest \(h.digest), \(h.payloadBytes) bytes")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a new cluster (or seed a data directory) from a backup file.",
        discussion: """
            The file is checked first (checksum, then the digest recomputed from every znode); a \
            damaged or foreign file is refused. With -c NAME (and the usual -n / --base-port / -i \
            inventory options of `zkctl up`), every node of the new cluster is seeded with the backup \
            and the cluster is brought up. With --data-dir, one empty directory is seeded for a \
            zkserver you start yourself (standalone or an ensemble member: the layout is the same).

            Examples:
              zkctl restore zk.backup -c copy -n 1 --base-port 2381
              zkctl restore zk.backup -c copy3 -n 3 --base-port 2481
              zkctl restore zk.backup --data-dir /tmp/zk-restored
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: InventoryOptions

    @Argument(help: ArgumentHelp("The backup file (from `zkctl backup`).", valueName: "file"))
    var file: String

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Name of the new cluster.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Seed this data directory only (no cluster is started).", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Transaction log directory that goes with --data-dir (default: the data dir).", valueName: "dir"))
    var dataLogDir: String?

    @Flag(help: ArgumentHelp("Accepted for older scripts; every data directory has the same layout now.", visibility: .hidden))
    var ensemble = false

    @Option(help: "Seconds to wait for the new cluster to become healthy.")
    var timeout: Double = 90

    func validate() throws {
        if dataDir == nil && name == nil { throw ValidationError("give -c NAME (a new cluster) or --data-dir DIR") }
        if dataDir != nil && (name != nil || source.inventory != nil || source.generatorFlagsGiven) {
            throw ValidationError("--data-dir seeds one directory; it cannot be combined with -c, -i, -n, --engine or --base-port")
        }
        if dataDir == nil && (dataLogDir != nil || ensemble) { throw ValidationError("--data-log-dir and --ensemble go with --data-dir") }
    }

    mutating func run() async throws {
        let backup = try BackupRestore.load(file)
        let h = backup.header
        printErr("zkctl: \(file): zxid 0x\(String(h.zxid, radix: 16)), \(h.znodes) znodes, digest \(h.digest) (verified)")
        if let dataDir {
            try BackupRestore.seed(backup, dataDir: dataDir, dataLogDir: dataLogDir)
            printOut("seeded \(dataDir); start zkserver on it")
            return
        }
        let orchestrator = try global.orchestrator()
        let (inventory, yaml) = try source.load(name: name, store: nil)
        try BackupRestore.seed(backup, cluster: inventory, store: orchestrator.store)
        Interrupt.install()
        printErr("zkctl: bringing up \(inventory.cluster.name) from the backup (\(inventory.nodes.count) \(inventory.nodes.count == 1 ? "node" : "nodes"))")
        let result = try await orchestrator.up(inventory, inventoryYAML: yaml, timeout: .milliseconds(Int64(timeout * 1000)))
        guard let health = result.health else { return }
        printOut(Report.table(inventory, health))
        if health.state != .healthy { throw ExitCode(health.state.exitCode) }
    }
}
