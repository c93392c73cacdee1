/// Metadata of a state-machine snapshot: the last zxid it covers and the membership then.
public struct SnapshotMeta: Hashable, Sendable {
    public var zxid: Zxid
    public var config: ClusterConfig?
    public init(zxid: Zxid, config: ClusterConfig?) {
        self.zxid = zxid
        self.config = config
    }
    public static let empty = SnapshotMeta(zxid: .zero, config: nil)
}

/// A state-machine snapshot: metadata plus opaque bytes produced by the application.
public struct Snapshot: Hashable, Sendable {
    public var meta: SnapshotMeta
    public var data: [UInt8]
    public init(meta: SnapshotMeta, data: [UInt8]) {
        self.meta = meta
        self.data = data
    }
    public var zxid: Zxid { meta.zxid }
}

/// The read-only view of durable storage that the replication core reads.
///
/// The log is `snapshot` followed by entries with strictly increasing zxids. The core never
/// writes: the shell applies `Ready` (truncate, install snapshot, append) to the store before
/// calling `Replica.advance()`, and may compact (replace a committed, applied prefix by a
/// snapshot) between Ready cycles.
public protocol LogStore: AnyObject {
    /// Metadata of the snapshot the log starts after (`SnapshotMeta.empty` if none).
    var snapshotMeta: SnapshotMeta { get }
    /// Zxid of the last entry, or the snapshot zxid when the log is empty.
    var lastZxid: Zxid { get }
    /// True if `zxid` is the snapshot zxid or the zxid of an entry in the log.
    func contains(_ zxid: Zxid) -> Bool
    /// The greatest zxid present (snapshot zxid or an entry) that is `<= zxid`; `Zxid.zero`
    /// if `zxid` is below the snapshot.
    func greatest(atOrBelow zxid: Zxid) -> Zxid
    /// Up to `limit` entries strictly after `zxid` (`zxid >= snapshotMeta.zxid`).
    func entries(after zxid: Zxid, limit: Int) -> [Entry]
    /// The full snapshot, to send to followers behind the log start.
    func snapshot() -> Snapshot?
}

/// In-memory `LogStore`, the reference implementation used by tests and the simulator.
public final class MemoryLogStore: LogStore {
    public private(set) var snapshotMeta: SnapshotMeta = .empty
    private var snapshotData: [UInt8] = []
    public private(set) var log: [Entry] = []

    public init() {}

    public init(snapshot: Snapshot?, entries: [Entry]) {
        if let s = snapshot {
            snapshotMeta = s.meta
            snapshotData = s.data
        }
        log = entries
    }

    public func clone() -> MemoryLogStore {
        MemoryLogStore(snapshot: snapshot(), entries: log)
    }

    public var lastZxid: Zxid { log.last?.zxid ?? snapshotMeta.zxid }

    /// Index of the first entry with zxid > `zxid`.
    private func upperBound(_ zxid: Zxid) -> Int {
        var lo = 0, hi = log.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if log[mid].zxid <= zxid { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func contains(_ zxid: Zxid) -> Bool {
        if zxid == snapshotMeta.zxid { return true }
        let i = upperBound(zxid)
        return i > 0 && log[i - 1].zxid == zxid
    }

    public func greatest(atOrBelow zxid: Zxid) -> Zxid {
        if zxid < snapshotMeta.zxid { return .zero }
        let i = upperBound(zxid)
        return i > 0 ? log[i - 1].zxid : snapshotMeta.zxid
    }

    public func entries(after zxid: Zxid, limit: Int) -> [Entry] {
        let start = upperBound(zxid)
        let end = min(log.count, start + max(0, limit))
        return start < end ? Array(log[start..<end]) : []
    }

    public func entry(at zxid: Zxid) -> Entry? {
        let i = upperBound(zxid)
        return i > 0 && log[i - 1].zxid == zxid ? log[i - 1] : nil
    }

    public func snapshot() -> Snapshot? {
        snapshotMeta.zxid == .zero && snapshotMeta.config == nil && snapshotData.isEmpty
            ? nil : Snapshot(meta: snapshotMeta, data: snapshotData)
    }

    // MARK: writes (done by the shell)

    /// Drops every entry after `zxid`.
    public func truncate(after zxid: Zxid) {
        log.removeSubrange(upperBound(zxid)...)
    }

    /// Appends entries; they must follow the current last zxid.
    public func append(_ entries: [Entry]) {
        for e in entries {
            precondition(e.zxid > lastZxid, "append out of order: \(e.zxid) after \(lastZxid)")
            log.append(e)
        }
    }

    /// Replaces the whole log by a snapshot received from the leader.
    public func install(_ snapshot: Snapshot) {
        snapshotMeta = snapshot.meta
        snapshotData = snapshot.data
        log.removeAll()
    }

    /// Replaces the prefix up to `snapshot.zxid` (which must be in the log) by a snapshot
    /// taken locally. Entries after it are kept.
    public func compact(_ snapshot: Snapshot) {
        guard snapshot.zxid > snapshotMeta.zxid else { return }
        log.removeSubrange(..<upperBound(snapshot.zxid))
        snapshotMeta = snapshot.meta
        snapshotData = snapshot.data
    }
}
