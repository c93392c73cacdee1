import Foundation
import XCTest
import ZKClient

/// A `zkserver` process on a free loopback port, started from the package's debug build.
final class ZKServerProcess {
    let process = Process()
    let port: Int
    let dataDir: String
    var connectString: String { "127.0.0.1:\(port)" }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var binary: String { packageRoot.appendingPathComponent(".build/debug/zkserver").path }

    /// A port that was free a moment ago (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw XCTSkip("no socket") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { throw XCTSkip("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    init(port: Int? = nil, dataDir: String? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw XCTSkip("\(Self.binary) not built; run `swift build` first")
        }
        self.port = try port ?? Self.freePort()
        self.dataDir = dataDir ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("zkclient-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: self.dataDir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--data-dir", self.dataDir, "--client-port", String(self.port), "--client-port-address", "127.0.0.1"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    /// Waits (at most 15 s) until a session can be opened.
    func waitReady() async throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let c = try? await ZooKeeperClient.connect(connectString: connectString, sessionTimeout: .seconds(5)) {
                await c.close()
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("zkserver on port \(port) did not accept sessions within 15 s")
    }

    /// Stops this process only (by its pid) and waits for it to exit (bounded).
    func stop(removeData: Bool = true) {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
        }
        if removeData { try? FileManager.default.removeItem(atPath: dataDir) }
    }

    deinit { stop() }
}
