import Foundation
import Testing
@testable import ZKOrchestration

@Suite struct RollingPlannerTests {
    static func cluster(_ voters: Int, observers: Int = 0) -> Inventory {
        RollingPlanner.resize(Inventory.local(count: voters), voters: voters, observers: observers)
    }

    struct ScaleCase: CustomTestStringConvertible, Sendable {
        var name: String
        var from: (Int, Int)
        var to: (Int, Int?)
        var leader: Int?
        var unhealthy: Set<Int> = []
        var allowEven = false
        /// "add 4", "remove 5", ... in order
        var steps: [String]
        /// (voters, quorum, tolerated) after each step
        var after: [(Int, Int, Int)]
        var blocked: String? = nil
        var testDescription: String { name }
    }

    static let scaleCases: [ScaleCase] = [
        ScaleCase(name: "3 -> 5", from: (3, 0), to: (5, nil), leader: 1,
                  steps: ["add 4", "add 5"], after: [(4, 3, 1), (5, 3, 2)]),
        ScaleCase(name: "5 -> 3, leader kept", from: (5, 0), to: (3, nil), leader: 1,
                  steps: ["remove 5", "remove 4"], after: [(4, 3, 1), (3, 2, 1)]),
        ScaleCase(name: "5 -> 3, leader removed last", from: (5, 0), to: (3, nil), leader: 5,
                  steps: ["remove 4", "remove 5"], after: [(4, 3, 1), (3, 2, 1)]),
        ScaleCase(name: "3 -> 5 with an observer", from: (3, 0), to: (5, 1), leader: 2,
                  steps: ["add 4", "add 5", "add 6"], after: [(4, 3, 1), (5, 3, 2), (5, 3, 2)]),
        ScaleCase(name: "observer removed", from: (3, 1), to: (3, 0), leader: 1,
                  steps: ["remove 4"], after: [(3, 2, 1)]),
        ScaleCase(name: "3 -> 1 refused", from: (3, 0), to: (1, nil), leader: 1,
                  steps: ["remove 3", "remove 2"], after: [(2, 2, 0), (1, 1, 0)], blocked: "at least 3 voters"),
        ScaleCase(name: "3 -> 2 with --allow-even", from: (3, 0), to: (2, nil), leader: 3, allowEven: true,
                  steps: ["remove 3"], after: [(2, 2, 0)], blocked: nil),
        ScaleCase(name: "no change", from: (3, 0), to: (3, nil), leader: 1, steps: [], after: []),
        ScaleCase(name: "scale to 0 refused", from: (3, 0), to: (0, nil), leader: 1,
                  steps: ["remove 3", "remove 2", "remove 1"], after: [(2, 2, 0), (1, 1, 0), (0, 1, 0)],
                  blocked: "at least one voter"),
        ScaleCase(name: "even count refused", from: (3, 0), to: (4, nil), leader: 1,
                  steps: ["add 4"], after: [(4, 3, 1)], blocked: "4 voters survive only 1 failure, as 3 would, with a bigger quorum (3); choose an odd number"),
        ScaleCase(name: "even count allowed", from: (3, 0), to: (4, nil), leader: 1, allowEven: true,
                  steps: ["add 4"], after: [(4, 3, 1)]),
        ScaleCase(name: "unhealthy member refused", from: (3, 0), to: (5, nil), leader: 1, unhealthy: [3],
                  steps: ["add 4", "add 5"], after: [(4, 3, 1), (5, 3, 2)], blocked: "not healthy"),
        ScaleCase(name: "removal that drops below quorum refused", from: (5, 0), to: (3, nil), leader: 1, unhealthy: [2, 3],
                  steps: ["remove 5", "remove 4"], after: [(4, 3, 1), (3, 2, 1)], blocked: "below the quorum"),
    ]

