import Synchronization

/// A Prometheus summary as Apache ZooKeeper's metrics provider exports one: quantiles over the
/// observations of a sliding window (the last 10 minutes, at most `capacity` of them), and a count
/// and sum over the life of the process, so `rate(x_sum[1m])` and `increase(x_count[5m])` work.
/// swift-prometheus has no summary type, so this one writes its own exposition lines.
final class SlidingSummary: Sendable {
    let name: String
    let help: String
    /// 0.5 for Apache's BASIC summaries; 0.5, 0.9 and 0.99 for its ADVANCED ones.
    let quantiles: [Double]
    static let capacity = 4096
    static let windowNanos: UInt64 = 600_000_000_000

    private struct State {
        var values: [Double] = []
        var times: [UInt64] = []
        var next = 0
        var count: UInt64 = 0
        var sum: Double = 0
        var min = Double.infinity
        var max = -Double.infinity
    }

    private let state = Mutex(State())

    init(_ name: String, help: String, quantiles: [Double]) {
        self.name = name
        self.help = help
        self.quantiles = quantiles
    }

    /// One observation at monotonic time `now` (nanoseconds).
    func observe(_ value: Double, now: UInt64) {
        state.withLock { s in
            if s.values.count < Self.capacity {
                s.values.append(value)
                s.times.append(now)
            } else {
                s.values[s.next] = value
                s.times[s.next] = now
                s.next = (s.next + 1) % Self.capacity
            }
            s.count &+= 1
            s.sum += value
            s.min = Swift.min(s.min, value)
            s.max = Swift.max(s.max, value)
        }
    }

    /// The `mntr` keys Apache's default metrics provider derives from a summary (without `zk_`):
    /// avg, min, max, cnt and sum over the process's life, and for the ones Apache calls ADVANCED
    /// (more than a median) p50, p95, p99 and p999 over the window. Times are whole milliseconds
    /// where Apache's are longs.
    func monitorFields(now: UInt64) -> [(String, JSONValue)] {
        let (window, count, sum, lo, hi) = read(now: now)
        var out: [(String, JSONValue)] = [
            ("avg_\(name)", .double(count == 0 ? 0 : sum / Double(count))),
            ("min_\(name)", .int(count == 0 ? 0 : Int(lo.rounded()))),
            ("max_\(name)", .int(count == 0 ? 0 : Int(hi.rounded()))),
            ("cnt_\(name)", .int(Int(count))),
            ("sum_\(name)", .int(Int(sum.rounded()))),
        ]
        if quantiles.count > 1 {
            for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                let v = Self.quantile(q, of: window)
                out.append(("\(label)_\(name)", .int(v.isNaN ? 0 : Int(v.rounded()))))
            }
        }
        return out
    }

    /// The observations of the window, sorted; the count, sum, least and greatest of all time. Only
    /// the copy is made under the lock: the request path's `observe` never waits for a sort.
    func read(now: UInt64) -> (window: [Double], count: UInt64, sum: Double, min: Double, max: Double) {
        let s = state.withLock { $0 }
        let since = now > Self.windowNanos ? now - Self.windowNanos : 0
        let recent = zip(s.values, s.times).filter { $0.1 >= since }.map(\.0).sorted()
        return (recent, s.count, s.sum, s.min, s.max)
    }

    /// The `q` quantile of sorted `values` (nearest rank); NaN when there are none, as Apache's provider.
    static func quantile(_ q: Double, of values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let rank = Int((q * Double(values.count)).rounded(.up)) - 1
        return values[min(max(rank, 0), values.count - 1)]
    }

    /// HELP, TYPE, one line per quantile, then `_count` and `_sum`.
    func exposition(now: UInt64) -> String {
        let (window, count, sum, _, _) = read(now: now)
        var out = "# HELP \(name) \(help)\n# TYPE \(name) summary\n"
        for q in quantiles {
            out += "\(name){quantile=\"\(q)\"} \(PrometheusText.number(Self.quantile(q, of: window)))\n"
        }
        out += "\(name)_count \(count)\n\(name)_sum \(PrometheusText.number(sum))\n"
        return out
    }
}

/// Text exposition helpers for the lines zkserver writes itself.
enum PrometheusText {
    /// Go-style float text: NaN, +Inf, -Inf, integers without a fraction.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func label(_ v: String) -> String {
        var out = ""
        for c in v {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// A gauge or counter family with one unlabelled sample.
    static func family(_ name: String, type: String, help: String, value: Double) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(number(value))\n"
    }
}
