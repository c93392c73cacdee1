import ZKProtocol

/// What a prepared-but-not-yet-applied change looks like to later requests.
public struct ChangeRecord: Sendable {
    public var path: String
    public var exists: Bool
    public var acl: [ACL]
    public var version: Int32
    public var aversion: Int32
    public var storedCversion: Int32
    public var numChildren: Int32
    public var ephemeralOwner: Int64
}

/// Who sends a request, and when it is prepared.
public struct RequestContext: Sendable {
    public var sessionId: Int64
    public var cxid: Int32
    public var auth: AuthInfo
    public var time: Int64
    public init(sessionId: Int64, cxid: Int32, auth: AuthInfo, time: Int64) {
        self.sessionId = sessionId; self.cxid = cxid; self.auth = auth; self.time = time
    }
}

public struct PreparerOptions: Sendable {
    public var extendedTypesEnabled = false
    public var skipACL = false
    /// Hard quota limits refuse creates and setData (QUOTAEXCEEDED), as Apache's `zookeeper.enforceQuota`.
    public var enforceQuota = false
    public init(extendedTypesEnabled: Bool = false, skipACL: Bool = false, enforceQuota: Bool = false) {
        self.extendedTypesEnabled = extendedTypesEnabled; self.skipACL = skipACL; self.enforceQuota = enforceQuota
    }
}

public enum PrepOutcome: Sendable {
    case txn(Txn, changes: [ChangeRecord])
    case failed(ErrorCode)
    /// A multi that failed: per-op results (0 before the failing op, its code, -2 after).
    case multiFailed([TxnResult])
}

/// Validates write requests against the tree plus the changes still in flight, and turns them into
/// transactions (the leader's job). Pure: no I/O, time and randomness are passed in.
public final class Preparer {
    public let tree: DataTree
    public var options: PreparerOptions
    /// Writes refused by a quota, per namespace (the first component of the quota root), as Apache's
    /// `quota_exceeded_error_per_namespace`; never reset.
    public private(set) var quotaRefusals: [String: Int] = [:]
    private var outstanding: [String: (zxid: Int64, record: ChangeRecord)] = [:]
    private var outstandingOrder: [(zxid: Int64, paths: [String])] = []
    private var outstandingHead = 0

    public init(tree: DataTree, options: PreparerOptions = PreparerOptions()) {
        self.tree = tree; self.options = options
    }

    public var outstandingCount: Int { outstandingOrder.count - outstandingHead }

    /// Registers the changes of a txn that was handed to the log/replication with `zxid`.
    public func recordOutstanding(_ changes: [ChangeRecord], zxid: Int64) {
        guard !changes.isEmpty else { return }
        for c in changes { outstanding[c.path] = (zxid, c) }
        outstandingOrder.append((zxid, changes.map(\.path)))
    }

    /// Forgets change records up to `zxid` once the tree reflects them.
    public func applied(upTo zxid: Int64) {
        while outstandingHead < outstandingOrder.count, outstandingOrder[outstandingHead].zxid <= zxid {
            let e = outstandingOrder[outstandingHead]
            for p in e.paths where (outstanding[p]?.zxid ?? Int64.max) <= zxid { outstanding[p] = nil }
            outstandingHead += 1
        }
        if outstandingHead > 1024 && outstandingHead * 2 > outstandingOrder.count {
            outstandingOrder.removeFirst(outstandingHead); outstandingHead = 0
        }
    }

    /// Drops every in-flight record (leadership changed; the tree is the truth again).
    public func reset() { outstanding = [:]; outstandingOrder = []; outstandingHead = 0 }

    private func record(_ path: String, _ local: [String: ChangeRecord]) -> ChangeRecord? {
        if let r = local[path] { return r.exists ? r : nil }
        if let r = outstanding[path]?.record { return r.exists ? r : nil }
        guard let n = tree.node(path) else { return nil }
        return ChangeRecord(path: path, exists: true, acl: n.acl, version: n.version, aversion: n.aversion,
                            storedCversion: n.storedCversion, numChildren: Int32(n.children.count),
                            ephemeralOwner: n.ephemeralOwner)
    }

    private func allows(_ r: ChangeRecord, _ p: Perms, _ ctx: RequestContext) -> Bool {
        ACLPolicy.allows(r.acl, p, ctx.auth, skipACL: options.skipACL)
    }

