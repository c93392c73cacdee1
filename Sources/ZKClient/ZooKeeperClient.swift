import NIOCore
import NIOPosix
import ZKProtocol

/// An asynchronous ZooKeeper client over one TCP connection at a time.
///
/// Requests are pipelined: each call writes its request at once and waits for its reply, which the
/// server returns in request order. All mutable state lives on one event loop.
///
/// Sendable: every `var` below is read and written only on `eventLoop` (methods called from elsewhere hop
/// there first with `execute`/`submit`); the `let`s are Sendable.
public final class ZooKeeperClient: @unchecked Sendable {
    /// A reply: its header and, when `header.err == 0`, its body.
    struct Reply: Sendable {
        var header: ReplyHeader
        var body: ByteBuffer
    }

    enum WatchKind: Sendable { case data, exist, child }

    struct Pending {
        var promise: EventLoopPromise<Reply>
        var watch: (WatchKind, String)?
        var sentAt: NIODeadline
    }

    public let eventLoop: EventLoop
    private var machine: SessionMachine
    private var pending = PendingQueue<Pending>()
    private var authQueue: [EventLoopPromise<Void>] = []
    private var auths: [AuthPacket] = []
    private var channel: Channel?
    private var generation = 0
    private var needsFlush = false
    private var lastReceive = NIODeadline.now()
    private var pingTask: RepeatedTask?
    private var establishedPromise: EventLoopPromise<Void>?
    private var closePromise: EventLoopPromise<Void>?
    private var dataWatches: Set<String> = []
    private var existWatches: Set<String> = []
    private var childWatches: Set<String> = []
    private let eventContinuation: AsyncStream<WatchEvent>.Continuation
    /// Watch notifications and connection state changes (type `.none`), in arrival order.
    public let events: AsyncStream<WatchEvent>
    /// A request older than this fails the connection with `operationTimeout`.
    public let requestTimeout: TimeAmount
    public let connectTimeout: TimeAmount

