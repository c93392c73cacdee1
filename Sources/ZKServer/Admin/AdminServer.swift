import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import ZKReplication
import ZKStateMachine
import ZKStorage

/// An HTTP answer, built on the server's event loop.
struct HTTPAnswer {
    var status: HTTPResponseStatus
    var contentType: String
    var headers: [(String, String)] = []
    var body: [UInt8]

    static func json(_ a: AdminCommands.Answer) -> HTTPAnswer {
        HTTPAnswer(status: HTTPResponseStatus(statusCode: a.status), contentType: "application/json", body: Array(a.body.prettyText.utf8))
    }
}

/// What one HTTP listener serves: the admin commands under `commandURL`, /metrics, or both.
struct HTTPRoutes {
    var commandURL: String?
    var metrics: Bool
}

/// The HTTP listeners: the admin server (admin.serverPort) and the Prometheus endpoint (metricsProvider.httpPort).
/// They run on the server's event loop group; every answer is computed on the server's loop.
enum AdminServer {
    /// Binds the listeners the config asks for (one, if both share a port). Returns the channels to close at shutdown.
    static func start(server: ZooKeeperServer, group: EventLoopGroup) throws -> [Channel] {
        let c = server.config
        var listeners: [(host: String, port: Int, routes: HTTPRoutes, what: String)] = []
        if c.adminEnabled {
            listeners.append((c.adminServerAddress, c.effectiveAdminPort, HTTPRoutes(commandURL: c.adminCommandURL, metrics: false), "admin server"))
        }
        if c.metricsEnabled {
            if let i = listeners.firstIndex(where: { $0.port == c.effectiveMetricsPort }) {
                listeners[i].routes.metrics = true
                listeners[i].what += " and metrics"
            } else {
                listeners.append((c.metricsHTTPHost, c.effectiveMetricsPort, HTTPRoutes(commandURL: nil, metrics: true), "metrics"))
            }
        }
        var channels: [Channel] = []
        for l in listeners {
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(server: server, routes: l.routes))
                    }
                }
            do {
                channels.append(try bootstrap.bind(host: l.host, port: l.port).wait())
            } catch {
                for ch in channels { try? ch.close().wait() }
                throw ListenError(binding: "the \(l.what)", host: l.host, port: l.port, error: error,
                                  keys: "admin.serverPort / metricsProvider.httpPort")
            }
            server.logger.info("\(l.what) listening on http://\(l.host):\(l.port)\(l.routes.commandURL ?? "/metrics")")
        }
        return channels
    }
}

