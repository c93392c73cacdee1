import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection with deadlines (IPv4 only: zkctl talks to 127.0.0.1 and host addresses).
final class TCPConnection {
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    static func connect(host: String, port: Int, timeout: Duration) throws -> TCPConnection {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let name = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, name, &addr.sin_addr) == 1 else { throw ZKCtlError("\(host) is not an IPv4 address") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ZKCtlError("socket: \(String(cString: strerror(errno)))") }
        let conn = TCPConnection(fd: fd)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            guard errno == EINPROGRESS else { throw ZKCtlError("connect \(host):\(port): \(String(cString: strerror(errno)))") }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = poll(&pfd, 1, Int32(timeout.milliseconds))
            guard n == 1 else { throw ZKCtlError("connect \(host):\(port): timed out") }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            guard err == 0 else { throw ZKCtlError("connect \(host):\(port): \(String(cString: strerror(err)))") }
        }
        _ = fcntl(fd, F_SETFL, flags)
        return conn
    }

    func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws {
        var offset = 0
        while offset < bytes.count {
            try wait(for: Int16(POLLOUT), deadline: deadline)
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ZKCtlError("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Reads exactly `count` bytes.
    func read(exactly count: Int, deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let chunk = try readSome(max: count - out.count, deadline: deadline)
            guard !chunk.isEmpty else { throw ZKCtlError("connection closed by the server") }
            out += chunk
        }
        return out
    }

    /// Reads until the peer closes the connection.
    func readToEnd(deadline: ContinuousClock.Instant, limit: Int = 1 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < limit {
            let chunk = try readSome(max: 65536, deadline: deadline)
            if chunk.isEmpty { break }
            out += chunk
        }
        return out
    }

    private func readSome(max: Int, deadline: ContinuousClock.Instant) throws -> [UInt8] {
        try wait(for: Int16(POLLIN), deadline: deadline)
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        if n < 0 {
            if errno == ECONNRESET { return [] }
            throw ZKCtlError("recv: \(String(cString: strerror(errno)))")
        }
        return Array(buffer[0..<n])
    }

    private func wait(for events: Int16, deadline: ContinuousClock.Instant) throws {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw ZKCtlError("timed out") }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&pfd, 1, Int32(max(1, left.milliseconds)))
            if n > 0 { return }
            if n < 0 && errno != EINTR { throw ZKCtlError("poll: \(String(cString: strerror(errno)))") }
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
    var seconds: Double { Double(milliseconds) / 1000 }
}

/// Is a loopback TCP port free to bind? (Used before launching a node.)
public enum PortCheck {
    public static func isFree(host: String, port: Int) -> Bool {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }

    /// Someone accepts connections on host:port.
    public static func isListening(host: String, port: Int) -> Bool {
        (try? TCPConnection.connect(host: host, port: port, timeout: .milliseconds(300))) != nil
    }
}