    @Test(arguments: scaleCases)
    func scale(_ c: ScaleCase) {
        let current = Self.cluster(c.from.0, observers: c.from.1)
        let desired = RollingPlanner.resize(current, voters: c.to.0, observers: c.to.1)
        let healthy = Set(current.nodes.map(\.id)).subtracting(c.unhealthy)
        let plan = RollingPlanner.scale(current: current, desired: desired, healthy: healthy, leader: c.leader,
                                        allowEven: c.allowEven, purge: false)
        #expect(plan.steps.map { "\($0.action.verb) \($0.action.node)" } == c.steps)
        #expect(plan.steps.map { $0.after.voters } == c.after.map(\.0))
        #expect(plan.steps.map { $0.after.quorum } == c.after.map(\.1))
        #expect(plan.steps.map { $0.after.tolerated } == c.after.map(\.2))
        if let blocked = c.blocked {
            #expect(plan.blockers.contains { $0.contains(blocked) }, "\(plan.blockers)")
        } else {
            #expect(plan.blockers.isEmpty, "\(plan.blockers)")
            #expect(plan.target.voters.count == c.to.0)
        }
    }

    @Test func newNodesGetTheNextIdsAndPorts() {
        let inv = RollingPlanner.resize(Inventory.local(count: 3, clientPort: 21000, quorumPort: 21100, electionPort: 21200), voters: 5, observers: 1)
        #expect(inv.nodes.map(\.id) == [1, 2, 3, 4, 5, 6])
        #expect(inv.node(id: 5)?.clientPort == 21004)
        #expect(inv.node(id: 6)?.role == .observer)
        #expect(inv.node(id: 6)?.electionPort == 21205)
    }

    @Test func standaloneCannotScale() {
        let current = Inventory.local(count: 1)
        let plan = RollingPlanner.scale(current: current, desired: RollingPlanner.resize(current, voters: 3),
                                        healthy: [1], leader: nil, allowEven: false, purge: false)
        #expect(plan.blockers.contains { $0.contains("standalone") })
    }

    @Test func planTextShowsQuorumPerStep() {
        let current = Self.cluster(3)
        let plan = RollingPlanner.scale(current: current, desired: RollingPlanner.resize(current, voters: 5),
                                        healthy: [1, 2, 3], leader: 1, allowEven: false, purge: true)
        #expect(plan.text.contains("before: 3 voters + 0 observers (ids 1,2,3), quorum 2, tolerates 1 failure"))
        #expect(plan.text.contains("after:  5 voters + 0 observers (ids 1,2,3,4,5), quorum 3, tolerates 2 failures"))
        // Observer first: the joiner does not count until it is synced and promoted.
        #expect(plan.text.contains("while it runs: 3 of 3 voters up and synced, quorum 2, tolerates 1 more failure; after: 4 voters + 0 observers, quorum 3, tolerates 1 failure"))
        #expect(plan.steps.map(\.votersUp) == [3, 4])
        let direct = RollingPlanner.scale(current: current, desired: RollingPlanner.resize(current, voters: 5),
                                          healthy: [1, 2, 3], leader: 1, allowEven: false, purge: true, observerFirst: false)
        #expect(direct.text.contains("while it runs: 3 of 4 voters up and synced, quorum 3, tolerates 0 more failures; after: 4 voters + 0 observers, quorum 3, tolerates 1 failure"))
    }

    struct RestartCase: CustomTestStringConvertible, Sendable {
        var name: String
        var voters: Int
        var observers: Int
        var leader: Int?
        var unhealthy: Set<Int> = []
        var skip: Set<Int> = []
        var order: [Int]
        var blocked: String? = nil
        var testDescription: String { name }
    }

    static let restartCases: [RestartCase] = [
        RestartCase(name: "3, leader 1", voters: 3, observers: 0, leader: 1, order: [2, 3, 1]),
        RestartCase(name: "5, leader 3", voters: 5, observers: 0, leader: 3, order: [1, 2, 4, 5, 3]),
        RestartCase(name: "observers first", voters: 3, observers: 1, leader: 2, order: [4, 1, 3, 2]),
        RestartCase(name: "resume with skip", voters: 3, observers: 0, leader: 1, skip: [2], order: [3, 1]),
        RestartCase(name: "a member down", voters: 3, observers: 0, leader: 1, unhealthy: [3], order: [2, 3, 1], blocked: "not healthy"),
        RestartCase(name: "no leader", voters: 3, observers: 0, leader: nil, order: [1, 2, 3], blocked: "no leader"),
    ]

