/// # The driver: the one Ready loop
///
/// `ReplicaDriver` carries out the core's `Ready`s for every shell: zkserver's ensemble member, the
/// simulator and the unit-test cluster run this code, over their own disk, transport and application.
/// It decides when messages leave relative to the fsync, when the disk work runs, when committed
/// entries are applied, and how snapshots are read and installed. It does no I/O itself.
///
/// ## What it does with a Ready
///
/// 1. `snapshotToRead` (independent of the rest): `ReplicaDisk.readSnapshot`, whose answer comes back
///    as a queued input (`Replica.snapshotRead`), never in the middle of a Ready.
/// 2. Nothing durable to write (no changed vote or epoch, no truncation, snapshot or entries, no sync):
///    a leader applies first and then sends (its commit notices are not on its clients' path); everyone
///    else sends first (their answers are on the leader's path) and then applies.
/// 3. Something durable: a leader whose vote and epoch did not change sends first and then persists
///    (it counts its own copy toward a quorum only at `advance()`, once it is durable, so its disk and
///    its followers' work in parallel). Everyone else persists first and sends only once the disk says
///    it is durable: a vote or an acknowledgement never gets ahead of the state it promises.
///    `ReplicaDisk.persist` writes in this order: hard state, truncation, snapshot install, appended
///    entries, fsync. It may finish at once or later; meanwhile the driver takes no new Ready and keeps
///    inputs queued.
/// 4. Once durable: an installed snapshot replaces the application's state (`restore`), then the
///    committed entries are applied in order (a member applies only entries it holds durably: a commit
///    hint covering its own unsynced entries waits for its own fsync), read barriers are handed over,
///    and the core is advanced. Then `advanced(_:)` with the application messages, so handling them may
///    propose.
/// 5. After a Ready's disk work, and when no Ready is in flight and none is pending,
///    `ReplicaApplication.idle()`: a safe point to compact the log (nothing else uses the store then).
///
/// ## The clock
///
/// With a `ReplicaClock`, the driver ticks the core itself (`startClock()`): one tick per
/// `ReplicaClock.tick(after:_:)`, at the pace the core's state calls for: `steady` while a leader is
/// known, `electing` otherwise (the shell makes that interval short, so that an election is over
/// quickly; timeouts are counted in ticks, so detecting a lost leader still takes the steady pace's
/// election timeout). When the pace changes after a Ready (a leader lost or found), the clock is
/// re-armed at the new pace at once.
///
/// A disk failure stops the driver for good (`ReplicaApplication.failed`): acknowledging anything after
/// a failed write or fsync would break the protocol's promises.
///
/// ## Threading
///
/// One thread (zkserver: the server's event loop). `persist` and `readSnapshot` may hand work to other
/// threads, but must call back on the driver's thread.
public final class ReplicaDriver {
    /// Deliberately wrong orderings, to show that the simulator's checkers catch them. Never in a server.
    public enum Fault: String, Sendable, CaseIterable {
        /// Every member sends before persisting: an acknowledgement or a vote leaves before the fsync.
        case ackBeforeFsync = "ack-before-fsync"
        /// The core is told a Ready is durable (`advance()`) as soon as its disk work is handed to the
        /// disk, and the next Ready is taken meanwhile: a commit hint that counts this member's copy is
        /// applied (and its client answered) before this member's own fsync.
        case advanceBeforeFsync = "advance-before-fsync"
        /// As `advanceBeforeFsync`, on a disk that runs the work of consecutive Readys at the same time:
        /// a snapshot install or a truncation can overtake appends still being written.
        case overlapDiskWork = "overlap-disk-work"
    }

    /// The core. A shell reads it, and may give it inputs in place (`driver.replica.propose(...)`) on the
    /// driver's thread at any time (the core accepts inputs between `takeReady()` and `advance()`); only
    /// the driver calls `takeReady()` and `advance()`.
    public var replica: Replica
    public let disk: any ReplicaDisk
    public let transport: any ReplicaTransport
    public let application: any ReplicaApplication
    public let fault: Fault?
    /// Ticks the core; nil for a shell that ticks it itself (the unit-test cluster).
    public let clock: (any ReplicaClock)?
    /// Checks that the caller is on the driver's thread (zkserver: asserts its event loop). Called by
    /// every entry point: `drive`, `enqueue`, the clock and the disk's callbacks.
    public var checkThread: () -> Void = {}
    /// The armed tick: only the newest fires (a re-armed clock ignores the earlier one).
    private var clockToken = 0
    private var clockPace: TickPace?

