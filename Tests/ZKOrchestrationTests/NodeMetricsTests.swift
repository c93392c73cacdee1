import Testing
@testable import ZKOrchestration

/// A zkserver scrape, shortened: families in any order, HELP/TYPE lines, labelled histograms.
private let scrape = """
    # HELP znode_count Znodes in the data tree.
    # TYPE znode_count gauge
    znode_count 27.0
    # TYPE zk_request_latency_seconds histogram
    zk_request_latency_seconds_bucket{type="write",le="0.001"} 0
    zk_request_latency_seconds_bucket{type="write",le="0.0025"} 90
    zk_request_latency_seconds_bucket{type="write",le="0.005"} 98
    zk_request_latency_seconds_bucket{type="write",le="0.01"} 100
    zk_request_latency_seconds_bucket{type="write",le="+Inf"} 100
    zk_request_latency_seconds_sum{type="write"} 0.21
    zk_request_latency_seconds_count{type="write"} 100
    zk_request_latency_seconds_bucket{type="read",le="0.001"} 5
    zk_request_latency_seconds_bucket{type="read",le="+Inf"} 5
    zk_request_latency_seconds_count{type="read"} 5
    outstanding_requests 3.0
    watch_count 4.0
    global_sessions 2.0
    # TYPE zk_fsync_seconds histogram
    zk_fsync_seconds_bucket{le="0.0001"} 10
    zk_fsync_seconds_bucket{le="0.00025"} 20
    zk_fsync_seconds_bucket{le="+Inf"} 20
    zk_fsync_seconds_count 20
    zk_quorum_state{state="leader"} 1.0
    """

@Suite struct NodeMetricsTests {
    @Test func parsesSamplesLabelsAndSpecialValues() throws {
        let s = PrometheusExposition.parse(scrape)
        #expect(s.count == 19)
        #expect(s.first == MetricSample(name: "znode_count", value: 27))
        #expect(s.contains(MetricSample(name: "zk_request_latency_seconds_bucket", labels: ["type": "write", "le": "+Inf"], value: 100)))
        #expect(s.contains(MetricSample(name: "zk_quorum_state", labels: ["state": "leader"], value: 1)))
        let odd = PrometheusExposition.parse("""
            a{path="x\\"y\\\\z\\nw", b=""} +Inf 1712000000000
            b -Inf
            c NaN
            not a sample
            d{unterminated="x} 1
            e{le="1"}
              # indented comment
            f:g_h 1e-3\r
            """)
        try #require(odd.map(\.name) == ["a", "b", "c", "f:g_h"])
        #expect(odd[0].labels == ["path": "x\"y\\z\nw", "b": ""])
        #expect(odd[0].value == .infinity && odd[1].value == -.infinity && odd[2].value.isNaN)
        #expect(odd[3].value == 0.001)
    }

    @Test func quantileInterpolatesInsideTheBucket() {
        let b: [(le: Double, count: Double)] = [(0.001, 0), (0.0025, 90), (0.005, 98), (0.01, 100), (.infinity, 100)]
        // rank 99 of 100 lies in (0.005, 0.01], half-way between 98 and 100.
        #expect(abs(PrometheusExposition.quantile(0.99, buckets: b)! - 0.0075) < 1e-12)
        // rank 50 lies in (0.001, 0.0025]: 50/90 of the way.
        #expect(abs(PrometheusExposition.quantile(0.5, buckets: b)! - (0.001 + 0.0015 * 50 / 90)) < 1e-12)
        // The first bucket interpolates from 0; order of the input does not matter.
        #expect(abs(PrometheusExposition.quantile(0.5, buckets: [(.infinity, 4), (1, 4)])! - 0.5) < 1e-12)
        // A rank in +Inf answers the highest finite bound.
        #expect(PrometheusExposition.quantile(0.99, buckets: [(0.1, 1), (1, 2), (.infinity, 10)]) == 1)
        // No observations, no +Inf bucket, or a bad q: no estimate.
        #expect(PrometheusExposition.quantile(0.99, buckets: [(0.1, 0), (.infinity, 0)]) == nil)
        #expect(PrometheusExposition.quantile(0.99, buckets: [(0.1, 3)]) == nil)
        #expect(PrometheusExposition.quantile(1.5, buckets: b) == nil)
        #expect(PrometheusExposition.quantile(0.99, buckets: []) == nil)
    }

