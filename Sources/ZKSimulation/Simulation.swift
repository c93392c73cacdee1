import ZKReplication

/// Knobs of one simulated run. Everything random derives from `seed`.
public struct SimOptions: Sendable {
    public var seed: UInt64
    public var voters: Int = 3
    public var observers: Int = 0
    /// Ticks of the faulty phase.
    public var ticks: Int = 400
    /// Ticks allowed for the final liveness phase (everything healed).
    public var livenessTicks: Int = 300
    public var electionTimeoutTicks = 10
    public var heartbeatIntervalTicks = 2
    public var maxEntriesPerMessage = 8
    /// Small, so that snapshots of the register machine travel in several chunks.
    public var snapshotChunkBytes = 48
    public var preVote = true
    public var checkQuorum = true
    /// Network: per-message probabilities and delay range in sub-tick time units (10 per tick).
    public var dropRate = 0.05
    public var duplicateRate = 0.02
    public var minDelay = 1
    public var maxDelay = 25
    /// Per-tick probabilities of faults.
    public var crashRate = 0.006
    /// Probability that a crash picks a leader when there is one.
    public var crashLeaderBias = 0.5
    /// Per-tick probability that a node stalls (a long GC pause): it keeps its state, and
    /// its missed ticks and buffered messages arrive all at once when it resumes.
    public var pauseRate = 0.005
    public var maxPauseTicks = 30
    /// At a crash, probability that the disk had already flushed some unsynced writes (a
    /// random prefix of them survives).
    public var partialFlushRate = 0.3
    /// Probability that an input reaches a node while it is handling a Ready (between
    /// takeReady and advance).
    public var interleaveRate = 0.2
    /// A leader sends a Ready's messages before persisting it, as zkserver does (its own copy counts
    /// only once durable). Probability that it crashes right after sending, before the fsync.
    public var crashAfterSendRate = 0.003
    /// More queued events than this is a failure (a message storm), not a slow run.
    public var maxMessagesInFlight = 20_000
    /// A crashed node restarts after 1...maxDowntimeTicks ticks.
    public var maxDowntimeTicks = 40
    public var partitionRate = 0.01
    /// Per-tick probability that one member's link to another breaks although both are up (its
    /// transport reports the peer unreachable: `Replica.peerUnreachable`). A crash always reports it to
    /// every member still connected to the crashed one, as closed TCP connections do.
    public var linkLossRate = 0.01
    /// false: a transport that never reports a lost peer (the availability probes must catch it).
    public var reportLinkLoss = true
    /// After the liveness phase: the availability properties (failover on closed connections, planned
    /// hand-over, no election after a heal while the leader is healthy), each within `availabilityBoundTicks`.
    public var availabilityProbes = true
    public var availabilityBoundTicks = 4
    /// The heal property (3 below); nil: checked when pre-vote and check-quorum are on, which it relies on.
    public var healProbe: Bool?
    public var healRate = 0.03
    /// Per-tick probability that the client proposes a write.
    public var proposeRate = 0.5
    /// Compact the log (snapshot the state machine) every this many applied entries.
    public var compactEvery = 40
    /// Lines of trace kept for failure reports.
    public var traceTail = 60
    /// Print every trace line as it happens.
    public var verbose = false
    /// Deliberately wrong shell behaviour, to show that the checkers catch it.
    public var skipFsync = false
    /// A deliberately wrong ordering in the shared driver (`ReplicaDriver.Fault`), likewise.
    public var driverFault: ReplicaDriver.Fault?
    /// A Ready's disk work finishes after 0...diskLatency time units (10 per tick), as zkserver's disk
    /// thread does: inputs that arrive meanwhile wait for it, and a crash meanwhile loses the write.
    public var diskLatency = 4
    /// Probability that a member crashes while a Ready's disk work is in flight (power lost mid-write).
    public var crashDuringWriteRate = 0.01

    public init(seed: UInt64) { self.seed = seed }
}

public struct SimResult: Sendable {
    public var seed: UInt64
    public var failure: String?
    public var traceTail: [String]
    /// Hash of the full trace; equal seeds give equal hashes.
    public var traceHash: UInt64
    public var stats: Stats
    public var ok: Bool { failure == nil }

    public struct Stats: Sendable, CustomStringConvertible {
        public var messagesSent = 0
        public var messagesDelivered = 0
        public var crashes = 0
        public var partitions = 0
        public var pauses = 0
        public var elections = 0
        public var proposals = 0
        public var acknowledged = 0
        public var committed = 0
        public var snapshotsInstalled = 0
        public var syncsAnswered = 0
        public var finalTick = 0

        /// Adds another run's counters (a sweep's totals).
        public mutating func add(_ o: Stats) {
            messagesSent += o.messagesSent; messagesDelivered += o.messagesDelivered
            crashes += o.crashes; partitions += o.partitions; pauses += o.pauses
            elections += o.elections; proposals += o.proposals; acknowledged += o.acknowledged
            committed += o.committed; snapshotsInstalled += o.snapshotsInstalled; syncsAnswered += o.syncsAnswered
        }

