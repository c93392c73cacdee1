import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import ZKProtocol
import ZKReplication
import ZKStateMachine
import ZKStorage

/// The replicator of every server: the replication core is driven by the shared `ReplicaDriver` (the
/// same Ready loop the simulator runs) over this member's disk (`DurableLogStore` on the disk thread),
/// its peer transports and the applier; this class carries the messages, forwards writes and session
/// events from followers to the leader, hands committed transactions to the `Applier` and reports what
/// happened to its `ReplicatorClient`. A standalone server is an ensemble of one voter: no peer
/// transport, the same everything else.
///
/// All state lives on the server's event loop (Sendable by that confinement, as `ZooKeeperServer`).
/// Inputs to the core (peer messages, ticks, proposals) are queued and handled together once per loop
/// turn, so one fsync covers everything that arrived.
final class QuorumPeer: @unchecked Sendable {
    let config: ServerConfig
    /// Standalone (no `server.N` lines): the only voter, no peer transport.
    let standalone: Bool
    let applier: Applier
    let loop: EventLoop
    let diskPool: NIOThreadPool
    let snapshotPool: NIOThreadPool
    let metrics: ServerMetrics
    /// The client side: what this replicator reports up (applied transactions, refusals, serving state).
    weak var client: (any ReplicatorClient)?
    let startedAt = Date()
    var stats = ReplicationStats()
    var snapThreshold = 0
    var rng = SystemRandomNumberGenerator()
    let me: ServerSpec
    var driver: ReplicaDriver!
    /// The core, read and given inputs in place (only on the loop; the driver hands out its Readys).
    var replica: Replica {
        get { driver.replica }
        _modify { yield &driver.replica }
    }
    let store: DurableLogStore
    let quorumTransport: PeerTransport
    let electionTransport: PeerTransport
    var logger: Logger

    var driveScheduled = false
    var needsPeerRefresh = false
    /// The tree decoded on the disk thread from a snapshot being installed, until `restore` adopts it.
    var decodedSnapshot: (zxid: Zxid, tree: DataTree)?

    var serving = false
    var servingEpoch: UInt32 = 0
    var servingLeader: ServerID?
    var lostLeaderAt: NIODeadline? = .now()
    var lastElectionMs: Int64 = 0

    /// Read barriers the core has passed, waiting for the tree to reach their zxid.
    var readySyncs: [(zxid: Zxid, id: UInt64)] = []
    /// Leader-side work that arrived during a leadership hand-over (see `whenSettled`).
    var heldDuringHandOver: [() -> Void] = []
    var touched: Set<Int64> = []
    var appliedSinceSnapshot = 0
    var appliedBytesSinceSnapshot = 0
    var tasks: [RepeatedTask] = []
    var warnedSnapshotRead: Zxid?
    var stopped = false
    let replicaTickMs: Int64
    /// The member that answers clients once it has led or followed: the only voter of its cluster keeps
    /// answering reads while it recovers from a disk failure (no one else can have newer data).
    var hasServed = false
    /// Why writes are refused (the disk failed a write), until a probe finds it writable again.
    var diskFailure: String?
    /// The last zxid this member's disk holds durably (what a rebuild after a failed write keeps).
    var durableLast: Zxid = .zero
    /// This member as the driver sees it (disk, transport, application, clock).
    lazy var member = Member(peer: self)
    /// The disk write that failed, for `diskFailed`.
    var failedWrite: DiskWrite?
    /// Addresses of every member ever seen (from zoo.cfg, /zookeeper/config and config entries).
    var knownSpecs: [Int64: ServerSpec] = [:]
    /// The membership in force, with addresses, as the replication core sees it.
    var members: [ServerSpec] {
        guard let d = driver else { return config.servers }
        return d.replica.cluster.members.compactMap { m in
            knownSpecs[Int64(m.id)].map { var s = $0; s.role = m.role == .observer ? .observer : .participant; return s }
        }
    }

