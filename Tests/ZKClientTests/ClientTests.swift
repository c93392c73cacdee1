import XCTest
import ZKProtocol
import ZKClient

/// Against a real zkserver started by each test.
final class ClientTests: XCTestCase {
    var server: ZKServerProcess!

    override func setUp() async throws {
        server = try ZKServerProcess()
        try await server.waitReady()
    }

    override func tearDown() async throws {
        server?.stop()
        server = nil
    }

    func connect(_ cs: String? = nil, timeout: Duration = .seconds(10)) async throws -> ZooKeeperClient {
        try await ZooKeeperClient.connect(connectString: cs ?? server.connectString, sessionTimeout: timeout)
    }

    /// The first event matching `match`, or nil after `seconds`.
    func nextEvent(_ c: ZooKeeperClient, within seconds: Double = 5,
                   where match: @escaping @Sendable (WatchEvent) -> Bool) async -> WatchEvent? {
        await withTaskGroup(of: WatchEvent?.self) { group in
            group.addTask {
                for await e in c.events where match(e) { return e }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    func assertCode(_ code: ZooKeeperError.Code, file: StaticString = #filePath, line: UInt = #line,
                    _ body: () async throws -> Void) async {
        do {
            try await body()
            XCTFail("expected \(code)", file: file, line: line)
        } catch let e as ZooKeeperError {
            XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testCRUD() async throws {
        let c = try await connect()
        let v1 = try await c.create("/a", data: Array("one".utf8))
        XCTAssertEqual(v1, "/a")
        await assertCode(.nodeExists) { _ = try await c.create("/a") }
        let (data, stat) = try await c.getData("/a")
        XCTAssertEqual(data, Array("one".utf8))
        XCTAssertEqual(stat.version, 0)
        let s2 = try await c.setData("/a", data: Array("two".utf8), version: 0)
        XCTAssertEqual(s2.version, 1)
        await assertCode(.badVersion) { _ = try await c.setData("/a", data: [], version: 0) }
        let v2 = try await c.exists("/a")?.dataLength
        XCTAssertEqual(v2, 3)
        let v3 = try await c.exists("/missing")
        XCTAssertNil(v3)
        await assertCode(.noNode) { _ = try await c.getData("/missing") }
        let seq = try await c.create("/a/s-", mode: .ephemeralSequential)
        XCTAssertEqual(seq, "/a/s-0000000000")
        let (path, stat2) = try await c.create2("/a/b", data: [1])
        XCTAssertEqual(path, "/a/b"); XCTAssertEqual(stat2.dataLength, 1)
        let kids = try await c.getChildren("/a")
        XCTAssertEqual(Set(kids), ["s-0000000000", "b"])
        await assertCode(.notEmpty) { try await c.delete("/a") }
        try await c.delete("/a/b", version: 0)
        let v4 = try await c.sync("/a")
        XCTAssertEqual(v4, "/a")

        let results = try await c.multi([
            .create(CreateRequest(path: "/m", data: [], acl: ACL.openUnsafe, flags: 0), op: .create),
            .setData(SetDataRequest(path: "/m", data: [7], version: 0)),
        ])
        XCTAssertEqual(results.count, 2)
        await assertCode(.noNode) {
            _ = try await c.multi([
                .create(CreateRequest(path: "/m2", data: [], acl: ACL.openUnsafe, flags: 0), op: .create),
                .delete(PathVersionRequest(path: "/nothing", version: -1)),
            ])
        }
        let v5 = try await c.exists("/m2")
        XCTAssertNil(v5, "a failed multi leaves no trace")
        await c.close()
        await assertCode(.closed) { _ = try await c.exists("/") }
    }

    func testWatchEventIsDelivered() async throws {
        let watcher = try await connect()
        let writer = try await connect()
        _ = try await writer.create("/w", data: [1])
        _ = try await watcher.getData("/w", watch: true)
        let v6 = try await watcher.exists("/w/x", watch: true)
        XCTAssertNil(v6)
        _ = try await writer.setData("/w", data: [2])
        let changed = await nextEvent(watcher) { $0.type != .none }
        XCTAssertEqual(changed, WatchEvent(type: .nodeDataChanged, state: .syncConnected, path: "/w"))
        _ = try await writer.create("/w/x")
        let created = await nextEvent(watcher) { $0.type != .none }
        XCTAssertEqual(created, WatchEvent(type: .nodeCreated, state: .syncConnected, path: "/w/x"))
        await watcher.close(); await writer.close()
    }

    func testThousandPipelinedRequests() async throws {
        let c = try await connect()
        _ = try await c.create("/p")
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<1000 { group.addTask { try await c.create("/p/n\(i)", data: [UInt8(i & 0xff)]) } }
            var out: [String] = []
            for try await p in group { out.append(p) }
            return out
        }
        XCTAssertEqual(Set(paths).count, 1000)
        let v7 = try await c.getChildren("/p").count
        XCTAssertEqual(v7, 1000)
        // Reads and writes interleaved on one connection keep their per-call results.
        let ok = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<1000 {
                group.addTask {
                    if i % 2 == 0 { return try await c.getData("/p/n\(i)").0 == [UInt8(i & 0xff)] }
                    return try await c.setData("/p/n\(i)", data: [9]).version == 1
                }
            }
            var all = true
            for try await b in group { all = all && b }
            return all
        }
        XCTAssertTrue(ok)
        await c.close()
    }

    func testReconnectKeepsTheSession() async throws {
        let c = try await connect()
        let id = try await c.sessionId
        _ = try await c.create("/eph", mode: .ephemeral)
        _ = try await c.exists("/eph", watch: true)
        try await c.dropConnection()
        let back = await nextEvent(c) { $0.type == .none && $0.state == .syncConnected }
        XCTAssertNotNil(back, "reconnected")
        let sameSession = try await c.sessionId
        XCTAssertEqual(sameSession, id)
        let v8 = try await c.exists("/eph")
        XCTAssertNotNil(v8, "the ephemeral survives a reconnect")
        // The watch was re-registered with setWatches.
        let other = try await connect()
        try await other.delete("/eph")
        let deleted = await nextEvent(c) { $0.type == .nodeDeleted }
        XCTAssertEqual(deleted?.path, "/eph")
        await other.close(); await c.close()
    }

    func testTriesTheNextHostAndFailsWhenNoneAnswers() async throws {
        let dead = try ZKServerProcess.freePort()
        let c = try await connect("127.0.0.1:\(dead),\(server.connectString)")
        let current = try await c.currentServer
        XCTAssertEqual(current.port, server.port)
        let v9 = try await c.exists("/")
        XCTAssertNotNil(v9)
        await c.close()
        await assertCode(.connectionLoss) { _ = try await self.connect("127.0.0.1:\(dead)") }
    }

    func testServerLossFailsCallsWithConnectionLoss() async throws {
        let c = try await connect(timeout: .seconds(2))
        let v10 = try await c.exists("/")
        XCTAssertNotNil(v10)
        server.stop(removeData: false)
        do {
            _ = try await c.exists("/")
            XCTFail("expected an error")
        } catch let e as ZooKeeperError {
            XCTAssertTrue([.connectionLoss, .sessionExpired, .closed].contains(e.code), "\(e)")
        }
        // With no server the client gives up once the session would have expired.
        let end = await nextEvent(c, within: 10) { $0.type == .none && ($0.state == .expired || $0.state == .closed) }
        XCTAssertNotNil(end)
        await assertCode(.sessionExpired) { _ = try await c.exists("/") }
    }

    func testDigestAuth() async throws {
        let owner = try await connect()
        try await owner.addDigestAuth(user: "alice", password: "secret")
        _ = try await owner.create("/private", data: [1], acl: ACL.creatorAll)
        let v11 = try await owner.getData("/private").0
        XCTAssertEqual(v11, [1])
        let stranger = try await connect()
        await assertCode(.noAuth) { _ = try await stranger.getData("/private") }
        try await stranger.addDigestAuth(user: "alice", password: "secret")
        let v12 = try await stranger.getData("/private").0
        XCTAssertEqual(v12, [1])
        await owner.close(); await stranger.close()
    }

    func testConfigIsReadableAndReconfigIsRefusedByAStandaloneServer() async throws {
        let c = try await connect()
        let config = try await c.getConfig()
        let direct = try await c.getData("/zookeeper/config")
        XCTAssertEqual(config.0, direct.0)
        XCTAssertEqual(config.1, direct.1)
        try await c.addDigestAuth(user: "super", password: "not-configured")
        // A standalone server without reconfigEnabled refuses membership changes with its own code.
        await assertCode(.reconfigDisabled) { _ = try await c.reconfig(leaving: "2", fromConfig: -1) }
        // The session is still usable after the refusal.
        let root = try await c.exists("/")
        XCTAssertNotNil(root)
        await c.close()
    }
}
