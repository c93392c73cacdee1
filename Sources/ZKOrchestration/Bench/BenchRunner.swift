import Dispatch
import Foundation
import ZKClient
import ZKProtocol

/// Runs one workload against a live server or ensemble through `ZooKeeperClient` (shell: network).
///
/// `clients` sessions (spread round-robin over the connect string's servers) each keep
/// `outstanding` requests in flight, one task per slot. The run is bounded by `ops` and
/// `duration`; only successful operations count towards throughput and latency.
public struct BenchRunner: Sendable {
    public var progress: @Sendable (String) -> Void
    /// Leave the benchmark's znodes in place instead of deleting them afterwards.
    public var keepData = false
    /// Polled before each operation; true ends the timed phase early (Ctrl-C).
    public var interrupted: @Sendable () -> Bool = { false }

    public init(progress: @escaping @Sendable (String) -> Void = { _ in }) { self.progress = progress }

    struct WorkerResult: Sendable {
        var latencies: [UInt64] = []
        var errors: [String: Int] = [:]
        var watchesExpected = 0
        mutating func fail(_ error: Error) {
            let key = (error as? ZooKeeperError).map { "\($0.code)" } ?? "\(type(of: error))"
            errors[key, default: 0] += 1
        }
    }

    public func run(_ config: BenchConfig) async throws -> BenchResult {
        let servers = try ServerAddress.parseList(config.connectString)
        let root = "/zkbench-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        let value = [UInt8](repeating: 0x61, count: config.valueSize)
        let setup = try await ZooKeeperClient.connect(connectString: config.connectString, sessionTimeout: config.sessionTimeout)
        _ = try await setup.create(root, data: [])
        if [.set, .get, .mixed, .multi].contains(config.workload) {
            progress("creating \(config.hotSet) znodes of \(config.valueSize) bytes under \(root)")
            try await Self.pipelined(count: config.hotSet, window: 64) { i in
                _ = try await setup.create("\(root)/h\(i)", data: value)
            }
        }
        // Rotate the host list so client i starts at server i mod n.
        let connectStrings = (0..<config.clients).map { i -> String in
            let k = i % servers.count
            return (servers[k...] + servers[..<k]).map(\.description).joined(separator: ",")
        }
        var clients: [ZooKeeperClient] = []
        if config.workload != .churn {
            for cs in connectStrings {
                clients.append(try await ZooKeeperClient.connect(connectString: cs, sessionTimeout: config.sessionTimeout))
            }
        }
        // Counts NodeDeleted notifications per client (ephemeral workload).
        let watchCounter = Counter()
        var watchTasks: [Task<Void, Never>] = []
        if config.workload == .ephemeral {
            for c in clients {
                watchTasks.append(Task {
                    for await ev in c.events where ev.type == .nodeDeleted { watchCounter.add(1) }
                })
            }
        }

        let workers = config.clients * config.outstanding
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(config.duration.components.seconds) * 1_000_000_000
            + UInt64(config.duration.components.attoseconds / 1_000_000_000)
        progress("running \(config.workload.rawValue): \(config.clients) clients x \(config.outstanding) outstanding, \(config.ops) ops, at most \(config.duration)")
        let started = DispatchTime.now().uptimeNanoseconds
        // Each worker runs on its client's event loop: a request and its reply then cost no thread hop in
        // the benchmark client, so the figures say more about the servers (for both engines alike).
        let executors = clients.map(\.taskExecutor)
        let results = await withTaskGroup(of: WorkerResult.self) { group in
            for w in 0..<workers {
                let quota = config.ops / workers + (w < config.ops % workers ? 1 : 0)
                if quota == 0 { continue }
                let clientIndex = w % config.clients
                let client = clients.isEmpty ? nil : clients[clientIndex]
                let connectString = connectStrings[clientIndex]
                let interrupted = self.interrupted
                let executor = executors.isEmpty ? nil : executors[clientIndex]
                group.addTask(executorPreference: executor) {
                    await Self.worker(id: w, quota: quota, deadline: deadline, config: config, root: root, value: value,
                                      client: client, connectString: connectString, interrupted: interrupted)
                }
            }
            var all: [WorkerResult] = []
            for await r in group { all.append(r) }
            return all
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9

        var latencies: [UInt64] = []
        latencies.reserveCapacity(results.reduce(0) { $0 + $1.latencies.count })
        var errors: [String: Int] = [:]
        var watchesExpected = 0
        for r in results {
            latencies += r.latencies
            for (k, v) in r.errors { errors[k, default: 0] += v }
            watchesExpected += r.watchesExpected
        }
        var watchesReceived: Int?
        if config.workload == .ephemeral {
            let waitUntil = DispatchTime.now().uptimeNanoseconds + 2_000_000_000
            while watchCounter.value < watchesExpected && DispatchTime.now().uptimeNanoseconds < waitUntil {
                try? await Task.sleep(for: .milliseconds(10))
            }
            watchesReceived = watchCounter.value
        }
        for c in clients { await c.close() }
        for t in watchTasks { t.cancel() }
        if !keepData {
            await Self.deleteTree(root, client: setup)
        }
        await setup.close()
        let ops = latencies.count
        return BenchResult(
            workload: config.workload == .mixed ? "mixed \(Int((config.readRatio * 100).rounded()))% reads" : config.workload.rawValue,
            clients: config.clients, outstanding: config.outstanding, valueSize: config.valueSize,
            ops: ops, errors: errors.values.reduce(0, +), errorsByCode: errors, seconds: elapsed,
            opsPerSecond: elapsed > 0 ? Double(ops) / elapsed : 0, latencyMs: LatencySummary.of(nanoseconds: latencies),
            watchEventsReceived: watchesReceived, watchEventsExpected: config.workload == .ephemeral ? watchesExpected : nil)
    }

    static func worker(id: Int, quota: Int, deadline: UInt64, config: BenchConfig, root: String, value: [UInt8],
                       client: ZooKeeperClient?, connectString: String,
                       interrupted: @Sendable () -> Bool = { false }) async -> WorkerResult {
        var out = WorkerResult()
        out.latencies.reserveCapacity(quota)
        var rng = SplitMix64(seed: UInt64(id) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let hot = max(config.hotSet, 1)
        for i in 0..<quota {
            let t0 = DispatchTime.now().uptimeNanoseconds
            if t0 >= deadline || interrupted() { break }
            do {
                switch config.workload {
                case .create:
                    _ = try await client!.create("\(root)/c\(id)-\(i)", data: value)
                case .set:
                    _ = try await client!.setData("\(root)/h\(rng.next(below: hot))", data: value)
                case .get:
                    _ = try await client!.getData("\(root)/h\(rng.next(below: hot))")
                case .mixed:
                    let path = "\(root)/h\(rng.next(below: hot))"
                    if Double(rng.next(below: 1_000_000)) < config.readRatio * 1_000_000 {
                        _ = try await client!.getData(path)
                    } else {
                        _ = try await client!.setData(path, data: value)
                    }
                case .multi:
                    let ops = (0..<max(config.multiSize, 1)).map { _ in
                        MultiOp.setData(SetDataRequest(path: "\(root)/h\(rng.next(below: hot))", data: value, version: -1))
                    }
                    _ = try await client!.multi(ops)
                case .ephemeral:
                    let path = "\(root)/e\(id)-\(i)"
                    _ = try await client!.create(path, data: value, mode: .ephemeral)
                    _ = try await client!.exists(path, watch: true)
                    try await client!.delete(path)
                    out.watchesExpected += 1
                case .churn:
                    let c = try await ZooKeeperClient.connect(connectString: connectString, sessionTimeout: config.sessionTimeout)
                    do { _ = try await c.exists("/") } catch { await c.close(); throw error }
                    await c.close()
                }
                out.latencies.append(DispatchTime.now().uptimeNanoseconds - t0)
            } catch {
                out.fail(error)
            }
        }
        return out
    }

    /// Runs `body(0..<count)` with at most `window` calls in flight.
    public static func pipelined(count: Int, window: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(count, window) { let i = next; group.addTask { try await body(i) }; next += 1 }
            while try await group.next() != nil {
                if next < count { let i = next; group.addTask { try await body(i) }; next += 1 }
            }
        }
    }

    /// Deletes `path` and everything below it (best effort, bounded by the tree's size).
    public static func deleteTree(_ path: String, client: ZooKeeperClient) async {
        guard let children = try? await client.getChildren(path) else { return }
        for start in stride(from: 0, to: children.count, by: 10_000) {
            let batch = Array(children[start..<min(start + 10_000, children.count)])
            try? await pipelined(count: batch.count, window: 128) { i in
                let child = path + "/" + batch[i]
                do { try await client.delete(child) } catch let e as ZooKeeperError where e.code == .notEmpty {
                    await deleteTree(child, client: client)
                }
            }
        }
        try? await client.delete(path)
    }
}

/// A small fast generator so the choice of znode costs nothing next to a request.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A count shared by concurrent tasks; `lock` guards `n`.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.lock(); n += k; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
