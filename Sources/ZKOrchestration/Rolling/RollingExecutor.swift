import Foundation

/// A progress event of a rolling operation (`--output json` prints one per line).
public struct RollingEvent: Encodable, Equatable, Sendable {
    public var event: String
    public var step: Int?
    public var total: Int?
    public var node: Int?
    public var action: String?
    public var message: String
    public var seconds: Double

    public init(event: String, step: Int? = nil, total: Int? = nil, node: Int? = nil, action: String? = nil,
                message: String, seconds: Double) {
        self.event = event
        self.step = step
        self.total = total
        self.node = node
        self.action = action
        self.message = message
        self.seconds = seconds
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// Why a rolling operation stopped: where, what was done, and how to go on.
public struct RollingFailure: Error, CustomStringConvertible, Sendable {
    public var step: Int
    public var total: Int
    public var node: Int
    public var reason: String
    public var state: String
    public var resume: String
    public var description: String {
        "stopped at step \(step)/\(total) (node \(node)): \(reason)\n\(state)\nTo resume: \(resume)"
    }
}

/// Walks a `RollingPlan` through the orchestrator's process provider and probes (shell).
public struct RollingExecutor: Sendable {
    public var orchestrator: Orchestrator
    public var reconfig: any ReconfigSender
    public var events: @Sendable (RollingEvent) -> Void
    /// How long a node may take to come back and sync after a start.
    public var syncTimeout: Duration
    /// How long a started joiner may take to accept client connections before its reconfig.
    public var startTimeout: Duration
    public var pollInterval: Duration
    /// Whether plans made for this executor add voters as observers first (the steps carry it).
    public var observerFirst = true
    let began = ContinuousClock.now

    public init(orchestrator: Orchestrator, reconfig: any ReconfigSender = ZKClientReconfigSender(),
                events: @escaping @Sendable (RollingEvent) -> Void = { _ in },
                syncTimeout: Duration = .seconds(90), startTimeout: Duration = .seconds(60),
                pollInterval: Duration = .milliseconds(200)) {
        self.orchestrator = orchestrator
        self.reconfig = reconfig
        self.events = events
        self.syncTimeout = syncTimeout
        self.startTimeout = startTimeout
        self.pollInterval = pollInterval
    }

    var store: ClusterStore { orchestrator.store }
    var words: any FourLetterWordClient { orchestrator.prober.words }
    var elapsed: Double { (began.duration(to: .now).seconds * 10).rounded() / 10 }

    func emit(_ event: String, step: Int? = nil, total: Int? = nil, node: Int? = nil, action: String? = nil, _ message: String) {
        events(RollingEvent(event: event, step: step, total: total, node: node, action: action, message: message, seconds: elapsed))
    }

    // MARK: discovery

    public struct Discovery: Sendable {
        public var healthy: Set<Int>
        public var leader: Int?
        public var health: ClusterHealth
    }

    /// Roles and health of every member, from the same probes as `zkctl status`.
    public func discover(_ inventory: Inventory) async -> Discovery {
        let health = await orchestrator.health(inventory)
        let writeOK: Bool
        if case .committed = health.write { writeOK = true } else { writeOK = false }
        let healthy = Set(health.nodes.filter { $0.ok && writeOK }.map(\.id))
        return Discovery(healthy: healthy, leader: health.leader, health: health)
    }

    /// Is `node` back in the ensemble and synced (see `SyncCheck`). Returns why not.
    func syncState(_ node: NodeSpec, in inventory: Inventory) -> String? {
        SyncCheck.state(of: node, among: inventory.nodes, words: words)
    }

    /// Polls `syncState` until it is nil; fails at once when the node's process exits.
    func waitSynced(_ node: NodeSpec, in inventory: Inventory, timeout: Duration, step: Int, total: Int) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        let l = store.layout(inventory.cluster.name).node(node.id)
        let started = ContinuousClock.now
        while true {
            if let r = store.readRecord(l), exited(r, launchedAt: started) {
                let how = orchestrator.provider.exitDescription(of: r).map { " (\($0))" } ?? ""
                throw ZKCtlError("node \(node.id) exited\(how); last lines of \(l.logFile):\n\(FileSystem.tail(l.logFile, maxLines: 8))")
            }
            guard let why = syncState(node, in: inventory) else { return }
            if why != last {
                emit("wait", step: step, total: total, node: node.id, why)
                last = why
            }
            if ContinuousClock.now >= deadline {
                throw ZKCtlError("node \(node.id) did not sync within \(Int(timeout.seconds))s: \(why)")
            }
            if orchestrator.interrupted() { throw ZKCtlError("interrupted while waiting for node \(node.id)") }
            try await Task.sleep(for: pollInterval)
        }
    }

    // MARK: processes

    /// A just-spawned process shows the parent's command line until its exec completes, so "stale"
    /// right after a launch is believed only when the exit status is known or after a grace period.
    func exited(_ record: ProcessRecord, launchedAt: ContinuousClock.Instant) -> Bool {
        guard orchestrator.provider.state(of: record) == .stale else { return false }
        return orchestrator.provider.exitDescription(of: record) != nil || launchedAt.duration(to: .now) > .seconds(3)
    }

    func launch(_ node: NodeSpec, inventory: Inventory, engine: ResolvedEngine) throws -> ProcessRecord {
        let l = store.layout(inventory.cluster.name).node(node.id)
        let model = RenderModel.derive(inventory: inventory, node: node, layout: l)
        return try relaunch(LaunchSpec(arguments: EngineLaunch.spec(for: model, engine: engine, javaHeapMB: inventory.cluster.javaHeapMB).arguments,
                                       logFile: model.logFile, identity: model.zooCfg), layout: l)
    }

    func relaunch(_ spec: LaunchSpec, layout: NodeLayout) throws -> ProcessRecord {
        let record = try orchestrator.provider.launch(spec)
        try store.writeRecord(record, layout)
        return record
    }

    func saveInventory(_ inventory: Inventory, why: String) throws {
        try store.saveInventory(InventoryWriter.yaml(inventory, comment: "Updated by `zkctl \(why)`; also an Ansible inventory."),
                                name: inventory.cluster.name)
    }

    // MARK: rolling restart / upgrade

    /// Restarts the plan's nodes one at a time, each with `engine` (the new one for an upgrade).
    /// A node that does not come back is started again with its previous command line, and the run stops.
    /// A bundled leader about to be stopped hands leadership over first, so no write waits for an
    /// election (zkserver also does it by itself on SIGTERM; asking here names the new leader in the
    /// run's output). A leader that cannot (an older zkserver, an ensemble of one) is stopped anyway.
    /// True when another node leads now.
    func handOver(_ node: NodeSpec, inventory: Inventory, step: Int, total: Int) -> Bool {
        guard inventory.cluster.engine == .bundled, inventory.voters.count > 1 else { return false }
        do {
            let (to, ms) = try LeaderTransfer.request(node, to: nil, timeout: .seconds(5))
            emit("info", step: step, total: total, node: node.id, "node \(node.id) handed leadership to node \(to) (\(ms) ms)")
            return true
        } catch {
            emit("info", step: step, total: total, node: node.id, "node \(node.id) did not hand leadership over first (\(error)); stopping it anyway")
            return false
        }
    }

    public func restart(_ plan: RollingPlan, inventory: Inventory, engine: ResolvedEngine?, verb: String) async throws {
        let total = plan.steps.count
        var done: [Int] = []
        emit("plan", total: total, plan.text)
        for (i, step) in plan.steps.enumerated() {
            let n = i + 1
            guard case .restart(let id, _, let wasLeader) = step.action, let node = inventory.node(id: id) else { continue }
            let l = store.layout(inventory.cluster.name).node(id)
            emit("step", step: n, total: total, node: id, action: "restart", step.action.description)
            let previous = store.readRecord(l)
            func fail(_ reason: String, state: String) -> RollingFailure {
                let skip = done.isEmpty ? "" : " --skip \(done.map(String.init).joined(separator: ","))"
                return RollingFailure(step: n, total: total, node: id, reason: reason,
                                      state: state + (done.isEmpty ? "" : " Nodes \(done.map(String.init).joined(separator: ", ")) were already done."),
                                      resume: "fix the cause (`zkctl logs`, `zkctl status`), then run `zkctl \(verb)\(skip)`")
            }
            let electing = wasLeader && !handOver(node, inventory: inventory, step: n, total: total)
            do {
                try await orchestrator.stop(id, layout: l, force: false)
            } catch {
                throw fail("cannot stop it: \(error)", state: "The other nodes were not touched.")
            }
            emit("stopped", step: n, total: total, node: id, action: "restart", "node \(id) stopped" + (electing ? "; the others elect a new leader" : ""))
            do {
                if let engine {
                    _ = try launch(node, inventory: inventory, engine: engine)
                } else if let previous {
                    _ = try relaunch(LaunchSpec(arguments: previous.arguments, logFile: l.logFile, identity: previous.identity), layout: l)
                } else {
                    throw ZKCtlError("no record of how node \(id) was started")
                }
                emit("started", step: n, total: total, node: id, action: "restart", "node \(id) started")
                try await waitSynced(node, in: inventory, timeout: syncTimeout, step: n, total: total)
            } catch {
                var state = "Node \(id) is down; the ensemble keeps serving with the others."
                if let previous {
                    try? await orchestrator.stop(id, layout: l, force: true)
                    if let r = try? relaunch(LaunchSpec(arguments: previous.arguments, logFile: l.logFile, identity: previous.identity), layout: l) {
                        state = "Node \(id) was started again with its previous command line (pid \(r.pid))."
                        if (try? await waitSynced(node, in: inventory, timeout: syncTimeout, step: n, total: total)) != nil {
                            state += " It is back and synced."
                        } else {
                            state += " It has not synced yet; check `zkctl status`."
                        }
                    }
                }
                emit("failed", step: n, total: total, node: id, action: "restart", "\(error)")
                throw fail("\(error)", state: state)
            }
            done.append(id)
            emit("done", step: n, total: total, node: id, action: "restart", "node \(id) is back and synced")
        }
        emit("finished", total: total, "\(verb): \(done.count) node\(done.count == 1 ? "" : "s") restarted")
    }

    // MARK: scale

    public func scale(_ plan: RollingPlan, inventory start: Inventory, engine: ResolvedEngine) async throws {
        let total = plan.steps.count
        var current = start
        guard let password = store.superuserPassword(start.cluster.name) else {
            throw ZKCtlError("cluster \(start.cluster.name) has no superuser secret (\(store.layout(start.cluster.name).superuserSecretFile)); it was created before zkctl managed membership: run `zkctl down` and `zkctl up` once so zoo.cfg gets the superuser digest")
        }
        emit("plan", total: total, plan.text)
        for (i, step) in plan.steps.enumerated() {
            let n = i + 1
            emit("step", step: n, total: total, node: step.action.node, action: step.action.verb, step.action.description)
            func fail(_ reason: String, _ state: String) -> RollingFailure {
                RollingFailure(step: n, total: total, node: step.action.node, reason: reason,
                               state: state + " The stored inventory lists the \(current.nodes.count) current members.",
                               resume: "fix the cause, then run the same `zkctl scale` again (done steps are not repeated)")
            }
            switch step.action {
            case .add(let node, let staged):
                let next = Inventory(cluster: current.cluster, nodes: current.nodes + [node])
                try await add(node, current: current, next: next, engine: engine, password: password, observerFirst: staged,
                              step: n, total: total, fail: fail)
                current = next
            case .remove(let id, _, let purge):
                let next = Inventory(cluster: current.cluster, nodes: current.nodes.filter { $0.id != id })
                try await remove(id, current: current, next: next, password: password, purge: purge, step: n, total: total, fail: fail)
                current = next
            case .restart:
                continue
            }
            try saveInventory(current, why: "scale")
            emit("done", step: n, total: total, node: step.action.node, action: step.action.verb,
                 "members now \(current.nodes.map(\.id).map(String.init).joined(separator: ",")) (\(current.voters.count) voters, quorum \(current.voters.count / 2 + 1))")
        }
        emit("finished", total: total, "scale: \(current.voters.count) voters + \(current.observers.count) observers")
    }

    /// Sends one reconfig from `inventory`'s membership to `target`'s. The servers' configuration is
    /// read first: if it already is the target (a reply lost earlier) nothing is sent; if it is
    /// neither, someone else changed the membership and zkctl stops. The request carries the version
    /// read, so a change in between is refused (-103). Retried while another change is pending (-14),
    /// the new quorum is still syncing (-13) or the version moved on.
    func sendReconfig(_ inventory: Inventory, target: Inventory, password: String, joining: String?, leaving: String?,
                      step: Int, total: Int, node: Int) async throws -> String {
        func members(_ inv: Inventory) -> [EnsembleConfig.Member] { inv.nodes.map { .init(id: $0.id, role: $0.role) } }
        return try await ReconfigStep(sender: reconfig, servers: inventory.nodes.map { (host: $0.host, port: $0.clientPort) },
                                      password: password, timeout: syncTimeout)
            .send(from: members(inventory), to: members(target), joining: joining, leaving: leaving) { message, applied in
                emit("reconfig", step: step, total: total, node: node, action: applied ? (joining != nil ? "add" : "remove") : nil, message)
            }
    }

    func add(_ node: NodeSpec, current: Inventory, next: Inventory, engine: ResolvedEngine, password: String,
             observerFirst: Bool, step: Int, total: Int, fail: (String, String) -> RollingFailure) async throws {
        let l = store.layout(current.cluster.name).node(node.id)
        // Its files: the current members plus itself, as Apache ZooKeeper's procedure prescribes.
        for (kind, port) in next.listeningPorts(node) where !PortCheck.isFree(host: node.host, port: port) {
            throw fail("port \(node.host):\(port) (\(kind) port of the new node \(node.id)) is in use", "Nothing was changed.")
        }
        if FileSystem.exists(l.root) {
            emit("info", step: step, total: total, node: node.id, "removing the leftover state of a former node \(node.id) (\(l.root))")
            try await orchestrator.stop(node.id, layout: l, force: false)
            try FileSystem.remove(l.root)
        }
        guard let (_, _, files) = try orchestrator.renderedFiles(next).first(where: { $0.0.id == node.id }) else {
            throw fail("cannot render node \(node.id)", "Nothing was changed.")
        }
        for dir in [l.confDir, l.dataDir, l.dataLogDir, l.logDir] { try FileSystem.makeDirectory(dir) }
        for f in files { try FileSystem.write(f.contents, to: l.root + "/" + f.path) }
        let record = try launch(node, inventory: next, engine: engine)
        let launchedAt = ContinuousClock.now
        emit("started", step: step, total: total, node: node.id, action: "add", "node \(node.id) started (pid \(record.pid))")

        func undoStart(_ why: String) async -> RollingFailure {
            try? await orchestrator.stop(node.id, layout: l, force: true)
            try? FileSystem.remove(l.root)
            return fail(why, "Node \(node.id) was stopped and its files removed; the membership did not change.")
        }
        // Before the reconfig: the process must live and accept client connections.
        let deadline = ContinuousClock.now + startTimeout
        while (try? words.send("ruok", host: node.host, port: node.clientPort, timeout: .seconds(1))) != "imok" {
            if exited(record, launchedAt: launchedAt) {
                let how = orchestrator.provider.exitDescription(of: record).map { " (\($0))" } ?? ""
                throw await undoStart("node \(node.id) exited at startup\(how); last lines of \(l.logFile):\n\(FileSystem.tail(l.logFile, maxLines: 8))")
            }
            if ContinuousClock.now >= deadline {
                throw await undoStart("node \(node.id) did not open its client port within \(Int(startTimeout.seconds))s")
            }
            try await Task.sleep(for: pollInterval)
        }
        // A new voter joins as an observer first, so the ensemble keeps its failure tolerance while
        // it catches up, and is promoted once synced; the promotion then adds a voter that is
        // already in sync.
        let staged = observerFirst && node.role == .participant
        var asObserver = node
        asObserver.role = .observer
        let first = staged ? Inventory(cluster: current.cluster, nodes: current.nodes + [asObserver]) : next
        do {
            _ = try await sendReconfig(current, target: first, password: password, joining: RenderModel.serverLine(staged ? asObserver : node),
                                       leaving: nil, step: step, total: total, node: node.id)
        } catch {
            throw await undoStart("\(error)")
        }
        var member = first
        do {
            try await waitSynced(staged ? asObserver : node, in: first, timeout: syncTimeout, step: step, total: total)
            if staged {
                emit("promote", step: step, total: total, node: node.id, action: "add", "node \(node.id) is synced as an observer; promoting it to participant")
                _ = try await sendReconfig(first, target: next, password: password, joining: RenderModel.serverLine(node), leaving: nil,
                                           step: step, total: total, node: node.id)
                member = next
                try await waitSynced(node, in: next, timeout: syncTimeout, step: step, total: total)
            }
        } catch {
            // Take it out again so the membership is what it was.
            emit("rollback", step: step, total: total, node: node.id, "node \(node.id) did not sync; removing it from the membership again")
            var back = try? await sendReconfig(member, target: current, password: password, joining: nil, leaving: String(node.id),
                                               step: step, total: total, node: node.id)
            if back == nil && member != first {
                // The promotion may not have been applied.
                back = try? await sendReconfig(first, target: current, password: password, joining: nil, leaving: String(node.id),
                                               step: step, total: total, node: node.id)
            }
            try? await orchestrator.stop(node.id, layout: l, force: true)
            if back != nil {
                try? FileSystem.remove(l.root)
                throw fail("\(error)", "Node \(node.id) was reconfigured out again and stopped; the membership is as before.")
            }
            throw fail("\(error)", "Node \(node.id) may still be a member but is stopped (the reconfig to remove it failed); see `zkctl status` and run `zkctl scale` to the previous size.")
        }
    }

    func remove(_ id: Int, current: Inventory, next: Inventory, password: String, purge: Bool,
                step: Int, total: Int, fail: (String, String) -> RollingFailure) async throws {
        let l = store.layout(current.cluster.name).node(id)
        do {
            _ = try await sendReconfig(current, target: next, password: password, joining: nil, leaving: String(id),
                                       step: step, total: total, node: id)
        } catch {
            throw fail("\(error)", "Node \(id) is still a member and running; nothing was changed.")
        }
        // A committed write proves the new configuration is in force before the node goes away.
        let deadline = ContinuousClock.now + syncTimeout
        var committed = false
        while ContinuousClock.now < deadline {
            if case .committed = await orchestrator.prober.client.testWrite(connectString: next.connectString, timeout: .seconds(5)) {
                committed = true
                break
            }
            try await Task.sleep(for: pollInterval)
        }
        if !committed {
            throw fail("no write committed in the new configuration within \(Int(syncTimeout.seconds))s", "Node \(id) was reconfigured out but is still running.")
        }
        try await orchestrator.stop(id, layout: l, force: false)
        if purge {
            try FileSystem.remove(l.root)
            emit("info", step: step, total: total, node: id, "node \(id): data deleted")
        }
    }
}
