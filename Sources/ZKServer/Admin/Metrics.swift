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
        // Apache ZooKeeper's names (its Prometheus metrics provider: no prefix, no unit suffix), so its
        // alert rules and dashboards work unchanged. Times are milliseconds, as Apache's.
        gauges = [
            gauge("outstanding_requests", "Writes accepted and not yet applied.") { Double($0.outstandingRequests) },
            gauge("znode_count", "Znodes in the data tree (the root counted twice, as Apache ZooKeeper does).") { Double($0.nodeCount) },
            gauge("watch_count", "Watches set by clients.") { Double($0.watchCount) },
            gauge("ephemerals_count", "Ephemeral znodes.") { Double($0.ephemerals) },
            gauge("global_sessions", "Live sessions.") { Double($0.sessions) },
            gauge("local_sessions", "Local sessions (zkserver has none).") { _ in 0 },
            gauge("num_alive_connections", "Open client connections.") { Double($0.connections.count) },
            gauge("approximate_data_size", "Bytes of znode data and paths.") { Double($0.approximateDataSize) },
            gauge("uptime", "Milliseconds since the server started.") { Double($0.uptimeMs) },
            gauge("avg_latency", "Average request latency in ms since the last stat reset.") { $0.latencyAvgMs },
            gauge("min_latency", "Least request latency in ms since the last stat reset.") { Double($0.latencyMinMs) },
            gauge("max_latency", "Greatest request latency in ms since the last stat reset.") { Double($0.latencyMaxMs) },
            gauge("packets_received", "Client packets received since the last stat reset.") { Double($0.packetsReceived) },
            gauge("packets_sent", "Client packets sent since the last stat reset.") { Double($0.packetsSent) },
            gauge("open_file_descriptor_count", "Open file descriptors.") { Double($0.openFileDescriptors) },
            gauge("max_file_descriptor_count", "The file descriptor limit.") { Double($0.maxFileDescriptors) },
            gauge("auth_failed_count", "Failed authentications.") { Double($0.authFailed) },
            // zkserver's own.
            gauge("zk_last_zxid", "The last applied transaction id.") { Double($0.lastZxid) },
            gauge("zk_serving", "1 when the server is serving clients.") { $0.serving ? 1 : 0 },
        ]
        func counter(_ name: String, _ help: String, _ value: @escaping (ServerReading) -> Int) -> (any CounterHandler, (ServerReading) -> Int) {
            (registry.makeCounter(descriptor: named(name, help)), value)
        }
        counters = [
            counter("snap_count", "Snapshots written since start.") { $0.snapshotsTaken },
            counter("connection_rejected", "Client connections refused (maxClientCnxns).") { $0.connectionsRejected },
            counter("large_requests_rejected", "Requests refused for their size.") { $0.largeRequestsRejected },
            counter("looking_count", "Times this server lost its leader and looked for one.") { $0.lookingCount },
        ]
        counted = Array(repeating: 0, count: counters.count)
        let state = named("zk_quorum_state", "1 for this server's current role, 0 for the others.")
        quorumState = Self.states.map { ($0, registry.makeGauge(descriptor: state, labels: [("state", $0)])) }
    }

    // Apache's summaries (its BASIC ones export the median, its ADVANCED ones also 0.9 and 0.99).
    let readLatencyMs = SlidingSummary("readlatency", help: "Read request latency in ms.", quantiles: [0.5, 0.9, 0.99])
    let updateLatencyMs = SlidingSummary("updatelatency", help: "Write request latency in ms.", quantiles: [0.5, 0.9, 0.99])
    let fsyncMs = SlidingSummary("fsynctime", help: "Transaction log fsync time in ms.", quantiles: [0.5])
    let snapshotMs = SlidingSummary("snapshottime", help: "Snapshot write time in ms.", quantiles: [0.5])
    let electionMs = SlidingSummary("election_time", help: "Time from losing a leader to serving again, in ms.", quantiles: [0.5])
    var summaries: [SlidingSummary] { [readLatencyMs, updateLatencyMs, fsyncMs, snapshotMs, electionMs] }

    /// The role's gauges under Apache's names, present while the role lasts (Apache registers them
    /// when a role starts and removes them when it ends).
    static let roleGauges: Set<String> = ["quorum_size", "learners", "synced_followers", "synced_non_voting_followers",
                                          "synced_observers", "pending_syncs", "leader_uptime"]

    /// One request answered after `nanos`.
    @inline(__always)
    func observeRequest(nanos: UInt64, write: Bool, now: UInt64) {
        (write ? writeLatency : readLatency).recordNanoseconds(Int64(clamping: nanos))
        (write ? updateLatencyMs : readLatencyMs).observe(Double(nanos) / 1e6, now: now)
    }

    /// One transaction log fsync that took `nanos`.
    func observeFsync(nanos: UInt64, now: UInt64) {
        fsyncTime.recordNanoseconds(Int64(clamping: nanos))
        fsyncMs.observe(Double(nanos) / 1e6, now: now)
    }

    func observeSnapshot(nanos: UInt64, now: UInt64) { snapshotMs.observe(Double(nanos) / 1e6, now: now) }

    func observeElection(ms: Int64, now: UInt64) { electionMs.observe(Double(ms), now: now) }

    /// Brings the gauges and counters up to `reading` and returns the text exposition. Call on the server's loop.
    public func scrape(_ reading: ServerReading, now: UInt64) -> [UInt8] {
        for (g, value) in gauges { g.set(value(reading)) }
        for (i, (c, value)) in counters.enumerated() {
            let now = value(reading)
            c.increment(by: Int64(now >= counted[i] ? now - counted[i] : now))
            counted[i] = now
        }
        for (state, g) in quorumState { g.set(reading.mode == state ? 1.0 : 0.0) }
        var out = registry.emitToBuffer()
        var text = ""
        for s in summaries { text += s.exposition(now: now) }
        for (key, value) in reading.roleLines {
            let name = key.hasPrefix("zk_") ? String(key.dropFirst(3)) : key
            if Self.roleGauges.contains(name), let v = Double(value) {
                text += PrometheusText.family(name, type: "gauge", help: String(name.map { $0 == "_" ? " " : $0 }) + ".", value: v)
            }
        }
        // Apache's quota gauge sets, labelled with the namespace.
        let quotaGauges: [(String, (Int64, Int64, Int64, Int64) -> Int64)] = [
            ("quota_count_limit_per_namespace", { c, _, _, _ in c }), ("quota_bytes_limit_per_namespace", { _, b, _, _ in b }),
            ("quota_count_usage_per_namespace", { _, _, c, _ in c }), ("quota_bytes_usage_per_namespace", { _, _, _, b in b }),
        ]
        for (name, pick) in quotaGauges where !reading.quotas.isEmpty {
            text += "# HELP \(name) \(name)\n# TYPE \(name) gauge\n"
            for q in reading.quotas {
                text += "\(name){key=\"\(PrometheusText.label(q.namespace))\"} \(pick(q.countLimit, q.bytesLimit, q.count, q.bytes))\n"
            }
        }
        if !reading.quotaRefusals.isEmpty {
            let name = "quota_exceeded_error_per_namespace"
            text += "# HELP \(name) Writes refused by a quota, per namespace.\n# TYPE \(name) counter\n"
            for q in reading.quotaRefusals { text += "\(name){key=\"\(PrometheusText.label(q.namespace))\"} \(q.count)\n" }
        }
        // Where Apache's provider exports the JVM and process collectors: the same names, about this
        // process (the "heap" is the process's resident memory, its maximum the memory it may use).
        let p = ProcessReading.read()
        text += PrometheusText.family("process_cpu_seconds_total", type: "counter", help: "User and system CPU time in seconds.", value: p.cpuSeconds)
        text += PrometheusText.family("process_open_fds", type: "gauge", help: "Open file descriptors.", value: Double(reading.openFileDescriptors))
        text += PrometheusText.family("process_max_fds", type: "gauge", help: "The file descriptor limit.", value: Double(reading.maxFileDescriptors))
        text += PrometheusText.family("process_resident_memory_bytes", type: "gauge", help: "Resident memory in bytes.", value: p.residentBytes)
        text += PrometheusText.family("process_virtual_memory_bytes", type: "gauge", help: "Virtual memory in bytes.", value: p.virtualBytes)
        text += PrometheusText.family("process_start_time_seconds", type: "gauge", help: "Start time since the Unix epoch in seconds.", value: p.startTimeSeconds)
        text += "# HELP jvm_memory_bytes_used Resident memory of the process (zkserver has no JVM heap).\n# TYPE jvm_memory_bytes_used gauge\n"
            + "jvm_memory_bytes_used{area=\"heap\"} \(PrometheusText.number(p.residentBytes))\n"
        text += "# HELP jvm_memory_bytes_max Memory the process may use: its cgroup's limit, else the machine's.\n# TYPE jvm_memory_bytes_max gauge\n"
            + "jvm_memory_bytes_max{area=\"heap\"} \(PrometheusText.number(p.memoryLimitBytes))\n"
        text += PrometheusText.family("jvm_threads_current", type: "gauge", help: "Threads of the process.", value: p.threads)
        out += Array(text.utf8)
        return out
    }
}
