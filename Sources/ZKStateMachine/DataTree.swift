import NIOCore
import ZKProtocol

/// One znode. A class so the tree can mutate nodes in place.
public final class Znode {
    public var data: [UInt8]?
    public var acl: [ACL]
    public var czxid: Int64
    public var mzxid: Int64
    public var pzxid: Int64
    public var ctime: Int64
    public var mtime: Int64
    public var version: Int32
    /// Number of children ever created (the reported cversion is derived from it).
    public var storedCversion: Int32
    public var aversion: Int32
    public var ephemeralOwner: Int64
    public var children: Set<String>
    /// This node's contribution to the tree digest (kept so a change hashes the node once, not twice).
    var digestHash: UInt64 = 0
    /// The tree generation this node object was made in; a node of a frozen generation is never
    /// changed in place (see `DataTree.freeze()`).
    var generation: UInt64 = 0

    init(data: [UInt8]?, acl: [ACL], zxid: Int64, time: Int64, ephemeralOwner: Int64) {
        self.data = data; self.acl = acl
        czxid = zxid; mzxid = zxid; pzxid = zxid; ctime = time; mtime = time
        version = 0; storedCversion = 0; aversion = 0
        self.ephemeralOwner = ephemeralOwner
        children = []
    }

    /// A copy with the same contents (children share storage until one side changes).
    func copy() -> Znode {
        let c = Znode(data: data, acl: acl, zxid: czxid, time: ctime, ephemeralOwner: ephemeralOwner)
        c.mzxid = mzxid; c.pzxid = pzxid; c.mtime = mtime
        c.version = version; c.storedCversion = storedCversion; c.aversion = aversion
        c.children = children; c.digestHash = digestHash
        return c
    }

    /// The Stat a client sees.
    public var stat: Stat {
        let n = Int32(children.count)
        return Stat(czxid: czxid, mzxid: mzxid, ctime: ctime, mtime: mtime, version: version,
                    cversion: storedCversion &* 2 &- n, aversion: aversion,
                    ephemeralOwner: EphemeralMarker.session(ephemeralOwner) ?? 0,
                    dataLength: Int32(data?.count ?? 0), numChildren: n, pzxid: pzxid)
    }
}

/// A replicated session: created and closed by transactions.
public struct SessionInfo: Hashable, Sendable {
    public var timeoutMs: Int32
    public var passwd: [UInt8]
}

/// Which watches a change fires.
public struct WatchTrigger: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case created, deleted, dataChanged, childrenChanged }
    public var path: String
    public var kind: Kind
}

/// What applying a transaction produced, for the reply.
public indirect enum TxnResult: Hashable, Sendable {
    case created(path: String, stat: Stat)
    case deleted
    case setData(Stat)
    case setACL(Stat)
    case checked
    case multi([TxnResult])
    case error(ErrorCode)
    case sessionCreated
    case sessionClosed
    case config(data: [UInt8], stat: Stat)
    case none
}

/// The ZooKeeper data tree with its sessions: a deterministic state machine over `TxnEntry`s.
public final class DataTree {
    public internal(set) var nodes = NodeTable()
    public private(set) var sessions: [Int64: SessionInfo] = [:]
    public private(set) var ephemerals: [Int64: Set<String>] = [:]
    public private(set) var containers: Set<String> = []
    public private(set) var ttlNodes: Set<String> = []
    public private(set) var lastZxid: Int64 = 0
    /// Order-independent digest of every node's path, data and metadata (wrapping sum of node hashes).
    public private(set) var digest: UInt64 = 0
    /// Approximate bytes of paths and data held.
    public private(set) var approximateDataSize: Int = 0
    /// Quota roots (a path with /zookeeper/quota<path>/zookeeper_limits) -> their limits, and the
    /// usage of each (its subtree's node count and data bytes), kept as transactions apply.
    public internal(set) var quotaLimits: [String: StatsTrack] = [:]
    var quotaUsage: [String: StatsTrack] = [:]
    /// Node objects are stamped with the generation they were made in. While an image is out
    /// (`freeze()` until `thaw()`), nodes of generation `frozenThrough` or older are copied before
    /// a change instead of being changed in place, so the image stays as it was.
    private var generation: UInt64 = 1
    private var frozenThrough: UInt64 = 0
    private var imagesOut = 0
    /// Distinct ACL lists, so nodes with equal ACLs share one array (most trees use a handful).
    /// Bounded: past `aclCacheLimit` distinct lists, new ones are kept per node.
    private var aclCache: [[ACL]: [ACL]] = [:]
    static let aclCacheLimit = 4096

