import Testing
@testable import ZKReplication

/// Leadership hand-over (`transferLeadership`) and leader loss reported by the transport (`peerUnreachable`).

private func z(_ e: UInt32, _ c: UInt32) -> Zxid { Zxid(epoch: e, counter: c) }

@Test func handOverMakesTheTargetLeadWithoutAnElectionTimeoutAndLosesNothing() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    for i in 1...3 { _ = c.propose(1, [UInt8(i)]) }
    c.deliverAll()
    var result = Replica.TransferResult.refused("")
    c.drivers[1]!.inputNow { result = $0.transferLeadership(to: 3) }
    #expect(result == .started(3))
    // Writes are refused while it runs, pointing at the target.
    #expect(c.propose(1, [9]) == .notLeader(leaderHint: 3))
    c.deliverAll()   // no tick: the hand-over needs none
    #expect(c.leaders() == [3])
    #expect(c.replicas[3]!.epoch == 2)
    #expect(c.replicas[1]!.role == .follower)
    #expect(c.replicas[1]!.transferee == nil)
    _ = c.propose(3, [4])
    c.deliverAll()
    c.tickAll(2)
    c.deliverAll()
    for id: ServerID in [1, 2, 3] {
        #expect(c.applied[id]!.filter { $0.kind == .txn }.map(\.payload) == [[1], [2], [3], [4]])
    }
}

@Test func handOverWaitsForALaggingTargetAndPicksTheMostUpToDateByDefault() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    _ = c.propose(1, [1])
    // Server 2 misses the append; 3 has everything.
    c.deliverAll { _, to, m in if case .append = m { return to == 2 } else { return false } }
    var result = Replica.TransferResult.refused("")
    c.drivers[1]!.inputNow { result = $0.transferLeadership(to: 2) }
    #expect(result == .started(2))
    c.deliverAll()
    #expect(c.leaders() == [1])   // 2 is behind: no timeoutNow yet
    // The leader's next heartbeats find 2 behind, bring it up to date, and then hand over.
    for _ in 0..<8 where c.leaders() != [2] { c.tick(1); c.deliverAll() }
    #expect(c.leaders() == [2])
    #expect(c.replicas[2]!.lastZxid >= z(1, 1))

    // The default target is the voter holding the most of the log.
    let d = try TestCluster(voters: [1, 2, 3])
    d.elect(1)
    _ = d.propose(1, [1])
    d.deliverAll { _, to, m in if case .append = m { return to == 2 } else { return false } }
    d.drivers[1]!.inputNow { result = $0.transferLeadership() }
    #expect(result == .started(3))
}

@Test func aHandOverNobodyTakesIsAbandonedAfterAnElectionTimeout() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    var result = Replica.TransferResult.refused("")
    c.drivers[1]!.inputNow { result = $0.transferLeadership(to: 2) }
    #expect(result == .started(2))
    c.down.insert(2)
    for _ in 0..<10 { c.tick(1); c.deliverAll() }
    #expect(c.replicas[1]!.role == .leader)
    #expect(c.replicas[1]!.transferee == nil)
    if case .accepted = c.propose(1, [5]) {} else { Issue.record("writes are accepted again after an abandoned hand-over") }
    c.drivers[2]!.inputNow { result = $0.transferLeadership(to: 1) }
    #expect(result == .notLeader(leaderHint: 1))
    c.drivers[1]!.inputNow { result = $0.transferLeadership(to: 1) }
    if case .refused = result {} else { Issue.record("a leader cannot hand over to itself") }
}

@Test func aFollowerThatLosesItsLeaderOverTheTransportElectsANewOneWithoutTicks() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    _ = c.propose(1, [1])
    c.deliverAll()
    c.down.insert(1)
    // Server 2 notices first and campaigns at once: 3 still holds its lease and refuses; then 3 notices
    // and campaigns two ticks later (its turn), winning with 2's vote.
    c.drivers[2]!.inputNow { $0.peerUnreachable(1) }
    c.deliverAll()
    let live = { c.leaders().filter { !c.down.contains($0) } }
    #expect(live().isEmpty)
    #expect(c.replicas[2]!.leaderID == nil)
    c.drivers[3]!.inputNow { $0.peerUnreachable(1) }
    c.deliverAll()
    for _ in 0..<2 { c.tick(3); c.deliverAll() }
    #expect(live() == [3])
}

@Test func aBrokenLinkToAHealthyLeaderDoesNotDisturbIt() throws {
    let c = try TestCluster(voters: [1, 2, 3])
    c.elect(1)
    c.deliverAll()
    c.drivers[2]!.inputNow { $0.peerUnreachable(1) }
    c.deliverAll()
    #expect(c.leaders() == [1])
    #expect(c.replicas[1]!.epoch == 1)
    // The next heartbeat brings server 2 back to its leader.
    c.tickAll(2)
    c.deliverAll()
    #expect(c.replicas[2]!.leaderID == 1)
    #expect(c.replicas[1]!.epoch == 1)
}

@Test func transferVotesAndTimeoutNowSurviveTheCodec() throws {
    for m: PeerMessage in [.timeoutNow(term: 7), .vote(VoteRequest(term: 3, lastZxid: z(2, 9), transfer: true)),
                           .vote(VoteRequest(term: 3, lastZxid: z(2, 9)))] {
        #expect(try PeerCodec.decode(PeerCodec.encode(m)) == m)
    }
}
