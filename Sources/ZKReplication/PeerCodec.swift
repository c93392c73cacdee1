/// Hand-written binary encoding of `PeerMessage`.
///
/// Layout (all integers big-endian):
///
///     u8  version (2)
///     u8  type
///     ... fields of the type
///
/// Types 13 (a vote request of a leadership transfer: `VoteRequest.transfer`) and 14 (`timeoutNow`)
/// travel only while a leader hands over; a member of an earlier release of version 2 does not know
/// them and closes that connection, so a hand-over to it fails and the leader stops without one.
///
/// Byte strings and lists are prefixed by a u32 count and bounded by `PeerCodec.Limits`.
/// `encodeFrame` adds a u32 length prefix for stream transports. Decoding never traps:
/// malformed, truncated, oversized or trailing input yields a `PeerCodecError`.
public enum PeerCodec {
    public static let version: UInt8 = 2

    public struct Limits: Sendable {
        public var maxMessageBytes: Int = 64 << 20
        public var maxPayloadBytes: Int = 16 << 20
        public var maxEntries: Int = 100_000
        public var maxMembers: Int = 1_024
        public init() {}
    }

    public static let defaultLimits = Limits()

    enum Tag: UInt8 {
        case preVote = 1, preVoteResponse, vote, voteResponse, append, appendResponse, snapshot,
             syncRequest, syncResponse, app, snapshotAck, commitHint, transferVote, timeoutNow
    }

    // MARK: encoding

    public static func encode(_ m: PeerMessage) -> [UInt8] {
        var w = Writer()
        w.u8(version)
        switch m {
        case .preVote(let r): w.u8(Tag.preVote.rawValue); w.vote(r)
        case .vote(let r): w.u8((r.transfer ? Tag.transferVote : Tag.vote).rawValue); w.vote(r)
        case .preVoteResponse(let r): w.u8(Tag.preVoteResponse.rawValue); w.u32(r.term); w.bool(r.granted)
        case .voteResponse(let r): w.u8(Tag.voteResponse.rawValue); w.u32(r.term); w.bool(r.granted)
        case .append(let r):
            w.u8(Tag.append.rawValue)
            w.u32(r.term); w.zxid(r.prev); w.zxid(r.commit); w.u64(r.round)
            w.u32(UInt32(r.entries.count))
            for e in r.entries { w.zxid(e.zxid); w.u8(e.kind.rawValue); w.bytes(e.payload) }
        case .appendResponse(let r):
            w.u8(Tag.appendResponse.rawValue)
            w.u32(r.term); w.bool(r.success); w.zxid(r.match); w.zxid(r.rejectedPrev); w.zxid(r.hint); w.u64(r.round)
        case .snapshot(let r):
            w.u8(Tag.snapshot.rawValue)
            w.u32(r.term); w.u64(r.round); w.zxid(r.meta.zxid)
            if let c = r.meta.config {
                w.bool(true)
                w.u32(UInt32(c.members.count))
                for m in c.members { w.u64(m.id); w.u8(m.role.rawValue) }
            } else {
                w.bool(false)
            }
            w.u64(r.total); w.u64(r.offset)
            w.bytes(r.chunk)
        case .snapshotAck(let r):
            w.u8(Tag.snapshotAck.rawValue)
            w.u32(r.term); w.zxid(r.zxid); w.u64(r.next); w.u64(r.round)
        case .syncRequest(let t, let id): w.u8(Tag.syncRequest.rawValue); w.u32(t); w.u64(id)
        case .syncResponse(let t, let id, let z): w.u8(Tag.syncResponse.rawValue); w.u32(t); w.u64(id); w.zxid(z)
        case .app(let b): w.u8(Tag.app.rawValue); w.bytes(b)
        case .commitHint(let t, let z): w.u8(Tag.commitHint.rawValue); w.u32(t); w.zxid(z)
        case .timeoutNow(let t): w.u8(Tag.timeoutNow.rawValue); w.u32(t)
        }
        return w.buf
    }