        public var description: String {
            "ticks=\(finalTick) msgs=\(messagesSent)/\(messagesDelivered) crashes=\(crashes) pauses=\(pauses) partitions=\(partitions) "
                + "leaders=\(elections) proposals=\(proposals) acked=\(acknowledged) committed=\(committed) "
                + "snapshots=\(snapshotsInstalled) syncs=\(syncsAnswered)"
        }
    }
}

struct SafetyViolation: Error { var message: String }

/// Deterministic simulation of an ensemble of real `Replica`s over a fake network, disk and
/// clock. Single-threaded; the same options give the same trace.
public final class Simulation<SM: SimStateMachine> {
    static var timeUnitsPerTick: Int { 10 }

    struct Node {
        var id: ServerID
        /// The member's driver (the same `ReplicaDriver` zkserver runs); nil while crashed.
        var driver: ReplicaDriver?
        /// Bumped at every restart, so disk work of an earlier incarnation is dropped.
        var incarnation = 0
        /// When the disk work handed over so far is done.
        var diskBusyUntil = 0
        var replica: Replica? { driver?.replica }
        var disk = FakeDisk()
        var sm = SM()
        var tickOffset: Int
        var restartAt: Int?
        var appliedSinceCompact = 0
        var lastRole: Replica.Role?
        var syncWaits: [(id: UInt64, zxid: Zxid)] = []
        /// Sync id -> greatest zxid committed anywhere when the sync was requested.
        var syncRequired: [UInt64: Zxid] = [:]
        /// Paused until this time; missed ticks and messages wait in `stalled`.
        var pausedUntil: Int?
        var missedTicks = 0
        var stalled: [(from: ServerID, bytes: [UInt8])] = []
        /// The driver's armed clock tick (`ReplicaClock`): fired by this node's `.tick` events.
        var clockFire: (() -> Void)?
    }

    enum Event {
        case tick(ServerID)
        case deliver(from: ServerID, to: ServerID, bytes: [UInt8])
        case world
        /// A disk write of `incarnation` finished.
        case diskDone(ServerID, incarnation: Int, token: Int)
        /// A crash aimed at `incarnation` while its disk work is in flight.
        case crash(ServerID, incarnation: Int)
        /// `observer`'s transport lost its link to `lost` and could not reconnect.
        case linkLost(observer: ServerID, lost: ServerID)
    }

    struct Queued {
        var time: Int
        var seq: Int
        var event: Event
    }

    public let options: SimOptions
    let cluster: ClusterConfig
    var rng: SplitMix64
    var nodes: [ServerID: Node] = [:]
    var ids: [ServerID] = []
    var now = 0
    var seq = 0
    var heap: [Queued] = []
    var blocked = Set<[ServerID]>() // [from, to]
    /// When the last message sent on each link arrives: a closed connection is noticed after the
    /// messages sent on it before it closed (TCP delivers them first).
    var lastArrival: [[ServerID]: Int] = [:]
    var faultsOn = true
    var dropRate: Double
    var duplicateRate: Double
    var maxDelay: Int
    var stats = SimResult.Stats()

    // trace
    var tail: [String] = []
    var traceHash: UInt64 = 0xcbf2_9ce4_8422_2325

    // checkers
    var leaderOfEpoch: [UInt32: ServerID] = [:]
    var committedLog: [Entry] = []
    var committedDigest: [UInt64] = []
    var committedIndex: [Zxid: Int] = [:]
    var appliedAt: [ServerID: Zxid] = [:]
    var emptyDigest = SM().digest
    var pendingWrites: [ServerID: [Zxid: [UInt8]]] = [:]
    var acked: [Zxid: [UInt8]] = [:]
    var nextPayload: UInt64 = 0
    var nextSyncID: UInt64 = 0
    /// The first violation a member's callback found (callbacks cannot throw).
    var violation: SafetyViolation?
    var diskWaits: [Int: () -> Void] = [:]
    var nextDiskToken = 0

    public init(options: SimOptions) throws {
        self.options = options
        self.rng = SplitMix64(seed: options.seed)
        self.dropRate = options.dropRate
        self.duplicateRate = options.duplicateRate
        self.maxDelay = options.maxDelay
        let voters = (1...max(1, options.voters)).map { ServerID($0) }
        let observers = options.observers > 0
            ? (1...options.observers).map { ServerID(options.voters + $0) } : []
        cluster = try ClusterConfig(voters: voters, observers: observers)
        ids = cluster.allIDs
        for id in ids {
            let n = Node(id: id, tickOffset: rng.int(in: 0...(Self.timeUnitsPerTick - 1)))
            nodes[id] = n
            nodes[id]!.driver = try makeDriver(id: id)
            appliedAt[id] = .zero
            schedule(at: n.tickOffset, .tick(id))
        }
        schedule(at: 0, .world)
    }

    func makeDriver(id: ServerID) throws -> ReplicaDriver {
        let disk = nodes[id]!.disk
        let cfg = try ReplicaConfig(id: id, electionTimeoutTicks: options.electionTimeoutTicks,
                                    heartbeatIntervalTicks: options.heartbeatIntervalTicks,
                                    maxEntriesPerMessage: options.maxEntriesPerMessage,
                                    snapshotChunkBytes: options.snapshotChunkBytes,
                                    preVote: options.preVote, checkQuorum: options.checkQuorum)
        let replica = Replica(config: cfg, cluster: cluster, store: disk.written, hardState: disk.writtenHard,
                              seed: rng.next())
        let member = Member(sim: self, id: id, incarnation: nodes[id]!.incarnation)
        let driver = ReplicaDriver(replica: replica, persistedHard: disk.writtenHard, disk: member, transport: member,
                                   application: member, clock: member, fault: options.driverFault)
        driver.startClock()
        return driver
    }

