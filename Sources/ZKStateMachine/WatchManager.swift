import ZKProtocol

/// Watch tables of one server: which connections (by watcher id) watch which paths.
/// Pure bookkeeping: `trigger` returns the events to deliver; the shell sends them.
public final class WatchManager {
    public typealias WatcherID = Int
    public private(set) var dataWatches: [String: Set<WatcherID>] = [:]
    public private(set) var childWatches: [String: Set<WatcherID>] = [:]
    public private(set) var persistentWatches: [String: Set<WatcherID>] = [:]
    public private(set) var recursiveWatches: [String: Set<WatcherID>] = [:]
    private var pathsByWatcher: [WatcherID: Set<String>] = [:]

    public init() {}

    public enum Kind { case data, child, persistent, recursive }

    public func add(_ kind: Kind, path: String, watcher: WatcherID) {
        switch kind {
        case .data: dataWatches[path, default: []].insert(watcher)
        case .child: childWatches[path, default: []].insert(watcher)
        case .persistent: persistentWatches[path, default: []].insert(watcher)
        case .recursive: recursiveWatches[path, default: []].insert(watcher)
        }
        pathsByWatcher[watcher, default: []].insert(path)
    }

    /// Events to deliver for the given triggers, in trigger order, at most one per watcher/path/type.
    public func trigger(_ triggers: [WatchTrigger]) -> [(watcher: WatcherID, event: WatcherEvent)] {
        var out: [(WatcherID, WatcherEvent)] = []
        for t in triggers {
            var seen = Set<WatcherID>()
            let type: EventType
            switch t.kind {
            case .created: type = .nodeCreated
            case .deleted: type = .nodeDeleted
            case .dataChanged: type = .nodeDataChanged
            case .childrenChanged: type = .nodeChildrenChanged
            }
            func fire(_ ws: Set<WatcherID>?) {
                guard let ws else { return }
                for w in ws where seen.insert(w).inserted { out.append((w, WatcherEvent(type: type, path: t.path))) }
            }
            switch t.kind {
            case .created, .dataChanged:
                fire(dataWatches.removeValue(forKey: t.path))
            case .deleted:
                fire(dataWatches.removeValue(forKey: t.path))
                fire(childWatches.removeValue(forKey: t.path))
            case .childrenChanged:
                fire(childWatches.removeValue(forKey: t.path))
            }
            fire(persistentWatches[t.path])
            if t.kind != .childrenChanged && !recursiveWatches.isEmpty {
                var p = t.path
                while true {
                    fire(recursiveWatches[p])
                    if p == "/" { break }
                    p = PathValidation.parent(of: p)
                }
            }
        }
        return out
    }

    /// Forgets all watches of a connection.
    public func remove(watcher: WatcherID) {
        guard let paths = pathsByWatcher.removeValue(forKey: watcher) else { return }
        for p in paths {
            Self.drop(&dataWatches, p, watcher); Self.drop(&childWatches, p, watcher)
            Self.drop(&persistentWatches, p, watcher); Self.drop(&recursiveWatches, p, watcher)
        }
    }

    private static func drop(_ table: inout [String: Set<WatcherID>], _ path: String, _ w: WatcherID) {
        guard table[path] != nil else { return }
        table[path]!.remove(w)
        if table[path]!.isEmpty { table[path] = nil }
    }

    /// checkWatches/removeWatches: whether the watcher holds such a watch (and remove it when asked).
    public func has(path: String, type: WatcherType, watcher: WatcherID, remove: Bool) -> Bool {
        var found = false
        func probe(_ table: inout [String: Set<WatcherID>]) {
            if table[path]?.contains(watcher) == true {
                found = true
                if remove { Self.drop(&table, path, watcher) }
            }
        }
        switch type {
        case .children: probe(&childWatches)
        case .data: probe(&dataWatches)
        case .persistent: probe(&persistentWatches)
        case .persistentRecursive: probe(&recursiveWatches)
        case .any:
            probe(&childWatches); probe(&dataWatches); probe(&persistentWatches); probe(&recursiveWatches)
        }
        return found
    }

    // MARK: statistics for four-letter words

    public var totalWatches: Int {
        dataWatches.values.reduce(0) { $0 + $1.count } + childWatches.values.reduce(0) { $0 + $1.count }
            + persistentWatches.values.reduce(0) { $0 + $1.count } + recursiveWatches.values.reduce(0) { $0 + $1.count }
    }
    /// Data-watch table only (what wchs/wchc/wchp report).
    public var dataWatchPaths: Int { dataWatches.count }
    public var dataWatchTotal: Int { dataWatches.values.reduce(0) { $0 + $1.count } }
    public var dataWatchConnections: Int { Set(dataWatches.values.flatMap { $0 }).count }
    public func dataWatchesByWatcher() -> [WatcherID: [String]] {
        var out: [WatcherID: [String]] = [:]
        for (p, ws) in dataWatches { for w in ws { out[w, default: []].append(p) } }
        return out
    }
}
