/// A member line of the ensemble: `server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]`.
public struct ServerSpec: Hashable, Sendable, CustomStringConvertible {
    public enum Role: String, Sendable { case participant, observer }
    public var id: Int64
    public var host: String
    public var quorumPort: Int
    public var electionPort: Int
    public var role: Role
    public var clientHost: String?
    public var clientPort: Int?

    /// The canonical form used by /zookeeper/config and `conf`.
    public var description: String {
        var s = "server.\(id)=\(host):\(quorumPort):\(electionPort):\(role.rawValue)"
        if let clientPort { s += ";\(clientHost ?? "0.0.0.0"):\(clientPort)" }
        return s
    }

    public struct SpecError: Error { public var message: String }
    /// Parses the value part of a `server.N` line.
    public static func parse(id: Int64, _ value: String) -> Result<ServerSpec, SpecError> {
        let halves = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        let addr = halves[0].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard addr.count == 3 || addr.count == 4 else {
            return .failure(SpecError(message: "expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort], got '\(value)'"))
        }
        guard let qp = Int(addr[1]), (1...65535).contains(qp) else { return .failure(SpecError(message: "bad quorum port '\(addr[1])'")) }
        guard let ep = Int(addr[2]), (1...65535).contains(ep) else { return .failure(SpecError(message: "bad election port '\(addr[2])'")) }
        guard qp != ep else { return .failure(SpecError(message: "quorum and election ports must differ")) }
        var role = Role.participant
        if addr.count == 4 {
            guard let r = Role(rawValue: addr[3]) else { return .failure(SpecError(message: "role must be participant or observer, got '\(addr[3])'")) }
            role = r
        }
        var spec = ServerSpec(id: id, host: addr[0], quorumPort: qp, electionPort: ep, role: role)
        if halves.count == 2 {
            let client = halves[1]
            let parts = client.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let portText = parts.last ?? ""
            guard let cp = Int(portText), (1...65535).contains(cp) else { return .failure(SpecError(message: "bad client port '\(client)'")) }
            spec.clientPort = cp
            if parts.count > 1 { spec.clientHost = parts.dropLast().joined(separator: ":") }
        }
        return .success(spec)
    }
}

/// Server settings read from a zoo.cfg (the keys Apache ZooKeeper reads; unknown keys are kept).
public struct ServerConfig: Sendable {
    public var tickTime = 3000
    public var initLimit = 10
    public var syncLimit = 5
    public var dataDir = ""
    public var dataLogDir = ""
    public var clientPort: Int?
    public var clientPortAddress = "0.0.0.0"
    public var maxClientCnxns = 60
    public var minSessionTimeout: Int?
    public var maxSessionTimeout: Int?
    public var fourLetterWhitelist: Set<String> = ["srvr"]
    public var snapRetainCount = 3
    public var purgeIntervalHours = 0
    public var snapCount = 100_000
    /// A member also snapshots once the log since its last snapshot holds this many KiB (it keeps that
    /// log in memory to catch followers up), so memory stays bounded under large or many writes.
    public var snapSizeLimitInKb = 16 * 1024
    public var superDigest: String?
    /// `X509AuthenticationProvider.superUser`: the client certificate subject (RFC 4514 form,
    /// e.g. `CN=admin,O=example`) that is the superuser on the TLS client port.
    public var x509SuperUser: String?
    public var juteMaxBuffer = 0xfffff
    public var extendedTypesEnabled = false
    /// `enforceQuota` (Apache's `zookeeper.enforceQuota`): hard quota limits refuse creates and
    /// setData with QUOTAEXCEEDED; otherwise quotas are only tracked.
    public var enforceQuota = false
    public var skipACL = false
    public var reconfigEnabled = false
    public var standaloneEnabled = true
    public var forceSync = true
    public var containerCheckIntervalMs = 60_000
    public var containerMaxPerMinute = 10_000
    public var globalOutstandingLimit = 1000
    public var dynamicConfigFile: String?
    /// Members refuse peers that present another cluster name (zkserver's own key; Apache ZooKeeper ignores it).
    public var clusterName = ""
    public var quorumListenOnAllIPs = false
    /// The TLS client port (`secureClientPort`), served beside the plain one with the same protocol;
    /// without a plain client port it is the only one (TLS clients only).
    public var secureClientPort: Int?
    public var secureClientPortAddress: String?
    /// `ssl.*` keys: the secure client port's certificates.
    public var clientTLS = TLSSettings()
    /// `sslQuorum=true`: peer connections use TLS with mutual authentication (`ssl.quorum.*` keys).
    public var sslQuorum = false
    public var quorumTLS = TLSSettings()
    public var servers: [ServerSpec] = []
    /// The admin server (HTTP, `GET /commands/<name>`). Unlike Apache ZooKeeper (on by default, port 8080),
    /// it is off unless admin.serverPort is set or admin.enableServer=true, since local members share a host.
    public var adminEnableServer: Bool?
    public var adminServerAddress = "0.0.0.0"
    public var adminServerPort: Int?
    public var adminCommandURL = "/commands"
    /// `GET /commands/snapshot` needs the superuser's digest credentials unless this is false.
    public var adminSnapshotRequireAuth = true
    /// Prometheus metrics on `GET /metrics` (metricsProvider.httpPort / httpHost, as Apache ZooKeeper's provider).
    public var metricsProviderClassName: String?
    public var metricsHTTPPort: Int?
    public var metricsHTTPHost = "0.0.0.0"
    /// Keys this server does not interpret, with their values (kept, and shown by `conf`-style dumps).
    public var unknown: [(key: String, value: String)] = []
    /// Where the file came from, for messages.
    public var sourcePath = ""

