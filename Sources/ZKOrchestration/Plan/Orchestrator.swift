import Foundation

/// Runs plans against this machine: files in the cluster's state dir, processes through a
/// `ProcessProvider`, health through a `HealthProber`. The CLI is a thin layer over this type.
public struct Orchestrator: Sendable {
    public var store: ClusterStore
    public var templates: any TemplateSource
    public var provider: any ProcessProvider
    public var locator: EngineLocator
    public var prober: HealthProber
    /// Progress lines (the CLI prints them on stderr).
    public var progress: @Sendable (String) -> Void
    /// Polled while waiting; true aborts the wait (Ctrl-C).
    public var interrupted: @Sendable () -> Bool
    public var stopTimeout: Duration
    public var pollInterval: Duration

    public init(store: ClusterStore, templates: any TemplateSource, provider: any ProcessProvider = LocalProcessProvider(),
                locator: EngineLocator = EngineLocator(), prober: HealthProber = HealthProber(),
                progress: @escaping @Sendable (String) -> Void = { _ in },
                interrupted: @escaping @Sendable () -> Bool = { false },
                stopTimeout: Duration = .seconds(10), pollInterval: Duration = .milliseconds(50)) {
        self.store = store
        self.templates = templates
        self.provider = provider
        self.locator = locator
        self.prober = prober
        self.progress = progress
        self.interrupted = interrupted
        self.stopTimeout = stopTimeout
        self.pollInterval = pollInterval
    }

    // MARK: observe

    public func observe(_ inventory: Inventory) -> [ObservedNode] {
        let layout = store.layout(inventory.cluster.name)
        return inventory.nodes.map { node in
            let l = layout.node(node.id)
            let state = store.readRecord(l).map { provider.state(of: $0) } ?? .stopped
            return ObservedNode(id: node.id, process: state, myid: store.myid(l), configured: FileSystem.exists(l.zooCfg))
        }
    }

    func processTable(_ inventory: Inventory) -> [Int: (ProcessState?, Int32?)] {
        let layout = store.layout(inventory.cluster.name)
        var out: [Int: (ProcessState?, Int32?)] = [:]
        for node in inventory.nodes {
            let record = store.readRecord(layout.node(node.id))
            let state = record.map { provider.state(of: $0) } ?? .stopped
            out[node.id] = (state, (state == .running || state == .paused) ? record?.pid : nil)
        }
        return out
    }

    // MARK: render

    public func renderedFiles(_ inventory: Inventory, root: String? = nil) throws -> [(NodeSpec, NodeLayout, [RenderedFile])] {
        let renderer = Renderer(source: templates)
        return try renderer.renderCluster(inventory, layout: RenderModel.layout(for: inventory, root: root ?? store.home))
    }

    /// Writes every node's files under `root` (a zkctl home) and returns the paths written.
    public func render(_ inventory: Inventory, root: String) throws -> [String] {
        var written: [String] = []
        for (_, layout, files) in try renderedFiles(inventory, root: root) {
            if inventory.isLocal {
                for dir in [layout.confDir, layout.dataDir, layout.dataLogDir, layout.logDir] { try FileSystem.makeDirectory(dir) }
            }
            for f in files {
                let path = layout.root + "/" + f.path
                try FileSystem.write(f.contents, to: path)
                written.append(path)
            }
        }
        return written
    }

    // MARK: up

    public struct UpResult: Sendable {
        public var plan: Plan
        public var health: ClusterHealth?
        public var seconds: Double
    }

