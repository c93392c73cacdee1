import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import ZKServer

struct ZKServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zkserver",
        abstract: "A ZooKeeper-compatible coordination server.",
        discussion: """
            Reads the same zoo.cfg keys and myid file as Apache ZooKeeper and speaks the ZooKeeper client
            protocol, so kazoo, the C and Java clients and Curator work unchanged.

            Examples:
              zkserver conf/zoo.cfg
              zkserver --data-dir /tmp/zk --client-port 2181          (no file: standalone on 2181)
              zkserver conf/zoo.cfg --log-level debug

            Stop it with SIGTERM or Ctrl-C: in-flight writes are made durable before it exits (status 0).
            Exit status 1 means it could not start (bad config, unreadable data, busy port); the reason is logged.
            """,
        version: ZKServerVersion.line
    )

    @Argument(help: "Path to a zoo.cfg file.")
    var config: String?

    @Option(help: "Data directory (overrides dataDir).")
    var dataDir: String?

    @Option(help: "Client port (overrides clientPort).")
    var clientPort: Int?

    @Option(help: "Client listen address (overrides clientPortAddress).")
    var clientPortAddress: String?

    @Option(help: "Base time unit in ms (overrides tickTime).")
    var tickTime: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if config == nil && dataDir == nil {
            throw ValidationError("give a zoo.cfg path, or at least --data-dir (and --client-port) to run without a file")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "zkserver")
        var text = ""
        let path = config ?? "(flags)"
        if let config {
            guard let t = try? String(contentsOfFile: config, encoding: .utf8) else {
                logger.critical("cannot read config file \(config)")
                throw ExitCode(1)
            }
            text = t
        }
        if let dataDir { text += "\ndataDir=\(dataDir)" }
        if let clientPort { text += "\nclientPort=\(clientPort)" }
        if let clientPortAddress { text += "\nclientPortAddress=\(clientPortAddress)" }
        if let tickTime { text += "\ntickTime=\(tickTime)" }
        var cfg: ServerConfig
        if let dyn = Self.dynamicConfigPath(text, relativeTo: config) {
            guard let d = try? String(contentsOfFile: dyn, encoding: .utf8) else {
                logger.critical("cannot read dynamicConfigFile \(dyn)")
                throw ExitCode(1)
            }
            text += "\n" + d
        }
        switch ConfigParser.parse(Self.dropOverridden(text), path: path) {
        case .success(let c): cfg = c
        case .failure(let e):
            for p in e.problems { logger.critical("\(p)") }
            throw ExitCode(1)
        }
        for (k, v) in cfg.unknown { logger.debug("keeping unrecognised key \(k)=\(v)") }
        do {
            try ServerRunner(config: cfg, logger: logger).run()
        } catch let stopped as MemberStopped {
            logger.critical("stopped: \(stopped)")
            throw ExitCode(3)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    static func dynamicConfigPath(_ text: String, relativeTo config: String?) -> String? {
        for line in text.split(separator: "\n") {
            let l = line.trimmed
            guard l.hasPrefix("dynamicConfigFile") , let eq = l.firstIndex(of: "=") else { continue }
            let v = l[l.index(after: eq)...].trimmed
            if v.hasPrefix("/") || config == nil { return v }
            return directoryOf(config!) + "/" + v
        }
        return nil
    }

    /// Flags are appended after the file; drop earlier lines for the same keys so overrides win.
    static func dropOverridden(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var seen = Set<String>()
        for i in lines.indices.reversed() {
            let l = lines[i].trimmed
            guard !l.hasPrefix("#"), let eq = l.firstIndex(of: "=") else { continue }
            let key = l[..<eq].trimmed
            if ["dataDir", "clientPort", "clientPortAddress", "tickTime"].contains(key) {
                if seen.contains(key) { lines[i] = "" } else { seen.insert(key) }
            }
        }
        return lines.joined(separator: "\n")
    }
}

ZKServerCommand.main()
