import NIOCore
import ZKProtocol

extension DataTree {
    /// Serializes the whole tree and session table (a consistent image at `lastZxid`).
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

    public func serialized() -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: 64 + approximateDataSize + nodes.count * 96)
        serialize(into: &b)
        return b
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
        var aclCache: [[ACL]: [ACL]] = [:]
        for _ in 0..<count {
            let path = try r.readPath()
            let data = try r.readBuffer()
            var acl = try r.readACLs() ?? []
            if let cached = aclCache[acl] { acl = cached } else { aclCache[acl] = acl }
            let n = Znode(data: data, acl: acl, zxid: 0, time: 0, ephemeralOwner: 0)
            n.czxid = try r.readLong(); n.mzxid = try r.readLong(); n.pzxid = try r.readLong()
            n.ctime = try r.readLong(); n.mtime = try r.readLong()
            n.version = try r.readInt(); n.storedCversion = try r.readInt(); n.aversion = try r.readInt()
            n.ephemeralOwner = try r.readLong()
            nodes[path] = n
        }
        guard let stored = r.buffer.readInteger(endianness: .big, as: UInt64.self) else { throw JuteError("missing digest") }
        try restoreIndexes(sessions: sessions, lastZxid: zxid)
        guard stored == digest else { throw JuteError("snapshot digest mismatch: stored \(stored), computed \(digest)") }
    }
}
