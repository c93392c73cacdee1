import NIOCore
import NIOPosix
import ZKProtocol
import ZKReplication
import ZKStateMachine

/// A fault this member cannot recover from in place; the process stops with exit status 3 and the rest
/// of the ensemble keeps serving.
public struct MemberStopped: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// One disk-failure policy, standalone or ensemble member alike.
///
/// A failed write or fsync leaves this member's memory ahead of its disk. It acknowledges nothing more
/// (the driver stops at once), refuses client writes with an error, and tries its disk every second.
/// When the disk takes writes again, the member is rebuilt from what the disk holds (as a restart would
/// be, without reloading the tree) and rejoins: a sole voter leads again at once, an ensemble member
/// follows whoever leads.
///
/// Writes whose entries never became durable: a sole voter tells their clients they failed (they can
/// never commit: no one else has them), and keeps its connections and answers reads meanwhile (its
/// tree is the newest state there is). An ensemble member closes its client connections, as on a
/// leader change: another member may still commit what it proposed, so the outcome is unknown to it.
///
/// A failed snapshot install or log truncation leaves the member unsure what its disk holds: it stops
/// (`MemberStopped`), and a restart recovers from the files.
extension QuorumPeer {
    /// A sole voter that is not leading at the moment (recovering from a disk failure) answers read
    /// barriers from its own tree.
    var answersAlone: Bool { hasServed && soleVoter && !(serving && isLeader) }

    /// The only voter need not wait out an election timeout: nobody else can lead.
    func campaignIfSole() {
        guard soleVoter else { return }
        input { [self] in replica.campaignNow() }
    }

    func diskFailed(_ error: any Error, during write: DiskWrite?) {
        driver.stop()
        guard let write, write.snapshot == nil, write.truncateAfter == nil else {
            fatal("cannot persist replication state: \(error)")
            return
        }
        diskFailure = "the transaction log cannot be written (\(error)); writes are refused until it can"
        logger.error("cannot persist replication state: \(error). Acknowledging nothing more; writes are refused and the disk is tried again every second")
        if hasServed && soleVoter { failUndurableWrites() }
        stopServing("its disk refuses writes")
        client?.flush()
        scheduleDiskProbe()
    }

    /// Stops this member for good; the runner ends the process.
    func fatal(_ why: String) {
        logger.critical("\(why). Stopping this server; the rest of the ensemble keeps serving.")
        stop()
        client?.replicatorStopped(MemberStopped(reason: why))
    }

    /// A sole voter's writes that were not durable can never commit: their clients get an error. Those
    /// whose entries are durable (not yet applied) commit when it leads again, and keep waiting.
    private func failUndurableWrites() {
        var durable = Set<SessionRequest>()
        var cursor = Zxid(raw: applier.tree.lastZxid)
        while cursor < durableLast {
            let batch = store.entries(after: cursor, limit: 4096)
            guard let last = batch.last else { break }
            for e in batch where e.zxid <= durableLast && e.kind == .txn {
                if let t = try? TxnEntry.decode(e.payload) { durable.insert(SessionRequest(sessionId: t.header.sessionId, cxid: t.header.cxid)) }
            }
            cursor = last.zxid
        }
        readySyncs = []
        client?.undurableWritesFailed(durable: durable)
    }

    private func scheduleDiskProbe() {
        loop.scheduleTask(in: .seconds(1)) { [weak self] in self?.probeDisk() }
    }

    /// Off the loop: an fsync of the log. When it works, the member is rebuilt and tries again; a disk
    /// that is still full fails the first write after that, and the cycle repeats a second later.
    private func probeDisk() {
        guard !stopped, diskFailure != nil else { return }
        let store = self.store
        diskPool.runIfActive(eventLoop: loop) { try store.sync() }.whenComplete { [weak self] result in
            guard let self, !stopped else { return }
            do {
                try result.get()
                try rebuild()
            } catch {
                logger.warning("the disk still refuses writes (\(error)); trying again in a second")
                scheduleDiskProbe()
            }
        }
    }

    /// A new core and driver over what the disk holds: the log cut back to its durable end, the epoch
    /// and vote last made durable, the tree as applied.
    private func rebuild() throws {
        let durable = driver.persistedHard
        try store.truncate(after: durableLast)
        let applied = Zxid(raw: applier.tree.lastZxid)
        var hard = durable
        hard.commit = applied
        let replica = Replica(config: try replicaConfig(), cluster: configuredCluster, store: store, hardState: hard,
                              applied: applied, seed: UInt64.random(in: 0...UInt64.max))
        driver = makeDriver(replica, persistedHard: durable)
        diskFailure = nil
        logger.notice("the disk takes writes again: rejoining from what it holds (last zxid \(durableLast), epoch \(durable.epoch))")
        campaignIfSole()
        driver.startClock()
        driver.drive()
        client?.flush()
    }
}
