import NIOCore
import Testing
import ZKProtocol
@testable import ZKStateMachine

/// Drives the preparer and the tree like a server would: prepare, assign a zxid, apply.
final class Harness {
    let tree = DataTree()
    lazy var prep = Preparer(tree: tree, options: PreparerOptions(extendedTypesEnabled: true))
    var zxid: Int64 = 0
    var triggers: [WatchTrigger] = []
    var auth = AuthInfo.ip("127.0.0.1")

    @discardableResult
    func run(_ request: Request, session: Int64 = 1, time: Int64 = 1000) -> Result<TxnResult, ErrorCode> {
        switch prep.prepare(request, RequestContext(sessionId: session, cxid: 1, auth: auth, time: time)) {
        case .txn(let t, let changes):
            zxid += 1
            prep.recordOutstanding(changes, zxid: zxid)
            let r = tree.apply(TxnEntry(header: TxnHeader(sessionId: session, cxid: 1, zxid: zxid, time: time), txn: t), triggers: &triggers)
            prep.applied(upTo: zxid)
            return .success(r)
        case .failed(let e): return .failure(e)
        case .multiFailed(let rs): return .success(.multi(rs))
        }
    }
    func create(_ path: String, _ flags: CreateMode = .persistent, op: OpCode = .create2, data: [UInt8]? = []) -> Result<TxnResult, ErrorCode> {
        run(.create(CreateRequest(path: path, data: data, acl: ACL.openUnsafe, flags: flags.rawValue), op: op))
    }
    func delete(_ path: String, version: Int32 = -1) -> Result<TxnResult, ErrorCode> {
        run(.delete(PathVersionRequest(path: path, version: version)))
    }
    func stat(_ path: String) -> Stat? { tree.node(path)?.stat }
}

@Test func freshTreeHasTheSystemNodesWithTheirCversions() {
    let t = DataTree()
    #expect(t.node("/")!.stat.cversion == -1)
    #expect(t.node("/zookeeper")!.stat.cversion == -2)
    #expect(t.node("/zookeeper/config")!.stat.aversion == -1)
    #expect(t.node("/zookeeper/config")!.acl == ACL.readUnsafe)
}