    init(servers: [ServerAddress], sessionTimeout: Duration, requestTimeout: Duration?, eventLoop: EventLoop) {
        let ms = Int32(clamping: sessionTimeout.components.seconds * 1000 + sessionTimeout.components.attoseconds / 1_000_000_000_000_000)
        self.machine = SessionMachine(servers: servers, sessionTimeoutMs: ms)
        self.eventLoop = eventLoop
        (events, eventContinuation) = AsyncStream.makeStream(of: WatchEvent.self, bufferingPolicy: .bufferingNewest(100_000))
        self.requestTimeout = .milliseconds(Int64(requestTimeout.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 } ?? Int64(ms)))
        self.connectTimeout = .milliseconds(Int64(max(ms / Int32(max(servers.count, 1)), 1000)))
    }

    /// Connects to the first server of `connectString` that accepts a session (trying each in turn).
    public static func connect(connectString: String, sessionTimeout: Duration = .seconds(10),
                               requestTimeout: Duration? = nil,
                               eventLoop: EventLoop? = nil) async throws -> ZooKeeperClient {
        let servers = try ServerAddress.parseList(connectString)
        let loop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        let client = ZooKeeperClient(servers: servers, sessionTimeout: sessionTimeout, requestTimeout: requestTimeout, eventLoop: loop)
        let promise = loop.makePromise(of: Void.self)
        loop.execute {
            client.establishedPromise = promise
            client.perform(client.machine.start())
        }
        try await promise.futureResult.get()
        return client
    }

    // MARK: public state

    // Each getter reads the loop-owned state on the loop; it throws only when the event loop has shut down.
    public var sessionId: Int64 { get async throws { try await onLoop { $0.machine.sessionId } } }
    public var negotiatedTimeout: Duration {
        get async throws { try await onLoop { .milliseconds(Int64($0.machine.negotiatedTimeoutMs)) } }
    }
    /// The server the current (or last) connection goes to.
    public var currentServer: ServerAddress { get async throws { try await onLoop { $0.machine.server } } }
    public var isConnected: Bool { get async throws { try await onLoop { $0.machine.state == .connected } } }

    /// Runs `body` on the client's event loop. Throws the loop's error when it no longer accepts work.
    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (ZooKeeperClient) -> T) async throws -> T {
        if eventLoop.inEventLoop { return body(self) }
        return try await eventLoop.submit { body(self) }.get()
    }

    // MARK: operations

    public func create(_ path: String, data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent) async throws -> String {
        let r = try await call(.create(CreateRequest(path: path, data: data, acl: acl, flags: mode.flags), op: .create), path: path)
        var reader = JuteReader(r.body)
        return try decode(path) { try reader.readPath() }
    }

    /// Like `create`, and also returns the new znode's Stat.
    public func create2(_ path: String, data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent) async throws -> (String, Stat) {
        let r = try await call(.create(CreateRequest(path: path, data: data, acl: acl, flags: mode.flags), op: .create2), path: path)
        var reader = JuteReader(r.body)
        return try decode(path) { (try reader.readPath(), try Stat(from: &reader)) }
    }

    public func delete(_ path: String, version: Int32 = -1) async throws {
        _ = try await call(.delete(PathVersionRequest(path: path, version: version)), path: path)
    }

    /// The znode's Stat, or nil when it does not exist. With `watch`, a watch is left either way.
    public func exists(_ path: String, watch: Bool = false) async throws -> Stat? {
        do {
            let r = try await call(.exists(PathWatchRequest(path: path, watch: watch)), path: path, watch: watch ? (.exist, path) : nil)
            var reader = JuteReader(r.body)
            return try decode(path) { try Stat(from: &reader) }
        } catch let e as ZooKeeperError where e.code == .noNode {
            return nil
        }
    }

    public func getData(_ path: String, watch: Bool = false) async throws -> ([UInt8]?, Stat) {
        let r = try await call(.getData(PathWatchRequest(path: path, watch: watch)), path: path, watch: watch ? (.data, path) : nil)
        var reader = JuteReader(r.body)
        return try decode(path) { (try reader.readBuffer(), try Stat(from: &reader)) }
    }

    public func setData(_ path: String, data: [UInt8], version: Int32 = -1) async throws -> Stat {
        let r = try await call(.setData(SetDataRequest(path: path, data: data, version: version)), path: path)
        var reader = JuteReader(r.body)
        return try decode(path) { try Stat(from: &reader) }
    }

    public func getChildren(_ path: String, watch: Bool = false) async throws -> [String] {
        let r = try await call(.getChildren(PathWatchRequest(path: path, watch: watch)), path: path, watch: watch ? (.child, path) : nil)
        var reader = JuteReader(r.body)
        return try decode(path) { try reader.readStringVector() ?? [] }
    }

    /// Runs write ops atomically. Throws the first failing op's error (with its path) when the
    /// multi failed as a whole.
    public func multi(_ ops: [MultiOp]) async throws -> [MultiResult] {
        let r = try await call(.multi(ops), path: nil)
        var reader = JuteReader(r.body)
        let results = try decode(nil) { try MultiResult.decodeList(&reader) }
        for (i, res) in results.enumerated() {
            if case .error(let code) = res, code != .ok, code != .runtimeInconsistency {
                throw ZooKeeperError(ZooKeeperError.Code(code), path: i < ops.count ? ops[i].path : nil, message: "multi op \(i) failed")
            }
        }
        return results
    }

    /// Waits until the server this client talks to has caught up with the leader.
    public func sync(_ path: String = "/") async throws -> String {
        let r = try await call(.sync(PathRequest(path: path)), path: path)
        var reader = JuteReader(r.body)
        return try decode(path) { try reader.readPath() }
    }

    /// The path of the ensemble's configuration znode (readable by anyone, written only by reconfig).
    public static let configPath = "/zookeeper/config"

    /// The ensemble's dynamic configuration (`server.N=...` lines and `version=...`), as stored in
    /// `/zookeeper/config`. With `watch`, a data watch is left on it.
    public func getConfig(watch: Bool = false) async throws -> ([UInt8]?, Stat) {
        try await getData(Self.configPath, watch: watch)
    }

    /// Changes the ensemble's membership: incrementally (`joining`, comma-separated `server.N=...`
    /// specs; `leaving`, comma-separated ids) or by replacing it (`newMembers`). `fromConfig` is the
    /// configuration version the change is meant for (-1: whatever is current); the server refuses
    /// the change with `badVersion` when the membership moved on. Needs the superuser (or skipACL).
    /// Returns the new configuration and its Stat.
    public func reconfig(joining: String? = nil, leaving: String? = nil, newMembers: String? = nil,
                         fromConfig: Int64 = -1) async throws -> ([UInt8]?, Stat) {
        let request = ReconfigRequest(joiningServers: joining, leavingServers: leaving, newMembers: newMembers,
                                      curConfigId: fromConfig)
        let r = try await call(.reconfig(request), path: Self.configPath)
        var reader = JuteReader(r.body)
        return try decode(Self.configPath) { (try reader.readBuffer(), try Stat(from: &reader)) }
    }

    /// Adds credentials to the session (e.g. scheme "digest", auth "user:password").
    /// They are sent again after a reconnect.
    public func addAuth(scheme: String, auth: [UInt8]) async throws {
        let packet = AuthPacket(scheme: scheme, auth: auth)
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            guard self.machine.state == .connected, let ch = self.channel else {
                promise.fail(self.notConnectedError()); return
            }
            self.auths.append(packet)
            self.authQueue.append(promise)
            self.write(ch, xid: PendingQueue<Pending>.authXid, request: .auth(packet))
        }
        try await promise.futureResult.get()
    }

    public func addDigestAuth(user: String, password: String) async throws {
        try await addAuth(scheme: "digest", auth: Array("\(user):\(password)".utf8))
    }

    /// Ends the session (closeSession) and the connection. Pending calls fail with `closed`.
    public func close() async {
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            if case .closed = self.machine.state { promise.succeed(()); return }
            guard self.machine.state == .connected, let ch = self.channel else {
                self.shutdown(.closed); promise.succeed(()); return
            }
            // closeSession gets a reply like any request; wait for it (bounded), then drop the connection.
            let p = self.eventLoop.makePromise(of: Reply.self)
            let xid = self.pending.enqueue(Pending(promise: p, watch: nil, sentAt: .now()))
            self.write(ch, xid: xid, request: .closeSession)
            let timeout = self.eventLoop.scheduleTask(in: .seconds(2)) { p.fail(ZooKeeperError(.operationTimeout)) }
            p.futureResult.whenComplete { _ in
                timeout.cancel()
                self.shutdown(.closed)
                promise.succeed(())
            }
        }
        try? await promise.futureResult.get()
    }

    /// Drops the TCP connection without ending the session (the client reconnects). For tests.
    public func dropConnection() async throws {
        try await onLoop { c in _ = c.channel?.close(promise: nil) }
    }

    // MARK: request path

    func call(_ request: Request, path: String?, watch: (WatchKind, String)? = nil) async throws -> Reply {
        let promise = eventLoop.makePromise(of: Reply.self)
        if eventLoop.inEventLoop {
            send(request, watch: watch, promise: promise)
        } else {
            eventLoop.execute { self.send(request, watch: watch, promise: promise) }
        }
        let reply: Reply
        do {
            reply = try await promise.futureResult.get()
        } catch var e as ZooKeeperError {
            if e.path == nil { e.path = path }
            throw e
        }
        if reply.header.err != 0 {
            throw ZooKeeperError(ZooKeeperError.Code(rawValue: reply.header.err), path: path)
        }
        return reply
    }

    private func decode<T>(_ path: String?, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            throw ZooKeeperError(.marshallingError, path: path, message: "\(error)")
        }
    }

    private func notConnectedError() -> ZooKeeperError {
        if case .closed(let code) = machine.state { return ZooKeeperError(code) }
        return ZooKeeperError(.connectionLoss, message: "not connected")
    }

    private func send(_ request: Request, watch: (WatchKind, String)?, promise: EventLoopPromise<Reply>) {
        guard machine.state == .connected, let ch = channel else {
            promise.fail(notConnectedError()); return
        }
        let xid = pending.enqueue(Pending(promise: promise, watch: watch, sentAt: .now()))
        write(ch, xid: xid, request: request)
    }

    private func write(_ ch: Channel, xid: Int32, request: Request) {
        var buf = ch.allocator.buffer(capacity: 128)
        buf.writeFramed { b in
            RequestHeader(xid: xid, type: request.opCode.rawValue).encode(into: &b)
            request.encodeBody(into: &b)
        }
        ch.write(buf, promise: nil)
        // Coalesce the flushes of the requests issued in one event-loop tick.
        if !needsFlush {
            needsFlush = true
            eventLoop.execute {
                self.needsFlush = false
                self.channel?.flush()
            }
        }
    }

    // MARK: lifecycle (event loop only)

    private func perform(_ action: SessionMachine.Action) {
        switch action {
        case .none: break
        case .connect(let server, let after):
            if after == 0 { openConnection(server) } else {
                eventLoop.scheduleTask(in: .nanoseconds(Int64(after))) { self.openConnection(server) }
            }
        case .sendConnectRequest(let req):
            guard let ch = channel else { return }
            var buf = ch.allocator.buffer(capacity: 64)
            buf.writeFramed { req.encode(into: &$0) }
            ch.writeAndFlush(buf, promise: nil)
        case .established(_, let timeoutMs, let resumed):
            startPings(timeoutMs: timeoutMs)
            if let ch = channel {
                for a in auths { write(ch, xid: PendingQueue<Pending>.authXid, request: .auth(a)) }
                if resumed && !(dataWatches.isEmpty && existWatches.isEmpty && childWatches.isEmpty) {
                    let req = SetWatchesRequest(relativeZxid: machine.lastZxidSeen, dataWatches: Array(dataWatches),
                                                existWatches: Array(existWatches), childWatches: Array(childWatches))
                    write(ch, xid: PendingQueue<Pending>.setWatchesXid, request: .setWatches(req))
                }
            }
            if resumed { eventContinuation.yield(WatchEvent(type: .none, state: .syncConnected, path: "")) }
            establishedPromise?.succeed(())
            establishedPromise = nil
        case .disconnected(let next):
            stopPings()
            failPending(ZooKeeperError(.connectionLoss))
            eventContinuation.yield(WatchEvent(type: .none, state: .disconnected, path: ""))
            perform(.connect(next.server, afterNanos: next.afterNanos))
        case .giveUp(let code):
            shutdown(code)
        }
    }

    private func openConnection(_ server: ServerAddress) {
        guard machine.state == .connecting else { return }
        generation += 1
        let gen = generation
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(ReplyFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(ReplyHandler(client: self, generation: gen))
                }
            }
        bootstrap.connect(host: server.host, port: server.port).hop(to: eventLoop).whenComplete { result in
            guard gen == self.generation else {
                if case .success(let ch) = result { ch.close(promise: nil) }
                return
            }
            switch result {
            case .success(let ch):
                if case .closed = self.machine.state { ch.close(promise: nil); return }
                self.channel = ch
                self.lastReceive = .now()
                self.perform(self.machine.channelActive())
                // A server that accepts but never answers the handshake.
                self.eventLoop.scheduleTask(in: self.connectTimeout) {
                    if gen == self.generation, self.machine.state == .handshaking { ch.close(promise: nil) }
                }
            case .failure:
                self.perform(self.machine.connectionLost(now: NIODeadline.now().uptimeNanoseconds))
            }
        }
    }

    fileprivate func received(_ frame: ByteBuffer, generation gen: Int) {
        guard gen == generation else { return }
        lastReceive = .now()
        var reader = JuteReader(frame)
        if machine.state == .handshaking {
            guard let response = try? ConnectResponse(from: &reader) else {
                channel?.close(promise: nil); return
            }
            perform(machine.handshake(response))
            return
        }
        guard let header = try? ReplyHeader(from: &reader) else { channel?.close(promise: nil); return }
        if header.zxid > 0 { machine.observe(zxid: header.zxid) }
        switch pending.route(xid: header.xid) {
        case .reply(let p):
            if let (kind, path) = p.watch, header.err == 0 || (kind == .exist && header.err == ErrorCode.noNode.rawValue) {
                switch kind {
                case .data: dataWatches.insert(path)
                case .exist: if header.err == 0 { dataWatches.insert(path) } else { existWatches.insert(path) }
                case .child: childWatches.insert(path)
                }
            }
            p.promise.succeed(Reply(header: header, body: reader.buffer))
        case .notification:
            guard let ev = try? WatcherEvent(from: &reader), let type = WatchEvent.Kind(rawValue: ev.type) else { return }
            switch type {
            case .nodeCreated, .nodeDataChanged:
                dataWatches.remove(ev.path); existWatches.remove(ev.path)
            case .nodeDeleted:
                dataWatches.remove(ev.path); existWatches.remove(ev.path); childWatches.remove(ev.path)
            case .nodeChildrenChanged:
                childWatches.remove(ev.path)
            default: break
            }
            eventContinuation.yield(WatchEvent(type: type, state: WatchEvent.State(rawValue: ev.state) ?? .syncConnected, path: ev.path))
        case .ping, .setWatches:
            break
        case .auth:
            let p = authQueue.isEmpty ? nil : authQueue.removeFirst()
            if header.err == 0 { p?.succeed(()) } else {
                p?.fail(ZooKeeperError(.authFailed))
                eventContinuation.yield(WatchEvent(type: .none, state: .authFailed, path: ""))
            }
        case .outOfOrder(let expected, let got):
            let e = ZooKeeperError(.connectionLoss, message: "reply xid \(got) out of order (expected \(expected.map(String.init) ?? "none"))")
            failPending(e)
            channel?.close(promise: nil)
        }
    }

    fileprivate func inactive(generation gen: Int) {
        guard gen == generation else { return }
        channel = nil
        let state = machine.state
        if state == .handshaking || state == .connecting || state == .connected {
            perform(machine.connectionLost(now: NIODeadline.now().uptimeNanoseconds))
        }
    }

    private func failPending(_ error: ZooKeeperError) {
        for p in pending.drain() { p.promise.fail(error) }
        for p in authQueue { p.fail(error) }
        authQueue.removeAll()
    }

    private func startPings(timeoutMs: Int32) {
        stopPings()
        let interval = TimeAmount.milliseconds(Int64(max(timeoutMs / 3, 10)))
        let readTimeout = TimeAmount.milliseconds(Int64(timeoutMs) * 2 / 3)
        let gen = generation
        pingTask = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { task in
            guard gen == self.generation, self.machine.state == .connected, let ch = self.channel else { task.cancel(); return }
            let now = NIODeadline.now()
            if now - self.lastReceive > readTimeout {
                ch.close(promise: nil)   // the server went silent: reconnect
                return
            }
            if let oldest = self.pending.oldest, now - oldest.sentAt > self.requestTimeout {
                self.failPending(ZooKeeperError(.operationTimeout))
                ch.close(promise: nil)
                return
            }
            self.write(ch, xid: PendingQueue<Pending>.pingXid, request: .ping)
        }
    }

    private func stopPings() {
        pingTask?.cancel()
        pingTask = nil
    }

    private func shutdown(_ code: ZooKeeperError.Code) {
        if case .closed = machine.state {} else { _ = machine.close() }
        stopPings()
        generation += 1
        channel?.close(promise: nil)
        channel = nil
        failPending(ZooKeeperError(code))
        if let p = establishedPromise {
            establishedPromise = nil
            p.fail(ZooKeeperError(code, message: "could not connect to \(machine.servers.map(\.description).joined(separator: ","))"))
        }
        let state: WatchEvent.State = code == .sessionExpired ? .expired : .closed
        eventContinuation.yield(WatchEvent(type: .none, state: state, path: ""))
        eventContinuation.finish()
    }
}

