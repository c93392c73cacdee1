import NIOCore
import ZKProtocol
import ZKStateMachine

/// A reply position in a connection's FIFO: replies leave strictly in request order.
final class ReplySlot {
    enum State {
        case waiting
        case ready(ByteBuffer)
        /// Ready once the tree has applied this zxid: an error that depends on an in-flight write
        /// (NODEEXISTS for a node being created) must not overtake that write.
        case readyAfter(Int64, ByteBuffer)
        /// A read that must run after the writes queued before it.
        case deferred(RequestHeader, Request)
    }
    let xid: Int32
    let request: Request?
    var state: State
    let startNanos: UInt64
    init(xid: Int32, request: Request?, state: State, startNanos: UInt64) {
        self.xid = xid; self.request = request; self.state = state; self.startNanos = startNanos
    }
}

/// Server-side state of one client TCP connection. Lives on the server's event loop (Sendable by that
/// confinement, as `ZooKeeperServer`).
final class ClientConnection: @unchecked Sendable {
    enum Phase { case handshake, connecting, connected, closed }
    let id: Int
    let channel: Channel
    let remoteAddress: String
    let remoteIP: String
    var phase = Phase.handshake
    var sessionId: Int64 = 0
    var timeoutMs: Int32 = 0
    var auth: AuthInfo
    var sentReadOnlyByte = true
    var pendingFrames: [ByteBuffer] = []
    private var queue: [ReplySlot] = []
    private var head = 0
    /// Written to since the last flush. The first such write tells the server (`onDirty`), which
    /// keeps a list of these, so a flush touches only them, not every connection.
    var dirty = false {
        didSet { if dirty && !oldValue { onDirty?(self) } }
    }
    var onDirty: ((ClientConnection) -> Void)?
    /// Close after the queued replies are flushed.
    var closeAfterFlush = false

    // statistics for cons/stat
    var received = 0
    var sent = 0
    var lastOp = "NA"
    var lastCxid: Int32 = 0
    var lastZxid: Int64 = 0
    var lastResponseNanos: UInt64 = 0
    var lastLatencyMs: Int64 = 0
    var minLatencyMs: Int64 = Int64.max
    var maxLatencyMs: Int64 = 0
    var totalLatencyMs: Int64 = 0
    var latencyCount: Int64 = 0
    let establishedMs: Int64

    init(id: Int, channel: Channel, establishedMs: Int64) {
        self.id = id
        self.channel = channel
        self.establishedMs = establishedMs
        let addr = channel.remoteAddress
        remoteIP = addr?.ipAddress ?? "0.0.0.0"
        if let addr, let port = addr.port {
            remoteAddress = addr.protocol == .inet6 ? "[\(remoteIP)]:\(port)" : "\(remoteIP):\(port)"
        } else {
            remoteAddress = remoteIP
        }
        auth = AuthInfo.ip(remoteIP)
    }

    var isOpen: Bool { phase != .closed }
    var queuedCount: Int { queue.count - head }
    var hasQueued: Bool { head < queue.count }
    var front: ReplySlot? { head < queue.count ? queue[head] : nil }
    var queuedSlots: ArraySlice<ReplySlot> { queue[head...] }

    func enqueue(_ slot: ReplySlot) { queue.append(slot) }

    /// The queued reply still waiting for the transaction with this cxid.
    func waitingSlot(xid: Int32) -> ReplySlot? {
        var i = head
        while i < queue.count {
            let s = queue[i]
            if case .waiting = s.state, s.xid == xid { return s }
            i += 1
        }
        return nil
    }
    func popFront() {
        head += 1
        if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
        else if head > 256 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
    }

    func write(_ buffer: ByteBuffer) {
        guard isOpen else { return }
        channel.write(buffer, promise: nil)
        sent += 1
        dirty = true
    }

    func recordLatency(_ startNanos: UInt64, now: UInt64) {
        let ms = Int64((now &- startNanos) / 1_000_000)
        lastLatencyMs = ms
        minLatencyMs = min(minLatencyMs, ms)
        maxLatencyMs = max(maxLatencyMs, ms)
        totalLatencyMs += ms
        latencyCount += 1
        lastResponseNanos = now
    }
}

extension ClientConnection {
    /// Queued replies still waiting for a transaction or a read barrier.
    var waitingSlots: [ReplySlot] {
        queuedSlots.filter { if case .waiting = $0.state { return true } else { return false } }
    }
}