    /// `encode(m)` prefixed with its u32 length.
    public static func encodeFrame(_ m: PeerMessage) -> [UInt8] {
        let body = encode(m)
        var w = Writer()
        w.u32(UInt32(body.count))
        w.buf += body
        return w.buf
    }

    // MARK: decoding

    public static func decode(_ bytes: [UInt8], limits: Limits = defaultLimits) throws -> PeerMessage {
        guard bytes.count <= limits.maxMessageBytes else { throw PeerCodecError.tooLarge(bytes.count) }
        var r = Reader(bytes: bytes, limits: limits)
        let v = try r.u8()
        guard v == version else { throw PeerCodecError.unsupportedVersion(v) }
        let t = try r.u8()
        guard let tag = Tag(rawValue: t) else { throw PeerCodecError.unknownType(t) }
        let m: PeerMessage
        switch tag {
        case .preVote: m = .preVote(try r.voteRequest())
        case .vote: m = .vote(try r.voteRequest())
        case .transferVote:
            var v = try r.voteRequest()
            v.transfer = true
            m = .vote(v)
        case .preVoteResponse: m = .preVoteResponse(VoteResponse(term: try r.u32(), granted: try r.bool()))
        case .voteResponse: m = .voteResponse(VoteResponse(term: try r.u32(), granted: try r.bool()))
        case .append:
            let term = try r.u32(), prev = try r.zxid(), commit = try r.zxid(), round = try r.u64()
            let n = try r.count(max: limits.maxEntries, minBytesEach: 13)
            var entries: [Entry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                let z = try r.zxid()
                let k = try r.u8()
                guard let kind = Entry.Kind(rawValue: k) else { throw PeerCodecError.invalidValue("entry kind \(k)") }
                entries.append(Entry(zxid: z, kind: kind, payload: try r.bytes()))
            }
            m = .append(AppendRequest(term: term, prev: prev, commit: commit, round: round, entries: entries))
        case .appendResponse:
            m = .appendResponse(AppendResponse(
                term: try r.u32(), success: try r.bool(), match: try r.zxid(),
                rejectedPrev: try r.zxid(), hint: try r.zxid(), round: try r.u64()))
        case .snapshot:
            let term = try r.u32(), round = try r.u64(), z = try r.zxid()
            var config: ClusterConfig?
            if try r.bool() {
                let n = try r.count(max: limits.maxMembers, minBytesEach: 9)
                var members: [ClusterConfig.Member] = []
                for _ in 0..<n {
                    let id = try r.u64()
                    let rr = try r.u8()
                    guard let role = ClusterConfig.Role(rawValue: rr) else { throw PeerCodecError.invalidValue("role \(rr)") }
                    members.append(.init(id: id, role: role))
                }
                do { config = try ClusterConfig(members: members) } catch {
                    throw PeerCodecError.invalidValue("config: \(error)")
                }
            }
            let total = try r.u64(), offset = try r.u64()
            let chunk = try r.bytes()
            guard total <= UInt64(Int.max), offset <= total, UInt64(chunk.count) <= total - offset else {
                throw PeerCodecError.invalidValue("snapshot chunk \(offset)+\(chunk.count) of \(total)")
            }
            m = .snapshot(SnapshotRequest(term: term, round: round, meta: SnapshotMeta(zxid: z, config: config),
                                          total: total, offset: offset, chunk: chunk))
        case .snapshotAck:
            m = .snapshotAck(SnapshotAck(term: try r.u32(), zxid: try r.zxid(), next: try r.u64(), round: try r.u64()))
        case .syncRequest: m = .syncRequest(term: try r.u32(), id: try r.u64())
        case .syncResponse: m = .syncResponse(term: try r.u32(), id: try r.u64(), zxid: try r.zxid())
        case .app: m = .app(try r.bytes())
        case .commitHint: m = .commitHint(term: try r.u32(), upTo: try r.zxid())
        case .timeoutNow: m = .timeoutNow(term: try r.u32())
        }
        guard r.pos == bytes.count else { throw PeerCodecError.trailingBytes(bytes.count - r.pos) }
        return m
    }

