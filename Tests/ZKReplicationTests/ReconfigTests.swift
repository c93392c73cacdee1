import Testing
@testable import ZKReplication

extension TestCluster {
    /// Adds a replica that starts with `cluster` as its membership (a joiner told about itself).
    func addReplica(_ id: ServerID, knowing cluster: ClusterConfig) throws {
        let s = MemoryLogStore()
        stores[id] = s
        hards[id] = .initial
        replicas[id] = Replica(config: try ReplicaConfig(id: id, electionTimeoutTicks: 10), cluster: cluster, store: s,
                               hardState: .initial, seed: 11)
    }
}

@Test func addingAVoterReplicatesToItAndCountsItInTheQuorum() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    let four = try ClusterConfig(voters: [1, 2, 3, 4])
    try c.addReplica(4, knowing: four)
    guard case .accepted(let z) = c.replicas[1]!.proposeConfig(four) else { Issue.record("not accepted"); return }
    #expect(c.replicas[1]!.cluster == four)
    #expect(c.replicas[1]!.configChangePending)
    #expect(c.replicas[1]!.proposeConfig(try ClusterConfig(voters: [1, 2, 3, 4, 5])) == .inProgress)
    c.deliverAll()
    c.tickAll(3); c.deliverAll()
    #expect(c.replicas[1]!.commitZxid >= z)
    #expect(!c.replicas[1]!.configChangePending)
    for id: ServerID in [2, 3, 4] { #expect(c.replicas[id]!.cluster == four) }
    // Node 4 has the whole log; with 2 and 3 down, 1 and 4 are not a quorum of 4.
    _ = c.replicas[1]!.propose([7])
    c.down = [2, 3]
    c.tickAll(2); c.deliverAll()
    #expect(c.stores[4]!.lastZxid == c.stores[1]!.lastZxid)
    #expect(c.replicas[1]!.commitZxid < c.stores[1]!.lastZxid)
}

@Test func changingTwoVotersAtOnceIsRejected() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    let r = c.replicas[1]!.proposeConfig(try ClusterConfig(voters: [1, 2, 3, 4, 5]))
    guard case .rejected = r else { Issue.record("expected a rejection, got \(r)"); return }
    // Observers do not count: adding two observers at once is fine.
    guard case .accepted = c.replicas[1]!.proposeConfig(try ClusterConfig(voters: [1, 2, 3], observers: [8, 9])) else {
        Issue.record("observer change rejected"); return
    }
}

@Test func removedLeaderStepsDownOnceTheChangeCommits() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    let without1 = try ClusterConfig(voters: [2, 3])
    guard case .accepted = c.replicas[1]!.proposeConfig(without1) else { Issue.record("not accepted"); return }
    c.deliverAll()
    c.tickAll(3); c.deliverAll()
    #expect(c.replicas[1]!.role != .leader)
    #expect(c.replicas[1]!.role == .observer)
    // The remaining voters elect a leader among themselves (the old one no longer campaigns).
    var leader: ServerID?
    for _ in 0..<200 where leader == nil {
        c.tickAll(); c.deliverAll()
        leader = [2, 3].first { c.replicas[$0]!.role == .leader }
    }
    guard let l = leader else { Issue.record("no new leader"); return }
    #expect(c.replicas[1]!.role != .leader)
    guard case .accepted(let z) = c.replicas[l]!.propose([1]) else { Issue.record("new leader cannot propose"); return }
    c.deliverAll(); c.tickAll(2); c.deliverAll()
    #expect(c.replicas[l == 2 ? 3 : 2]!.commitZxid >= z)
}

@Test func anUncommittedChangeIsUndoneWhenTruncated() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    c.deliverAll()
    // The change reaches only node 2's log... then a new leader without it overrides the suffix.
    guard case .accepted = c.replicas[1]!.proposeConfig(try ClusterConfig(voters: [1, 2, 3, 4])) else { Issue.record("no"); return }
    c.deliverAll(drop: { f, t, _ in f == 1 && t == 3 || t == 1 })
    #expect(c.replicas[2]!.cluster.voters.contains(4))
    c.down = [1]
    c.queue.removeAll()
    c.elect(3)
    c.deliverAll(); c.tickAll(3); c.deliverAll()
    if c.replicas[3]!.role == .leader {
        #expect(!c.replicas[2]!.cluster.voters.contains(4))
    }
}

@Test func configCodecRoundTripsAndRejectsGarbage() throws {
    let cfg = try ClusterConfig(voters: [1, 2, 3], observers: [7])
    let (back, app) = try ConfigCodec.decode(ConfigCodec.encode(cfg) + [9, 9])
    #expect(back == cfg && app == [9, 9])
    #expect(throws: ConfigCodec.DecodeError.self) { try ConfigCodec.decode([0, 0, 0, 9, 1]) }
}
