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
    // The snapshot's bytes are not read through this view: the core asks for them as an effect
    // (`Ready.snapshotToRead`), so a large snapshot is never read on the core's thread.
}

/// In-memory `LogStore`, the reference implementation used by tests and the simulator.
public final class MemoryLogStore: LogStore {
    public private(set) var snapshotMeta: SnapshotMeta = .empty
    private var snapshotData: [UInt8] = []
    private var index = EntryIndex()
    public var log: [Entry] { index.entries }

    public init() {}

    public init(snapshot: Snapshot?, entries: [Entry]) {
        if let s = snapshot {
            snapshotMeta = s.meta
            snapshotData = s.data
        }
        index = EntryIndex(entries)
    }

    public func clone() -> MemoryLogStore {
        MemoryLogStore(snapshot: snapshot(), entries: log)
    }

    public var lastZxid: Zxid { index.last?.zxid ?? snapshotMeta.zxid }
    public func contains(_ zxid: Zxid) -> Bool { index.contains(zxid, base: snapshotMeta.zxid) }
    public func greatest(atOrBelow zxid: Zxid) -> Zxid { index.greatest(atOrBelow: zxid, base: snapshotMeta.zxid) }
    public func entries(after zxid: Zxid, limit: Int) -> [Entry] { index.entries(after: zxid, limit: limit) }
    public func entry(at zxid: Zxid) -> Entry? { index.entry(at: zxid) }

    public func snapshot() -> Snapshot? {
        snapshotMeta.zxid == .zero && snapshotMeta.config == nil && snapshotData.isEmpty
            ? nil : Snapshot(meta: snapshotMeta, data: snapshotData)
    }

    // MARK: writes (done by the shell)

    /// Drops every entry after `zxid`.
    public func truncate(after zxid: Zxid) { index.truncate(after: zxid) }

    /// Appends entries; they must follow the current last zxid.
    public func append(_ entries: [Entry]) {
        for e in entries {
            precondition(e.zxid > lastZxid, "append out of order: \(e.zxid) after \(lastZxid)")
            index.append([e])
        }
    }

    /// Replaces the whole log by a snapshot received from the leader.
    public func install(_ snapshot: Snapshot) {
        snapshotMeta = snapshot.meta
        snapshotData = snapshot.data
        index.removeAll()
    }

    /// Replaces the prefix up to `snapshot.zxid` (which must be in the log) by a snapshot
    /// taken locally. Entries after it are kept.
    public func compact(_ snapshot: Snapshot) {
        guard snapshot.zxid > snapshotMeta.zxid else { return }
        index.dropPrefix(through: snapshot.zxid)
        snapshotMeta = snapshot.meta
        snapshotData = snapshot.data
    }
}
