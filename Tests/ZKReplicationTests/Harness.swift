@testable import ZKReplication

/// A tiny synchronous cluster for unit tests: in-memory stores, messages queued and
/// delivered on demand (optionally filtered), no randomness besides election jitter.
final class TestCluster {
    var replicas: [ServerID: Replica] = [:]
    var stores: [ServerID: MemoryLogStore] = [:]
    var hards: [ServerID: HardState] = [:]
    var queue: [(from: ServerID, to: ServerID, m: PeerMessage)] = []
    var applied: [ServerID: [Entry]] = [:]
    var syncs: [ServerID: [SyncReady]] = [:]
    var apps: [ServerID: [AppMessage]] = [:]
    var down = Set<ServerID>()
    let cluster: ClusterConfig

    init(voters: [ServerID], observers: [ServerID] = [], electionTimeout: Int = 10, snapshotChunk: Int = 1 << 20) throws {
        cluster = try ClusterConfig(voters: voters, observers: observers)
        for id in cluster.allIDs {
            let s = MemoryLogStore()
            stores[id] = s
            hards[id] = .initial
            replicas[id] = Replica(config: try ReplicaConfig(id: id, electionTimeoutTicks: electionTimeout,
                                                             snapshotChunkBytes: snapshotChunk),
                                   cluster: cluster, store: s, hardState: .initial, seed: 7)
        }
    }

    /// Processes every Ready of `id`.
    func drain(_ id: ServerID) {
        guard var r = replicas[id] else { return }
        while r.hasReady {
            let rd = r.takeReady()
            let s = stores[id]!
            if let h = rd.hardState { hards[id] = h }
            if let z = rd.truncateAfter { s.truncate(after: z) }
            if let snap = rd.snapshotToInstall { s.install(snap) }
            s.append(rd.entriesToAppend)
            for o in rd.messages { queue.append((id, o.to, o.message)) }
            applied[id, default: []] += rd.committed
            syncs[id, default: []] += rd.syncsReady
            apps[id, default: []] += rd.appMessages
            r.advance()
        }
        replicas[id] = r
    }

    func drainAll() { for id in replicas.keys.sorted() { drain(id) } }

    /// Delivers queued messages until quiet (bounded), dropping those `drop` selects.
    func deliverAll(maxRounds: Int = 10_000, drop: (ServerID, ServerID, PeerMessage) -> Bool = { _, _, _ in false }) {
        drainAll()
        var rounds = 0
        while !queue.isEmpty && rounds < maxRounds {
            rounds += 1
            let (f, t, m) = queue.removeFirst()
            if down.contains(t) || down.contains(f) || drop(f, t, m) { continue }
            replicas[t]!.step(m, from: f)
            drain(t)
        }
    }

    func tick(_ id: ServerID, _ n: Int = 1) {
        for _ in 0..<n {
            replicas[id]!.tick()
            drain(id)
        }
    }

    func tickAll(_ n: Int = 1) {
        for _ in 0..<n { for id in replicas.keys.sorted() where !down.contains(id) { tick(id) } }
    }

    /// Ticks `id` until it campaigns, then delivers everything.
    func elect(_ id: ServerID) {
        for _ in 0..<100 where replicas[id]!.role != .leader {
            tick(id)
            deliverAll()
        }
    }

    func propose(_ id: ServerID, _ b: [UInt8]) -> Replica.ProposeResult {
        let r = replicas[id]!.propose(b)
        drain(id)
        return r
    }

    /// Restarts `id` from its persisted store and hard state.
    func restart(_ id: ServerID) throws {
        replicas[id] = Replica(config: try ReplicaConfig(id: id), cluster: cluster, store: stores[id]!,
                               hardState: hards[id]!, seed: 11)
        applied[id] = []
    }

    func leaders() -> [ServerID] { replicas.keys.sorted().filter { replicas[$0]!.role == .leader } }
}

func entry(_ e: UInt32, _ c: UInt32, _ kind: Entry.Kind = .txn) -> Entry {
    Entry(zxid: Zxid(epoch: e, counter: c), kind: kind, payload: kind == .txn ? [UInt8(c)] : [])
}
