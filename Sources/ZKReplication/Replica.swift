/// # Replication core
///
/// `Replica` is a pure state machine implementing leader election and atomic broadcast for
/// one server. It performs no I/O and reads no clock or global randomness: the shell feeds
/// it events and carries out the effects it asks for.
///
/// Protocol: Raft semantics with ZooKeeper naming.
/// - term == epoch. Every entry carries a zxid `epoch << 32 | counter`; a new leader first
///   appends a `.noop` entry (ZooKeeper's NEWLEADER) at counter 0 of its epoch, then
///   transactions at counters 1, 2, ... so zxids strictly increase along every log.
/// - Election: pre-vote, then vote. A voter grants only to a candidate whose last zxid is
///   at least its own (last zxid orders by epoch first, then position), at most once per
///   epoch (the vote is in `HardState` and must be durable before the reply is sent).
///   Check-quorum: a leader that has not heard from a quorum within an election timeout
///   steps down, and a follower that heard from its leader within the election timeout
///   ignores vote requests (so a partitioned server cannot disrupt a healthy quorum).
/// - Sync of followers by zxid: the leader sends entries after the follower's last matching
///   zxid (DIFF); a follower drops an uncommitted suffix that conflicts with the leader's log
///   (TRUNC); a follower behind the leader's compacted log start receives a snapshot (SNAP),
///   streamed in chunks of `snapshotChunkBytes`, each acknowledged before the next leaves.
/// - Commit: the leader commits a zxid when a quorum of voters of the current config has it
///   durably, and only zxids of its own epoch are committed by counting (older entries commit
///   indirectly). Observers receive entries and commits but never vote or count.
/// - Flow control: a follower is probed one append at a time until it matches, then streamed
///   with at most `maxInflightMessages` appends in flight (each at most `maxEntriesPerMessage`
///   entries and `maxBytesPerMessage` bytes); answers that show no progress change nothing;
///   heartbeats go at the acknowledged point; three heartbeats without progress re-probe.
/// - Read barrier (`requestSync`): the leader answers with its commit zxid once a quorum has
///   acknowledged a heartbeat sent after the request and an entry of its epoch is committed.
///
/// ## Driving a replica (the ordering contract)
///
/// Inputs: `tick()` (one logical clock tick), `step(_:from:)` (a decoded peer message),
/// `propose(_:)`, `requestSync(id:)`, `sendApp(to:bytes:)`, `snapshotRead(_:zxid:)`, `peerUnreachable(_:)` (the
/// transport lost a peer), `transferLeadership(to:)`. Proposals made
/// between two Ready cycles leave in one append per follower (batching: propose many, then drain).
/// After inputs, while `hasReady`, the shell takes a `Ready`, carries it out and calls `advance()`
/// exactly once (a second `takeReady()` before it, or an `advance()` without one, is a programming
/// error and traps). Inputs may arrive between the two: they are not part of the Ready being handled
/// and come out in the next one.
///
/// Every shell carries Readys out through `ReplicaDriver`, which states the order in full. In short:
/// durable state (changed epoch or vote, truncation, snapshot install, appended entries, fsync) is
/// written before anything that promises it leaves: a vote or an append acknowledgement is sent only
/// after the fsync. A leader whose epoch and vote did not change may send its appends before its own
/// fsync, because it counts its own copy toward a quorum only at `advance()`. Committed entries are
/// applied once durable on this member; `snapshotToRead` asks the shell for the store's snapshot (for
/// a follower behind the log start), answered later with `snapshotRead`. The `LogStore` given at init
/// must reflect the Ready's disk work when `advance()` is called. The shell may compact the store
/// (replace an applied prefix by a snapshot) only while no disk work is in flight.
public struct Replica {
    public enum Role: String, Sendable {
        case follower, preCandidate, candidate, leader, observer
    }

    public private(set) var config: ReplicaConfig
    public private(set) var cluster: ClusterConfig
    public let store: any LogStore
    public var id: ServerID { config.id }

    public private(set) var role: Role = .follower
    public private(set) var leaderID: ServerID?
    /// Current epoch (Raft term).
    public var epoch: UInt32 { hard.epoch }
    public var commitZxid: Zxid { hard.commit }
    public private(set) var appliedZxid: Zxid
    public var lastZxid: Zxid { unstable.last?.zxid ?? unstableAfter }
    public private(set) var hard: HardState

    private var lastReadyHard: HardState
    private var rng: SplitMix64
    private var electionElapsed = 0
    private var heartbeatElapsed = 0
    private var randomizedElectionTimeout = 0

    private var granted = Set<ServerID>()
    private var rejected = Set<ServerID>()

    private var progress: [ServerID: Progress] = [:]
    private var selfMatch: Zxid = .zero
    private var nextCounter: UInt32 = 1
    private var round: UInt64 = 0
    private var pendingSyncs: [PendingSync] = []

    // Log view = store (up to unstableAfter, unless a snapshot is pending) + unstable.
    private var unstable: [Entry] = []
    private var unstableAfter: Zxid
    private var pendingTruncate: Zxid?
    private var pendingSnapshot: Snapshot?
    /// The store's snapshot, read for followers behind the log start (an effect: `Ready.snapshotToRead`,
    /// answered by `snapshotRead(_:zxid:)`); kept while it is the store's newest.
    private var loadedSnapshot: Snapshot?
    /// A read of the store's snapshot to ask for in the next Ready, and the one asked for and not answered.
    private var snapshotWanted: Zxid?
    private var snapshotAsked: Zxid?
    /// Snapshot chunks received so far from the leader (volatile).
    private var incomingSnapshot: (meta: SnapshotMeta, total: UInt64, data: [UInt8])?
    /// Membership before any config entry still in the log (the snapshot's, or the one given at start).
    private var baseCluster: ClusterConfig
    /// Config entries in the log after the snapshot, oldest first. The newest one is in force as soon as
    /// it is in the log (committed or not); truncating it away reverts to the one before.
    private var configHistory: [(zxid: Zxid, config: ClusterConfig)] = []
    private var mustSync = false
    /// Bumped whenever the log view is rebased (truncation below the unstable part or a
    /// snapshot install), so `advance()` knows whether the handed-out entries still lead it.
    private var viewGeneration: UInt64 = 0
    /// What the last `takeReady()` handed out, until `advance()`.
    private var handed: Handed?

    private struct Handed {
        var entries: [Entry]
        var generation: UInt64
        var hard: HardState
        var commit: Zxid
        var snapshot: Bool
        var ack: AckPoint?
    }
    /// Leader: the voter leadership is being handed to (`transferLeadership`), and ticks since the
    /// hand-over began; proposals are refused meanwhile, and it is abandoned after an election timeout.
    public private(set) var transferee: ServerID?
    private var transferElapsed = 0
    /// Proposals since the last Ready: appends go out once per Ready, batching them.
    private var proposalsPending = false

