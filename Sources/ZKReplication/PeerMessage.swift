/// Messages exchanged between replicas. One type for the whole peer connection: protocol
/// messages plus opaque application messages (`app`) that the core passes through.
public enum PeerMessage: Hashable, Sendable, CustomStringConvertible {
    /// Pre-vote: "would you vote for me at `term`?" (no state changes on the receiver).
    case preVote(VoteRequest)
    case preVoteResponse(VoteResponse)
    case vote(VoteRequest)
    case voteResponse(VoteResponse)
    /// Append entries after `prev`; with no entries it is a heartbeat.
    case append(AppendRequest)
    case appendResponse(AppendResponse)
    /// Leader -> follower that is behind the leader's log start: one chunk of a snapshot.
    case snapshot(SnapshotRequest)
    /// Follower -> leader: snapshot chunks received so far; send from `next`.
    case snapshotAck(SnapshotAck)
    /// Read barrier request (follower -> leader) for ZooKeeper's `sync`.
    case syncRequest(term: UInt32, id: UInt64)
    /// Read barrier answer: the follower may answer once it has applied `zxid`.
    case syncResponse(term: UInt32, id: UInt64, zxid: Zxid)
    /// Opaque application bytes, delivered untouched in `Ready.appMessages`.
    case app([UInt8])
    /// Leader -> voter, once the leader's own log is durable: "every entry of mine up to `upTo` that
    /// you hold durably is committed" (the leader's quorum count with the receiver counted as having
    /// everything). Lets a follower apply a write when its own fsync ends instead of a round trip later.
    case commitHint(term: UInt32, upTo: Zxid)
    /// Leader -> the voter it hands leadership to, once that voter holds the leader's whole log:
    /// campaign now (Raft's TimeoutNow). The vote requests that follow carry `VoteRequest.transfer`.
    case timeoutNow(term: UInt32)

    public var term: UInt32? {
        switch self {
        case .preVote(let r), .vote(let r): return r.term
        case .preVoteResponse(let r), .voteResponse(let r): return r.term
        case .append(let r): return r.term
        case .appendResponse(let r): return r.term
        case .snapshot(let r): return r.term
        case .snapshotAck(let r): return r.term
        case .syncRequest(let t, _), .syncResponse(let t, _, _): return t
        case .commitHint(let t, _): return t
        case .timeoutNow(let t): return t
        case .app: return nil
        }
    }

    /// Stable one-line rendering for traces.
    public var description: String {
        switch self {
        case .preVote(let r): return "prevote t=\(r.term) last=\(r.lastZxid)"
        case .vote(let r): return "vote t=\(r.term) last=\(r.lastZxid)"
        case .preVoteResponse(let r): return "prevote-resp t=\(r.term) \(r.granted ? "yes" : "no")"
        case .voteResponse(let r): return "vote-resp t=\(r.term) \(r.granted ? "yes" : "no")"
        case .append(let r):
            let ents = r.entries.isEmpty ? "" : " [\(r.entries.first!.zxid)..\(r.entries.last!.zxid)]#\(r.entries.count)"
            return "append t=\(r.term) prev=\(r.prev) commit=\(r.commit) r=\(r.round)\(ents)"
        case .appendResponse(let r):
            return r.success
                ? "append-ok t=\(r.term) match=\(r.match) r=\(r.round)"
                : "append-reject t=\(r.term) prev=\(r.rejectedPrev) hint=\(r.hint) r=\(r.round)"
        case .snapshot(let r):
            return "snapshot t=\(r.term) at=\(r.meta.zxid) bytes=\(r.offset)+\(r.chunk.count)/\(r.total) r=\(r.round)"
        case .snapshotAck(let r):
            return "snapshot-ack t=\(r.term) at=\(r.zxid) next=\(r.next) r=\(r.round)"
        case .syncRequest(let t, let id): return "sync-req t=\(t) id=\(id)"
        case .syncResponse(let t, let id, let z): return "sync-resp t=\(t) id=\(id) zxid=\(z)"
        case .app(let b): return "app \(b.count)b"
        case .commitHint(let t, let z): return "commit-hint t=\(t) upto=\(z)"
        case .timeoutNow(let t): return "timeout-now t=\(t)"
        }
    }
}

// The messages below are made only by the core and its codec (memberwise, inside this module); other
// modules read them.
public struct VoteRequest: Hashable, Sendable {
    public var term: UInt32
    public var lastZxid: Zxid
    /// Sent by a voter its leader handed leadership to (`timeoutNow`): granted even by a voter that
    /// heard from that leader moments ago, since the leader itself asked for the election.
    public var transfer = false
}

public struct VoteResponse: Hashable, Sendable {
    public var term: UInt32
    public var granted: Bool
}

public struct AppendRequest: Hashable, Sendable {
    public var term: UInt32
    public var prev: Zxid
    public var commit: Zxid
    /// Heartbeat round, echoed in the response; used for the read barrier.
    public var round: UInt64
    public var entries: [Entry]
}

public struct AppendResponse: Hashable, Sendable {
    public var term: UInt32
    public var success: Bool
    /// On success: the follower's log matches the leader's up to here (and it is durable).
    public var match: Zxid
    /// On rejection: the `prev` that did not match, and the greatest zxid the follower has
    /// at or below it.
    public var rejectedPrev: Zxid
    public var hint: Zxid
    public var round: UInt64
}

/// One chunk `[offset, offset + chunk.count)` of a snapshot of `total` bytes. Snapshots
/// travel in chunks so a large data tree never needs one huge message, and a lost chunk
/// costs one chunk.
public struct SnapshotRequest: Hashable, Sendable {
    public var term: UInt32
    public var round: UInt64
    public var meta: SnapshotMeta
    public var total: UInt64
    public var offset: UInt64
    public var chunk: [UInt8]
    public var isLast: Bool { offset + UInt64(chunk.count) == total }
}

extension SnapshotRequest {
    /// The whole snapshot in a single chunk.
    init(term: UInt32, round: UInt64, snapshot: Snapshot) {
        self.init(term: term, round: round, meta: snapshot.meta, total: UInt64(snapshot.data.count), offset: 0,
                  chunk: snapshot.data)
    }
}

public struct SnapshotAck: Hashable, Sendable {
    public var term: UInt32
    public var zxid: Zxid
    /// Bytes of the snapshot at `zxid` held so far (the offset of the next chunk wanted).
    public var next: UInt64
    public var round: UInt64
}
