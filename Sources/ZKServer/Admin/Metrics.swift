import CoreMetrics
import Prometheus

/// One server's Prometheus metrics, in a registry of its own (several servers may share a process,
/// so nothing goes through a global `MetricsSystem`).
///
/// The hot path records into the latency and fsync histograms (one `recordNanoseconds` per request:
/// a short uncontended lock inside swift-prometheus). Gauges and counters mirror the server's own
/// reading and are brought up to date when /metrics is scraped, on the server's loop.
public final class ServerMetrics {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let states = ["standalone", "leader", "follower", "observer"]

    /// Request latencies and fsync times: 100 µs to 10 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public let registry: PrometheusCollectorRegistry
    let readLatency: any TimerHandler
    let writeLatency: any TimerHandler
    let fsyncTime: any TimerHandler

    /// Gauges set from a reading at scrape time.
    private let gauges: [(any MeterHandler, (ServerReading) -> Double)]
    /// Counters that follow a reading's counts (which `srst` may reset: a drop starts counting again).
    private let counters: [(any CounterHandler, (ServerReading) -> Int)]
    private var counted: [Int]
    private let quorumState: [(String, any MeterHandler)]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // The whole metric name (no namespace or unit parts added) and its HELP text.
        func named(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        let latency = named("zk_request_latency_seconds", "Time from receiving a request to sending its reply, by kind (read or write).")
        readLatency = registry.makeDurationHistogram(descriptor: latency, labels: [("type", "read")], buckets: Self.latencyBuckets)
        writeLatency = registry.makeDurationHistogram(descriptor: latency, labels: [("type", "write")], buckets: Self.latencyBuckets)
        fsyncTime = registry.makeDurationHistogram(descriptor: named("zk_fsync_seconds", "Time of each transaction log fsync."),
                                                   buckets: Self.latencyBuckets)
        func gauge(_ name: String, _ help: String, _ value: @escaping (ServerReading) -> Double) -> (any MeterHandler, (ServerReading) -> Double) {
            (registry.makeGauge(descriptor: named(name, help)), value)
        }
        gauges = [
            gauge("zk_outstanding_requests", "Writes accepted and not yet applied.") { Double($0.outstandingRequests) },
            gauge("zk_znode_count", "Znodes in the data tree (the root counted twice, as Apache ZooKeeper does).") { Double($0.nodeCount) },
            gauge("zk_watch_count", "Watches set by clients.") { Double($0.watchCount) },
            gauge("zk_ephemerals_count", "Ephemeral znodes.") { Double($0.ephemerals) },
            gauge("zk_global_sessions", "Live sessions.") { Double($0.sessions) },
            gauge("zk_num_alive_connections", "Open client connections.") { Double($0.connections.count) },
            gauge("zk_approximate_data_size", "Bytes of znode data and paths.") { Double($0.approximateDataSize) },
            gauge("zk_last_zxid", "The last applied transaction id.") { Double($0.lastZxid) },
            gauge("zk_uptime_seconds", "Seconds since the server started.") { Double($0.uptimeMs / 1000) },
            gauge("zk_serving", "1 when the server is serving clients.") { $0.serving ? 1 : 0 },
        ]
        func counter(_ name: String, _ help: String, _ value: @escaping (ServerReading) -> Int) -> (any CounterHandler, (ServerReading) -> Int) {
            (registry.makeCounter(descriptor: named(name, help)), value)
        }
        counters = [
            counter("zk_packets_received_total", "Client packets received.") { $0.packetsReceived },
            counter("zk_packets_sent_total", "Client packets sent.") { $0.packetsSent },
            counter("zk_snap_count_total", "Snapshots written since start.") { $0.snapshotsTaken },
            counter("zk_auth_failed_count_total", "Failed authentications.") { $0.authFailed },
        ]
        counted = Array(repeating: 0, count: counters.count)
        let state = named("zk_quorum_state", "1 for this server's current role, 0 for the others.")
        quorumState = Self.states.map { ($0, registry.makeGauge(descriptor: state, labels: [("state", $0)])) }
    }

    /// One request answered after `nanos`.
    @inline(__always)
    func observeRequest(nanos: UInt64, write: Bool) {
        (write ? writeLatency : readLatency).recordNanoseconds(Int64(clamping: nanos))
    }

    /// One transaction log fsync that took `nanos`.
    func observeFsync(nanos: UInt64) {
        fsyncTime.recordNanoseconds(Int64(clamping: nanos))
    }

    /// Brings the gauges and counters up to `reading` and returns the text exposition. Call on the server's loop.
    public func scrape(_ reading: ServerReading) -> [UInt8] {
        for (g, value) in gauges { g.set(value(reading)) }
        for (i, (c, value)) in counters.enumerated() {
            let now = value(reading)
            c.increment(by: Int64(now >= counted[i] ? now - counted[i] : now))
            counted[i] = now
        }
        for (state, g) in quorumState { g.set(reading.mode == state ? 1.0 : 0.0) }
        return registry.emitToBuffer()
    }
}