    @Test func nodeMetricsPickZkserversFigures() {
        let m = NodeMetrics(text: scrape)
        #expect(m.znodes == 27 && m.outstandingRequests == 3 && m.watches == 4 && m.sessions == 2 && m.writes == 100)
        #expect(abs(m.writeP99Seconds! - 0.0075) < 1e-12)
        // fsync: rank 19.8 of 20 lies in (0.0001, 0.00025].
        #expect(abs(m.fsyncP99Seconds! - (0.0001 + 0.00015 * 9.8 / 10)) < 1e-12)
        // Apache ZooKeeper's provider: the same gauges, write latency from its updatelatency summary (ms).
        let apache = NodeMetrics(text: "znode_count 9.0\nupdatelatency{quantile=\"0.99\",} 12.0\nupdatelatency_count 40.0\n")
        #expect(apache.znodes == 9 && apache.writes == 40 && apache.writeP99Seconds == 0.012 && apache.fsyncP99Seconds == nil)
        // Another server's metrics: nothing recognised, nothing invented.
        #expect(NodeMetrics(text: "jvm_threads_current 40\n") == NodeMetrics())
        #expect(NodeMetrics.formatSeconds(0.0075) == "7.5ms")
        #expect(NodeMetrics.formatSeconds(0.000245) == "245µs")
        #expect(NodeMetrics.formatSeconds(2.5) == "2.50s")
        #expect(NodeMetrics.formatSeconds(nil) == "-")
    }

    @Test func statusShowsMetricsColumnsAndBlanksForUnreadNodes() {
        let inv = Inventory.local(count: 3)
        let probes = inv.nodes.map { n in
            NodeProbe(id: n.id, expectedRole: n.role, clientAddress: n.clientAddress, process: .running, pid: Int32(100 + n.id),
                      ruok: true, status: ServerStatus(mode: n.id == 1 ? .leader : .follower, zxid: 5))
        }
        let health = HealthModel.evaluate(probes, write: .committed(zxid: 6))
        let metrics = ClusterMetrics(nodes: [1: NodeMetricsReading(metrics: NodeMetrics(text: scrape)),
                                             2: NodeMetricsReading(problem: "cannot read http://127.0.0.1:7001/metrics: timed out")])
        let table = Report.table(inv, health, metrics: metrics)
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[1].hasPrefix("ID  ROLE") && lines[1].hasSuffix("OUTSTANDING  ZNODES  WATCHES  SESSIONS  WRITE_P99  FSYNC_P99"))
        #expect(lines[2].hasSuffix("3            27      4        2         7.5ms      247µs"))
        #expect(lines[3].hasSuffix("-            -       -        -         -          -"))
        #expect(lines[3].contains("127.0.0.1:2182  102"))
        #expect(table.contains("metrics of node 2: cannot read http://127.0.0.1:7001/metrics: timed out"))
        let json = Report.json(inv, health, metrics: metrics)
        #expect(json.nodes[0].metrics?.znodes == 27 && json.nodes[1].metrics == nil && json.nodes[1].metricsProblem != nil)
        #expect(Report.encode(json).contains("\"writeP99Seconds\""))
        // Without metrics (zkctl health, zkctl up) the table keeps its columns.
        #expect(!Report.table(inv, health).contains("ZNODES"))
        let apache = Report.table(inv, health, metrics: ClusterMetrics(note: ClusterMetrics.apacheNote))
        #expect(apache.contains("metrics: zkctl runs Apache ZooKeeper without a metrics endpoint"))
    }
}
