/// What `srvr`/`mntr` say about a server's role.
public enum ServerMode: String, Sendable, Codable, Equatable {
    case leader, follower, observer, standalone
    case readOnly = "read-only"
    /// Answered, but not part of a working quorum ("not currently serving requests").
    case notServing = "not-serving"
}

/// The interesting parts of a `srvr` (or `stat`) answer.
public struct ServerStatus: Equatable, Sendable {
    public var mode: ServerMode
    public var zxid: UInt64?
    public var nodeCount: Int?
    public var connections: Int?
    public var version: String?
}

/// Parsers for four-letter-word answers (pure).
public enum FourLetterWords {
    public static let notServingText = "This ZooKeeper instance is not currently serving requests"

    public static func parseSrvr(_ text: String) -> ServerStatus? {
        if text.contains(notServingText) { return ServerStatus(mode: .notServing) }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmed(" \t")
            let value = line[line.index(after: colon)...].trimmed(" \t\r")
            fields[key] = value
        }
        guard let modeText = fields["Mode"], let mode = ServerMode(rawValue: modeText) else { return nil }
        var status = ServerStatus(mode: mode)
        if let z = fields["Zxid"] { status.zxid = parseHex(z) }
        status.nodeCount = fields["Node count"].flatMap { Int($0) }
        status.connections = fields["Connections"].flatMap { Int($0) }
        status.version = fields["Zookeeper version"]
        return status
    }

    /// `mntr` is `key<TAB>value` per line.
    public static func parseMntr(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]).trimmed(" \r") }
        }
        return out
    }

    public static func parseHex(_ s: String) -> UInt64? {
        let t = s.hasPrefix("0x") || s.hasPrefix("0X") ? String(s.dropFirst(2)) : s
        return UInt64(t, radix: 16)
    }

    public static func formatZxid(_ z: UInt64?) -> String {
        guard let z else { return "-" }
        return "0x" + String(z, radix: 16)
    }
}

extension StringProtocol {
    func trimmed(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
