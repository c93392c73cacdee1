import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging
import NIOCore
import NIOPosix
import ZKProtocol
import ZKStateMachine
import ZKStorage

/// Counters shown by srvr/stat/mntr.
struct ServerStats {
    var packetsReceived = 0
    var packetsSent = 0
    var minLatencyMs: Int64 = Int64.max
    var maxLatencyMs: Int64 = 0
    var totalLatencyMs: Int64 = 0
    var latencyCount: Int64 = 0
    var authFailed = 0
    var connectionsRejected = 0
    var largeRequestsRejected = 0
    mutating func reset() {
        packetsReceived = 0; packetsSent = 0; minLatencyMs = Int64.max; maxLatencyMs = 0
        totalLatencyMs = 0; latencyCount = 0
    }
}

/// Where a transaction came from: decides what happens once it is applied.
enum TxnOrigin {
    case request(ClientConnection, ReplySlot)
    case connect(ClientConnection, ConnectResponse)
    case closeSession(ClientConnection?, ReplySlot?)
    case expiry
}

/// A server, standalone or ensemble member alike, in three parts with calls going one way:
/// - this class, the client side: connections and sessions, request decoding, reads, the per-connection
///   reply order, four-letter words and timers;
/// - `QuorumPeer`, the replicator: every write is prepared and replicated there (a standalone server is
///   an ensemble of one voter) and reported back through `ReplicatorClient`, by session and cxid;
/// - `Applier`, the tree and its watches, where committed transactions are applied.
///
/// Sendable by confinement, not by locks: all of its state is touched only on `loop` (the callbacks of
/// its channels, its scheduled tasks, and `loop.execute`/`submit` from other threads); the entry
/// points assert it. Work that leaves the loop (disk, snapshots) takes values, not this object.
public final class ZooKeeperServer: @unchecked Sendable {
    public let config: ServerConfig
    public let serverId: Int64
    /// No `server.N` lines (or one with standaloneEnabled): Apache's standalone mode, as clients and
    /// four-letter words see it. The write path is the ensemble's, with this server as its only voter.
    public let standalone: Bool
    let loop: EventLoop
    var logger: Logger

    let applier: Applier
    /// The replicator: set once, right after this server is made.
    var quorum: QuorumPeer!
    var tree: DataTree { applier.tree }
    var watches: WatchManager { applier.watches }
    var preparer: Preparer { applier.preparer }
    var tracker: SessionTracker

    var connections: [Int: ClientConnection] = [:]
    var connectionsPerIP: [String: Int] = [:]
    var sessionOwner: [Int64: ClientConnection] = [:]
    var closingSessions: Set<Int64> = []
    /// Connections whose session creation is being replicated.
    var pendingConnects: [Int64: (ClientConnection, ConnectResponse)] = [:]
    /// `sync` requests waiting for their read barrier, by barrier id.
    var pendingSyncs: [UInt64: (ClientConnection, ReplySlot, String)] = [:]
    /// Work waiting for a read barrier (id -> continuation), e.g. judging a session this member has not seen yet.
    /// Read barriers waited on inside the server; each is told whether the barrier passed.
    var barrierWaiters: [UInt64: (Bool) -> Void] = [:]
    var nextBarrierId: UInt64 = 1
    var nextConnectionId = 1
    var nextSessionId: Int64
    var stats = ServerStats()
    let metrics = ServerMetrics()
    let startedAt = Date()
    var dirtyConnections: [ClientConnection] = []
    /// Connections whose front reply waits for the tree to reach a zxid.
    var barrierConnections: [ObjectIdentifier: ClientConnection] = [:]
    var rng = SystemRandomNumberGenerator()
    var shuttingDown = false
    var scheduledTasks: [RepeatedTask] = []
    /// Called (on the loop) when the replicator stops for good; the runner ends the process.
    var onFatal: ((MemberStopped) -> Void)?

