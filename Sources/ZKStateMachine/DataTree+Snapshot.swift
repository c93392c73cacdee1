import NIOCore
import ZKProtocol

/// What a snapshot holds: the nodes, the session table, the last applied zxid and the digest, as
/// of one moment. Until the tree is told `thaw()`, it copies a node before changing it, so the image's
/// node objects stay unchanged and the image can be serialized on another thread.
public struct DataTreeImage: @unchecked Sendable {
    let nodes: NodeTable
    let sessions: [Int64: SessionInfo]
    public let lastZxid: Int64
    public let digest: UInt64
    public var nodeCount: Int { nodes.count }

    public func serialize(into b: inout ByteBuffer) {
        b.writeJuteLong(lastZxid)
        b.writeJuteInt(Int32(sessions.count))
        for (id, s) in sessions.sorted(by: { $0.key < $1.key }) {
            b.writeJuteLong(id); b.writeJuteInt(s.timeoutMs); b.writeJuteBuffer(s.passwd)
        }
        b.writeJuteInt(Int32(nodes.count))
        for (path, n) in nodes {
            b.writeJuteString(path); b.writeJuteBuffer(n.data); b.writeACLs(n.acl)
            b.writeJuteLong(n.czxid); b.writeJuteLong(n.mzxid); b.writeJuteLong(n.pzxid)
            b.writeJuteLong(n.ctime); b.writeJuteLong(n.mtime)
            b.writeJuteInt(n.version); b.writeJuteInt(n.storedCversion); b.writeJuteInt(n.aversion)
            b.writeJuteLong(n.ephemeralOwner)
        }
        b.writeInteger(digest, endianness: .big)
    }

    /// Bytes of a snapshot of this image (the format `DataTree.deserialize` reads).
    public func serialized(estimatedSize: Int) -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: estimatedSize)
        serialize(into: &b)
        return b
    }
}

extension DataTree {
    /// Serializes the whole tree and session table (a consistent image at `lastZxid`).
    public func serialize(into b: inout ByteBuffer) {
        currentImage.serialize(into: &b)
    }

    /// A capacity that holds this tree's snapshot without growing the buffer.
    public var estimatedSnapshotSize: Int { 64 + approximateDataSize + nodes.count * 96 }

    public func serialized() -> ByteBuffer {
        currentImage.serialized(estimatedSize: estimatedSnapshotSize)
    }

    /// Rebuilds a tree from `serialize` output; checks the stored digest.
    public static func deserialize(_ r: inout JuteReader) throws -> DataTree {
        let t = DataTree()
        try t.load(&r)
        return t
    }

    private func load(_ r: inout JuteReader) throws {
        nodes.removeAll(keepingCapacity: true)
        let zxid = try r.readLong()
        let sessionCount = try r.readInt()
        guard sessionCount >= 0 else { throw JuteError("bad session count") }
        var sessions: [Int64: SessionInfo] = [:]
        for _ in 0..<sessionCount {
            let id = try r.readLong()
            sessions[id] = SessionInfo(timeoutMs: try r.readInt(), passwd: try r.readBuffer() ?? [])
        }
        let count = try r.readInt()
        guard count >= 0 else { throw JuteError("bad node count") }
        nodes.reserveCapacity(Int(count))
        for _ in 0..<count {
            let path = try r.readPath()
            let data = try r.readBuffer()
            let n = Znode(data: data, acl: interned(try r.readACLs() ?? []), zxid: 0, time: 0, ephemeralOwner: 0)
            n.czxid = try r.readLong(); n.mzxid = try r.readLong(); n.pzxid = try r.readLong()
            n.ctime = try r.readLong(); n.mtime = try r.readLong()
            n.version = try r.readInt(); n.storedCversion = try r.readInt(); n.aversion = try r.readInt()
            n.ephemeralOwner = try r.readLong()
            nodes[path] = n
        }
        guard let stored = r.buffer.readInteger(endianness: .big, as: UInt64.self) else { throw JuteError("missing digest") }
        try restoreIndexes(sessions: sessions, lastZxid: zxid)
        guard stored == digest else { throw JuteError("snapshot digest mismatch: stored \(stored), computed \(digest)") }
        rebuildQuotas()
    }
}
