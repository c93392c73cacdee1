import Foundation
import Testing
@testable import ZKOrchestration

/// A StatefulSet in memory: pods, which one leads, and what goes wrong. Servers answer the
/// four-letter words sent through `exec`; every change and wait is logged in order.
/// Sendable: `lock` guards the state the code under test changes; a test sets the rest up before it starts.
final class FakeCluster: KubernetesCluster, @unchecked Sendable {
    let lock = NSLock()
    let target: KubernetesRollout.Target
    let statefulSet: String
    var pods: [String: PodInfo] = [:]
    var leader: String?
    var observers: Set<String> = []
    /// Pods whose server does not answer (exec fails).
    var down: Set<String> = []
    /// Pods whose server never serves again once replaced.
    var breaksWhenReplaced: Set<String> = []
    /// Pods that come back in this mode once replaced.
    var modeWhenReplaced: [String: String] = [:]
    var neverReady: Set<String> = []
    var unreachable = false
    private(set) var calls: [String] = []

    init(statefulSet: String = "prod-zk", replicas: Int = 3, leader: String? = "prod-zk-1",
         target: KubernetesRollout.Target = .init(namespace: "zk", context: "kind-zk")) {
        self.statefulSet = statefulSet
        self.target = target
        self.leader = leader
        for i in 0..<replicas { add("\(statefulSet)-\(i)") }
    }

    private func add(_ pod: String) { pods[pod] = PodInfo(name: pod, phase: "Running", ready: true) }

    private func reach() throws {
        if unreachable { throw ZKCtlError("Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: connection refused") }
    }

    private func record(_ call: String) throws {
        lock.lock(); defer { lock.unlock() }
        try reach()
        calls.append(call)
    }

    func setImage(statefulSet: String, images: [ContainerImage]) throws {
        try record("set image " + images.map { "\($0.container)=\($0.image)" }.joined(separator: " "))
    }

    func deletePod(_ pod: String) throws {
        try record("delete \(pod)")
        lock.lock(); defer { lock.unlock() }
        guard pods[pod] != nil else { throw ZKCtlError("pods \"\(pod)\" not found") }
        // The StatefulSet creates it again; a replaced leader hands leadership to the lowest other pod.
        if leader == pod { leader = pods.keys.filter { $0 != pod && !down.contains($0) && !observers.contains($0) }.min() }
        if breaksWhenReplaced.contains(pod) { down.insert(pod) } else { down.remove(pod) }
        // The controller creates it again after a while (a few listings), as a StatefulSet does.
        pods[pod] = nil
        recreating[pod] = listingsBeforeRecreate
    }

    /// Listings a deleted pod stays absent for.
    var listingsBeforeRecreate = 2
    private var recreating: [String: Int] = [:]