    /// Splits one length-prefixed frame off the front of `buffer`. Returns nil when more
    /// bytes are needed; throws when the announced length exceeds the limit.
    public static func decodeFrame(_ buffer: inout [UInt8], limits: Limits = defaultLimits) throws -> PeerMessage? {
        guard buffer.count >= 4 else { return nil }
        let len = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
        guard len <= limits.maxMessageBytes else { throw PeerCodecError.tooLarge(len) }
        guard buffer.count >= 4 + len else { return nil }
        let body = Array(buffer[4..<(4 + len)])
        buffer.removeFirst(4 + len)
        return try decode(body, limits: limits)
    }
}

public enum PeerCodecError: Error, Equatable, Sendable {
    case truncated
    case tooLarge(Int)
    case unsupportedVersion(UInt8)
    case unknownType(UInt8)
    case invalidValue(String)
    case trailingBytes(Int)
}

struct Writer {
    var buf: [UInt8] = []
    mutating func u8(_ v: UInt8) { buf.append(v) }
    mutating func bool(_ v: Bool) { buf.append(v ? 1 : 0) }
    mutating func u32(_ v: UInt32) {
        buf.append(UInt8(truncatingIfNeeded: v >> 24)); buf.append(UInt8(truncatingIfNeeded: v >> 16))
        buf.append(UInt8(truncatingIfNeeded: v >> 8)); buf.append(UInt8(truncatingIfNeeded: v))
    }
    mutating func u64(_ v: UInt64) { u32(UInt32(truncatingIfNeeded: v >> 32)); u32(UInt32(truncatingIfNeeded: v)) }
    mutating func zxid(_ z: Zxid) { u64(UInt64(bitPattern: z.raw)) }
    mutating func bytes(_ b: [UInt8]) { u32(UInt32(b.count)); buf += b }
    mutating func vote(_ r: VoteRequest) { u32(r.term); zxid(r.lastZxid) }
}

struct Reader {
    let input: [UInt8]
    let limits: PeerCodec.Limits
    var pos = 0
    init(bytes: [UInt8], limits: PeerCodec.Limits) {
        self.input = bytes
        self.limits = limits
    }
    mutating func u8() throws -> UInt8 {
        guard pos < input.count else { throw PeerCodecError.truncated }
        defer { pos += 1 }
        return input[pos]
    }
    mutating func bool() throws -> Bool {
        let v = try u8()
        guard v <= 1 else { throw PeerCodecError.invalidValue("bool \(v)") }
        return v == 1
    }
    mutating func u32() throws -> UInt32 {
        guard input.count - pos >= 4 else { throw PeerCodecError.truncated }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(input[pos + i]) }
        pos += 4
        return v
    }
    mutating func u64() throws -> UInt64 { UInt64(try u32()) << 32 | UInt64(try u32()) }
    mutating func zxid() throws -> Zxid { Zxid(raw: Int64(bitPattern: try u64())) }
    /// A count that must fit the limit and the remaining bytes.
    mutating func count(max: Int, minBytesEach: Int) throws -> Int {
        let n = Int(try u32())
        guard n <= max else { throw PeerCodecError.tooLarge(n) }
        guard n * minBytesEach <= input.count - pos else { throw PeerCodecError.truncated }
        return n
    }
    mutating func bytes() throws -> [UInt8] {
        let n = Int(try u32())
        guard n <= limits.maxPayloadBytes else { throw PeerCodecError.tooLarge(n) }
        guard n <= input.count - pos else { throw PeerCodecError.truncated }
        defer { pos += n }
        return Array(input[pos..<(pos + n)])
    }
    mutating func voteRequest() throws -> VoteRequest { VoteRequest(term: try u32(), lastZxid: try zxid()) }
}