    /// One tick of the node's clock: the driver's armed tick, if it has one (it re-arms as it fires).
    func fireClock(_ id: ServerID) throws {
        guard let fire = nodes[id]!.clockFire else { return }
        nodes[id]!.clockFire = nil
        fire()
        try checkViolation()
        try observeRole(id)
    }

    // MARK: - event queue (binary heap ordered by (time, seq))

    func schedule(at time: Int, _ e: Event) {
        seq += 1
        heap.append(Queued(time: time, seq: seq, event: e))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { break }
        }
    }

    func less(_ a: Queued, _ b: Queued) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }

    func pop() -> Queued? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(from: 0)
        }
        return top
    }

    // MARK: - trace

    func trace(_ s: String) {
        let line = "[\(now / Self.timeUnitsPerTick).\(now % Self.timeUnitsPerTick)] \(s)"
        for b in line.utf8 { traceHash = (traceHash ^ UInt64(b)) &* 0x100_0000_01b3 }
        traceHash = (traceHash ^ 10) &* 0x100_0000_01b3
        if options.verbose { print(line) }
        tail.append(line)
        if tail.count > options.traceTail * 2 { tail.removeFirst(tail.count - options.traceTail) }
    }

    // MARK: - run

    public func run() -> SimResult {
        var failure: String?
        do {
            try runPhase(until: options.ticks * Self.timeUnitsPerTick)
            healEverything()
            failure = try runLiveness()
            if failure == nil { try finalChecks() }
            if failure == nil && options.availabilityProbes { failure = try runAvailabilityProbes() }
            if failure == nil { try finalChecks() }
        } catch let v as SafetyViolation {
            failure = v.message
        } catch {
            failure = "error: \(error)"
        }
        if let f = failure { trace("FAIL \(f)") }
        stats.finalTick = now / Self.timeUnitsPerTick
        stats.committed = committedLog.count
        return SimResult(seed: options.seed, failure: failure, traceTail: Array(tail.suffix(options.traceTail)),
                         traceHash: traceHash, stats: stats)
    }

    func runPhase(until end: Int) throws {
        var budget = 50_000_000 // hard bound on events
        while let q = heap.first, q.time < end, budget > 0 {
            budget -= 1
            if heap.count > options.maxMessagesInFlight {
                throw SafetyViolation(message: "message storm: \(heap.count) events queued")
            }
            _ = pop()
            now = q.time
            try handle(q.event)
        }
        now = end
    }

    func handle(_ e: Event) throws {
        switch e {
        case .tick(let id):
            schedule(at: now + Self.timeUnitsPerTick, .tick(id))
            guard nodes[id]!.replica != nil else { return }
            if nodes[id]!.pausedUntil != nil {
                nodes[id]!.missedTicks += 1
                return
            }
            try fireClock(id)
        case .deliver(let from, let to, let bytes):
            guard nodes[to]!.replica != nil else { return }
            if blocked.contains([from, to]) { return }
            if nodes[to]!.pausedUntil != nil {
                nodes[to]!.stalled.append((from, bytes))
                return
            }
            try deliver(from: from, to: to, bytes: bytes)
        case .world:
            schedule(at: now + Self.timeUnitsPerTick, .world)
            try worldTick()
        case .diskDone(let id, let incarnation, let token):
            guard let done = diskWaits.removeValue(forKey: token) else { return }
            guard nodes[id]!.driver != nil, nodes[id]!.incarnation == incarnation, nodes[id]!.pausedUntil == nil else {
                // Paused: the write finishes when the node resumes; crashed: it never happened.
                if nodes[id]!.driver != nil, nodes[id]!.incarnation == incarnation {
                    diskWaits[token] = done
                    schedule(at: nodes[id]!.pausedUntil!, .diskDone(id, incarnation: incarnation, token: token))
                }
                return
            }
            done()
            try checkViolation()
            try observeRole(id)
        case .crash(let id, let incarnation):
            if nodes[id]!.driver != nil, nodes[id]!.incarnation == incarnation {
                trace("n\(id) crashes with disk work in flight")
                crash(id)
            }
        case .linkLost(let observer, let lost):
            guard options.reportLinkLoss, nodes[observer]!.replica != nil, nodes[observer]!.pausedUntil == nil else { return }
            trace("n\(observer) lost its link to n\(lost)")
            try input(observer) { $0.peerUnreachable(lost) }
        }
    }

    func deliver(from: ServerID, to: ServerID, bytes: [UInt8]) throws {
        guard nodes[to]!.replica != nil else { return }   // crashed meanwhile
        let m: PeerMessage
        do { m = try PeerCodec.decode(bytes) } catch {
            throw SafetyViolation(message: "codec failed on own bytes: \(error)")
        }
        stats.messagesDelivered += 1
        if case .app = m {} else { trace("n\(to) <- n\(from) \(m)") }
        let driver = nodes[to]!.driver!
        // While a Ready is in flight the core may take inputs (its contract); zkserver queues them instead.
        if driver.busy && faultsOn && rng.chance(options.interleaveRate) {
            trace("n\(to) takes it during a Ready")
            driver.inputNow { $0.step(m, from: from) }
            try drain(to)
        } else {
            try input(to) { $0.step(m, from: from) }
        }
    }

    /// Queues an input for a node's driver and drives it.
    func input(_ id: ServerID, _ f: @escaping (inout Replica) -> Void) throws {
        let driver = nodes[id]!.driver!
        driver.enqueue(f)
        try drain(id)
    }

    func checkViolation() throws {
        if let v = violation { throw v }
    }

    /// Moves the event at `i` down until neither child comes before it.
    func siftDown(from start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }

    func heapify() {
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(from: i)
        }
    }

    func pause(_ id: ServerID) {
        stats.pauses += 1
        nodes[id]!.pausedUntil = now + Self.timeUnitsPerTick * rng.int(in: 1...max(1, options.maxPauseTicks))
        trace("n\(id) PAUSE \(nodes[id]!.replica!.describe)")
    }

    /// Resumes a stalled node: first the ticks it missed, then the messages that waited.
    func resume(_ id: ServerID) throws {
        let ticks = nodes[id]!.missedTicks
        let msgs = nodes[id]!.stalled
        nodes[id]!.pausedUntil = nil
        nodes[id]!.missedTicks = 0
        nodes[id]!.stalled = []
        trace("n\(id) RESUME after \(ticks) ticks with \(msgs.count) messages")
        for _ in 0..<ticks {
            guard nodes[id]!.replica != nil else { return }
            try fireClock(id)
        }
        for (f, b) in msgs {
            try deliver(from: f, to: id, bytes: b)
        }
    }

    // MARK: - node processing

    func drain(_ id: ServerID) throws {
        guard let driver = nodes[id]!.driver else { return }
        driver.drive()
        try checkViolation()
        try observeRole(id)
    }

    /// One incarnation of a node as its driver sees it: the fake disk, the fake network and the state
    /// machine with the checkers. Callbacks cannot throw: the first violation is kept in `violation`.
    final class Member: ReplicaDisk, ReplicaTransport, ReplicaApplication, ReplicaClock {
        unowned let sim: Simulation
        let id: ServerID
        let incarnation: Int

        init(sim: Simulation, id: ServerID, incarnation: Int) {
            self.sim = sim
            self.id = id
            self.incarnation = incarnation
        }

        private func violate(_ message: String) {
            if sim.violation == nil { sim.violation = SafetyViolation(message: message) }
        }

        /// Simulated time has one tick length for both paces (the pace changes wall time, not the
        /// protocol's behaviour): `.tick` events fire the armed tick every `timeUnitsPerTick`.
        func tick(after pace: TickPace, _ fire: @escaping () -> Void) {
            guard sim.nodes[id]!.incarnation == incarnation else { return }
            sim.nodes[id]!.clockFire = fire
        }

        func persist(_ write: DiskWrite, done: @escaping (Result<Void, any Error>) -> Void) {
            let sim = self.sim, id = self.id
            if sim.faultsOn && sim.nodes[id]!.replica?.role == .leader && sim.rng.chance(sim.options.crashAfterSendRate) {
                sim.trace("n\(id) crashes after sending, before persisting")
                sim.crash(id)
                return
            }
            let disk = sim.nodes[id]!.disk
            let skipFsync = sim.options.skipFsync
            let work = { [weak self] in
                do { try disk.persist(write) } catch {
                    self?.violate("n\(id): \(error)")
                    return
                }
                if write.sync && !skipFsync { disk.fsync() }
                done(.success(()))
            }
            var latency = sim.options.diskLatency > 0 ? sim.rng.int(in: 0...sim.options.diskLatency) : 0
            // One disk thread: work finishes in the order it was handed over (unless the planted fault
            // says the disk runs consecutive Readys' work at the same time).
            if sim.options.driverFault != .overlapDiskWork {
                latency = max(latency, sim.nodes[id]!.diskBusyUntil - sim.now)
                sim.nodes[id]!.diskBusyUntil = sim.now + latency
            }
            if latency == 0 { return work() }
            sim.nextDiskToken += 1
            sim.diskWaits[sim.nextDiskToken] = work
            sim.schedule(at: sim.now + latency, .diskDone(id, incarnation: incarnation, token: sim.nextDiskToken))
            // Power lost while the write is in flight: what it carries never reaches the disk.
            if sim.faultsOn && sim.rng.chance(sim.options.crashDuringWriteRate) {
                sim.schedule(at: sim.now + sim.rng.int(in: 0...(latency - 1)), .crash(id, incarnation: incarnation))
            }
        }

        func readSnapshot(_ zxid: Zxid, done: @escaping (Snapshot?) -> Void) {
            done(sim.nodes[id]!.disk.written.snapshot())
        }

        func send(_ messages: [Outbound]) { for o in messages { sim.send(from: id, o) } }

        func restore(_ s: Snapshot) throws {
            do { try sim.nodes[id]!.sm.restore(s.data) } catch {
                violate("n\(id) cannot restore snapshot \(s.zxid)")
                return
            }
            sim.stats.snapshotsInstalled += 1
            sim.trace("n\(id) installed snapshot \(s.zxid)")
            do { try sim.checkRestore(id, at: s.zxid, digest: sim.nodes[id]!.sm.digest) } catch {
                violate((error as? SafetyViolation)?.message ?? "\(error)")
            }
        }

        func apply(_ committed: [Entry]) {
            for e in committed {
                sim.nodes[id]!.sm.apply(e)
                sim.nodes[id]!.appliedSinceCompact += 1
                do { try sim.checkApply(id, e, digest: sim.nodes[id]!.sm.digest) } catch {
                    violate((error as? SafetyViolation)?.message ?? "\(error)")
                    return
                }
                if let p = sim.pendingWrites[id]?[e.zxid] {
                    sim.pendingWrites[id]![e.zxid] = nil
                    if p == e.payload {
                        sim.acked[e.zxid] = p
                        sim.stats.acknowledged += 1
                    }
                }
            }
            answerSyncs()
        }

        func readBarriers(_ syncs: [SyncReady]) {
            for s in syncs { sim.nodes[id]!.syncWaits.append((s.id, s.zxid)) }
            answerSyncs()
        }

        /// Answers the read barriers whose zxid the state machine has applied.
        private func answerSyncs() {
            let applied = sim.appliedAt[id]!
            var answered: [UInt64] = []
            sim.nodes[id]!.syncWaits.removeAll { w in
                guard w.zxid <= applied else { return false }
                answered.append(w.id)
                return true
            }
            for sid in answered {
                // A sync must observe every write committed before it started.
                if let req = sim.nodes[id]!.syncRequired.removeValue(forKey: sid), applied < req {
                    violate("n\(id) answered sync \(sid) at \(applied) but \(req) was committed before it")
                }
                sim.stats.syncsAnswered += 1
                sim.trace("n\(id) sync \(sid) answered at \(applied)")
            }
        }

        func advanced(_ messages: [AppMessage]) {}

        /// Between Readys: compact the log every `compactEvery` applied entries.
        func idle() {
            let n = sim.nodes[id]!
            let applied = sim.appliedAt[id]!
            if n.appliedSinceCompact >= sim.options.compactEvery && applied > n.disk.written.snapshotMeta.zxid {
                n.disk.compact(Snapshot(meta: SnapshotMeta(zxid: applied, config: sim.cluster), data: n.sm.snapshot()))
                sim.nodes[id]!.appliedSinceCompact = 0
            }
        }

        func failed(_ error: any Error) { violate("n\(id) failed: \(error)") }
    }

    func send(from: ServerID, _ o: Outbound) {
        let bytes = PeerCodec.encode(o.message)
        stats.messagesSent += 1
        if blocked.contains([from, o.to]) { return }
        if rng.chance(dropRate) { return }
        let copies = rng.chance(duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            let delay = rng.int(in: options.minDelay...max(options.minDelay, maxDelay))
            schedule(at: now + delay, .deliver(from: from, to: o.to, bytes: bytes))
            lastArrival[[from, o.to]] = max(lastArrival[[from, o.to]] ?? 0, now + delay)
        }
    }

    func observeRole(_ id: ServerID) throws {
        guard let r = nodes[id]!.replica else { return }
        if r.role != nodes[id]!.lastRole {
            nodes[id]!.lastRole = r.role
            trace("n\(id) \(r.describe)")
            if r.role == .leader {
                stats.elections += 1
                if let other = leaderOfEpoch[r.epoch], other != id {
                    throw SafetyViolation(message: "two leaders in epoch \(r.epoch): n\(other) and n\(id)")
                }
                leaderOfEpoch[r.epoch] = id
            }
        }
    }

    // MARK: - faults and workload

    func worldTick() throws {
        // restarts and resumes
        for id in ids {
            if let at = nodes[id]!.restartAt, at <= now { try restart(id) }
            if let at = nodes[id]!.pausedUntil, at <= now { try resume(id) }
        }
        if faultsOn {
            if rng.chance(options.pauseRate) {
                var up = ids.filter { nodes[$0]!.replica != nil && nodes[$0]!.pausedUntil == nil }
                let leaders = up.filter { nodes[$0]!.replica!.role == .leader }
                if !leaders.isEmpty && rng.chance(options.crashLeaderBias) { up = leaders }
                if !up.isEmpty { pause(up[Int(rng.next(below: UInt64(up.count)))]) }
            }
            if rng.chance(options.crashRate) {
                var up = ids.filter { nodes[$0]!.replica != nil }
                // Leaders are the interesting victims: prefer them half of the time.
                let leaders = up.filter { nodes[$0]!.replica!.role == .leader }
                if !leaders.isEmpty && rng.chance(options.crashLeaderBias) { up = leaders }
                if !up.isEmpty { crash(up[Int(rng.next(below: UInt64(up.count)))]) }
            }
            if rng.chance(options.partitionRate) { partition() }
            if rng.chance(options.linkLossRate) {
                let a = ids[Int(rng.next(below: UInt64(ids.count)))], b = ids[Int(rng.next(below: UInt64(ids.count)))]
                if a != b { schedule(at: now + options.minDelay, .linkLost(observer: a, lost: b)) }
            }
            if !blocked.isEmpty && rng.chance(options.healRate) {
                blocked = []
                trace("heal")
            }
            if rng.chance(options.proposeRate) { try propose() }
            if rng.chance(options.proposeRate / 5) { try requestSync() }
        }
    }

    func crash(_ id: ServerID) {
        stats.crashes += 1
        nodes[id]!.driver?.stop()
        nodes[id]!.driver = nil
        nodes[id]!.clockFire = nil
        nodes[id]!.pausedUntil = nil
        nodes[id]!.missedTicks = 0
        nodes[id]!.stalled = []
        nodes[id]!.disk.crash(keepingUnsynced: rng.chance(options.partialFlushRate) ? rng.int(in: 0...64) : 0)
        nodes[id]!.lastRole = nil
        nodes[id]!.syncWaits = []
        nodes[id]!.syncRequired = [:]
        pendingWrites[id] = nil
        nodes[id]!.restartAt = now + Self.timeUnitsPerTick * rng.int(in: 1...max(1, options.maxDowntimeTicks))
        // Its connections close: every member still connected to it hears so (the refused reconnect).
        for o in ids where o != id && !blocked.contains([id, o]) && nodes[o]!.replica != nil {
            schedule(at: max(now, lastArrival[[id, o]] ?? 0) + options.minDelay, .linkLost(observer: o, lost: id))
        }
        trace("n\(id) CRASH (synced \(nodes[id]!.disk.syncedHard) last=\(nodes[id]!.disk.synced.lastZxid))")
    }

    func restart(_ id: ServerID) throws {
        var n = nodes[id]!
        n.restartAt = nil
        n.sm = SM()
        if let s = n.disk.written.snapshot() {
            try n.sm.restore(s.data)
        }
        let snapZ = n.disk.written.snapshotMeta.zxid
        try checkRestore(id, at: snapZ, digest: n.sm.digest)
        n.appliedSinceCompact = 0
        n.incarnation += 1
        nodes[id] = n
        nodes[id]!.driver = try makeDriver(id: id)
        trace("n\(id) RESTART \(nodes[id]!.replica!.describe)")
        try drain(id)
    }

    func partition() {
        stats.partitions += 1
        let kind = rng.next(below: 4)
        let leaders = ids.filter { nodes[$0]!.replica?.role == .leader }
        if kind == 3, let x = leaders.first {
            // cut the leader off: the classic source of stale leaders
            for b in ids where b != x { blocked.insert([x, b]); blocked.insert([b, x]) }
            trace("isolate leader n\(x)")
        } else if kind == 0 {
            // symmetric split
            var side = Set<ServerID>()
            for id in ids where rng.chance(0.5) { side.insert(id) }
            for a in ids { for b in ids where side.contains(a) != side.contains(b) { blocked.insert([a, b]) } }
            trace("partition \(side.sorted()) | \(ids.filter { !side.contains($0) })")
        } else if kind == 1 {
            // isolate one node
            let x = ids[Int(rng.next(below: UInt64(ids.count)))]
            for b in ids where b != x { blocked.insert([x, b]); blocked.insert([b, x]) }
            trace("isolate n\(x)")
        } else {
            // one direction between two nodes
            let a = ids[Int(rng.next(below: UInt64(ids.count)))]
            let b = ids[Int(rng.next(below: UInt64(ids.count)))]
            if a != b {
                blocked.insert([a, b])
                trace("block n\(a) -> n\(b)")
            }
        }
    }

    /// The client writes a burst of 1-3 registers through a node that believes it leads,
    /// then the node drains once (so proposals are batched like in a server).
    func propose() throws {
        let leaders = ids.filter { nodes[$0]!.replica?.role == .leader }
        guard !leaders.isEmpty else { return }
        let id = leaders[Int(rng.next(below: UInt64(leaders.count)))]
        // Half the bursts come "through" another member (a forwarded write): that member answers the
        // client when it applies the entry, which a commit hint may let it do before the leader knows.
        let others = ids.filter { $0 != id }
        let waiter: ServerID? = others.isEmpty || rng.chance(0.5) ? nil : others[Int(rng.next(below: UInt64(others.count)))]
        for _ in 0..<rng.int(in: 1...3) {
            nextPayload += 1
            let reg = UInt8(truncatingIfNeeded: rng.next(below: 8))
            var payload: [UInt8] = [reg]
            var v = nextPayload
            for _ in 0..<8 { payload.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
            stats.proposals += 1
            var result = Replica.ProposeResult.notLeader(leaderHint: nil)
            nodes[id]!.driver!.inputNow { result = $0.propose(payload, waiter: waiter) }
            if case .accepted(let z) = result {
                pendingWrites[waiter ?? id, default: [:]][z] = payload
                trace("n\(id) propose \(z)\(waiter.map { " for n\($0)" } ?? "")")
            }
        }
        try drain(id)
    }

    func requestSync() throws {
        let up = ids.filter { nodes[$0]!.replica != nil }
        guard !up.isEmpty else { return }
        let id = up[Int(rng.next(below: UInt64(up.count)))]
        nextSyncID += 1
        let sid = nextSyncID
        var result = Replica.SyncRequestResult.noLeader
        nodes[id]!.driver!.inputNow { result = $0.requestSync(id: sid) }
        if result == .pending {
            nodes[id]!.syncRequired[nextSyncID] = committedLog.last?.zxid ?? .zero
            trace("n\(id) sync \(nextSyncID) requested")
        }
        try drain(id)
    }

    func healEverything() {
        faultsOn = false
        blocked = []
        dropRate = 0
        duplicateRate = 0
        // A healthy network: round trips well below the election timeout.
        maxDelay = min(maxDelay, options.electionTimeoutTicks * Self.timeUnitsPerTick / 4)
        for id in ids where nodes[id]!.replica == nil { nodes[id]!.restartAt = now }
        for id in ids where nodes[id]!.pausedUntil != nil { nodes[id]!.pausedUntil = now }
        trace("HEAL ALL")
    }

    /// Runs until a leader has committed an entry of its epoch and every replica applied it.
    func runLiveness() throws -> String? {
        let deadline = now + options.livenessTicks * Self.timeUnitsPerTick
        var probe = now
        while probe < deadline {
            probe += Self.timeUnitsPerTick
            try runPhase(until: probe)
            if converged() { return nil }
        }
        let states = ids.map { nodes[$0]!.replica?.describe ?? "n\($0) down" }.joined(separator: "; ")
        return "no convergence within \(options.livenessTicks) ticks after healing: \(states)"
    }

    // MARK: - availability properties (after liveness: a healthy network, everyone up)

    var leaderNow: ServerID? { ids.first { nodes[$0]!.replica?.role == .leader } }

    /// Runs until `done` holds, at most `ticks` ticks; the ticks it took, or nil.
    func runUntil(ticks: Int, _ done: () -> Bool) throws -> Int? {
        let start = now
        while now < start + ticks * Self.timeUnitsPerTick {
            try runPhase(until: now + 1)
            if done() { return (now - start + Self.timeUnitsPerTick - 1) / Self.timeUnitsPerTick }
        }
        return nil
    }

    func reconverge(_ what: String) throws -> String? {
        if try runUntil(ticks: options.livenessTicks, { converged() }) == nil {
            return "\(what): no convergence within \(options.livenessTicks) ticks"
        }
        return nil
    }

    /// The properties a planned stop, a crash and a heal must keep, measured in ticks on a healthy
    /// network (message delays of at most half a tick):
    /// 1. a planned hand-over leaves no stretch without a leader longer than the bound;
    /// 2. a crashed leader whose connections close is replaced within the bound + 2 ticks, well inside
    ///    the election timeout (the survivors campaign in turn, two ticks apart);
    /// 3. a follower cut off for three election timeouts rejoins after the heal with no election while
    ///    the leader stayed healthy (its epoch unchanged); with pre-vote and check-quorum only.
    func runAvailabilityProbes() throws -> String? {
        // Loopback or a LAN: a message takes well under the (electing) tick.
        maxDelay = min(maxDelay, Self.timeUnitsPerTick / 2)
        let bound = options.availabilityBoundTicks
        guard cluster.voters.count > 1 else { return nil }
        // 1. planned hand-over
        if let l = leaderNow {
            var result = Replica.TransferResult.refused("")
            try input(l) { result = $0.transferLeadership() }
            guard case .started(let target) = result else { return "hand-over refused on a healthy ensemble: \(result)" }
            trace("PROBE hand-over n\(l) -> n\(target)")
            var leaderless = 0, worst = 0
            let took = try runUntil(ticks: bound * 4) {
                if let x = leaderNow, x != l { return true }
                if leaderNow == nil { leaderless += 1; worst = max(worst, leaderless) } else { leaderless = 0 }
                return false
            }
            guard took != nil else { return "hand-over from n\(l) to n\(target): no new leader within \(bound * 4) ticks" }
            if worst > bound * Self.timeUnitsPerTick {
                return "hand-over from n\(l): \(worst) time units without a leader (bound \(bound) ticks)"
            }
            if let f = try reconverge("after the hand-over") { return f }
        }
        // 2. leader crash with its connections closing
        if let l = leaderNow {
            trace("PROBE crash leader n\(l)")
            crash(l)
            nodes[l]!.restartAt = nil
            guard let took = try runUntil(ticks: bound + 2, { leaderNow != nil }) else {
                return "leader n\(l) crashed with its connections closing: no new leader within \(bound + 2) ticks "
                    + "(the election timeout is \(options.electionTimeoutTicks))"
            }
            trace("PROBE new leader after \(took) ticks")
            nodes[l]!.restartAt = now
            if let f = try reconverge("after the leader crash") { return f }
        }
        // 3. a follower cut off, then healed (kept by pre-vote and check-quorum, which zkserver runs with)
        if options.healProbe ?? (options.preVote && options.checkQuorum), let l = leaderNow, let f = ids.first(where: { $0 != l && cluster.isVoter($0) }) {
            let epoch = nodes[l]!.replica!.epoch
            trace("PROBE isolate follower n\(f)")
            for b in ids where b != f { blocked.insert([f, b]); blocked.insert([b, f]) }
            schedule(at: now + 2 * Self.timeUnitsPerTick, .linkLost(observer: f, lost: l))
            _ = try runUntil(ticks: 3 * options.electionTimeoutTicks) { false }
            blocked = []
            trace("PROBE heal")
            guard try runUntil(ticks: bound * 4, { converged() }) != nil else {
                return "follower n\(f) did not rejoin within \(bound * 4) ticks of the heal"
            }
            if leaderNow != l || nodes[l]!.replica!.epoch != epoch {
                return "an election followed the heal of follower n\(f) although leader n\(l) stayed healthy"
            }
        }
        return nil
    }

    func converged() -> Bool {
        let rs = ids.compactMap { nodes[$0]!.replica }
        guard rs.count == ids.count else { return false }
        let leaders = rs.filter { $0.role == .leader }
        guard leaders.count == 1, let l = leaders.first else { return false }
        guard l.commitZxid.epoch == l.epoch, l.commitZxid == l.lastZxid else { return false }
        for r in rs {
            if r.appliedZxid != l.commitZxid || r.lastZxid != l.lastZxid || r.leaderID != l.id { return false }
        }
        let d = nodes[l.id]!.sm.digest
        return ids.allSatisfy { nodes[$0]!.sm.digest == d }
    }

    func finalChecks() throws {
        // Every acknowledged write is in the final committed log.
        for (z, p) in acked {
            guard let i = committedIndex[z], committedLog[i].payload == p else {
                throw SafetyViolation(message: "acknowledged write \(z) missing from committed log")
            }
        }
        // The leader's log holds every committed entry after its snapshot.
        guard let l = ids.first(where: { nodes[$0]!.replica?.role == .leader }) else { return }
        let store = nodes[l]!.disk.written
        for e in committedLog where e.zxid > store.snapshotMeta.zxid {
            guard store.entry(at: e.zxid) == e else {
                throw SafetyViolation(message: "leader n\(l) lacks committed entry \(e)")
            }
        }
    }

    // MARK: - safety checkers

    func checkApply(_ id: ServerID, _ e: Entry, digest: UInt64) throws {
        let prev = appliedAt[id]!
        guard e.zxid > prev else {
            throw SafetyViolation(message: "n\(id) applied \(e.zxid) after \(prev): zxids not increasing")
        }
        let nextIndex: Int
        if prev == .zero {
            nextIndex = 0
        } else {
            guard let i = committedIndex[prev] else {
                throw SafetyViolation(message: "n\(id) applied from unknown point \(prev)")
            }
            nextIndex = i + 1
        }
        if nextIndex < committedLog.count {
            let want = committedLog[nextIndex]
            guard want == e else {
                throw SafetyViolation(message: "n\(id) applied \(e) but the committed log has \(want) there")
            }
            guard committedDigest[nextIndex] == digest else {
                throw SafetyViolation(message: "n\(id) digest differs at \(e.zxid)")
            }
        } else {
            if let last = committedLog.last, e.zxid <= last.zxid {
                throw SafetyViolation(message: "committed zxids not increasing: \(e.zxid) after \(last.zxid)")
            }
            committedLog.append(e)
            committedDigest.append(digest)
            committedIndex[e.zxid] = committedLog.count - 1
            trace("commit \(e) by n\(id)")
        }
        appliedAt[id] = e.zxid
    }

    func checkRestore(_ id: ServerID, at z: Zxid, digest: UInt64) throws {
        if z == .zero {
            guard digest == emptyDigest else { throw SafetyViolation(message: "n\(id) empty restore digest") }
        } else {
            guard let i = committedIndex[z] else {
                throw SafetyViolation(message: "n\(id) restored snapshot at \(z) that was never committed")
            }
            guard committedDigest[i] == digest else {
                throw SafetyViolation(message: "n\(id) snapshot digest differs at \(z)")
            }
        }
        appliedAt[id] = z
    }
}