    /// Checks that the inventory can run on this machine and matches an existing cluster of that name.
    public func checkLocal(_ inventory: Inventory) throws {
        let remote = inventory.nodes.filter { !($0.host.hasPrefix("127.") || $0.host == "localhost") }
        if !inventory.isLocal {
            throw ZKCtlError("cluster \(inventory.cluster.name) has hosts that are not on this machine (\(remote.map(\.host).joined(separator: ", "))); `zkctl up` runs loopback clusters only; use `zkctl render` and Ansible for remote hosts")
        }
        if store.exists(inventory.cluster.name) {
            let existing = try store.loadInventory(inventory.cluster.name)
            if existing != inventory {
                throw ZKCtlError("a cluster named '\(inventory.cluster.name)' already exists in \(store.layout(inventory.cluster.name).root) with a different inventory (\(existing.cluster.engine.rawValue), \(existing.nodes.count) nodes); pick another name (--name or zk_cluster) or remove it with `zkctl down --purge --name \(inventory.cluster.name)`")
            }
        }
    }

    public func planUp(_ inventory: Inventory) throws -> Plan {
        try checkLocal(inventory)
        return Planner.up(desired: inventory, observed: observe(inventory))
    }

    public func up(_ inventory: Inventory, inventoryYAML: String, timeout: Duration) async throws -> UpResult {
        let began = ContinuousClock.now
        let lock = try ClusterLock.acquire(home: store.home, cluster: inventory.cluster.name)
        defer { withExtendedLifetime(lock) {} }
        var inventory = inventory
        if !inventory.isStandalone && inventory.isLocal {
            inventory.cluster.superDigest = try store.ensureSuperuserSecret(inventory.cluster.name)
        }
        if inventory.cluster.tls && inventory.isLocal {
            try store.ensureTLSMaterial(inventory)
        }
        let plan = try planUp(inventory)
        if !plan.blockers.isEmpty { throw ZKCtlError(plan.blockers.joined(separator: "\n")) }
        let engine = plan.startedNodes.isEmpty ? nil : try locator.resolve(inventory.cluster.engine, settings: inventory.cluster)
        let isNew = !store.exists(inventory.cluster.name)
        if isNew {
            try store.saveInventory(inventoryYAML, name: inventory.cluster.name)
        }
        do {
            try await execute(plan, inventory: inventory, engine: engine, timeout: timeout, began: began)
        } catch {
            // A new cluster that failed before any node started holds only what this run wrote
            // (config, empty dirs); remove it so the name stays free. Otherwise keep everything.
            let layout = store.layout(inventory.cluster.name)
            if isNew && inventory.nodes.allSatisfy({ store.readRecord(layout.node($0.id)) == nil }) {
                try? FileSystem.remove(layout.root)
            }
            throw error
        }
        let health = await prober.evaluate(inventory, processes: processTable(inventory))
        return UpResult(plan: plan, health: health, seconds: began.duration(to: .now).seconds)
    }

    // MARK: execute

