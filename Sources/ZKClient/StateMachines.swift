import ZKProtocol

/// The requests awaiting replies on one connection, in send order (pure).
///
/// The server answers normal requests strictly in order, so a reply always belongs to the oldest
/// pending request. Notifications (xid -1), pings (-2), auth (-4) and setWatches (-8) are routed
/// separately.
public struct PendingQueue<Payload> {
    public static var notificationXid: Int32 { -1 }
    public static var pingXid: Int32 { -2 }
    public static var authXid: Int32 { -4 }
    public static var setWatchesXid: Int32 { -8 }

    public enum Route {
        case notification
        case ping
        case auth
        case setWatches
        case reply(Payload)
        /// A reply for a request that is not the oldest pending one (or none is pending):
        /// the connection is out of sync and must be dropped.
        case outOfOrder(expected: Int32?, got: Int32)
    }

    private var xids: [Int32] = []
    private var payloads: [Payload] = []
    private var head = 0
    private var nextXid: Int32 = 1

    public init() {}

    public var count: Int { xids.count - head }
    public var isEmpty: Bool { count == 0 }
    public var oldest: Payload? { isEmpty ? nil : payloads[head] }

    /// Assigns the next xid (1...Int32.max, wrapping to 1) and queues the payload under it.
    public mutating func enqueue(_ payload: Payload) -> Int32 {
        let xid = nextXid
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        xids.append(xid)
        payloads.append(payload)
        return xid
    }

    public mutating func route(xid: Int32) -> Route {
        switch xid {
        case Self.notificationXid: return .notification
        case Self.pingXid: return .ping
        case Self.authXid: return .auth
        case Self.setWatchesXid: return .setWatches
        default:
            guard !isEmpty else { return .outOfOrder(expected: nil, got: xid) }
            guard xids[head] == xid else { return .outOfOrder(expected: xids[head], got: xid) }
            let p = payloads[head]
            head += 1
            if head >= 1024 && head * 2 >= xids.count {
                xids.removeFirst(head); payloads.removeFirst(head); head = 0
            } else if head == xids.count {
                xids.removeAll(keepingCapacity: true); payloads.removeAll(keepingCapacity: true); head = 0
            }
            return .reply(p)
        }
    }

    /// Removes and returns every pending payload (oldest first).
    public mutating func drain() -> [Payload] {
        let out = Array(payloads[head...])
        xids.removeAll(); payloads.removeAll(); head = 0
        return out
    }
}

/// The connection and session lifecycle of a client, without sockets or clocks (pure).
/// Times are nanoseconds from an arbitrary origin, supplied by the caller.
public struct SessionMachine: Sendable {
    public enum State: Equatable, Sendable {
        case idle
        /// TCP connect to `servers[index]` in progress.
        case connecting
        /// ConnectRequest sent, waiting for the ConnectResponse.
        case handshaking
        case connected
        case closed(ZooKeeperError.Code)
    }

    public enum Action: Equatable, Sendable {
        /// Open a TCP connection, after waiting `afterNanos`.
        case connect(ServerAddress, afterNanos: UInt64)
        case sendConnectRequest(ConnectRequest)
        /// The session is (re-)established. `resumed` is false for a brand-new session.
        case established(sessionId: Int64, timeoutMs: Int32, resumed: Bool)
        /// A live connection broke: fail the pending requests, report Disconnected, then `next`.
        case disconnected(next: Connect)
        /// Stop for good: fail everything with the code.
        case giveUp(ZooKeeperError.Code)
        case none

        public struct Connect: Equatable, Sendable {
            public var server: ServerAddress
            public var afterNanos: UInt64
        }
    }

    public private(set) var state: State = .idle
    public let servers: [ServerAddress]
    public private(set) var index = 0
    public let requestedTimeoutMs: Int32
    public private(set) var sessionId: Int64 = 0
    public private(set) var password: [UInt8] = [UInt8](repeating: 0, count: 16)
    public private(set) var negotiatedTimeoutMs: Int32 = 0
    public private(set) var lastZxidSeen: Int64 = 0
    /// Failed attempts since the last established session.
    public private(set) var failures = 0
    /// While re-connecting: give up after this time (the session would have expired anyway).
    public private(set) var reconnectDeadline: UInt64?

    public init(servers: [ServerAddress], sessionTimeoutMs: Int32) {
        precondition(!servers.isEmpty)
        self.servers = servers
        self.requestedTimeoutMs = sessionTimeoutMs
    }

    public var hasSession: Bool { sessionId != 0 }
    public var server: ServerAddress { servers[index] }

    public mutating func start() -> Action {
        guard state == .idle else { return .none }
        state = .connecting
        return .connect(servers[index], afterNanos: 0)
    }

    public mutating func observe(zxid: Int64) {
        if zxid > lastZxidSeen { lastZxidSeen = zxid }
    }

    public mutating func channelActive() -> Action {
        guard state == .connecting else { return .none }
        state = .handshaking
        var req = ConnectRequest()
        req.lastZxidSeen = lastZxidSeen
        req.timeOut = hasSession ? negotiatedTimeoutMs : requestedTimeoutMs
        req.sessionId = sessionId
        req.passwd = password
        req.readOnly = false
        return .sendConnectRequest(req)
    }

    public mutating func handshake(_ response: ConnectResponse) -> Action {
        guard state == .handshaking else { return .none }
        if response.timeOut <= 0 {
            state = .closed(.sessionExpired)
            return .giveUp(.sessionExpired)
        }
        let resumed = hasSession
        sessionId = response.sessionId
        password = response.passwd
        negotiatedTimeoutMs = response.timeOut
        failures = 0
        reconnectDeadline = nil
        state = .connected
        return .established(sessionId: sessionId, timeoutMs: negotiatedTimeoutMs, resumed: resumed)
    }

    /// The TCP connect or the handshake failed, or an established connection broke.
    public mutating func connectionLost(now: UInt64) -> Action {
        switch state {
        case .idle, .closed: return .none
        case .connected:
            // Keep the session: try the other servers until it would have expired.
            reconnectDeadline = now + UInt64(negotiatedTimeoutMs) * 1_000_000
            failures = 0
            index = (index + 1) % servers.count
            state = .connecting
            return .disconnected(next: .init(server: servers[index], afterNanos: 0))
        case .connecting, .handshaking:
            failures += 1
            index = (index + 1) % servers.count
            if let deadline = reconnectDeadline {
                if now >= deadline {
                    state = .closed(.sessionExpired)
                    return .giveUp(.sessionExpired)
                }
            } else if failures >= servers.count * 2 {
                // The first connection: two rounds over the host list.
                state = .closed(.connectionLoss)
                return .giveUp(.connectionLoss)
            }
            state = .connecting
            // Back off a little after each full round over the host list.
            let delay: UInt64 = failures % servers.count == 0 ? UInt64(min(failures / servers.count, 10)) * 50_000_000 : 0
            return .connect(servers[index], afterNanos: delay)
        }
    }

    public mutating func close() -> Action {
        if case .closed = state { return .none }
        state = .closed(.closed)
        return .giveUp(.closed)
    }
}