    private var outbox: [Outbound] = []
    private var appInbox: [AppMessage] = []
    private var syncsReady: [SyncReady] = []
    /// Follower: what it has answered its leader in this epoch, the greatest point acknowledged and
    /// the latest round answered (the leader keeps the greatest of each, so an answer that would not
    /// raise either tells it nothing). Forgotten when the log view is replaced. Each Ready carries the
    /// point; once that Ready is persisted, the point is `durableAck`.
    private var answered: (point: AckPoint, round: UInt64)?
    private var durableAck: AckPoint?
    /// Follower: the leader's latest commit hint.
    private var commitHintIn: AckPoint?

    struct AckPoint: Equatable {
        var leader: ServerID
        var term: UInt32
        var zxid: Zxid
    }

    struct Progress {
        var match: Zxid = .zero
        /// Zxid after which the next append starts.
        var next: Zxid
        /// Optimistically streaming (true) or probing one message per heartbeat (false).
        var replicating = false
        var probeSent = false
        var recentActive = false
        /// `recentActive` of the check-quorum window before this one: reports of who is in touch
        /// (`syncedMembers`, `peerProgress`) use both, so they do not drop a member at each window start.
        var activeBefore = false
        var ackedRound: UInt64 = 0
        /// Last zxid of each append in flight while replicating (flow control).
        var inflight: [Zxid] = []
        /// Heartbeats since `match` last moved while the follower is behind.
        var stalledHeartbeats = 0
        /// Snapshot being streamed to this follower and the offset of the next chunk.
        var snapshotZxid: Zxid = .zero
        var snapshotOffset = 0
        /// Greatest commit hint sent to this follower, and the last entry its clients wait for.
        var hintSent: Zxid = .zero
        var hintWanted: Zxid = .zero
        /// The highest commit point sent to this follower (to tell it a new one exactly once).
        var commitSent: Zxid = .zero
    }

    struct PendingSync {
        var from: ServerID
        var id: UInt64
        var round: UInt64
    }

    /// - Parameters:
    ///   - store: durable log as persisted so far (read-only to the core).
    ///   - hardState: as persisted so far.
    ///   - applied: zxid the application's state machine has already applied (defaults to the
    ///     store's snapshot zxid: the shell restores the state machine from the snapshot and
    ///     the core hands out committed entries after it).
    ///   - seed: seeds the election jitter.
    public init(config: ReplicaConfig, cluster: ClusterConfig, store: any LogStore, hardState: HardState,
                applied: Zxid? = nil, seed: UInt64) {
        self.config = config
        self.cluster = store.snapshotMeta.config ?? cluster
        self.baseCluster = store.snapshotMeta.config ?? cluster
        self.store = store
        self.rng = SplitMix64(seed: seed ^ (config.id &* 0x9E37_79B9_7F4A_7C15))
        self.unstableAfter = store.lastZxid
        var h = hardState
        // A commit point can only name an entry we have.
        if h.commit > store.lastZxid { h.commit = store.lastZxid }
        if h.commit < store.snapshotMeta.zxid { h.commit = store.snapshotMeta.zxid }
        self.hard = h
        self.lastReadyHard = hardState
        let snap = store.snapshotMeta.zxid
        self.appliedZxid = max(snap, min(applied ?? snap, h.commit))
        var cur = snap
        while cur < store.lastZxid {
            let batch = store.entries(after: cur, limit: 4096)
            guard let last = batch.last else { break }
            for e in batch where e.kind == .config {
                if let (c, _) = try? ConfigCodec.decode(e.payload) { configHistory.append((e.zxid, c)) }
            }
            cur = last.zxid
        }
        if let c = configHistory.last?.config { self.cluster = c }
        self.role = self.cluster.isVoter(config.id) ? .follower : .observer
        resetElectionTimeout()
    }

    // MARK: - inputs

    /// One logical clock tick.
    public mutating func tick() {
        switch role {
        case .leader:
            heartbeatElapsed += 1
            electionElapsed += 1
            if transferee != nil {
                transferElapsed += 1
                if transferElapsed >= config.electionTimeoutTicks { transferee = nil }
            }
            if electionElapsed >= config.electionTimeoutTicks {
                electionElapsed = 0
                if config.checkQuorum && !quorumActive() {
                    becomeFollower(epoch: hard.epoch, leader: nil)
                    return
                }
                for k in progress.keys {
                    progress[k]!.activeBefore = progress[k]!.recentActive
                    progress[k]!.recentActive = false
                }
            }
            if heartbeatElapsed >= config.heartbeatIntervalTicks {
                heartbeatElapsed = 0
                broadcastHeartbeat()
            }
        case .observer:
            electionElapsed += 1
            if electionElapsed >= config.electionTimeoutTicks * 2 { leaderID = nil }
        case .follower, .preCandidate, .candidate:
            electionElapsed += 1
            if electionElapsed >= randomizedElectionTimeout {
                campaign(pre: config.preVote)
            }
        }
    }

    /// Starts an election now rather than at the next timeout (etcd's `MsgHup`). A shell uses it for a
    /// member that is its cluster's only voter: nobody else can lead, so there is nothing to wait for.
    public mutating func campaignNow() {
        guard role != .leader, role != .observer else { return }
        campaign(pre: config.preVote)
    }

    /// The shell's transport lost its connection to `peer` and could not make a new one at once (the
    /// peer's process is gone: its port refuses). A follower whose leader that is stops following it and
    /// campaigns now instead of waiting out the election timeout; pre-vote and the other voters' leases
    /// keep a healthy leader in place if only this link failed. The survivors go in turn (lowest id at
    /// once, the next two ticks later, ...), so simultaneous campaigns do not split the vote. An observer
    /// forgets the leader.
    public mutating func peerUnreachable(_ peer: ServerID) {
        guard peer != id, leaderID == peer else { return }
        switch role {
        case .follower:
            leaderID = nil
            // The survivors heard of the loss at about the same moment: they campaign in turn, lowest id
            // first, two ticks apart, so that they do not split the vote (ticks are short without a leader).
            let rank = cluster.voters.filter { $0 != peer }.sorted().firstIndex(of: id) ?? 0
            electionElapsed = 0
            randomizedElectionTimeout = 2 * rank
            if rank == 0 { campaign(pre: config.preVote) }
        case .observer:
            leaderID = nil
        case .leader, .preCandidate, .candidate:
            break
        }
    }

    public enum TransferResult: Equatable, Sendable {
        case started(ServerID)
        case notLeader(leaderHint: ServerID?)
        /// Nothing to hand over to: the reason.
        case refused(String)
    }