    private static func nextVersion(_ v: Int32) -> Int32 { v == Int32.max ? Int32.min : (v &+ 1 == -1 ? 0 : v &+ 1) }

    private static func checkVersion(_ expected: Int32, _ current: Int32) -> Bool { expected == -1 || expected == current }

    // MARK: - Entry points

    public func prepareCreateSession(timeoutMs: Int32, passwd: [UInt8]) -> Txn {
        .createSession(timeoutMs: timeoutMs, passwd: passwd)
    }

    /// closeSession: the session's ephemerals are gone for later requests.
    public func prepareCloseSession(sessionId: Int64) -> PrepOutcome {
        var local: [String: ChangeRecord] = [:]
        for path in (tree.ephemerals[sessionId] ?? []).sorted(by: >) {
            guard var r = record(path, local) else { continue }
            let parentPath = PathValidation.parent(of: path)
            if var p = record(parentPath, local) { p.numChildren -= 1; local[parentPath] = p }
            r.exists = false; local[path] = r
        }
        return .txn(.closeSession, changes: Array(local.values))
    }

    public func prepare(_ request: Request, _ ctx: RequestContext) -> PrepOutcome {
        var local: [String: ChangeRecord] = [:]
        switch request {
        case .multi(let ops):
            var txns: [Txn] = []
            for (i, op) in ops.enumerated() {
                let sub: Request
                switch op {
                case .create(let r, let code): sub = .create(r, op: code)
                case .delete(let r): sub = .delete(r)
                case .setData(let r): sub = .setData(r)
                case .check(let r): sub = .check(r)
                case .getData, .getChildren: return .failed(.marshallingError)
                }
                switch prepareOne(sub, ctx, &local) {
                case .success(let t): txns.append(t)
                case .failure(let code):
                    var results: [TxnResult] = Array(repeating: .error(.ok), count: i)
                    results.append(.error(code))
                    results.append(contentsOf: Array(repeating: .error(.runtimeInconsistency), count: ops.count - i - 1))
                    return .multiFailed(results)
                }
            }
            return .txn(.multi(txns), changes: Array(local.values))
        default:
            switch prepareOne(request, ctx, &local) {
            case .success(let t): return .txn(t, changes: Array(local.values))
            case .failure(let code): return .failed(code)
            }
        }
    }

    private func prepareOne(_ request: Request, _ ctx: RequestContext, _ local: inout [String: ChangeRecord])
        -> Result<Txn, ErrorCode>
    {
        switch request {
        case .create(let r, let op): return prepareCreate(r, op: op, ctx, &local)
        case .delete(let r):
            let path = r.path
            if DataTree.systemPaths.contains(path) { return .failure(.badArguments) }
            if PathValidation.problem(path) != nil { return .failure(.badArguments) }
            let parentPath = PathValidation.parent(of: path)
            guard var parent = record(parentPath, local) else { return .failure(.noNode) }
            guard var node = record(path, local) else { return .failure(.noNode) }
            if !allows(parent, .delete, ctx) { return .failure(.noAuth) }
            if !Self.checkVersion(r.version, node.version) { return .failure(.badVersion) }
            if node.numChildren > 0 { return .failure(.notEmpty) }
            parent.numChildren -= 1
            local[parentPath] = parent
            node.exists = false
            local[path] = node
            return .success(.delete(path: path))
        case .setData(let r):
            if PathValidation.problem(r.path) != nil { return .failure(.badArguments) }
            guard var node = record(r.path, local) else { return .failure(.noNode) }
            if !allows(node, .write, ctx) { return .failure(.noAuth) }
            if !Self.checkVersion(r.version, node.version) { return .failure(.badVersion) }
            if options.enforceQuota, let refusal = tree.quotaRefusal(path: r.path, newNodes: 0,
                                                                     bytesDelta: Int64(r.data?.count ?? 0) - Int64(tree.node(r.path)?.data?.count ?? 0)) {
                return refused(refusal)
            }
            node.version = Self.nextVersion(node.version)
            local[r.path] = node
            return .success(.setData(path: r.path, data: r.data, version: node.version))
        case .setACL(let r):
            if PathValidation.problem(r.path) != nil { return .failure(.badArguments) }
            guard var node = record(r.path, local) else { return .failure(.noNode) }
            if !allows(node, .admin, ctx) { return .failure(.noAuth) }
            guard let acl = ACLPolicy.fixup(r.acl, ctx.auth) else { return .failure(.invalidACL) }
            if !Self.checkVersion(r.version, node.aversion) { return .failure(.badVersion) }
            node.aversion = Self.nextVersion(node.aversion)
            node.acl = acl
            local[r.path] = node
            return .success(.setACL(path: r.path, acl: acl, version: node.aversion))
        case .check(let r):
            if PathValidation.problem(r.path) != nil { return .failure(.badArguments) }
            guard let node = record(r.path, local) else { return .failure(.noNode) }
            if !allows(node, .read, ctx) { return .failure(.noAuth) }
            if !Self.checkVersion(r.version, node.version) { return .failure(.badVersion) }
            return .success(.check(path: r.path, version: node.version))
        case .deleteContainer(let r):
            guard let node = record(r.path, local) else { return .failure(.noNode) }
            if node.numChildren > 0 { return .failure(.notEmpty) }
            let parentPath = PathValidation.parent(of: r.path)
            if var parent = record(parentPath, local) { parent.numChildren -= 1; local[parentPath] = parent }
            var gone = node; gone.exists = false; local[r.path] = gone
            return .success(.delete(path: r.path))
        default:
            return .failure(.unimplemented)
        }
    }