/// Runs seeds `range` and summarizes.
public struct SweepSummary: Sendable {
    public var runs = 0
    public var failures: [SimResult] = []
    /// Every run's counters added up.
    public var totals = SimResult.Stats()
    public var description: String {
        "seeds=\(runs) passed=\(runs - failures.count) failed=\(failures.count) leaders=\(totals.elections) "
            + "crashes=\(totals.crashes) acked=\(totals.acknowledged) syncs=\(totals.syncsAnswered) snapshots=\(totals.snapshotsInstalled)"
            + (failures.isEmpty ? "" : " failing=\(failures.map { String($0.seed) }.joined(separator: ","))")
    }
}

public func runSimulation(_ options: SimOptions) -> SimResult {
    do {
        return try Simulation<RegisterMachine>(options: options).run()
    } catch {
        return SimResult(seed: options.seed, failure: "setup: \(error)", traceTail: [], traceHash: 0, stats: .init())
    }
}

public func sweep(seeds: ClosedRange<UInt64>, base: SimOptions, onResult: (SimResult) -> Void = { _ in }) -> SweepSummary {
    var s = SweepSummary()
    for seed in seeds {
        var o = base
        o.seed = seed
        let r = runSimulation(o)
        s.runs += 1
        s.totals.add(r.stats)
        if !r.ok { s.failures.append(r) }
        onResult(r)
    }
    return s
}
