/// Everything the Ansible templates need from the inventory, computed here; the generated role
/// keeps the inventory's own variables authoritative and adds the member list zkctl derived
/// (explicit ids and per-server ports, the same ones `zkctl up` uses).
public struct AnsibleModel: Sendable {
    public struct Member: Equatable, Sendable {
        public var name: String
        public var id: Int
        public var role: String
        public var host: String
        public var clientPort: Int
        public var quorumPort: Int
        public var electionPort: Int
        /// `zk_tls`: the TLS client port (shifted like clientPort on shared hosts).
        public var secureClientPort: Int
        public var clientAddress: String
        /// Bundled engine: the admin server (`transfer_leadership` before a restart).
        public var adminPort: Int
        public var metricsPort: Int
        public var serverLine: String
    }

    public var clusterName: String
    public var engine: String
    public var version: String
    public var tickTime: Int
    public var initLimit: Int
    public var syncLimit: Int
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    public var dataDir: String
    public var dataLogDir: String
    public var confDir: String
    public var logDir: String
    public var fourLetterWordWhitelist: String
    public var maxClientCnxns: Int
    public var autopurgeSnapRetainCount: Int
    public var autopurgePurgeInterval: Int
    public var javaHeapMB: Int
    /// Several servers share one address: each gets its own directories and service name.
    public var instanceDirs: Bool
    public var standalone: Bool
    /// `zk_tls`: zoo.cfg gets the TLS keys and the role copies certificates (tasks/tls.yml).
    public var tls: Bool
    public var members: [Member]

    public static func derive(_ inventory: Inventory) -> AnsibleModel {
        let c = inventory.cluster
        let hosts = Set(inventory.nodes.map(\.host))
        var whitelist = c.fourLetterWordWhitelist
        if !whitelist.contains("*") {
            for w in ["ruok", "srvr", "mntr"] where !whitelist.contains(w) { whitelist.append(w) }
        }
        return AnsibleModel(
            clusterName: c.name, engine: c.engine.rawValue,
            version: c.version ?? (c.engine == .apache ? "3.8.4" : "0.1.0"),
            tickTime: c.tickTimeMs, initLimit: c.initLimitTicks, syncLimit: c.syncLimitTicks,
            clientPort: c.clientPort, quorumPort: c.quorumPort, electionPort: c.electionPort,
            dataDir: c.dataDir, dataLogDir: c.dataLogDir, confDir: c.confDir, logDir: c.logDir,
            fourLetterWordWhitelist: whitelist.joined(separator: ","),
            maxClientCnxns: c.maxClientConnections, autopurgeSnapRetainCount: c.autopurgeSnapRetainCount,
            autopurgePurgeInterval: c.autopurgePurgeIntervalHours, javaHeapMB: c.javaHeapMB,
            instanceDirs: hosts.count < inventory.nodes.count, standalone: inventory.isStandalone, tls: c.tls,
            members: inventory.nodes.map { n in
                Member(name: n.name, id: n.id, role: n.role.rawValue, host: n.host, clientPort: n.clientPort,
                       quorumPort: n.quorumPort, electionPort: n.electionPort,
                       secureClientPort: inventory.secureClientPort(n), clientAddress: n.clientAddress,
                       adminPort: n.adminPort, metricsPort: n.metricsPort, serverLine: RenderModel.serverLine(n))
            })
    }

    /// Generated files (relative to the output directory); each comes from `ansible/<path>.mustache`.
    public static let files: [String] = [
        "ansible.cfg",
        "site.yml", "rolling_restart.yml", "upgrade.yml", "scale_out.yml", "scale_in.yml",
        "health_check.yml", "backup.yml",
        "library/zk_status.py", "library/zk_reconfig.py",
        "roles/zk/defaults/main.yml", "roles/zk/vars/main.yml", "roles/zk/meta/main.yml",
        "roles/zk/handlers/main.yml",
        "roles/zk/tasks/main.yml", "roles/zk/tasks/validate.yml", "roles/zk/tasks/install.yml",
        "roles/zk/tasks/config.yml", "roles/zk/tasks/service.yml", "roles/zk/tasks/health.yml",
        "roles/zk/tasks/discover.yml", "roles/zk/tasks/restart.yml", "roles/zk/tasks/report.yml",
        "roles/zk/tasks/backup.yml", "roles/zk/tasks/health_members.yml",
        "roles/zk/tasks/reconfig_add.yml", "roles/zk/tasks/reconfig_remove.yml",
        "roles/zk/templates/zoo.cfg.j2", "roles/zk/templates/zoo.cfg.dynamic.j2",
        "roles/zk/templates/myid.j2", "roles/zk/templates/java.env.j2",
        "roles/zk/templates/zookeeper.service.j2", "roles/zk/templates/zk-service.sh.j2",
    ]

    /// Generated only with `zk_tls: true`.
    public static let tlsFiles: [String] = ["roles/zk/tasks/tls.yml"]

    /// The templated files of this model, in output order.
    public var files: [String] { Self.files + (tls ? Self.tlsFiles : []) }
}

extension Renderer {
    /// The Ansible role and playbooks of an inventory.
    public func renderAnsible(_ inventory: Inventory) throws -> [RenderedFile] {
        let model = AnsibleModel.derive(inventory)
        return try model.files.map { path in
            let template = "ansible/" + path
            return RenderedFile(path: path, template: template, contents: try render(template: template, model: model))
        } + renderMonitoring(cluster: inventory.cluster.name)
    }
}
