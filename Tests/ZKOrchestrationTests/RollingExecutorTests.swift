import Foundation
import Testing
@testable import ZKOrchestration

/// A pretend ensemble: processes and four-letter words from one table. A node answers only while
/// its process runs; the leader is `preferredLeader` when it runs, else the lowest running voter.
/// Sendable: `lock` guards the state the code under test changes; a test sets the rest up before it starts.
final class FakeEnsemble: ProcessProvider, FourLetterWordClient, @unchecked Sendable {
    let lock = NSLock()
    var baseClientPort: Int
    var observers: Set<Int> = []
    /// The servers' membership (from the fake reconfig), for the roles of added nodes.
    var membership: (() -> [EnsembleConfig.Member])?
    var preferredLeader = 1
    var neverSync: Set<Int> = []
    var badBinary = "/bad/zkserver"
    private(set) var launches: [(Int, [String])] = []
    private(set) var terminated: [Int] = []
    var states: [Int32: ProcessState] = [:]
    var pidNode: [Int32: Int] = [:]
    var nextPid: Int32 = 5000

    init(baseClientPort: Int) { self.baseClientPort = baseClientPort }

    static func nodeId(_ identity: String) -> Int {
        let parts = identity.split(separator: "/")
        guard let i = parts.firstIndex(of: "nodes"), i + 1 < parts.count else { return 0 }
        return Int(parts[i + 1]) ?? 0
    }

    func launch(_ spec: LaunchSpec) throws -> ProcessRecord {
        lock.lock(); defer { lock.unlock() }
        nextPid += 1
        let id = Self.nodeId(spec.identity)
        launches.append((id, spec.arguments))
        states[nextPid] = spec.arguments.first == badBinary ? .stale : .running
        pidNode[nextPid] = id
        return ProcessRecord(pid: nextPid, startTime: 1, identity: spec.identity, arguments: spec.arguments, launchedAt: 0)
    }

    func state(of record: ProcessRecord) -> ProcessState {
        lock.lock(); defer { lock.unlock() }
        return states[record.pid] ?? .stale
    }

    func send(_ signal: ProcessSignal, to record: ProcessRecord) throws {
        lock.lock(); defer { lock.unlock() }
        guard states[record.pid] == .running else { throw ZKCtlError("not running") }
        if signal == .terminate || signal == .kill {
            states[record.pid] = .stale
            terminated.append(pidNode[record.pid] ?? 0)
        }
    }

    func exitDescription(of record: ProcessRecord) -> String? { "exit status 1" }

    func running() -> Set<Int> {
        Set(states.filter { $0.value == .running }.compactMap { pidNode[$0.key] })
    }

    func send(_ word: String, host: String, port: Int, timeout: Duration) throws -> String {
        lock.lock(); defer { lock.unlock() }
        let id = port - baseClientPort + 1
        let up = running()
        guard up.contains(id) else { throw ZKCtlError("connection refused") }
        if word == "ruok" { return "imok" }
        if neverSync.contains(id) { return FourLetterWords.notServingText }
        let observers = membership.map { Set($0().filter { $0.role == .observer }.map(\.id)) } ?? self.observers
        let voters = up.subtracting(observers).subtracting(neverSync)
        let leader = voters.contains(preferredLeader) ? preferredLeader : voters.min()!
        let mode = id == leader ? "leader" : observers.contains(id) ? "observer" : "follower"
        if word == "srvr" { return "Zxid: 0x100000007\nMode: \(mode)\n" }
        if word == "mntr" && id == leader {
            let obs = up.intersection(observers).subtracting(neverSync).count
            return "zk_followers\t\(voters.count - 1)\nzk_synced_followers\t\(voters.count - 1)\nzk_synced_observers\t\(obs)\n"
        }
        return "zk_server_state\t\(mode)\n"
    }
}

