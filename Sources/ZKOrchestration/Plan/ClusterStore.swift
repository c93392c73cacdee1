import Foundation

/// The clusters under a zkctl home (`$ZKCTL_HOME` or `~/.zkctl`): one directory per cluster with
/// the inventory it was created from and a directory per node (conf, data, datalog, logs, pid).
public struct ClusterStore: Sendable {
    public var home: String

    public init(home: String) { self.home = home }

    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let h = environment["ZKCTL_HOME"], !h.isEmpty { return h }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.zkctl"
    }

    public func layout(_ name: String) -> ClusterLayout { ClusterLayout(home: home, cluster: name) }

    public func clusterNames() -> [String] {
        FileSystem.list(home + "/clusters").filter { FileSystem.exists(layout($0).inventoryFile) }
    }

    public func exists(_ name: String) -> Bool { FileSystem.exists(layout(name).inventoryFile) }

    public func loadInventory(_ name: String) throws -> Inventory {
        let path = layout(name).inventoryFile
        guard FileSystem.exists(path) else {
            let known = clusterNames()
            let hint = known.isEmpty ? "start one with `zkctl up`" : "known clusters: \(known.joined(separator: ", "))"
            throw ZKCtlError("no cluster named '\(name)' in \(home); \(hint)")
        }
        var inventory = try InventoryLoader.parse(yaml: try FileSystem.readString(path), source: path, defaultName: name)
        inventory.cluster.superDigest = superDigest(name)
        return inventory
    }

    public func saveInventory(_ yaml: String, name: String) throws {
        try FileSystem.write(yaml, to: layout(name).inventoryFile)
    }

    /// Chooses the cluster a command acts on: the given name, else `local` if it exists, else the only cluster.
    public func resolveName(_ name: String?) throws -> String {
        if let name { return name }
        let names = clusterNames()
        if names.contains("local") || names.isEmpty { return "local" }
        if names.count == 1 { return names[0] }
        throw ZKCtlError("several clusters exist (\(names.joined(separator: ", "))); choose one with --name")
    }

    // MARK: pid files

    public func readRecord(_ node: NodeLayout) -> ProcessRecord? {
        guard let data = FileManager.default.contents(atPath: node.pidFile) else { return nil }
        return try? JSONDecoder().decode(ProcessRecord.self, from: data)
    }

    public func writeRecord(_ record: ProcessRecord, _ node: NodeLayout) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(record)
        try FileSystem.write(String(decoding: data, as: UTF8.self) + "\n", to: node.pidFile)
    }

    public func removeRecord(_ node: NodeLayout) { try? FileSystem.remove(node.pidFile) }

    public func myid(_ node: NodeLayout) -> Int? {
        (try? FileSystem.readString(node.myid)).flatMap { Int($0.trimmed(" \n\r\t")) }
    }
}
