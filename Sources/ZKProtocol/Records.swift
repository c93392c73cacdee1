import NIOCore

public struct Id: Hashable, Sendable, JuteRecord {
    public var scheme: String
    public var id: String
    public init(scheme: String, id: String) { self.scheme = scheme; self.id = id }
    public init(from r: inout JuteReader) throws {
        scheme = try r.readString() ?? ""
        id = try r.readString() ?? ""
    }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(scheme); b.writeJuteString(id) }
    public static let anyone = Id(scheme: "world", id: "anyone")
}

public struct ACL: Hashable, Sendable, JuteRecord {
    public var perms: Perms
    public var id: Id
    public init(perms: Perms, id: Id) { self.perms = perms; self.id = id }
    public init(from r: inout JuteReader) throws {
        perms = Perms(rawValue: try r.readInt())
        id = try Id(from: &r)
    }
    public func encode(into b: inout ByteBuffer) { b.writeJuteInt(perms.rawValue); id.encode(into: &b) }

    public static let openUnsafe: [ACL] = [ACL(perms: .all, id: .anyone)]
    public static let readUnsafe: [ACL] = [ACL(perms: .read, id: .anyone)]
    public static let creatorAll: [ACL] = [ACL(perms: .all, id: Id(scheme: "auth", id: ""))]
}

extension JuteReader {
    public mutating func readACLs() throws -> [ACL]? { try readVector { try ACL(from: &$0) } }
}
extension ByteBuffer {
    public mutating func writeACLs(_ acls: [ACL]?) {
        guard let acls else { writeJuteInt(-1); return }
        writeJuteInt(Int32(acls.count))
        for a in acls { a.encode(into: &self) }
    }
}

/// Znode metadata as returned to clients (68 bytes on the wire).
public struct Stat: Hashable, Sendable, JuteRecord {
    public var czxid: Int64 = 0
    public var mzxid: Int64 = 0
    public var ctime: Int64 = 0
    public var mtime: Int64 = 0
    public var version: Int32 = 0
    public var cversion: Int32 = 0
    public var aversion: Int32 = 0
    public var ephemeralOwner: Int64 = 0
    public var dataLength: Int32 = 0
    public var numChildren: Int32 = 0
    public var pzxid: Int64 = 0
    public init() {}
    public init(czxid: Int64, mzxid: Int64, ctime: Int64, mtime: Int64, version: Int32, cversion: Int32,
                aversion: Int32, ephemeralOwner: Int64, dataLength: Int32, numChildren: Int32, pzxid: Int64) {
        self.czxid = czxid; self.mzxid = mzxid; self.ctime = ctime; self.mtime = mtime
        self.version = version; self.cversion = cversion; self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner; self.dataLength = dataLength; self.numChildren = numChildren
        self.pzxid = pzxid
    }
    public init(from r: inout JuteReader) throws {
        czxid = try r.readLong(); mzxid = try r.readLong(); ctime = try r.readLong(); mtime = try r.readLong()
        version = try r.readInt(); cversion = try r.readInt(); aversion = try r.readInt()
        ephemeralOwner = try r.readLong(); dataLength = try r.readInt(); numChildren = try r.readInt()
        pzxid = try r.readLong()
    }
    public func encode(into b: inout ByteBuffer) {
        b.writeJuteLong(czxid); b.writeJuteLong(mzxid); b.writeJuteLong(ctime); b.writeJuteLong(mtime)
        b.writeJuteInt(version); b.writeJuteInt(cversion); b.writeJuteInt(aversion)
        b.writeJuteLong(ephemeralOwner); b.writeJuteInt(dataLength); b.writeJuteInt(numChildren)
        b.writeJuteLong(pzxid)
    }
}

// MARK: - Session handshake

public struct ConnectRequest: Hashable, Sendable, JuteEncodable {
    public var protocolVersion: Int32 = 0
    public var lastZxidSeen: Int64 = 0
    public var timeOut: Int32 = 30_000
    public var sessionId: Int64 = 0
    public var passwd: [UInt8] = [UInt8](repeating: 0, count: 16)
    /// nil when the client omitted the trailing byte (pre-3.4 clients).
    public var readOnly: Bool? = false
    public init() {}
    public init(from r: inout JuteReader) throws {
        protocolVersion = try r.readInt()
        lastZxidSeen = try r.readLong()
        timeOut = try r.readInt()
        sessionId = try r.readLong()
        passwd = try r.readBuffer() ?? []
        readOnly = r.isAtEnd ? nil : try r.readBool()
    }
    public func encode(into b: inout ByteBuffer) {
        b.writeJuteInt(protocolVersion); b.writeJuteLong(lastZxidSeen); b.writeJuteInt(timeOut)
        b.writeJuteLong(sessionId); b.writeJuteBuffer(passwd)
        if let readOnly { b.writeJuteBool(readOnly) }
    }
}

