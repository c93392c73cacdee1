import ZKProtocol
import ZKStateMachine

/// What the replicator (`QuorumPeer`) reports to the client side (`ZooKeeperServer`).
///
/// Calls go one way: the client side calls the replicator (writes, sessions, read barriers), the
/// replicator calls the applier (committed transactions) and reports up only through this protocol,
/// by session id, cxid and barrier id: it never sees a connection. Everything runs on the loop.
protocol ReplicatorClient: AnyObject {
    /// A committed transaction was applied: its requester, if it is a client of this member, gets
    /// its reply; the watch events it fired go to their connections.
    func applied(_ txn: Applier.Applied)
    /// The leader refused a write of a client of this member; the answer leaves once the tree has
    /// applied the refusal's barrier (so that it never overtakes the client's earlier writes).
    func refused(sessionId: Int64, cxid: Int32, _ refusal: Refusal)
    /// Nobody leads: the session's request cannot be served now (its connection is closed; the client
    /// tries again, elsewhere if it can).
    func noLeader(sessionId: Int64)
    /// A read barrier asked for with `requestBarrier` is through, or cannot be (no leader).
    func barrierPassed(_ id: UInt64)
    func barrierFailed(_ id: UInt64)
    /// Committed transactions were applied (replies waiting on a zxid may leave).
    func treeAdvanced()
    /// This member serves again; as the leader it decides session expiry from now on.
    func startedServing(asLeader: Bool)
    /// This member stopped serving. `dropClients`: its tree may be stale, every client connection is
    /// closed (sessions survive); otherwise (a sole voter) they stay.
    func stoppedServing(_ why: String, dropClients: Bool)
    /// The leader: sessions renewed by their members, and a session whose close is under way.
    func sessionsTouched(_ ids: [Int64])
    func sessionClosing(_ id: Int64)
    /// Sessions with a live connection on this member (reported to the leader).
    func activeSessions() -> [Int64]
    /// A sole voter's disk failed: every write waiting here whose transaction is not in `durable`
    /// (session id, cxid) failed; the rest commit when it leads again.
    func undurableWritesFailed(durable: Set<SessionRequest>)
    /// The replicator stopped for good.
    func replicatorStopped(_ why: MemberStopped)
    /// Flush the replies written so far (before commit notices go out, say).
    func flush()
}

/// A request of a session, as the log knows it.
struct SessionRequest: Hashable {
    var sessionId: Int64
    var cxid: Int32
}

/// Why the leader refused a write, and the zxid its answer must wait for.
enum Refusal {
    case error(ErrorCode, barrier: Int64)
    /// A multi whose operations failed preparation: each operation's code.
    case multi([ErrorCode], barrier: Int64)
}

/// The replicator's disk counters, shown by `srvr`, `mntr` and /metrics.
struct ReplicationStats {
    var snapshotsTaken = 0
    /// Times this member lost its leader (Apache's looking_count).
    var lookingCount = 0
    var lastSnapshotZxid: Int64 = 0
}