final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ZooKeeperServer
    let routes: HTTPRoutes
    var head: HTTPRequestHead?

    init(server: ZooKeeperServer, routes: HTTPRoutes) {
        self.server = server
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let server = self.server, routes = self.routes
            let keepAlive = h.isKeepAlive
            let remote = context.channel.remoteAddress, local = context.channel.localAddress
            server.loop.flatSubmit { server.httpAnswerFuture(h, routes: routes, remote: remote, local: local) }
                .hop(to: context.eventLoop)
                .assumeIsolated()
                .whenComplete { [self] result in
                    let answer: HTTPAnswer
                    switch result {
                    case .success(let a): answer = a
                    case .failure(let e):
                        answer = .json(AdminCommands.error(500, command: "", "internal error: \(e)"))
                    }
                    respond(context: context, answer, keepAlive: keepAlive)
                }
        }
    }

    func respond(context: ChannelHandlerContext, _ a: HTTPAnswer, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: a.contentType)
        headers.add(name: "Content-Length", value: String(a.body.count))
        for (k, v) in a.headers { headers.add(name: k, value: v) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: a.status, headers: headers))), promise: nil)
        var buf = context.channel.allocator.buffer(capacity: a.body.count)
        buf.writeBytes(a.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive { done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}

extension ZooKeeperServer {
    /// Answers one HTTP request. Runs on the server's loop; a snapshot's bytes are made on the
    /// snapshot thread from a frozen image (a large tree takes longer than clients should wait).
    func httpAnswerFuture(_ h: HTTPRequestHead, routes: HTTPRoutes, remote: SocketAddress? = nil,
                          local: SocketAddress? = nil) -> EventLoopFuture<HTTPAnswer> {
        switch httpAnswer(h, routes: routes) {
        case .ready(let answer):
            return loop.makeSucceededFuture(answer)
        case .transferLeadership(let to):
            if let refusal = transferRefusal(h, remote: remote, local: local) { return loop.makeSucceededFuture(refusal) }
            return quorum.handOver(to: to, within: .seconds(3)).map { outcome in
                let name = "transfer_leadership"
                switch outcome {
                case .done(let leader, let ms):
                    return .json(AdminCommands.Answer(status: 200, body: .object([
                        ("leader_id", .int(Int(leader))), ("took_ms", .int(Int(ms))), ("command", .string(name)), ("error", .null)])))
                case .notLeader(let leader):
                    let where_ = leader.map { "; server \($0) leads: ask it" } ?? "; no leader is known"
                    return .json(AdminCommands.error(409, command: name, "this server does not lead\(where_)"))
                case .failed(let why):
                    return .json(AdminCommands.error(503, command: name, why))
                }
            }
        case .snapshot:
            return applier.withTreeSnapshot { image, buf -> HTTPAnswer in
                let backup = BackupFile(zxid: image.lastZxid, digest: image.digest, znodes: image.nodeCount,
                                        payload: Array(buf.readableBytesView))
                let bytes = backup.bytes
                return HTTPAnswer(status: .ok, contentType: "application/octet-stream",
                                  headers: [("last_zxid", "0x" + String(image.lastZxid, radix: 16)), ("snapshot_size", String(bytes.count))],
                                  body: bytes)
            }
        }
    }

    enum AdminAnswer {
        case ready(HTTPAnswer)
        /// Allowed: send the data tree as a backup file.
        case snapshot
        /// Hand leadership over (to a given server, or the most up-to-date one).
        case transferLeadership(to: ServerID?)
    }

    /// The answer to one HTTP request, or `.snapshot` when a snapshot may be sent. Runs on the server's loop.
    func httpAnswer(_ h: HTTPRequestHead, routes: HTTPRoutes) -> AdminAnswer {
        let path = String(h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if routes.metrics, path == "/metrics" {
            guard h.method == .GET else {
                return .ready(.json(AdminCommands.error(405, command: "metrics", "only GET is supported")))
            }
            return .ready(HTTPAnswer(status: .ok, contentType: ServerMetrics.contentType, body: metrics.scrape(reading(), now: ZooKeeperServer.monotonicNanos())))
        }
        guard let prefix = routes.commandURL, path == prefix || path.hasPrefix(prefix + "/") else {
            return .ready(.json(AdminCommands.error(404, command: "", "no such page: \(path)"
                + (routes.commandURL.map { "; the admin commands are under \($0)" } ?? "; metrics are at /metrics"))))
        }
        let name = path == prefix ? "" : String(path.dropFirst(prefix.count + 1))
        guard h.method == .GET else {
            return .ready(.json(AdminCommands.error(405, command: name, "only GET is supported")))
        }
        if name.isEmpty { return .ready(.json(AdminCommands.Answer(status: 200, body: AdminCommands.index()))) }
        if AdminCommands.find(name)?.primary == "snapshot" { return snapshotRefusal(h).map { .ready($0) } ?? .snapshot }
        if name == "transfer_leadership" {
            let query = h.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            let to = query.split(separator: "&").first { $0.hasPrefix("to=") }.map { String($0.dropFirst(3)) }
            guard let to else { return .transferLeadership(to: nil) }
            guard let id = ServerID(to), id > 0 else {
                return .ready(.json(AdminCommands.error(400, command: name, "to=\(to): give a server id, as in server.N")))
            }
            return .transferLeadership(to: id)
        }
        return .ready(.json(AdminCommands.run(name, reading(), environment: FourLetterWords.environmentPairs())))
    }

    /// `transfer_leadership` moves the ensemble's leader: allowed from this host (a loopback address, or
    /// a connection from the address it reached: zkctl, the Kubernetes preStop hook and the Ansible role
    /// call it there) and, from elsewhere, with the superuser's digest.
    func transferRefusal(_ h: HTTPRequestHead, remote: SocketAddress?, local: SocketAddress?) -> HTTPAnswer? {
        let fromHere: Bool
        switch remote {
        case .v4(let a)?: fromHere = a.host.hasPrefix("127.") || a.host == local?.ipAddress
        case .v6(let a)?: fromHere = a.host == "::1" || a.host.hasPrefix("::ffff:127.") || a.host == local?.ipAddress
        default: fromHere = remote == nil
        }
        if fromHere { return nil }
        let name = "transfer_leadership"
        switch superuser(h) {
        case .authorized:
            return nil
        case .noSuperDigest:
            return .json(AdminCommands.error(403, command: name,
                "transfer_leadership is allowed from this host only, unless DigestAuthenticationProvider.superDigest is set and the request carries the superuser's credentials"))
        case .noHeader, .mismatch:
            stats.authFailed += 1
            return .json(AdminCommands.error(403, command: name, "from another host, transfer_leadership needs the header 'Authorization: digest <superuser>:<password>'"))
        }
    }

    enum SuperuserCheck { case authorized, noSuperDigest, noHeader, mismatch }

    /// Whether the request carries `Authorization: digest <user>:<password>` matching
    /// DigestAuthenticationProvider.superDigest.
    func superuser(_ h: HTTPRequestHead) -> SuperuserCheck {
        guard let sup = config.superDigest else { return .noSuperDigest }
        let parts = (h.headers["Authorization"].first ?? "").split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].lowercased() == "digest" else { return .noHeader }
        return DigestAuth.digest(parts[1]) == sup ? .authorized : .mismatch
    }

    /// `GET /commands/snapshot`: the data tree at one zxid as a backup file (nil: allowed). Refused (403) unless the request
    /// carries `Authorization: digest <user>:<password>` matching DigestAuthenticationProvider.superDigest,
    /// or the node sets admin.snapshot.requireAuth=false.
    func snapshotRefusal(_ h: HTTPRequestHead) -> HTTPAnswer? {
        if config.adminSnapshotRequireAuth {
            switch superuser(h) {
            case .authorized:
                break
            case .noSuperDigest:
                return .json(AdminCommands.error(403, command: "snapshot",
                    "snapshot needs the superuser's credentials, but this node has no DigestAuthenticationProvider.superDigest; set it, or set admin.snapshot.requireAuth=false"))
            case .noHeader:
                return .json(AdminCommands.error(403, command: "snapshot", "snapshot needs the header 'Authorization: digest <superuser>:<password>'"))
            case .mismatch:
                stats.authFailed += 1
                return .json(AdminCommands.error(403, command: "snapshot", "the credentials do not match the superuser's digest"))
            }
        }
        if !quorum.servesClients {
            return .json(AdminCommands.error(503, command: "snapshot", "This ZooKeeper instance is not currently serving requests"))
        }
        return nil
    }
}