    /// Leader: hands leadership to `target` (default: the voter in touch with the most of the log,
    /// lowest id on a tie), as Raft's leadership transfer. New proposals are refused from now on; the
    /// target is brought up to date and then told to campaign (`timeoutNow`), with vote requests the
    /// other voters grant despite their lease. Abandoned if the target does not take over within an
    /// election timeout; calling it again while a hand-over runs restarts it.
    public mutating func transferLeadership(to target: ServerID? = nil) -> TransferResult {
        guard role == .leader else { return .notLeader(leaderHint: leaderID) }
        let chosen: ServerID
        if let t = target {
            guard t != id else { return .refused("server \(t) leads already") }
            guard cluster.isVoter(t), progress[t] != nil else { return .refused("server \(t) is not a voter of the current configuration") }
            chosen = t
        } else {
            let inTouch = cluster.voters.filter { $0 != id && (progress[$0]?.recentActive == true || progress[$0]?.activeBefore == true) }
            guard let best = inTouch.min(by: { (progress[$0]!.match, $1) > (progress[$1]!.match, $0) }) else {
                return .refused("no other voter is in touch with this leader")
            }
            chosen = best
        }
        transferee = chosen
        transferElapsed = 0
        if progress[chosen]!.match == lastZxid {
            send(to: chosen, .timeoutNow(term: hard.epoch))
        } else {
            fillPipeline(to: chosen)
        }
        return .started(chosen)
    }

    public enum ProposeResult: Equatable, Sendable {
        case accepted(Zxid)
        case notLeader(leaderHint: ServerID?)
        /// The epoch's counter space is exhausted; the leader steps down to start a new epoch.
        case epochExhausted
    }

    /// Appends a transaction to the log if this replica leads.
    /// `waiter`: a member whose client waits for this entry (a forwarded write); it is sent a commit
    /// hint, so it can apply the entry as soon as it holds it durably.
    public mutating func propose(_ payload: [UInt8], waiter: ServerID? = nil) -> ProposeResult {
        propose(payload, kind: .txn, waiter: waiter)
    }

    public mutating func propose(_ payload: [UInt8], kind: Entry.Kind, waiter: ServerID? = nil) -> ProposeResult {
        guard role == .leader, transferee == nil else { return .notLeader(leaderHint: transferee ?? leaderID) }
        guard nextCounter < UInt32.max else {
            becomeFollower(epoch: hard.epoch, leader: nil)
            return .epochExhausted
        }
        let z = Zxid(epoch: hard.epoch, counter: nextCounter)
        nextCounter += 1
        appendLocal([Entry(zxid: z, kind: kind, payload: payload)])
        proposalsPending = true
        if let w = waiter, w != id, progress[w] != nil { progress[w]!.hintWanted = z }
        return .accepted(z)
    }

    public enum ConfigChangeResult: Equatable, Sendable {
        case accepted(Zxid)
        case notLeader(leaderHint: ServerID?)
        /// An earlier membership change is not committed yet.
        case inProgress
        case rejected(String)
    }

    /// True while a membership change is in the log but not committed.
    public var configChangePending: Bool { (configHistory.last?.zxid ?? .zero) > hard.commit }

    /// Proposes a new membership. It takes effect on each member as soon as the entry is in its log; it
    /// is done once committed. One voter may be added or removed per change (observers freely), so the
    /// old and new majorities always overlap. `appBytes` travel with the entry for the application.
    public mutating func proposeConfig(_ new: ClusterConfig, appBytes: [UInt8] = []) -> ConfigChangeResult {
        guard role == .leader else { return .notLeader(leaderHint: leaderID) }
        if configChangePending { return .inProgress }
        guard !new.voters.isEmpty else { return .rejected("the new membership has no voters") }
        let changed = Set(cluster.voters).symmetricDifference(Set(new.voters))
        guard changed.count <= 1 else {
            return .rejected("change one voter at a time (this changes \(changed.sorted().map(String.init).joined(separator: ", ")))")
        }
        switch propose(ConfigCodec.encode(new) + appBytes, kind: .config) {
        case .accepted(let z): return .accepted(z)
        case .notLeader(let hint): return .notLeader(leaderHint: hint)
        case .epochExhausted: return .notLeader(leaderHint: nil)
        }
    }

    /// Members that have acknowledged an entry of this epoch and answered recently (leader only).
    public var syncedMembers: Set<ServerID> {
        guard role == .leader else { return [] }
        let start = Zxid(epoch: hard.epoch, counter: 0)
        var out: Set<ServerID> = [id]
        for (k, p) in progress where (p.recentActive || p.activeBefore) && p.match >= start { out.insert(k) }
        return out
    }

    /// The membership in force at `zxid` (for snapshot metadata).
    public func cluster(at zxid: Zxid) -> ClusterConfig {
        configHistory.last(where: { $0.zxid <= zxid })?.config ?? baseCluster
    }

    private mutating func setCluster(_ c: ClusterConfig) {
        cluster = c
        switch role {
        case .leader:
            let last = lastZxid
            for m in c.allIDs where m != id && progress[m] == nil { progress[m] = Progress(next: last) }
            for k in Array(progress.keys) where !c.allIDs.contains(k) { progress[k] = nil }
        case .follower, .observer:
            role = c.isVoter(id) ? .follower : .observer
        case .candidate, .preCandidate:
            if !c.isVoter(id) { role = .observer }
        }
    }

    public enum SyncRequestResult: Equatable, Sendable {
        /// The answer will come in `Ready.syncsReady` (or never, if the leader is lost: the
        /// shell should time out).
        case pending
        case noLeader
    }

    /// Starts a read barrier. The answer `(id, zxid)` appears in `Ready.syncsReady`; the
    /// shell answers its client once the state machine has applied `zxid`.
    public mutating func requestSync(id: UInt64) -> SyncRequestResult {
        if role == .leader {
            enqueueSync(from: self.id, id: id)
            return .pending
        }
        guard let l = leaderID else { return .noLeader }
        send(to: l, .syncRequest(term: hard.epoch, id: id))
        return .pending
    }

    /// Queues an opaque application message to a peer.
    public mutating func sendApp(to: ServerID, bytes: [UInt8]) {
        outbox.append(Outbound(to: to, message: .app(bytes)))
    }

