import Foundation
import Synchronization
import Testing
@testable import ZKOrchestration

/// Scripted processes: every launch gets a pid; tests decide which ones die.
/// Sendable: `lock` guards the state the code under test changes; a test sets the rest up before it starts.
final class FakeProcessProvider: ProcessProvider, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var launched: [LaunchSpec] = []
    private(set) var signals: [(Int32, ProcessSignal)] = []
    var states: [Int32: ProcessState] = [:]
    var dieOnLaunch: Set<String> = []
    var nextPid: Int32 = 1000

    func launch(_ spec: LaunchSpec) throws -> ProcessRecord {
        lock.lock(); defer { lock.unlock() }
        launched.append(spec)
        nextPid += 1
        states[nextPid] = dieOnLaunch.contains(spec.identity) ? .stale : .running
        return ProcessRecord(pid: nextPid, startTime: 1, identity: spec.identity, arguments: spec.arguments, launchedAt: 0)
    }

    func state(of record: ProcessRecord) -> ProcessState {
        lock.lock(); defer { lock.unlock() }
        return states[record.pid] ?? .stale
    }

    func send(_ signal: ProcessSignal, to record: ProcessRecord) throws {
        lock.lock(); defer { lock.unlock() }
        guard let s = states[record.pid], s == .running || s == .paused else { throw ZKCtlError("not ours") }
        signals.append((record.pid, signal))
        switch signal {
        case .terminate, .kill: states[record.pid] = .stale
        case .stop: states[record.pid] = .paused
        case .resume: states[record.pid] = .running
        }
    }

    func exitDescription(of record: ProcessRecord) -> String? { "exit status 1" }
}

/// Answers srvr as a healthy 3-node ensemble with node 1 leading.
struct FakeWords: FourLetterWordClient {
    var standalone = false
    func send(_ word: String, host: String, port: Int, timeout: Duration) throws -> String {
        if word == "ruok" { return "imok" }
        if word == "mntr" { return "zk_server_state\tleader\nzk_synced_followers\t2\n" }
        let mode = standalone ? "standalone" : (port % 100 == 0 ? "leader" : "follower")
        return "Zxid: 0x100000001\nMode: \(mode)\n"
    }
}

struct FakeClient: ClientProbe {
    func testWrite(connectString: String, timeout: Duration) async -> WriteCheck { .committed(zxid: 0x100000002) }
}

func temporaryHome() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zkctl-test-\(UUID().uuidString.prefix(8))").path
    try FileSystem.makeDirectory(dir)
    return dir
}

/// Three port ranges of `count` free ports each, below Linux's ephemeral range (32768+) so outgoing
/// connections of other programs cannot hold them.
/// Ports handed out to the tests of this process, so that tests running in parallel never get the same
/// port before either has bound it.
let handedOutPorts = Mutex<Set<Int>>([])

/// Claims `ports` if each is free now and none was handed out before in this process.
func claimPorts(_ ports: [Int]) -> Bool {
    handedOutPorts.withLock { taken in
        guard ports.allSatisfy({ !taken.contains($0) && PortCheck.isFree(host: "127.0.0.1", port: $0) }) else { return false }
        taken.formUnion(ports)
        return true
    }
}

func freeTestPorts(count: Int = 3) -> (client: Int, quorum: Int, election: Int, metrics: Int, admin: Int) {
    for _ in 0..<200 {
        let base = Int.random(in: 200...310) * 100   // a multiple of 100: FakeWords makes that port the leader
        let ports: [Int] = (0..<count).flatMap { (i: Int) -> [Int] in [0, 100, 200, 400, 500].map { base + $0 + i } }
        if claimPorts(ports) { return (base, base + 100, base + 200, base + 400, base + 500) }
    }
    return (20_000, 20_100, 20_200, 20_400, 20_500)
}

@Suite struct ExecutorTests {
    func orchestrator(_ home: String, _ provider: FakeProcessProvider, standalone: Bool = false) -> Orchestrator {
        Orchestrator(store: ClusterStore(home: home), templates: DirectoryTemplateSource(directory: Paths.templates),
                     provider: provider, locator: EngineLocator(environment: [:], executableDirectory: nil),
                     prober: HealthProber(words: FakeWords(standalone: standalone), client: FakeClient(), timeout: .milliseconds(200)),
                     pollInterval: .milliseconds(10))
    }

