import Foundation
import Logging
import NIOCore
import NIOPosix
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
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer {
            try? group.syncShutdownGracefully()
            try? pool.syncShutdownGracefully()
        }
        let loop = group.next()
        let server = try ZooKeeperServer(config: config, serverId: 1, loop: loop, diskPool: pool, logger: logger)
        let summary = try loop.submit { try server.recover() }.wait()
        logger.info("\(summary)")

        let host = config.clientPortAddress
        guard let port = config.clientPort ?? config.servers.first?.clientPort else {
            throw ConfigError(problems: ["no client port configured"])
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.pipeline.addHandler(ClientChannelHandler(server: server))
            }
        let listener: Channel
        do {
            listener = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw ListenError(message: "cannot listen on \(host):\(port): \(error). Is another server using the port? Pick another clientPort or stop it.")
        }
        server.startTimers()
        logger.info("serving clients on \(host):\(port) (standalone, dataDir \(config.dataDir), dataLogDir \(config.effectiveDataLogDir))")

        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { stop.signal() }
            src.resume()
            sources.append(src)
        }
        stop.wait()
        logger.info("shutting down: flushing the log and closing connections")
        try? listener.close().wait()
        try? server.shutdown().wait()
        logger.info("stopped")
        _ = sources
    }
}

public struct ListenError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
