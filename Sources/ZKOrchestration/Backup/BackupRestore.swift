import Foundation
import ZKStorage

/// `zkctl backup` and `zkctl restore`: fetch a consistent snapshot from a node's admin server
/// (`GET /commands/snapshot`) into a backup file, and seed new data directories from one.
public enum BackupRestore {
    /// Where to fetch from: `host:port` of a node's admin server.
    public static func parseEndpoint(_ text: String) throws -> (host: String, port: Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw ZKCtlError("--server wants host:adminPort (the node's admin.serverPort), e.g. 127.0.0.1:8080; got '\(text)'")
        }
        return (String(parts[0]), port)
    }

    /// Asks a node for a snapshot and checks it (checksum, digest, zxid) before returning it.
    /// `auth` is `user:password` of the superuser (sent as `Authorization: digest user:password`).
    public static func fetch(host: String, port: Int, auth: String?, timeout: Duration = .seconds(120)) throws -> BackupFile {
        let response = try AdminHTTP.get(host: host, port: port, path: "/commands/snapshot", auth: auth, timeout: timeout,
                                         limit: Int(Int32.max), what: "snapshot")
        guard response.status == 200 else {
            throw ZKCtlError("\(host):\(port) refused the snapshot (HTTP \(response.status)): \(AdminHTTP.errorMessage(response.body))")
        }
        let backup: BackupFile
        do {
            backup = try BackupFile.parse(response.body)
            _ = try backup.verifiedTree()
        } catch {
            throw ZKCtlError("the snapshot from \(host):\(port) does not check out: \(error)")
        }
        return backup
    }

    /// Reads and fully checks a backup file: header, payload checksum, the tree's digest, zxid and znode count.
    public static func load(_ path: String) throws -> BackupFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ZKCtlError("cannot read backup file \(path)")
        }
        do {
            let b = try BackupFile.parse(Array(data))
            _ = try b.verifiedTree()
            return b
        } catch {
            throw ZKCtlError("\(path): \(error); refusing to restore from it")
        }
    }

    public static func write(_ backup: BackupFile, to path: String) throws {
        let tmp = path + ".partial"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(backup.bytes)) else {
            throw ZKCtlError("cannot write \(tmp)")
        }
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: tmp, toPath: path)
        } catch {
            throw ZKCtlError("cannot write \(path): \(error)")
        }
    }

    /// Seeds one data directory (for a zkserver started by hand) with a backup that `load` or `fetch` checked.
    public static func seed(_ backup: BackupFile, dataDir: String, dataLogDir: String?) throws {
        do {
            try backup.seed(dataDir: dataDir, dataLogDir: dataLogDir, verified: true)
        } catch {
            throw ZKCtlError("cannot restore into \(dataDir): \(error)")
        }
    }

    /// Seeds every node of a new cluster so it starts with exactly the backup's data (a backup from `load`).
    /// Refuses an existing cluster, and Apache ZooKeeper nodes (they cannot read the format).
    public static func seed(_ backup: BackupFile, cluster inventory: Inventory, store: ClusterStore) throws {
        let name = inventory.cluster.name
        guard inventory.cluster.engine == .bundled else {
            throw ZKCtlError("restore seeds zkserver nodes only; cluster \(name) uses the \(inventory.cluster.engine.rawValue) engine")
        }
        guard !store.exists(name) else {
            throw ZKCtlError("cluster \(name) already exists; restore into a new cluster name (or `zkctl down -c \(name) --purge` first)")
        }
        let layout = store.layout(name)
        for node in inventory.nodes {
            let l = layout.node(node.id)
            try seed(backup, dataDir: l.dataDir, dataLogDir: l.dataLogDir)
        }
    }
}
