import Foundation

/// A parsed HTTP/1.1 response (what zkctl needs from the admin server: status, headers, a Content-Length body).
public struct HTTPResponse: Equatable, Sendable {
    public var status: Int
    public var headers: [String: String]   // lower-cased names
    public var body: [UInt8]

    /// Parses a whole response read until the server closed the connection. Pure.
    public static func parse(_ bytes: [UInt8]) throws -> HTTPResponse {
        var end: Int?
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 { end = i; break }
            i += 1
        }
        guard let end else {
            throw ZKCtlError(bytes.isEmpty ? "the server closed the connection without answering" : "the answer is not HTTP (no end of headers)")
        }
        let lines = String(decoding: bytes[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw ZKCtlError("the answer is not HTTP: '\(lines[0].prefix(80))'")
        }
        var headers: [String: String] = [:]
        for l in lines.dropFirst() {
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if let lenText = headers["content-length"] {
            guard let len = Int(lenText), len >= 0 else { throw ZKCtlError("bad Content-Length '\(lenText)'") }
            guard body.count >= len else {
                throw ZKCtlError("the answer was cut off: \(body.count) of \(len) bytes arrived")
            }
            body = Array(body[0..<len])
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }
}

/// One request to a node's admin server (`GET /commands/<name>`), answered in full.
public enum AdminHTTP {
    /// `auth` is `user:password` of the superuser (sent as `Authorization: digest user:password`).
    public static func get(host: String, port: Int, path: String, auth: String? = nil, timeout: Duration,
                           limit: Int = 1 << 20, what: String) throws -> HTTPResponse {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let conn: TCPConnection
        do {
            conn = try TCPConnection.connect(host: host, port: port, timeout: .seconds(5))
        } catch let e as ZKCtlError {
            throw ZKCtlError("cannot reach the admin server at \(host):\(port): \(e.message). Is the node up with admin.serverPort=\(port)?")
        }
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        if let auth { request += "Authorization: digest \(auth)\r\n" }
        request += "\r\n"
        do {
            try conn.write(Array(request.utf8), deadline: deadline)
            return try HTTPResponse.parse(try conn.readToEnd(deadline: deadline, limit: limit))
        } catch let e as ZKCtlError {
            throw ZKCtlError("\(what) from \(host):\(port) failed: \(e.message)")
        }
    }

    /// The `error` of an admin server JSON answer, or the body's start.
    public static func errorMessage(_ body: [UInt8]) -> String {
        if let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let e = obj["error"] as? String { return e }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}
