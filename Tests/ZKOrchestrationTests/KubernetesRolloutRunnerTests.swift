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
    }

    func apply(directory: String) throws { try record("apply \(directory)") }

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
        return Array(pods.values)
    }

    func waitReady(pod: String, timeout: Duration) throws {
        try record("wait \(pod)")
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
        if script.contains("printf mntr") { return "zk_server_state\t\(mode)\n" }
        return "Zookeeper version: 3.9.4\nZxid: 0x100000004\nMode: \(mode)\nNode count: 5\n"
    }
}

/// Sendable: `lock` guards `lines`.
final class Lines: @unchecked Sendable {
    let lock = NSLock()
    private(set) var lines: [String] = []
    func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
}

@Suite struct KubernetesRolloutRunnerTests {
    static func runner(_ cluster: FakeCluster, inventory: String = "production-3", log: Lines = Lines()) throws -> KubernetesRolloutRunner {
        let model = KubernetesModel.derive(try InventoryLoader.load(path: "\(Paths.inventories)/\(inventory).yaml"))
        return KubernetesRolloutRunner(cluster: cluster, model: model, gateTimeout: .milliseconds(300),
                                       pollInterval: .milliseconds(20), log: { log.append($0) })
    }

    static func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch { return "\(error)" }
        return nil
    }

    @Test func restartReplacesFollowersFirstAndTheLeaderLast() throws {
        let cluster = FakeCluster(leader: "prod-zk-1")
        let log = Lines()
        try Self.runner(cluster, log: log).roll(.restart)
        #expect(cluster.calls == ["delete prod-zk-2", "wait prod-zk-2", "delete prod-zk-0", "wait prod-zk-0",
                                  "delete prod-zk-1", "wait prod-zk-1"])
        #expect(log.lines.first?.hasPrefix("step 1/") == true)
        #expect(log.lines.last == "done; every pod serves with one leader")
    }

    @Test func upgradeSetsTheImageBeforeAnyPodGoes() throws {
        let cluster = FakeCluster(leader: "prod-zk-0")
        try Self.runner(cluster).roll(.upgrade(image: "zookeeper:3.9.4"))
        #expect(cluster.calls.first == "set image zookeeper=zookeeper:3.9.4 bootstrap=zookeeper:3.9.4")
        #expect(cluster.calls.filter { $0.hasPrefix("delete") } == ["delete prod-zk-2", "delete prod-zk-1", "delete prod-zk-0"])
    }

    @Test func aPodThatDoesNotServeGoesFirst() throws {
        let cluster = FakeCluster(leader: "prod-zk-2")
        cluster.down = ["prod-zk-1"]
        try Self.runner(cluster).roll(.restart)
        #expect(cluster.calls.filter { $0.hasPrefix("delete") } == ["delete prod-zk-1", "delete prod-zk-0", "delete prod-zk-2"])
    }

    @Test func aFailedGateStopsTheRun() throws {
        let cluster = FakeCluster(leader: "prod-zk-1")
        cluster.breaksWhenReplaced = ["prod-zk-2"]
        let error = try #require(Self.message { try Self.runner(cluster).roll(.restart) })
        #expect(error.contains("the ensemble did not settle after prod-zk-2"))
        #expect(error.contains("prod-zk-2=down"))
        #expect(error.hasSuffix("stopping here"))
        #expect(cluster.calls == ["delete prod-zk-2", "wait prod-zk-2"])
    }

    @Test func theGateJudgesRolesWithTheHealthModel() throws {
        // Serving, but as an observer where a voter belongs: the gate does not pass.
        let cluster = FakeCluster(leader: "prod-zk-1")
        cluster.modeWhenReplaced = ["prod-zk-2": "observer"]
        let error = try #require(Self.message { try Self.runner(cluster).roll(.restart) })
        #expect(error.contains("is observer, expected leader or follower"))
        #expect(cluster.calls.filter { $0.hasPrefix("delete") } == ["delete prod-zk-2"])
    }

    @Test func aPodThatIsNotReadyStopsTheRun() throws {
        let cluster = FakeCluster(leader: "prod-zk-1")
        cluster.neverReady = ["prod-zk-2"]
        let error = try #require(Self.message { try Self.runner(cluster).roll(.restart) })
        #expect(error.hasPrefix("prod-zk-2 did not become Ready"))
        #expect(cluster.calls == ["delete prod-zk-2", "wait prod-zk-2"])
    }

    @Test func anEnsembleWithoutALeaderIsNotTouched() throws {
        let cluster = FakeCluster(leader: nil)
        let error = try #require(Self.message { try Self.runner(cluster).roll(.restart) })
        #expect(error.hasPrefix("no pod reports Mode leader; fix the ensemble before a rolling restart"))
        #expect(error.contains("no leader"))
        #expect(cluster.calls.isEmpty)
    }

    @Test func anUnreachableClusterIsAnErrorThatNamesWhere() throws {
        let cluster = FakeCluster()
        cluster.unreachable = true
        let error = try #require(Self.message { try Self.runner(cluster).roll(.upgrade(image: "zookeeper:3.9.4")) })
        #expect(error.hasPrefix("cannot list the pods of StatefulSet prod-zk (context kind-zk, namespace zk): Unable to connect"))
        #expect(cluster.calls.isEmpty)
        let scale = try #require(Self.message { try Self.runner(cluster).scale(from: nil, manifests: "k8s") })
        #expect(scale.hasPrefix("cannot read the replicas of StatefulSet prod-zk (context kind-zk, namespace zk)"))
    }

    @Test func missingPodsAreAnErrorThatNamesWhere() throws {
        let cluster = FakeCluster(replicas: 2, leader: "prod-zk-0", target: .init())
        let error = try #require(Self.message { try Self.runner(cluster).roll(.restart) })
        #expect(error.hasPrefix("StatefulSet prod-zk (context (kubectl's current), namespace (the context's default)) lacks pod prod-zk-2 (it has prod-zk-0, prod-zk-1)"))
        #expect(cluster.calls.isEmpty)
        let none = FakeCluster(replicas: 0, leader: nil)
        let empty = try #require(Self.message { try Self.runner(none).roll(.restart) })
        #expect(empty.contains("lacks pods prod-zk-0, prod-zk-1, prod-zk-2 (it has no pods)"))
    }

    @Test func scaleOutAddsOneServerPerStepBehindGates() throws {
        let cluster = FakeCluster(statefulSet: "local5-zk", replicas: 3, leader: "local5-zk-0")
        cluster.observers = ["local5-zk-3", "local5-zk-4"]
        try Self.runner(cluster, inventory: "local-5-observer").scale(from: nil, manifests: "k8s")
        #expect(cluster.calls.map { $0.split(separator: " ").prefix(3).joined(separator: " ") } == [
            "apply k8s", "scale 4", "wait local5-zk-3", "exec local5-zk-0 zkCli.sh",
            "scale 5", "wait local5-zk-4", "exec local5-zk-0 zkCli.sh",
        ])
    }
}
