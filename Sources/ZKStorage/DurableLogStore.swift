#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import ZKProtocol
import ZKReplication
import ZKStateMachine

/// The replication core's `LogStore` on disk: snapshot files, the transaction log (records hold
/// `[kind][payload]`) and the hard state (epoch and vote, fsynced before any message depends on them).
/// Entries since the newest snapshot are also kept in memory for the core to read.
///
/// One thread at a time, as `TxnLog`: the shell's disk thread while it persists a Ready, the shell's
/// own thread otherwise (the core reads it only between Readys). `readSnapshot` touches only files and
/// may run anywhere.
public final class DurableLogStore: LogStore, @unchecked Sendable {
    public let txnLog: TxnLog
    public let snapshots: SnapshotStore
    private let hardStatePath: String
    public private(set) var snapshotMeta: SnapshotMeta = .empty
    private var log = EntryIndex()

    public init(dataDir: String, dataLogDir: String) throws {
        txnLog = try TxnLog(dataLogDir: dataLogDir)
        snapshots = try SnapshotStore(dataDir: dataDir)
        hardStatePath = snapshots.dir + "/hardstate"
    }

    /// What was on disk: the hard state, the snapshot (payload = the application's bytes) and the log entries after it.
    public struct Recovered {
        public var hardState: HardState
        public var snapshot: Snapshot?
        public var entryCount: Int
        public var truncatedBytes: Int
    }

    /// Data directories written by a standalone server of the previous release hold snapshots of the
    /// tree alone (no member list in front) and no hard state; every server now keeps the replicated
    /// layout. Such a directory is converted in place, each snapshot rewritten atomically (the log's
    /// records are already in this layout). Returns what was done, for the log, or nil.
    public func convertStandaloneLayout() throws -> String? {
        guard access(hardStatePath, F_OK) != 0 else { return nil }
        let zxids = try snapshots.list()
        guard let newest = zxids.max() else { return nil }
        for z in zxids {
            guard let plain = snapshots.load(zxid: z) else {
                throw StorageError(.corrupt, "snapshot \(snapshots.path(z)) cannot be read (checksum or length); "
                    + "move it aside to start from the other snapshots and the log")
            }
            guard Self.isPlainTree(plain, zxid: z) else { continue }   // converted by an earlier, interrupted run
            let bytes = Self.encodeSnapshotPayload(config: nil, data: plain)
            try bytes.withUnsafeBytes { try snapshots.write(zxid: z, payload: $0) }
        }
        // Written last: a conversion cut short runs again at the next start.
        try saveHardState(HardState(epoch: Zxid(raw: newest).epoch, votedFor: nil, commit: Zxid(raw: newest)))
        return "converted \(zxids.count) snapshot\(zxids.count == 1 ? "" : "s") in \(snapshots.dir) from the previous "
            + "standalone layout to the replicated one (newest 0x\(String(newest, radix: 16)))"
    }

    public func recover(warn: (String) -> Void) throws -> Recovered {
        var snap: Snapshot?
        if let (zxid, payload) = try snapshots.loadNewest(warn: warn) {
            let (config, data) = try Self.decodeSnapshotPayload(payload, path: snapshots.path(zxid))
            snap = Snapshot(meta: SnapshotMeta(zxid: Zxid(raw: zxid), config: config), data: data)
            snapshotMeta = snap!.meta
        }
        var recovered: [Entry] = []
        let report = try txnLog.recover(after: snapshotMeta.zxid.raw) { r in
            guard let kindByte = r.payload.first, let kind = Entry.Kind(rawValue: kindByte) else {
                throw StorageError(.corrupt, "log record 0x\(String(r.zxid, radix: 16)) has an unknown kind")
            }
            recovered.append(Entry(zxid: Zxid(raw: r.zxid), kind: kind, payload: Array(r.payload.dropFirst())))
        }
        log = EntryIndex(recovered)
        var hard = try loadHardState() ?? .initial
        if hard.commit < snapshotMeta.zxid { hard.commit = snapshotMeta.zxid }
        if let last = log.last?.zxid, hard.commit > last { hard.commit = max(snapshotMeta.zxid, last) }
        return Recovered(hardState: hard, snapshot: snap, entryCount: log.count, truncatedBytes: report.truncatedBytes)
    }

    // MARK: LogStore

    public var lastZxid: Zxid { log.last?.zxid ?? snapshotMeta.zxid }
    public func contains(_ zxid: Zxid) -> Bool { log.contains(zxid, base: snapshotMeta.zxid) }
    public func greatest(atOrBelow zxid: Zxid) -> Zxid { log.greatest(atOrBelow: zxid, base: snapshotMeta.zxid) }
    public func entries(after zxid: Zxid, limit: Int) -> [Entry] { log.entries(after: zxid, limit: limit) }

    /// The snapshot file at `zxid` with its metadata, checksum verified; nil if it cannot be read. Touches
    /// only that file, so it may run on any thread (the core asks for it as `Ready.snapshotToRead`).
    public func readSnapshot(zxid: Zxid) -> Snapshot? {
        guard let payload = snapshots.load(zxid: zxid.raw),
              let (config, data) = try? Self.decodeSnapshotPayload(payload, path: snapshots.path(zxid.raw)) else { return nil }
        return Snapshot(meta: SnapshotMeta(zxid: zxid, config: config), data: data)
    }

    // MARK: writes (by the shell, while handling a Ready)

