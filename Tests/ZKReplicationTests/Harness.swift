import Testing
@testable import ZKReplication

/// A tiny synchronous cluster for unit tests: in-memory stores, messages queued and
/// delivered on demand (optionally filtered), no randomness besides election jitter. Each member is
/// driven by the same `ReplicaDriver` zkserver and the simulator use, over an in-memory disk.
final class TestCluster {
    var drivers: [ServerID: ReplicaDriver] = [:]
    var stores: [ServerID: MemoryLogStore] = [:]
    var hards: [ServerID: HardState] = [:]
    var queue: [(from: ServerID, to: ServerID, m: PeerMessage)] = []
    var applied: [ServerID: [Entry]] = [:]
    var syncs: [ServerID: [SyncReady]] = [:]
    var apps: [ServerID: [AppMessage]] = [:]
    var down = Set<ServerID>()
    let cluster: ClusterConfig

    /// `replicas[id]` reads a member's core; assigning to it (`c.replicas[2]!.step(...)`) gives the core an
    /// input directly, as the unit tests do.
    struct Replicas {
        let owner: TestCluster
        subscript(id: ServerID) -> Replica? {
            get { owner.drivers[id]?.replica }
            nonmutating set {
                guard let r = newValue else { return }
                if let d = owner.drivers[id] { d.inputNow { $0 = r } } else { owner.start(id, r) }
            }
        }
        var ids: [ServerID] { owner.drivers.keys.sorted() }
    }
    var replicas: Replicas { Replicas(owner: self) }

    /// A member's disk, network and application: in memory, every write durable at once.
    final class Member: ReplicaDisk, ReplicaTransport, ReplicaApplication {
        unowned let owner: TestCluster
        let id: ServerID
        init(owner: TestCluster, id: ServerID) { self.owner = owner; self.id = id }

        func persist(_ w: DiskWrite, done: @escaping (Result<Void, any Error>) -> Void) {
            let s = owner.stores[id]!
            if let h = w.hardState { owner.hards[id] = h }
            if let z = w.truncateAfter { s.truncate(after: z) }
            if let snap = w.snapshot { s.install(snap) }
            s.append(w.entries)
            done(.success(()))
        }
        func readSnapshot(_ zxid: Zxid, done: @escaping (Snapshot?) -> Void) {
            done(owner.stores[id]!.snapshot())
        }
        func send(_ messages: [Outbound]) { for o in messages { owner.queue.append((id, o.to, o.message)) } }
        func restore(_ snapshot: Snapshot) throws {}
        func apply(_ committed: [Entry]) { owner.applied[id, default: []] += committed }
        func readBarriers(_ s: [SyncReady]) { owner.syncs[id, default: []] += s }
        func advanced(_ messages: [AppMessage]) { owner.apps[id, default: []] += messages }
        func idle() {}
        func failed(_ error: any Error) { Issue.record("member \(id) failed: \(error)") }
    }

    init(voters: [ServerID], observers: [ServerID] = [], electionTimeout: Int = 10, snapshotChunk: Int = 1 << 20) throws {
        cluster = try ClusterConfig(voters: voters, observers: observers)
        for id in cluster.allIDs {
            let s = MemoryLogStore()
            stores[id] = s
            hards[id] = .initial
            start(id, Replica(config: try ReplicaConfig(id: id, electionTimeoutTicks: electionTimeout,
                                                        snapshotChunkBytes: snapshotChunk),
                              cluster: cluster, store: s, hardState: .initial, seed: 7))
        }
    }

    /// A member with a new core over its store (a fresh one, or a restart).
    func start(_ id: ServerID, _ r: Replica) {
        let m = Member(owner: self, id: id)
        drivers[id] = ReplicaDriver(replica: r, persistedHard: hards[id]!, disk: m, transport: m, application: m)
    }

    /// Processes every Ready of `id`.
    func drain(_ id: ServerID) { drivers[id]?.drive() }

    func drainAll() { for id in drivers.keys.sorted() { drain(id) } }

    /// Delivers queued messages until quiet (bounded), dropping those `drop` selects.
    func deliverAll(maxRounds: Int = 10_000, drop: (ServerID, ServerID, PeerMessage) -> Bool = { _, _, _ in false }) {
        drainAll()
        var rounds = 0
        while !queue.isEmpty && rounds < maxRounds {
            rounds += 1
            let (f, t, m) = queue.removeFirst()
            if down.contains(t) || down.contains(f) || drop(f, t, m) { continue }
            drivers[t]!.enqueue { $0.step(m, from: f) }
            drain(t)
        }
    }

    func tick(_ id: ServerID, _ n: Int = 1) {
        for _ in 0..<n {
            drivers[id]!.enqueue { $0.tick() }
            drain(id)
        }
    }

    func tickAll(_ n: Int = 1) {
        for _ in 0..<n { for id in drivers.keys.sorted() where !down.contains(id) { tick(id) } }
    }

    /// Ticks `id` until it campaigns, then delivers everything.
    func elect(_ id: ServerID) {
        for _ in 0..<100 where replicas[id]!.role != .leader {
            tick(id)
            deliverAll()
        }
    }

    func propose(_ id: ServerID, _ b: [UInt8]) -> Replica.ProposeResult {
        var result = Replica.ProposeResult.notLeader(leaderHint: nil)
        drivers[id]!.inputNow { result = $0.propose(b) }
        drain(id)
        return result
    }

    /// Restarts `id` from its persisted store and hard state.
    func restart(_ id: ServerID) throws {
        start(id, Replica(config: try ReplicaConfig(id: id), cluster: cluster, store: stores[id]!,
                          hardState: hards[id]!, seed: 11))
        applied[id] = []
    }

    func leaders() -> [ServerID] { drivers.keys.sorted().filter { replicas[$0]!.role == .leader } }
}

func entry(_ e: UInt32, _ c: UInt32, _ kind: Entry.Kind = .txn) -> Entry {
    Entry(zxid: Zxid(epoch: e, counter: c), kind: kind, payload: kind == .txn ? [UInt8(c)] : [])
}
