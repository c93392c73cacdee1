/// A minimal ZooKeeper client session over the wire protocol, enough for the health write:
/// connect, create an ephemeral znode, close. Tries the connect string's servers in order.
public struct WireClientProbe: ClientProbe {
    public init() {}

    public func testWrite(connectString: String, timeout: Duration) async -> WriteCheck {
        let deadline = ContinuousClock.now + timeout
        var lastError = "no servers in the connect string"
        for server in connectString.split(separator: ",") {
            let parts = server.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else { continue }
            do {
                return .committed(zxid: try write(host: String(parts[0]), port: port, deadline: deadline))
            } catch {
                lastError = "\(server): \(error)"
            }
            if ContinuousClock.now >= deadline { break }
        }
        return .failed(lastError)
    }

    func write(host: String, port: Int, deadline: ContinuousClock.Instant) throws -> UInt64 {
        let conn = try TCPConnection.connect(host: host, port: port, timeout: ContinuousClock.now.duration(to: deadline))
        var connect = JuteWriter()
        connect.int32(0)            // protocolVersion
        connect.int64(0)            // lastZxidSeen
        connect.int32(10_000)       // timeOut (ms)
        connect.int64(0)            // sessionId
        connect.buffer([UInt8](repeating: 0, count: 16)) // passwd
        connect.bool(false)         // readOnly
        try conn.write(connect.framed(), deadline: deadline)
        var response = JuteReader(try readFrame(conn, deadline: deadline))
        _ = try response.int32()    // protocolVersion
        let negotiated = try response.int32()
        let session = try response.int64()
        guard negotiated > 0, session != 0 else { throw ZKCtlError("session refused (server not serving)") }

        var create = JuteWriter()
        create.int32(1)             // xid
        create.int32(1)             // OpCode.create
        create.string("/zkctl-health-\(UInt32.random(in: 0...UInt32.max))")
        create.buffer(Array("zkctl".utf8))
        create.int32(1)             // one ACL: world:anyone, all permissions
        create.int32(31)
        create.string("world")
        create.string("anyone")
        create.int32(1)             // CreateMode.EPHEMERAL
        try conn.write(create.framed(), deadline: deadline)
        var reply = JuteReader(try readFrame(conn, deadline: deadline))
        _ = try reply.int32()
        let zxid = UInt64(bitPattern: try reply.int64())
        let err = try reply.int32()
        guard err == 0 else { throw ZKCtlError("create failed with error code \(err)") }

        var close = JuteWriter()
        close.int32(2)
        close.int32(-11)            // OpCode.closeSession
        try? conn.write(close.framed(), deadline: deadline)
        _ = try? readFrame(conn, deadline: deadline)
        return zxid
    }

    private func readFrame(_ conn: TCPConnection, deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var header = JuteReader(try conn.read(exactly: 4, deadline: deadline))
        let length = Int(try header.int32())
        guard length >= 0, length < 1 << 20 else { throw ZKCtlError("bad frame length \(length)") }
        return try conn.read(exactly: length, deadline: deadline)
    }
}

struct JuteWriter {
    var bytes: [UInt8] = []
    mutating func int32(_ v: Int32) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    mutating func int64(_ v: Int64) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func buffer(_ b: [UInt8]) { int32(Int32(b.count)); bytes += b }
    mutating func string(_ s: String) { buffer(Array(s.utf8)) }
    func framed() -> [UInt8] {
        var w = JuteWriter()
        w.int32(Int32(bytes.count))
        return w.bytes + bytes
    }
}

struct JuteReader {
    var bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    mutating func int32() throws -> Int32 {
        guard offset + 4 <= bytes.count else { throw ZKCtlError("short reply") }
        defer { offset += 4 }
        return bytes[offset..<offset + 4].reduce(0) { ($0 << 8) | Int32($1) }
    }
    mutating func int64() throws -> Int64 {
        guard offset + 8 <= bytes.count else { throw ZKCtlError("short reply") }
        defer { offset += 8 }
        return bytes[offset..<offset + 8].reduce(0) { ($0 << 8) | Int64($1) }
    }
}
