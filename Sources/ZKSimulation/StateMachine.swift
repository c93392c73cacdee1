import ZKReplication

/// The replicated state machine as the simulator sees it. The project's data tree can be
/// plugged in later through the same protocol.
public protocol SimStateMachine {
    init()
    /// Applies one committed entry (entries arrive in zxid order).
    mutating func apply(_ entry: Entry)
    /// Order-sensitive digest of everything applied so far.
    var digest: UInt64 { get }
    func snapshot() -> [UInt8]
    mutating func restore(_ bytes: [UInt8]) throws
}

/// A tiny register machine: `.txn` payloads are `[register, value bytes...]` and set a
/// register; the digest chains every applied entry, so any difference in order shows.
public struct RegisterMachine: SimStateMachine, Equatable {
    public private(set) var registers: [UInt8: [UInt8]] = [:]
    public private(set) var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var lastZxid: Zxid = .zero

    public init() {}

    public mutating func apply(_ entry: Entry) {
        lastZxid = entry.zxid
        mix(UInt64(bitPattern: entry.zxid.raw))
        mix(UInt64(entry.kind.rawValue))
        for b in entry.payload { mix(UInt64(b)) }
        if entry.kind == .txn, let r = entry.payload.first {
            registers[r] = Array(entry.payload.dropFirst())
        }
    }

    private mutating func mix(_ v: UInt64) {
        digest = (digest ^ v) &* 0x100_0000_01b3
        digest ^= digest >> 29
    }

    public enum RestoreError: Error { case malformed }

    public func snapshot() -> [UInt8] {
        var w: [UInt8] = []
        func u64(_ v: UInt64) { for i in (0..<8).reversed() { w.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        u64(digest)
        u64(UInt64(bitPattern: lastZxid.raw))
        u64(UInt64(registers.count))
        for k in registers.keys.sorted() {
            let v = registers[k]!
            w.append(k)
            u64(UInt64(v.count))
            w += v
        }
        return w
    }

    public mutating func restore(_ bytes: [UInt8]) throws {
        var pos = 0
        func u64() throws -> UInt64 {
            guard bytes.count - pos >= 8 else { throw RestoreError.malformed }
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(bytes[pos + i]) }
            pos += 8
            return v
        }
        let d = try u64()
        let z = Zxid(raw: Int64(bitPattern: try u64()))
        let n = try u64()
        guard n <= 256 else { throw RestoreError.malformed }
        var regs: [UInt8: [UInt8]] = [:]
        for _ in 0..<n {
            guard pos < bytes.count else { throw RestoreError.malformed }
            let k = bytes[pos]
            pos += 1
            let len = try u64()
            guard len <= UInt64(bytes.count - pos) else { throw RestoreError.malformed }
            regs[k] = Array(bytes[pos..<(pos + Int(len))])
            pos += Int(len)
        }
        guard pos == bytes.count else { throw RestoreError.malformed }
        digest = d
        lastZxid = z
        registers = regs
    }
}
