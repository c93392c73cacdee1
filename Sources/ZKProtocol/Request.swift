import NIOCore

/// One operation inside a multi (write) or multiRead request.
public enum MultiOp: Hashable, Sendable {
    case create(CreateRequest, op: OpCode)   // op: create, create2, createContainer, createTTL
    case delete(PathVersionRequest)
    case setData(SetDataRequest)
    case check(PathVersionRequest)
    case getData(PathWatchRequest)
    case getChildren(PathWatchRequest)

    public var opCode: OpCode {
        switch self {
        case .create(_, let op): return op
        case .delete: return .delete
        case .setData: return .setData
        case .check: return .check
        case .getData: return .getData
        case .getChildren: return .getChildren
        }
    }
    public var isRead: Bool {
        switch self { case .getData, .getChildren: return true; default: return false }
    }
    public var path: String {
        switch self {
        case .create(let r, _): return r.path
        case .delete(let r), .check(let r): return r.path
        case .setData(let r): return r.path
        case .getData(let r), .getChildren(let r): return r.path
        }
    }

    public func encode(into b: inout ByteBuffer) {
        MultiHeader(type: opCode.rawValue, done: false, err: -1).encode(into: &b)
        switch self {
        case .create(let r, let op): if op == .createTTL { r.encodeTTL(into: &b) } else { r.encode(into: &b) }
        case .delete(let r), .check(let r): r.encode(into: &b)
        case .setData(let r): r.encode(into: &b)
        case .getData(let r), .getChildren(let r): r.encode(into: &b)
        }
    }
}

/// A decoded client request body, by opcode.
public enum Request: Hashable, Sendable {
    case create(CreateRequest, op: OpCode)
    case delete(PathVersionRequest)
    case exists(PathWatchRequest)
    case getData(PathWatchRequest)
    case setData(SetDataRequest)
    case getACL(PathRequest)
    case setACL(SetACLRequest)
    case getChildren(PathWatchRequest)
    case getChildren2(PathWatchRequest)
    case sync(PathRequest)
    case ping
    case check(PathVersionRequest)
    case multi([MultiOp])
    case multiRead([MultiOp])
    case reconfig(ReconfigRequest)
    case checkWatches(PathTypeRequest)
    case removeWatches(PathTypeRequest)
    case deleteContainer(PathRequest)
    case auth(AuthPacket)
    case setWatches(SetWatchesRequest)
    case sasl([UInt8])
    case getEphemerals(PathRequest)
    case getAllChildrenNumber(PathRequest)
    case addWatch(PathTypeRequest)
    case whoAmI
    case closeSession

    public var opCode: OpCode {
        switch self {
        case .create(_, let op): return op
        case .delete: return .delete
        case .exists: return .exists
        case .getData: return .getData
        case .setData: return .setData
        case .getACL: return .getACL
        case .setACL: return .setACL
        case .getChildren: return .getChildren
        case .getChildren2: return .getChildren2
        case .sync: return .sync
        case .ping: return .ping
        case .check: return .check
        case .multi: return .multi
        case .multiRead: return .multiRead
        case .reconfig: return .reconfig
        case .checkWatches: return .checkWatches
        case .removeWatches: return .removeWatches
        case .deleteContainer: return .deleteContainer
        case .auth: return .auth
        case .setWatches(let s): return s.isVersion2 ? .setWatches2 : .setWatches
        case .sasl: return .sasl
        case .getEphemerals: return .getEphemerals
        case .getAllChildrenNumber: return .getAllChildrenNumber
        case .addWatch: return .addWatch
        case .whoAmI: return .whoAmI
        case .closeSession: return .closeSession
        }
    }

    /// Why a request body could not be decoded.
    public enum DecodeError: Error, Equatable {
        case unknownOpCode(Int32)
        case malformed(String)
    }