    public init() {}

    public var effectiveDataLogDir: String { dataLogDir.isEmpty ? dataDir : dataLogDir }
    public var effectiveMinSessionTimeout: Int { minSessionTimeout ?? tickTime * 2 }
    public var effectiveMaxSessionTimeout: Int { maxSessionTimeout ?? tickTime * 20 }
    public var isEnsemble: Bool { servers.count > 1 || (!standaloneEnabled && !servers.isEmpty) }
    public var adminEnabled: Bool { adminEnableServer ?? (adminServerPort != nil) }
    public var effectiveAdminPort: Int { adminServerPort ?? 8080 }
    public static let prometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
    public static let nullMetricsProvider = "org.apache.zookeeper.metrics.impl.NullMetricsProvider"
    public var metricsEnabled: Bool {
        metricsProviderClassName == Self.nullMetricsProvider ? false : (metricsProviderClassName != nil || metricsHTTPPort != nil)
    }
    public var effectiveMetricsPort: Int { metricsHTTPPort ?? 7000 }
    /// Apache ZooKeeper always answers `srvr` (its zkServer.sh needs it) and nothing else without
    /// `4lw.commands.whitelist`. zkserver answers `ruok` too: it says less than `srvr` (that the process
    /// listens), and every liveness probe and hand check sends it.
    public func fourLetterAllowed(_ cmd: String) -> Bool {
        cmd == "srvr" || cmd == "ruok" || fourLetterWhitelist.contains("*") || fourLetterWhitelist.contains(cmd)
    }
}

/// The `ssl.*` (or `ssl.quorum.*`) keys, as Apache ZooKeeper names them. Only PEM files are supported.
public struct TLSSettings: Sendable, Equatable {
    public enum ClientAuth: String, Sendable { case none, want, need }
    public enum ProtocolVersion: String, Sendable, CaseIterable { case tls12 = "TLSv1.2", tls13 = "TLSv1.3" }
    /// PEM file with the private key and the certificate chain.
    public var keyStoreLocation: String?
    /// Decrypts an encrypted private key; empty for a plain key.
    public var keyStorePassword = ""
    /// PEM file with the trusted CA certificates.
    public var trustStoreLocation: String?
    /// Whether (and how strictly) the peer must present a certificate; Apache ZooKeeper's default is need.
    public var clientAuth = ClientAuth.need
    /// The protocol versions offered; empty means TLSv1.2 and TLSv1.3.
    public var enabledProtocols: [ProtocolVersion] = []
    /// Clients check that the server certificate names the host (or IP) they connect to.
    public var hostnameVerification = true

    public init() {}

    public var minimumVersion: ProtocolVersion { enabledProtocols.contains(.tls12) || enabledProtocols.isEmpty ? .tls12 : .tls13 }
    public var maximumVersion: ProtocolVersion { enabledProtocols.contains(.tls13) || enabledProtocols.isEmpty ? .tls13 : .tls12 }