    func apply(manifest: String) throws {
        let servers = manifest.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("server.") }
        try record("apply members \(servers.count)")
    }

    func deleteClaims(_ claims: [String]) throws { try record("delete pvc " + claims.joined(separator: " ")) }

    /// The Secret's keys, or none when it was never applied.
    var secrets: [String: [String: String]] = ["prod-zk-superuser": ["password": "s3cret"], "local5-zk-superuser": ["password": "s3cret"]]

    func secret(_ name: String, key: String) throws -> String {
        try reach()
        guard let value = secrets[name]?[key] else { throw ZKCtlError("Error from server (NotFound): secrets \"\(name)\" not found") }
        return value
    }

    struct Forward: PortForward {
        var localPort: Int
        func close() {}
    }

    func portForward(pod: String, port: Int) throws -> any PortForward {
        try record("port-forward \(pod) \(port)")
        return Forward(localPort: 40000)
    }

    func scale(statefulSet: String, replicas: Int) throws {
        try record("scale \(replicas)")
        lock.lock(); defer { lock.unlock() }
        pods = pods.filter { Int($0.key.split(separator: "-").last!)! < replicas }
        for i in 0..<replicas where pods["\(statefulSet)-\(i)"] == nil { add("\(statefulSet)-\(i)") }
    }

    func replicas(statefulSet: String) throws -> Int {
        lock.lock(); defer { lock.unlock() }
        try reach()
        return pods.count
    }

    func listPods(labels: [KubernetesModel.Label]) throws -> [PodInfo] {
        lock.lock(); defer { lock.unlock() }
        try reach()
        #expect(labels.contains(KubernetesModel.Label(key: "app.kubernetes.io/component", value: "server")))
        for (pod, left) in recreating {
            if left <= 0 { add(pod); recreating[pod] = nil } else { recreating[pod] = left - 1 }
        }
        return Array(pods.values)
    }

    func waitReady(pod: String, timeout: Duration) throws {
        try record("wait \(pod)")
        if lock.withLock({ pods[pod] == nil }) { throw ZKCtlError("Error from server (NotFound): pods \"\(pod)\" not found") }
        if neverReady.contains(pod) { throw ZKCtlError("timed out waiting for the condition on pods/\(pod)") }
    }

    func exec(pod: String, container: String, command: [String], timeout: Duration) throws -> String {
        lock.lock(); defer { lock.unlock() }
        try reach()
        #expect(container == "zookeeper")
        guard pods[pod] != nil, !down.contains(pod) else { throw ZKCtlError("error: unable to upgrade connection: container not found") }
        let script = command.last ?? ""
        guard script.contains("/dev/tcp/") else {
            calls.append("exec \(pod) " + command.joined(separator: " "))
            return ""
        }
        let mode = modeWhenReplaced[pod].flatMap { calls.contains("delete \(pod)") ? $0 : nil }
            ?? (pod == leader ? "leader" : observers.contains(pod) ? "observer" : "follower")
        if script.contains("printf ruok") { return "imok" }
        if script.contains("printf mntr") {
            // Every other serving pod counts as synced, whatever its role (the fake has no roles for new pods).
            let synced = pods.keys.filter { $0 != pod && !down.contains($0) }.count
            return "zk_server_state\t\(mode)\nzk_synced_followers\t\(synced)\nzk_synced_observers\t\(synced)\n"
        }
        return "Zookeeper version: 3.9.4\nZxid: 0x100000004\nMode: \(mode)\nNode count: 5\n"
    }
}

/// The ensemble's membership as reconfig sees it, with the servers' ids by pod (ids 1, 2, ... by ordinal).
final class FakeMembership: ReconfigSender, ClientProbe, @unchecked Sendable {
    let lock = NSLock()
    let statefulSet: String
    var members: [EnsembleConfig.Member]
    var version: Int64 = 0x100000000
    private(set) var requests: [String] = []

    init(statefulSet: String = "prod-zk", voters: Int = 3) {
        self.statefulSet = statefulSet
        members = (1...voters).map { .init(id: $0, role: .participant) }
    }

    var config: EnsembleConfig {
        var c = EnsembleConfig(members: members, version: version)
        for m in members { c.hosts[m.id] = "\(statefulSet)-\(m.id - 1).\(statefulSet)-hs" }
        return c
    }

    func reconfig(servers: [(host: String, port: Int)], password: String, joining: String?, leaving: String?,
                  fromConfigVersion: Int64, timeout: Duration) async throws -> ReconfigOutcome {
        lock.withLock { () -> ReconfigOutcome in
        #expect(servers.map(\.port) == [40000])
        guard password == "s3cret" else { return .refused(code: -115) }
        requests.append(joining.map { "add " + $0 } ?? "remove " + (leaving ?? ""))
        if let joining, let eq = joining.firstIndex(of: "="), let id = Int(joining[joining.index(joining.startIndex, offsetBy: 7)..<eq]) {
            members.removeAll { $0.id == id }
            members.append(.init(id: id, role: joining.contains(":observer;") ? .observer : .participant))
            members.sort { $0.id < $1.id }
        }
        if let leaving, let id = Int(leaving) { members.removeAll { $0.id == id } }
        version += 1
        return .applied(config: "")
        }
    }

    func readConfig(servers: [(host: String, port: Int)], timeout: Duration) async throws -> EnsembleConfig {
        lock.withLock { config }
    }

    func testWrite(connectString: String, timeout: Duration) async -> WriteCheck {
        lock.withLock { requests.append("write") }
        return .committed(zxid: 1)
    }
}

/// Sendable: `lock` guards `lines`.
final class Lines: @unchecked Sendable {
    let lock = NSLock()
    private(set) var lines: [String] = []
    func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
}

