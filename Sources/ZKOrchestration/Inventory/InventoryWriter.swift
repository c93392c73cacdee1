/// Writes an `Inventory` back as an Ansible YAML inventory (pure). Every per-host value is
/// explicit, so loading the output gives the same inventory.
public enum InventoryWriter {
    public static func yaml(_ inventory: Inventory, comment: String? = nil) -> String {
        let c = inventory.cluster
        typealias D = ClusterSettings.Defaults
        var lines: [String] = []
        if let comment { lines += comment.split(separator: "\n").map { "# \($0)" } }
        lines += ["all:", "  children:", "    zookeeper:", "      vars:"]
        var vars: [(String, String)] = [("zk_cluster", c.name), ("zk_engine", c.engine.rawValue)]
        if let v = c.version { vars.append(("zk_version", "\"\(v)\"")) }
        vars += [
            ("zk_tick_time", "\(c.tickTimeMs)"), ("zk_init_limit", "\(c.initLimitTicks)"),
            ("zk_sync_limit", "\(c.syncLimitTicks)"), ("zk_client_port", "\(c.clientPort)"),
            ("zk_quorum_port", "\(c.quorumPort)"), ("zk_election_port", "\(c.electionPort)"),
        ]
        if c.dataDir != D.dataDir { vars.append(("zk_data_dir", c.dataDir)) }
        if c.dataLogDir != c.dataDir { vars.append(("zk_datalog_dir", c.dataLogDir)) }
        if c.confDir != D.confDir { vars.append(("zk_conf_dir", c.confDir)) }
        if c.logDir != D.logDir { vars.append(("zk_log_dir", c.logDir)) }
        if c.fourLetterWordWhitelist != D.fourLetterWordWhitelist {
            vars.append(("zk_4lw_whitelist", "[" + c.fourLetterWordWhitelist.joined(separator: ", ") + "]"))
        }
        if c.maxClientConnections != D.maxClientConnections { vars.append(("zk_max_client_cnxns", "\(c.maxClientConnections)")) }
        if c.autopurgeSnapRetainCount != D.autopurgeSnapRetainCount { vars.append(("zk_autopurge_snap_retain_count", "\(c.autopurgeSnapRetainCount)")) }
        if c.autopurgePurgeIntervalHours != D.autopurgePurgeIntervalHours { vars.append(("zk_autopurge_purge_interval", "\(c.autopurgePurgeIntervalHours)")) }
        if let h = c.apacheHome { vars.append(("zk_apache_home", h)) }
        if let z = c.zkserver { vars.append(("zk_zkserver", z)) }
        if c.tls { vars.append(("zk_tls", "true")) }
        if c.secureClientPort != D.secureClientPort { vars.append(("zk_secure_client_port", "\(c.secureClientPort)")) }
        if c.metricsPort != D.metricsPort { vars.append(("zk_metrics_port", "\(c.metricsPort)")) }
        if c.adminPort != D.adminPort { vars.append(("zk_admin_port", "\(c.adminPort)")) }
        if let t = c.tlsSecret { vars.append(("zk_tls_secret", t)) }
        if c.javaHeapMB != D.javaHeapMB { vars.append(("zk_java_heap_mb", "\(c.javaHeapMB)")) }
        if c.allowEvenVoters || inventory.voters.count % 2 == 0 { vars.append(("zk_allow_even_voters", "true")) }
        if inventory.isLocal {
            vars.append(("ansible_connection", "local"))
        }
        lines += vars.map { "        \($0.0): \($0.1)" }
        lines.append("      hosts:")
        for n in inventory.nodes {
            var fields = ["zk_id: \(n.id)"]
            if n.role != .participant { fields.append("zk_role: \(n.role.rawValue)") }
            fields += ["ansible_host: \(n.host)", "zk_client_port: \(n.clientPort)",
                       "zk_quorum_port: \(n.quorumPort)", "zk_election_port: \(n.electionPort)",
                       "zk_metrics_port: \(n.metricsPort)", "zk_admin_port: \(n.adminPort)"]
            lines.append("        \(n.name): {\(fields.joined(separator: ", "))}")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