    /// Applies one key, given without its `ssl.`/`ssl.quorum.` prefix: `.bad` with the problem, or
    /// `.unknownKey` when the key is not one of these.
    mutating func apply(_ name: String, _ value: String) -> TLSKeyResult {
        func protocols(_ text: String) -> [ProtocolVersion]? {
            var out: [ProtocolVersion] = []
            for p in text.split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) where !p.isEmpty {
                if p == "TLS" { return [] }
                guard let v = ProtocolVersion(rawValue: p) else { return nil }
                out.append(v)
            }
            return out
        }
        switch name {
        case "keyStore.location": if value.isEmpty { return .bad("must name a PEM file") }; keyStoreLocation = value
        case "keyStore.password": keyStorePassword = value
        case "trustStore.location": if value.isEmpty { return .bad("must name a PEM file") }; trustStoreLocation = value
        case "trustStore.password": break   // a PEM trust store is not encrypted
        case "keyStore.type", "trustStore.type":
            if !value.isEmpty && value.uppercased() != "PEM" { return .bad("must be PEM (zkserver reads PEM files only)") }
        case "clientAuth":
            guard let v = ClientAuth(rawValue: value.lowercased()) else { return .bad("must be none, want or need") }
            clientAuth = v
        case "protocol":
            guard let v = protocols(value) else { return .bad("must be TLSv1.2, TLSv1.3 or TLS") }
            // Like a Java SSLContext: TLSv1.2 offers 1.2 only, TLSv1.3 offers 1.3 and 1.2.
            if !v.isEmpty && enabledProtocols.isEmpty { enabledProtocols = v.contains(.tls13) ? [.tls12, .tls13] : [.tls12] }
        case "enabledProtocols":
            guard let v = protocols(value) else { return .bad("must be a comma-separated list of TLSv1.2, TLSv1.3") }
            enabledProtocols = v
        case "hostnameVerification":
            switch value.lowercased() {
            case "true", "yes": hostnameVerification = true
            case "false", "no": hostnameVerification = false
            default: return .bad("must be true or false")
            }
        case "ciphersuites", "handshakeDetectionTimeoutMillis", "crl", "ocsp", "context.supplier.class", "clientHostnameVerification":
            break   // accepted; BoringSSL's defaults apply
        default: return .unknownKey
        }
        return .ok
    }
}

enum TLSKeyResult: Equatable { case ok, bad(String), unknownKey }

/// A problem in a config file, with the line it is on.
public struct ConfigError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

public enum ConfigParser {
    public static let knownFourLetterWords: Set<String> = [
        "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst", "srvr",
        "stat", "stmk", "wchc", "wchp", "wchs",
    ]