    /// Handles a message from peer `from`.
    public mutating func step(_ m: PeerMessage, from: ServerID) {
        if case .app(let b) = m {
            appInbox.append(AppMessage(from: from, bytes: b))
            return
        }
        guard from != id, let mterm = m.term else { return }
        let myTerm = hard.epoch

        if mterm > myTerm {
            switch m {
            case .preVote:
                break // answered below without changing our epoch
            case .preVoteResponse(let r) where r.granted:
                break
            case .vote(let r):
                if inLease() && !r.transfer { return }
                becomeFollower(epoch: mterm, leader: nil)
            case .append, .snapshot:
                becomeFollower(epoch: mterm, leader: from)
            default:
                becomeFollower(epoch: mterm, leader: nil)
            }
        } else if mterm < myTerm {
            switch m {
            case .append, .snapshot:
                // Tell a stale leader about the newer epoch so it steps down.
                send(to: from, .appendResponse(AppendResponse(
                    term: myTerm, success: false, match: .zero, rejectedPrev: .zero, hint: .zero, round: 0)))
            case .preVote:
                send(to: from, .preVoteResponse(VoteResponse(term: myTerm, granted: false)))
            default:
                break
            }
            return
        }

        switch m {
        case .preVote(let r):
            let ok = cluster.isVoter(id) && r.term > hard.epoch && r.lastZxid >= lastZxid && !inLease()
            send(to: from, .preVoteResponse(VoteResponse(term: ok ? r.term : hard.epoch, granted: ok)))
        case .vote(let r):
            let ok = cluster.isVoter(id) && (hard.votedFor == nil || hard.votedFor == from)
                && r.lastZxid >= lastZxid
            if ok {
                hard.votedFor = from
                mustSync = true
                electionElapsed = 0
            }
            send(to: from, .voteResponse(VoteResponse(term: hard.epoch, granted: ok)))
        case .preVoteResponse(let r):
            guard role == .preCandidate, r.term == hard.epoch + 1 || !r.granted else { return }
            tallyVote(from: from, granted: r.granted)
        case .voteResponse(let r):
            guard role == .candidate else { return }
            tallyVote(from: from, granted: r.granted)
        case .append(let r):
            followLeader(from)
            handleAppend(r, from: from)
        case .snapshot(let r):
            followLeader(from)
            handleSnapshot(r, from: from)
        case .appendResponse(let r):
            guard role == .leader else { return }
            handleAppendResponse(r, from: from)
        case .snapshotAck(let r):
            guard role == .leader else { return }
            handleSnapshotAck(r, from: from)
        case .syncRequest(_, let sid):
            guard role == .leader else { return }
            enqueueSync(from: from, id: sid)
        case .syncResponse(_, let sid, let z):
            syncsReady.append(SyncReady(id: sid, zxid: z))
        case .commitHint(let t, let z):
            guard role == .follower, leaderID == from else { return }
            if let h = commitHintIn, h.leader == from, h.term == t, h.zxid >= z { return }
            commitHintIn = AckPoint(leader: from, term: t, zxid: z)
            commitFromHint()
        case .timeoutNow:
            // Only from the leader this member follows, in its epoch: campaign at once, without pre-vote.
            guard role == .follower, leaderID == from, cluster.isVoter(id) else { return }
            campaign(pre: false, transfer: true)
        case .app:
            break
        }
    }

    // MARK: - Ready

    public var hasReady: Bool {
        hard != lastReadyHard || proposalsPending || !unstable.isEmpty || pendingTruncate != nil || pendingSnapshot != nil
            || !outbox.isEmpty || hard.commit > appliedZxid || !appInbox.isEmpty || !syncsReady.isEmpty
            || snapshotWanted != nil
    }

    /// True between `takeReady()` and `advance()`.
    public var readyInFlight: Bool { handed != nil }

    public mutating func takeReady() -> Ready {
        precondition(handed == nil, "takeReady() called again before advance(): every Ready is advanced exactly once")
        if proposalsPending {
            proposalsPending = false
            if role == .leader { broadcastAppend() }
        }
        var rd = Ready()
        if hard != lastReadyHard { rd.hardState = hard }
        rd.truncateAfter = pendingTruncate
        rd.snapshotToInstall = pendingSnapshot
        rd.entriesToAppend = unstable
        rd.mustSync = mustSync || !unstable.isEmpty || pendingSnapshot != nil || pendingTruncate != nil
        rd.messages = outbox
        if hard.commit > appliedZxid {
            let from = max(appliedZxid, pendingSnapshot?.zxid ?? .zero)
            rd.committed = entries(after: from, upTo: hard.commit)
        }
        rd.appMessages = appInbox
        rd.syncsReady = syncsReady
        if let z = snapshotWanted {
            rd.snapshotToRead = z
            snapshotAsked = z
            snapshotWanted = nil
        }
        handed = Handed(entries: unstable, generation: viewGeneration, hard: hard, commit: hard.commit,
                        snapshot: pendingSnapshot != nil, ack: answered?.point)
        mustSync = false
        outbox = []
        appInbox = []
        syncsReady = []
        return rd
    }

    /// Acknowledges that the last `Ready` was persisted, sent and applied. Inputs that
    /// arrived between `takeReady()` and `advance()` are kept for the next Ready.
    public mutating func advance() {
        guard let h = handed else { preconditionFailure("advance() without takeReady(): every Ready is advanced exactly once") }
        handed = nil
        lastReadyHard = h.hard
        appliedZxid = max(appliedZxid, h.commit)
        if viewGeneration == h.generation {
            if h.snapshot { pendingSnapshot = nil }
            // The handed entries that still lead the unstable part are durable now.
            var k = 0
            while k < h.entries.count && k < unstable.count && unstable[k].zxid == h.entries[k].zxid { k += 1 }
            if k > 0 {
                unstableAfter = unstable[k - 1].zxid
                unstable.removeFirst(k)
            }
        }
        // Whatever the store holds beyond the view (entries handed out and since replaced)
        // is dropped by the next Ready.
        pendingTruncate = pendingSnapshot == nil && store.lastZxid > unstableAfter ? unstableAfter : nil
        if role == .leader {
            selfMatch = pendingSnapshot == nil ? unstableAfter : .zero
            maybeCommit()
            releaseSyncs()
            sendCommitHints()
        } else if let a = h.ack, viewGeneration == h.generation, a.term == hard.epoch {
            // The answers in that Ready went out after it was persisted: what they acknowledged is durable.
            if let d = durableAck, d.leader == a.leader, d.term == a.term, d.zxid >= a.zxid {} else { durableAck = a }
            commitFromHint()
        }
    }

    /// Leader, once its own log is durable: tells each voter that waits for an entry (a write it
    /// forwarded) the commit point it would reach if that voter held everything sent to it. Only while
    /// no membership change is pending, so the point is counted in a settled membership (and a
    /// follower never has to judge quorums itself). Voters nobody waits on learn commits as before.
    private mutating func sendCommitHints() {
        guard role == .leader, !configChangePending, progress.count > 0 else { return }
        var matches: [ServerID: Zxid] = [id: selfMatch]
        for (k, p) in progress { matches[k] = p.match }
        for k in progress.keys.sorted() {
            let p = progress[k]!
            guard p.replicating, cluster.isVoter(k), p.next > p.match, p.hintWanted > max(hard.commit, p.hintSent) else { continue }
            var m = matches
            m[k] = p.next
            let y = cluster.quorum.committed(matches: m)
            guard y.epoch == hard.epoch, y > hard.commit, y > p.hintSent, y > p.match else { continue }
            send(to: k, .commitHint(term: hard.epoch, upTo: y))
            progress[k]!.hintSent = y
        }
    }

