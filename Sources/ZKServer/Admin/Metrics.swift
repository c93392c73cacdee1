import FoundationEssentials

/// A cumulative histogram with fixed bucket bounds, updated on the server's event loop (no locks).
public struct Histogram: Sendable {
    public let bounds: [Double]
    public private(set) var counts: [UInt64]
    public private(set) var sum: Double = 0
    public private(set) var count: UInt64 = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    /// Request latencies and fsync times, in seconds: 100 µs to 10 s.
    public static let latencyBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public mutating func observe(_ seconds: Double) {
        sum += seconds
        count += 1
        // Non-cumulative per bucket; the exporter accumulates on scrape.
        if let i = bounds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
    }

    public mutating func observe(nanos: UInt64) { observe(Double(nanos) / 1e9) }
}

/// What the server measures on its hot path besides `ServerStats`: latency and fsync distributions.
public struct ServerMetrics: Sendable {
    public var readLatency = Histogram(bounds: Histogram.latencyBounds)
    public var writeLatency = Histogram(bounds: Histogram.latencyBounds)
    public var fsyncTime = Histogram(bounds: Histogram.latencyBounds)
    public init() {}
}

/// Prometheus text exposition format (version 0.0.4) of a server reading and its histograms. Pure.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let states = ["standalone", "leader", "follower", "observer"]

    public static func render(_ r: ServerReading, _ m: ServerMetrics) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: String = "", _ value: String) {
            out += name + (labels.isEmpty ? "" : "{\(labels)}") + " " + value + "\n"
        }
        func gauge(_ name: String, _ help: String, _ value: Int64) {
            family(name, "gauge", help); sample(name, "", String(value))
        }
        func counter(_ name: String, _ help: String, _ value: Int64) {
            family(name, "counter", help); sample(name, "", String(value))
        }
        func histogram(_ h: Histogram, _ name: String, _ labels: String) {
            let pre = labels.isEmpty ? "" : labels + ","
            var cumulative: UInt64 = 0
            for (b, c) in zip(h.bounds, h.counts) {
                cumulative += c
                sample(name + "_bucket", pre + "le=\"\(number(b))\"", String(cumulative))
            }
            sample(name + "_bucket", pre + "le=\"+Inf\"", String(h.count))
            sample(name + "_sum", labels, number(h.sum))
            sample(name + "_count", labels, String(h.count))
        }

        family("zk_request_latency_seconds", "histogram", "Time from receiving a request to sending its reply, by kind (read or write).")
        histogram(m.readLatency, "zk_request_latency_seconds", "type=\"read\"")
        histogram(m.writeLatency, "zk_request_latency_seconds", "type=\"write\"")
        family("zk_fsync_seconds", "histogram", "Time of each transaction log fsync.")
        histogram(m.fsyncTime, "zk_fsync_seconds", "")
        gauge("zk_outstanding_requests", "Writes accepted and not yet applied.", Int64(r.outstandingRequests))
        gauge("zk_znode_count", "Znodes in the data tree (the root counted twice, as Apache ZooKeeper does).", Int64(r.nodeCount))
        gauge("zk_watch_count", "Watches set by clients.", Int64(r.watchCount))
        gauge("zk_ephemerals_count", "Ephemeral znodes.", Int64(r.ephemerals))
        gauge("zk_global_sessions", "Live sessions.", Int64(r.sessions))
        gauge("zk_num_alive_connections", "Open client connections.", Int64(r.connections.count))
        gauge("zk_approximate_data_size", "Bytes of znode data and paths.", Int64(r.approximateDataSize))
        gauge("zk_last_zxid", "The last applied transaction id.", r.lastZxid)
        counter("zk_packets_received_total", "Client packets received.", Int64(r.packetsReceived))
        counter("zk_packets_sent_total", "Client packets sent.", Int64(r.packetsSent))
        counter("zk_snap_count_total", "Snapshots written since start.", Int64(r.snapshotsTaken))
        counter("zk_auth_failed_count_total", "Failed authentications.", Int64(r.authFailed))
        gauge("zk_uptime_seconds", "Seconds since the server started.", r.uptimeMs / 1000)
        family("zk_quorum_state", "gauge", "1 for this server's current role, 0 for the others.")
        for s in states { sample("zk_quorum_state", "state=\"\(s)\"", r.mode == s ? "1" : "0") }
        gauge("zk_serving", "1 when the server is serving clients.", r.serving ? 1 : 0)
        return out
    }

    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }
}
