import Foundation
import ZKProtocol

/// The outcome of a reconfig: the new `/zookeeper/config` text, or the server's error code.
public enum ReconfigOutcome: Equatable, Sendable {
    case applied(config: String)
    case refused(code: Int32)

    /// Apache ZooKeeper's names for the codes reconfig returns.
    public static func describe(_ code: Int32) -> String {
        switch code {
        case -123: return "reconfig is disabled on the server (reconfigEnabled=false)"
        case -14: return "another membership change is still in progress"
        case -103: return "stale configuration version (someone changed the membership meanwhile)"
        case -8: return "the server rejected the change (bad server spec, too few voters, or more than one voter at a time)"
        case -13: return "a quorum of the new configuration is not connected and synced with the leader"
        case -102: return "not authorised (the cluster's superuser digest is not in zoo.cfg)"
        case -115: return "the superuser credentials were rejected"
        case -6: return "the server runs standalone and cannot change membership"
        default: return "error code \(code)"
        }
    }
}

/// Sends reconfig requests (shell). Tests use a fake.
public protocol ReconfigSender: Sendable {
    /// Opens a session on one of `servers`, authenticates as the superuser and sends the request.
    func reconfig(servers: [(host: String, port: Int)], password: String, joining: String?, leaving: String?,
                  fromConfigVersion: Int64, timeout: Duration) throws -> ReconfigOutcome
}

/// A blocking client for one request: connect, `auth digest super:<password>`, reconfig, close.
public struct WireReconfigSender: ReconfigSender {
    public init() {}

    public func reconfig(servers: [(host: String, port: Int)], password: String, joining: String?, leaving: String?,
                         fromConfigVersion: Int64, timeout: Duration) throws -> ReconfigOutcome {
        let deadline = ContinuousClock.now + timeout
        var lastError = "no servers"
        for server in servers {
            do {
                return try send(host: server.host, port: server.port, password: password,
                                request: ReconfigRequest(joiningServers: joining, leavingServers: leaving,
                                                         newMembers: nil, curConfigId: fromConfigVersion),
                                deadline: deadline)
            } catch {
                lastError = "\(server.host):\(server.port): \(error)"
            }
            if ContinuousClock.now >= deadline { break }
        }
        throw ZKCtlError("cannot send reconfig: \(lastError)")
    }

    func send(host: String, port: Int, password: String, request: ReconfigRequest,
              deadline: ContinuousClock.Instant) throws -> ReconfigOutcome {
        let conn = try TCPConnection.connect(host: host, port: port, timeout: ContinuousClock.now.duration(to: deadline))
        var connect = JuteWriter()
        connect.int32(0); connect.int64(0); connect.int32(10_000); connect.int64(0)
        connect.buffer([UInt8](repeating: 0, count: 16)); connect.bool(false)
        try conn.write(connect.framed(), deadline: deadline)
        var hello = ByteCursor(try readFrame(conn, deadline: deadline))
        _ = try hello.int32()
        let negotiated = try hello.int32()
        let session = try hello.int64()
        guard negotiated > 0, session != 0 else { throw ZKCtlError("session refused (server not serving)") }

        var auth = JuteWriter()
        auth.int32(-4)                        // xid of auth packets
        auth.int32(OpCode.auth.rawValue)
        auth.bytes += AuthPacket(scheme: "digest", auth: Superuser.credentials(password: password)).bytes
        try conn.write(auth.framed(), deadline: deadline)
        var authReply = ByteCursor(try readFrame(conn, deadline: deadline))
        _ = try authReply.int32(); _ = try authReply.int64()
        let authErr = try authReply.int32()
        if authErr != 0 { return .refused(code: authErr) }

        var req = JuteWriter()
        req.int32(1)
        req.int32(OpCode.reconfig.rawValue)
        req.bytes += request.bytes
        try conn.write(req.framed(), deadline: deadline)
        // Skip notifications (xid -1) until our reply arrives.
        for _ in 0..<100 {
            var reply = ByteCursor(try readFrame(conn, deadline: deadline))
            let xid = try reply.int32()
            _ = try reply.int64()
            let err = try reply.int32()
            guard xid == 1 else { continue }
            var close = JuteWriter()
            close.int32(2); close.int32(OpCode.closeSession.rawValue)
            defer { try? conn.write(close.framed(), deadline: deadline) }
            if err != 0 { return .refused(code: err) }
            let data = try reply.buffer()
            return .applied(config: String(decoding: data, as: UTF8.self))
        }
        throw ZKCtlError("no reply to reconfig")
    }

    private func readFrame(_ conn: TCPConnection, deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var header = ByteCursor(try conn.read(exactly: 4, deadline: deadline))
        let length = Int(try header.int32())
        guard length >= 0, length < 1 << 20 else { throw ZKCtlError("bad frame length \(length)") }
        return try conn.read(exactly: length, deadline: deadline)
    }
}

struct ByteCursor {
    var bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, offset + n <= bytes.count else { throw ZKCtlError("short reply") }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }
    mutating func int32() throws -> Int32 { try take(4).reduce(0) { ($0 << 8) | Int32($1) } }
    mutating func int64() throws -> Int64 { try take(8).reduce(0) { ($0 << 8) | Int64($1) } }
    mutating func buffer() throws -> [UInt8] {
        let n = try int32()
        return n < 0 ? [] : Array(try take(Int(n)))
    }
}

/// `/zookeeper/config` text (pure).
public struct EnsembleConfig: Equatable, Sendable {
    public struct Member: Equatable, Sendable {
        public var id: Int
        public var role: NodeRole
    }
    public var members: [Member]
    public var version: Int64?

    public static func parse(_ text: String) -> EnsembleConfig {
        var members: [Member] = []
        var version: Int64?
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            if line.hasPrefix("version=") {
                version = Int64(line.dropFirst("version=".count), radix: 16)
            } else if line.hasPrefix("server."), let eq = line.firstIndex(of: "="),
                      let id = Int(line[line.index(line.startIndex, offsetBy: 7)..<eq]) {
                let spec = line[line.index(after: eq)...].split(separator: ";")[0]
                let role: NodeRole = spec.hasSuffix(":observer") ? .observer : .participant
                members.append(Member(id: id, role: role))
            }
        }
        return EnsembleConfig(members: members.sorted { $0.id < $1.id }, version: version)
    }
}
