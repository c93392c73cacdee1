import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ZKReplication

/// `sslQuorum=true`: both ends of every peer connection present a certificate that the other checks
/// against its trust store (mutual TLS). Built once at start-up from the `ssl.quorum.*` keys.
struct PeerTLS {
    let server: NIOSSLContext
    let client: NIOSSLContext

    init(_ settings: TLSSettings) throws {
        var s = settings
        s.clientAuth = .need
        server = try TLSContexts.server(s, prefix: "ssl.quorum.")
        client = try TLSContexts.client(s, prefix: "ssl.quorum.")
    }
}

/// Messages between ensemble members over TCP. Each server connects out to every other member and
/// accepts connections from them: outbound links carry this server's messages, inbound ones the peer's.
///
/// A connection starts with a handshake `ZKPR | u8 version | u64 sender id | u16 len | cluster name`;
/// then frames `u32 length | PeerCodec bytes`. A handshake from an unknown id, another cluster or
/// not in this format closes the connection with a log line. With `tls` set, the handshake and frames
/// travel inside TLS, and a peer whose certificate does not verify is refused with a log line. Outbound queues are bounded (the
/// replication protocol retries, so dropping under pressure is safe) and links reconnect with backoff.
/// All state lives on `loop` (Sendable by that confinement).
final class PeerTransport: @unchecked Sendable {
    static let magic: [UInt8] = Array("ZKPR".utf8)
    static let version: UInt8 = PeerCodec.version
    static let maxQueuedMessages = 4096
    static let maxFrameBytes = PeerCodec.defaultLimits.maxMessageBytes

    struct Peer { var id: ServerID; var host: String; var port: Int }

    let myId: ServerID
    let clusterName: String
    let loop: EventLoop
    var logger: Logger
    let purpose: String
    let tls: PeerTLS?
    var peers: [ServerID: Peer]
    var links: [ServerID: OutboundLink] = [:]
    var listener: Channel?
    /// Delivered on the event loop.
    var onMessage: (ServerID, PeerMessage) -> Void = { _, _ in }
    /// A link that was up closed and the reconnect made at once failed: the peer's process is gone or
    /// cut off (on the event loop, once per loss).
    var onPeerUnreachable: (ServerID) -> Void = { _ in }
    /// Connect attempts give up after this long and are made again at most `maxBackoffMs` later, so a
    /// peer is back within about half a second of a healed partition (a SYN lost to the partition is not
    /// waited on for the kernel's one-second retransmission).
    static let connectTimeout: TimeAmount = .milliseconds(300)
    static let maxBackoffMs: Int64 = 100
    /// An established connection whose sent bytes stay unacknowledged this long is closed by the kernel
    /// (TCP_USER_TIMEOUT), so a partition shows as a closed link and the link reconnects when it heals,
    /// instead of waiting out TCP's retransmission backoff (seconds) on the old connection.
    static let userTimeoutMs: UInt32 = 1_000
    var connectedInbound: Set<ServerID> = []
    /// When a rejection was last logged per reason, so a retrying peer does not flood the log.
    var lastRejectionLog: [String: NIODeadline] = [:]

    func logRejection(_ message: String, key: String) {
        let now = NIODeadline.now()
        if let last = lastRejectionLog[key], now - last < .seconds(30) { return }
        lastRejectionLog[key] = now
        logger.warning("\(message) (repeats of this are logged every 30 s at most)")
    }

    init(myId: ServerID, clusterName: String, peers: [Peer], loop: EventLoop, logger: Logger, purpose: String, tls: PeerTLS? = nil) {
        self.tls = tls
        self.myId = myId
        self.clusterName = clusterName
        self.loop = loop
        self.logger = logger
        self.purpose = purpose
        self.peers = Dictionary(uniqueKeysWithValues: peers.map { ($0.id, $0) })
    }