    /// Follower: a point it holds durably (acknowledged to this leader in this epoch) and the leader's
    /// hint covers is on a quorum: committed.
    private mutating func commitFromHint() {
        guard role == .follower, let h = commitHintIn, let d = durableAck, h.leader == d.leader,
              h.term == hard.epoch, d.term == hard.epoch, leaderID == h.leader else { return }
        let c = min(h.zxid, d.zxid)
        if c > hard.commit && c.epoch == hard.epoch && logContains(c) { hard.commit = c }
    }

    // MARK: - roles

    private mutating func resetElectionTimeout() {
        let t = config.electionTimeoutTicks
        randomizedElectionTimeout = t + Int(rng.next(below: UInt64(t)))
    }

    private mutating func becomeFollower(epoch: UInt32, leader: ServerID?) {
        if epoch != hard.epoch {
            hard.epoch = epoch
            hard.votedFor = nil
            mustSync = true
        }
        role = cluster.isVoter(id) ? .follower : .observer
        leaderID = leader
        electionElapsed = 0
        heartbeatElapsed = 0
        transferee = nil
        progress = [:]
        pendingSyncs = []
        granted = []
        rejected = []
        resetElectionTimeout()
    }

    private mutating func followLeader(_ from: ServerID) {
        if role != .follower && role != .observer {
            becomeFollower(epoch: hard.epoch, leader: from)
        } else if leaderID != from {
            resetElectionTimeout()   // a staggered campaign after a lost link is off
        }
        leaderID = from
        electionElapsed = 0
    }

    private func inLease() -> Bool {
        config.checkQuorum && leaderID != nil && electionElapsed < config.electionTimeoutTicks
    }

    private mutating func campaign(pre: Bool, transfer: Bool = false) {
        guard cluster.isVoter(id) else { return }
        electionElapsed = 0
        resetElectionTimeout()
        granted = [id]
        rejected = []
        leaderID = nil
        let term: UInt32
        if pre {
            role = .preCandidate
            term = hard.epoch + 1
        } else {
            role = .candidate
            hard.epoch += 1
            hard.votedFor = id
            mustSync = true
            term = hard.epoch
        }
        if cluster.quorum.tally(granted: granted, rejected: rejected) == .won {
            if pre { campaign(pre: false) } else { becomeLeader() }
            return
        }
        let req = VoteRequest(term: term, lastZxid: lastZxid, transfer: transfer)
        for v in cluster.voters where v != id {
            send(to: v, pre ? .preVote(req) : .vote(req))
        }
    }

    private mutating func tallyVote(from: ServerID, granted ok: Bool) {
        if ok { granted.insert(from) } else { rejected.insert(from) }
        switch cluster.quorum.tally(granted: granted, rejected: rejected) {
        case .won:
            if role == .preCandidate { campaign(pre: false) } else { becomeLeader() }
        case .lost:
            becomeFollower(epoch: hard.epoch, leader: nil)
        case .pending:
            break
        }
    }

    private mutating func becomeLeader() {
        role = .leader
        leaderID = id
        transferee = nil
        electionElapsed = 0
        heartbeatElapsed = 0
        pendingSyncs = []
        progress = [:]
        let last = lastZxid
        for m in cluster.allIDs where m != id {
            progress[m] = Progress(next: last)
        }
        // Counted from the next advance(), once the store reflects every pending write.
        selfMatch = .zero
        nextCounter = 1
        appendLocal([Entry(zxid: Zxid(epoch: hard.epoch, counter: 0), kind: .noop)])
        broadcastAppend()
    }

    private func quorumActive() -> Bool {
        var active: Set<ServerID> = [id]
        for (k, p) in progress where p.recentActive { active.insert(k) }
        return cluster.quorum.isQuorum(active)
    }

    // MARK: - leader side

    private mutating func broadcastAppend() {
        for k in progress.keys.sorted() { fillPipeline(to: k) }
    }

    /// Sends appends to `k` while there is something to send and flow control allows.
    private mutating func fillPipeline(to k: ServerID) {
        for _ in 0..<config.maxInflightMessages {
            let before = outbox.count
            sendAppend(to: k, heartbeat: false)
            if outbox.count == before || progress[k]?.replicating != true { break }
        }
    }

    private mutating func broadcastHeartbeat() {
        round += 1
        let last = lastZxid
        for k in progress.keys.sorted() {
            var p = progress[k]!
            p.probeSent = false
            if p.replicating && p.match < last {
                p.stalledHeartbeats += 1
                if p.stalledHeartbeats >= Self.stalledHeartbeatLimit {
                    // Nothing acknowledged for a while: assume losses, probe from the match.
                    p.replicating = false
                    p.next = p.match
                    p.inflight = []
                    p.stalledHeartbeats = 0
                }
            }
            progress[k] = p
            sendAppend(to: k, heartbeat: true)
            // A streaming follower that is behind also gets whatever flow control allows.
            fillPipeline(to: k)
        }
    }

    /// Sends entries after `progress.next` (or a snapshot if they are compacted away).
    /// Heartbeats always go out; otherwise only when there is something to send and the
    /// follower is not being probed with a message in flight.
    private mutating func sendAppend(to k: ServerID, heartbeat: Bool, commitNotice: Bool = false) {
        guard var p = progress[k] else { return }
        if heartbeat && p.replicating {
            // A heartbeat at the acknowledged point: carries the commit, never conflicts
            // with appends in flight. A commit notice goes at the last point sent instead: the
            // connection is ordered, so the follower has those entries (or rejects the notice like
            // any append it cannot place), and it learns a commit that a quorum without it made
            // without waiting for its own acknowledgement to travel first.
            let at = commitNotice ? p.next : p.match
            let commit = min(hard.commit, at)
            send(to: k, .append(AppendRequest(term: hard.epoch, prev: at, commit: commit,
                                              round: round, entries: [])))
            progress[k]!.commitSent = max(p.commitSent, commit)
            return
        }
        if !heartbeat {
            if p.next >= lastZxid { return }
            if !p.replicating && p.probeSent { return }
            if p.replicating && p.inflight.count >= config.maxInflightMessages { return }
        }
        let snapZ = logSnapshotZxid
        if p.next < snapZ || !logContains(p.next) {
            guard let s = pendingSnapshot ?? storeSnapshot() else { return }
            if p.snapshotZxid != s.zxid || p.snapshotOffset > s.data.count {
                p.snapshotZxid = s.zxid
                p.snapshotOffset = 0
            }
            let end = min(s.data.count, p.snapshotOffset + config.snapshotChunkBytes)
            send(to: k, .snapshot(SnapshotRequest(
                term: hard.epoch, round: round, meta: s.meta, total: UInt64(s.data.count),
                offset: UInt64(p.snapshotOffset), chunk: Array(s.data[p.snapshotOffset..<end]))))
            p.replicating = false
            p.probeSent = true
            progress[k] = p
            return
        }
        var ents = entries(after: p.next, limit: config.maxEntriesPerMessage)
        // Bound the message size too (at least one entry goes, whatever its size).
        var bytes = 0
        for (i, e) in ents.enumerated() {
            bytes += e.payload.count + 16
            if bytes > config.maxBytesPerMessage && i > 0 {
                ents.removeSubrange(i...)
                break
            }
        }
        let lastInMsg = ents.last?.zxid ?? p.next
        send(to: k, .append(AppendRequest(term: hard.epoch, prev: p.next, commit: min(hard.commit, lastInMsg),
                                          round: round, entries: ents)))
        p.commitSent = max(p.commitSent, min(hard.commit, lastInMsg))
        if p.replicating {
            if !ents.isEmpty {
                p.next = lastInMsg
                p.inflight.append(lastInMsg)
            }
        } else {
            p.probeSent = true
        }
        progress[k] = p
    }