@Test func cversionCountsCreatesTwiceMinusChildrenAndSequenceIgnoresDeletes() throws {
    let h = Harness()
    _ = h.create("/a")
    _ = h.create("/a/b")
    #expect(h.stat("/a")!.cversion == 1)
    var names: [String] = []
    for _ in 0..<3 {
        if case .success(.created(let p, _)) = h.create("/a/s-", .persistentSequential) { names.append(p) }
    }
    #expect(names == ["/a/s-0000000001", "/a/s-0000000002", "/a/s-0000000003"])
    _ = h.delete("/a/b")
    #expect(h.stat("/a")!.cversion == 5)   // 4 creates, 1 delete
    if case .success(.created(let p, _)) = h.create("/a/s-", .persistentSequential) { #expect(p == "/a/s-0000000004") }
    #expect(h.stat("/a")!.cversion == 6)
}

@Test func createErrorsFollowApacheZooKeepersOrder() {
    let h = Harness()
    _ = h.create("/a")
    #expect(h.create("/a//b") == .failure(.noNode))
    #expect(h.create("/a/") == .failure(.badArguments))
    #expect(h.create("a") == .failure(.badArguments))
    #expect(h.create("/.") == .failure(.badArguments))
    #expect(h.create("/a") == .failure(.nodeExists))
    #expect(h.create("/x/y") == .failure(.noNode))
    #expect(h.create("/zookeeper") == .failure(.nodeExists))
    _ = h.create("/e", .ephemeral)
    #expect(h.create("/e/c") == .failure(.noChildrenForEphemerals))
    #expect(h.run(.create(CreateRequest(path: "/t", data: nil, acl: ACL.openUnsafe, flags: 7), op: .create)) == .failure(.badArguments))
    #expect(h.run(.create(CreateRequest(path: "/t", data: nil, acl: [], flags: 0), op: .create)) == .failure(.invalidACL))
}

@Test func deleteChecksSpecialPathsVersionsAndChildren() {
    let h = Harness()
    _ = h.create("/a"); _ = h.create("/a/b")
    #expect(h.delete("/") == .failure(.badArguments))
    #expect(h.delete("/zookeeper/config") == .failure(.badArguments))
    #expect(h.delete("/missing") == .failure(.noNode))
    #expect(h.delete("/a") == .failure(.notEmpty))
    #expect(h.delete("/a/b", version: 3) == .failure(.badVersion))
    #expect(h.delete("/a/b") == .success(.deleted))
}

@Test func failedMultiLeavesNoTraceAndReportsPerOpErrors() {
    let h = Harness()
    _ = h.create("/m")
    let r = h.run(.multi([
        .create(CreateRequest(path: "/m/x", data: nil, acl: ACL.openUnsafe, flags: 0), op: .create),
        .check(PathVersionRequest(path: "/m", version: 9)),
        .delete(PathVersionRequest(path: "/m", version: -1)),
    ]))
    #expect(r == .success(.multi([.error(.ok), .error(.badVersion), .error(.runtimeInconsistency)])))
    #expect(h.tree.node("/m/x") == nil)
    // A multi sees its own earlier ops: create then delete the same node, sequential names advance.
    let ok = h.run(.multi([
        .create(CreateRequest(path: "/m/s-", data: nil, acl: ACL.openUnsafe, flags: 2), op: .create),
        .create(CreateRequest(path: "/m/s-", data: nil, acl: ACL.openUnsafe, flags: 2), op: .create),
        .create(CreateRequest(path: "/m/y", data: nil, acl: ACL.openUnsafe, flags: 0), op: .create),
        .delete(PathVersionRequest(path: "/m/y", version: 0)),
    ]))
    guard case .success(.multi(let rs)) = ok else { Issue.record("multi failed: \(ok)"); return }
    #expect(rs.count == 4)
    #expect(h.tree.node("/m/s-0000000000") != nil && h.tree.node("/m/s-0000000001") != nil && h.tree.node("/m/y") == nil)
}

@Test func setDataBumpsVersionAndChecksExpectedVersion() {
    let h = Harness()
    _ = h.create("/d")
    #expect(h.run(.setData(SetDataRequest(path: "/d", data: [1], version: 5))) == .failure(.badVersion))
    guard case .success(.setData(let s)) = h.run(.setData(SetDataRequest(path: "/d", data: [1, 2], version: 0))) else {
        Issue.record("setData failed"); return
    }
    #expect(s.version == 1 && s.dataLength == 2 && s.mzxid > s.czxid)
}

@Test func closingASessionDeletesItsEphemeralsAndFiresWatches() {
    let h = Harness()
    _ = h.create("/p")
    _ = h.run(.create(CreateRequest(path: "/p/e", data: nil, acl: ACL.openUnsafe, flags: 1), op: .create), session: 42)
    #expect(h.tree.ephemerals[42] == ["/p/e"])
    let w = WatchManager()
    w.add(.data, path: "/p/e", watcher: 7)
    w.add(.child, path: "/p", watcher: 7)
    h.triggers = []
    guard case .txn(let t, _) = h.prep.prepareCloseSession(sessionId: 42) else { Issue.record("no txn"); return }
    h.zxid += 1
    h.tree.apply(TxnEntry(header: TxnHeader(sessionId: 42, cxid: 0, zxid: h.zxid, time: 0), txn: t), triggers: &h.triggers)
    #expect(h.tree.node("/p/e") == nil)
    let events = w.trigger(h.triggers).map { ($0.watcher, $0.event.type, $0.event.path) }
    #expect(events.count == 2)
    #expect(events[0] == (7, EventType.nodeDeleted.rawValue, "/p/e"))
    #expect(events[1] == (7, EventType.nodeChildrenChanged.rawValue, "/p"))
}

@Test func watchRulesOneShotPersistentAndRecursive() {
    let w = WatchManager()
    w.add(.data, path: "/a", watcher: 1)
    w.add(.child, path: "/a", watcher: 1)
    w.add(.persistent, path: "/a", watcher: 2)
    w.add(.recursive, path: "/", watcher: 3)
    // A delete gives watcher 1 a single NodeDeleted even though it has both kinds.
    let deleted = w.trigger([WatchTrigger(path: "/a", kind: .deleted)])
    #expect(deleted.filter { $0.watcher == 1 }.count == 1)
    #expect(deleted.contains { $0.watcher == 2 && $0.event.type == EventType.nodeDeleted.rawValue })
    #expect(deleted.contains { $0.watcher == 3 })
    // One-shot watches are gone; persistent ones stay; recursive never sees NodeChildrenChanged.
    let again = w.trigger([WatchTrigger(path: "/a", kind: .childrenChanged), WatchTrigger(path: "/a", kind: .dataChanged)])
    #expect(!again.contains { $0.watcher == 1 })
    #expect(again.filter { $0.watcher == 2 }.count == 2)
    #expect(again.filter { $0.watcher == 3 }.map(\.event.type) == [EventType.nodeDataChanged.rawValue])
}

@Test func digestAuthMatchesKnownValues() {
    #expect(DigestAuth.digest("super:test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    #expect(DigestAuth.digest("user1:pass1") == "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=")
}

@Test func aclChecksAndAuthExpansion() {
    let h = Harness()
    let digest = Id(scheme: "digest", id: DigestAuth.digest("u:p"))
    _ = h.run(.create(CreateRequest(path: "/s", data: nil, acl: [ACL(perms: .read, id: digest)], flags: 0), op: .create))
    #expect(h.run(.setData(SetDataRequest(path: "/s", data: nil, version: -1))) == .failure(.noAuth))
    #expect(h.run(.create(CreateRequest(path: "/s2", data: nil, acl: ACL.creatorAll, flags: 0), op: .create)) == .failure(.invalidACL))
    h.auth.add(digest)
    guard case .success = h.run(.create(CreateRequest(path: "/s2", data: nil, acl: ACL.creatorAll, flags: 0), op: .create)) else {
        Issue.record("create with auth ACL failed"); return
    }
    #expect(h.tree.node("/s2")!.acl == [ACL(perms: .all, id: digest)])
    #expect(ACLPolicy.allows([ACL(perms: .read, id: Id(scheme: "ip", id: "127.0.0.0/8"))], .read, .ip("127.0.0.5")))
    #expect(!ACLPolicy.allows([ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.0/8"))], .read, .ip("127.0.0.5")))
    #expect(ACLPolicy.allows([ACL(perms: .read, id: digest)], .write, AuthInfo(ids: [Id(scheme: "super", id: "")])))
}

@Test func containersAndTTLNodesBecomeReapable() {
    let h = Harness()
    _ = h.create("/c", op: .createContainer)
    _ = h.create("/never", op: .createContainer)
    _ = h.create("/c/child")
    _ = h.delete("/c/child")
    _ = h.run(.create(CreateRequest(path: "/t", data: nil, acl: ACL.openUnsafe, flags: 5, ttl: 100), op: .createTTL), time: 1000)
    #expect(h.stat("/c")!.ephemeralOwner == 0 && h.stat("/t")!.ephemeralOwner == 0)
    #expect(h.tree.reapable(now: 1050, limit: 10) == ["/c"])
    #expect(h.tree.reapable(now: 1200, limit: 10) == ["/c", "/t"])
}

@Test func snapshotRoundTripKeepsTreeAndDigest() throws {
    let h = Harness()
    _ = h.create("/a", data: [1, 2, 3]); _ = h.create("/a/b", data: nil)
    _ = h.run(.create(CreateRequest(path: "/a/e", data: nil, acl: ACL.openUnsafe, flags: 1), op: .create), session: 9)
    var buf = h.tree.serialized()
    var r = JuteReader(buf, maxLength: Int(Int32.max))
    let copy = try DataTree.deserialize(&r)
    #expect(copy.digest == h.tree.digest)
    #expect(copy.nodeCount == h.tree.nodeCount)
    #expect(copy.node("/a")!.stat == h.tree.node("/a")!.stat)
    #expect(copy.node("/a/b")!.data == nil)
    #expect(copy.ephemerals[9] == ["/a/e"])
    // A flipped byte is caught by the digest check.
    buf.setInteger(UInt8(0x7f), at: buf.writerIndex - 20)
    var bad = JuteReader(buf, maxLength: Int(Int32.max))
    #expect(throws: (any Error).self) { try DataTree.deserialize(&bad) }
}

@Test func aFrozenImageStaysAsItWasWhileTheTreeChanges() throws {
    let h = Harness()
    _ = h.create("/a", data: [1]); _ = h.create("/a/b", data: [2]); _ = h.create("/gone")
    let before = Array(h.tree.serialized().readableBytesView)
    let digestBefore = h.tree.digest
    let image = h.tree.freeze()
    let original = h.tree.node("/a")!
    // Every kind of change after the freeze: data, ACL, a new child (parent changes), a delete.
    guard case .success(.setData(let s)) = h.run(.setData(SetDataRequest(path: "/a", data: [9, 9], version: 0))) else {
        Issue.record("setData failed"); return
    }
    #expect(s.version == 1 && s.dataLength == 2)
    _ = h.run(.setACL(SetACLRequest(path: "/a/b", acl: ACL.readUnsafe, version: -1)))
    _ = h.create("/a/c", data: [3])
    _ = h.delete("/gone")
    // The image still serializes to the bytes of the moment it was taken, and reads back as that tree.
    let imageBytes = Array(image.serialized(estimatedSize: 0).readableBytesView)
    let unchanged = imageBytes == before
    #expect(unchanged, "the image changed with the tree")
    var r = JuteReader(ByteBuffer(bytes: imageBytes), maxLength: Int(Int32.max))
    let old = try DataTree.deserialize(&r)
    #expect(old.digest == digestBefore && old.node("/a")!.data == [1] && old.node("/a/c") == nil && old.node("/gone") != nil)
    #expect(original.data == [1] && original.version == 0)
    // The live tree has every change, and a consistent digest.
    #expect(h.tree.node("/a")!.data == [9, 9] && h.tree.node("/a") !== original)
    #expect(h.tree.node("/a")!.stat.numChildren == 2 && h.tree.node("/gone") == nil)
    var live = JuteReader(h.tree.serialized(), maxLength: Int(Int32.max))
    #expect(try DataTree.deserialize(&live).digest == h.tree.digest)
    // Once thawed, nodes change in place again.
    h.tree.thaw()
    let current = h.tree.node("/a")!
    _ = h.run(.setData(SetDataRequest(path: "/a", data: [7], version: -1)))
    #expect(h.tree.node("/a") === current && current.data == [7])
}

/// xorshift64*: seeded, so a failing seed can be replayed.
private struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

@Test func imagesStayFixedUnderRandomChanges() throws {
    for seed in UInt64(1)...40 {
        var rng = SeededRandom(seed)
        let h = Harness()
        var image: DataTreeImage?
        var imageBytes: [UInt8] = []
        var checked = 0
        for _ in 0..<500 {
            let parent = "/n\(Int.random(in: 0..<4, using: &rng))"
            let path = Bool.random(using: &rng) ? parent : parent + "/c\(Int.random(in: 0..<4, using: &rng))"
            let session = Int64.random(in: 1...3, using: &rng)
            let data = [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: Int.random(in: 0..<5, using: &rng))
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: _ = h.create(path, data: data)
            case 1: _ = h.run(.create(CreateRequest(path: path, data: data, acl: ACL.openUnsafe, flags: 1), op: .create), session: session)
            case 2: _ = h.run(.setData(SetDataRequest(path: path, data: data, version: -1)))
            case 3: _ = h.run(.setACL(SetACLRequest(path: path, acl: Bool.random(using: &rng) ? ACL.readUnsafe : ACL.openUnsafe, version: -1)))
            case 4: _ = h.delete(path)
            case 5:
                _ = h.run(.multi([.create(CreateRequest(path: path, data: data, acl: ACL.openUnsafe, flags: 0), op: .create),
                                  .setData(SetDataRequest(path: parent, data: data, version: -1))]))
            default:
                if case .txn(let t, _) = h.prep.prepareCloseSession(sessionId: session) {
                    h.zxid += 1
                    h.tree.apply(TxnEntry(header: TxnHeader(sessionId: session, cxid: 0, zxid: h.zxid, time: 0), txn: t), triggers: &h.triggers)
                }
            }
            if let img = image, Int.random(in: 0..<30, using: &rng) == 0 {
                let unchanged = Array(img.serialized(estimatedSize: 0).readableBytesView) == imageBytes
                #expect(unchanged, "seed \(seed): the image changed with the tree")
                h.tree.thaw()
                image = nil
                checked += 1
            } else if image == nil, Int.random(in: 0..<20, using: &rng) == 0 {
                imageBytes = Array(h.tree.serialized().readableBytesView)
                image = h.tree.freeze()
            }
        }
        #expect(checked > 0, "seed \(seed) checked no image")
        // The live tree reads back with the digest it keeps.
        var r = JuteReader(h.tree.serialized(), maxLength: Int(Int32.max))
        let copy = try DataTree.deserialize(&r)
        #expect(copy.digest == h.tree.digest && copy.nodeCount == h.tree.nodeCount, "seed \(seed)")
    }
}

@Test func txnEntriesRoundTrip() throws {
    let e = TxnEntry(header: TxnHeader(sessionId: 5, cxid: 6, zxid: 7, time: 8), txn: .multi([
        .create(CreateTxn(path: "/x", data: [1], acl: ACL.openUnsafe, ephemeralOwner: 5, parentCVersion: 3)),
        .setData(path: "/x", data: nil, version: 2), .delete(path: "/x"), .check(path: "/y", version: 1),
        .setACL(path: "/z", acl: ACL.readUnsafe, version: 4), .createSession(timeoutMs: 10, passwd: [9]), .closeSession,
    ]))
    #expect(try TxnEntry.decode(e.encoded()) == e)
}

@Test func sessionTrackerRoundsExpiryUpToTheTick() {
    var t = SessionTracker(tickMs: 2000)
    t.track(1, timeoutMs: 10000, now: 1)
    #expect(t.expired(now: 10001).isEmpty)
    #expect(t.expired(now: 12000) == [1])
    t.touch(1, now: 11000)
    #expect(t.expired(now: 12000).isEmpty)
}
