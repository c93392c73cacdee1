import Dispatch
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOConcurrencyHelpers
import ZKStorage

/// Starts a server from a config: recovery, the client listener, timers, and a graceful stop on SIGTERM/SIGINT.
public final class ServerRunner {
    public let config: ServerConfig
    var logger: Logger

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Runs until SIGTERM/SIGINT. Throws on a start-up failure (bad data, busy port).
    public func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // One thread for the log's appends and fsyncs, one for snapshots: a snapshot of a large tree
        // takes seconds to write and must not hold up the log (and so the ensemble's heartbeats).
        let pool = NIOThreadPool(numberOfThreads: 1)
        let snapshotPool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        snapshotPool.start()
        defer {
            try? group.syncShutdownGracefully()
            try? pool.syncShutdownGracefully()
            try? snapshotPool.syncShutdownGracefully()
        }
        let loop = group.next()
        // Certificates are read before anything else, so a bad file stops the start-up at once.
        let secureContext = try config.secureClientPort.map { _ in try TLSContexts.server(config.clientTLS, prefix: "ssl.") }
        var me: ServerSpec?
        if config.isEnsemble {
            let id = try Self.readMyid(config)
            guard let spec = config.servers.first(where: { $0.id == id }) else {
                throw ConfigError(problems: ["\(config.dataDir)/myid says \(id), but there is no server.\(id) line in \(config.sourcePath); "
                    + "add it or fix myid (members: \(config.servers.map { String($0.id) }.joined(separator: ", ")))"])
            }
            me = spec
        }
        // Standalone: the only voter of an ensemble of one, with no peer ports.
        let member = me ?? ServerSpec(id: 1, host: config.clientPortAddress, quorumPort: 0, electionPort: 0, role: .participant)
        let server = ZooKeeperServer(config: config, serverId: member.id, loop: loop, snapshotPool: snapshotPool, logger: logger)
        let quorum = try QuorumPeer(config: config, me: member, applier: server.applier, loop: loop, diskPool: pool,
                                    snapshotPool: snapshotPool, metrics: server.metrics, logger: logger)
        server.quorum = quorum
        quorum.client = server
        let summary = try loop.submit { try quorum.recover() }.wait()
        logger.info("\(me.map { "server \($0.id): " } ?? "")\(summary)")

        let host = me?.clientHost ?? config.clientPortAddress
        // No plain port with a secureClientPort: TLS clients only.
        let port = me?.clientPort ?? config.clientPort ?? config.servers.first?.clientPort
        guard port != nil || config.secureClientPort != nil else {
            throw ConfigError(problems: ["no client port configured"])
        }
        try quorum.start()
        if me == nil {
            // A standalone server leads at once (nothing to wait for): clients connect to a serving server.
            // Its first election writes the epoch durably; a slow disk gets a second, then it listens anyway.
            let deadline = NIODeadline.now() + .seconds(1)
            while try !loop.submit({ quorum.serving }).wait(), NIODeadline.now() < deadline { usleep(2_000) }
        }
        var listeners: [Channel] = []
        if let port {
            listeners.append(try Self.listen(group: group, server: server, host: host, port: port, tls: nil, key: "clientPort"))
        }
        if let securePort = config.secureClientPort, let secureContext {
            let secureHost = config.secureClientPortAddress ?? host
            do {
                listeners.append(try Self.listen(group: group, server: server, host: secureHost, port: securePort,
                                                 tls: secureContext, key: "secureClientPort"))
            } catch {
                for ch in listeners { try? ch.close().wait() }
                throw error
            }
            logger.info("listening for TLS clients on \(secureHost):\(securePort) (ssl.clientAuth=\(config.clientTLS.clientAuth.rawValue))")
        }
        let httpListeners: [Channel]
        do {
            httpListeners = try AdminServer.start(server: server, group: group)
        } catch {
            for ch in listeners { try? ch.close().wait() }
            throw error
        }
        server.startTimers()
        let role = me.map { "ensemble member \($0.id) of \(config.servers.count)" } ?? "standalone"
        let place = "\(role), dataDir \(config.dataDir), dataLogDir \(config.effectiveDataLogDir)"
        if let port {
            logger.info("listening for clients on \(host):\(port) (\(place))")
        } else {
            logger.info("no plain client port: TLS clients only (\(place))")
        }

        let stop = DispatchSemaphore(value: 0)
        let fatal = NIOLockedValueBox<MemberStopped?>(nil)
        loop.execute {
            server.onFatal = { why in
                fatal.withLockedValue { $0 = why }
                stop.signal()
            }
        }
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { stop.signal() }
            src.resume()
            sources.append(src)
        }
        stop.wait()
        if fatal.withLockedValue({ $0 }) == nil, case .failed(let why)? = try? quorum.handOverBeforeStop().wait() {
            // A leader hands over first (a follower has nothing to do); a sole voter has no one to hand to.
            if me != nil { logger.warning("stopping without handing leadership over: \(why)") }
        }
        logger.info(fatal.withLockedValue { $0 } == nil ? "shutting down: flushing the log and closing connections"
                                                         : "shutting down after a fault: closing connections")
        for ch in listeners { try? ch.close().wait() }
        for ch in httpListeners { try? ch.close().wait() }
        try? server.shutdown().wait()
        logger.info("stopped")
        _ = sources
        if let why = fatal.withLockedValue({ $0 }) { throw why }
    }
}

extension ServerRunner {
    /// A client listener; with `tls`, the same protocol handler runs behind a TLS server handler.
    static func listen(group: EventLoopGroup, server: ZooKeeperServer, host: String, port: Int,
                       tls: NIOSSLContext?, key: String) throws -> Channel {
        let refusals = TLSRefusalLog(logger: server.logger)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(TLSRefusalHandler(log: refusals))
                    }
                    try channel.pipeline.syncOperations.addHandler(ClientChannelHandler(server: server))
                }
            }
        do {
            return try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw ListenError(binding: "clients (\(key))", host: host, port: port, error: error, keys: key)
        }
    }

    /// The server id from `<dataDir>/myid`, as Apache ZooKeeper reads it.
    static func readMyid(_ config: ServerConfig) throws -> Int64 {
        let path = config.dataDir + "/myid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(problems: ["\(path) is missing: an ensemble member needs its server id there (one line, e.g. 1)"])
        }
        guard let id = Int64(text.trimmed), id > 0 else {
            throw ConfigError(problems: ["\(path) must hold a positive server id, found '\(text.trimmed)'"])
        }
        return id
    }
}

public struct ListenError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) { self.message = message }

    /// A failed bind of `what` on host:port, with the cause in words and what to do about it: a port
    /// in use, a privileged port (below 1024 without CAP_NET_BIND_SERVICE), an address this host lacks.
    public init(binding what: String, host: String, port: Int, error: Error, keys: String) {
        let errno = (error as? IOError)?.errnoCode
        let advice: String
        switch errno {
        case EACCES?:
            advice = port < 1024
                ? "Ports below 1024 need CAP_NET_BIND_SERVICE, which this zkserver (uid \(getuid())) does not have: set \(keys) to 1024 or above."
                : "The system refused the port to this process (uid \(getuid())); pick another \(keys)."
        case EADDRINUSE?:
            advice = "Another process uses the port: pick another \(keys) or stop it."
        case EADDRNOTAVAIL?:
            advice = "This host has no address \(host): fix the address in \(keys)."
        default:
            advice = "Is another server using the port? Pick another \(keys) or stop it."
        }
        self.message = "cannot listen for \(what) on \(host):\(port): \(error). \(advice)"
    }
}
