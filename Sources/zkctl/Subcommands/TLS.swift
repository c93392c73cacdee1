import ArgumentParser
import Foundation
import ZKOrchestration

struct TLS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "Certificates for a cluster's TLS client port and its member-to-member TLS.",
        subcommands: [TLSInit.self])
}

struct TLSInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the cluster's CA, a certificate per node and a client certificate.",
        discussion: """
            Writes into the cluster's state dir, <home>/clusters/<name>/tls/:
              ca.pem, ca-key.pem            the cluster's CA (ECDSA P-256); keep ca-key.pem private
              node-<id>.pem                 key + certificate of server <id> (ssl.keyStore.location,
                                            ssl.quorum.keyStore.location); SANs 127.0.0.1, localhost, its host
              client-cert.pem, client-key.pem   a client identity for kazoo and other clients
              client.pem                    the same identity as one file (key + certificate), for zkCli
            Existing files are kept; a node gets a new certificate when its file is missing, no \
            longer names its host, or expires within 30 days. --renew replaces everything. \
            `zkctl up` and `zkctl generate ansible` run this by themselves for an inventory with \
            zk_tls: true.

            Examples:
              zkctl tls init -i inventory/local.yaml
              zkctl tls init --name local --renew
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: InventoryOptions

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Cluster name (default: local, or zk_cluster from the inventory).", valueName: "name"))
    var name: String?

    @Flag(help: "Replace the CA and every certificate (nodes must be restarted to use them).")
    var renew = false

    mutating func run() throws {
        let store = global.store
        let (inventory, _) = try source.load(name: name, store: store)
        let result = try store.ensureTLSMaterial(inventory, renew: renew)
        for path in result.created { printOut("created \(path)") }
        for path in result.kept { printOut("kept    \(path)") }
        printErr("zkctl: TLS files of \(inventory.cluster.name) are in \(result.layout.dir)")
    }
}
