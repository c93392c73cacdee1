import NIOCore
import ZKProtocol

/// Server-to-server messages of the ZooKeeper layer, carried as opaque application messages of the
/// replication protocol: followers forward writes and session events to the leader, the leader
/// answers requests that fail validation (successful ones are answered when their txn commits).
enum ForwardMessage: Equatable {
    case request(sessionId: Int64, cxid: Int32, auth: [Id], op: Int32, body: [UInt8])
    case createSession(sessionId: Int64, timeoutMs: Int32, passwd: [UInt8])
    case closeSession(sessionId: Int64, cxid: Int32)
    case touch([Int64])
    case failed(sessionId: Int64, cxid: Int32, err: Int32, barrier: Int64)
    case multiFailed(sessionId: Int64, cxid: Int32, errs: [Int32], barrier: Int64)

    /// Handled by the leader, which holds it during a hand-over (answers to a follower are not).
    var isLeaderWork: Bool {
        switch self {
        case .request, .createSession, .closeSession: return true
        case .touch, .failed, .multiFailed: return false
        }
    }

    func encode() -> [UInt8] {
        var b = ByteBufferAllocator().buffer(capacity: 64)
        switch self {
        case .request(let s, let c, let auth, let op, let body):
            b.writeInteger(UInt8(1)); b.writeJuteLong(s); b.writeJuteInt(c)
            b.writeJuteInt(Int32(auth.count)); for a in auth { a.encode(into: &b) }
            b.writeJuteInt(op); b.writeJuteBuffer(body)
        case .createSession(let s, let t, let p):
            b.writeInteger(UInt8(2)); b.writeJuteLong(s); b.writeJuteInt(t); b.writeJuteBuffer(p)
        case .closeSession(let s, let c):
            b.writeInteger(UInt8(3)); b.writeJuteLong(s); b.writeJuteInt(c)
        case .touch(let ids):
            b.writeInteger(UInt8(4)); b.writeJuteInt(Int32(ids.count)); for i in ids { b.writeJuteLong(i) }
        case .failed(let s, let c, let e, let z):
            b.writeInteger(UInt8(5)); b.writeJuteLong(s); b.writeJuteInt(c); b.writeJuteInt(e); b.writeJuteLong(z)
        case .multiFailed(let s, let c, let errs, let z):
            b.writeInteger(UInt8(6)); b.writeJuteLong(s); b.writeJuteInt(c); b.writeJuteLong(z)
            b.writeJuteInt(Int32(errs.count)); for e in errs { b.writeJuteInt(e) }
        }
        return Array(b.readableBytesView)
    }

    static func decode(_ bytes: [UInt8]) throws -> ForwardMessage {
        var r = JuteReader(ByteBuffer(bytes: bytes), maxLength: 64 << 20)
        switch try r.readByte() {
        case 1:
            let s = try r.readLong(), c = try r.readInt()
            let n = try r.readInt()
            guard n >= 0 && n < 1000 else { throw JuteError("bad auth count") }
            var auth: [Id] = []
            for _ in 0..<n { auth.append(try Id(from: &r)) }
            return .request(sessionId: s, cxid: c, auth: auth, op: try r.readInt(), body: try r.readBuffer() ?? [])
        case 2: return .createSession(sessionId: try r.readLong(), timeoutMs: try r.readInt(), passwd: try r.readBuffer() ?? [])
        case 3: return .closeSession(sessionId: try r.readLong(), cxid: try r.readInt())
        case 4:
            let n = try r.readInt()
            guard n >= 0 && n < 10_000_000 else { throw JuteError("bad touch count") }
            var ids: [Int64] = []
            for _ in 0..<n { ids.append(try r.readLong()) }
            return .touch(ids)
        case 5: return .failed(sessionId: try r.readLong(), cxid: try r.readInt(), err: try r.readInt(), barrier: try r.readLong())
        case 6:
            let s = try r.readLong(), c = try r.readInt(), z = try r.readLong()
            let n = try r.readInt()
            guard n >= 0 && n < 1_000_000 else { throw JuteError("bad result count") }
            var errs: [Int32] = []
            for _ in 0..<n { errs.append(try r.readInt()) }
            return .multiFailed(sessionId: s, cxid: c, errs: errs, barrier: z)
        case let t: throw JuteError("unknown forward message \(t)")
        }
    }
}
