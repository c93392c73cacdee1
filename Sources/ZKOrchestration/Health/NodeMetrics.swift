import Foundation

/// One sample of the Prometheus text exposition format: `name{label="value",...} value [timestamp]`.
public struct MetricSample: Equatable, Sendable {
    public var name: String
    public var labels: [String: String]
    public var value: Double

    public init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// Reads the Prometheus text exposition format (version 0.0.4) and estimates quantiles from
/// histogram buckets. Pure.
public enum PrometheusExposition {
    /// Every sample line; comments, blank lines and lines that are not samples are skipped.
    public static func parse(_ text: String) -> [MetricSample] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).compactMap { parseLine(Substring($0)) }
    }

    static func parseLine(_ line: Substring) -> MetricSample? {
        let chars = Array(line.unicodeScalars)
        var i = 0
        while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 }
        guard i < chars.count, chars[i] != "#" else { return nil }
        let nameStart = i
        while i < chars.count, isNameChar(chars[i]) { i += 1 }
        guard i > nameStart else { return nil }
        let name = String(String.UnicodeScalarView(chars[nameStart..<i]))
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while true {
                while i < chars.count, chars[i] == " " || chars[i] == "," { i += 1 }
                guard i < chars.count else { return nil }
                if chars[i] == "}" { i += 1; break }
                let keyStart = i
                while i < chars.count, isNameChar(chars[i]) { i += 1 }
                let key = String(String.UnicodeScalarView(chars[keyStart..<i]))
                guard !key.isEmpty, i + 1 < chars.count, chars[i] == "=", chars[i + 1] == "\"" else { return nil }
                i += 2
                var value = String.UnicodeScalarView()
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count {
                        i += 1
                        value.append(chars[i] == "n" ? "\n" : chars[i])
                    } else {
                        value.append(chars[i])
                    }
                    i += 1
                }
                guard i < chars.count else { return nil }
                i += 1
                labels[key] = String(value)
            }
        }
        let rest = String(String.UnicodeScalarView(chars[i...])).split(separator: " ", omittingEmptySubsequences: true)
        guard let first = rest.first, let value = number(first) else { return nil }
        return MetricSample(name: name, labels: labels, value: value)
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == ":"
    }

    /// A sample value: a decimal or `+Inf`, `-Inf`, `NaN`.
    static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    /// The `q`-quantile (0...1) of a histogram given its cumulative buckets (upper bound `le`, count
    /// of observations at or below it, `+Inf` last), interpolating linearly inside the bucket the
    /// rank falls in, as Prometheus' `histogram_quantile` does. When the rank falls in the `+Inf`
    /// bucket the highest finite bound is returned. Nil without observations.
    public static func quantile(_ q: Double, buckets: [(le: Double, count: Double)]) -> Double? {
        let sorted = buckets.sorted { $0.le < $1.le }
        guard let last = sorted.last, last.le == .infinity, last.count > 0, (0...1).contains(q) else { return nil }
        let rank = q * last.count
        var lowerBound = 0.0, lowerCount = 0.0
        for b in sorted {
            if b.count >= rank, b.count > lowerCount {
                if b.le == .infinity { return lowerBound }
                return lowerBound + (b.le - lowerBound) * (rank - lowerCount) / (b.count - lowerCount)
            }
            lowerBound = b.le
            lowerCount = b.count
        }
        return lowerBound
    }

    /// The cumulative buckets of histogram `name` among the samples whose labels include `labels`.
    public static func buckets(_ samples: [MetricSample], histogram name: String,
                               labels: [String: String] = [:]) -> [(le: Double, count: Double)] {
        samples.compactMap { s in
            guard s.name == name + "_bucket", labels.allSatisfy({ s.labels[$0.key] == $0.value }),
                  let le = s.labels["le"].flatMap({ number(Substring($0)) }) else { return nil }
            return (le, s.value)
        }
    }
}