public struct ConnectResponse: Hashable, Sendable, JuteEncodable {
    public var protocolVersion: Int32 = 0
    public var timeOut: Int32
    public var sessionId: Int64
    public var passwd: [UInt8]
    /// nil: omit the trailing byte (answering a client that did not send it).
    public var readOnly: Bool?
    public init(timeOut: Int32, sessionId: Int64, passwd: [UInt8], readOnly: Bool?) {
        self.timeOut = timeOut; self.sessionId = sessionId; self.passwd = passwd; self.readOnly = readOnly
    }
    public init(from r: inout JuteReader) throws {
        protocolVersion = try r.readInt(); timeOut = try r.readInt(); sessionId = try r.readLong()
        passwd = try r.readBuffer() ?? []
        readOnly = r.isAtEnd ? nil : try r.readBool()
    }
    public func encode(into b: inout ByteBuffer) {
        b.writeJuteInt(protocolVersion); b.writeJuteInt(timeOut); b.writeJuteLong(sessionId)
        b.writeJuteBuffer(passwd)
        if let readOnly { b.writeJuteBool(readOnly) }
    }
    /// The reply for an expired/invalid session.
    public static func invalid(readOnlyByte: Bool) -> ConnectResponse {
        ConnectResponse(timeOut: 0, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16),
                        readOnly: readOnlyByte ? false : nil)
    }
}

public struct RequestHeader: Hashable, Sendable, JuteRecord {
    public var xid: Int32
    public var type: Int32
    public init(xid: Int32, type: Int32) { self.xid = xid; self.type = type }
    public init(from r: inout JuteReader) throws { xid = try r.readInt(); type = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteInt(xid); b.writeJuteInt(type) }
}

public struct ReplyHeader: Hashable, Sendable, JuteRecord {
    public var xid: Int32
    public var zxid: Int64
    public var err: Int32
    public init(xid: Int32, zxid: Int64, err: Int32) { self.xid = xid; self.zxid = zxid; self.err = err }
    public init(from r: inout JuteReader) throws { xid = try r.readInt(); zxid = try r.readLong(); err = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteInt(xid); b.writeJuteLong(zxid); b.writeJuteInt(err) }
}

public struct WatcherEvent: Hashable, Sendable, JuteRecord {
    public var type: Int32
    public var state: Int32
    public var path: String
    public init(type: EventType, state: KeeperState = .syncConnected, path: String) {
        self.type = type.rawValue; self.state = state.rawValue; self.path = path
    }
    public init(from r: inout JuteReader) throws {
        type = try r.readInt(); state = try r.readInt(); path = try r.readString() ?? ""
    }
    public func encode(into b: inout ByteBuffer) { b.writeJuteInt(type); b.writeJuteInt(state); b.writeJuteString(path) }
}

public struct ClientInfo: Hashable, Sendable {
    public var authScheme: String
    public var user: String
    public init(authScheme: String, user: String) { self.authScheme = authScheme; self.user = user }
}

// MARK: - Requests with bodies

public struct CreateRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public var data: [UInt8]?
    public var acl: [ACL]
    public var flags: Int32
    /// Only for createTTL (op 21); -1 otherwise.
    public var ttl: Int64 = -1
    public init(path: String, data: [UInt8]?, acl: [ACL], flags: Int32, ttl: Int64 = -1) {
        self.path = path; self.data = data; self.acl = acl; self.flags = flags; self.ttl = ttl
    }
    public init(from r: inout JuteReader) throws {
        path = try r.readPath(); data = try r.readBuffer(); acl = try r.readACLs() ?? []; flags = try r.readInt()
    }
    public init(ttlFrom r: inout JuteReader) throws {
        try self.init(from: &r)
        ttl = try r.readLong()
    }
    public func encode(into b: inout ByteBuffer) {
        b.writeJuteString(path); b.writeJuteBuffer(data); b.writeACLs(acl); b.writeJuteInt(flags)
    }
    public func encodeTTL(into b: inout ByteBuffer) { encode(into: &b); b.writeJuteLong(ttl) }
}

public struct PathVersionRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public var version: Int32
    public init(path: String, version: Int32) { self.path = path; self.version = version }
    public init(from r: inout JuteReader) throws { path = try r.readPath(); version = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(path); b.writeJuteInt(version) }
}

public struct PathWatchRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public var watch: Bool
    public init(path: String, watch: Bool) { self.path = path; self.watch = watch }
    public init(from r: inout JuteReader) throws { path = try r.readPath(); watch = try r.readBool() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(path); b.writeJuteBool(watch) }
}

public struct SetDataRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public var data: [UInt8]?
    public var version: Int32
    public init(path: String, data: [UInt8]?, version: Int32) { self.path = path; self.data = data; self.version = version }
    public init(from r: inout JuteReader) throws { path = try r.readPath(); data = try r.readBuffer(); version = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(path); b.writeJuteBuffer(data); b.writeJuteInt(version) }
}