    /// Binds the listener (from any thread: a bind failure is thrown to the caller); the outbound links
    /// are made on the loop, where they live.
    func start(host: String, port: Int) throws {
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] ch in
                ch.eventLoop.makeCompletedFuture {
                    if let tls { try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server)) }
                    try ch.pipeline.syncOperations.addHandler(InboundPeerHandler(transport: self))
                }
            }
        do {
            listener = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw ListenError(binding: purpose, host: host, port: port, error: error, keys: "the server.\(myId) ports")
        }
        loop.execute { [self] in
            for p in peers.values where p.id != myId && links[p.id] == nil {
                links[p.id] = OutboundLink(transport: self, peer: p)
            }
        }
    }

    /// Follows a membership change: links to new members, drops links to removed ones.
    func updatePeers(_ new: [Peer]) {
        loop.assertInEventLoop()
        let wanted = Dictionary(uniqueKeysWithValues: new.filter { $0.id != myId }.map { ($0.id, $0) })
        for (id, link) in links where wanted[id] == nil || wanted[id]!.host != link.peer.host || wanted[id]!.port != link.peer.port {
            link.stop()
            links[id] = nil
        }
        peers = wanted
        guard listener != nil else { return }
        for p in wanted.values where links[p.id] == nil { links[p.id] = OutboundLink(transport: self, peer: p) }
    }

    func send(_ m: PeerMessage, to id: ServerID) {
        links[id]?.send(PeerCodec.encode(m))
    }

    func stop() {
        listener?.close(promise: nil)
        for l in links.values { l.stop() }
    }

    func handshakeBytes() -> [UInt8] {
        var b = Self.magic
        b.append(Self.version)
        b.append(contentsOf: withUnsafeBytes(of: myId.bigEndian, Array.init))
        let name = Array(clusterName.utf8)
        b.append(contentsOf: withUnsafeBytes(of: UInt16(name.count).bigEndian, Array.init))
        b.append(contentsOf: name)
        return b
    }

    var connectedPeers: [ServerID] { links.filter { $0.value.channel != nil }.map(\.key).sorted() }
}

/// Refers to a link without keeping it alive (a channel may outlive a stopped link).
struct WeakLink: Sendable {
    weak let value: OutboundLink?
    init(_ value: OutboundLink) { self.value = value }
}

/// One outbound connection to a peer, with its bounded queue and reconnect backoff. On the transport's
/// loop only, as the transport.
final class OutboundLink: @unchecked Sendable {
    let transport: PeerTransport   // strong: channels may outlive a stopped transport until they close
    let peer: PeerTransport.Peer
    var channel: Channel?
    var connecting = false
    var queue: [[UInt8]] = []
    var backoffMs: Int64 = 0
    var stopped = false
    /// The link was up and has not reconnected since it closed (a failed reconnect reports the loss).
    var lostSinceUp = false
    var lastFailureLogged: NIODeadline = .distantPast

    init(transport: PeerTransport, peer: PeerTransport.Peer) {
        self.transport = transport
        self.peer = peer
        connect()
    }

    func send(_ bytes: [UInt8]) {
        if let ch = channel {
            var b = ch.allocator.buffer(capacity: bytes.count + 4)
            b.writeInteger(UInt32(bytes.count))
            b.writeBytes(bytes)
            ch.writeAndFlush(b, promise: nil)
            return
        }
        if queue.count >= PeerTransport.maxQueuedMessages { queue.removeFirst(queue.count / 2) }
        queue.append(bytes)
        if !connecting { connect() }
    }

    func connect() {
        guard !stopped, channel == nil, !connecting else { return }
        connecting = true
        let bootstrap = ClientBootstrap(group: transport.loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: 18)), // TCP_USER_TIMEOUT
                           value: SocketOptionValue(PeerTransport.userTimeoutMs))
            .connectTimeout(PeerTransport.connectTimeout)
            .channelInitializer { [link = WeakLink(self), transport = self.transport, peer = self.peer] ch in
                ch.closeFuture.whenComplete { _ in link.value?.closed(ch) }
                guard let tls = transport.tls else { return ch.eventLoop.makeSucceededVoidFuture() }
                return ch.eventLoop.makeCompletedFuture {
                    // An IP address is checked against the certificate's IP SANs; a name is sent as SNI too.
                    let isIP = (try? SocketAddress(ipAddress: peer.host, port: 0)) != nil
                    let ssl = try NIOSSLClientHandler(context: tls.client, serverHostname: isIP ? nil : peer.host)
                    try ch.pipeline.syncOperations.addHandler(ssl)
                    try ch.pipeline.syncOperations.addHandler(OutboundTLSErrorLogger(transport: transport, peer: peer))
                }
            }
        bootstrap.connect(host: peer.host, port: peer.port).hop(to: transport.loop).assumeIsolated().whenComplete { [self] result in
            connecting = false
            switch result {
            case .success(let ch):
                if stopped { ch.close(promise: nil); return }
                channel = ch
                backoffMs = 0
                lostSinceUp = false
                var b = ch.allocator.buffer(capacity: 64)
                b.writeBytes(transport.handshakeBytes())
                ch.write(b, promise: nil)
                let pending = queue
                queue = []
                for m in pending { send(m) }
                ch.flush()
                transport.logger.debug("\(transport.purpose) link to server \(peer.id) at \(peer.host):\(peer.port) is up")
            case .failure(let error):
                let now = NIODeadline.now()
                if now - lastFailureLogged > .seconds(10) {
                    transport.logger.info("cannot reach server \(peer.id) at \(peer.host):\(peer.port) for \(transport.purpose): \(error); retrying")
                    lastFailureLogged = now
                }
                if lostSinceUp {
                    lostSinceUp = false
                    transport.onPeerUnreachable(peer.id)
                }
                scheduleReconnect()
            }
        }
    }

    /// The connection closed: reconnect at once; if that fails, the peer is reported unreachable.
    func closed(_ ch: Channel) {
        guard channel === ch else { return }
        channel = nil
        lostSinceUp = true
        backoffMs = 0
        scheduleReconnect()
    }

    func scheduleReconnect() {
        guard !stopped else { return }
        let delay = backoffMs
        backoffMs = min(max(backoffMs * 2, 10), PeerTransport.maxBackoffMs)
        transport.loop.scheduleTask(in: .milliseconds(delay)) { [weak self] in self?.connect() }
    }

    func stop() {
        stopped = true
        channel?.close(promise: nil)
        channel = nil
    }
}