    @Test func upgradeAcrossPeerProtocolVersionsIsRefused() {
        let current = Self.cluster(3)
        let mixed = RollingPlanner.rollingRestart(current: current, healthy: [1, 2, 3], leader: 2, verb: "upgrade",
                                                  protocols: .init(running: 2, target: 1, targetPath: "/opt/old/zkserver"))
        #expect(mixed.blockers.count == 1)
        #expect(mixed.blockers.first?.contains("/opt/old/zkserver speaks zkserver peer protocol 1 and the running members speak 2") == true)
        #expect(mixed.blockers.first?.contains("--zkserver /opt/old/zkserver") == true)
        let same = RollingPlanner.rollingRestart(current: current, healthy: [1, 2, 3], leader: 2, verb: "upgrade",
                                                 protocols: .init(running: 2, target: 2, targetPath: "/opt/new/zkserver"))
        #expect(same.blockers.isEmpty)
    }

    @Test func peerProtocolIsReadFromVersionOutput() {
        #expect(ZkserverProbe.parsePeerProtocol(status: 0, output: "zkserver 3.8.0-zkserver-0.1, built on 2026-11-21 00:00 UTC (peer protocol 2)\n") == 2)
        // Older builds have no --version and answer with their usage: they spoke protocol 1.
        #expect(ZkserverProbe.parsePeerProtocol(status: 64, output: "Error: give a zoo.cfg path\nUsage: zkserver [<config>]\n") == 1)
        #expect(ZkserverProbe.parsePeerProtocol(status: 3, output: "this zkserver does not start\n") == nil)
        #expect(ZkserverProbe.parsePeerProtocol(status: 0, output: "") == nil)
    }

    @Test(arguments: restartCases)
    func rollingRestart(_ c: RestartCase) {
        let current = Self.cluster(c.voters, observers: c.observers)
        let healthy = Set(current.nodes.map(\.id)).subtracting(c.unhealthy)
        let plan = RollingPlanner.rollingRestart(current: current, healthy: healthy, leader: c.leader, skip: c.skip)
        #expect(plan.steps.map(\.action.node) == c.order)
        #expect(plan.steps.last.map { if case .restart(_, _, let wasLeader) = $0.action { return wasLeader } else { return false } } == (c.leader != nil && !c.skip.contains(c.leader!)))
        #expect(plan.text.contains(c.voters == 3 ? "2 of 3 voters up and synced, quorum 2, tolerates 0 more failures" : "voters up and synced"))
        let voterSteps = plan.steps.filter { if case .restart(_, .participant, _) = $0.action { return true } else { return false } }
        #expect(voterSteps.allSatisfy { $0.votersUp == c.voters - 1 && $0.votersUp >= $0.during.quorum })
        if let blocked = c.blocked {
            #expect(plan.blockers.contains { $0.contains(blocked) }, "\(plan.blockers)")
        } else {
            #expect(plan.blockers.isEmpty, "\(plan.blockers)")
        }
    }

    @Test func sha1AndSuperDigest() {
        let hex = SHA1.hash(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(hex == "a9993e364706816aba3e25717850c26c9cd0d89d")
        let long = SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(long == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        // base64(sha1("super:secret"))
        let expected = "super:" + Data(SHA1.hash(Array("super:secret".utf8))).base64EncodedString()
        #expect(Superuser.digest(password: "secret") == expected)
        #expect(Superuser.generatePassword().count == 32)
    }

    @Test func ensembleConfigParses() {
        let c = EnsembleConfig.parse("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.4=127.0.0.1:2891:3891:observer;127.0.0.1:2184\nversion=100000003")
        #expect(c.members == [.init(id: 1, role: .participant), .init(id: 4, role: .observer)])
        #expect(c.version == 0x100000003)
    }
}