/// Sendable: `lock` guards the state the code under test changes; a test sets the rest up before it starts.
final class FakeReconfig: ReconfigSender, @unchecked Sendable {
    let lock = NSLock()
    var answers: [ReconfigOutcome] = []
    var members: [EnsembleConfig.Member] = []
    var version: Int64 = 0x100000000
    private(set) var calls: [(String?, String?)] = []
    private(set) var versionsSent: [Int64] = []

    func reconfig(servers: [(host: String, port: Int)], password: String, joining: String?, leaving: String?,
                  fromConfigVersion: Int64, timeout: Duration) throws -> ReconfigOutcome {
        lock.lock(); defer { lock.unlock() }
        calls.append((joining, leaving))
        versionsSent.append(fromConfigVersion)
        let answer = answers.isEmpty ? .applied(config: "version=100000009") : answers.removeFirst()
        if case .applied = answer {
            if let j = joining, let eq = j.firstIndex(of: "="), let id = Int(j[j.index(j.startIndex, offsetBy: 7)..<eq]) {
                members.removeAll { $0.id == id }
                members.append(.init(id: id, role: j.contains(":observer;") ? .observer : .participant))
            }
            if let l = leaving.flatMap({ Int($0) }) { members.removeAll { $0.id == l } }
            members.sort { $0.id < $1.id }
            version += 1
        }
        return answer
    }

    func readConfig(servers: [(host: String, port: Int)], timeout: Duration) throws -> EnsembleConfig {
        lock.lock(); defer { lock.unlock() }
        return EnsembleConfig(members: members, version: version)
    }
}

@Suite(.serialized) struct RollingExecutorTests {
    struct Setup {
        var home: String
        var fake: FakeEnsemble
        var reconfig: FakeReconfig
        var inventory: Inventory
        var executor: RollingExecutor
        var events: EventLog
    }

    /// Sendable: `lock` guards `events`.
    final class EventLog: @unchecked Sendable {
        let lock = NSLock()
        var events: [RollingEvent] = []
        func add(_ e: RollingEvent) { lock.lock(); events.append(e); lock.unlock() }
    }

    /// A running cluster of `count` voters started through the fake.
    func setup(count: Int = 3, syncTimeout: Duration = .seconds(5)) async throws -> Setup {
        let home = try temporaryHome()
        let ports = freeTestPorts(count: 8)
        let fake = FakeEnsemble(baseClientPort: ports.client)
        let store = ClusterStore(home: home)
        let inventory = Inventory.local(name: "t", count: count, clientPort: ports.client, quorumPort: ports.quorum, electionPort: ports.election,
                                        metricsPort: ports.metrics, adminPort: ports.admin)
        let o = Orchestrator(store: store, templates: DirectoryTemplateSource(directory: Paths.templates), provider: fake,
                             locator: EngineLocator(zkserver: "/bin/true", environment: [:], executableDirectory: nil),
                             prober: HealthProber(words: fake, client: FakeClient(), timeout: .milliseconds(200)),
                             stopTimeout: .seconds(1), pollInterval: .milliseconds(10))
        _ = try await o.up(inventory, inventoryYAML: InventoryWriter.yaml(inventory), timeout: .seconds(5))
        let reconfig = FakeReconfig()
        reconfig.members = inventory.nodes.map { .init(id: $0.id, role: $0.role) }
        fake.membership = { [reconfig] in reconfig.members }
        let log = EventLog()
        let ex = RollingExecutor(orchestrator: o, reconfig: reconfig, events: { log.add($0) },
                                 syncTimeout: syncTimeout, startTimeout: .seconds(2), pollInterval: .milliseconds(10))
        return Setup(home: home, fake: fake, reconfig: reconfig, inventory: try store.loadInventory("t"), executor: ex, events: log)
    }

    @Test func upCreatesASecretAndRendersItsDigestOnly() async throws {
        let s = try await setup()
        let store = s.executor.orchestrator.store
        let password = try #require(store.superuserPassword("t"))
        let cfg = try FileSystem.readString(store.layout("t").node(1).zooCfg)
        #expect(cfg.contains("DigestAuthenticationProvider.superDigest=\(Superuser.digest(password: password))"))
        #expect(!cfg.contains(password))
        #expect(cfg.contains("reconfigEnabled=true"))
        let attrs = try FileManager.default.attributesOfItem(atPath: store.layout("t").superuserSecretFile)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
    }