    public func execute(_ plan: Plan, inventory: Inventory, engine: ResolvedEngine?, timeout: Duration,
                        began: ContinuousClock.Instant = .now) async throws {
        let layout = store.layout(inventory.cluster.name)
        var started: [Int] = []
        let rendered = Dictionary(try renderedFiles(inventory).map { ($0.0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for step in plan.steps {
            if interrupted() { throw interruption(started) }
            switch step {
            case .prepare(let id):
                guard let (_, l, files) = rendered[id] else { continue }
                for dir in [l.confDir, l.dataDir, l.dataLogDir, l.logDir] { try FileSystem.makeDirectory(dir) }
                for f in files { try FileSystem.write(f.contents, to: l.root + "/" + f.path) }
            case .clearStalePid(let id):
                progress("node \(id): removing a stale pid file (its process is gone or is another program; not signalled)")
                store.removeRecord(layout.node(id))
            case .preflight(let id):
                guard let node = inventory.node(id: id) else { continue }
                for (kind, port) in inventory.listeningPorts(node) {
                    if !PortCheck.isFree(host: node.host, port: port) {
                        throw ZKCtlError("port \(node.host):\(port) (\(kind) port of node \(id)) is in use by another program; stop it or choose other ports (zk_\(kind)_port in the inventory, or --base-port)")
                    }
                }
                if let myid = store.myid(layout.node(id)), myid != id {
                    throw ZKCtlError("node \(id)'s data dir \(layout.node(id).dataDir) holds myid \(myid); move it away or run `zkctl down --purge`")
                }
            case .start(let id):
                guard let engine, let (_, l, _) = rendered[id] else { continue }
                let model = RenderModel.derive(inventory: inventory, node: inventory.node(id: id)!, layout: l)
                let spec = EngineLaunch.spec(for: model, engine: engine, javaHeapMB: inventory.cluster.javaHeapMB)
                let record = try provider.launch(spec)
                try store.writeRecord(record, l)
                started.append(id)
                progress("node \(id): started (pid \(record.pid))")
            case .resume(let id):
                if let r = store.readRecord(layout.node(id)) { try provider.send(.resume, to: r) }
                progress("node \(id): resumed")
            case .pause(let id):
                if let r = store.readRecord(layout.node(id)) { try provider.send(.stop, to: r) }
                progress("node \(id): paused")
            case .stop(let id):
                try await stop(id, layout: layout.node(id), force: false)
            case .kill(let id):
                try await stop(id, layout: layout.node(id), force: true)
            case .waitHealthy:
                try await waitHealthy(inventory, timeout: timeout, began: began, watching: started)
            case .purge:
                try FileSystem.remove(layout.root)
                progress("removed \(layout.root)")
            }
        }
    }

    func interruption(_ started: [Int]) -> ZKCtlError {
        let which = started.isEmpty ? "no node was started by this run" :
            "nodes \(started.map(String.init).joined(separator: ", ")) were started and keep running"
        return ZKCtlError("interrupted: \(which); `zkctl status` shows the cluster, `zkctl down` stops it", exitCode: 130)
    }

    /// SIGTERM, wait up to `stopTimeout`, then SIGKILL (or SIGKILL at once when `force`).
    func stop(_ id: Int, layout: NodeLayout, force: Bool) async throws {
        guard let record = store.readRecord(layout) else { return }
        let state = provider.state(of: record)
        guard state == .running || state == .paused else {
            store.removeRecord(layout)
            return
        }
        if state == .paused { try? provider.send(.resume, to: record) }
        try provider.send(force ? .kill : .terminate, to: record)
        let deadline = ContinuousClock.now + (force ? .seconds(5) : stopTimeout)
        while provider.state(of: record) != .stale && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        if provider.state(of: record) != .stale {
            progress("node \(id): still running after \(Int(stopTimeout.seconds))s; sending SIGKILL")
            try provider.send(.kill, to: record)
            let killDeadline = ContinuousClock.now + .seconds(5)
            while provider.state(of: record) != .stale && ContinuousClock.now < killDeadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard provider.state(of: record) == .stale else {
            throw ZKCtlError("node \(id) (pid \(record.pid)) did not exit after SIGKILL; check it with `ps -p \(record.pid)`")
        }
        store.removeRecord(layout)
        progress("node \(id): stopped (pid \(record.pid)\(force ? ", killed" : ""))")
    }

    /// Polls until healthy; fails fast when a node zkctl just started dies.
    public func waitHealthy(_ inventory: Inventory, timeout: Duration, began: ContinuousClock.Instant = .now,
                            watching: [Int] = []) async throws {
        let deadline = ContinuousClock.now + timeout
        let layout = store.layout(inventory.cluster.name)
        var last: ClusterHealth?
        var lastLine = ""
        while ContinuousClock.now < deadline {
            if interrupted() { throw interruption(watching) }
            for id in watching {
                let l = layout.node(id)
                if let r = store.readRecord(l), provider.state(of: r) == .stale {
                    let how = provider.exitDescription(of: r).map { " (\($0))" } ?? ""
                    let tail = FileSystem.tail(l.logFile, maxLines: 8)
                    let alive = inventory.nodes.map(\.id).filter { other in
                        other != id && store.readRecord(layout.node(other)).map { provider.state(of: $0) == .running } == true
                    }
                    let others = alive.isEmpty ? "no other node is running" :
                        "nodes \(alive.map(String.init).joined(separator: ", ")) keep running"
                    throw ZKCtlError("node \(id) exited during startup\(how); \(others). Last lines of \(l.logFile):\n\(tail)\nFix the cause, then run `zkctl up` again, or `zkctl down` to stop the rest")
                }
            }
            let health = await prober.evaluate(inventory, processes: processTable(inventory))
            last = health
            if health.state == .healthy { return }
            let serving = health.nodes.filter(\.ok).count
            let line = "waiting for \(inventory.cluster.name): \(serving)/\(inventory.nodes.count) nodes serving, leader: \(health.leader.map(String.init) ?? "none")"
            if line != lastLine {
                progress("\(line) (\(String(format: "%.1f", began.duration(to: .now).seconds))s)")
                lastLine = line
            }
            try await Task.sleep(for: pollInterval)
        }
        throw ZKCtlError("cluster \(inventory.cluster.name) did not become healthy within \(Int(timeout.seconds))s: \(last?.summary ?? "no probe ran"); see `zkctl logs` and `zkctl status`")
    }

    // MARK: status / down / node

    public func health(_ inventory: Inventory) async -> ClusterHealth {
        await prober.evaluate(inventory, processes: processTable(inventory))
    }

    /// Each node's Prometheus figures (bundled engine), read after `health`.
    public func metrics(_ inventory: Inventory, health: ClusterHealth) -> ClusterMetrics {
        prober.metrics(inventory, health: health)
    }

    public func planDown(_ inventory: Inventory, purge: Bool) -> Plan {
        let observed = observe(inventory)
        // Stop the leader last so the ensemble elects at most once while it shuts down.
        let leader = inventory.nodes.first { node in
            guard observed.first(where: { $0.id == node.id })?.process == .running,
                  let text = try? prober.words.send("srvr", host: node.host, port: node.clientPort, timeout: .milliseconds(500))
            else { return false }
            return FourLetterWords.parseSrvr(text)?.mode == .leader
        }?.id
        var plan = Planner.down(observed: observed, leader: leader, observers: Set(inventory.observers.map(\.id)), purge: purge)
        if purge && !plan.steps.contains(.purge) { plan.steps.append(.purge) }
        return plan
    }

    public func down(_ inventory: Inventory, purge: Bool) async throws -> Plan {
        let lock = try ClusterLock.acquire(home: store.home, cluster: inventory.cluster.name)
        defer { withExtendedLifetime(lock) {} }
        let plan = planDown(inventory, purge: purge)
        try await execute(plan, inventory: inventory, engine: nil, timeout: stopTimeout)
        if purge { try? FileSystem.remove(lock.path) }
        return plan
    }

    public func planNode(_ inventory: Inventory, id: Int, action: NodeAction) throws -> Plan {
        guard inventory.node(id: id) != nil else {
            throw ZKCtlError("cluster \(inventory.cluster.name) has no node \(id); ids are \(inventory.nodes.map { String($0.id) }.joined(separator: ", "))")
        }
        let observed = observe(inventory).first { $0.id == id } ?? .absent(id)
        return Planner.node(id, action: action, observed: observed)
    }

    public func node(_ inventory: Inventory, id: Int, action: NodeAction) async throws -> Plan {
        let lock = try ClusterLock.acquire(home: store.home, cluster: inventory.cluster.name)
        defer { withExtendedLifetime(lock) {} }
        let plan = try planNode(inventory, id: id, action: action)
        if !plan.blockers.isEmpty { throw ZKCtlError(plan.blockers.joined(separator: "\n")) }
        let engine = plan.startedNodes.isEmpty ? nil : try locator.resolve(inventory.cluster.engine, settings: inventory.cluster)
        // A fault drill does not wait for health.
        try await execute(plan, inventory: inventory, engine: engine, timeout: stopTimeout)
        return plan
    }
}