    private var queued: [() -> Void] = []
    /// A Ready whose disk work has not finished.
    private var persisting = 0
    private var stopped = false
    private var driving = false
    /// Epoch and vote as last made durable (commit points are not persisted on their own).
    public private(set) var persistedHard: HardState

    public init(replica: Replica, persistedHard: HardState, disk: any ReplicaDisk, transport: any ReplicaTransport,
                application: any ReplicaApplication, clock: (any ReplicaClock)? = nil, fault: Fault? = nil) {
        self.replica = replica
        self.persistedHard = persistedHard
        self.disk = disk
        self.transport = transport
        self.application = application
        self.clock = clock
        self.fault = fault
    }

    // MARK: - Clock

    /// Starts ticking the core through `clock` (see "The clock" above).
    public func startClock() {
        precondition(clock != nil, "startClock() needs a ReplicaClock")
        armClock()
    }

    /// The pace the core's state calls for.
    public var pace: TickPace {
        replica.leaderID != nil && replica.role != .candidate && replica.role != .preCandidate ? .steady : .electing
    }

    private func armClock() {
        guard let clock, !stopped else { return }
        clockToken &+= 1
        let token = clockToken
        let p = pace
        clockPace = p
        clock.tick(after: p) { [weak self] in
            guard let self, !stopped, token == clockToken else { return }
            enqueue { $0.tick() }
            armClock()
            drive()
        }
    }

    /// True while a Ready's disk work runs.
    public var busy: Bool { persisting > 0 }

    private var advancesEarly: Bool { fault == .advanceBeforeFsync || fault == .overlapDiskWork }

    /// Queues an input; it reaches the core at the next `drive()` that finds no Ready in flight.
    public func enqueue(_ input: @escaping (inout Replica) -> Void) {
        checkThread()
        queued.append { [unowned self] in input(&replica) }
    }

    /// Queues an input that reaches the core through `replica` itself.
    public func enqueue(_ input: @escaping () -> Void) {
        checkThread()
        queued.append(input)
    }

    /// Gives an input to the core at once, even between `takeReady()` and `advance()` (the core allows it:
    /// it is not part of the Ready being handled). The simulator uses it to exercise that contract.
    public func inputNow(_ input: (inout Replica) -> Void) {
        input(&replica)
    }

    /// Reads the core's state.
    public func read<T>(_ body: (Replica) -> T) -> T { body(replica) }

    /// Runs queued inputs and every Ready until none is left or one waits for its disk work. Called again
    /// from inside (a disk that finished at once), it returns: the running loop goes on.
    public func drive() {
        checkThread()
        guard !stopped, !driving else { return }
        driving = true
        defer { driving = false }
        var readys = 0
        while persisting == 0 || advancesEarly {
            readys += 1
            if readys > Self.maxReadysPerDrive {
                stop()
                application.failed(NoProgress(readys: readys))
                return
            }
            if !queued.isEmpty {
                let batch = queued
                queued = []
                for input in batch { input() }
                continue
            }
            guard !stopped, replica.hasReady else { break }
            handle(replica.takeReady())
        }
        if persisting == 0 && !stopped && queued.isEmpty && !replica.hasReady { application.idle() }
    }

    /// More Readys than this in one `drive()` without waiting for anything means the core and its store
    /// disagree (the core keeps asking for the same work): stop with an error rather than spin.
    static let maxReadysPerDrive = 100_000

    public struct NoProgress: Error, CustomStringConvertible {
        public var readys: Int
        public var description: String { "the core handed out \(readys) Readys in one turn without settling: its store does not show what was persisted" }
    }

    /// Stops driving: nothing more is sent, applied or persisted (after a disk failure, or at shutdown).
    public func stop() {
        stopped = true
        queued = []
    }