public struct SetACLRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public var acl: [ACL]
    public var version: Int32
    public init(path: String, acl: [ACL], version: Int32) { self.path = path; self.acl = acl; self.version = version }
    public init(from r: inout JuteReader) throws { path = try r.readPath(); acl = try r.readACLs() ?? []; version = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(path); b.writeACLs(acl); b.writeJuteInt(version) }
}

public struct ReconfigRequest: Hashable, Sendable, JuteRecord {
    public var joiningServers: String?
    public var leavingServers: String?
    public var newMembers: String?
    public var curConfigId: Int64
    public init(joiningServers: String?, leavingServers: String?, newMembers: String?, curConfigId: Int64) {
        self.joiningServers = joiningServers; self.leavingServers = leavingServers
        self.newMembers = newMembers; self.curConfigId = curConfigId
    }
    public init(from r: inout JuteReader) throws {
        joiningServers = try r.readString(); leavingServers = try r.readString()
        newMembers = try r.readString(); curConfigId = try r.readLong()
    }
    public func encode(into b: inout ByteBuffer) {
        b.writeJuteString(joiningServers); b.writeJuteString(leavingServers)
        b.writeJuteString(newMembers); b.writeJuteLong(curConfigId)
    }
}

public struct AuthPacket: Hashable, Sendable, JuteRecord {
    public var type: Int32
    public var scheme: String
    public var auth: [UInt8]
    public init(scheme: String, auth: [UInt8]) { self.type = 0; self.scheme = scheme; self.auth = auth }
    public init(from r: inout JuteReader) throws {
        type = try r.readInt(); scheme = try r.readString() ?? ""; auth = try r.readBuffer() ?? []
    }
    public func encode(into b: inout ByteBuffer) { b.writeJuteInt(type); b.writeJuteString(scheme); b.writeJuteBuffer(auth) }
}

public struct SetWatchesRequest: Hashable, Sendable, JuteRecord {
    public var relativeZxid: Int64
    public var dataWatches: [String]
    public var existWatches: [String]
    public var childWatches: [String]
    public var persistentWatches: [String]
    public var persistentRecursiveWatches: [String]
    /// true for setWatches2 (op 105), which carries the two persistent lists.
    public var isVersion2: Bool
    public init(relativeZxid: Int64, dataWatches: [String], existWatches: [String], childWatches: [String],
                persistentWatches: [String] = [], persistentRecursiveWatches: [String] = [], isVersion2: Bool = false) {
        self.relativeZxid = relativeZxid; self.dataWatches = dataWatches; self.existWatches = existWatches
        self.childWatches = childWatches; self.persistentWatches = persistentWatches
        self.persistentRecursiveWatches = persistentRecursiveWatches; self.isVersion2 = isVersion2
    }
    public init(from r: inout JuteReader) throws { try self.init(from: &r, version2: false) }
    public init(from r: inout JuteReader, version2: Bool) throws {
        relativeZxid = try r.readLong()
        dataWatches = try r.readStringVector() ?? []
        existWatches = try r.readStringVector() ?? []
        childWatches = try r.readStringVector() ?? []
        isVersion2 = version2
        if version2 {
            persistentWatches = try r.readStringVector() ?? []
            persistentRecursiveWatches = try r.readStringVector() ?? []
        } else {
            persistentWatches = []; persistentRecursiveWatches = []
        }
    }
    public func encode(into b: inout ByteBuffer) {
        b.writeJuteLong(relativeZxid); b.writeJuteStrings(dataWatches); b.writeJuteStrings(existWatches)
        b.writeJuteStrings(childWatches)
        if isVersion2 { b.writeJuteStrings(persistentWatches); b.writeJuteStrings(persistentRecursiveWatches) }
    }
}

public struct PathTypeRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public var type: Int32
    public init(path: String, type: Int32) { self.path = path; self.type = type }
    public init(from r: inout JuteReader) throws { path = try r.readPath(); type = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(path); b.writeJuteInt(type) }
}

public struct PathRequest: Hashable, Sendable, JuteRecord {
    public var path: String
    public init(path: String) { self.path = path }
    public init(from r: inout JuteReader) throws { path = try r.readPath() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteString(path) }
}

public struct MultiHeader: Hashable, Sendable, JuteRecord {
    public var type: Int32
    public var done: Bool
    public var err: Int32
    public init(type: Int32, done: Bool, err: Int32) { self.type = type; self.done = done; self.err = err }
    public init(from r: inout JuteReader) throws { type = try r.readInt(); done = try r.readBool(); err = try r.readInt() }
    public func encode(into b: inout ByteBuffer) { b.writeJuteInt(type); b.writeJuteBool(done); b.writeJuteInt(err) }
}
