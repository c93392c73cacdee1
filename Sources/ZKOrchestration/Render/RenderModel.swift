import Foundation

/// Where one node's files live. Local clusters use the state dir; generators for remote hosts
/// use the inventory's data dirs.
public struct NodeLayout: Equatable, Sendable {
    public var root: String
    public var confDir: String
    public var dataDir: String
    public var dataLogDir: String
    public var logDir: String
    /// Where the node's TLS files are (`zk_tls`): the CA bundle and `node-<id>.pem`.
    public var tlsDir: String

    /// A local node: everything under `root`.
    public init(root: String, tlsDir: String? = nil) {
        self.root = root
        self.confDir = root + "/conf"
        self.dataDir = root + "/data"
        self.dataLogDir = root + "/datalog"
        self.logDir = root + "/logs"
        self.tlsDir = tlsDir ?? root + "/conf/tls"
    }

    /// A node on another host: files are written under `root` here, but the config refers to the
    /// host's own directories.
    public init(root: String, confDir: String, dataDir: String, dataLogDir: String, logDir: String) {
        self.root = root
        self.confDir = confDir
        self.dataDir = dataDir
        self.dataLogDir = dataLogDir
        self.logDir = logDir
        self.tlsDir = confDir + "/tls"
    }

    public var zooCfg: String { confDir + "/zoo.cfg" }
    public var dynamicCfg: String { confDir + "/zoo.cfg.dynamic" }
    public var myid: String { dataDir + "/myid" }
    public var logFile: String { logDir + "/zookeeper.log" }
    public var pidFile: String { root + "/pid" }
}

/// Directory layout of one local cluster under the zkctl home.
public struct ClusterLayout: Equatable, Sendable {
    public var root: String

    public init(home: String, cluster: String) {
        self.root = home + "/clusters/" + cluster
    }

    public var inventoryFile: String { root + "/inventory.yaml" }
    /// Nodes share the cluster's TLS dir (`zkctl tls init` writes it).
    public func node(_ id: Int) -> NodeLayout { NodeLayout(root: root + "/nodes/\(id)", tlsDir: root + "/tls") }
}

/// Everything a server template needs for one node, computed in Swift so the templates stay logic-less.
public struct NodeRenderModel: Equatable, Sendable {
    public struct ServerLine: Equatable, Sendable {
        public var line: String
    }

    public var clusterName: String
    public var engine: String
    public var isApache: Bool
    public var isBundled: Bool
    public var id: Int
    public var name: String
    public var role: String
    public var isObserver: Bool
    public var host: String
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    /// Bundled engine: zkserver serves Prometheus metrics here (`metricsProvider.httpPort`).
    public var metricsPort: Int
    /// Bundled engine: zkserver's admin server (`transfer_leadership`, Apache's admin commands).
    public var adminPort: Int
    public var tickTime: Int
    public var initLimit: Int
    public var syncLimit: Int
    public var maxClientCnxns: Int
    public var autopurgeSnapRetainCount: Int
    public var autopurgePurgeInterval: Int
    public var fourLetterWordWhitelist: String
    public var standalone: Bool
    public var ensemble: Bool
    /// Membership in `zoo.cfg.dynamic`, referenced by `dynamicConfigFile` (ready for reconfig).
    public var dynamicConfig: Bool
    public var servers: [ServerLine]
    public var confDir: String
    public var dataDir: String
    public var dataLogDir: String
    public var logDir: String
    public var logFile: String
    public var zooCfg: String
    public var dynamicConfigFile: String
    public var connectString: String
    public var ensembleSize: Int
    public var superDigest: String? = nil
    /// `zk_tls`: secureClientPort and sslQuorum with the files below.
    public var tls = false
    public var secureClientPort = 0
    public var tlsKeyStore = ""
    public var tlsTrustStore = ""
}

/// One file zkctl writes, relative to the node's root directory.
public struct RenderedFile: Equatable, Sendable {
    public var path: String
    public var template: String
    public var contents: String

    /// Whether the file holds a private key: written with mode 0600.
    public var isPrivate: Bool {
        path == KubernetesTLSSecret.file || path == KubernetesModel.superuserSecretFile || AnsibleTLS.isPrivateKey(path)
    }

