import Foundation

/// An engine whose binaries were found on this machine.
public enum ResolvedEngine: Equatable, Sendable {
    case bundled(zkserver: String)
    /// `classpath` entries; `home` is an unpacked release directory, nil for Debian's package.
    case apache(java: String, classpath: [String], home: String?)

    public var summary: String {
        switch self {
        case .bundled(let path): return "zkserver \(path)"
        case .apache(let java, _, let home): return "Apache ZooKeeper \(home ?? "(Debian package)") with \(java)"
        }
    }
}

/// The command line of a node (pure).
public enum EngineLaunch {
    public static let apacheMainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

    public static func spec(for model: NodeRenderModel, engine: ResolvedEngine, javaHeapMB: Int) -> LaunchSpec {
        switch engine {
        case .bundled(let zkserver):
            return LaunchSpec(arguments: [zkserver, model.zooCfg], logFile: model.logFile, identity: model.zooCfg)
        case .apache(let java, let classpath, let home):
            var args = [
                java,
                "-Xmx\(javaHeapMB)m",
                "-Dzookeeper.log.dir=\(model.logDir)",
                "-Dzookeeper.root.logger=INFO,CONSOLE",
                "-Dzookeeper.admin.enableServer=false",
                "-Djava.net.preferIPv4Stack=true",
            ]
            if home == nil {
                // Debian's package: log4j 1.2 configured by the rendered log4j.properties.
                args.append("-Dlog4j.configuration=file:\(model.confDir)/log4j.properties")
            }
            args += ["-cp", (classpath + [model.confDir]).joined(separator: ":"), apacheMainClass, model.zooCfg]
            return LaunchSpec(arguments: args, logFile: model.logFile, identity: model.zooCfg)
        }
    }
}

/// Finds engine binaries (shell: looks at the file system and the environment).
public struct EngineLocator: Sendable {
    public var zkserverOverride: String?
    public var apacheHomeOverride: String?
    public var environment: [String: String]
    /// Directory of the running zkctl executable.
    public var executableDirectory: String?

    public init(zkserver: String? = nil, apacheHome: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                executableDirectory: String? = EngineLocator.currentExecutableDirectory()) {
        self.zkserverOverride = zkserver
        self.apacheHomeOverride = apacheHome
        self.environment = environment
        self.executableDirectory = executableDirectory
    }

    public static func currentExecutableDirectory() -> String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return (exe as NSString).deletingLastPathComponent
    }

    /// zookeeper.jar's manifest brings most of its dependencies; Netty's codec and resolver, which
    /// the Netty connection factory (TLS) needs, are not in it.
    public static let debianJars = [
        "/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar",
        "/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar",
    ]

    public func resolve(_ engine: Engine, settings: ClusterSettings) throws -> ResolvedEngine {
        switch engine {
        case .bundled:
            if let explicit = zkserverOverride ?? environment["ZKCTL_ZKSERVER"] {
                guard FileSystem.isExecutable(explicit) else {
                    throw ZKCtlError("zkserver binary \(explicit) (from --zkserver or ZKCTL_ZKSERVER) is missing or not executable; run `swift build` or fix the path")
                }
                return .bundled(zkserver: explicit)
            }
            if let recorded = settings.zkserver {
                guard FileSystem.isExecutable(recorded) else {
                    throw ZKCtlError("zkserver binary \(recorded) (zk_zkserver of the cluster, set by `zkctl upgrade`) is missing or not executable; restore it or run `zkctl upgrade --to` another binary")
                }
                return .bundled(zkserver: recorded)
            }
            if let dir = executableDirectory, FileSystem.isExecutable(dir + "/zkserver") {
                return .bundled(zkserver: dir + "/zkserver")
            }
            if let found = FileSystem.which("zkserver", path: environment["PATH"]) {
                return .bundled(zkserver: found)
            }
            throw ZKCtlError("zkserver not found next to zkctl, in ZKCTL_ZKSERVER or on PATH; run `swift build` (it builds .build/debug/zkserver), pass --zkserver PATH, or use --engine apache")
        case .apache:
            let java: String
            if let home = environment["JAVA_HOME"], FileSystem.isExecutable(home + "/bin/java") {
                java = home + "/bin/java"
            } else if let found = FileSystem.which("java", path: environment["PATH"]) {
                java = found
            } else {
                throw ZKCtlError("java not found (JAVA_HOME or PATH); install a JRE, e.g. `apt-get install default-jre-headless`")
            }
            if let home = apacheHomeOverride ?? settings.apacheHome ?? environment["ZKCTL_APACHE_HOME"] {
                guard FileSystem.isDirectory(home + "/lib") else {
                    throw ZKCtlError("\(home) is not an unpacked Apache ZooKeeper release (no lib/ directory); fix zk_apache_home / --apache-home")
                }
                return .apache(java: java, classpath: [home + "/lib/*", home + "/conf"], home: home)
            }
            let missing = Self.debianJars.filter { !FileSystem.exists($0) }
            guard missing.isEmpty else {
                throw ZKCtlError("Apache ZooKeeper not found (\(missing.joined(separator: ", ")) missing); `apt-get install zookeeper`, or point zk_apache_home / --apache-home at an unpacked release")
            }
            return .apache(java: java, classpath: Self.debianJars, home: nil)
        }
    }
}