/// The figures `zkctl status` shows from a node's /metrics. A figure the node does not expose is nil.
public struct NodeMetrics: Equatable, Sendable, Codable {
    public var outstandingRequests: Int?
    public var znodes: Int?
    public var watches: Int?
    public var sessions: Int?
    /// Write requests answered, the count behind the latency histogram.
    public var writes: Int?
    /// 99th percentile of write latency and of transaction log fsync time, estimated from the histogram buckets.
    public var writeP99Seconds: Double?
    public var fsyncP99Seconds: Double?

    public init(outstandingRequests: Int? = nil, znodes: Int? = nil, watches: Int? = nil, sessions: Int? = nil,
                writes: Int? = nil, writeP99Seconds: Double? = nil, fsyncP99Seconds: Double? = nil) {
        self.outstandingRequests = outstandingRequests
        self.znodes = znodes
        self.watches = watches
        self.sessions = sessions
        self.writes = writes
        self.writeP99Seconds = writeP99Seconds
        self.fsyncP99Seconds = fsyncP99Seconds
    }

    /// Picks Apache ZooKeeper's metric names (which zkserver exports too) out of a scrape; latency and
    /// fsync p99 from zkserver's histograms, else from Apache's `updatelatency` summary.
    public init(samples: [MetricSample]) {
        func gauge(_ name: String) -> Int? {
            samples.first { $0.name == name && $0.labels.isEmpty && $0.value.isFinite }.map { Int($0.value) }
        }
        let write = ["type": "write"]
        // Estimates to the microsecond: finer digits are interpolation noise.
        func p99(_ buckets: [(le: Double, count: Double)]) -> Double? {
            PrometheusExposition.quantile(0.99, buckets: buckets).map { ($0 * 1e6).rounded() / 1e6 }
        }
        self.init(
            outstandingRequests: gauge("outstanding_requests"), znodes: gauge("znode_count"),
            watches: gauge("watch_count"), sessions: gauge("global_sessions"),
            writes: samples.first { $0.name == "zk_request_latency_seconds_count" && $0.labels == write }.map { Int($0.value) }
                ?? gauge("updatelatency_count"),
            writeP99Seconds: p99(PrometheusExposition.buckets(samples, histogram: "zk_request_latency_seconds", labels: write))
                ?? samples.first { $0.name == "updatelatency" && $0.labels == ["quantile": "0.99"] && $0.value.isFinite }.map { $0.value / 1000 },
            fsyncP99Seconds: p99(PrometheusExposition.buckets(samples, histogram: "zk_fsync_seconds")))
    }

    public init(text: String) { self.init(samples: PrometheusExposition.parse(text)) }

    /// `1.8ms`, `420µs`, `2.50s`; `-` for nil.
    public static func formatSeconds(_ s: Double?) -> String {
        guard let s else { return "-" }
        if s < 0.001 { return "\(Int((s * 1e6).rounded()))µs" }
        if s < 1 { return String(format: "%.1fms", s * 1000) }
        return String(format: "%.2fs", s)
    }
}

/// What `zkctl status` read from one node's metrics endpoint.
public struct NodeMetricsReading: Equatable, Sendable {
    public var metrics: NodeMetrics?
    /// Why there are no metrics, when there are none.
    public var problem: String?

    public init(metrics: NodeMetrics? = nil, problem: String? = nil) {
        self.metrics = metrics
        self.problem = problem
    }
}

/// The metrics of every node of a cluster, for `zkctl status`.
public struct ClusterMetrics: Equatable, Sendable {
    public var nodes: [Int: NodeMetricsReading]
    /// Said once for the whole cluster (e.g. the engine serves no metrics).
    public var note: String?

    public init(nodes: [Int: NodeMetricsReading] = [:], note: String? = nil) {
        self.nodes = nodes
        self.note = note
    }

    public static let apacheNote = "zkctl runs Apache ZooKeeper without a metrics endpoint (Debian's ZooKeeper 3.8 lacks the Prometheus provider's jars); the metrics columns stay blank"
}