/// Splits the inbound byte stream into reply frames.
struct ReplyFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let splitter = FrameSplitter()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch splitter.next(&buffer) {
        case .frame(let f):
            context.fireChannelRead(wrapInboundOut(f))
            return .continue
        case .needMoreData:
            return .needMoreData
        case .invalidLength(let n):
            throw ZooKeeperError(.marshallingError, message: "bad frame length \(n)")
        }
    }
}

final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let client: ZooKeeperClient
    let generation: Int
    init(client: ZooKeeperClient, generation: Int) { self.client = client; self.generation = generation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.received(unwrapInboundIn(data), generation: generation)
    }
    func channelInactive(context: ChannelHandlerContext) {
        client.inactive(generation: generation)
        context.fireChannelInactive()
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Runs Swift tasks on a client's event loop. A task that prefers it (`withTaskExecutorPreference`,
/// `addTask(executorPreference:)`) sends its requests and is resumed with their replies on the thread that
/// owns the connection, instead of hopping to the cooperative pool and back for every request.
public final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    public let loop: EventLoop
    public init(_ loop: EventLoop) { self.loop = loop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension ZooKeeperClient {
    /// An executor for tasks that mostly wait on this client (see ``EventLoopTaskExecutor``).
    public var taskExecutor: EventLoopTaskExecutor { EventLoopTaskExecutor(eventLoop) }
}
