import Testing
@testable import ZKReplication

@Test func majoritySizes() {
    #expect(Quorum(voters: [1]).size == 1)
    #expect(Quorum(voters: [1, 2]).size == 2)
    #expect(Quorum(voters: [1, 2, 3]).size == 2)
    #expect(Quorum(voters: [1, 2, 3, 4]).size == 3)
    #expect(Quorum(voters: [1, 2, 3, 4, 5]).size == 3)
}

@Test func nonVotersNeverFormAQuorum() {
    let q = Quorum(voters: [1, 2, 3])
    #expect(!q.isQuorum([1, 4, 5, 6]))
    #expect(q.isQuorum([1, 3]))
    #expect(q.isQuorum([1, 2, 3, 9]))
}

@Test func committedIsTheMajorityMatch() {
    let q = Quorum(voters: [1, 2, 3, 4, 5])
    let z = { (c: UInt32) in Zxid(epoch: 1, counter: c) }
    #expect(q.committed(matches: [1: z(9), 2: z(7), 3: z(5), 4: z(3), 5: z(1)]) == z(5))
    // Missing voters count as nothing; observers are ignored.
    #expect(q.committed(matches: [1: z(9), 2: z(7), 6: z(100)]) == .zero)
    #expect(q.committed(matches: [1: z(9), 2: z(7), 3: z(8), 6: z(100)]) == z(7))
}

@Test func tallyWinsLosesOrWaits() {
    let q = Quorum(voters: [1, 2, 3])
    #expect(q.tally(granted: [1, 2], rejected: []) == .won)
    #expect(q.tally(granted: [1], rejected: [2]) == .pending)
    #expect(q.tally(granted: [1], rejected: [2, 3]) == .lost)
    #expect(q.tally(granted: [1, 4, 5], rejected: []) == .pending)
}

@Test func clusterConfigValidates() {
    #expect(throws: ClusterConfig.ValidationError.duplicateID(2)) { try ClusterConfig(voters: [1, 2, 2]) }
    #expect(throws: ClusterConfig.ValidationError.noVoters) { try ClusterConfig(voters: [], observers: [4]) }
    let c = try! ClusterConfig(voters: [3, 1, 2], observers: [4])
    #expect(c.voters == [1, 2, 3])
    #expect(c.observers == [4])
    #expect(c.description == "1,2,3,4o")
    #expect(c.quorum.size == 2)
}

@Test func zxidPacksEpochAndCounter() {
    let z = Zxid(epoch: 3, counter: 17)
    #expect(z.raw == (3 << 32 | 17))
    #expect(z.epoch == 3 && z.counter == 17)
    #expect(z.description == "3:17")
    #expect(z.hex == "0x300000011")
    #expect(Zxid(epoch: 2, counter: 9999) < Zxid(epoch: 3, counter: 0))
    #expect(Zxid(epoch: 0x7fff_ffff, counter: UInt32.max) < Zxid(epoch: 0x8000_0000, counter: 0))
    #expect(Zxid(epoch: 0x8000_0001, counter: 2).epoch == 0x8000_0001)
}

@Test func replicaConfigValidates() {
    #expect(throws: ReplicaConfig.ValidationError.heartbeatNotBelowElection) {
        try ReplicaConfig(id: 1, electionTimeoutTicks: 2, heartbeatIntervalTicks: 2)
    }
    #expect(throws: ReplicaConfig.ValidationError.nonPositive("maxEntriesPerMessage")) {
        try ReplicaConfig(id: 1, maxEntriesPerMessage: 0)
    }
}

@Test func splitMixIsDeterministic() {
    var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
    for _ in 0..<100 { #expect(a.next() == b.next()) }
    for _ in 0..<100 { #expect(a.next(below: 7) < 7) }
}

@Test func memoryLogStoreQueries() {
    let s = MemoryLogStore()
    s.append([entry(1, 0, .noop), entry(1, 1), entry(1, 2), entry(2, 0, .noop)])
    #expect(s.lastZxid == Zxid(epoch: 2, counter: 0))
    #expect(s.contains(Zxid(epoch: 1, counter: 2)))
    #expect(!s.contains(Zxid(epoch: 1, counter: 3)))
    #expect(s.greatest(atOrBelow: Zxid(epoch: 1, counter: 9)) == Zxid(epoch: 1, counter: 2))
    #expect(s.entries(after: Zxid(epoch: 1, counter: 0), limit: 2).map(\.zxid) == [Zxid(epoch: 1, counter: 1), Zxid(epoch: 1, counter: 2)])
    s.compact(Snapshot(meta: SnapshotMeta(zxid: Zxid(epoch: 1, counter: 1), config: nil), data: [1]))
    #expect(s.contains(Zxid(epoch: 1, counter: 1)))
    #expect(!s.contains(Zxid(epoch: 1, counter: 0)))
    #expect(s.greatest(atOrBelow: Zxid(epoch: 1, counter: 0)) == .zero)
    s.truncate(after: Zxid(epoch: 1, counter: 2))
    #expect(s.lastZxid == Zxid(epoch: 1, counter: 2))
}
