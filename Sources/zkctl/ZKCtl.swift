import ArgumentParser
import Foundation
import ZKOrchestration

@main
struct ZKCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zkctl",
        abstract: "Run ZooKeeper ensembles on this machine: the bundled zkserver or Apache ZooKeeper.",
        discussion: """
            Quick start:
              zkctl up                          # 3 zkserver nodes on 127.0.0.1:2181-2183
              zkctl up --engine apache -n 5     # 5 Apache ZooKeeper nodes
              zkctl up -i inventory/local.yaml  # from an Ansible YAML inventory
              zkctl status --output json
              zkctl node 2 kill                 # fault drill
              zkctl down --purge                # stop and delete the data

            Cluster state lives in $ZKCTL_HOME (default ~/.zkctl), one directory per cluster: \
            clusters/<name>/inventory.yaml and nodes/<id>/{conf,data,datalog,logs,pid}.

            Exit codes: 0 ok/healthy, 1 error, 2 usage, 3 degraded, 4 down, 130 interrupted.
            """,
        version: "0.1.0",
        subcommands: [Up.self, Status.self, Health.self, Down.self, NodeCommand.self, Logs.self, List.self, Render.self,
                       Scale.self, Restart.self, Upgrade.self, Generate.self, K8s.self, Bench.self, TLS.self,
                       Backup.self, Restore.self, Leader.self]
    )

    /// Runs the command and maps errors to documented exit codes.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as ZKCtlError {
            FileHandle.standardError.write(Data("zkctl: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch let error as InventoryError {
            FileHandle.standardError.write(Data("zkctl: \(error.description)\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