    /// Decodes the body that follows a RequestHeader of type `type`.
    public static func decode(type: Int32, body: inout JuteReader) throws(DecodeError) -> Request {
        guard let op = OpCode(rawValue: type) else { throw .unknownOpCode(type) }
        do {
            switch op {
            case .create, .create2, .createContainer: return .create(try CreateRequest(from: &body), op: op)
            case .createTTL: return .create(try CreateRequest(ttlFrom: &body), op: op)
            case .delete: return .delete(try PathVersionRequest(from: &body))
            case .exists: return .exists(try PathWatchRequest(from: &body))
            case .getData: return .getData(try PathWatchRequest(from: &body))
            case .setData: return .setData(try SetDataRequest(from: &body))
            case .getACL: return .getACL(try PathRequest(from: &body))
            case .setACL: return .setACL(try SetACLRequest(from: &body))
            case .getChildren: return .getChildren(try PathWatchRequest(from: &body))
            case .getChildren2: return .getChildren2(try PathWatchRequest(from: &body))
            case .sync: return .sync(try PathRequest(from: &body))
            case .ping: return .ping
            case .check: return .check(try PathVersionRequest(from: &body))
            case .multi, .multiRead:
                let ops = try decodeMulti(&body)
                if op == .multi {
                    if ops.contains(where: { $0.isRead }) { throw JuteError("read op inside multi") }
                    return .multi(ops)
                } else {
                    if ops.contains(where: { !$0.isRead }) { throw JuteError("write op inside multiRead") }
                    return .multiRead(ops)
                }
            case .reconfig: return .reconfig(try ReconfigRequest(from: &body))
            case .checkWatches: return .checkWatches(try PathTypeRequest(from: &body))
            case .removeWatches: return .removeWatches(try PathTypeRequest(from: &body))
            case .deleteContainer:
                return .deleteContainer(PathRequest(path: String(decoding: try body.readBuffer() ?? [], as: UTF8.self)))
            case .auth: return .auth(try AuthPacket(from: &body))
            case .setWatches: return .setWatches(try SetWatchesRequest(from: &body, version2: false))
            case .setWatches2: return .setWatches(try SetWatchesRequest(from: &body, version2: true))
            case .sasl: return .sasl(try body.readBuffer() ?? [])
            case .getEphemerals: return .getEphemerals(try PathRequest(from: &body))
            case .getAllChildrenNumber: return .getAllChildrenNumber(try PathRequest(from: &body))
            case .addWatch: return .addWatch(try PathTypeRequest(from: &body))
            case .whoAmI: return .whoAmI
            case .closeSession: return .closeSession
            case .notification, .createSession, .error: throw DecodeError.unknownOpCode(type)
            }
        } catch let e as DecodeError {
            throw e
        } catch let e as JuteError {
            throw .malformed(e.message)
        } catch {
            throw .malformed("\(error)")
        }
    }

    static func decodeMulti(_ r: inout JuteReader) throws -> [MultiOp] {
        var ops: [MultiOp] = []
        while true {
            let h = try MultiHeader(from: &r)
            if h.done { break }
            guard ops.count < 100_000 else { throw JuteError("too many ops in multi") }
            switch OpCode(rawValue: h.type) {
            case .create, .create2, .createContainer: ops.append(.create(try CreateRequest(from: &r), op: OpCode(rawValue: h.type)!))
            case .createTTL: ops.append(.create(try CreateRequest(ttlFrom: &r), op: .createTTL))
            case .delete: ops.append(.delete(try PathVersionRequest(from: &r)))
            case .setData: ops.append(.setData(try SetDataRequest(from: &r)))
            case .check: ops.append(.check(try PathVersionRequest(from: &r)))
            case .getData: ops.append(.getData(try PathWatchRequest(from: &r)))
            case .getChildren: ops.append(.getChildren(try PathWatchRequest(from: &r)))
            default: throw JuteError("op \(h.type) not allowed in multi")
            }
        }
        return ops
    }

    /// Encodes the request body (without the header).
    public func encodeBody(into b: inout ByteBuffer) {
        switch self {
        case .create(let r, let op): if op == .createTTL { r.encodeTTL(into: &b) } else { r.encode(into: &b) }
        case .delete(let r), .check(let r): r.encode(into: &b)
        case .exists(let r), .getData(let r), .getChildren(let r), .getChildren2(let r): r.encode(into: &b)
        case .setData(let r): r.encode(into: &b)
        case .getACL(let r), .sync(let r), .getEphemerals(let r), .getAllChildrenNumber(let r): r.encode(into: &b)
        case .setACL(let r): r.encode(into: &b)
        case .ping, .whoAmI, .closeSession: break
        case .multi(let ops), .multiRead(let ops):
            for op in ops { op.encode(into: &b) }
            MultiHeader(type: -1, done: true, err: -1).encode(into: &b)
        case .reconfig(let r): r.encode(into: &b)
        case .checkWatches(let r), .removeWatches(let r), .addWatch(let r): r.encode(into: &b)
        case .deleteContainer(let r): b.writeJuteBuffer(Array(r.path.utf8))
        case .auth(let a): a.encode(into: &b)
        case .setWatches(let s): s.encode(into: &b)
        case .sasl(let t): b.writeJuteBuffer(t)
        }
    }
}

