import Foundation

/// Text and JSON views of a cluster's health (pure formatting).
public enum Report {
    /// With `metrics`, each row also shows the node's outstanding requests, znodes, watches, sessions
    /// and the p99 of write latency and fsync time; `-` where they could not be read.
    public static func table(_ inventory: Inventory, _ health: ClusterHealth, metrics: ClusterMetrics? = nil) -> String {
        var header = ["ID", "ROLE", "STATE", "CLIENT", "PID", "ZXID"]
        if metrics != nil { header += ["OUTSTANDING", "ZNODES", "WATCHES", "SESSIONS", "WRITE_P99", "FSYNC_P99"] }
        var rows: [[String]] = [header]
        for n in health.nodes {
            var row = [
                "\(n.id)",
                n.observed,
                n.ok ? "ok" : "PROBLEM",
                n.clientAddress,
                n.pid.map { "\($0)" } ?? "-",
                FourLetterWords.formatZxid(n.zxid),
            ]
            if let metrics {
                let m = metrics.nodes[n.id]?.metrics
                func count(_ v: Int?) -> String { v.map(String.init) ?? "-" }
                row += [count(m?.outstandingRequests), count(m?.znodes), count(m?.watches), count(m?.sessions),
                        NodeMetrics.formatSeconds(m?.writeP99Seconds), NodeMetrics.formatSeconds(m?.fsyncP99Seconds)]
            }
            rows.append(row)
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        var lines = ["cluster \(inventory.cluster.name) (\(inventory.cluster.engine.rawValue), \(inventory.nodes.count) \(inventory.nodes.count == 1 ? "node" : "nodes")): \(health.state.rawValue)"]
        for row in rows {
            lines.append(zip(row, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmed(" "))
        }
        for p in health.problems { lines.append("problem: \(p)") }
        if let note = metrics?.note { lines.append("metrics: \(note)") }
        for n in health.nodes {
            if let p = metrics?.nodes[n.id]?.problem { lines.append("metrics of node \(n.id): \(p)") }
        }
        lines.append("connect: \(inventory.connectString)")
        return lines.joined(separator: "\n")
    }

    public struct NodeJSON: Codable, Equatable {
        public var id: Int
        public var expectedRole: String
        public var role: String
        public var ok: Bool
        public var client: String
        public var pid: Int32?
        public var zxid: String?
        public var problem: String?
        /// `zkctl status`: figures from the node's /metrics, and why they are missing when they are.
        public var metrics: NodeMetrics?
        public var metricsProblem: String?
    }

    public struct ClusterJSON: Codable, Equatable {
        public var cluster: String
        public var engine: String
        public var state: String
        public var leader: Int?
        public var connectString: String
        public var nodes: [NodeJSON]
        public var roles: [String: Int]
        public var writeCheck: String
        public var problems: [String]
        /// Set by `zkctl up`: seconds from the start of `up` until the ensemble was healthy.
        public var secondsToHealthy: Double?
        /// `zkctl status`: why no node has metrics (the engine serves none).
        public var metricsNote: String?
    }

    public static func json(_ inventory: Inventory, _ health: ClusterHealth, metrics: ClusterMetrics? = nil) -> ClusterJSON {
        var roles: [String: Int] = [:]
        for n in health.nodes { roles[n.observed, default: 0] += 1 }
        let write: String
        switch health.write {
        case .committed(let z): write = "committed " + FourLetterWords.formatZxid(z)
        case .failed(let why): write = "failed: " + why
        case .skipped: write = "skipped"
        }
        return ClusterJSON(
            cluster: inventory.cluster.name, engine: inventory.cluster.engine.rawValue, state: health.state.rawValue,
            leader: health.leader, connectString: inventory.connectString,
            nodes: health.nodes.map {
                NodeJSON(id: $0.id, expectedRole: $0.expectedRole.rawValue, role: $0.observed, ok: $0.ok,
                         client: $0.clientAddress, pid: $0.pid, zxid: $0.zxid.map { FourLetterWords.formatZxid($0) },
                         problem: $0.problem, metrics: metrics?.nodes[$0.id]?.metrics,
                         metricsProblem: metrics?.nodes[$0.id]?.problem)
            },
            roles: roles, writeCheck: write, problems: health.problems, metricsNote: metrics?.note)
    }

    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    public static func plan(_ plan: Plan, title: String) -> String {
        var lines = [title]
        if plan.steps.isEmpty || plan.changesNothing { lines.append("  nothing to change") }
        for (i, s) in plan.steps.enumerated() where !(plan.changesNothing && s == .waitHealthy) {
            lines.append("  \(i + 1). \(s.description)")
        }
        for b in plan.blockers { lines.append("  blocked: \(b)") }
        return lines.joined(separator: "\n")
    }
}
