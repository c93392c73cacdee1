/// Identifier of a server in the ensemble (the `myid` of ZooKeeper).
public typealias ServerID = UInt64

/// A ZooKeeper transaction id: `epoch << 32 | counter`.
///
/// Every log entry carries one. Along a log zxids strictly increase: within an epoch the
/// leader hands out increasing counters, and a new leader always runs in an epoch greater
/// than every epoch already present in its log. Two entries with the same zxid were created
/// by the same leader at the same position, so a zxid identifies an entry (and, by the log
/// matching property, the whole log prefix before it).
public struct Zxid: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Int64

    public init(raw: Int64) { self.raw = raw }

    public init(epoch: UInt32, counter: UInt32) {
        self.raw = Int64(bitPattern: UInt64(epoch) << 32 | UInt64(counter))
    }

    /// The zxid before every entry (an empty log).
    public static let zero = Zxid(raw: 0)

    public var epoch: UInt32 { UInt32(truncatingIfNeeded: UInt64(bitPattern: raw) >> 32) }
    public var counter: UInt32 { UInt32(truncatingIfNeeded: UInt64(bitPattern: raw)) }

    /// Orders by epoch, then counter (compared unsigned, so epochs >= 2^31 still order).
    public static func < (a: Zxid, b: Zxid) -> Bool {
        UInt64(bitPattern: a.raw) < UInt64(bitPattern: b.raw)
    }

    /// `epoch:counter`, e.g. `3:17`. Stable, used in traces.
    public var description: String { "\(epoch):\(counter)" }

    /// ZooKeeper's usual rendering, e.g. `0x300000011`.
    public var hex: String { "0x" + String(UInt64(bitPattern: raw), radix: 16) }
}

/// One replicated log entry.
public struct Entry: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable {
        /// Written by a new leader as the first entry of its epoch (ZooKeeper's NEWLEADER).
        case noop = 0
        /// An opaque application transaction.
        case txn = 1
        /// A membership change (reserved for dynamic reconfiguration; not interpreted yet).
        case config = 2
    }

    public var zxid: Zxid
    public var kind: Kind
    public var payload: [UInt8]

    public init(zxid: Zxid, kind: Kind, payload: [UInt8] = []) {
        self.zxid = zxid
        self.kind = kind
        self.payload = payload
    }

    public var description: String {
        switch kind {
        case .noop: return "\(zxid)/noop"
        case .txn: return "\(zxid)/txn(\(payload.count)b)"
        case .config: return "\(zxid)/config(\(payload.count)b)"
        }
    }
}

/// A small deterministic PRNG (SplitMix64). Used for election jitter inside the core and
/// for every random choice of the simulator.
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0).
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        // Rejection sampling keeps the distribution exact.
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let v = next()
            if v < limit { return v % bound }
        }
    }

    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next(below: span))
    }

    /// True with probability `p` (0...1).
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return Double(next() >> 11) / Double(1 << 53) < p
    }
}