    /// Heartbeats without progress before a replicating follower is probed again.
    static let stalledHeartbeatLimit = 3

    private mutating func handleAppendResponse(_ r: AppendResponse, from: ServerID) {
        guard var p = progress[from] else { return }
        p.recentActive = true
        p.ackedRound = max(p.ackedRound, r.round)
        if r.success {
            let progressed = r.match > p.match
            // A duplicate or late answer that shows no progress changes nothing (reacting to
            // it would multiply the appends in flight).
            guard progressed || (!p.replicating && r.match >= p.next) else {
                progress[from] = p
                releaseSyncs()
                return
            }
            if progressed {
                p.match = r.match
                p.stalledHeartbeats = 0
                p.inflight.removeAll { $0 <= r.match }
            }
            if p.next < p.match { p.next = p.match }
            p.snapshotOffset = 0
            p.replicating = true
            p.probeSent = false
            progress[from] = p
            if cluster.isVoter(from) { maybeCommit() }
            releaseSyncs()
            if transferee == from && p.match == lastZxid { send(to: from, .timeoutNow(term: hard.epoch)) }
            fillPipeline(to: from)
            // A quorum committed these entries before this follower's answer came, so no message told it
            // the commit: tell it now rather than at the next heartbeat (a client write it forwarded
            // would otherwise wait for that heartbeat). Once per commit point and follower.
            if role == .leader, let q = progress[from], q.replicating,
               min(hard.commit, q.match) > max(q.commitSent, configChangePending ? .zero : min(q.hintSent, q.match)) {
                sendAppend(to: from, heartbeat: true)
            }
        } else {
            if r.rejectedPrev == p.match && r.hint < p.match {
                // The follower no longer has what it acknowledged (its data was wiped, or its
                // disk lied): forget the match and sync it again from what it has.
                p.match = greatest(atOrBelow: r.hint)
                p.next = p.match
                p.replicating = false
                p.probeSent = false
                p.inflight = []
                p.stalledHeartbeats = 0
                progress[from] = p
                sendAppend(to: from, heartbeat: true)
                return
            }
            // Ignore stale rejections (for a prev we already moved away from).
            if r.rejectedPrev <= p.match || (!p.replicating && r.rejectedPrev != p.next) {
                progress[from] = p
                releaseSyncs()
                return
            }
            let back = greatest(atOrBelow: min(r.hint, r.rejectedPrev))
            p.next = max(p.match, back < r.rejectedPrev ? back : p.match)
            p.replicating = false
            p.probeSent = false
            // Appends beyond the new starting point are lost causes.
            p.inflight.removeAll { $0 > p.next }
            progress[from] = p
            releaseSyncs()
            sendAppend(to: from, heartbeat: false)
            if progress[from]!.next >= lastZxid && !progress[from]!.probeSent {
                sendAppend(to: from, heartbeat: true)
            }
        }
    }

    private mutating func handleSnapshotAck(_ r: SnapshotAck, from: ServerID) {
        guard var p = progress[from] else { return }
        p.recentActive = true
        p.ackedRound = max(p.ackedRound, r.round)
        if r.zxid == p.snapshotZxid {
            if Int(clamping: r.next) == p.snapshotOffset && p.probeSent {
                // A duplicate ack for the chunk already on its way.
                progress[from] = p
                releaseSyncs()
                return
            }
            p.snapshotOffset = Int(clamping: r.next)
            p.probeSent = false
        }
        progress[from] = p
        releaseSyncs()
        sendAppend(to: from, heartbeat: false)
    }

    private mutating func maybeCommit() {
        guard role == .leader else { return }
        var matches: [ServerID: Zxid] = [id: selfMatch]
        for (k, p) in progress { matches[k] = p.match }
        let q = cluster.quorum.committed(matches: matches)
        // Only entries of the current epoch commit by counting replicas.
        if q > hard.commit && q.epoch == hard.epoch {
            hard.commit = q
            broadcastCommit()
            if !cluster.isVoter(id) && !configChangePending {
                // This leader was removed and the change is committed: hand over by stepping down.
                becomeFollower(epoch: hard.epoch, leader: nil)
            }
        }
    }

    private mutating func broadcastCommit() {
        for k in progress.keys.sorted() {
            let p = progress[k]!
            guard p.replicating && p.next >= lastZxid else { continue }
            // A hint covering the commit and everything sent: the follower commits by itself once durable.
            if !configChangePending && hard.commit <= p.hintSent && hard.commit <= p.next { continue }
            sendAppend(to: k, heartbeat: true, commitNotice: true)
        }
    }

    /// Bound on read barriers waiting for a quorum; further requests are dropped (the
    /// requester times out).
    static let maxPendingSyncs = 4096

    private mutating func enqueueSync(from: ServerID, id sid: UInt64) {
        guard pendingSyncs.count < Self.maxPendingSyncs else { return }
        round += 1
        pendingSyncs.append(PendingSync(from: from, id: sid, round: round))
        for k in progress.keys.sorted() where cluster.isVoter(k) {
            sendAppend(to: k, heartbeat: true)
        }
        releaseSyncs()
    }

    private mutating func releaseSyncs() {
        guard role == .leader, !pendingSyncs.isEmpty, hard.commit.epoch == hard.epoch else { return }
        var still: [PendingSync] = []
        // A follower with a commit hint may apply a write before this leader hears it is committed:
        // a barrier must wait for everything that may already be visible somewhere.
        var point = hard.commit
        for p in progress.values where p.hintSent > point { point = p.hintSent }
        for s in pendingSyncs {
            var acked: Set<ServerID> = [id]
            for (k, p) in progress where p.ackedRound >= s.round { acked.insert(k) }
            if cluster.quorum.isQuorum(acked) {
                if s.from == id {
                    syncsReady.append(SyncReady(id: s.id, zxid: point))
                } else {
                    send(to: s.from, .syncResponse(term: hard.epoch, id: s.id, zxid: point))
                }
            } else {
                still.append(s)
            }
        }
        pendingSyncs = still
    }

