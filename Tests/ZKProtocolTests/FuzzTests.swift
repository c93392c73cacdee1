import NIOCore
import Testing
@testable import ZKProtocol

/// Deterministic generator for the mutation harness (a failing seed replays exactly).
struct SeededBytes {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    /// Flips, inserts, deletes, or overwrites with interesting values (lengths like -1, 0, huge).
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + below(4)) {
            switch below(5) {
            case 0 where !b.isEmpty: b[below(b.count)] ^= UInt8(1 << below(8))
            case 1: b.insert(UInt8(truncatingIfNeeded: next()), at: below(b.count + 1))
            case 2 where !b.isEmpty: b.remove(at: below(b.count))
            case 3 where b.count >= 4:
                let at = below(b.count - 3)
                let v: [[UInt8]] = [[0xff, 0xff, 0xff, 0xff], [0, 0, 0, 0], [0x7f, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0, 0x10, 0, 0]]
                b.replaceSubrange(at..<(at + 4), with: v[below(v.count)])
            default: if !b.isEmpty { b.removeLast(below(b.count)) }
            }
        }
        return b
    }
}

func validRequests() -> [(Int32, [UInt8])] {
    let reqs: [Request] = [
        .create(CreateRequest(path: "/a/b", data: [1, 2, 3], acl: ACL.openUnsafe, flags: 3), op: .create2),
        .create(CreateRequest(path: "/t", data: nil, acl: ACL.creatorAll, flags: 5, ttl: 1000), op: .createTTL),
        .setData(SetDataRequest(path: "/a", data: [9], version: 4)),
        .setACL(SetACLRequest(path: "/a", acl: [ACL(perms: .read, id: Id(scheme: "ip", id: "127.0.0.1/8"))], version: -1)),
        .multi([.create(CreateRequest(path: "/m", data: nil, acl: ACL.openUnsafe, flags: 0), op: .create),
                .check(PathVersionRequest(path: "/m", version: 0)), .delete(PathVersionRequest(path: "/m", version: -1))]),
        .multiRead([.getData(PathWatchRequest(path: "/a", watch: false)), .getChildren(PathWatchRequest(path: "/", watch: true))]),
        .setWatches(SetWatchesRequest(relativeZxid: 5, dataWatches: ["/a"], existWatches: ["/b"], childWatches: ["/"],
                                      persistentWatches: ["/p"], persistentRecursiveWatches: ["/r"], isVersion2: true)),
        .reconfig(ReconfigRequest(joiningServers: "server.4=127.0.0.1:1:2;3", leavingServers: nil, newMembers: nil, curConfigId: -1)),
        .auth(AuthPacket(scheme: "digest", auth: Array("u:p".utf8))),
        .addWatch(PathTypeRequest(path: "/w", type: 1)),
    ]
    return reqs.map { r in
        var b = ByteBuffer()
        r.encodeBody(into: &b)
        return (r.opCode.rawValue, Array(b.readableBytesView))
    }
}

@Test func requestDecoderSurvivesMutatedAndRandomInput() {
    var g = SeededBytes(state: 20261121)
    let seeds = validRequests()
    var decoded = 0, rejected = 0
    for i in 0..<30_000 {
        let (op, body) = seeds[i % seeds.count]
        let input = i % 5 == 0 ? g.bytes(g.below(64)) : g.mutate(body)
        let type = i % 7 == 0 ? Int32(truncatingIfNeeded: g.next()) : op
        var r = JuteReader(ByteBuffer(bytes: input), maxLength: 1 << 20)
        do { _ = try Request.decode(type: type, body: &r); decoded += 1 } catch { rejected += 1 }
        var c = JuteReader(ByteBuffer(bytes: input), maxLength: 1 << 20)
        _ = try? ConnectRequest(from: &c)
        var m = JuteReader(ByteBuffer(bytes: input), maxLength: 1 << 20)
        _ = try? MultiResult.decodeList(&m)
    }
    #expect(decoded + rejected == 30_000)
    #expect(rejected > 0 && decoded > 0)
}

@Test func frameSplitterNeverReadsPastTheBuffer() {
    var g = SeededBytes(state: 7)
    let s = FrameSplitter(maxFrameBytes: 4096)
    for _ in 0..<20_000 {
        var buf = ByteBuffer(bytes: g.bytes(g.below(40)))
        var frames = 0
        loop: while frames < 100 {
            switch s.next(&buf) {
            case .frame: frames += 1
            case .needMoreData, .invalidLength: break loop
            }
        }
        #expect(buf.readableBytes >= 0)
    }
}
