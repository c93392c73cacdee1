import NIOCore
import ZKProtocol
import ZKStateMachine

/// The client side's answers to what the replicator reports: replies for applied and refused writes,
/// read barriers, serving state, session bookkeeping. The replicator names sessions, cxids and barrier
/// ids; the connections and reply slots are found here.
extension ZooKeeperServer: ReplicatorClient {
    func applied(_ a: Applier.Applied) {
        for (w, event) in a.events {
            if let c = connections[w] { sendNotification(c, event) }
        }
        let h = a.header
        switch a.txn {
        case .createSession(let timeout, _):
            if let (c, resp) = pendingConnects.removeValue(forKey: h.sessionId) {
                completed(origin: .connect(c, resp), sessionId: h.sessionId, result: a.result, zxid: h.zxid)
            } else {
                tracker.track(h.sessionId, timeoutMs: timeout, now: Self.monotonicMs())
            }
        case .closeSession:
            if let c = sessionOwner[h.sessionId], let slot = c.waitingSlot(xid: h.cxid), case .closeSession? = slot.request {
                completed(origin: .closeSession(c, slot), sessionId: h.sessionId, result: a.result, zxid: h.zxid)
            } else {
                completed(origin: .expiry, sessionId: h.sessionId, result: a.result, zxid: h.zxid)
            }
        default:
            if let c = sessionOwner[h.sessionId], let slot = c.waitingSlot(xid: h.cxid) {
                completed(origin: .request(c, slot), sessionId: h.sessionId, result: a.result, zxid: h.zxid)
            }
        }
    }

    func refused(sessionId: Int64, cxid: Int32, _ refusal: Refusal) {
        guard let c = sessionOwner[sessionId], let slot = c.waitingSlot(xid: cxid) else { return }
        switch refusal {
        case .error(let code, let barrier):
            slot.state = .readyAfter(barrier, replyBuffer(c, xid: slot.xid, zxid: barrier, err: code))
        case .multi(let codes, let barrier):
            slot.state = .readyAfter(barrier, replyBuffer(c, xid: slot.xid, zxid: barrier, err: .ok, .multi(codes.map { .error($0) })))
        }
        drain(c)
    }

    func noLeader(sessionId: Int64) {
        if let (c, _) = pendingConnects.removeValue(forKey: sessionId) { close(c) }
        if let c = sessionOwner[sessionId] { close(c) }
    }

    func barrierPassed(_ id: UInt64) {
        if let waiter = barrierWaiters.removeValue(forKey: id) { waiter(true); return }
        guard let (conn, slot, path) = pendingSyncs.removeValue(forKey: id), conn.isOpen else { return }
        slot.state = .ready(replyBuffer(conn, xid: slot.xid, zxid: tree.lastZxid, err: .ok, .path(path)))
        drain(conn)
    }

    func barrierFailed(_ id: UInt64) {
        if let waiter = barrierWaiters.removeValue(forKey: id) { waiter(false); return }
        if let (conn, _, _) = pendingSyncs.removeValue(forKey: id) { close(conn) }
    }

    func treeAdvanced() { releaseBarriers() }

    func startedServing(asLeader: Bool) {
        closingSessions = []
        guard asLeader else { return }
        // The leader alone expires sessions: every session in the tree gets a fresh timeout from now.
        var t = SessionTracker(tickMs: Int64(config.tickTime))
        let now = Self.monotonicMs()
        for (id, s) in tree.sessions { t.track(id, timeoutMs: s.timeoutMs, now: now) }
        tracker = t
    }

    func stoppedServing(_ why: String, dropClients: Bool) {
        guard dropClients else {
            logger.info("not leading: \(why); as the only voter, keeping \(connections.count) client connections")
            return
        }
        logger.info("not serving clients: \(why); closing \(connections.count) client connections (sessions survive)")
        for c in Array(connections.values) { close(c) }
        pendingConnects = [:]
        pendingSyncs = [:]
        barrierWaiters = [:]
    }

    func sessionsTouched(_ ids: [Int64]) {
        let now = Self.monotonicMs()
        for id in ids { tracker.touch(id, now: now) }
    }

    func sessionClosing(_ id: Int64) { closingSessions.insert(id) }

    func activeSessions() -> [Int64] {
        connections.values.filter { $0.sessionId != 0 && $0.phase == .connected }.map(\.sessionId)
    }

    func undurableWritesFailed(durable: Set<SessionRequest>) {
        let zxid = tree.lastZxid
        for (sid, (conn, _)) in pendingConnects where !durable.contains(SessionRequest(sessionId: sid, cxid: 0)) {
            pendingConnects[sid] = nil
            close(conn)
        }
        // Read barriers: the sole voter's tree is the newest state there is.
        for (_, (conn, slot, path)) in pendingSyncs where conn.isOpen {
            slot.state = .ready(replyBuffer(conn, xid: slot.xid, zxid: zxid, err: .ok, .path(path)))
        }
        pendingSyncs = [:]
        for conn in connections.values {
            for slot in conn.waitingSlots where !durable.contains(SessionRequest(sessionId: conn.sessionId, cxid: slot.xid)) {
                if case .closeSession? = slot.request { closingSessions.remove(conn.sessionId) }
                slot.state = .ready(replyBuffer(conn, xid: slot.xid, zxid: zxid, err: .systemError))
            }
            drain(conn)
        }
        let waiters = barrierWaiters
        barrierWaiters = [:]
        for w in waiters.values { w(true) }
    }

    func replicatorStopped(_ why: MemberStopped) { onFatal?(why) }

    func flush() { flushDirty() }
}