    @Test func rollingRestartGoesFollowersFirstLeaderLast() async throws {
        let s = try await setup()
        let found = await s.executor.discover(s.inventory)
        #expect(found.leader == 1)
        let plan = RollingPlanner.rollingRestart(current: s.inventory, healthy: found.healthy, leader: found.leader)
        let before = s.fake.launches.count
        try await s.executor.restart(plan, inventory: s.inventory, engine: nil, verb: "restart --rolling")
        #expect(s.fake.terminated == [2, 3, 1])
        #expect(s.fake.launches.dropFirst(before).map(\.0) == [2, 3, 1])
        #expect(s.fake.launches.dropFirst(before).allSatisfy { $0.1.first == "/bin/true" })
        let done = s.events.events.filter { $0.event == "done" }.map { $0.node }
        #expect(done == [2, 3, 1])
        #expect(s.events.events.allSatisfy { !$0.json.isEmpty && $0.json.hasPrefix("{") })
    }

    @Test func upgradeWithABinaryThatDoesNotStartRollsBackAndStops() async throws {
        let s = try await setup()
        let found = await s.executor.discover(s.inventory)
        let plan = RollingPlanner.rollingRestart(current: s.inventory, healthy: found.healthy, leader: found.leader)
        await #expect {
            try await s.executor.restart(plan, inventory: s.inventory, engine: .bundled(zkserver: s.fake.badBinary), verb: "upgrade")
        } throws: { error in
            let f = error as? RollingFailure
            return f?.step == 1 && f?.node == 2 && f!.description.contains("previous command line") && f!.description.contains("exited")
        }
        // Node 2 runs its old binary again; 3 and 1 were never touched.
        #expect(s.fake.terminated.filter { $0 != 2 }.isEmpty)
        #expect(s.fake.launches.last?.0 == 2 && s.fake.launches.last?.1.first == "/bin/true")
        #expect(s.fake.running() == [1, 2, 3])
    }

    @Test func aNodeThatNeverSyncsStopsTheRun() async throws {
        let s = try await setup(syncTimeout: .milliseconds(300))
        let plan = RollingPlanner.rollingRestart(current: s.inventory, healthy: [1, 2, 3], leader: 1)
        s.fake.neverSync = [2]
        await #expect {
            try await s.executor.restart(plan, inventory: s.inventory, engine: nil, verb: "restart --rolling")
        } throws: { error in
            let f = error as? RollingFailure
            return f?.node == 2 && f!.reason.contains("did not sync") && f!.resume.contains("zkctl restart --rolling")
        }
        #expect(s.fake.terminated == [2, 2])   // stopped, then its retry stopped before the old command line
        #expect(s.fake.running().contains(1) && s.fake.running().contains(3))
    }

    @Test func scaleUpAddsOneNodeAtATimeAndStoresTheInventory() async throws {
        let s = try await setup()
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 5),
                                        healthy: [1, 2, 3], leader: 1, allowEven: false, purge: false)
        try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        // Each voter joins as an observer and is promoted once synced.
        #expect(s.reconfig.calls.map { $0.0.map { String($0.prefix(9)) + ($0.contains(":observer;") ? " observer" : " participant") } }
                == ["server.4= observer", "server.4= participant", "server.5= observer", "server.5= participant"])
        #expect(s.events.events.filter { $0.event == "promote" }.map(\.node) == [4, 5])
        let store = s.executor.orchestrator.store
        #expect(try store.loadInventory("t").nodes.map(\.id) == [1, 2, 3, 4, 5])
        // Node 4 was started with the members of its time plus itself; node 5 with 1-5.
        let dyn4 = try FileSystem.readString(store.layout("t").node(4).dynamicCfg)
        #expect(dyn4.split(separator: "\n").count == 4)
        let dyn5 = try FileSystem.readString(store.layout("t").node(5).dynamicCfg)
        #expect(dyn5.split(separator: "\n").count == 5)
        #expect(s.fake.running() == [1, 2, 3, 4, 5])
    }

    @Test func scaleDownReconfiguresFirstThenStopsAndPurges() async throws {
        let s = try await setup(count: 5)
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 3),
                                        healthy: [1, 2, 3, 4, 5], leader: 1, allowEven: false, purge: true)
        try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        #expect(s.reconfig.calls.map(\.1) == ["5", "4"])
        #expect(s.fake.terminated == [5, 4])
        let store = s.executor.orchestrator.store
        #expect(!FileSystem.exists(store.layout("t").node(5).root))
        #expect(try store.loadInventory("t").nodes.map(\.id) == [1, 2, 3])
    }

    @Test func membershipChangedOutsideZkctlStopsScaleAndUndoesTheJoiner() async throws {
        let s = try await setup()
        s.reconfig.members.append(.init(id: 7, role: .observer))
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 5),
                                        healthy: [1, 2, 3], leader: 1, allowEven: false, purge: false)
        await #expect {
            try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        } throws: { error in
            let f = error as? RollingFailure
            return f?.node == 4 && f!.reason.contains("changed outside zkctl") && f!.state.contains("membership did not change")
        }
        #expect(s.reconfig.calls.isEmpty)
        let store = s.executor.orchestrator.store
        #expect(try store.loadInventory("t").nodes.map(\.id) == [1, 2, 3])
        #expect(s.fake.running() == [1, 2, 3])
        #expect(!FileSystem.exists(store.layout("t").node(4).root))
    }

    @Test func staleVersionIsReadAgainAndRetried() async throws {
        // A generous deadline: the retry waits 500 ms, which a loaded machine running other suites may stretch.
        let s = try await setup(syncTimeout: .seconds(60))
        s.reconfig.answers = [.refused(code: -103)]
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 4),
                                        healthy: [1, 2, 3], leader: 1, allowEven: true, purge: false)
        try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        #expect(s.reconfig.calls.count == 3)
        #expect(s.reconfig.versionsSent == [0x100000000, 0x100000000, 0x100000001])
        #expect(s.reconfig.members.map(\.id) == [1, 2, 3, 4])
        #expect(s.reconfig.members.allSatisfy { $0.role == .participant })
    }

    @Test func directAddWhenObserverFirstIsOff() async throws {
        var s = try await setup()
        s.executor.observerFirst = false
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 5),
                                        healthy: [1, 2, 3], leader: 1, allowEven: false, purge: false, observerFirst: false)
        try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        #expect(s.reconfig.calls.map { $0.0.map { String($0.prefix(9)) } } == ["server.4=", "server.5="])
    }

    @Test func otherReconfigErrorsStopTheRun() async throws {
        let s = try await setup()
        s.reconfig.answers = [.refused(code: -102)]
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 5),
                                        healthy: [1, 2, 3], leader: 1, allowEven: false, purge: false)
        await #expect {
            try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        } throws: { error in
            (error as? RollingFailure)?.reason.contains("not authorised") == true
        }
        #expect(s.fake.running() == [1, 2, 3])
    }

    @Test func joinerThatNeverSyncsIsReconfiguredOutAgain() async throws {
        let s = try await setup(syncTimeout: .milliseconds(400))
        s.fake.neverSync = [4]
        let plan = RollingPlanner.scale(current: s.inventory, desired: RollingPlanner.resize(s.inventory, voters: 5),
                                        healthy: [1, 2, 3], leader: 1, allowEven: false, purge: false)
        await #expect {
            try await s.executor.scale(plan, inventory: s.inventory, engine: .bundled(zkserver: "/bin/true"))
        } throws: { error in
            (error as? RollingFailure)?.state.contains("reconfigured out again") == true
        }
        #expect(s.reconfig.calls.map(\.1) == [nil, "4"])
        #expect(s.fake.running() == [1, 2, 3])
        #expect(try s.executor.orchestrator.store.loadInventory("t").nodes.count == 3)
    }
}