    private func refused(_ r: QuotaRefusal) -> Result<Txn, ErrorCode> {
        quotaRefusals[String(r.root.split(separator: "/").first ?? ""), default: 0] += 1
        return .failure(.quotaExceeded)
    }

    private func prepareCreate(_ r: CreateRequest, op: OpCode, _ ctx: RequestContext,
                               _ local: inout [String: ChangeRecord]) -> Result<Txn, ErrorCode> {
        var mode: CreateMode
        switch op {
        case .createContainer:
            mode = .container
        case .createTTL:
            guard options.extendedTypesEnabled else { return .failure(.unimplemented) }
            guard let m = CreateMode(rawValue: r.flags), m.isTTL else { return .failure(.badArguments) }
            guard r.ttl > 0 && r.ttl <= EphemeralMarker.maxTTL else { return .failure(.badArguments) }
            mode = m
        default:
            guard let m = CreateMode(rawValue: r.flags), !m.isTTL else { return .failure(.badArguments) }
            mode = m == .container ? .persistent : m
        }
        if mode.isEphemeral && ctx.sessionId == 0 { return .failure(.badArguments) }
        let path = r.path
        guard let slash = path.lastIndex(of: "/"), !path.utf8.contains(0) else { return .failure(.badArguments) }
        guard let acl = ACLPolicy.fixup(r.acl, ctx.auth) else { return .failure(.invalidACL) }
        let parentPath = slash == path.startIndex ? "/" : String(path[..<slash])
        guard var parent = record(parentPath, local) else { return .failure(.noNode) }
        if !allows(parent, .create, ctx) { return .failure(.noAuth) }
        var fullPath = path
        if mode.isSequential {
            let n = parent.storedCversion
            fullPath += n < 0 ? String(n) : String(repeating: "0", count: max(0, 10 - String(n).count)) + String(n)
        }
        if PathValidation.problem(fullPath) != nil { return .failure(.badArguments) }
        if record(fullPath, local) != nil { return .failure(.nodeExists) }
        if EphemeralMarker.session(parent.ephemeralOwner) != nil { return .failure(.noChildrenForEphemerals) }
        if options.enforceQuota, let refusal = tree.quotaRefusal(path: fullPath, newNodes: 1, bytesDelta: Int64(r.data?.count ?? 0)) {
            return refused(refusal)
        }
        parent.storedCversion &+= 1
        parent.numChildren += 1
        local[parentPath] = parent
        let owner: Int64
        switch mode {
        case .ephemeral, .ephemeralSequential: owner = ctx.sessionId
        case .container: owner = EphemeralMarker.container
        case .persistentWithTTL, .persistentSequentialWithTTL: owner = EphemeralMarker.ttl(r.ttl)
        default: owner = 0
        }
        local[fullPath] = ChangeRecord(path: fullPath, exists: true, acl: acl, version: 0, aversion: 0, storedCversion: 0,
                                       numChildren: 0, ephemeralOwner: owner)
        return .success(.create(CreateTxn(path: fullPath, data: r.data, acl: acl, ephemeralOwner: owner,
                                          parentCVersion: parent.storedCversion)))
    }
}
