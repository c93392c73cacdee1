/// Sends four-letter words (shell).
public protocol FourLetterWordClient: Sendable {
    func send(_ word: String, host: String, port: Int, timeout: Duration) throws -> String
}

/// Four-letter words over plain TCP: write 4 bytes, read until the server closes.
public struct TCPFourLetterWordClient: FourLetterWordClient {
    public init() {}

    public func send(_ word: String, host: String, port: Int, timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        let conn = try TCPConnection.connect(host: host, port: port, timeout: timeout)
        try conn.write(Array(word.utf8), deadline: deadline)
        return String(decoding: try conn.readToEnd(deadline: deadline), as: UTF8.self)
    }
}

/// The "a real client session can write" check: `ZKClientProbe` opens a session with the package's
/// client library (ZKClient); tests use a fake.
public protocol ClientProbe: Sendable {
    /// Opens a session through the connect string, creates an ephemeral znode and closes the session.
    func testWrite(connectString: String, timeout: Duration) async -> WriteCheck
}

/// Probes every node with ruok and srvr (mntr on the leader), then runs the client write check.
public struct HealthProber: Sendable {
    public var words: any FourLetterWordClient
    public var client: any ClientProbe
    public var timeout: Duration

    public init(words: any FourLetterWordClient = TCPFourLetterWordClient(),
                client: any ClientProbe = ZKClientProbe(), timeout: Duration = .seconds(2)) {
        self.words = words
        self.client = client
        self.timeout = timeout
    }

    public func probe(node: NodeSpec, process: ProcessState?, pid: Int32?) -> NodeProbe {
        var probe = NodeProbe(id: node.id, expectedRole: node.role, clientAddress: node.clientAddress,
                              process: process, pid: pid, ruok: false)
        if process == .stopped || process == .paused || process == .stale { return probe }
        do {
            probe.ruok = try words.send("ruok", host: node.host, port: node.clientPort, timeout: timeout) == "imok"
            let srvr = try words.send("srvr", host: node.host, port: node.clientPort, timeout: timeout)
            probe.status = FourLetterWords.parseSrvr(srvr)
            if probe.status == nil || probe.status?.mode == .leader {
                // mntr: the role when srvr is not understood, and the leader's synced followers.
                let mntr = FourLetterWords.parseMntr(try words.send("mntr", host: node.host, port: node.clientPort, timeout: timeout))
                if probe.status == nil, let state = mntr["zk_server_state"].flatMap(ServerMode.init(rawValue:)) {
                    probe.status = ServerStatus(mode: state, zxid: nil)
                }
                probe.syncedFollowers = mntr["zk_synced_followers"].flatMap { Int($0) }
            }
            if probe.status == nil { probe.error = "unexpected srvr answer: \(srvr.prefix(80))" }
        } catch {
            probe.error = "\(error)"
        }
        return probe
    }

    public func evaluate(_ inventory: Inventory, processes: [Int: (ProcessState?, Int32?)], write: Bool = true) async -> ClusterHealth {
        let probes = inventory.nodes.map { node in
            let p = processes[node.id]
            return probe(node: node, process: p?.0 ?? nil, pid: p?.1 ?? nil)
        }
        let preliminary = HealthModel.evaluate(probes, write: .skipped)
        var check = WriteCheck.skipped
        if write && preliminary.state != .down {
            check = await client.testWrite(connectString: inventory.connectString, timeout: timeout * 3)
        }
        return HealthModel.evaluate(probes, write: check)
    }
}

/// Reads a node's Prometheus metrics: `GET /metrics` with a deadline (shell).
public protocol MetricsReader: Sendable {
    func read(host: String, port: Int, timeout: Duration) throws -> String
}

public struct HTTPMetricsReader: MetricsReader {
    public init() {}

    public func read(host: String, port: Int, timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        let conn = try TCPConnection.connect(host: host, port: port, timeout: timeout)
        try conn.write(Array("GET /metrics HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8), deadline: deadline)
        let response = try HTTPResponse.parse(try conn.readToEnd(deadline: deadline, limit: 4 << 20))
        guard response.status == 200 else { throw ZKCtlError("HTTP \(response.status)") }
        return String(decoding: response.body, as: UTF8.self)
    }
}

extension HealthProber {
    /// The metrics of every node that may be running; a node that cannot be read gets a problem, never an error.
    public func metrics(_ inventory: Inventory, health: ClusterHealth, reader: any MetricsReader = HTTPMetricsReader()) -> ClusterMetrics {
        guard inventory.servesMetrics else { return ClusterMetrics(note: ClusterMetrics.apacheNote) }
        var out = ClusterMetrics()
        for node in inventory.nodes {
            let observed = health.nodes.first { $0.id == node.id }?.observed
            if let observed, ["stopped", "paused", "exited"].contains(observed) {
                out.nodes[node.id] = NodeMetricsReading(problem: "node is \(observed)")
                continue
            }
            do {
                let text = try reader.read(host: node.host, port: node.metricsPort, timeout: timeout)
                out.nodes[node.id] = NodeMetricsReading(metrics: NodeMetrics(text: text))
            } catch {
                out.nodes[node.id] = NodeMetricsReading(problem: "cannot read http://\(node.host):\(node.metricsPort)/metrics: \(error)")
            }
        }
        return out
    }
}