    /// Parses zoo.cfg text. Every problem is reported with its line, all at once.
    public static func parse(_ text: String, path: String = "zoo.cfg") -> Result<ServerConfig, ConfigError> {
        var c = ServerConfig()
        c.sourcePath = path
        var problems: [String] = []
        var seen: [String: Int] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            guard let eq = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                problems.append("\(path):\(lineNo): expected key=value, got '\(line)'"); continue
            }
            let key = String(line[..<eq]).trimmingCharacters(in: " \t")
            let value = String(line[line.index(after: eq)...]).trimmingCharacters(in: " \t")
            if let prev = seen[key] {
                problems.append("\(path):\(lineNo): \(key) is set again (first set on line \(prev)); keep one")
            }
            seen[key] = lineNo
            func bad(_ what: String) { problems.append("\(path):\(lineNo): \(key) \(what), got '\(value)'") }
            func int(_ range: ClosedRange<Int>, _ what: String = "must be a positive integer") -> Int? {
                guard let v = Int(value), range.contains(v) else { bad(what); return nil }
                return v
            }
            func bool() -> Bool? {
                switch value.lowercased() {
                case "true", "yes": return true
                case "false", "no": return false
                default: bad("must be true or false"); return nil
                }
            }
            switch key {
            case "tickTime": if let v = int(1...Int(Int32.max)) { c.tickTime = v }
            case "initLimit": if let v = int(1...Int(Int32.max)) { c.initLimit = v }
            case "syncLimit": if let v = int(1...Int(Int32.max)) { c.syncLimit = v }
            case "dataDir": if value.isEmpty { bad("must not be empty") } else { c.dataDir = value }
            case "dataLogDir": c.dataLogDir = value
            case "clientPort": if let v = int(1...65535, "must be a port number 1-65535") { c.clientPort = v }
            case "clientPortAddress": c.clientPortAddress = value
            case "maxClientCnxns": if let v = int(0...Int(Int32.max), "must be 0 (unlimited) or a positive integer") { c.maxClientCnxns = v }
            case "minSessionTimeout": if let v = int(1...Int(Int32.max)) { c.minSessionTimeout = v }
            case "maxSessionTimeout": if let v = int(1...Int(Int32.max)) { c.maxSessionTimeout = v }
            case "4lw.commands.whitelist":
                let words = value.split(separator: ",").map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
                for w in words where w != "*" && !knownFourLetterWords.contains(w) {
                    problems.append("\(path):\(lineNo): 4lw.commands.whitelist names unknown command '\(w)'")
                }
                c.fourLetterWhitelist = Set(words)
            case "autopurge.snapRetainCount": if let v = int(1...1_000_000) { c.snapRetainCount = max(3, v) }
            case "autopurge.purgeInterval": if let v = int(0...1_000_000, "must be 0 (off) or a number of hours") { c.purgeIntervalHours = v }
            case "snapCount": if let v = int(2...Int(Int32.max), "must be an integer >= 2") { c.snapCount = v }
            case "snapSizeLimitInKb": if let v = int(1...Int(Int32.max), "must be a positive number of KiB") { c.snapSizeLimitInKb = v }
            case "DigestAuthenticationProvider.superDigest", "zookeeper.DigestAuthenticationProvider.superDigest":
                guard value.split(separator: ":", omittingEmptySubsequences: false).count == 2 else {
                    bad("must be user:base64digest"); continue
                }
                c.superDigest = value
            case "X509AuthenticationProvider.superUser", "zookeeper.X509AuthenticationProvider.superUser":
                c.x509SuperUser = value
            case "jute.maxbuffer": if let v = int(1024...Int(Int32.max), "must be an integer >= 1024") { c.juteMaxBuffer = v }
            case "extendedTypesEnabled", "zookeeper.extendedTypesEnabled": if let v = bool() { c.extendedTypesEnabled = v }
            case "skipACL": if let v = bool() { c.skipACL = v }
            case "enforceQuota", "zookeeper.enforceQuota": if let v = bool() { c.enforceQuota = v }
            case "reconfigEnabled": if let v = bool() { c.reconfigEnabled = v }
            case "standaloneEnabled": if let v = bool() { c.standaloneEnabled = v }
            case "forceSync": if let v = bool() { c.forceSync = v }
            case "znode.container.checkIntervalMs": if let v = int(1...Int(Int32.max)) { c.containerCheckIntervalMs = v }
            case "znode.container.maxPerMinute": if let v = int(1...Int(Int32.max)) { c.containerMaxPerMinute = v }
            case "globalOutstandingLimit": if let v = int(1...Int(Int32.max)) { c.globalOutstandingLimit = v }
            case "dynamicConfigFile": c.dynamicConfigFile = value
            case "clusterName": c.clusterName = value
            case "quorumListenOnAllIPs": if let v = bool() { c.quorumListenOnAllIPs = v }
            case "secureClientPort": if let v = int(1...65535, "must be a port number 1-65535") { c.secureClientPort = v }
            case "secureClientPortAddress": c.secureClientPortAddress = value
            case "sslQuorum": if let v = bool() { c.sslQuorum = v }
            case "serverCnxnFactory", "zookeeper.serverCnxnFactory":
                // Apache ZooKeeper needs its Netty factory for TLS; zkserver has one network layer for both.
                break
            case "admin.enableServer", "zookeeper.admin.enableServer": if let v = bool() { c.adminEnableServer = v }
            case "admin.serverAddress", "zookeeper.admin.serverAddress":
                if value.isEmpty { bad("must be an address to listen on") } else { c.adminServerAddress = value }
            case "admin.serverPort", "zookeeper.admin.serverPort": if let v = int(1...65535, "must be a port number 1-65535") { c.adminServerPort = v }
            case "admin.commandURL", "zookeeper.admin.commandURL":
                if value.hasPrefix("/") && value.count > 1 && !value.hasSuffix("/") { c.adminCommandURL = value } else { bad("must be a path like /commands") }
            case "admin.snapshot.requireAuth": if let v = bool() { c.adminSnapshotRequireAuth = v }
            case "metricsProvider.className":
                if value == ServerConfig.prometheusProvider || value == ServerConfig.nullMetricsProvider {
                    c.metricsProviderClassName = value
                } else {
                    bad("must be \(ServerConfig.prometheusProvider) or \(ServerConfig.nullMetricsProvider)")
                }
            case "metricsProvider.httpPort": if let v = int(1...65535, "must be a port number 1-65535") { c.metricsHTTPPort = v }
            case "metricsProvider.httpHost":
                if value.isEmpty { bad("must be an address to listen on") } else { c.metricsHTTPHost = value }
            default:
                let sslKey = key.hasPrefix("zookeeper.ssl.") ? String(key.dropFirst("zookeeper.".count)) : key
                if sslKey.hasPrefix("ssl.") {
                    let quorum = sslKey.hasPrefix("ssl.quorum.")
                    let name = String(sslKey.dropFirst(quorum ? "ssl.quorum.".count : "ssl.".count))
                    let result = quorum ? c.quorumTLS.apply(name, value) : c.clientTLS.apply(name, value)
                    switch result {
                    case .ok: continue
                    case .bad(let why): bad(why); continue
                    case .unknownKey: break
                    }
                }
                if key.hasPrefix("server.") {
                    guard let id = Int64(key.dropFirst("server.".count)), id > 0 else {
                        problems.append("\(path):\(lineNo): \(key): the server id must be a positive integer"); continue
                    }
                    switch ServerSpec.parse(id: id, value) {
                    case .success(let s): c.servers.append(s)
                    case .failure(let why): problems.append("\(path):\(lineNo): \(key): \(why.message)")
                    }
                } else {
                    c.unknown.append((key, value))
                }
            }
        }
        if c.dataDir.isEmpty { problems.append("\(path): dataDir is not set; add dataDir=/path/to/data") }
        if let mn = c.minSessionTimeout, let mx = c.maxSessionTimeout, mn > mx {
            problems.append("\(path): minSessionTimeout (\(mn)) is larger than maxSessionTimeout (\(mx))")
        }
        if c.clientPort == nil && c.secureClientPort == nil && c.servers.allSatisfy({ $0.clientPort == nil }) {
            problems.append("\(path): no client port; add clientPort=2181 (or a ;clientPort part on the server.N lines), "
                + "or secureClientPort=2281 with the ssl.* keys for TLS clients only")
        }
        if c.secureClientPort != nil {
            if c.clientTLS.keyStoreLocation == nil {
                problems.append("\(path): secureClientPort is set but ssl.keyStore.location is not; add the PEM file with the server's key and certificate")
            }
            if c.clientTLS.clientAuth != .none && c.clientTLS.trustStoreLocation == nil {
                problems.append("\(path): ssl.clientAuth is \(c.clientTLS.clientAuth.rawValue) but ssl.trustStore.location is not set; "
                    + "add the PEM CA bundle that client certificates are checked against (or set ssl.clientAuth=none)")
            }
        }
        if c.sslQuorum {
            if c.quorumTLS.keyStoreLocation == nil {
                problems.append("\(path): sslQuorum=true needs ssl.quorum.keyStore.location (PEM file with this member's key and certificate)")
            }
            if c.quorumTLS.trustStoreLocation == nil {
                problems.append("\(path): sslQuorum=true needs ssl.quorum.trustStore.location (PEM CA bundle the members' certificates are checked against)")
            }
        }
        if c.adminEnabled, c.metricsEnabled, c.effectiveAdminPort == c.effectiveMetricsPort, c.adminServerAddress != c.metricsHTTPHost {
            problems.append("\(path): admin.serverPort and metricsProvider.httpPort are both \(c.effectiveAdminPort) but on different addresses; use one address or two ports")
        }
        var ids = Set<Int64>()
        for s in c.servers where !ids.insert(s.id).inserted {
            problems.append("\(path): server.\(s.id) is listed twice")
        }
        return problems.isEmpty ? .success(c) : .failure(ConfigError(problems: problems))
    }
}

