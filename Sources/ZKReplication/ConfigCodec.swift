/// Encoding of a membership at the head of a `.config` entry's payload: `u32 count`, then per member
/// `u64 id, u8 role`. Bytes after it belong to the application.
public enum ConfigCodec {
    public struct DecodeError: Error, Equatable { public var message: String }

    public static func encode(_ c: ClusterConfig) -> [UInt8] {
        var b: [UInt8] = []
        let n = UInt32(c.members.count)
        for s in stride(from: 24, through: 0, by: -8) { b.append(UInt8(truncatingIfNeeded: n >> UInt32(s))) }
        for m in c.members {
            for s in stride(from: 56, through: 0, by: -8) { b.append(UInt8(truncatingIfNeeded: m.id >> UInt64(s))) }
            b.append(m.role.rawValue)
        }
        return b
    }

    /// The membership and the application bytes after it.
    public static func decode(_ p: [UInt8]) throws -> (ClusterConfig, [UInt8]) {
        guard p.count >= 4 else { throw DecodeError(message: "config entry too short") }
        let n = Int(p[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard n <= 1024, p.count >= 4 + n * 9 else { throw DecodeError(message: "config entry has a damaged member list") }
        var members: [ClusterConfig.Member] = []
        for i in 0..<n {
            let o = 4 + i * 9
            let id = p[o..<(o + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard let role = ClusterConfig.Role(rawValue: p[o + 8]) else { throw DecodeError(message: "bad role") }
            members.append(ClusterConfig.Member(id: id, role: role))
        }
        do {
            return (try ClusterConfig(members: members), Array(p[(4 + n * 9)...]))
        } catch {
            throw DecodeError(message: "invalid membership: \(error)")
        }
    }
}
