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
    /// Membership changes (zkctl's own client, through a port forwarded to a pod).
    public var reconfig: any ReconfigSender = ZKClientReconfigSender()
    /// The write that proves a new configuration is in force.
    public var client: any ClientProbe = ZKClientProbe()
    /// The server ConfigMap with the members of the first N pods (`publishMembers`).
    public var configMap: @Sendable (Int) throws -> String = { _ in throw ZKCtlError("no ConfigMap renderer") }

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
    /// An upgrade also waits for a healthy ensemble before it records the new image.
    public func roll(_ operation: KubernetesRollout.Operation) async throws {
        let pods = model.members.map(\.podName)
        let listed = try checkPods(pods)
        let health = self.health(pods, listed: listed)
        if health.ensembleState == .down {
            let verb = operation == .restart ? "a rolling restart" : "upgrading"
            throw ZKCtlError("no pod reports Mode leader; fix the ensemble before \(verb) (\(describe(health)))")
        }
        try await execute(KubernetesRollout.plan(model, operation: operation, modes: modes(health)))
    }

    /// Grows or shrinks the StatefulSet from `from` replicas (nil: as the cluster says) to the model's,
    /// one server per step, each admitted or removed by a reconfig as the cluster's superuser.
    public func scale(from: Int?, keepVolumes: Bool = false) async throws {
        let current: Int
        if let from {
            current = from
        } else {
            do { current = try cluster.replicas(statefulSet: model.name) } catch {
                if "\(error)".contains("(NotFound)") {
                    throw ZKCtlError("\(statefulSet) does not exist: \(error); apply the manifests (kubectl apply -k) or give the right --context and -n")
                }
                throw ZKCtlError("cannot read the replicas of \(statefulSet): \(error)")
            }
        }
        _ = try checkPods((0..<current).map { "\(model.name)-\($0)" })
        if current != model.replicas && (current < 2 || model.replicas < 2) {
            throw ZKCtlError("cannot scale \(statefulSet) from \(current) to \(model.replicas) servers: a single server runs standalone "
                             + "and has no membership to change; deploy at least 3 (regenerate the manifests and apply them)")
        }
        // The superuser is needed before the first pod is created or removed.
        let session = Session()
        if current != model.replicas { _ = try superuserPassword(session) }
        try await execute(KubernetesRollout.plan(model, operation: .scale(from: current), modes: [:], keepVolumes: keepVolumes),
                          session: session)
    }

    /// What the steps of one run share: the superuser's password and the forwarded client port.
    final class Session: @unchecked Sendable {
        var password: String?
        var forward: (any PortForward)?
        deinit { forward?.close() }
    }

    /// Carries out the steps in order; a failed step or gate stops the run.
    public func execute(_ steps: [KubernetesRollout.Step]) async throws {
        try await execute(steps, session: Session())
    }

    func execute(_ steps: [KubernetesRollout.Step], session: Session) async throws {
        defer { session.forward?.close(); session.forward = nil }
        for (i, step) in steps.enumerated() {
            log("step \(i + 1)/\(steps.count): \(step.description)")
            switch step.kind {
            case .note: continue
            case .run(.publishMembers(_, let pods)): try cluster.apply(manifest: try configMap(pods))
            case .run(.exec(let pod, let container, let command)):
                _ = try cluster.exec(pod: pod, container: container, command: command, timeout: probeTimeout)
            case .run(.setImage(let sts, let images)): try cluster.setImage(statefulSet: sts, images: images)
            case .run(.deletePod(let pod)): try cluster.deletePod(pod)
            case .run(.scale(let sts, let replicas)): try cluster.scale(statefulSet: sts, replicas: replicas)
            case .run(.deleteClaims(let claims)): try cluster.deleteClaims(claims)
            case .gate(let pod, let pods): try gate(pod: pod, pods: pods)
            case .started(let pod): try waitStarted(pod)
            case .reconfig(let change): try await reconfig(change, session: session)
            case .synced(let pod, let pods, let observer): try waitSynced(pod, pods: pods, observer: observer)
            case .handOver(let pod): try handOver(pod)
            case .committed: try await committed(session)
            case .gone(let pod): try waitGone(pod)
            }
        }
        log("done; every pod serves with one leader")
    }

    // MARK: membership

    /// A client port of pod 0 forwarded to this machine (kept for the run).
    func forwarded(_ session: Session) throws -> (host: String, port: Int) {
        if session.forward == nil {
            let pod = model.members[0].podName
            do { session.forward = try cluster.portForward(pod: pod, port: model.clientPort) } catch {
                throw ZKCtlError("cannot reach the client port of \(pod) (\(cluster.target)): \(error)")
            }
        }
        return (host: "127.0.0.1", port: session.forward!.localPort)
    }

    func superuserPassword(_ session: Session) throws -> String {
        if let p = session.password { return p }
        do {
            let p = try cluster.secret(model.superuserSecret, key: "password").trimmed(" \n\r\t")
            session.password = p
            return p
        } catch {
            throw ZKCtlError("cannot read the superuser password from Secret \(model.superuserSecret) (\(cluster.target)): \(error); "
                             + "apply superuser-secret.yaml from `zkctl generate kubernetes -o DIR` (kubectl apply -f DIR/superuser-secret.yaml), "
                             + "then `zkctl k8s restart` so every pod reads it")
        }
    }

    func reconfig(_ change: KubernetesRollout.Reconfig, session: Session) async throws {
        let password = try superuserPassword(session)
        let server = try forwarded(session)
        let step = ReconfigStep(sender: reconfig, servers: [server], password: password, timeout: gateTimeout)
        let config = try await reconfig.readConfig(servers: [server], timeout: probeTimeout)
        var target = config.members
        let joining: String?
        let leaving: String?
        switch change {
        case .add(let ordinal, let asObserver):
            let m = model.members[ordinal]
            target.removeAll { $0.id == m.id }
            target.append(.init(id: m.id, role: asObserver ? .observer : NodeRole(rawValue: m.role) ?? .participant))
            target.sort { $0.id < $1.id }
            joining = asObserver ? m.observerLine : m.serverLine
            leaving = nil
        case .remove(let pod):
            guard let id = config.hosts.first(where: { $0.value == pod || $0.value.hasPrefix(pod + ".") })?.key else {
                throw ZKCtlError("no server of /zookeeper/config runs in \(pod) (servers: "
                                 + config.hosts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")")
            }
            target.removeAll { $0.id == id }
            joining = nil
            leaving = String(id)
        }
        var refused: Error?
        do {
            _ = try await step.send(from: config.members, to: target, joining: joining, leaving: leaving) { message, _ in log("  \(message)") }
        } catch {
            refused = error
        }
        if let refused {
            let hint = "\(refused)".contains("not authorised")
                ? " (the pods started without the superuser Secret \(model.superuserSecret): apply it, then `zkctl k8s restart`)" : ""
            throw ZKCtlError("\(refused)\(hint); stopping here")
        }
        let next = try await reconfig.readConfig(servers: [server], timeout: probeTimeout)
        if next.members != target {
            throw ZKCtlError("after the reconfig the servers' membership is \(next.members.map { "\($0.id):\($0.role.rawValue)" }), not the one asked for; stopping here")
        }
    }

    /// Waits until a write commits through the forwarded port.
    func committed(_ session: Session) async throws {
        let server = try forwarded(session)
        let deadline = ContinuousClock.now + gateTimeout
        var last = ""
        while ContinuousClock.now < deadline {
            switch await client.testWrite(connectString: "\(server.host):\(server.port)", timeout: .seconds(5)) {
            case .committed: return
            case .failed(let why): last = why
            case .skipped: return
            }
            try await Task.sleep(for: pollInterval)
        }
        throw ZKCtlError("no write committed in the new configuration within \(gateTimeout.milliseconds / 1000)s: \(last); stopping here")
    }

    /// A leading server in `pod` hands leadership over (bundled engine: its admin server, from inside the pod).
    func handOver(_ pod: String) throws {
        guard let srvr = try? PodFourLetterWords(cluster: cluster).send("srvr", host: pod, port: model.clientPort, timeout: probeTimeout),
              FourLetterWords.parseSrvr(srvr)?.mode == .leader else { return }
        let answer = try cluster.exec(pod: pod, container: KubernetesRollout.serverContainer,
                                      command: KubernetesRollout.handOverCommand(adminPort: model.adminPort), timeout: probeTimeout)
        guard answer.contains("200 OK"), let body = answer.range(of: "\r\n\r\n").map({ answer[$0.upperBound...] }) else {
            throw ZKCtlError("\(pod) leads and did not hand over: \(answer.prefix(300)); stopping here")
        }
        log("  \(pod) handed leadership over: " + body.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(200))
    }

    // MARK: waits

    /// Polls `check` (nil: done; else why not) until it passes or `gateTimeout` is over.
    func wait(_ what: String, _ check: () -> String?) throws {
        let deadline = ContinuousClock.now + gateTimeout
        var why = check()
        var said = ""
        while let reason = why {
            if reason != said { log("  \(reason)"); said = reason }
            guard ContinuousClock.now + pollInterval < deadline else {
                throw ZKCtlError("\(what) within \(gateTimeout.milliseconds / 1000)s: \(reason); stopping here")
            }
            Thread.sleep(forTimeInterval: Double(pollInterval.milliseconds) / 1000)
            why = check()
        }
    }

    func waitStarted(_ pod: String) throws {
        try wait("the server in \(pod) did not start") {
            guard let info = (try? cluster.listPods(labels: model.selectorLabels))?.first(where: { $0.name == pod }) else {
                return "\(pod) does not exist yet"
            }
            guard info.phase == "Running" else { return "\(pod) is \(info.phase.isEmpty ? "in no phase" : info.phase)" }
            let ok = (try? PodFourLetterWords(cluster: cluster).send("ruok", host: pod, port: model.clientPort, timeout: probeTimeout)) == "imok"
            return ok ? nil : "the server in \(pod) does not answer ruok yet"
        }
    }

    func waitSynced(_ pod: String, pods: [String], observer: Bool) throws {
        var members = nodes(pods)
        if observer, let i = members.firstIndex(where: { $0.host == pod }) { members[i].role = .observer }
        guard let node = members.first(where: { $0.host == pod }) else { return }
        let words = PodFourLetterWords(cluster: cluster)
        try wait("\(pod) did not sync") { SyncCheck.state(of: node, among: members, words: words, timeout: probeTimeout) }
    }

    func waitGone(_ pod: String) throws {
        try wait("\(pod) did not go") {
            guard let pods = try? cluster.listPods(labels: model.selectorLabels) else { return "the pods cannot be listed" }
            return pods.contains { $0.name == pod } ? "\(pod) still exists" : nil
        }
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
    func gate(pod: String?, pods: [String]) throws {
        let seconds = gateTimeout.milliseconds / 1000
        if let pod {
            // A deleted pod is created again by the StatefulSet controller a moment later; `kubectl
            // wait` on a pod that does not exist yet fails at once.
            try wait("\(pod) was not created again") {
                guard let pods = try? cluster.listPods(labels: model.selectorLabels) else { return "the pods cannot be listed" }
                return pods.contains { $0.name == pod } ? nil : "\(pod) does not exist yet"
            }
            do { try cluster.waitReady(pod: pod, timeout: gateTimeout) } catch {
                throw ZKCtlError("\(pod) did not become Ready in \(seconds)s: \(error); stopping here")
            }
        }
        let deadline = ContinuousClock.now + gateTimeout
        var health = self.health(pods)
        while health.ensembleState != .healthy && ContinuousClock.now + pollInterval < deadline {
            Thread.sleep(forTimeInterval: Double(pollInterval.milliseconds) / 1000)
            health = self.health(pods)
        }
        guard health.ensembleState == .healthy else {
            let after = pod.map { "after \($0) " } ?? ""
            throw ZKCtlError("the ensemble did not settle \(after)within \(seconds)s: \(describe(health)); stopping here")
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