    init(config c: ServerConfig, me: ServerSpec, applier: Applier, loop: EventLoop, diskPool: NIOThreadPool,
         snapshotPool: NIOThreadPool, metrics: ServerMetrics, logger: Logger) throws {
        self.config = c
        self.standalone = !c.isEnsemble
        self.applier = applier
        self.loop = loop
        self.diskPool = diskPool
        self.snapshotPool = snapshotPool
        self.metrics = metrics
        self.me = me
        self.logger = logger
        store = try DurableLogStore(dataDir: c.dataDir, dataLogDir: c.effectiveDataLogDir)
        let others = standalone ? [] : c.servers.filter { $0.id != me.id }
        let tls = c.sslQuorum ? try PeerTLS(c.quorumTLS) : nil
        quorumTransport = PeerTransport(myId: UInt64(me.id), clusterName: c.clusterName,
                                        peers: others.map { .init(id: UInt64($0.id), host: $0.host, port: $0.quorumPort) },
                                        loop: loop, logger: logger, purpose: "quorum", tls: tls)
        electionTransport = PeerTransport(myId: UInt64(me.id), clusterName: c.clusterName,
                                          peers: others.map { .init(id: UInt64($0.id), host: $0.host, port: $0.electionPort) },
                                          loop: loop, logger: logger, purpose: "election", tls: tls)
        replicaTickMs = Int64(max(10, min(100, c.tickTime / 40)))
        for s in c.servers { knownSpecs[s.id] = s }
        snapThreshold = randomSnapThreshold()
    }

    /// Snapshots every snapCount transactions, randomised between half and all of it (members apart).
    func randomSnapThreshold() -> Int {
        let n = config.snapCount
        return Int.random(in: (n / 2 + 1)...max(n / 2 + 1, n), using: &rng)
    }

    /// The configured membership (zoo.cfg), used until the data says otherwise.
    var configuredCluster: ClusterConfig {
        let listed = standalone ? [] : config.servers.map {
            ClusterConfig.Member(id: UInt64($0.id), role: $0.role == .observer ? .observer : .participant)
        }
        return (try? ClusterConfig(members: listed.isEmpty ? [.init(id: UInt64(me.id), role: .participant)] : listed))
            ?? .single(UInt64(me.id))
    }

    /// This member is its cluster's only voter (a standalone server, or an ensemble of one).
    var soleVoter: Bool { cluster.voters == [UInt64(me.id)] }

    /// Client connections are accepted and reads answered: while serving, and for a sole voter that has
    /// served, through a disk failure too (its tree is the newest there is).
    var servesClients: Bool { serving || (hasServed && soleVoter) }

    /// A Ready's disk work is running.
    var diskBusy: Bool { driver?.busy ?? false }
    var cluster: ClusterConfig { driver?.replica.cluster ?? configuredCluster }

