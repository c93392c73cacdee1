import Foundation

/// Runs `zkctl k8s` restart, upgrade and scale against a cluster (shell). It checks that the
/// StatefulSet's pods exist, asks every pod's server for its role, plans with `KubernetesRollout`
/// and walks the steps. After each pod a gate waits until the pod is Ready and the health model
/// finds every pod serving in its role with one leader; the first gate that fails stops the run.
public struct KubernetesRolloutRunner: Sendable {
    public var cluster: any KubernetesCluster
    public var model: KubernetesModel
    /// How long each gate may take.
    public var gateTimeout: Duration
    /// The pause between two looks at the pods while a gate waits.
    public var pollInterval: Duration
    /// How long one four-letter word sent through the cluster may take.
    public var probeTimeout: Duration
    /// Progress, a line at a time.
    public var log: @Sendable (String) -> Void

    public init(cluster: any KubernetesCluster, model: KubernetesModel, gateTimeout: Duration = .seconds(300),
                pollInterval: Duration = .seconds(2), probeTimeout: Duration = .seconds(20),
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.cluster = cluster
        self.model = model
        self.gateTimeout = gateTimeout
        self.pollInterval = pollInterval
        self.probeTimeout = probeTimeout
        self.log = log
    }

    /// "StatefulSet prod-zk (context …, namespace …)", for messages.
    var statefulSet: String { "StatefulSet \(model.name) (\(cluster.target))" }

    // MARK: operations

    /// A rolling restart or upgrade: every pod of the model must exist and the ensemble must have a
    /// leader; then pods that do not serve go first, followers and observers next, the leader last.
    public func roll(_ operation: KubernetesRollout.Operation) throws {
        let pods = model.members.map(\.podName)
        let listed = try checkPods(pods)
        let health = self.health(pods, listed: listed)
        if health.ensembleState == .down {
            let verb = operation == .restart ? "a rolling restart" : "upgrading"
            throw ZKCtlError("no pod reports Mode leader; fix the ensemble before \(verb) (\(describe(health)))")
        }
        try execute(KubernetesRollout.plan(model, operation: operation, modes: modes(health), target: cluster.target))
    }

    /// Grows or shrinks the StatefulSet from `from` replicas (nil: as the cluster says) to the model's.
    public func scale(from: Int?, manifests: String) throws {
        let current: Int
        if let from {
            current = from
        } else {
            do { current = try cluster.replicas(statefulSet: model.name) } catch {
                throw ZKCtlError("cannot read the replicas of \(statefulSet): \(error); pass --from N")
            }
        }
        _ = try checkPods((0..<current).map { "\(model.name)-\($0)" })
        try execute(KubernetesRollout.plan(model, operation: .scale(from: current), modes: [:], target: cluster.target,
                                           manifests: manifests))
    }

    /// Carries out the steps in order; a failed step or gate stops the run.
    public func execute(_ steps: [KubernetesRollout.Step]) throws {
        for (i, step) in steps.enumerated() {
            log("step \(i + 1)/\(steps.count): \(step.description)")
            switch step.kind {
            case .note: continue
            case .run(let action): try cluster.perform(action)
            case .gate(let pod, let pods): try gate(pod: pod, pods: pods)
            }
        }
        log("done; every pod serves with one leader")
    }

    // MARK: pods and their health

