import Testing
import ZKReplication
@testable import ZKSimulation

/// The simulator with the real ZooKeeper data tree as the replicated state machine: replicas must agree
/// on the tree digest after faults, crashes and snapshot installs.
@Test func dataTreeReplicasAgreeUnderFaults() throws {
    var failures: [String] = []
    for seed in UInt64(1)...40 {
        var o = SimOptions(seed: seed)
        o.voters = seed % 2 == 0 ? 3 : 5
        o.ticks = 300
        let r = try Simulation<DataTreeMachine>(options: o).run()
        if let f = r.failure { failures.append("seed \(seed): \(f)\n" + r.traceTail.suffix(15).joined(separator: "\n")) }
    }
    #expect(failures.isEmpty, "\(failures.first ?? "")")
}