    /// Learns addresses from `server.N=` lines (a /zookeeper/config value or a config entry).
    func learnSpecs(from text: String) {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "," }) {
            let l = line.trimmed
            guard l.hasPrefix("server."), let eq = l.firstIndex(of: "="), let id = Int64(l[l.index(l.startIndex, offsetBy: 7)..<eq]) else { continue }
            if case .success(let spec) = ServerSpec.parse(id: id, String(l[l.index(after: eq)...])) { knownSpecs[id] = spec }
        }
    }

    func refreshPeers() {
        guard !standalone else { return }
        let ms = members
        quorumTransport.updatePeers(ms.map { .init(id: UInt64($0.id), host: $0.host, port: $0.quorumPort) })
        electionTransport.updatePeers(ms.map { .init(id: UInt64($0.id), host: $0.host, port: $0.electionPort) })
    }

    /// Loads snapshot + log; the core hands out committed entries after the snapshot.
    func recover() throws -> String {
        let start = ZooKeeperServer.monotonicNanos()
        if let converted = try store.convertStandaloneLayout() { logger.notice("\(converted)") }
        let rec = try store.recover(warn: { logger.warning("\($0)") })
        if let s = rec.snapshot {
            var r = JuteReader(ByteBuffer(bytes: s.data), maxLength: Int(Int32.max))
            applier.tree.replace(with: try DataTree.deserialize(&r))
        }
        let cfg = try replicaConfig()
        // A snapshot seeded from a backup carries no cluster config: its /zookeeper/config names the
        // ensemble the backup came from, whose addresses must not replace this one's.
        if rec.snapshot?.meta.config != nil { learnSpecsFromTree() }
        if rec.snapshot == nil && store.lastZxid == .zero {
            // A new data directory gets a snapshot of the empty tree, as Apache ZooKeeper's does: every
            // later recovery has a base, and the directory shows it is in use.
            var image = applier.tree.serialized()
            try image.withUnsafeReadableBytes { try store.writeSnapshotFile(at: .zero, config: nil, data: $0) }
            image.clear()
        }
        var cur = store.snapshotMeta.zxid
        while cur < store.lastZxid {
            let batch = store.entries(after: cur, limit: 4096)
            guard let last = batch.last else { break }
            for e in batch where e.kind == .config { learnConfigEntry(e) }
            cur = last.zxid
        }
        // A sole voter's log commits in full at its first election (its first entry of the new epoch
        // covers everything before it), as any leader's does.
        let replica = Replica(config: cfg, cluster: configuredCluster, store: store, hardState: rec.hardState,
                              applied: rec.snapshot?.zxid, seed: UInt64.random(in: 0...UInt64.max))
        durableLast = store.lastZxid
        driver = makeDriver(replica, persistedHard: rec.hardState)
        let ms = Double(ZooKeeperServer.monotonicNanos() - start) / 1e6
        return "recovered \(applier.tree.nodeCount) znodes from snapshot \(rec.snapshot.map { "\($0.zxid)" } ?? "none") "
            + "and \(rec.entryCount) log entries (epoch \(rec.hardState.epoch)) in \(fixed(ms, 1)) ms"
            + (rec.truncatedBytes > 0 ? "; truncated a torn log tail of \(rec.truncatedBytes) bytes" : "")
    }

    /// The shared driver over this member's disk, transport, application and clock, on the loop.
    func makeDriver(_ replica: Replica, persistedHard: HardState) -> ReplicaDriver {
        let driver = ReplicaDriver(replica: replica, persistedHard: persistedHard, disk: member, transport: member,
                                   application: member, clock: member)
        driver.checkThread = { [loop] in loop.assertInEventLoop() }
        return driver
    }

    func replicaConfig() throws -> ReplicaConfig {
        try ReplicaConfig(id: UInt64(me.id), electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, maxEntriesPerMessage: 1024)
    }

    func start() throws {
        if !Self.unsafeFault.isEmpty { logger.critical("ZKSERVER_UNSAFE_FAULT=\(Self.unsafeFault): test-only fault injection is on") }
        if !standalone {
            quorumTransport.onMessage = { [weak self] from, m in self?.input { self?.replica.step(m, from: from) } }
            electionTransport.onMessage = quorumTransport.onMessage
            quorumTransport.onPeerUnreachable = { [weak self] id in
                self?.input { self?.replica.peerUnreachable(id) }
            }
            let bindHost = config.quorumListenOnAllIPs ? "0.0.0.0" : me.host
            try quorumTransport.start(host: bindHost, port: me.quorumPort)
            try electionTransport.start(host: bindHost, port: me.electionPort)
        }
        loop.execute { [self] in
            refreshPeers()
            campaignIfSole()
            driver.startClock()
            let sessionReport = Int64(max(50, config.tickTime / 2))
            tasks.append(loop.scheduleRepeatedTask(initialDelay: .milliseconds(sessionReport),
                                                          delay: .milliseconds(sessionReport)) { [weak self] _ in
                guard let self else { return }
                reportSessions()
            })
            driver.drive()
        }
    }

    /// The core's clock (`ReplicaClock`, run by the driver): one tick per `replicaTickMs` while a leader is
    /// known; without one, a tick every `fastTickMs`, so a first election (or the one after a detected
    /// failure) is over in tens of ms. Detecting a lost leader still takes the normal election timeout. A
    /// member with a leader wakes 20 times a second for its clock, not 333.
    static let fastTickMs: Int64 = 3

    func stop() {
        stopped = true
        driver?.stop()
        for t in tasks { t.cancel() }
        quorumTransport.stop()
        electionTransport.stop()
    }

    // MARK: - Driving the core

    /// Queues an input for the core; queued inputs are handled together at the next turn of the loop
    /// (after a Ready's disk work, if one runs), so one fsync covers everything that arrived meanwhile.
    func input(_ f: @escaping () -> Void) {
        loop.assertInEventLoop()
        driver.enqueue(f)
        if !driveScheduled {
            driveScheduled = true
            loop.execute { [self] in
                driveScheduled = false
                driver.drive()
            }
        }
    }

    func route(_ o: Outbound) {
        switch o.message {
        case .preVote, .preVoteResponse, .vote, .voteResponse: electionTransport.send(o.message, to: o.to)
        default: quorumTransport.send(o.message, to: o.to)
        }
    }

    /// A snapshot from the leader is durable: the tree replaces ours.
    func adoptSnapshot(_ tree: DataTree, at zxid: Zxid, config: ClusterConfig?) {
        applier.replace(with: tree)
        if config != nil { learnSpecsFromTree() }
        logger.info("installed a snapshot at \(zxid) from the leader (\(tree.nodeCount) znodes)")
        // Watches registered against the old state are stale: clients reconnect and re-register them.
        stopServing("installed a snapshot from the leader")
    }

    func learnSpecsFromTree() {
        if let data = applier.tree.node(DataTree.configPath)?.data, !data.isEmpty {
            learnSpecs(from: String(decoding: data, as: UTF8.self))
        }
    }

    // MARK: - Applying committed entries

    func learnConfigEntry(_ e: Entry) {
        guard let (_, app) = try? ConfigCodec.decode(e.payload), let entry = try? TxnEntry.decode(app),
              case .setConfig(let data) = entry.txn else { return }
        learnSpecs(from: String(decoding: data, as: UTF8.self))
    }

    func apply(_ e: Entry) {
        appliedSinceSnapshot += 1
        appliedBytesSinceSnapshot += e.payload.count + 16
        if e.kind == .config {
            applyConfig(e)
            return
        }
        guard e.kind == .txn, var entry = try? TxnEntry.decode(e.payload) else {
            if e.kind == .txn { logger.error("committed entry \(e.zxid) cannot be decoded; skipping it on every member alike") }
            // The first leader's first entry publishes the membership in /zookeeper/config, as Apache ZooKeeper does.
            // A standalone server leaves it empty, as Apache's does.
            let txn: Txn = !standalone && (applier.tree.node(DataTree.configPath)?.data?.isEmpty ?? true)
                ? .setConfig(data: Array(configString(version: e.zxid.raw).utf8)) : .noop
            applier.applySilently(TxnEntry(header: TxnHeader(sessionId: 0, cxid: 0, zxid: e.zxid.raw, time: 0), txn: txn))
            return
        }
        entry.header.zxid = e.zxid.raw
        client?.applied(applier.apply(entry))
    }

    /// `server.N=...` lines sorted by id, then `version=<hex>`, with no trailing newline.
    func configString(version: Int64) -> String {
        (members.sorted { $0.id < $1.id }.map(\.description) + ["version=\(String(version, radix: 16))"])
            .joined(separator: "\n")
    }

    /// A committed membership change: /zookeeper/config gets the new list (watchers fire), the requester
    /// gets its reply, and the dynamic config file is rewritten when one is in use.
    func applyConfig(_ e: Entry) {
        guard let (_, app) = try? ConfigCodec.decode(e.payload), var entry = try? TxnEntry.decode(app),
              case .setConfig(let lines) = entry.txn else {
            applier.applySilently(TxnEntry(header: TxnHeader(sessionId: 0, cxid: 0, zxid: e.zxid.raw, time: 0), txn: .noop))
            return
        }
        learnSpecs(from: String(decoding: lines, as: UTF8.self))
        let text = String(decoding: lines, as: UTF8.self) + "\nversion=" + String(e.zxid.raw, radix: 16)
        entry.header.zxid = e.zxid.raw
        entry.txn = .setConfig(data: Array(text.utf8))
        let applied = applier.apply(entry)
        logger.info("membership changed at \(e.zxid): \(members.map { "\($0.id)/\($0.role.rawValue)" }.joined(separator: " "))")
        writeDynamicConfig(lines: String(decoding: lines, as: UTF8.self), version: e.zxid.raw)
        client?.applied(applied)
    }

    /// With `dynamicConfigFile` in use, writes `zoo.cfg.dynamic.<version>` and points zoo.cfg at it.
    func writeDynamicConfig(lines: String, version: Int64) {
        guard let dyn = config.dynamicConfigFile, !config.sourcePath.isEmpty,
              config.sourcePath != "(flags)" else { return }
        let cfgPath = config.sourcePath
        let dir = directoryOf(cfgPath)
        let name = "zoo.cfg.dynamic.\(String(version, radix: 16))"
        let newPath = (dir.isEmpty ? "." : dir) + "/" + name
        do {
            try (lines + "\n").write(toFile: newPath, atomically: true, encoding: .utf8)
            let text = try String(contentsOfFile: cfgPath, encoding: .utf8)
            let rewritten = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                line.hasPrefix("dynamicConfigFile") ? "dynamicConfigFile=" + (dyn.hasPrefix("/") ? newPath : name) : String(line)
            }.joined(separator: "\n")
            try rewritten.write(toFile: cfgPath, atomically: true, encoding: .utf8)
        } catch {
            logger.warning("cannot write the new dynamic config \(newPath): \(error)")
        }
    }

    /// Leader: validates a reconfig request (Apache ZooKeeper's checks, in its order) and proposes the change.
    func prepareReconfig(_ r: ReconfigRequest, _ ctx: RequestContext) -> ErrorCode? {
        guard config.reconfigEnabled else { return .reconfigDisabled }
        if replica.configChangePending { return .reconfigInProgress }
        let current = applier.tree.node(DataTree.configPath)
        let text = current.flatMap { $0.data }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let version = text.split(separator: "\n").last.flatMap { $0.hasPrefix("version=") ? Int64($0.dropFirst(8), radix: 16) : nil } ?? 0
        if r.curConfigId != -1 && r.curConfigId != version { return .badVersion }
        var specs: [Int64: ServerSpec] = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0) })
        func parseSpecs(_ list: String) -> [ServerSpec]? {
            var out: [ServerSpec] = []
            for item in list.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
                var l = item.trimmed
                if l.isEmpty { continue }
                if l.hasPrefix("server.") { l = String(l.dropFirst(7)) }
                guard let eq = l.firstIndex(of: "="), let id = Int64(l[..<eq]), id > 0,
                      case .success(let s) = ServerSpec.parse(id: id, String(l[l.index(after: eq)...])) else { return nil }
                out.append(s)
            }
            return out
        }
        if let nm = r.newMembers, !nm.isEmpty {
            guard let list = parseSpecs(nm), !list.isEmpty else { return .badArguments }
            specs = Dictionary(uniqueKeysWithValues: list.map { ($0.id, $0) })
        } else {
            if let leaving = r.leavingServers, !leaving.isEmpty {
                for item in leaving.split(separator: ",") {
                    guard let id = Int64(item.trimmed) else { return .badArguments }
                    specs[id] = nil
                }
            }
            if let joining = r.joiningServers, !joining.isEmpty {
                guard let list = parseSpecs(joining) else { return .badArguments }
                for s in list { specs[s.id] = s }
            }
        }
        let voters = specs.values.filter { $0.role == .participant }
        if voters.count < (config.standaloneEnabled ? 2 : 1) { return .badArguments }
        guard let newCluster = try? ClusterConfig(members: specs.values.sorted { $0.id < $1.id }.map {
            ClusterConfig.Member(id: UInt64($0.id), role: $0.role == .observer ? .observer : .participant)
        }) else { return .badArguments }
        let synced = replica.syncedMembers
        let newVoters = Set(newCluster.voters)
        if !newCluster.quorum.isQuorum(newVoters.intersection(synced)) { return .newConfigNoQuorum }
        if let node = current, !ACLPolicy.allows(node.acl, .write, ctx.auth, skipACL: config.skipACL) { return .noAuth }
        for s in specs.values { knownSpecs[s.id] = s }
        let lines = specs.values.sorted { $0.id < $1.id }.map(\.description).joined(separator: "\n")
        let app = TxnEntry(header: TxnHeader(sessionId: ctx.sessionId, cxid: ctx.cxid, zxid: 0, time: ctx.time),
                           txn: .setConfig(data: Array(lines.utf8))).encoded()
        switch replica.proposeConfig(newCluster, appBytes: app) {
        case .accepted: return nil
        case .inProgress: return .reconfigInProgress
        case .rejected(let why):
            logger.info("reconfig rejected: \(why)")
            return .badArguments
        case .notLeader: return .connectionLoss
        }
    }

    // MARK: - Requests from local clients

    var isLeader: Bool { replica.role == .leader }

    /// A new session: proposed by the leader, or forwarded to it. With no leader, the client side is told
    /// (`noLeader`) and closes the connection.
    func createSession(sessionId: Int64, timeoutMs: Int32, passwd: [UInt8]) {
        input { [self] in whenSettled { [self] in
            if isLeader {
                propose(.createSession(timeoutMs: timeoutMs, passwd: passwd), sessionId: sessionId, cxid: 0, changes: [])
            } else if let l = replica.leaderID {
                replica.sendApp(to: l, bytes: ForwardMessage.createSession(sessionId: sessionId, timeoutMs: timeoutMs,
                                                                           passwd: passwd).encode())
            } else {
                client?.noLeader(sessionId: sessionId)
            }
        } }
    }

    /// A client's write: prepared and proposed by the leader, or forwarded to it. Its answer comes back
    /// as `applied` (committed) or `refused` (failed preparation), on the member the client is on.
    func submitWrite(_ request: Request, _ ctx: RequestContext) {
        touched.insert(ctx.sessionId)
        input { [self] in whenSettled { [self] in
            if isLeader {
                prepareAndPropose(request, ctx, forwardedBy: nil)
            } else if let l = replica.leaderID {
                var body = ByteBufferAllocator().buffer(capacity: 64)
                request.encodeBody(into: &body)
                replica.sendApp(to: l, bytes: ForwardMessage.request(sessionId: ctx.sessionId, cxid: ctx.cxid, auth: ctx.auth.ids,
                                                                     op: request.opCode.rawValue, body: Array(body.readableBytesView)).encode())
            } else {
                client?.noLeader(sessionId: ctx.sessionId)
            }
        } }
    }

    func closeSession(sessionId sid: Int64, cxid: Int32) {
        input { [self] in whenSettled { [self] in
            if isLeader {
                if case .txn(let t, let changes) = applier.preparer.prepareCloseSession(sessionId: sid) {
                    propose(t, sessionId: sid, cxid: cxid, changes: changes)
                }
            } else if let l = replica.leaderID {
                replica.sendApp(to: l, bytes: ForwardMessage.closeSession(sessionId: sid, cxid: cxid).encode())
            } else {
                client?.noLeader(sessionId: sid)
            }
        } }
    }

    /// Test-only fault injection (`ZKSERVER_UNSAFE_FAULT=stale-sync`): answer `sync` at once without the
    /// read barrier. It exists so the reliability suite can prove its linearizability checker catches a
    /// server that breaks ZooKeeper's guarantees; never set it in production.
    static let unsafeFault = ProcessInfo.processInfo.environment["ZKSERVER_UNSAFE_FAULT"] ?? ""
    static let unsafeStaleSync = unsafeFault == "stale-sync"
    /// `slow-follower` (or `stale-sync`): followers apply commits late, as a lagging replica would.
    static let slowFollower = unsafeFault == "stale-sync" || unsafeFault == "slow-follower"
    /// With the fault on, followers also apply commits late (a lagging replica: 150 ms, or 500 ms with
    /// `stale-sync` so that the broken `sync` shows in every short run), which a correct `sync` would wait out.
    var delayedCommits: [Entry] = []

    func delayCommits(_ entries: [Entry]) {
        let first = delayedCommits.isEmpty
        delayedCommits += entries
        guard first else { return }
        loop.scheduleTask(in: .milliseconds(Self.unsafeStaleSync ? 500 : 150)) { [self] in
            let batch = delayedCommits
            delayedCommits = []
            for e in batch { apply(e) }
            client?.treeAdvanced()
            checkSyncs()
            client?.flush()
        }
    }

    /// A read barrier: `barrierPassed(id)` once this member has applied everything the leader had
    /// committed when it was asked, or `barrierFailed(id)` when no one leads.
    func requestBarrier(_ id: UInt64) {
        input { [self] in
            if replica.requestSync(id: id) == .noLeader { client?.barrierFailed(id) }
        }
    }

    func checkSyncs() {
        guard !readySyncs.isEmpty else { return }
        let applied = applier.tree.lastZxid
        var rest: [(zxid: Zxid, id: UInt64)] = []
        for s in readySyncs {
            if s.zxid.raw <= applied { client?.barrierPassed(s.id) } else { rest.append(s) }
        }
        readySyncs = rest
    }

    /// Leader: validate against the tree plus in-flight changes, then replicate. A write that fails
    /// preparation is answered at once, on the member whose client sent it (`forwardedBy`, or this one).
    func prepareAndPropose(_ request: Request, _ ctx: RequestContext, forwardedBy remote: ServerID?) {
        let outcome: PrepOutcome
        if case .reconfig(let r) = request {
            if let code = prepareReconfig(r, ctx) { outcome = .failed(code) } else { return }
        } else {
            outcome = applier.preparer.prepare(request, ctx)
        }
        let barrier = replica.lastZxid.raw
        let refusal: Refusal
        switch outcome {
        case .txn(let txn, let changes):
            propose(txn, sessionId: ctx.sessionId, cxid: ctx.cxid, changes: changes, waiter: remote)
            return
        case .failed(let code):
            refusal = .error(code, barrier: barrier)
        case .multiFailed(let results):
            refusal = .multi(results.map { if case .error(let e) = $0 { return e }; return .ok }, barrier: barrier)
        }
        guard let remote else {
            client?.refused(sessionId: ctx.sessionId, cxid: ctx.cxid, refusal)
            return
        }
        let message: ForwardMessage
        switch refusal {
        case .error(let code, let barrier):
            message = .failed(sessionId: ctx.sessionId, cxid: ctx.cxid, err: code.rawValue, barrier: barrier)
        case .multi(let codes, let barrier):
            message = .multiFailed(sessionId: ctx.sessionId, cxid: ctx.cxid, errs: codes.map(\.rawValue), barrier: barrier)
        }
        replica.sendApp(to: remote, bytes: message.encode())
    }

    /// `waiter`: the member that forwarded the request and answers its client.
    func propose(_ txn: Txn, sessionId: Int64, cxid: Int32, changes: [ChangeRecord], waiter: ServerID? = nil) {
        let entry = TxnEntry(header: TxnHeader(sessionId: sessionId, cxid: cxid, zxid: 0, time: ZooKeeperServer.wallMs()), txn: txn)
        switch replica.propose(entry.encoded(), waiter: waiter) {
        case .accepted(let z):
            applier.preparer.recordOutstanding(changes, zxid: z.raw)
        case .notLeader, .epochExhausted:
            logger.info("a proposal was not accepted: this server is no longer the leader")
        }
    }

    /// Session ids used since the last report; the leader renews them (it alone decides expiry).
    func reportSessions() {
        if let active = client?.activeSessions() { touched.formUnion(active) }
        guard !touched.isEmpty else { return }
        let ids = Array(touched)
        touched = []
        if isLeader {
            client?.sessionsTouched(ids)
        } else if let l = replica.leaderID {
            input { [self] in replica.sendApp(to: l, bytes: ForwardMessage.touch(ids).encode()) }
        }
    }

    // MARK: - Messages from other members

    func handleApp(from: ServerID, _ bytes: [UInt8]) {
        guard let m = try? ForwardMessage.decode(bytes) else {
            logger.warning("server \(from) sent an undecodable forwarded message; ignoring it")
            return
        }
        if replica.transferee != nil, m.isLeaderWork {
            heldDuringHandOver.append { [self] in handleApp(from: from, bytes) }
            return
        }
        switch m {
        case .request(let sid, let cxid, let auth, let op, let body):
            guard isLeader else { return }
            client?.sessionsTouched([sid])
            var r = JuteReader(ByteBuffer(bytes: body), maxLength: config.juteMaxBuffer)
            guard let request = try? Request.decode(type: op, body: &r) else {
                replica.sendApp(to: from, bytes: ForwardMessage.failed(sessionId: sid, cxid: cxid, err: ErrorCode.marshallingError.rawValue, barrier: 0).encode())
                return
            }
            let ctx = RequestContext(sessionId: sid, cxid: cxid, auth: AuthInfo(ids: auth), time: ZooKeeperServer.wallMs())
            prepareAndPropose(request, ctx, forwardedBy: from)
        case .createSession(let sid, let timeout, let passwd):
            guard isLeader else { return }
            propose(.createSession(timeoutMs: timeout, passwd: passwd), sessionId: sid, cxid: 0, changes: [], waiter: from)
        case .closeSession(let sid, let cxid):
            guard isLeader else { return }
            client?.sessionClosing(sid)
            if case .txn(let t, let changes) = applier.preparer.prepareCloseSession(sessionId: sid) {
                propose(t, sessionId: sid, cxid: cxid, changes: changes, waiter: from)
            }
        case .touch(let ids):
            guard isLeader else { return }
            client?.sessionsTouched(ids)
        case .failed(let sid, let cxid, let err, let barrier):
            client?.refused(sessionId: sid, cxid: cxid, .error(ErrorCode(err), barrier: barrier))
        case .multiFailed(let sid, let cxid, let errs, let barrier):
            client?.refused(sessionId: sid, cxid: cxid, .multi(errs.map { ErrorCode($0) }, barrier: barrier))
        }
    }

    // MARK: - Serving state

    /// Serving = a leader is known and this member has applied its epoch's first entry.
    func checkRole() {
        releaseHeldWork()
        let leader = replica.leaderID
        let caughtUp = leader != nil && applier.tree.lastZxid >= Zxid(epoch: replica.epoch, counter: 0).raw
        let nowServing = caughtUp && replica.role != .candidate && replica.role != .preCandidate
        if serving && (!nowServing || leader != servingLeader || replica.epoch != servingEpoch) {
            stopServing(leader == nil ? "lost the leader" : "the leader changed")
        }
        if !serving && nowServing {
            serving = true
            hasServed = true
            servingLeader = leader
            servingEpoch = replica.epoch
            if let t = lostLeaderAt {
                lastElectionMs = Int64((NIODeadline.now() - t).nanoseconds / 1_000_000)
                metrics.observeElection(ms: lastElectionMs, now: ZooKeeperServer.monotonicNanos())
            }
            lostLeaderAt = nil
            applier.preparer.reset()
            client?.startedServing(asLeader: isLeader)
            logger.info("serving as \(modeName) in epoch \(replica.epoch) (leader: server \(leader.map(String.init) ?? "?"), zxid 0x\(String(applier.tree.lastZxid, radix: 16)), election took \(lastElectionMs) ms)")
        }
    }

    func stopServing(_ why: String) {
        guard serving else { return }
        serving = false
        servingLeader = nil
        lostLeaderAt = .now()
        stats.lookingCount += 1
        let keep = servesClients
        if !keep { readySyncs = [] }
        client?.stoppedServing(why, dropClients: !keep)
        applier.preparer.reset()
    }

    var modeName: String {
        switch replica.role {
        case .leader: return "leader"
        case .observer: return "observer"
        default: return "follower"
        }
    }

    func monitorLines() -> [(String, String)] {
        var out: [(String, String)] = [
            ("zk_peer_state", serving ? "\(isLeader ? "leading" : (replica.role == .observer ? "observing" : "following")) - broadcast" : "looking"),
            ("zk_quorum_size", "\(cluster.quorum.size)"),
            ("zk_epoch", "\(replica.epoch)"),
        ]
        if isLeader {
            let progress = replica.peerProgress
            let voters = Set(cluster.voters)
            let epochStart = Zxid(epoch: replica.epoch, counter: 0)
            let synced = progress.filter { $0.active && $0.match >= epochStart }
            out += [
                ("zk_learners", "\(progress.count)"),
                ("zk_followers", "\(progress.filter { voters.contains($0.id) }.count)"),
                ("zk_synced_followers", "\(synced.filter { voters.contains($0.id) }.count)"),
                ("zk_synced_non_voting_followers", "0"),
                ("zk_synced_observers", "\(synced.filter { !voters.contains($0.id) }.count)"),
                ("zk_pending_syncs", "\(progress.filter { $0.active && $0.match < epochStart }.count)"),
                ("zk_leader_uptime", "\(Int64(Date().timeIntervalSince(startedAt) * 1000))"),
            ]
        }
        return out
    }

    // MARK: - Snapshots

    var snapshotWriting = false
    /// A snapshot whose file is durable, waiting for a moment when nothing else uses the store.
    var pendingCompaction: (zxid: Zxid, config: ClusterConfig, bytes: Int, znodes: Int, started: UInt64)?

    /// Every snapCount applied transactions: serialize the tree and write the file on the snapshot thread,
    /// then compact the log at the next quiet point (never while a Ready is being persisted).
    func maybeSnapshot() {
        let logFull = appliedBytesSinceSnapshot >= config.snapSizeLimitInKb * 1024
        guard appliedSinceSnapshot >= snapThreshold || logFull, !snapshotWriting, pendingCompaction == nil else { return }
        appliedSinceSnapshot = 0
        appliedBytesSinceSnapshot = 0
        snapThreshold = randomSnapThreshold()
        let zxid = Zxid(raw: applier.tree.lastZxid)
        let t0 = ZooKeeperServer.monotonicNanos()
        let config = replica.cluster(at: zxid)
        let store = self.store
        snapshotWriting = true
        applier.withTreeSnapshot { image, data -> (bytes: Int, znodes: Int) in
            try data.withUnsafeReadableBytes { try store.writeSnapshotFile(at: zxid, config: config, data: $0) }
            return (data.readableBytes, image.nodeCount)
        }.whenComplete { [self] result in
            snapshotWriting = false
            switch result {
            case .success(let written):
                pendingCompaction = (zxid, config, written.bytes, written.znodes, t0)
                if !driver.busy { adoptPendingSnapshot() }
            case .failure(let error):
                logger.error("snapshot \(zxid) failed: \(error)")
            }
        }
    }

    /// Log segments covered by the oldest snapshot kept, waiting for a moment when no Ready's disk work
    /// runs (the disk thread rolls segments).
    var pendingLogPurge: Int64?

    /// Autopurge: keeps `autopurge.snapRetainCount` snapshots (deleted on the snapshot thread) and the log
    /// segments they need.
    func purge() {
        let retain = config.snapRetainCount, snaps = store.snapshots
        snapshotPool.runIfActive(eventLoop: loop) { try snaps.purge(retain: retain) }.assumeIsolated().whenComplete { [self] r in
            guard case .success(let oldest?) = r else { return }
            pendingLogPurge = oldest
            if !diskBusy { purgeLogIfPending() }
        }
    }

    func purgeLogIfPending() {
        guard let oldest = pendingLogPurge else { return }
        pendingLogPurge = nil
        let removed = store.txnLog.purge(coveredUpTo: oldest)
        if !removed.isEmpty { logger.info("autopurge removed \(removed.count) log segments") }
    }

    func adoptPendingSnapshot() {
        guard let p = pendingCompaction else { return }
        pendingCompaction = nil
        do {
            try store.adoptSnapshot(at: p.zxid, config: p.config)
            stats.snapshotsTaken += 1
            metrics.observeSnapshot(nanos: ZooKeeperServer.monotonicNanos() - p.started, now: ZooKeeperServer.monotonicNanos())
            stats.lastSnapshotZxid = p.zxid.raw
            logger.info("snapshot \(p.zxid) written (\(p.znodes) znodes, \(p.bytes) bytes, \((ZooKeeperServer.monotonicNanos() - p.started) / 1_000_000) ms)")
        } catch {
            logger.error("snapshot \(p.zxid) written but the log could not be rolled: \(error)")
        }
    }
}