    public func saveHardState(_ h: HardState) throws {
        var b: [UInt8] = Array("ZKHS".utf8)
        func put(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { b.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
        put(UInt64(h.epoch)); put(h.votedFor ?? 0); put(UInt64(bitPattern: h.commit.raw))
        put(UInt64(CRC32C.checksum(b)))
        try b.withUnsafeBytes { try FileIO.writeAtomically(hardStatePath, dir: snapshots.dir, [$0]) }
    }

    private func loadHardState() throws -> HardState? {
        guard access(hardStatePath, F_OK) == 0 else { return nil }
        let b = try FileIO.readAll(hardStatePath)
        guard b.count == 36, Array(b[0..<4]) == Array("ZKHS".utf8) else {
            throw StorageError(.corrupt, "\(hardStatePath) is damaged; it holds this server's vote and epoch. Restore the server's data from a healthy member.")
        }
        func get(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[o + $1]) } }
        guard UInt32(truncatingIfNeeded: get(28)) == CRC32C.checksum(b[0..<28]) else {
            throw StorageError(.corrupt, "\(hardStatePath) fails its checksum; restore the server's data from a healthy member.")
        }
        let vote = get(12)
        return HardState(epoch: UInt32(truncatingIfNeeded: get(4)), votedFor: vote == 0 ? nil : vote, commit: Zxid(raw: Int64(bitPattern: get(20))))
    }

    public func truncate(after zxid: Zxid) throws {
        log.truncate(after: zxid)
        try txnLog.truncate(after: zxid.raw)
    }

    public func append(_ new: [Entry]) throws {
        guard !new.isEmpty else { return }
        try txnLog.append(new.map { e in
            var p = [e.kind.rawValue]
            p.append(contentsOf: e.payload)
            return TxnLog.Record(zxid: e.zxid.raw, payload: p)
        })
        log.append(new)
    }

    public func sync() throws { try txnLog.sync() }

    /// Replaces log and snapshot by one received from the leader.
    public func install(_ s: Snapshot) throws {
        let payload = Self.encodeSnapshotPayload(config: s.meta.config, data: s.data)
        try payload.withUnsafeBytes { try snapshots.write(zxid: s.zxid.raw, payload: $0) }
        try txnLog.reset(after: s.zxid.raw)
        log.removeAll()
        snapshotMeta = s.meta
    }

    /// After the application took a snapshot of its state at `zxid` (applied, committed): persist it,
    /// start a new log segment, and forget in-memory entries up to it.
    public func compact(at zxid: Zxid, config: ClusterConfig?, data: [UInt8]) throws {
        try writeSnapshotFile(at: zxid, config: config, data: data)
        try adoptSnapshot(at: zxid, config: config)
    }

    /// Writes a snapshot file (temp file, fsync, rename). Touches nothing else, so it may run on another
    /// thread while the log is in use.
    public func writeSnapshotFile(at zxid: Zxid, config: ClusterConfig?, data: [UInt8]) throws {
        try data.withUnsafeBytes { try writeSnapshotFile(at: zxid, config: config, data: $0) }
    }

    /// The same, for application bytes held elsewhere (written as they are, not copied).
    public func writeSnapshotFile(at zxid: Zxid, config: ClusterConfig?, data: UnsafeRawBufferPointer) throws {
        let prefix = Self.encodeSnapshotPayload(config: config, data: [])
        try prefix.withUnsafeBytes { try snapshots.write(zxid: zxid.raw, parts: [$0, data]) }
    }

    /// Once the snapshot file is durable: start a new log segment and forget in-memory entries up to it.
    /// Call it when nothing else uses the store.
    public func adoptSnapshot(at zxid: Zxid, config: ClusterConfig?) throws {
        guard zxid > snapshotMeta.zxid else { return }
        if txnLog.lastZxid >= zxid.raw { try txnLog.roll(firstZxid: txnLog.lastZxid + 1) }
        log.dropPrefix(through: zxid)
        snapshotMeta = SnapshotMeta(zxid: zxid, config: config)
    }

    /// A tree image starts with its own zxid, which names the file; the replicated layout starts with
    /// the member list instead. At zxid 0 both begin with zeros: only a full decode tells them apart.
    static func isPlainTree(_ p: [UInt8], zxid: Int64) -> Bool {
        guard p.count >= 8 else { return false }
        let head = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(p[$1]) }
        guard head == UInt64(bitPattern: zxid) else { return false }
        if zxid != 0 { return true }
        var r = JuteReader(ByteBuffer(bytes: p), maxLength: Int(Int32.max))
        return (try? DataTree.deserialize(&r)) != nil
    }

    static func encodeSnapshotPayload(config: ClusterConfig?, data: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        let members = config?.members ?? []
        b.append(config == nil ? 0 : 1)
        b.append(contentsOf: withUnsafeBytes(of: UInt32(members.count).bigEndian, Array.init))
        for m in members {
            b.append(contentsOf: withUnsafeBytes(of: m.id.bigEndian, Array.init))
            b.append(m.role.rawValue)
        }
        b.append(contentsOf: data)
        return b
    }

    static func decodeSnapshotPayload(_ p: [UInt8], path: String) throws -> (ClusterConfig?, [UInt8]) {
        guard p.count >= 5 else { throw StorageError(.corrupt, "snapshot \(path) is too short") }
        let n = Int((0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(p[1 + $1]) })
        guard p.count >= 5 + n * 9 else { throw StorageError(.corrupt, "snapshot \(path) has a damaged member list") }
        var members: [ClusterConfig.Member] = []
        for i in 0..<n {
            let o = 5 + i * 9
            let id = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(p[o + $1]) }
            members.append(ClusterConfig.Member(id: id, role: ClusterConfig.Role(rawValue: p[o + 8]) ?? .participant))
        }
        let config = p[0] == 1 ? try ClusterConfig(members: members) : nil
        return (config, Array(p[(5 + n * 9)...]))
    }
}