    func interned(_ acl: [ACL]) -> [ACL] {
        if let shared = aclCache[acl] { return shared }
        if aclCache.count < Self.aclCacheLimit { aclCache[acl] = acl }
        return acl
    }

    public static let configPath = "/zookeeper/config"
    public static let quotaPath = "/zookeeper/quota"
    public static let systemPaths: Set<String> = ["/", "/zookeeper", configPath, quotaPath]

    public init() {
        let root = Znode(data: [], acl: ACL.openUnsafe, zxid: 0, time: 0, ephemeralOwner: 0)
        let zk = Znode(data: [], acl: ACL.openUnsafe, zxid: 0, time: 0, ephemeralOwner: 0)
        let quota = Znode(data: [], acl: ACL.openUnsafe, zxid: 0, time: 0, ephemeralOwner: 0)
        let config = Znode(data: [], acl: ACL.readUnsafe, zxid: 0, time: 0, ephemeralOwner: 0)
        config.aversion = -1
        root.children = ["zookeeper"]
        zk.children = ["quota", "config"]
        insert("/", root); insert("/zookeeper", zk); insert(Self.quotaPath, quota); insert(Self.configPath, config)
    }

    public var nodeCount: Int { nodes.count }
    public func node(_ path: String) -> Znode? { nodes[path] }

    // MARK: digest

