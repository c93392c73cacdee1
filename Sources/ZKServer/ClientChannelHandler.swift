import NIOCore
import NIOSSL
import NIOTLS
import ZKProtocol
import ZKStateMachine

/// Turns a client TCP stream into frames for the server: a four-letter word as the first 4 bytes, or
/// length-prefixed frames (a negative or oversized length closes the connection, as Apache ZooKeeper does).
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: ZooKeeperServer
    var conn: ClientConnection?
    var cumulation: ByteBuffer?
    var firstBytesChecked = false
    let splitter: FrameSplitter

    init(server: ZooKeeperServer) {
        self.server = server
        // The frame cap leaves room for the request header around a maximal payload.
        splitter = FrameSplitter(maxFrameBytes: server.config.juteMaxBuffer)
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let c = server.connectionOpened(context.channel) else {
            context.close(promise: nil)
            return
        }
        conn = c
        // A connection that never completes its handshake is dropped.
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(10)) { [weak self] in
            guard let self, let c = self.conn, c.phase == .handshake, c.isOpen else { return }
            self.server.close(c)
        }
        context.fireChannelActive()
    }

    /// On the TLS client port, a client certificate authenticates the connection as `x509:<subject>`
    /// (and as the superuser when it is `X509AuthenticationProvider.superUser`), before any request.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e, let conn,
           let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
           let cert = tls.peerCertificate, let subject = TLSContexts.subjectName(cert) {
            conn.auth.add(Id(scheme: "x509", id: subject))
            if let sup = server.config.x509SuperUser, sup == subject { conn.auth.add(Id(scheme: "super", id: "")) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard let conn, conn.isOpen else { return }
        if cumulation == nil { cumulation = incoming } else { cumulation!.writeBuffer(&incoming) }
        if !firstBytesChecked {
            guard cumulation!.readableBytes >= 4 else { return }
            firstBytesChecked = true
            if let word = cumulation!.getString(at: cumulation!.readerIndex, length: 4),
               ConfigParser.knownFourLetterWords.contains(word) {
                let text = FourLetterWords.respond(word, server: server, requester: conn)
                var out = context.channel.allocator.buffer(capacity: text.utf8.count)
                out.writeString(text)
                context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                server.connectionClosed(conn)
                cumulation = nil
                return
            }
        }
        while conn.isOpen {
            switch splitter.next(&cumulation!) {
            case .needMoreData:
                cumulation!.discardReadBytes()
                return
            case .invalidLength(let len):
                if len > 0 { server.stats.largeRequestsRejected += 1 }
                server.logger.info("closing \(conn.remoteAddress): frame length \(len) is outside 0...\(splitter.maxFrameBytes)")
                server.close(conn)
                return
            case .frame(let frame):
                if !server.handleFrame(conn, frame) {
                    server.close(conn)
                    return
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        server.flushDirty()
    }

    /// A client that does not read its replies stops being read from (its requests wait in the kernel),
    /// so one slow consumer cannot grow the server's memory without bound.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.channel.setOption(.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        if context.channel.isWritable { context.read() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let conn { server.connectionClosed(conn) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let conn { server.connectionClosed(conn) }
        context.close(promise: nil)
    }
}