/// One result inside a multi / multiRead response.
public enum MultiResult: Hashable, Sendable {
    case create(path: String)
    case create2(path: String, stat: Stat)
    case delete
    case setData(Stat)
    case check
    case getData(data: [UInt8]?, stat: Stat)
    case getChildren([String])
    case error(ErrorCode)

    public func encode(into b: inout ByteBuffer) {
        switch self {
        case .create(let p):
            MultiHeader(type: OpCode.create.rawValue, done: false, err: 0).encode(into: &b); b.writeJuteString(p)
        case .create2(let p, let s):
            MultiHeader(type: OpCode.create2.rawValue, done: false, err: 0).encode(into: &b); b.writeJuteString(p); s.encode(into: &b)
        case .delete: MultiHeader(type: OpCode.delete.rawValue, done: false, err: 0).encode(into: &b)
        case .setData(let s): MultiHeader(type: OpCode.setData.rawValue, done: false, err: 0).encode(into: &b); s.encode(into: &b)
        case .check: MultiHeader(type: OpCode.check.rawValue, done: false, err: 0).encode(into: &b)
        case .getData(let d, let s):
            MultiHeader(type: OpCode.getData.rawValue, done: false, err: 0).encode(into: &b); b.writeJuteBuffer(d); s.encode(into: &b)
        case .getChildren(let c):
            MultiHeader(type: OpCode.getChildren.rawValue, done: false, err: 0).encode(into: &b); b.writeJuteStrings(c)
        case .error(let e):
            MultiHeader(type: -1, done: false, err: e.rawValue).encode(into: &b); b.writeJuteInt(e.rawValue)
        }
    }

    public static func decodeList(_ r: inout JuteReader) throws -> [MultiResult] {
        var out: [MultiResult] = []
        while true {
            let h = try MultiHeader(from: &r)
            if h.done { return out }
            switch h.type {
            case OpCode.create.rawValue: out.append(.create(path: try r.readPath()))
            case OpCode.create2.rawValue: out.append(.create2(path: try r.readPath(), stat: try Stat(from: &r)))
            case OpCode.delete.rawValue: out.append(.delete)
            case OpCode.setData.rawValue: out.append(.setData(try Stat(from: &r)))
            case OpCode.check.rawValue: out.append(.check)
            case OpCode.getData.rawValue: out.append(.getData(data: try r.readBuffer(), stat: try Stat(from: &r)))
            case OpCode.getChildren.rawValue: out.append(.getChildren(try r.readStringVector() ?? []))
            case -1: out.append(.error(ErrorCode(try r.readInt())))
            default: throw JuteError("unknown multi result type \(h.type)")
            }
        }
    }
}

/// A reply body. Error replies carry no body (header only).
public enum Response: Hashable, Sendable {
    case empty
    case path(String)
    case pathStat(String, Stat)
    case stat(Stat)
    case data([UInt8]?, Stat)
    case acl([ACL], Stat)
    case children([String])
    case children2([String], Stat)
    case multi([MultiResult])
    case strings([String])
    case number(Int32)
    case whoAmI([ClientInfo])

    public func encode(into b: inout ByteBuffer) {
        switch self {
        case .empty: break
        case .path(let p): b.writeJuteString(p)
        case .pathStat(let p, let s): b.writeJuteString(p); s.encode(into: &b)
        case .stat(let s): s.encode(into: &b)
        case .data(let d, let s): b.writeJuteBuffer(d); s.encode(into: &b)
        case .acl(let a, let s): b.writeACLs(a); s.encode(into: &b)
        case .children(let c), .strings(let c): b.writeJuteStrings(c)
        case .children2(let c, let s): b.writeJuteStrings(c); s.encode(into: &b)
        case .multi(let rs):
            for r in rs { r.encode(into: &b) }
            MultiHeader(type: -1, done: true, err: -1).encode(into: &b)
        case .number(let n): b.writeJuteInt(n)
        case .whoAmI(let infos):
            b.writeJuteInt(Int32(infos.count))
            for i in infos { b.writeJuteString(i.authScheme); b.writeJuteString(i.user) }
        }
    }
}