    /// The StatefulSet's pods by name. Throws, naming the context, namespace and StatefulSet, when the
    /// cluster cannot be asked or a pod of `expected` does not exist.
    @discardableResult
    public func checkPods(_ expected: [String]) throws -> [String: PodInfo] {
        let pods: [PodInfo]
        do { pods = try cluster.listPods(labels: model.selectorLabels) } catch {
            throw ZKCtlError("cannot list the pods of \(statefulSet): \(error)")
        }
        let mine = pods.filter { $0.name.hasPrefix(model.name + "-") }
        let byName = Dictionary(mine.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let missing = expected.filter { byName[$0] == nil }
        guard missing.isEmpty else {
            let found = mine.isEmpty ? "it has no pods" : "it has " + mine.map(\.name).sorted().joined(separator: ", ")
            throw ZKCtlError("\(statefulSet) lacks pod\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) (\(found)); "
                             + "apply the manifests (kubectl apply -k) or give the right --context and -n")
        }
        return byName
    }

    /// The health model over `pods`, from what each pod reports: its phase, and its server's answers to
    /// ruok, srvr (and mntr on the leader) sent from inside the pod. No test write is made, so a gate
    /// looks at `ensembleState`.
    public func health(_ pods: [String], listed: [String: PodInfo]? = nil) -> ClusterHealth {
        let listed = listed ?? (try? cluster.listPods(labels: model.selectorLabels)).map { pods in
            Dictionary(pods.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        let prober = HealthProber(words: PodFourLetterWords(cluster: cluster), timeout: probeTimeout)
        let probes = nodes(pods).map { node -> NodeProbe in
            if let listed {
                guard let pod = listed[node.host] else {
                    return NodeProbe(id: node.id, expectedRole: node.role, clientAddress: node.clientAddress, ruok: false,
                                     error: "no pod \(node.host)")
                }
                if pod.phase != "Running" {
                    return NodeProbe(id: node.id, expectedRole: node.role, clientAddress: node.clientAddress, ruok: false,
                                     error: "pod \(pod.name) is \(pod.phase.isEmpty ? "in no phase" : pod.phase)")
                }
            }
            return prober.probe(node: node, process: nil, pid: nil)
        }
        return HealthModel.evaluate(probes, write: .skipped)
    }

    /// The inventory node behind each pod (host: the pod). Pods beyond the model (while shrinking)
    /// get ids above the model's.
    func nodes(_ pods: [String]) -> [NodeSpec] {
        var nextId = (model.members.map(\.id).max() ?? 0) + 1
        return pods.map { pod in
            let member = model.members.first { $0.podName == pod }
            let id = member?.id ?? nextId
            if member == nil { nextId += 1 }
            return NodeSpec(name: pod, id: id, role: member.flatMap { NodeRole(rawValue: $0.role) } ?? .participant,
                            host: pod, clientPort: model.clientPort, quorumPort: model.quorumPort, electionPort: model.electionPort)
        }
    }

    /// Pod -> what its server said (leader, follower, …, or down), from the health model.
    func modes(_ health: ClusterHealth) -> [String: String] {
        Dictionary(health.nodes.map { (Self.pod(of: $0), $0.observed) }, uniquingKeysWith: { first, _ in first })
    }

    /// The pod a node's health is about (its client address is `<pod>:<port>`).
    static func pod(of node: NodeHealth) -> String {
        String(node.clientAddress[..<(node.clientAddress.lastIndex(of: ":") ?? node.clientAddress.endIndex)])
    }

    /// "prod-zk-0=down prod-zk-1=leader …: what is wrong".
    func describe(_ health: ClusterHealth) -> String {
        let modes = health.nodes.map { "\(Self.pod(of: $0))=\($0.observed)" }.joined(separator: " ")
        return health.ensembleState == .healthy ? modes : modes + ": " + health.problems.joined(separator: "; ")
    }

    /// Ready, then every pod of `pods` serving in its role with one leader, within `gateTimeout`.
    func gate(pod: String, pods: [String]) throws {
        let seconds = gateTimeout.milliseconds / 1000
        do { try cluster.waitReady(pod: pod, timeout: gateTimeout) } catch {
            throw ZKCtlError("\(pod) did not become Ready in \(seconds)s: \(error); stopping here")
        }
        let deadline = ContinuousClock.now + gateTimeout
        var health = self.health(pods)
        while health.ensembleState != .healthy && ContinuousClock.now + pollInterval < deadline {
            Thread.sleep(forTimeInterval: Double(pollInterval.milliseconds) / 1000)
            health = self.health(pods)
        }
        guard health.ensembleState == .healthy else {
            throw ZKCtlError("the ensemble did not settle after \(pod) within \(seconds)s: \(describe(health)); stopping here")
        }
    }
}

/// Four-letter words sent from inside a pod's server container (`host` is the pod's name).
struct PodFourLetterWords: FourLetterWordClient {
    var cluster: any KubernetesCluster

    func send(_ word: String, host: String, port: Int, timeout: Duration) throws -> String {
        try cluster.exec(pod: host, container: KubernetesRollout.serverContainer,
                         command: KubernetesRollout.fourLetterWordCommand(word, clientPort: port), timeout: timeout)
    }
}
