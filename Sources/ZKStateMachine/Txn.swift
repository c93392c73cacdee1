import NIOCore
import ZKProtocol

/// Who a transaction came from and when. Times are the leader's wall clock in ms since the epoch.
public struct TxnHeader: Hashable, Sendable {
    public var sessionId: Int64
    public var cxid: Int32
    public var zxid: Int64
    public var time: Int64
    public init(sessionId: Int64, cxid: Int32, zxid: Int64, time: Int64) {
        self.sessionId = sessionId; self.cxid = cxid; self.zxid = zxid; self.time = time
    }
}

/// Markers kept in `ephemeralOwner` for nodes that are not session-owned (hidden from clients as 0).
public enum EphemeralMarker {
    public static let container: Int64 = Int64.min
    public static let ttlMask: Int64 = Int64(bitPattern: 0xFF00_0000_0000_0000)
    public static let maxTTL: Int64 = 0xFF_FFFF_FFFF
    public static func ttl(_ ms: Int64) -> Int64 { ttlMask | ms }
    public static func isTTL(_ owner: Int64) -> Bool { owner != container && (owner & ttlMask) == ttlMask }
    public static func ttlValue(_ owner: Int64) -> Int64 { owner & maxTTL }
    /// The session that owns an ephemeral, or nil for persistent/container/TTL nodes.
    public static func session(_ owner: Int64) -> Int64? {
        if owner == 0 || owner == container || isTTL(owner) { return nil }
        return owner
    }
}

public struct CreateTxn: Hashable, Sendable {
    public var path: String
    public var data: [UInt8]?
    public var acl: [ACL]
    public var ephemeralOwner: Int64
    /// The parent's stored child-creation counter after this create.
    public var parentCVersion: Int32
    public init(path: String, data: [UInt8]?, acl: [ACL], ephemeralOwner: Int64, parentCVersion: Int32) {
        self.path = path; self.data = data; self.acl = acl; self.ephemeralOwner = ephemeralOwner
        self.parentCVersion = parentCVersion
    }
}

/// A state change, decided by the leader and applied by every replica in zxid order.
public indirect enum Txn: Hashable, Sendable {
    case createSession(timeoutMs: Int32, passwd: [UInt8])
    case closeSession
    case create(CreateTxn)
    case delete(path: String)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case setACL(path: String, acl: [ACL], version: Int32)
    case check(path: String, version: Int32)
    case multi([Txn])
    /// Replaces /zookeeper/config data (dynamic reconfiguration).
    case setConfig(data: [UInt8])
    /// No change (a new leader's first entry, or a barrier).
    case noop

    var tag: UInt8 {
        switch self {
        case .createSession: return 1
        case .closeSession: return 2
        case .create: return 3
        case .delete: return 4
        case .setData: return 5
        case .setACL: return 6
        case .check: return 7
        case .multi: return 8
        case .setConfig: return 9
        case .noop: return 10
        }
    }

    public func encode(into b: inout ByteBuffer) {
        b.writeInteger(tag)
        switch self {
        case .createSession(let t, let p): b.writeJuteInt(t); b.writeJuteBuffer(p)
        case .closeSession, .noop: break
        case .create(let c):
            b.writeJuteString(c.path); b.writeJuteBuffer(c.data); b.writeACLs(c.acl)
            b.writeJuteLong(c.ephemeralOwner); b.writeJuteInt(c.parentCVersion)
        case .delete(let p): b.writeJuteString(p)
        case .setData(let p, let d, let v): b.writeJuteString(p); b.writeJuteBuffer(d); b.writeJuteInt(v)
        case .setACL(let p, let a, let v): b.writeJuteString(p); b.writeACLs(a); b.writeJuteInt(v)
        case .check(let p, let v): b.writeJuteString(p); b.writeJuteInt(v)
        case .multi(let ts):
            b.writeJuteInt(Int32(ts.count))
            for t in ts { t.encode(into: &b) }
        case .setConfig(let d): b.writeJuteBuffer(d)
        }
    }

    public static func decode(from r: inout JuteReader) throws -> Txn {
        switch try r.readByte() {
        case 1: return .createSession(timeoutMs: try r.readInt(), passwd: try r.readBuffer() ?? [])
        case 2: return .closeSession
        case 3:
            return .create(CreateTxn(path: try r.readPath(), data: try r.readBuffer(), acl: try r.readACLs() ?? [],
                                     ephemeralOwner: try r.readLong(), parentCVersion: try r.readInt()))
        case 4: return .delete(path: try r.readPath())
        case 5: return .setData(path: try r.readPath(), data: try r.readBuffer(), version: try r.readInt())
        case 6: return .setACL(path: try r.readPath(), acl: try r.readACLs() ?? [], version: try r.readInt())
        case 7: return .check(path: try r.readPath(), version: try r.readInt())
        case 8:
            let n = try r.readInt()
            guard n >= 0 && n < 1_000_000 else { throw JuteError("bad multi count \(n)") }
            var ts: [Txn] = []
            for _ in 0..<n { ts.append(try decode(from: &r)) }
            return .multi(ts)
        case 9: return .setConfig(data: try r.readBuffer() ?? [])
        case 10: return .noop
        case let t: throw JuteError("unknown txn tag \(t)")
        }
    }
}

/// A transaction with its header, as written to the log and replicated.
public struct TxnEntry: Hashable, Sendable {
    public var header: TxnHeader
    public var txn: Txn
    public init(header: TxnHeader, txn: Txn) { self.header = header; self.txn = txn }

    public func encode(into b: inout ByteBuffer) {
        b.writeJuteLong(header.sessionId); b.writeJuteInt(header.cxid); b.writeJuteLong(header.zxid)
        b.writeJuteLong(header.time)
        txn.encode(into: &b)
    }
    public func encoded() -> [UInt8] {
        var b = ByteBufferAllocator().buffer(capacity: 128)
        encode(into: &b)
        return b.readBytes(length: b.readableBytes)!
    }
    public static func decode(from r: inout JuteReader) throws -> TxnEntry {
        let h = TxnHeader(sessionId: try r.readLong(), cxid: try r.readInt(), zxid: try r.readLong(), time: try r.readLong())
        return TxnEntry(header: h, txn: try Txn.decode(from: &r))
    }
    public static func decode(_ bytes: [UInt8]) throws -> TxnEntry {
        var r = JuteReader(ByteBuffer(bytes: bytes), maxLength: Int(Int32.max))
        return try decode(from: &r)
    }
}
