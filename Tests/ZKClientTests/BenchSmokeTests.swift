import Foundation
import XCTest

/// A tiny `zkctl bench` run (the built binary) against one zkserver: every workload completes
/// its few hundred operations without errors and reports sane figures.
final class BenchSmokeTests: XCTestCase {
    func testBenchRunsEveryWorkload() async throws {
        let zkctl = ZKServerProcess.packageRoot.appendingPathComponent(".build/debug/zkctl").path
        guard FileManager.default.isExecutableFile(atPath: zkctl) else { throw XCTSkip("\(zkctl) not built") }
        let server = try ZKServerProcess()
        defer { server.stop() }
        try await server.waitReady()

        let p = Process()
        p.executableURL = URL(fileURLWithPath: zkctl)
        p.arguments = ["bench", "--connect", server.connectString, "--workload", "all", "--ops", "200",
                       "--clients", "2", "--outstanding", "4", "--duration", "30", "--output", "json"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let deadline = Date().addingTimeInterval(90)
        while p.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); XCTFail("zkctl bench did not finish within 90 s"); return }
        XCTAssertEqual(p.terminationStatus, 0)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertEqual(results.map { $0["workload"] as? String },
                       ["create", "set", "get", "mixed 90% reads", "multi", "ephemeral", "churn"])
        for r in results {
            XCTAssertEqual(r["ops"] as? Int, 200, "\(r)")
            XCTAssertEqual(r["errors"] as? Int, 0, "\(r)")
            XCTAssertGreaterThan(r["opsPerSecond"] as? Double ?? 0, 0)
            let lat = try XCTUnwrap(r["latencyMs"] as? [String: Double])
            XCTAssertLessThanOrEqual(lat["p50"] ?? -1, lat["p99"] ?? -1)
            XCTAssertLessThanOrEqual(lat["p99"] ?? -1, lat["max"] ?? -1)
        }
        XCTAssertEqual(results.last { $0["workload"] as? String == "ephemeral" }?["watchEventsReceived"] as? Int, 200)
    }
}
