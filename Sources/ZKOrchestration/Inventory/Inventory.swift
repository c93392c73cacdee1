/// The validated, defaulted description of one ZooKeeper ensemble.
///
/// This is the internal model: `InventoryLoader` builds it from an Ansible YAML inventory,
/// fills in defaults and validates it. Everything zkctl renders or plans starts from here.
public struct Inventory: Equatable, Sendable {
    public var cluster: ClusterSettings
    /// Nodes sorted by id.
    public var nodes: [NodeSpec]

    public init(cluster: ClusterSettings, nodes: [NodeSpec]) {
        self.cluster = cluster
        self.nodes = nodes.sorted { $0.id < $1.id }
    }

    public var voters: [NodeSpec] { nodes.filter { $0.role == .participant } }
    public var observers: [NodeSpec] { nodes.filter { $0.role == .observer } }
    public var isStandalone: Bool { nodes.count == 1 }
    /// Every host is a loopback address: zkctl can run the cluster on this machine.
    public var isLocal: Bool { nodes.allSatisfy { $0.host.hasPrefix("127.") || $0.host == "localhost" } }

    public func node(id: Int) -> NodeSpec? { nodes.first { $0.id == id } }

    /// Comma-separated `host:clientPort` list, in id order.
    public var connectString: String {
        nodes.map { "\($0.host):\($0.clientPort)" }.joined(separator: ",")
    }
}

public enum Engine: String, CaseIterable, Sendable, Codable {
    /// `zkserver` from this package.
    case bundled
    /// Apache ZooKeeper (Debian package or an unpacked release), started with java.
    case apache
}

public enum NodeRole: String, CaseIterable, Sendable, Codable {
    case participant
    case observer
}

/// Cluster-wide settings: the group vars of the `zookeeper` group.
public struct ClusterSettings: Equatable, Sendable {
    public var name: String
    public var engine: Engine
    /// Engine version, informational for `bundled`; for `apache` the expected release (e.g. "3.8").
    public var version: String?
    public var tickTimeMs: Int
    public var initLimitTicks: Int
    public var syncLimitTicks: Int
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    /// Base directory for node data on remote hosts (Ansible); local clusters use the state dir.
    public var dataDir: String
    public var dataLogDir: String
    /// Config and log directories on remote hosts (local clusters use the state dir).
    public var confDir: String
    public var logDir: String
    public var fourLetterWordWhitelist: [String]
    public var maxClientConnections: Int
    public var autopurgeSnapRetainCount: Int
    public var autopurgePurgeIntervalHours: Int
    /// Apache only: directory of an unpacked release (with `lib/`), or nil for Debian's `/usr/share/java`.
    public var apacheHome: String?
    public var javaHeapMB: Int
    /// `DigestAuthenticationProvider.superDigest` rendered into zoo.cfg (from the cluster's secret
    /// in its state dir, never from the inventory file); zkctl uses it to send reconfig.
    public var superDigest: String? = nil
    /// `zk_allow_even_voters`: an even number of voters was asked for (`zkctl scale --allow-even`).
    public var allowEvenVoters = false
    /// `zk_zkserver`: the zkserver binary of a bundled cluster (set by `zkctl upgrade`); the
    /// --zkserver flag and ZKCTL_ZKSERVER still take precedence.
    public var zkserver: String? = nil
    /// `zk_tls`: clients may connect with TLS on `secureClientPort`, and members talk to each other
    /// over mutual TLS (sslQuorum), with certificates from the cluster's CA (`zkctl tls init`).
    public var tls = false
    /// `zk_secure_client_port`: the TLS client port (base; shifted like clientPort on shared hosts).
    public var secureClientPort = Defaults.secureClientPort
    /// `zk_metrics_port`: the base port of zkserver's Prometheus /metrics (bundled engine; shifted like
    /// clientPort when hosts share an address).
    public var metricsPort = Defaults.metricsPort
    /// `zk_admin_port`: the base port of zkserver's admin server on the node's address (bundled engine:
    /// `transfer_leadership` and Apache's admin commands; shifted like clientPort on shared hosts).
    public var adminPort = Defaults.adminPort
    /// `zk_tls_secret` (Kubernetes): the Secret with ca.crt, tls.crt and tls.key (e.g. from cert-manager).
    public var tlsSecret: String? = nil

    public init(
        name: String, engine: Engine, version: String? = nil,
        tickTimeMs: Int = Defaults.tickTimeMs, initLimitTicks: Int = Defaults.initLimitTicks,
        syncLimitTicks: Int = Defaults.syncLimitTicks,
        clientPort: Int = Defaults.clientPort, quorumPort: Int = Defaults.quorumPort,
        electionPort: Int = Defaults.electionPort,
        dataDir: String = Defaults.dataDir, dataLogDir: String = Defaults.dataLogDir,
        confDir: String = Defaults.confDir, logDir: String = Defaults.logDir,
        fourLetterWordWhitelist: [String] = Defaults.fourLetterWordWhitelist,
        maxClientConnections: Int = Defaults.maxClientConnections,
        autopurgeSnapRetainCount: Int = Defaults.autopurgeSnapRetainCount,
        autopurgePurgeIntervalHours: Int = Defaults.autopurgePurgeIntervalHours,
        apacheHome: String? = nil, javaHeapMB: Int = Defaults.javaHeapMB
    ) {
        self.name = name
        self.engine = engine
        self.version = version
        self.tickTimeMs = tickTimeMs
        self.initLimitTicks = initLimitTicks
        self.syncLimitTicks = syncLimitTicks
        self.clientPort = clientPort
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.dataDir = dataDir
        self.dataLogDir = dataLogDir
        self.confDir = confDir
        self.logDir = logDir
        self.fourLetterWordWhitelist = fourLetterWordWhitelist
        self.maxClientConnections = maxClientConnections
        self.autopurgeSnapRetainCount = autopurgeSnapRetainCount
        self.autopurgePurgeIntervalHours = autopurgePurgeIntervalHours
        self.apacheHome = apacheHome
        self.javaHeapMB = javaHeapMB
    }