    private func handle(_ rd: Ready) {
        if let z = rd.snapshotToRead {
            disk.readSnapshot(z) { [weak self] snapshot in
                guard let self, !stopped else { return }
                enqueue { $0.snapshotRead(snapshot, zxid: z) }
                drive()
            }
        }
        let hardChanged = rd.hardState.map { $0.epoch != persistedHard.epoch || $0.votedFor != persistedHard.votedFor } ?? false
        let write = DiskWrite(hardState: hardChanged ? rd.hardState : nil, truncateAfter: rd.truncateAfter,
                              snapshot: rd.snapshotToInstall, entries: rd.entriesToAppend, sync: rd.mustSync)
        let leader = replica.role == .leader
        guard write.hasWork else {
            if leader {
                apply(rd)
                transport.send(rd.messages)
            } else {
                transport.send(rd.messages)
                apply(rd)
            }
            finish(rd)
            return
        }
        let sendFirst = (leader && !hardChanged) || fault == .ackBeforeFsync
        if sendFirst { transport.send(rd.messages) }
        persisting += 1
        let early = advancesEarly
        if early {
            // The wrong way round: the core is told the Ready is done before its disk work is.
            apply(rd)
            finish(rd)
        }
        disk.persist(write) { [weak self] result in
            guard let self, !stopped else { return }
            checkThread()
            persisting -= 1
            switch result {
            case .failure(let error):
                stop()
                application.failed(error)
                return
            case .success:
                if let h = write.hardState { persistedHard = h }
            }
            application.idle()
            if early {
                if !sendFirst { transport.send(rd.messages) }
                drive()
                return
            }
            if let s = rd.snapshotToInstall {
                do { try application.restore(s) } catch {
                    stop()
                    application.failed(error)
                    return
                }
            }
            if !sendFirst { transport.send(rd.messages) }
            apply(rd)
            finish(rd)
            drive()
        }
    }

    private func apply(_ rd: Ready) {
        if !rd.committed.isEmpty { application.apply(rd.committed) }
    }

    private func finish(_ rd: Ready) {
        if !rd.syncsReady.isEmpty { application.readBarriers(rd.syncsReady) }
        replica.advance()
        if clockPace != nil && clockPace != pace { armClock() }
        application.advanced(rd.appMessages)
    }
}

/// The durable part of one Ready, in the order it must be written.
public struct DiskWrite: Sendable {
    /// Only when the epoch or the vote changed (they must be durable before any message depends on them).
    public var hardState: HardState?
    public var truncateAfter: Zxid?
    public var snapshot: Snapshot?
    public var entries: [Entry]
    /// Fsync after writing.
    public var sync: Bool

    public init(hardState: HardState?, truncateAfter: Zxid?, snapshot: Snapshot?, entries: [Entry], sync: Bool) {
        self.hardState = hardState
        self.truncateAfter = truncateAfter
        self.snapshot = snapshot
        self.entries = entries
        self.sync = sync
    }

    public var hasWork: Bool { hardState != nil || truncateAfter != nil || snapshot != nil || !entries.isEmpty || sync }
}

/// Durable storage of one member, as the driver uses it.
public protocol ReplicaDisk: AnyObject {
    /// Writes `write` (hard state, truncation, snapshot install, entries, then fsync if `write.sync`) and
    /// calls `done` exactly once when it is durable or has failed: at once, or later on the driver's thread.
    /// The store the core reads must show the write when `done` is called.
    func persist(_ write: DiskWrite, done: @escaping (Result<Void, any Error>) -> Void)
    /// Reads the store's snapshot at `zxid` (a large one off the driver's thread) and calls `done` on the
    /// driver's thread with it, or with nil if it cannot be read.
    func readSnapshot(_ zxid: Zxid, done: @escaping (Snapshot?) -> Void)
}

/// How fast a member's clock ticks.
public enum TickPace: Sendable, Equatable {
    /// A leader is known: heartbeats and failure detection at the configured interval.
    case steady
    /// No leader is known: short ticks, so that an election is over quickly.
    case electing
}

/// The clock of one member, as the driver uses it.
public protocol ReplicaClock: AnyObject {
    /// Calls `fire` once, on the driver's thread, one tick of `pace` from now (the shell decides how
    /// long that is). The driver ignores a `fire` it no longer wants, so none needs cancelling.
    func tick(after pace: TickPace, _ fire: @escaping () -> Void)
}

/// The peer network of one member.
public protocol ReplicaTransport: AnyObject {
    /// Sends each message in order (order is kept per destination).
    func send(_ messages: [Outbound])
}

/// The replicated application of one member (zkserver: the data tree, its clients and sessions).
public protocol ReplicaApplication: AnyObject {
    /// A snapshot from the leader is durable: replace the state machine by it (before anything is applied).
    func restore(_ snapshot: Snapshot) throws
    /// Committed entries, in zxid order, each durable on this member.
    func apply(_ committed: [Entry])
    /// Read barriers the core answered: answer each once the state machine has applied its zxid.
    func readBarriers(_ syncs: [SyncReady])
    /// After every Ready, once the core is advanced: the Ready's messages for the application (handling
    /// them may propose), and a moment to look at the core's new state (role, leader).
    func advanced(_ appMessages: [AppMessage])
    /// No disk work in flight and the core not being called (after a Ready's disk work, and when no Ready
    /// is left): a safe point to compact the log.
    func idle()
    /// The disk failed, or a snapshot could not be restored: this member must stop.
    func failed(_ error: any Error)
}
