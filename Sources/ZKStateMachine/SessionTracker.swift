/// Decides when sessions expire (the leader's job). Time is passed in (ms); expiry instants are
/// rounded up to the next tick, as ZooKeeper does, and checked once per tick.
public struct SessionTracker: Sendable {
    public let tickMs: Int64
    public private(set) var expiry: [Int64: Int64] = [:]
    public private(set) var timeouts: [Int64: Int32] = [:]

    public init(tickMs: Int64) { self.tickMs = max(1, tickMs) }

    private func roundUp(_ t: Int64) -> Int64 { ((t + tickMs - 1) / tickMs) * tickMs }

    public mutating func track(_ id: Int64, timeoutMs: Int32, now: Int64) {
        timeouts[id] = timeoutMs
        expiry[id] = roundUp(now + Int64(timeoutMs))
    }
    /// Any packet from the client renews the session. Returns false for an unknown session.
    @discardableResult
    public mutating func touch(_ id: Int64, now: Int64) -> Bool {
        guard let t = timeouts[id] else { return false }
        expiry[id] = roundUp(now + Int64(t))
        return true
    }
    public mutating func remove(_ id: Int64) { expiry[id] = nil; timeouts[id] = nil }
    public func isTracked(_ id: Int64) -> Bool { timeouts[id] != nil }

    /// Sessions whose expiry instant has passed, oldest first.
    public func expired(now: Int64) -> [Int64] {
        expiry.filter { $0.value <= now }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
    }
    public var count: Int { timeouts.count }
}
