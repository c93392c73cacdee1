import ZKReplication

/// A disk that distinguishes written from fsynced state. A crash keeps only what was
/// fsynced; a restart reads it back.
public final class FakeDisk {
    enum Op {
        case hard(HardState)
        case truncate(Zxid)
        case install(Snapshot)
        case append([Entry])
        case compact(Snapshot)
    }

    /// What a running process sees (written, maybe not yet durable).
    public private(set) var written = MemoryLogStore()
    public private(set) var writtenHard = HardState.initial
    /// What survives a crash.
    public private(set) var synced = MemoryLogStore()
    public private(set) var syncedHard = HardState.initial
    private var pending: [Op] = []
    public private(set) var syncCount = 0

    public init() {}

    private func perform(_ op: Op, on store: MemoryLogStore, hard: inout HardState) {
        switch op {
        case .hard(let h): hard = h
        case .truncate(let z): store.truncate(after: z)
        case .install(let s): store.install(s)
        case .append(let e): store.append(e)
        case .compact(let s): store.compact(s)
        }
    }

    func write(_ op: Op) {
        perform(op, on: written, hard: &writtenHard)
        pending.append(op)
    }

    public struct OutOfOrder: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes one Ready's durable part. An append that does not follow the log on disk means the disk
    /// work of two Readys overlapped or ran out of order: refused, with what it found.
    public func persist(_ w: DiskWrite) throws {
        if let h = w.hardState { write(.hard(h)) }
        if let z = w.truncateAfter { write(.truncate(z)) }
        if let s = w.snapshot { write(.install(s)) }
        if let first = w.entries.first, first.zxid <= written.lastZxid {
            throw OutOfOrder(description: "append of \(first.zxid) after \(written.lastZxid) on disk: disk work out of order")
        }
        if !w.entries.isEmpty { write(.append(w.entries)) }
    }

    public func compact(_ s: Snapshot) { write(.compact(s)) }

    public func fsync() {
        for op in pending { perform(op, on: synced, hard: &syncedHard) }
        pending = []
        syncCount += 1
    }

    /// Loses the unsynced writes except the first `keepingUnsynced` of them (which the disk
    /// happened to flush); `written` becomes what is durable.
    public func crash(keepingUnsynced: Int = 0) {
        for op in pending.prefix(max(0, keepingUnsynced)) { perform(op, on: synced, hard: &syncedHard) }
        pending = []
        written = synced.clone()
        writtenHard = syncedHard
    }
}