    @Test func upWritesFilesLaunchesAndIsIdempotent() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let provider = FakeProcessProvider()
        let o = orchestrator(home, provider)
        let ports = freeTestPorts()
        let inv = Inventory.local(engine: .apache, count: 3, clientPort: ports.client, quorumPort: ports.quorum, electionPort: ports.election)
        let plan = try o.planUp(inv)
        try await o.execute(plan, inventory: inv, engine: .apache(java: "/usr/bin/java", classpath: [], home: nil), timeout: .seconds(5))
        #expect(provider.launched.count == 3)
        #expect(FileSystem.exists(home + "/clusters/local/nodes/2/data/myid"))
        #expect(try FileSystem.readString(home + "/clusters/local/nodes/2/data/myid") == "2\n")
        #expect(o.observe(inv).allSatisfy { $0.process == .running && $0.configured })
        let again = try o.planUp(inv)
        #expect(again.changesNothing)
        let down = o.planDown(inv, purge: false)
        try await o.execute(down, inventory: inv, engine: nil, timeout: .seconds(5))
        #expect(provider.signals.map(\.1) == [.terminate, .terminate, .terminate])
        #expect(o.observe(inv).allSatisfy { $0.process == .stopped && $0.myid != nil })
    }

    @Test func nodeThatDiesDuringUpIsReportedWithItsLog() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let provider = FakeProcessProvider()
        let o = orchestrator(home, provider)
        let ports = freeTestPorts()
        let inv = Inventory.local(engine: .apache, count: 3, clientPort: ports.client, quorumPort: ports.quorum, electionPort: ports.election)
        provider.dieOnLaunch = [home + "/clusters/local/nodes/2/conf/zoo.cfg"]
        try FileSystem.write("boom: bad config\n", to: home + "/clusters/local/nodes/2/logs/zookeeper.log")
        do {
            try await o.execute(try o.planUp(inv), inventory: inv, engine: .bundled(zkserver: "/x/zkserver"), timeout: .seconds(5))
            Issue.record("expected a failure")
        } catch let e as ZKCtlError {
            #expect(e.message.contains("node 2 exited during startup (exit status 1)"))
            #expect(e.message.contains("nodes 1, 3 keep running"))
            #expect(e.message.contains("boom: bad config"))
        }
    }

    @Test func stalePidFileIsRemovedWithoutSignalling() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let provider = FakeProcessProvider()
        let o = orchestrator(home, provider)
        let inv = Inventory.local(engine: .apache, count: 1, clientPort: freeTestPorts(count: 1).client)
        try o.store.saveInventory(InventoryWriter.yaml(inv), name: "local")
        // A pid file that describes a process which is gone (pid reused by another program).
        try o.store.writeRecord(ProcessRecord(pid: 4242, startTime: 9, identity: "x", arguments: [], launchedAt: 0), o.store.layout("local").node(1))
        _ = try await o.down(inv, purge: false)
        #expect(provider.signals.isEmpty)
        #expect(o.store.readRecord(o.store.layout("local").node(1)) == nil)
    }

    @Test func existingClusterWithOtherInventoryIsRefused() throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let o = orchestrator(home, FakeProcessProvider())
        try o.store.saveInventory(InventoryWriter.yaml(Inventory.local(engine: .apache, count: 3)), name: "local")
        #expect(throws: ZKCtlError.self) { try o.planUp(Inventory.local(engine: .bundled, count: 3)) }
        #expect(throws: Never.self) { try o.planUp(Inventory.local(engine: .apache, count: 3)) }
    }

    @Test func aSecondCommandOnTheSameClusterIsRefused() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let o = orchestrator(home, FakeProcessProvider())
        let inv = Inventory.local(engine: .apache, count: 1, clientPort: 20999)
        try o.store.saveInventory(InventoryWriter.yaml(inv), name: "local")
        var held: ClusterLock? = try ClusterLock.acquire(home: home, cluster: "local")
        await #expect(throws: ZKCtlError.self) { try await o.down(inv, purge: false) }
        #expect(held != nil)
        held = nil
        _ = try await o.down(inv, purge: true)
        #expect(!FileSystem.exists(home + "/locks/local.lock"))
    }

    @Test func remoteHostsAreNotRunLocally() throws {
        let o = orchestrator("/nonexistent-home", FakeProcessProvider())
        let prod = try InventoryLoader.load(path: Paths.inventories + "/production-3.yaml")
        #expect(throws: ZKCtlError.self) { try o.planUp(prod) }
    }

    @Test func pauseAndResumeUseStopAndCont() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let provider = FakeProcessProvider()
        let o = orchestrator(home, provider, standalone: true)
        let inv = Inventory.local(engine: .apache, count: 1, clientPort: freeTestPorts(count: 1).client)
        try await o.execute(try o.planUp(inv), inventory: inv, engine: .bundled(zkserver: "/x"), timeout: .seconds(5))
        _ = try await o.node(inv, id: 1, action: .pause)
        #expect(o.observe(inv)[0].process == .paused)
        _ = try await o.node(inv, id: 1, action: .resume)
        #expect(o.observe(inv)[0].process == .running)
        #expect(provider.signals.map(\.1) == [.stop, .resume])
    }
}
