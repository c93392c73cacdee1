/// The alert rules and the dashboard `zkctl generate` writes for an ensemble (pure). They read the
/// metric names of Apache ZooKeeper's Prometheus provider, which zkserver exports too, so the same
/// files serve both engines. Apache's own example alerts come first, then zkctl's.
public struct MonitoringModel: Sendable {
    public struct Alert: Sendable {
        public var name: String
        /// What is measured; the alert fires when `query` + `condition` has results for `duration`.
        public var query: String
        public var condition: String
        public var duration: String
        public var severity: String
        public var summary: String

        /// `query` + `condition`, and both texts as single-quoted YAML scalars (stored: templates see
        /// stored properties only).
        public var expr: String
        public var exprYAML: String
        public var summaryYAML: String

        init(name: String, query: String, condition: String, duration: String, severity: String, summary: String) {
            self.name = name; self.query = query; self.condition = condition; self.duration = duration
            self.severity = severity; self.summary = summary
            expr = query + condition
            exprYAML = MonitoringModel.yamlQuoted(expr)
            summaryYAML = MonitoringModel.yamlQuoted(summary)
        }
    }

    public struct Panel: Sendable {
        public var title: String
        public var query: String
        public var unit: String
        public var id: Int
        public var x: Int
        public var y: Int
        /// JSON needs a comma between entries, not after the last.
        public var last: Bool
        public var queryJSON: String
        public var titleJSON: String

        init(title: String, query: String, unit: String, id: Int, x: Int, y: Int, last: Bool) {
            self.title = title; self.query = query; self.unit = unit; self.id = id; self.x = x; self.y = y; self.last = last
            queryJSON = MonitoringModel.jsonQuoted(query)
            titleJSON = MonitoringModel.jsonQuoted(title)
        }
    }

    public var cluster: String
    public var group: String
    public var alerts: [Alert]
    public var panels: [Panel]

    public static func derive(cluster: String) -> MonitoringModel {
        func alert(_ name: String, _ query: String, _ condition: String, _ summary: String,
                   for duration: String = "1m", severity: String = "warning") -> Alert {
            Alert(name: name, query: query, condition: condition, duration: duration, severity: severity, summary: summary)
        }
        let alerts = [
            // Apache ZooKeeper's published examples (its monitoring guide), expressions unchanged.
            alert("ZooKeeperServerDown", "up", " == 0", "{{ $labels.instance }} is down", severity: "critical"),
            alert("ZooKeeperTooManyZnodes", "znode_count", " > 1000000", "{{ $labels.instance }} holds {{ $value }} znodes"),
            alert("ZooKeeperTooManyConnections", "num_alive_connections", " > 50", "{{ $labels.instance }} has {{ $value }} client connections"),
            alert("ZooKeeperDataTooBig", "approximate_data_size /1024 /1024", " > 1 * 1024", "{{ $labels.instance }} holds {{ $value }} MB of znode data"),
            alert("ZooKeeperTooManyWatches", "watch_count", " > 10000", "{{ $labels.instance }} has {{ $value }} watches"),
            alert("ZooKeeperLeaderElection", "increase(election_time_count[5m])", " > 0", "{{ $labels.instance }} took part in a leader election"),
            alert("ZooKeeperTooManyOpenFiles", "open_file_descriptor_count", " > 300", "{{ $labels.instance }} has {{ $value }} open files"),
            alert("ZooKeeperFsyncSlow", "rate(fsynctime_sum[1m])", " > 100", "{{ $labels.instance }} spends {{ $value }} ms/s in fsync"),
            alert("ZooKeeperSnapshotSlow", "rate(snapshottime_sum[5m])", " > 100", "{{ $labels.instance }} spends {{ $value }} ms/s writing snapshots"),
            alert("ZooKeeperAvgLatencyHigh", "avg_latency", " > 100", "{{ $labels.instance }}: average latency {{ $value }} ms"),
            alert("ZooKeeperMemoryFillingUp", #"jvm_memory_bytes_used / jvm_memory_bytes_max{area="heap"}"#, " > 0.8",
                  "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its memory", for: "5m"),
            // zkctl's: what an operator of an ensemble needs paging for.
            alert("ZooKeeperNoLeader", "count by (job) (up == 1)", " unless on (job) count by (job) (synced_followers)",
                  "{{ $labels.job }}: servers are up but none leads (quorum lost?)", severity: "critical"),
            alert("ZooKeeperFollowersNotSynced", "max by (job) (quorum_size) - 1 - max by (job) (synced_followers)", " > 0",
                  "{{ $labels.job }}: {{ $value }} voters are not synced with the leader", for: "5m"),
            alert("ZooKeeperFrequentLeaderChanges", "sum by (job) (increase(election_time_count[1h]))", " > 6",
                  "{{ $labels.job }}: {{ $value }} elections in the last hour", for: "5m"),
            alert("ZooKeeperFsyncMedianSlow", #"fsynctime{quantile="0.5"}"#, " > 50",
                  "{{ $labels.instance }}: median fsync {{ $value }} ms", for: "5m"),
        ]
        let queries: [(String, String, String)] = [
            ("Servers up", "sum by (job) (up)", "short"),
            ("Voters synced with the leader", "max by (job) (synced_followers)", "short"),
            ("Write rate", "sum by (instance) (rate(updatelatency_count[1m]))", "ops"),
            ("Read rate", "sum by (instance) (rate(readlatency_count[1m]))", "ops"),
            ("Write latency p99", #"updatelatency{quantile="0.99"}"#, "ms"),
            ("Read latency p99", #"readlatency{quantile="0.99"}"#, "ms"),
            ("Median fsync", #"fsynctime{quantile="0.5"}"#, "ms"),
            ("Elections", "increase(election_time_count[1h])", "short"),
            ("Znodes", "znode_count", "short"),
            ("Watches", "watch_count", "short"),
            ("Client connections", "num_alive_connections", "short"),
            ("Outstanding requests", "outstanding_requests", "short"),
            ("Sessions", "global_sessions", "short"),
            ("Memory used", #"jvm_memory_bytes_used{area="heap"}"#, "bytes"),
            ("Open files", "open_file_descriptor_count", "short"),
            ("CPU", "rate(process_cpu_seconds_total[1m])", "percentunit"),
        ]
        let panels = queries.enumerated().map { i, q in
            Panel(title: q.0, query: q.1, unit: q.2, id: i + 1, x: (i % 3) * 8, y: (i / 3) * 8, last: i == queries.count - 1)
        }
        return MonitoringModel(cluster: cluster, group: "zookeeper-\(cluster)", alerts: alerts, panels: panels)
    }

    static func yamlQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    static func jsonQuoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// Output files and their templates.
    public static let files: [(path: String, template: String)] = [
        ("monitoring/zookeeper-rules.yml", "monitoring/zookeeper-rules.yml"),
        ("monitoring/grafana-dashboard.json", "monitoring/grafana-dashboard.json"),
    ]
}

extension Renderer {
    /// The Prometheus rules file and the Grafana dashboard of a cluster.
    public func renderMonitoring(cluster: String) throws -> [RenderedFile] {
        let model = MonitoringModel.derive(cluster: cluster)
        return try MonitoringModel.files.map { f in
            RenderedFile(path: f.path, template: f.template, contents: try render(template: f.template, model: model))
        }
    }
}