    /// Writes generated files under `dir` (created): private ones with mode 0600, scripts and
    /// modules (.sh, .py) executable.
    public static func write(_ files: [RenderedFile], to dir: String) throws {
        try FileSystem.makeDirectory(dir)
        for f in files {
            let path = dir + "/" + f.path
            if f.isPrivate {
                try FileSystem.makeDirectory((path as NSString).deletingLastPathComponent)
                try ClusterStore.writePrivate(f.contents, to: path)
                continue
            }
            try FileSystem.write(f.contents, to: path)
            if f.path.hasSuffix(".sh") || f.path.hasSuffix(".py") {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            }
        }
    }
}

public enum RenderModel {
    /// Loopback inventories render the state-dir layout (`<root>/clusters/<name>/nodes/<id>`);
    /// others render one directory per host (`<root>/hosts/<host>`) whose config points at the
    /// inventory's directories on that host.
    public static func layout(for inventory: Inventory, root: String) -> (NodeSpec) -> NodeLayout {
        if inventory.isLocal {
            let cluster = ClusterLayout(home: root, cluster: inventory.cluster.name)
            return { cluster.node($0.id) }
        }
        let c = inventory.cluster
        return { node in
            NodeLayout(root: "\(root)/hosts/\(node.name)", confDir: c.confDir, dataDir: c.dataDir,
                       dataLogDir: c.dataLogDir, logDir: c.logDir)
        }
    }

    /// `server.N=host:quorum:election:role;clientHost:clientPort`, the dynamic-config form.
    public static func serverLine(_ node: NodeSpec) -> String {
        "server.\(node.id)=\(node.host):\(node.quorumPort):\(node.electionPort):\(node.role.rawValue);\(node.host):\(node.clientPort)"
    }

    public static func derive(inventory: Inventory, node: NodeSpec, layout: NodeLayout) -> NodeRenderModel {
        let c = inventory.cluster
        let standalone = inventory.isStandalone
        var model = NodeRenderModel(
            clusterName: c.name, engine: c.engine.rawValue,
            isApache: c.engine == .apache, isBundled: c.engine == .bundled,
            id: node.id, name: node.name, role: node.role.rawValue, isObserver: node.role == .observer,
            host: node.host, clientPort: node.clientPort, quorumPort: node.quorumPort,
            electionPort: node.electionPort, metricsPort: node.metricsPort, adminPort: node.adminPort,
            tickTime: c.tickTimeMs, initLimit: c.initLimitTicks, syncLimit: c.syncLimitTicks,
            maxClientCnxns: c.maxClientConnections,
            autopurgeSnapRetainCount: c.autopurgeSnapRetainCount,
            autopurgePurgeInterval: c.autopurgePurgeIntervalHours,
            fourLetterWordWhitelist: c.fourLetterWordWhitelist.joined(separator: ","),
            standalone: standalone, ensemble: !standalone,
            dynamicConfig: !standalone,
            servers: standalone ? [] : inventory.nodes.map { .init(line: serverLine($0)) },
            confDir: layout.confDir, dataDir: layout.dataDir, dataLogDir: layout.dataLogDir,
            logDir: layout.logDir, logFile: layout.logFile, zooCfg: layout.zooCfg,
            dynamicConfigFile: layout.dynamicCfg, connectString: inventory.connectString,
            ensembleSize: inventory.nodes.count, superDigest: c.superDigest)
        if c.tls {
            let tls = TLSLayout(dir: layout.tlsDir)
            model.tls = true
            model.secureClientPort = inventory.secureClientPort(node)
            model.tlsKeyStore = tls.nodeKeyStore(node.id)
            model.tlsTrustStore = tls.caCertificate
        }
        return model
    }

    /// The server files of one node: (path relative to the node root, template name, included?).
    public static func files(for model: NodeRenderModel) -> [(path: String, template: String)] {
        var files: [(String, String)] = [
            ("conf/zoo.cfg", "server/zoo.cfg"),
        ]
        if model.dynamicConfig { files.append(("conf/zoo.cfg.dynamic", "server/zoo.cfg.dynamic")) }
        files.append(("data/myid", "server/myid"))
        files.append(("conf/node.env", "server/node.env"))
        if model.isApache { files.append(("conf/log4j.properties", "server/log4j.properties")) }
        return files
    }
}
