import NIOCore
import ZKReplication

/// Leadership hand-over on a planned stop, and on request (`transfer_leadership` admin command).
///
/// The core (`Replica.transferLeadership`) refuses new proposals, brings the target up to date and tells
/// it to campaign; the vote requests it sends are granted at once by voters that still follow this
/// leader. Writes that reach this leader meanwhile (its own clients' and forwarded ones) are held, not
/// refused, and run again when the hand-over ends: forwarded to the new leader, or proposed here if it
/// was abandoned. On loop only, as `QuorumPeer`.
extension QuorumPeer {
    enum HandOverOutcome: Equatable, Sendable {
        /// `leader` leads now, after `ms` milliseconds.
        case done(leader: ServerID, ms: Int64)
        /// This member does not lead (nothing to hand over); the leader it knows, if any.
        case notLeader(ServerID?)
        case failed(String)
    }

    /// Runs `work` (leader-side handling of a write or a session change) now, or after a hand-over
    /// that is under way, so that nothing reaches the core while it refuses proposals.
    func whenSettled(_ work: @escaping () -> Void) {
        if replica.transferee != nil { heldDuringHandOver.append(work) } else { work() }
    }

    /// Called after each Ready: once no hand-over runs, held work is queued again as inputs.
    func releaseHeldWork() {
        guard !heldDuringHandOver.isEmpty, replica.transferee == nil else { return }
        let held = heldDuringHandOver
        heldDuringHandOver = []
        for w in held { input(w) }
    }

    /// Hands leadership to `target` (nil: the voter with the most of the log) and completes when another
    /// member leads, or with the reason it could not within `within`. A target still catching up is
    /// asked again if the core abandoned the first attempt.
    func handOver(to target: ServerID?, within: TimeAmount) -> EventLoopFuture<HandOverOutcome> {
        let promise = loop.makePromise(of: HandOverOutcome.self)
        loop.execute { [self] in
            guard !standalone, !stopped, diskFailure == nil else {
                promise.succeed(standalone ? .failed("a standalone server has no other member to lead")
                                : .failed(diskFailure.map { "this member's disk failed: \($0)" } ?? "this member is stopping"))
                return
            }
            let started = NIODeadline.now()
            let deadline = started + within
            var result = Replica.TransferResult.refused("")
            func ask() {
                driver.inputNow { result = $0.transferLeadership(to: target) }
                driver.drive()
            }
            ask()
            switch result {
            case .notLeader(let hint): promise.succeed(.notLeader(hint)); return
            case .refused(let why): promise.succeed(.failed(why)); return
            case .started(let t): logger.info("handing leadership to server \(t)")
            }
            func poll() {
                if replica.role != .leader, let l = replica.leaderID, l != UInt64(me.id) {
                    let ms = Int64((NIODeadline.now() - started).nanoseconds / 1_000_000)
                    logger.info("server \(l) leads now (hand-over took \(ms) ms)")
                    promise.succeed(.done(leader: l, ms: ms))
                    return
                }
                if NIODeadline.now() >= deadline || stopped {
                    promise.succeed(.failed("no other member took over within \(within.nanoseconds / 1_000_000) ms"
                                            + (replica.role == .leader ? "; this member still leads" : "")))
                    return
                }
                if replica.role == .leader && replica.transferee == nil { ask() }
                loop.assumeIsolated().scheduleTask(in: .milliseconds(2)) { poll() }
            }
            poll()
        }
        return promise.futureResult
    }

    /// Before a planned stop (SIGTERM): a leader of an ensemble with other voters hands over first, so
    /// the ensemble does not wait out an election timeout. At most two election timeouts.
    func handOverBeforeStop() -> EventLoopFuture<HandOverOutcome> {
        handOver(to: nil, within: .milliseconds(2 * 10 * replicaTickMs + 200))
    }
}