@Suite struct KubernetesRolloutRunnerTests {
    static func runner(_ cluster: FakeCluster, inventory: String = "production-3", log: Lines = Lines(),
                       model: KubernetesModel? = nil, membership: FakeMembership = FakeMembership()) throws -> KubernetesRolloutRunner {
        let model = try model ?? KubernetesModel.derive(try InventoryLoader.load(path: "\(Paths.inventories)/\(inventory).yaml"))
        var runner = KubernetesRolloutRunner(cluster: cluster, model: model, gateTimeout: .milliseconds(300),
                                             pollInterval: .milliseconds(20), log: { log.append($0) })
        runner.reconfig = membership
        runner.client = membership
        runner.configMap = { n in (0..<n).map { "    server.\($0 + 1)=x" }.joined(separator: "\n") }
        return runner
    }

    static func message(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch { return "\(error)" }
        return nil
    }

    @Test func restartReplacesFollowersFirstAndTheLeaderLast() async throws {
        let cluster = FakeCluster(leader: "prod-zk-1")
        let log = Lines()
        try await Self.runner(cluster, log: log).roll(.restart)
        #expect(cluster.calls == ["delete prod-zk-2", "wait prod-zk-2", "delete prod-zk-0", "wait prod-zk-0",
                                  "delete prod-zk-1", "wait prod-zk-1"])
        #expect(log.lines.first?.hasPrefix("step 1/") == true)
        #expect(log.lines.last == "done; every pod serves with one leader")
    }

    @Test func upgradeSetsTheImageBeforeAnyPodGoes() async throws {
        let cluster = FakeCluster(leader: "prod-zk-0")
        try await Self.runner(cluster).roll(.upgrade(image: "zookeeper:3.9.4"))
        #expect(cluster.calls.first == "set image zookeeper=zookeeper:3.9.4 bootstrap=zookeeper:3.9.4")
        #expect(cluster.calls.filter { $0.hasPrefix("delete") } == ["delete prod-zk-2", "delete prod-zk-1", "delete prod-zk-0"])
    }

    @Test func aPodThatDoesNotServeGoesFirst() async throws {
        let cluster = FakeCluster(leader: "prod-zk-2")
        cluster.down = ["prod-zk-1"]
        try await Self.runner(cluster).roll(.restart)
        #expect(cluster.calls.filter { $0.hasPrefix("delete") } == ["delete prod-zk-1", "delete prod-zk-0", "delete prod-zk-2"])
    }

    @Test func aFailedGateStopsTheRun() async throws {
        let cluster = FakeCluster(leader: "prod-zk-1")
        cluster.breaksWhenReplaced = ["prod-zk-2"]
        let error = try #require(await Self.message { try await Self.runner(cluster).roll(.restart) })
        #expect(error.contains("the ensemble did not settle after prod-zk-2"))
        #expect(error.contains("prod-zk-2=down"))
        #expect(error.hasSuffix("stopping here"))
        #expect(cluster.calls == ["delete prod-zk-2", "wait prod-zk-2"])
    }

    @Test func theGateJudgesRolesWithTheHealthModel() async throws {
        // Serving, but as an observer where a voter belongs: the gate does not pass.
        let cluster = FakeCluster(leader: "prod-zk-1")
        cluster.modeWhenReplaced = ["prod-zk-2": "observer"]
        let error = try #require(await Self.message { try await Self.runner(cluster).roll(.restart) })
        #expect(error.contains("is observer, expected leader or follower"))
        #expect(cluster.calls.filter { $0.hasPrefix("delete") } == ["delete prod-zk-2"])
    }

    @Test func aPodThatIsNotReadyStopsTheRun() async throws {
        let cluster = FakeCluster(leader: "prod-zk-1")
        cluster.neverReady = ["prod-zk-2"]
        let error = try #require(await Self.message { try await Self.runner(cluster).roll(.restart) })
        #expect(error.hasPrefix("prod-zk-2 did not become Ready"))
        #expect(cluster.calls == ["delete prod-zk-2", "wait prod-zk-2"])
    }

    @Test func anEnsembleWithoutALeaderIsNotTouched() async throws {
        let cluster = FakeCluster(leader: nil)
        let error = try #require(await Self.message { try await Self.runner(cluster).roll(.restart) })
        #expect(error.hasPrefix("no pod reports Mode leader; fix the ensemble before a rolling restart"))
        #expect(error.contains("no leader"))
        #expect(cluster.calls.isEmpty)
    }

    @Test func anUnreachableClusterIsAnErrorThatNamesWhere() async throws {
        let cluster = FakeCluster()
        cluster.unreachable = true
        let error = try #require(await Self.message { try await Self.runner(cluster).roll(.upgrade(image: "zookeeper:3.9.4")) })
        #expect(error.hasPrefix("cannot list the pods of StatefulSet prod-zk (context kind-zk, namespace zk): Unable to connect"))
        #expect(cluster.calls.isEmpty)
        let scale = try #require(await Self.message { try await Self.runner(cluster).scale(from: nil) })
        #expect(scale.hasPrefix("cannot read the replicas of StatefulSet prod-zk (context kind-zk, namespace zk)"))
    }

    @Test func missingPodsAreAnErrorThatNamesWhere() async throws {
        let cluster = FakeCluster(replicas: 2, leader: "prod-zk-0", target: .init())
        let error = try #require(await Self.message { try await Self.runner(cluster).roll(.restart) })
        #expect(error.hasPrefix("StatefulSet prod-zk (context (kubectl's current), namespace (the context's default)) lacks pod prod-zk-2 (it has prod-zk-0, prod-zk-1)"))
        #expect(cluster.calls.isEmpty)
        let none = FakeCluster(replicas: 0, leader: nil)
        let empty = try #require(await Self.message { try await Self.runner(none).roll(.restart) })
        #expect(empty.contains("lacks pods prod-zk-0, prod-zk-1, prod-zk-2 (it has no pods)"))
    }

    @Test func scaleOutAdmitsEachServerByReconfigBeforeWaitingForItsReadiness() async throws {
        let cluster = FakeCluster(replicas: 3, leader: "prod-zk-0")
        let membership = FakeMembership()
        try await Self.runner(cluster, model: try KubernetesRolloutTests.fiveVoters(), membership: membership).scale(from: nil)
        #expect(cluster.calls == [
            "apply members 4", "scale 4", "port-forward prod-zk-0 2181", "wait prod-zk-3",
            "apply members 5", "scale 5", "wait prod-zk-4",
        ])
        #expect(membership.requests.map { String($0.prefix(16)) } == ["add server.4=pro", "add server.4=pro", "add server.5=pro", "add server.5=pro"])
        #expect(membership.requests[0].contains(":observer;") && membership.requests[1].contains(":participant;"))
        #expect(membership.members == (1...5).map { .init(id: $0, role: .participant) })
    }

    @Test func scaleInRemovesByReconfigCommitsThenStopsThePodAndDeletesItsClaims() async throws {
        let cluster = FakeCluster(replicas: 5, leader: "prod-zk-0")
        let membership = FakeMembership(voters: 5)
        let three = try KubernetesRolloutTests.fiveVoters().withMembers(3)
        try await Self.runner(cluster, model: three, membership: membership).scale(from: nil)
        #expect(cluster.calls == [
            "port-forward prod-zk-0 2181", "scale 4", "delete pvc data-prod-zk-4 datalog-prod-zk-4",
            "scale 3", "apply members 3", "delete pvc data-prod-zk-3 datalog-prod-zk-3",
        ])
        #expect(membership.requests == ["remove 5", "write", "remove 4", "write"])
    }

    @Test func scaleInStopsWhenTheFirstGateFails() async throws {
        // A pod that does not serve: nothing is removed (the false success of a scale-in that went on).
        let cluster = FakeCluster(replicas: 4, leader: "prod-zk-0")
        cluster.down = ["prod-zk-3"]
        let membership = FakeMembership(voters: 4)
        let error = try #require(await Self.message { try await Self.runner(cluster, membership: membership).scale(from: nil) })
        #expect(error.contains("the ensemble did not settle within"))
        #expect(error.contains("prod-zk-3=down"))
        #expect(cluster.calls.isEmpty && membership.requests.isEmpty)
    }

    @Test func scaleWithoutTheSuperuserSecretSaysWhatToApply() async throws {
        let cluster = FakeCluster(replicas: 3, leader: "prod-zk-0")
        cluster.secrets = [:]
        let error = try #require(await Self.message {
            try await Self.runner(cluster, model: try KubernetesRolloutTests.fiveVoters()).scale(from: nil)
        })
        #expect(error.hasPrefix("cannot read the superuser password from Secret prod-zk-superuser (context kind-zk, namespace zk)"))
        #expect(error.contains("kubectl apply -f DIR/superuser-secret.yaml"))
        #expect(cluster.calls.isEmpty)
    }
}
