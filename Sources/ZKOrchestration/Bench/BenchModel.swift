import Foundation

/// What one benchmark run does (pure data).
public enum BenchWorkload: String, CaseIterable, Sendable, Codable {
    /// Unique persistent creates.
    case create
    /// setData on a hot set of pre-created znodes.
    case set
    /// getData on the hot set.
    case get
    /// getData or setData on the hot set, `readRatio` of them reads.
    case mixed
    /// A multi of `multiSize` setData ops on the hot set (one op = one multi).
    case multi
    /// Create an ephemeral znode, leave a watch on it with exists, delete it; counts the
    /// NodeDeleted notifications that arrive (one op = the three requests).
    case ephemeral
    /// Open a session, read `/`, close the session (one op = the whole session).
    case churn

    public var isWrite: Bool {
        switch self { case .get, .mixed: return false; default: return true }
    }
}

public struct BenchConfig: Sendable, Equatable {
    /// Session opens in flight per client in the churn workload at most: 8 clients x 4 stay below the
    /// 60 connections per address that `maxClientCnxns` allows by default.
    public static let churnOutstandingCap = 4
    public var connectString: String
    public var workload: BenchWorkload
    public var clients: Int = 8
    /// Requests in flight per client (one task each).
    public var outstanding: Int = 32
    public var valueSize: Int = 100
    /// Total operations (the run also stops at `duration`).
    public var ops: Int = 10_000
    /// Upper bound of the timed phase.
    public var duration: Duration = .seconds(30)
    public var readRatio: Double = 0.9
    public var hotSet: Int = 1000
    public var multiSize: Int = 10
    public var sessionTimeout: Duration = .seconds(30)

    public init(connectString: String, workload: BenchWorkload) {
        self.connectString = connectString
        self.workload = workload
    }
}

/// Latency percentiles of successful operations, in milliseconds.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    public static let zero = LatencySummary(p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0)

    public init(p50: Double, p90: Double, p99: Double, p999: Double, max: Double, mean: Double) {
        self.p50 = p50; self.p90 = p90; self.p99 = p99; self.p999 = p999; self.max = max; self.mean = mean
    }

    /// Nearest-rank percentiles of samples in nanoseconds.
    public static func of(nanoseconds samples: [UInt64]) -> LatencySummary {
        guard !samples.isEmpty else { return .zero }
        let s = samples.sorted()
        func rank(_ q: Double) -> Double {
            let i = Swift.max(0, Swift.min(s.count - 1, Int((q * Double(s.count)).rounded(.up)) - 1))
            return Double(s[i]) / 1e6
        }
        let total = s.reduce(0.0) { $0 + Double($1) }
        return LatencySummary(p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), p999: rank(0.999),
                              max: Double(s[s.count - 1]) / 1e6, mean: total / Double(s.count) / 1e6)
    }
}

public struct BenchResult: Sendable, Equatable, Codable {
    public var workload: String
    public var clients: Int
    public var outstanding: Int
    public var valueSize: Int
    /// Successful operations in the timed phase.
    public var ops: Int
    public var errors: Int
    public var errorsByCode: [String: Int]
    public var seconds: Double
    public var opsPerSecond: Double
    public var latencyMs: LatencySummary
    /// ephemeral: NodeDeleted notifications received / expected.
    public var watchEventsReceived: Int?
    public var watchEventsExpected: Int?
}

/// Text and JSON renderings of results (pure).
public enum BenchReport {
    public static func table(_ results: [BenchResult]) -> String {
        var rows = [["workload", "c", "k", "value", "ops", "errors", "secs", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"]]
        for r in results {
            var name = r.workload
            if let got = r.watchEventsReceived, let exp = r.watchEventsExpected { name += " (watches \(got)/\(exp))" }
            rows.append([name, "\(r.clients)", "\(r.outstanding)", "\(r.valueSize)", "\(r.ops)", "\(r.errors)",
                         f(r.seconds, 2), f(r.opsPerSecond, 0), f(r.latencyMs.p50, 3), f(r.latencyMs.p90, 3),
                         f(r.latencyMs.p99, 3), f(r.latencyMs.p999, 3), f(r.latencyMs.max, 3)])
        }
        var out = align(rows)
        let codes = results.flatMap { r in r.errorsByCode.map { "\(r.workload): \($0.key) x\($0.value)" } }
        if !codes.isEmpty { out += "\nerrors: " + codes.sorted().joined(separator: ", ") }
        return out
    }

    public static func json<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func f(_ v: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", v)
    }

    /// Left-aligns the first column, right-aligns the others.
    public static func align(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = [Int](repeating: 0, count: first.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