    public init(config: ServerConfig, serverId: Int64 = 1, loop: EventLoop, snapshotPool: NIOThreadPool, logger: Logger) {
        self.config = config
        self.serverId = serverId
        self.standalone = !config.isEnsemble
        self.loop = loop
        self.logger = logger
        applier = Applier(config: config, loop: loop, snapshotPool: snapshotPool)
        tracker = SessionTracker(tickMs: Int64(config.tickTime))
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        nextSessionId = (serverId << 56) | Int64(bitPattern: (UInt64(bitPattern: nowMs) << 24) >> 8)
    }

    static func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func monotonicMs() -> Int64 { Int64(monotonicNanos() / 1_000_000) }
    static func wallMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Starts the periodic work (session expiry each tick, the container/TTL reaper, autopurge).
    public func startTimers() {
        loop.execute { [self] in
            scheduledTasks.append(loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64(config.tickTime)),
                                                             delay: .milliseconds(Int64(config.tickTime))) { [self] _ in tick() })
            let reapMs = Int64(config.containerCheckIntervalMs)
            scheduledTasks.append(loop.scheduleRepeatedTask(initialDelay: .milliseconds(reapMs), delay: .milliseconds(reapMs)) { [self] _ in
                reapContainers()
            })
            if config.purgeIntervalHours > 0 {
                let d = TimeAmount.hours(Int64(config.purgeIntervalHours))
                scheduledTasks.append(loop.scheduleRepeatedTask(initialDelay: d, delay: d) { [self] _ in purge() })
            }
        }
    }

    // MARK: - Connections

    func connectionOpened(_ channel: Channel) -> ClientConnection? {
        loop.assertInEventLoop()
        let conn = ClientConnection(id: nextConnectionId, channel: channel, establishedMs: Self.wallMs())
        conn.onDirty = { [weak self] c in self?.dirtyConnections.append(c) }
        nextConnectionId += 1
        if config.maxClientCnxns > 0 && connectionsPerIP[conn.remoteIP, default: 0] >= config.maxClientCnxns {
            logger.warning("too many connections from \(conn.remoteIP) (maxClientCnxns=\(config.maxClientCnxns)); closing")
            stats.connectionsRejected += 1
            return nil
        }
        connectionsPerIP[conn.remoteIP, default: 0] += 1
        connections[conn.id] = conn
        return conn
    }

    func connectionClosed(_ conn: ClientConnection) {
        guard connections.removeValue(forKey: conn.id) != nil else { return }
        conn.phase = .closed
        connectionsPerIP[conn.remoteIP, default: 1] -= 1
        if connectionsPerIP[conn.remoteIP] == 0 { connectionsPerIP[conn.remoteIP] = nil }
        watches.remove(watcher: conn.id)
        if conn.sessionId != 0, sessionOwner[conn.sessionId] === conn { sessionOwner[conn.sessionId] = nil }
    }

    func close(_ conn: ClientConnection) {
        guard conn.isOpen else { return }
        conn.channel.flush()
        connectionClosed(conn)
        conn.channel.close(promise: nil)
    }

    /// Flushes every connection written to since the last flush (closing one may write to others:
    /// those are flushed too).
    func flushDirty() {
        while !dirtyConnections.isEmpty {
            let list = dirtyConnections
            dirtyConnections.removeAll(keepingCapacity: true)
            for c in list where c.dirty {
                c.dirty = false
                c.channel.flush()
                if c.closeAfterFlush { close(c) }
            }
        }
    }

    // MARK: - Frames

    /// Handles one complete frame from a client. Returns false when the connection must be closed.
    func handleFrame(_ conn: ClientConnection, _ frame: ByteBuffer) -> Bool {
        loop.assertInEventLoop()
        switch conn.phase {
        case .handshake:
            var r = JuteReader(frame, maxLength: config.juteMaxBuffer)
            guard let req = try? ConnectRequest(from: &r) else {
                logger.info("closing \(conn.remoteAddress): malformed connect request")
                return false
            }
            return handleConnect(conn, req)
        case .connecting:
            guard conn.pendingFrames.count < 10_000 else { return false }
            conn.pendingFrames.append(frame)
            return true
        case .connected:
            return handleRequest(conn, frame)
        case .closed:
            return false
        }
    }

    func negotiatedTimeout(_ requested: Int32) -> Int32 {
        Int32(min(max(Int(requested), config.effectiveMinSessionTimeout), config.effectiveMaxSessionTimeout))
    }

    func handleConnect(_ conn: ClientConnection, _ req: ConnectRequest) -> Bool {
        stats.packetsReceived += 1
        conn.sentReadOnlyByte = req.readOnly != nil
        if req.lastZxidSeen > tree.lastZxid {
            logger.info("refusing session 0x\(String(req.sessionId, radix: 16)) from \(conn.remoteAddress): client has seen zxid 0x\(String(req.lastZxidSeen, radix: 16)), this server only 0x\(String(tree.lastZxid, radix: 16))")
            return false
        }
        if shuttingDown || !quorum.servesClients { return false }
        let timeout = negotiatedTimeout(req.timeOut)
        if req.sessionId == 0 {
            let id = nextSessionId
            nextSessionId &+= 1
            if nextSessionId == Int64.min { nextSessionId &+= 1 }
            var passwd = [UInt8](repeating: 0, count: 16)
            for i in 0..<16 { passwd[i] = UInt8.random(in: 0...255, using: &rng) }
            conn.phase = .connecting
            conn.sessionId = id
            conn.timeoutMs = timeout
            let resp = ConnectResponse(timeOut: timeout, sessionId: id, passwd: passwd,
                                       readOnly: conn.sentReadOnlyByte ? false : nil)
            if quorum.diskFailure != nil { return false }   // a new session is a write
            pendingConnects[id] = (conn, resp)
            quorum.createSession(sessionId: id, timeoutMs: timeout, passwd: passwd)
            return true
        }
        // Resuming: a newer connection for a session replaces the older one, even before the password check.
        if let old = sessionOwner[req.sessionId], old !== conn {
            sessionOwner[req.sessionId] = nil
            close(old)
        }
        // Revalidated with the leader before the client is answered, as Apache's followers do: a read
        // barrier proves a leader with a quorum stands behind this member and brings its session table
        // up to that leader's commit point (a session the leader closed or expired is gone by then; one
        // created through another member is there). A member without a leader has stopped serving.
        conn.phase = .connecting
        afterBarrier { [self] passed in
            guard conn.isOpen else { return }
            guard passed else { close(conn); return }
            resumeSession(conn, req, timeout: timeout)
            flushDirty()
        }
        return true
    }

    func resumeSession(_ conn: ClientConnection, _ req: ConnectRequest, timeout: Int32) {
        guard let info = tree.sessions[req.sessionId], info.passwd == req.passwd,
              !closingSessions.contains(req.sessionId) else {
            var b = conn.channel.allocator.buffer(capacity: 48)
            b.writeFramed { ConnectResponse.invalid(readOnlyByte: conn.sentReadOnlyByte).encode(into: &$0) }
            conn.write(b)
            conn.closeAfterFlush = true
            return
        }
        _ = info
        conn.sessionId = req.sessionId
        conn.timeoutMs = timeout
        conn.phase = .connected
        sessionOwner[req.sessionId] = conn
        tracker.track(req.sessionId, timeoutMs: timeout, now: Self.monotonicMs())
        quorum.touched.insert(req.sessionId)
        var b = conn.channel.allocator.buffer(capacity: 48)
        b.writeFramed {
            ConnectResponse(timeOut: timeout, sessionId: req.sessionId, passwd: req.passwd,
                            readOnly: conn.sentReadOnlyByte ? false : nil).encode(into: &$0)
        }
        conn.write(b)
        let frames = conn.pendingFrames
        conn.pendingFrames = []
        for f in frames where conn.isOpen {
            if !handleFrame(conn, f) { close(conn); return }
        }
    }

    func replyBuffer(_ conn: ClientConnection, xid: Int32, zxid: Int64, err: ErrorCode, _ body: Response? = nil) -> ByteBuffer {
        var b = conn.channel.allocator.buffer(capacity: 64)
        b.writeFramed {
            ReplyHeader(xid: xid, zxid: zxid, err: err.rawValue).encode(into: &$0)
            if err == .ok, let body { body.encode(into: &$0) }
        }
        return b
    }

    func handleRequest(_ conn: ClientConnection, _ frame: ByteBuffer) -> Bool {
        stats.packetsReceived += 1
        conn.received += 1
        let now = Self.monotonicNanos()
        if conn.sessionId != 0 { tracker.touch(conn.sessionId, now: Int64(now / 1_000_000)) }
        var r = JuteReader(frame, maxLength: config.juteMaxBuffer)
        guard let header = try? RequestHeader(from: &r) else {
            logger.info("closing \(conn.remoteAddress): request shorter than its header")
            return false
        }
        conn.lastCxid = header.xid
        let request: Request
        do {
            request = try Request.decode(type: header.type, body: &r)
        } catch {
            switch error {
            case .unknownOpCode:
                enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: -1, err: .unimplemented), start: now)
            case .malformed:
                enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: .marshallingError), start: now)
            }
            return true
        }
        conn.lastOp = request.opCode.shortName
        if closingSessions.contains(conn.sessionId) {
            enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: .sessionExpired), start: now)
            return true
        }
        switch request {
        case .auth(let packet):
            let xid = header.xid
            if packet.scheme == "digest" {
                let digest = DigestAuth.digest(String(decoding: packet.auth, as: UTF8.self))
                conn.auth.add(Id(scheme: "digest", id: digest))
                if let sup = config.superDigest, sup == digest { conn.auth.add(Id(scheme: "super", id: "")) }
                enqueueReady(conn, xid: xid, buffer: replyBuffer(conn, xid: xid, zxid: 0, err: .ok), start: now)
            } else if packet.scheme == "ip" {
                enqueueReady(conn, xid: xid, buffer: replyBuffer(conn, xid: xid, zxid: 0, err: .ok), start: now)
            } else {
                stats.authFailed += 1
                logger.info("auth with unsupported scheme '\(packet.scheme)' from \(conn.remoteAddress); closing")
                enqueueReady(conn, xid: xid, buffer: replyBuffer(conn, xid: xid, zxid: 0, err: .authFailed), start: now)
                conn.closeAfterFlush = true
            }
            return true
        case .closeSession:
            closeSession(conn, header, request, start: now)
            return true
        case .sync(let p):
            sync(conn, header, path: p.path, start: now)
            return true
        case .create, .delete, .setData, .setACL, .multi:
            submitWrite(conn, header, request, start: now)
            return true
        case .reconfig where !standalone:
            submitWrite(conn, header, request, start: now)
            return true
        case .check:
            enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: .unimplemented), start: now)
            return true
        case .reconfig:
            let code: ErrorCode = config.reconfigEnabled ? .unimplemented : .reconfigDisabled
            enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: code), start: now)
            return true
        case .sasl, .deleteContainer:
            enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: .unimplemented), start: now)
            return true
        default:
            if conn.hasQueued {
                conn.enqueue(ReplySlot(xid: header.xid, request: request, state: .deferred(header, request), startNanos: now))
            } else {
                executeRead(conn, header, request, start: now)
            }
            return true
        }
    }

    /// Queues an error reply that must not leave before the tree has applied `barrier`.
    func enqueueAfter(_ conn: ClientConnection, xid: Int32, barrier: Int64, buffer: ByteBuffer, start: UInt64) {
        if barrier <= tree.lastZxid { enqueueReady(conn, xid: xid, buffer: buffer, start: start); return }
        conn.enqueue(ReplySlot(xid: xid, request: nil, state: .readyAfter(barrier, buffer), startNanos: start))
        barrierConnections[ObjectIdentifier(conn)] = conn
    }

    /// Re-drains connections waiting on an applied zxid.
    func releaseBarriers() {
        guard !barrierConnections.isEmpty else { return }
        let waiting = barrierConnections
        barrierConnections = [:]
        for c in waiting.values where c.isOpen { drain(c) }
    }

    func enqueueReady(_ conn: ClientConnection, xid: Int32, buffer: ByteBuffer, start: UInt64) {
        if conn.hasQueued {
            conn.enqueue(ReplySlot(xid: xid, request: nil, state: .ready(buffer), startNanos: start))
        } else {
            conn.write(buffer)
            finishReply(conn, start: start)
        }
    }

    func finishReply(_ conn: ClientConnection, start: UInt64, write: Bool = false) {
        let now = Self.monotonicNanos()
        conn.recordLatency(start, now: now)
        metrics.observeRequest(nanos: now &- start, write: write, now: now)
        let ms = Int64((now &- start) / 1_000_000)
        stats.packetsSent += 1
        stats.minLatencyMs = min(stats.minLatencyMs, ms)
        stats.maxLatencyMs = max(stats.maxLatencyMs, ms)
        stats.totalLatencyMs += ms
        stats.latencyCount += 1
        conn.lastZxid = tree.lastZxid
    }

    /// Runs a read (or ping/sync/setWatches) now and writes its reply.
    func executeRead(_ conn: ClientConnection, _ header: RequestHeader, _ request: Request, start: UInt64) {
        let zxid = tree.lastZxid
        let buffer: ByteBuffer
        switch request {
        case .ping:
            buffer = replyBuffer(conn, xid: Xid.ping, zxid: zxid, err: .ok)
        case .sync(let p):
            buffer = replyBuffer(conn, xid: header.xid, zxid: zxid, err: .ok, .path(p.path))
        case .setWatches(let s):
            for event in ReadProcessor.setWatches(s, tree: tree, watcher: conn.id, watches: watches) {
                sendNotification(conn, event)
            }
            buffer = replyBuffer(conn, xid: header.xid, zxid: zxid, err: .ok)
        default:
            switch ReadProcessor.process(request, tree: tree, auth: conn.auth, sessionId: conn.sessionId,
                                         watcher: conn.id, watches: watches, skipACL: config.skipACL) {
            case .success(let resp): buffer = replyBuffer(conn, xid: header.xid, zxid: zxid, err: .ok, resp)
            case .failure(let code): buffer = replyBuffer(conn, xid: header.xid, zxid: zxid, err: code)
            }
        }
        conn.write(buffer)
        finishReply(conn, start: start)
    }

    func sendNotification(_ conn: ClientConnection, _ event: WatcherEvent) {
        var b = conn.channel.allocator.buffer(capacity: 32 + event.path.utf8.count)
        b.writeFramed {
            ReplyHeader(xid: Xid.notification, zxid: -1, err: 0).encode(into: &$0)
            event.encode(into: &$0)
        }
        conn.write(b)
    }

    /// Writes out every reply at the front of the connection's FIFO that is ready, running deferred reads.
    func drain(_ conn: ClientConnection) {
        while let slot = conn.front {
            switch slot.state {
            case .waiting:
                return
            case .ready(let b):
                conn.popFront()
                conn.write(b)
                finishReply(conn, start: slot.startNanos, write: slot.request?.opCode.isWrite ?? false)
            case .readyAfter(let zxid, let b):
                guard tree.lastZxid >= zxid else {
                    barrierConnections[ObjectIdentifier(conn)] = conn
                    return
                }
                conn.popFront()
                conn.write(b)
                finishReply(conn, start: slot.startNanos)
            case .deferred(let h, let req):
                conn.popFront()
                executeRead(conn, h, req, start: slot.startNanos)
            }
        }
    }

    /// Hands a write to the replicator. While this server's disk refuses writes (standalone or not:
    /// one policy), the client is told at once instead.
    func submitWrite(_ conn: ClientConnection, _ header: RequestHeader, _ request: Request, start: UInt64) {
        if let why = quorum.diskFailure {
            logger.warning("refusing a write from \(conn.remoteAddress): \(why)")
            enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: .systemError), start: start)
            return
        }
        conn.enqueue(ReplySlot(xid: header.xid, request: request, state: .waiting, startNanos: start))
        quorum.submitWrite(request, RequestContext(sessionId: conn.sessionId, cxid: header.xid, auth: conn.auth, time: Self.wallMs()))
    }

    func closeSession(_ conn: ClientConnection, _ header: RequestHeader, _ request: Request, start: UInt64) {
        if quorum.diskFailure != nil {
            enqueueReady(conn, xid: header.xid, buffer: replyBuffer(conn, xid: header.xid, zxid: tree.lastZxid, err: .systemError), start: start)
            return
        }
        conn.enqueue(ReplySlot(xid: header.xid, request: request, state: .waiting, startNanos: start))
        closingSessions.insert(conn.sessionId)
        quorum.closeSession(sessionId: conn.sessionId, cxid: header.xid)
    }

    // MARK: - Read barriers

    func sync(_ conn: ClientConnection, _ header: RequestHeader, path: String, start: UInt64) {
        let slot = ReplySlot(xid: header.xid, request: .sync(PathRequest(path: path)), state: .waiting, startNanos: start)
        conn.enqueue(slot)
        if QuorumPeer.unsafeStaleSync || quorum.answersAlone {
            // The fault: no barrier at all. A sole voter that is not leading right now: its tree is the newest there is.
            slot.state = .ready(replyBuffer(conn, xid: slot.xid, zxid: tree.lastZxid, err: .ok, .path(path)))
            drain(conn)
            return
        }
        let id = nextBarrierId
        nextBarrierId += 1
        pendingSyncs[id] = (conn, slot, path)
        quorum.requestBarrier(id)
    }

    /// Runs `body(true)` once this member has applied everything the leader had committed when it was
    /// asked, or `body(false)` when no leader answered.
    func afterBarrier(_ body: @escaping (Bool) -> Void) {
        if quorum.answersAlone { body(true); return }
        let id = nextBarrierId
        nextBarrierId += 1
        barrierWaiters[id] = body
        quorum.requestBarrier(id)
    }

    // MARK: - Completions (a committed, durable, applied transaction answers whoever waits for it)

    func completed(origin: TxnOrigin, sessionId sid: Int64, result: TxnResult, zxid: Int64) {
        switch origin {
        case .request(let conn, let slot):
            guard conn.isOpen else { return }
            slot.state = .ready(writeReply(conn, slot, result: result, zxid: zxid))
            drain(conn)
        case .connect(let conn, let resp):
            tracker.track(resp.sessionId, timeoutMs: resp.timeOut, now: Self.monotonicMs())
            guard conn.isOpen else { return }
            conn.phase = .connected
            sessionOwner[resp.sessionId] = conn
            var b = conn.channel.allocator.buffer(capacity: 48)
            b.writeFramed { resp.encode(into: &$0) }
            conn.write(b)
            let frames = conn.pendingFrames
            conn.pendingFrames = []
            for f in frames where conn.isOpen {
                if !handleFrame(conn, f) { close(conn); return }
            }
        case .closeSession(let conn, let slot):
            sessionEnded(sid)
            if let conn, let slot, conn.isOpen {
                slot.state = .ready(replyBuffer(conn, xid: slot.xid, zxid: zxid, err: .ok))
                drain(conn)
                conn.closeAfterFlush = true
            }
        case .expiry:
            sessionEnded(sid)
            if let conn = sessionOwner[sid] { conn.closeAfterFlush = true; conn.dirty = true }
        }
    }

    func sessionEnded(_ sid: Int64) {
        tracker.remove(sid)
        closingSessions.remove(sid)
    }

    /// Encodes the reply of an applied write for the request that caused it.
    func writeReply(_ conn: ClientConnection, _ slot: ReplySlot, result: TxnResult, zxid: Int64) -> ByteBuffer {
        func body(_ request: Request?, _ r: TxnResult) -> Result<Response, ErrorCode> {
            switch r {
            case .created(let path, let stat):
                if case .create(_, let op)? = request, op == .create { return .success(.path(path)) }
                return .success(.pathStat(path, stat))
            case .deleted: return .success(.empty)
            case .setData(let s), .setACL(let s): return .success(.stat(s))
            case .config(let d, let s): return .success(.data(d, s))
            case .error(let e): return .failure(e)
            case .multi(let rs):
                var ops: [MultiOp] = []
                if case .multi(let o)? = request { ops = o }
                var out: [MultiResult] = []
                for (i, r) in rs.enumerated() {
                    switch r {
                    case .created(let path, let stat):
                        var withStat = false
                        if i < ops.count, case .create(let cr, let op) = ops[i] {
                            let mode = CreateMode(rawValue: cr.flags)
                            withStat = op == .createContainer || op == .createTTL || mode?.isContainer == true || mode?.isTTL == true
                        }
                        out.append(withStat ? .create2(path: path, stat: stat) : .create(path: path))
                    case .deleted: out.append(.delete)
                    case .setData(let s): out.append(.setData(s))
                    case .checked: out.append(.check)
                    case .error(let e): out.append(.error(e))
                    default: out.append(.error(.systemError))
                    }
                }
                return .success(.multi(out))
            default: return .success(.empty)
            }
        }
        switch body(slot.request, result) {
        case .success(let resp): return replyBuffer(conn, xid: slot.xid, zxid: zxid, err: .ok, resp)
        case .failure(let code): return replyBuffer(conn, xid: slot.xid, zxid: zxid, err: code)
        }
    }

    // MARK: - Periodic work

    /// Session expiry is the leader's (a standalone server leads its ensemble of one).
    func tick() {
        let now = Self.monotonicMs()
        guard quorum.isLeader && quorum.serving else { return }
        for sid in tracker.expired(now: now) where !closingSessions.contains(sid) {
            logger.info("session 0x\(String(sid, radix: 16)) expired")
            closingSessions.insert(sid)
            tracker.remove(sid)
            quorum.input { [self] in
                if case .txn(let t, let changes) = preparer.prepareCloseSession(sessionId: sid) {
                    quorum.propose(t, sessionId: sid, cxid: 0, changes: changes)
                }
            }
        }
    }

    func reapContainers() {
        let limit = max(1, config.containerMaxPerMinute * config.containerCheckIntervalMs / 60_000)
        let ctx = RequestContext(sessionId: 0, cxid: 0, auth: AuthInfo(ids: [Id(scheme: "super", id: "")]), time: Self.wallMs())
        guard quorum.isLeader && quorum.serving else { return }
        quorum.input { [self] in
            for path in tree.reapable(now: Self.wallMs(), limit: limit) {
                if case .txn(let t, let changes) = preparer.prepare(.deleteContainer(PathRequest(path: path)), ctx) {
                    quorum.propose(t, sessionId: 0, cxid: 0, changes: changes)
                }
            }
        }
    }

    func purge() { quorum.purge() }

    // MARK: - Shutdown

    /// Stops taking requests, waits (a few seconds at most) for a write being made durable, then stops
    /// the replicator and closes connections. Nothing unacknowledged is answered after this.
    public func shutdown() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            shuttingDown = true
            for t in scheduledTasks { t.cancel() }
            let promise = loop.makePromise(of: Void.self)
            func waitIdle(_ attempts: Int) {
                if !quorum.diskBusy || attempts > 500 {
                    quorum.stop()
                    flushDirty()
                    for c in Array(connections.values) { close(c) }
                    promise.succeed(())
                } else {
                    loop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { waitIdle(attempts + 1) }
                }
            }
            waitIdle(0)
            return promise.futureResult
        }
    }
}
