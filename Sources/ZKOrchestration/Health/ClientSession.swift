import Foundation
import ZKClient
import ZKProtocol

/// zkctl's own short client sessions (the health write, reconfig): a ZKClient session through a
/// connect string, the requests, then close, all within one deadline.
enum ClientSession {
    /// The session timeout zkctl asks for.
    static let sessionTimeout: Duration = .seconds(10)

    /// Connects to the first server of `connectString` that accepts a session, runs `body` and closes
    /// the session. Throws when `timeout` passes first (the session is still closed once the client
    /// gives up on its own).
    static func run<T: Sendable>(_ connectString: String, timeout: Duration,
                                 _ body: @escaping @Sendable (ZooKeeperClient) async throws -> T) async throws -> T {
        try await withDeadline(timeout) {
            let client = try await ZooKeeperClient.connect(connectString: connectString, sessionTimeout: sessionTimeout,
                                                           requestTimeout: timeout)
            do {
                let result = try await body(client)
                await client.close()
                return result
            } catch {
                await client.close()
                throw error
            }
        }
    }

    /// The connect string of `servers`.
    static func connectString(_ servers: [(host: String, port: Int)]) -> String {
        servers.map { "\($0.host):\($0.port)" }.joined(separator: ",")
    }

    /// One line for a failed session: the code and what the client knows about it.
    static func describe(_ error: Error) -> String {
        guard let e = error as? ZooKeeperError else { return "\(error)" }
        var text = e.code.description
        if let path = e.path { text += " on \(path)" }
        if let message = e.message { text += ": \(message)" }
        return text
    }
}

/// The result of `body`, or `ZKCtlError("timed out after …")` once `timeout` has passed. A `body`
/// still running then is cancelled and left to finish on its own, so it must be bounded itself.
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let outcome = DeadlineOutcome(continuation)
        let work = Task {
            do { outcome.finish(.success(try await body())) } catch { outcome.finish(.failure(error)) }
        }
        outcome.setTimer(Task {
            try? await Task.sleep(for: timeout)
            let seconds = Double(timeout.milliseconds) / 1000
            let text = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
            if !Task.isCancelled, outcome.finish(.failure(ZKCtlError("timed out after \(text)s"))) { work.cancel() }
        })
    }
}

/// The first of a deadline's two outcomes (the body's result or the timeout) resumes the waiter.
/// Sendable: `lock` guards `continuation` and `pendingTimer`.
private final class DeadlineOutcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var pendingTimer: Task<Void, Never>?

    init(_ continuation: CheckedContinuation<T, Error>) { self.continuation = continuation }

    /// Keeps the timeout's task, to cancel it as soon as the body is done (at once when it already is).
    func setTimer(_ timer: Task<Void, Never>) {
        lock.lock()
        let done = continuation == nil
        if !done { pendingTimer = timer }
        lock.unlock()
        if done { timer.cancel() }
    }

    /// Resumes the waiter unless the other outcome came first; true when this one did.
    @discardableResult
    func finish(_ result: Result<T, Error>) -> Bool {
        lock.lock()
        let c = continuation
        let timer = pendingTimer
        continuation = nil
        pendingTimer = nil
        lock.unlock()
        guard let c else { return false }
        timer?.cancel()
        c.resume(with: result)
        return true
    }
}

/// The health write through a real client session: create an ephemeral znode, close the session.
public struct ZKClientProbe: ClientProbe {
    public init() {}

    public func testWrite(connectString: String, timeout: Duration) async -> WriteCheck {
        do {
            let zxid = try await ClientSession.run(connectString, timeout: timeout) { client -> UInt64 in
                let (_, stat) = try await client.create2("/zkctl-health-\(UInt32.random(in: 0...UInt32.max))",
                                                         data: Array("zkctl".utf8), acl: ACL.openUnsafe, mode: .ephemeral)
                return UInt64(bitPattern: stat.czxid)
            }
            return .committed(zxid: zxid)
        } catch {
            return .failed(ClientSession.describe(error))
        }
    }
}
