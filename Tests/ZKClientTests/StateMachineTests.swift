import XCTest
import ZKProtocol
@testable import ZKClient

final class PendingQueueTests: XCTestCase {
    func testRepliesMatchInOrder() {
        var q = PendingQueue<String>()
        let a = q.enqueue("a"), b = q.enqueue("b")
        XCTAssertEqual(a, 1); XCTAssertEqual(b, 2)
        guard case .reply("a") = q.route(xid: 1) else { return XCTFail() }
        guard case .reply("b") = q.route(xid: 2) else { return XCTFail() }
        XCTAssertTrue(q.isEmpty)
    }

    func testSpecialXidsDoNotConsumePending() {
        var q = PendingQueue<Int>()
        _ = q.enqueue(7)
        guard case .notification = q.route(xid: -1) else { return XCTFail() }
        guard case .ping = q.route(xid: -2) else { return XCTFail() }
        guard case .auth = q.route(xid: -4) else { return XCTFail() }
        guard case .setWatches = q.route(xid: -8) else { return XCTFail() }
        XCTAssertEqual(q.count, 1)
    }

    func testOutOfOrderReplyIsReported() {
        var q = PendingQueue<Int>()
        _ = q.enqueue(1); _ = q.enqueue(2)
        guard case .outOfOrder(expected: 1, got: 2) = q.route(xid: 2) else { return XCTFail() }
        var empty = PendingQueue<Int>()
        guard case .outOfOrder(expected: nil, got: 5) = empty.route(xid: 5) else { return XCTFail() }
    }

    func testDrainReturnsOldestFirstAndManyRepliesCompact() {
        var q = PendingQueue<Int>()
        for i in 0..<5000 { _ = q.enqueue(i) }
        for i in 0..<4000 {
            guard case .reply(let v) = q.route(xid: Int32(i + 1)) else { return XCTFail() }
            XCTAssertEqual(v, i)
        }
        XCTAssertEqual(q.oldest, 4000)
        XCTAssertEqual(q.drain(), Array(4000..<5000))
        XCTAssertTrue(q.isEmpty)
    }
}

final class SessionMachineTests: XCTestCase {
    let servers = [ServerAddress(host: "127.0.0.1", port: 1), ServerAddress(host: "127.0.0.1", port: 2)]

    func testHandshakeEstablishesANewSession() {
        var m = SessionMachine(servers: servers, sessionTimeoutMs: 9000)
        XCTAssertEqual(m.start(), .connect(servers[0], afterNanos: 0))
        guard case .sendConnectRequest(let req) = m.channelActive() else { return XCTFail() }
        XCTAssertEqual(req.sessionId, 0); XCTAssertEqual(req.timeOut, 9000)
        let action = m.handshake(ConnectResponse(timeOut: 6000, sessionId: 42, passwd: [1, 2], readOnly: false))
        XCTAssertEqual(action, .established(sessionId: 42, timeoutMs: 6000, resumed: false))
        XCTAssertEqual(m.state, .connected)
    }

    func testFirstConnectTriesEveryHostThenGivesUp() {
        var m = SessionMachine(servers: servers, sessionTimeoutMs: 9000)
        _ = m.start()
        XCTAssertEqual(m.connectionLost(now: 0), .connect(servers[1], afterNanos: 0))
        XCTAssertEqual(m.connectionLost(now: 0), .connect(servers[0], afterNanos: 50_000_000))
        XCTAssertEqual(m.connectionLost(now: 0), .connect(servers[1], afterNanos: 0))
        XCTAssertEqual(m.connectionLost(now: 0), .giveUp(.connectionLoss))
        XCTAssertEqual(m.state, .closed(.connectionLoss))
    }

    func testLostConnectionResumesTheSessionOnTheNextHost() {
        var m = SessionMachine(servers: servers, sessionTimeoutMs: 9000)
        _ = m.start(); _ = m.channelActive()
        _ = m.handshake(ConnectResponse(timeOut: 4000, sessionId: 42, passwd: [9], readOnly: false))
        m.observe(zxid: 77)
        XCTAssertEqual(m.connectionLost(now: 1_000), .disconnected(next: .init(server: servers[1], afterNanos: 0)))
        guard case .sendConnectRequest(let req) = m.channelActive() else { return XCTFail() }
        XCTAssertEqual(req.sessionId, 42); XCTAssertEqual(req.passwd, [9]); XCTAssertEqual(req.lastZxidSeen, 77)
        XCTAssertEqual(req.timeOut, 4000)
        XCTAssertEqual(m.handshake(ConnectResponse(timeOut: 4000, sessionId: 42, passwd: [9], readOnly: false)),
                       .established(sessionId: 42, timeoutMs: 4000, resumed: true))
    }

    func testReconnectStopsWhenTheSessionWouldHaveExpired() {
        var m = SessionMachine(servers: servers, sessionTimeoutMs: 9000)
        _ = m.start(); _ = m.channelActive()
        _ = m.handshake(ConnectResponse(timeOut: 1000, sessionId: 42, passwd: [9], readOnly: false))
        _ = m.connectionLost(now: 0)
        // Keeps trying within the session timeout, whatever the number of failures.
        for _ in 0..<10 { guard case .connect = m.connectionLost(now: 500_000_000) else { return XCTFail() } }
        XCTAssertEqual(m.connectionLost(now: 1_000_000_001), .giveUp(.sessionExpired))
    }

    func testExpiredSessionInTheHandshakeGivesUp() {
        var m = SessionMachine(servers: servers, sessionTimeoutMs: 9000)
        _ = m.start(); _ = m.channelActive()
        XCTAssertEqual(m.handshake(ConnectResponse.invalid(readOnlyByte: true)), .giveUp(.sessionExpired))
        XCTAssertEqual(m.close(), .none)
    }

    func testConnectStringParsing() throws {
        XCTAssertEqual(try ServerAddress.parseList("a:1, b ,c:3"),
                       [ServerAddress(host: "a", port: 1), ServerAddress(host: "b", port: 2181), ServerAddress(host: "c", port: 3)])
        XCTAssertThrowsError(try ServerAddress.parseList(""))
        XCTAssertThrowsError(try ServerAddress.parseList("a:x"))
        XCTAssertThrowsError(try ServerAddress.parseList("a:1/chroot"))
    }
}