    // MARK: - follower side

    private mutating func handleAppend(_ r: AppendRequest, from: ServerID) {
        var prev = r.prev
        var ents = r.entries
        let lastInMsg = ents.last?.zxid ?? prev
        if prev < hard.commit {
            // Our committed prefix equals the leader's; skip what we already have committed.
            ents.removeAll { $0.zxid <= hard.commit }
            if ents.isEmpty {
                send(to: from, .appendResponse(AppendResponse(
                    term: hard.epoch, success: true, match: min(lastInMsg, hard.commit),
                    rejectedPrev: .zero, hint: .zero, round: r.round)))
                return
            }
            prev = hard.commit
        }
        guard logContains(prev) else {
            send(to: from, .appendResponse(AppendResponse(
                term: hard.epoch, success: false, match: .zero, rejectedPrev: r.prev,
                hint: greatest(atOrBelow: prev), round: r.round)))
            return
        }
        var after = prev
        var i = 0
        while i < ents.count && logContains(ents[i].zxid) {
            after = ents[i].zxid
            i += 1
        }
        if i < ents.count {
            if lastZxid > after { truncateLocal(after: after) }
            appendLocal(Array(ents[i...]))
        }
        var learnedCommit = false
        if r.commit > hard.commit {
            let c = min(r.commit, lastInMsg)
            if c > hard.commit { hard.commit = c; learnedCommit = true }
        }
        // A commit notice (no entries, a new commit point, at a point and round this follower has
        // already acknowledged to this leader) would get the very answer the leader already has or
        // is about to get: skip it. That halves the messages per write in a quiet ensemble. Every
        // other append is answered; a lost answer is repaired by the next heartbeat, whose round is new.
        let same = answered.map { $0.point.leader == from && $0.point.term == hard.epoch } ?? false
        if same, r.entries.isEmpty && learnedCommit, let a = answered, a.point.zxid >= lastInMsg, a.round >= r.round {
            return
        }
        if same, let a = answered {
            answered = (AckPoint(leader: from, term: hard.epoch, zxid: max(a.point.zxid, lastInMsg)), max(a.round, r.round))
        } else {
            answered = (AckPoint(leader: from, term: hard.epoch, zxid: lastInMsg), r.round)
        }
        send(to: from, .appendResponse(AppendResponse(
            term: hard.epoch, success: true, match: lastInMsg, rejectedPrev: .zero, hint: .zero, round: r.round)))
    }

    private mutating func handleSnapshot(_ r: SnapshotRequest, from: ServerID) {
        let z = r.meta.zxid
        if z <= hard.commit {
            incomingSnapshot = nil
            send(to: from, .appendResponse(AppendResponse(
                term: hard.epoch, success: true, match: hard.commit, rejectedPrev: .zero, hint: .zero, round: r.round)))
            return
        }
        if logContains(z) {
            // We already have the entry: just learn that it is committed.
            incomingSnapshot = nil
            hard.commit = z
            send(to: from, .appendResponse(AppendResponse(
                term: hard.epoch, success: true, match: z, rejectedPrev: .zero, hint: .zero, round: r.round)))
            return
        }
        if r.offset == 0 { incomingSnapshot = (r.meta, r.total, []) }
        guard var inc = incomingSnapshot, inc.meta == r.meta, inc.total == r.total,
              UInt64(inc.data.count) == r.offset, r.offset + UInt64(r.chunk.count) <= r.total else {
            let have = incomingSnapshot.map { $0.meta == r.meta && $0.total == r.total ? UInt64($0.data.count) : 0 } ?? 0
            send(to: from, .snapshotAck(SnapshotAck(term: hard.epoch, zxid: z, next: have, round: r.round)))
            return
        }
        // Released first, so `inc` holds the only reference and the append does not copy everything
        // received so far (a chunk at a time that was quadratic: 23 s for a 210 MB snapshot).
        incomingSnapshot = nil
        inc.data += r.chunk
        guard UInt64(inc.data.count) == inc.total else {
            incomingSnapshot = inc
            send(to: from, .snapshotAck(SnapshotAck(term: hard.epoch, zxid: z, next: UInt64(inc.data.count), round: r.round)))
            return
        }
        incomingSnapshot = nil
        let s = Snapshot(meta: inc.meta, data: inc.data)
        pendingSnapshot = s
        pendingTruncate = nil
        unstable = []
        unstableAfter = s.zxid
        viewGeneration &+= 1
        answered = nil
        hard.commit = s.zxid
        appliedZxid = s.zxid
        if let c = s.meta.config {
            baseCluster = c
            configHistory = []
            setCluster(c)
        }
        send(to: from, .appendResponse(AppendResponse(
            term: hard.epoch, success: true, match: s.zxid, rejectedPrev: .zero, hint: .zero, round: r.round)))
    }

    // MARK: - snapshot reads

    /// The store's snapshot if it has been read; otherwise asks for a read in the next Ready (once per
    /// snapshot until answered) and returns nil: the caller tries again on its next heartbeat.
    private mutating func storeSnapshot() -> Snapshot? {
        let meta = store.snapshotMeta
        guard meta.zxid != .zero || meta.config != nil else { return nil }
        if let s = loadedSnapshot, s.meta == meta { return s }
        loadedSnapshot = nil  // an older snapshot: the store has compacted since
        if snapshotAsked != meta.zxid { snapshotWanted = meta.zxid }
        return nil
    }

    /// The answer to `Ready.snapshotToRead`: the store's snapshot at `zxid`, or nil if it could not be read
    /// (asked again when a follower next needs it). An answer for a snapshot the store no longer starts
    /// from is dropped.
    public mutating func snapshotRead(_ snapshot: Snapshot?, zxid: Zxid) {
        if snapshotAsked == zxid { snapshotAsked = nil }
        guard let snapshot, snapshot.zxid == zxid, snapshot.meta == store.snapshotMeta else { return }
        loadedSnapshot = snapshot
    }

    // MARK: - log view

    private var logSnapshotZxid: Zxid { pendingSnapshot?.zxid ?? store.snapshotMeta.zxid }

    private mutating func appendLocal(_ ents: [Entry]) {
        unstable += ents
        for e in ents where e.kind == .config {
            if let (c, _) = try? ConfigCodec.decode(e.payload) {
                configHistory.append((e.zxid, c))
                setCluster(c)
            }
        }
    }

    private mutating func truncateLocal(after z: Zxid) {
        precondition(z >= hard.commit, "truncating committed entries")
        if z >= unstableAfter {
            unstable.removeSubrange(unstable.upperBound(z)...)
        } else {
            unstable = []
            unstableAfter = z
            pendingTruncate = min(pendingTruncate ?? z, z)
            viewGeneration &+= 1
            answered = nil
        }
        if configHistory.contains(where: { $0.zxid > z }) {
            configHistory.removeAll { $0.zxid > z }
            setCluster(configHistory.last?.config ?? baseCluster)
        }
    }