    public enum Defaults {
        public static let tickTimeMs = 2000
        public static let initLimitTicks = 10
        public static let syncLimitTicks = 5
        public static let clientPort = 2181
        public static let secureClientPort = 2281
        /// Apache ZooKeeper's PrometheusMetricsProvider default.
        public static let metricsPort = 7000
        /// Apache ZooKeeper's admin.serverPort default.
        public static let adminPort = 8080
        public static let quorumPort = 2888
        public static let electionPort = 3888
        public static let dataDir = "/var/lib/zookeeper"
        public static let dataLogDir = "/var/lib/zookeeper"
        public static let confDir = "/etc/zookeeper/conf"
        public static let logDir = "/var/log/zookeeper"
        /// zkctl's probes need ruok, srvr and mntr; `*` keeps every diagnostic available.
        public static let fourLetterWordWhitelist = ["*"]
        public static let maxClientConnections = 60
        public static let autopurgeSnapRetainCount = 3
        public static let autopurgePurgeIntervalHours = 0
        public static let javaHeapMB = 256
        public static let host = "127.0.0.1"
    }
}

/// One ZooKeeper server: a host of the `zookeeper` group.
public struct NodeSpec: Equatable, Sendable {
    /// The inventory host name (the key under `hosts:`).
    public var name: String
    /// Server id (`myid`, `server.<id>`), 1...255.
    public var id: Int
    public var role: NodeRole
    /// The address peers and clients use.
    public var host: String
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    /// Where a bundled node serves Prometheus metrics (`GET /metrics`).
    public var metricsPort: Int
    /// Where a bundled node serves its admin commands (`GET /commands/...`).
    public var adminPort: Int

    public init(name: String, id: Int, role: NodeRole = .participant, host: String = "127.0.0.1",
                clientPort: Int, quorumPort: Int, electionPort: Int,
                metricsPort: Int = ClusterSettings.Defaults.metricsPort,
                adminPort: Int = ClusterSettings.Defaults.adminPort) {
        self.name = name
        self.id = id
        self.role = role
        self.host = host
        self.clientPort = clientPort
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.metricsPort = metricsPort
        self.adminPort = adminPort
    }

    public var clientAddress: String { "\(host):\(clientPort)" }
}

extension Inventory {
    /// A node's TLS client port: the cluster's base, shifted as its clientPort is from the base.
    public func secureClientPort(_ node: NodeSpec) -> Int {
        cluster.secureClientPort + (node.clientPort - cluster.clientPort)
    }

    /// Does this cluster's engine serve Prometheus metrics on the nodes' metrics ports?
    public var servesMetrics: Bool { cluster.engine == .bundled }

    /// Every port a node listens on, by kind (as the inventory keys name them: zk_<kind>_port).
    public func listeningPorts(_ node: NodeSpec) -> [(kind: String, port: Int)] {
        var ports = [("client", node.clientPort), ("quorum", node.quorumPort), ("election", node.electionPort)]
        if cluster.tls { ports.append(("secure_client", secureClientPort(node))) }
        if servesMetrics { ports += [("metrics", node.metricsPort), ("admin", node.adminPort)] }
        return ports
    }
}

extension Inventory {
    /// Admin servers of a generated loopback ensemble: 7100+id-1, beside the metrics ports, rather than
    /// Apache's 8080, which development machines often use for something else.
    public static let localAdminPort = 7100

    /// The default local ensemble: `count` nodes on 127.0.0.1, ports `base + id - 1` (metrics and admin too).
    public static func local(
        name: String = "local", engine: Engine = .bundled, count: Int = 3,
        clientPort: Int = ClusterSettings.Defaults.clientPort,
        quorumPort: Int = ClusterSettings.Defaults.quorumPort,
        electionPort: Int = ClusterSettings.Defaults.electionPort,
        metricsPort: Int = ClusterSettings.Defaults.metricsPort,
        adminPort: Int = localAdminPort
    ) -> Inventory {
        var settings = ClusterSettings(name: name, engine: engine, clientPort: clientPort,
                                       quorumPort: quorumPort, electionPort: electionPort)
        settings.metricsPort = metricsPort
        settings.adminPort = adminPort
        let nodes = (1...max(count, 1)).map { id in
            NodeSpec(name: "zk\(id)", id: id, host: ClusterSettings.Defaults.host,
                     clientPort: clientPort + id - 1, quorumPort: quorumPort + id - 1,
                     electionPort: electionPort + id - 1, metricsPort: metricsPort + id - 1,
                     adminPort: adminPort + id - 1)
        }
        return Inventory(cluster: settings, nodes: nodes)
    }
}