    static func hash(_ path: String, _ n: Znode) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        for b in path.utf8 { mix(b) }
        mix(0xff)
        if let d = n.data { for b in d { mix(b) } } else { mix(0xfe) }
        for v in [n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime, Int64(n.version), Int64(n.storedCversion),
                  Int64(n.aversion), n.ephemeralOwner] {
            var x = UInt64(bitPattern: v)
            for _ in 0..<8 { mix(UInt8(truncatingIfNeeded: x)); x >>= 8 }
        }
        for a in n.acl {
            mix(UInt8(truncatingIfNeeded: a.perms.rawValue))
            for b in a.id.scheme.utf8 { mix(b) }
            for b in a.id.id.utf8 { mix(b) }
        }
        return h
    }

    private func insert(_ path: String, _ n: Znode) {
        n.generation = generation
        nodes[path] = n
        n.digestHash = Self.hash(path, n)
        digest &+= n.digestHash
        approximateDataSize += path.utf8.count + (n.data?.count ?? 0)
    }
    private func remove(_ path: String) {
        guard let n = nodes.removeValue(forKey: path) else { return }
        digest &-= n.digestHash
        approximateDataSize -= path.utf8.count + (n.data?.count ?? 0)
    }
    /// Mutates a node keeping the digest and size current; returns the node now in the tree (a copy
    /// when the original belongs to a frozen image).
    @discardableResult
    func modify(_ path: String, _ original: Znode, _ body: (Znode) -> Void) -> Znode {
        var n = original
        if n.generation <= frozenThrough {
            n = original.copy()
            n.generation = generation
            nodes[path] = n
        }
        digest &-= n.digestHash
        approximateDataSize -= n.data?.count ?? 0
        body(n)
        n.digestHash = Self.hash(path, n)
        digest &+= n.digestHash
        approximateDataSize += n.data?.count ?? 0
        return n
    }

    // MARK: images

    /// An unchanging image of the tree as of now, to serialize on another thread while the tree goes
    /// on applying transactions. O(1) here: the node table's shards are shared copy-on-write (the tree's
    /// next change to a shard copies that shard), and until `thaw()` a node is copied before it changes.
    public func freeze() -> DataTreeImage {
        imagesOut += 1
        frozenThrough = generation
        generation += 1
        return currentImage
    }

    /// An image from `freeze()` is no longer read; once none is, nodes change in place again.
    public func thaw() {
        imagesOut = max(0, imagesOut - 1)
        if imagesOut == 0 { frozenThrough = 0 }
    }

    /// The tree's own contents as an image, valid only until the tree next changes.
    var currentImage: DataTreeImage {
        DataTreeImage(nodes: nodes, sessions: sessions, lastZxid: lastZxid, digest: digest)
    }

    // MARK: apply

    /// Applies one committed transaction. Deterministic: every replica gets the same result and triggers.
    @discardableResult
    public func apply(_ entry: TxnEntry, triggers: inout [WatchTrigger]) -> TxnResult {
        let h = entry.header
        if h.zxid > lastZxid { lastZxid = h.zxid }
        switch entry.txn {
        case .multi(let ops):
            // Validated by the preparer; still applied atomically: on any failure, roll back by re-checking first.
            var results: [TxnResult] = []
            var local: [WatchTrigger] = []
            for op in ops {
                let r = applyOne(op, header: h, triggers: &local)
                results.append(r)
                if case .error = r { break }
            }
            triggers.append(contentsOf: local)
            return .multi(results)
        default:
            return applyOne(entry.txn, header: h, triggers: &triggers)
        }
    }

    private func applyOne(_ txn: Txn, header h: TxnHeader, triggers: inout [WatchTrigger]) -> TxnResult {
        switch txn {
        case .noop:
            return .none
        case .createSession(let timeout, let passwd):
            sessions[h.sessionId] = SessionInfo(timeoutMs: timeout, passwd: passwd)
            return .sessionCreated
        case .closeSession:
            for path in (ephemerals[h.sessionId] ?? []).sorted(by: >) {
                _ = deleteNode(path, zxid: h.zxid, triggers: &triggers)
            }
            ephemerals[h.sessionId] = nil
            sessions[h.sessionId] = nil
            return .sessionClosed
        case .create(let c):
            let parentPath = PathValidation.parent(of: c.path)
            guard let parent = nodes[parentPath] else { return .error(.noNode) }
            let name = PathValidation.name(of: c.path)
            if parent.children.contains(name) { return .error(.nodeExists) }
            let n = Znode(data: c.data, acl: interned(c.acl), zxid: h.zxid, time: h.time, ephemeralOwner: c.ephemeralOwner)
            modify(parentPath, parent) { p in
                p.children.insert(name)
                p.storedCversion = c.parentCVersion
                p.pzxid = h.zxid
            }
            insert(c.path, n)
            if let s = EphemeralMarker.session(c.ephemeralOwner) { ephemerals[s, default: []].insert(c.path) }
            if c.ephemeralOwner == EphemeralMarker.container { containers.insert(c.path) }
            if EphemeralMarker.isTTL(c.ephemeralOwner) { ttlNodes.insert(c.path) }
            triggers.append(WatchTrigger(path: c.path, kind: .created))
            triggers.append(WatchTrigger(path: parentPath, kind: .childrenChanged))
            quotaChanged(c.path, nodes: 1, bytes: Int64(c.data?.count ?? 0))
            return .created(path: c.path, stat: n.stat)
        case .delete(let path):
            return deleteNode(path, zxid: h.zxid, triggers: &triggers)
        case .setData(let path, let data, let version):
            guard let old = nodes[path] else { return .error(.noNode) }
            let oldBytes = Int64(old.data?.count ?? 0)
            let n = modify(path, old) { n in
                n.data = data; n.version = version; n.mzxid = h.zxid; n.mtime = h.time
            }
            triggers.append(WatchTrigger(path: path, kind: .dataChanged))
            quotaChanged(path, nodes: 0, bytes: Int64(data?.count ?? 0) - oldBytes)
            return .setData(n.stat)
        case .setACL(let path, let acl, let version):
            guard let old = nodes[path] else { return .error(.noNode) }
            let shared = interned(acl)
            let n = modify(path, old) { n in n.acl = shared; n.aversion = version }
            return .setACL(n.stat)
        case .check(let path, _):
            return nodes[path] == nil ? .error(.noNode) : .checked
        case .setConfig(let data):
            guard let old = nodes[Self.configPath] else { return .error(.noNode) }
            let n = modify(Self.configPath, old) { n in n.data = data; n.mzxid = h.zxid; n.mtime = h.time; n.version = -1 }
            triggers.append(WatchTrigger(path: Self.configPath, kind: .dataChanged))
            return .config(data: data, stat: n.stat)
        case .multi(let ops):
            var results: [TxnResult] = []
            for op in ops { results.append(applyOne(op, header: h, triggers: &triggers)) }
            return .multi(results)
        }
    }

    private func deleteNode(_ path: String, zxid: Int64, triggers: inout [WatchTrigger]) -> TxnResult {
        guard let n = nodes[path] else { return .error(.noNode) }
        if !n.children.isEmpty { return .error(.notEmpty) }
        let parentPath = PathValidation.parent(of: path)
        if let parent = nodes[parentPath] {
            modify(parentPath, parent) { p in
                p.children.remove(PathValidation.name(of: path))
                if zxid > p.pzxid { p.pzxid = zxid }
            }
        }
        remove(path)
        quotaChanged(path, nodes: -1, bytes: -Int64(n.data?.count ?? 0))
        if let s = EphemeralMarker.session(n.ephemeralOwner) {
            ephemerals[s]?.remove(path)
            if ephemerals[s]?.isEmpty == true { ephemerals[s] = nil }
        }
        containers.remove(path)
        ttlNodes.remove(path)
        triggers.append(WatchTrigger(path: path, kind: .deleted))
        triggers.append(WatchTrigger(path: parentPath, kind: .childrenChanged))
        return .deleted
    }

    // MARK: queries

    /// Number of descendants of `path` (not counting itself).
    public func descendantCount(_ path: String) -> Int {
        if path == "/" { return nodes.count - 1 }
        guard let n = nodes[path] else { return 0 }
        var count = 0
        var stack: [(String, Znode)] = [(path, n)]
        while let (p, node) = stack.popLast() {
            for c in node.children {
                let cp = PathValidation.join(p, c)
                if let cn = nodes[cp] { count += 1; stack.append((cp, cn)) }
            }
        }
        return count
    }

    /// Containers that are empty and once had a child, and TTL nodes that expired, as of `now` (ms).
    public func reapable(now: Int64, limit: Int) -> [String] {
        var out: [String] = []
        for p in containers.sorted() where out.count < limit {
            if let n = nodes[p], n.children.isEmpty, n.storedCversion > 0 { out.append(p) }
        }
        for p in ttlNodes.sorted() where out.count < limit {
            if let n = nodes[p], n.children.isEmpty, now - n.mtime > EphemeralMarker.ttlValue(n.ephemeralOwner) {
                out.append(p)
            }
        }
        return out
    }

    /// Recomputes children sets, indexes, digest and sizes after `nodes` was filled from a snapshot.
    func restoreIndexes(sessions: [Int64: SessionInfo], lastZxid: Int64) throws {
        self.sessions = sessions
        self.lastZxid = lastZxid
        ephemerals = [:]; containers = []; ttlNodes = []; digest = 0; approximateDataSize = 0
        for (_, n) in nodes { n.children.removeAll(keepingCapacity: true) }
        for (path, n) in nodes {
            n.digestHash = Self.hash(path, n)
            digest &+= n.digestHash
            approximateDataSize += path.utf8.count + (n.data?.count ?? 0)
            if let s = EphemeralMarker.session(n.ephemeralOwner) { ephemerals[s, default: []].insert(path) }
            if n.ephemeralOwner == EphemeralMarker.container { containers.insert(path) }
            if EphemeralMarker.isTTL(n.ephemeralOwner) { ttlNodes.insert(path) }
            if path == "/" { continue }
            guard let parent = nodes[PathValidation.parent(of: path)] else {
                throw JuteError("snapshot node \(path) has no parent")
            }
            parent.children.insert(PathValidation.name(of: path))
        }
    }

    /// Replaces the whole state with another tree's (installing a snapshot received from a leader).
    public func replace(with other: DataTree) {
        nodes = other.nodes; sessions = other.sessions; ephemerals = other.ephemerals
        containers = other.containers; ttlNodes = other.ttlNodes; lastZxid = other.lastZxid
        digest = other.digest; approximateDataSize = other.approximateDataSize
        generation = max(generation, other.generation) + 1
        aclCache = other.aclCache
    }
}