/// Reads the handshake, then frames, from a peer's outbound connection.
final class InboundPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let transport: PeerTransport   // strong: channels may outlive a stopped transport until they close
    var cumulation: ByteBuffer?
    var sender: ServerID?

    init(transport: PeerTransport) { self.transport = transport }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if cumulation == nil { cumulation = incoming } else { cumulation!.writeBuffer(&incoming) }
        if sender == nil {
            guard let id = readHandshake(context: context) else { return }
            sender = id
        }
        while let len = cumulation!.getInteger(at: cumulation!.readerIndex, as: UInt32.self) {
            guard Int(len) <= PeerTransport.maxFrameBytes else {
                reject(context, "a frame of \(len) bytes is over the limit")
                return
            }
            guard cumulation!.readableBytes >= 4 + Int(len) else { break }
            cumulation!.moveReaderIndex(forwardBy: 4)
            let bytes = cumulation!.readBytes(length: Int(len))!
            do {
                let m = try PeerCodec.decode(bytes)
                transport.onMessage(sender!, m)
            } catch {
                reject(context, "undecodable message: \(error)")
                return
            }
        }
        cumulation!.discardReadBytes()
    }

    /// nil while incomplete or after rejecting.
    func readHandshake(context: ChannelHandlerContext) -> ServerID? {
        guard let head = cumulation!.getBytes(at: cumulation!.readerIndex, length: min(cumulation!.readableBytes, 15)) else { return nil }
        if head.count >= 4 && Array(head[0..<4]) != PeerTransport.magic {
            reject(context, "not a zkserver peer (bad handshake); is another program pointed at this quorum/election port?")
            return nil
        }
        guard head.count == 15 else { return nil }
        guard head[4] == PeerTransport.version else {
            reject(context, "peer protocol version \(head[4]) is not \(PeerTransport.version); upgrade all members to the same zkserver")
            return nil
        }
        let id = head[5..<13].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let nameLen = Int(UInt16(head[13]) << 8 | UInt16(head[14]))
        guard cumulation!.readableBytes >= 15 + nameLen else { return nil }
        cumulation!.moveReaderIndex(forwardBy: 15)
        let name = cumulation!.readString(length: nameLen) ?? ""
        guard name == transport.clusterName else {
            reject(context, "server \(id) belongs to cluster '\(name)', this is '\(transport.clusterName)'")
            return nil
        }
        guard transport.peers[id] != nil, id != transport.myId else {
            reject(context, "server id \(id) is not a member of this ensemble's config (or is this server's own id); "
                + "a joining server is accepted once a reconfig adds it", key: "unknown-\(id)")
            return nil
        }
        return id
    }

    func reject(_ context: ChannelHandlerContext, _ why: String, key: String? = nil) {
        let remote = context.channel.remoteAddress.map { "\($0)" } ?? "?"
        transport.logRejection("closing \(transport.purpose) connection from \(remote): \(why)", key: key ?? why)
        cumulation?.clear()
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if transport.tls != nil, sender == nil {
            // Most likely the TLS handshake: no certificate, or one the trust store does not vouch for.
            reject(context, "TLS handshake failed (peer without a certificate this member trusts?): \(error)", key: "tls-\(error)")
            return
        }
        context.close(promise: nil)
    }
}

/// Logs why an outbound TLS link failed (e.g. the peer's certificate is not trusted); the link reconnects.
final class OutboundTLSErrorLogger: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let transport: PeerTransport
    let peer: PeerTransport.Peer
    init(transport: PeerTransport, peer: PeerTransport.Peer) { self.transport = transport; self.peer = peer }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        transport.logRejection("TLS \(transport.purpose) link to server \(peer.id) at \(peer.host):\(peer.port) failed: \(error)",
                               key: "out-\(peer.id)-\(error)")
        context.close(promise: nil)
    }
}