    private func logContains(_ z: Zxid) -> Bool {
        if z == logSnapshotZxid { return true }
        if z < logSnapshotZxid || z > lastZxid { return false }
        if z > unstableAfter {
            let i = unstable.upperBound(z)
            return i > 0 && unstable[i - 1].zxid == z
        }
        if pendingSnapshot != nil { return false }
        return store.contains(z)
    }

    private func greatest(atOrBelow z: Zxid) -> Zxid {
        if z >= lastZxid { return lastZxid }
        if z < logSnapshotZxid { return .zero }
        if z > unstableAfter {
            let i = unstable.upperBound(z)
            return i > 0 ? unstable[i - 1].zxid : unstableAfter
        }
        if pendingSnapshot != nil { return logSnapshotZxid }
        return store.greatest(atOrBelow: z)
    }

    private func entries(after z: Zxid, limit: Int) -> [Entry] {
        var out: [Entry] = []
        if z < unstableAfter && pendingSnapshot == nil {
            out = store.entries(after: z, limit: limit).filter { $0.zxid <= unstableAfter }
        }
        if out.count < limit {
            let start = unstable.upperBound(z)
            let end = min(unstable.count, start + (limit - out.count))
            if start < end { out += unstable[start..<end] }
        }
        return out
    }

    private func entries(after z: Zxid, upTo hi: Zxid) -> [Entry] {
        var out: [Entry] = []
        var cur = z
        while cur < hi {
            let batch = entries(after: cur, limit: 1024)
            guard !batch.isEmpty else { break }
            for e in batch where e.zxid <= hi { out.append(e) }
            cur = batch.last!.zxid
        }
        return out
    }

    private mutating func send(to: ServerID, _ m: PeerMessage) {
        outbox.append(Outbound(to: to, message: m))
    }

    /// Stable one-line summary for traces.
    /// The leader's view of each other member: last zxid known replicated there, and whether it answered recently.
    public var peerProgress: [(id: ServerID, match: Zxid, active: Bool)] {
        guard role == .leader else { return [] }
        return progress.keys.sorted().filter { $0 != id }.map { k in
            let p = progress[k]!
            return (id: k, match: p.match, active: p.recentActive || p.activeBefore)
        }
    }

    public var describe: String {
        "id=\(id) \(role.rawValue) t=\(hard.epoch) vote=\(hard.votedFor.map(String.init) ?? "-") "
            + "leader=\(leaderID.map(String.init) ?? "-") last=\(lastZxid) commit=\(hard.commit) applied=\(appliedZxid)"
    }
}

/// Durable election/commit state. `epoch` and `votedFor` must be fsynced when they change
/// (`Ready.mustSync`); `commit` may be written lazily.
public struct HardState: Hashable, Sendable, CustomStringConvertible {
    public var epoch: UInt32
    public var votedFor: ServerID?
    public var commit: Zxid
    public init(epoch: UInt32 = 0, votedFor: ServerID? = nil, commit: Zxid = .zero) {
        self.epoch = epoch
        self.votedFor = votedFor
        self.commit = commit
    }
    public static let initial = HardState()
    public var description: String { "t=\(epoch) vote=\(votedFor.map(String.init) ?? "-") commit=\(commit)" }
}

public struct ReplicaConfig: Sendable {
    public var id: ServerID
    public var electionTimeoutTicks: Int
    public var heartbeatIntervalTicks: Int
    public var maxEntriesPerMessage: Int
    /// Appends in flight per follower while streaming (flow control).
    public var maxInflightMessages: Int
    /// Appends carry at most this many payload bytes (but always at least one entry).
    public var maxBytesPerMessage: Int
    /// Snapshots are streamed to followers in chunks of at most this many bytes.
    public var snapshotChunkBytes: Int
    public var preVote: Bool
    public var checkQuorum: Bool

    public enum ValidationError: Error, Equatable {
        case heartbeatNotBelowElection
        case nonPositive(String)
    }

    public init(id: ServerID, electionTimeoutTicks: Int = 10, heartbeatIntervalTicks: Int = 2,
                maxEntriesPerMessage: Int = 64, maxBytesPerMessage: Int = 4 << 20, maxInflightMessages: Int = 64,
                snapshotChunkBytes: Int = 1 << 20,
                preVote: Bool = true, checkQuorum: Bool = true) throws {
        guard electionTimeoutTicks > 0 else { throw ValidationError.nonPositive("electionTimeoutTicks") }
        guard heartbeatIntervalTicks > 0 else { throw ValidationError.nonPositive("heartbeatIntervalTicks") }
        guard maxEntriesPerMessage > 0 else { throw ValidationError.nonPositive("maxEntriesPerMessage") }
        guard snapshotChunkBytes > 0 else { throw ValidationError.nonPositive("snapshotChunkBytes") }
        guard maxBytesPerMessage > 0 else { throw ValidationError.nonPositive("maxBytesPerMessage") }
        guard maxInflightMessages > 0 else { throw ValidationError.nonPositive("maxInflightMessages") }
        guard heartbeatIntervalTicks < electionTimeoutTicks else { throw ValidationError.heartbeatNotBelowElection }
        self.id = id
        self.electionTimeoutTicks = electionTimeoutTicks
        self.heartbeatIntervalTicks = heartbeatIntervalTicks
        self.maxEntriesPerMessage = maxEntriesPerMessage
        self.snapshotChunkBytes = snapshotChunkBytes
        self.maxBytesPerMessage = maxBytesPerMessage
        self.maxInflightMessages = maxInflightMessages
        self.preVote = preVote
        self.checkQuorum = checkQuorum
    }
}

public struct Outbound: Hashable, Sendable {
    public var to: ServerID
    public var message: PeerMessage
}

public struct AppMessage: Hashable, Sendable {
    public var from: ServerID
    public var bytes: [UInt8]
}

public struct SyncReady: Hashable, Sendable {
    public var id: UInt64
    public var zxid: Zxid
}

/// Effects to carry out, in the order documented on `Replica`.
public struct Ready: Sendable {
    public var hardState: HardState?
    /// Drop every log entry after this zxid (before appending).
    public var truncateAfter: Zxid?
    /// Replace the log and the state machine by this snapshot (before appending).
    public var snapshotToInstall: Snapshot?
    public var entriesToAppend: [Entry] = []
    /// Fsync before sending messages.
    public var mustSync = false
    public var messages: [Outbound] = []
    /// Committed entries to apply, in zxid order.
    public var committed: [Entry] = []
    public var appMessages: [AppMessage] = []
    public var syncsReady: [SyncReady] = []
    /// Read the store's snapshot at this zxid (off the core's thread if it is large) and hand it back
    /// with `Replica.snapshotRead(_:zxid:)` as an input. Independent of the rest of the Ready.
    public var snapshotToRead: Zxid?
    public init() {}
}
