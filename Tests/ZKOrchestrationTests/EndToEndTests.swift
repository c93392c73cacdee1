import Foundation
import Testing
@testable import ZKOrchestration

/// A base port P such that P..P+4, P+100..P+104, P+200..P+204, P+400..P+404 (metrics) and P+500..P+504 (admin) are free on 127.0.0.1, below
/// Linux's ephemeral range (32768+) so other programs' outgoing connections cannot take them.
func freeBasePort(count: Int = 5) -> Int {
    for _ in 0..<200 {
        let base = Int.random(in: 200...322) * 100 + Int.random(in: 0...9) * 10
        let ports: [Int] = (0..<count).flatMap { (i: Int) -> [Int] in [0, 100, 200, 400, 500].map { base + $0 + i } }
        if claimPorts(ports) { return base }
    }
    return 45000
}

let apacheInstalled = FileSystem.exists("/usr/share/java/zookeeper.jar") && FileSystem.which("java") != nil
let zkserverBinary = Paths.packageRoot + "/.build/debug/zkserver"

/// Real processes on loopback. Serialized: two cores are shared with other builds.
@Suite(.serialized) struct EndToEndTests {
    func orchestrator(_ home: String) -> Orchestrator {
        Orchestrator(store: ClusterStore(home: home), templates: DirectoryTemplateSource(directory: Paths.templates),
                     locator: EngineLocator(zkserver: FileSystem.isExecutable(zkserverBinary) ? zkserverBinary : nil),
                     stopTimeout: .seconds(10))
    }

    @Test(.enabled(if: apacheInstalled), .timeLimit(.minutes(3)))
    func apacheEnsembleUpStatusDrillDown() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let o = orchestrator(home)
        let base = freeBasePort(count: 3)
        let inv = Inventory.local(name: "e2e", engine: .apache, count: 3, clientPort: base, quorumPort: base + 100, electionPort: base + 200)
        do {
            try await drill(o, inv)
        } catch {
            _ = try? await o.down(inv, purge: true)
            throw error
        }
    }

    func drill(_ o: Orchestrator, _ inv: Inventory) async throws {
        let up = try await o.up(inv, inventoryYAML: InventoryWriter.yaml(inv), timeout: .seconds(90))
        let health = try #require(up.health)
        #expect(health.state == .healthy)
        #expect(health.nodes.filter { $0.observed == "leader" }.count == 1)
        #expect(health.nodes.filter { $0.observed == "follower" }.count == 2)
        #expect(health.nodes.allSatisfy { $0.pid != nil && $0.zxid != nil })

        // Idempotent.
        let again = try await o.up(inv, inventoryYAML: InventoryWriter.yaml(inv), timeout: .seconds(30))
        #expect(again.plan.changesNothing)

        // Kill a follower: degraded; start it: healthy again.
        let follower = try #require(health.nodes.first { $0.observed == "follower" }).id
        _ = try await o.node(inv, id: follower, action: .kill)
        let degraded = await o.health(inv)
        #expect(degraded.state == .degraded)
        _ = try await o.node(inv, id: follower, action: .start)
        try await o.waitHealthy(inv, timeout: .seconds(60))

        // Down: no process, no listening port, data kept; up restarts with the data.
        _ = try await o.down(inv, purge: false)
        #expect(o.observe(inv).allSatisfy { $0.process == .stopped && $0.myid != nil })
        #expect(inv.nodes.allSatisfy { !PortCheck.isListening(host: "127.0.0.1", port: $0.clientPort) })
        let restarted = try await o.up(inv, inventoryYAML: InventoryWriter.yaml(inv), timeout: .seconds(90))
        #expect(restarted.health?.state == .healthy)
        #expect(restarted.plan.steps.filter { if case .prepare = $0 { return true } else { return false } }.isEmpty)

        _ = try await o.down(inv, purge: true)
        #expect(!FileSystem.exists(o.store.home + "/clusters/e2e"))
        #expect(inv.nodes.allSatisfy { PortCheck.isFree(host: "127.0.0.1", port: $0.clientPort) })
    }

    @Test(.enabled(if: FileSystem.isExecutable(zkserverBinary)), .timeLimit(.minutes(3)))
    func bundledEnsembleUpStatusDrillDown() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let o = orchestrator(home)
        let base = freeBasePort(count: 3)
        let inv = Inventory.local(name: "e2e", engine: .bundled, count: 3, clientPort: base, quorumPort: base + 100, electionPort: base + 200,
                                  metricsPort: base + 400, adminPort: base + 500)
        do {
            try await drill(o, inv)
        } catch {
            _ = try? await o.down(inv, purge: true)
            throw error
        }
    }

    @Test(.enabled(if: apacheInstalled), .timeLimit(.minutes(2)))
    func busyPortIsRefusedBeforeLaunch() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let o = orchestrator(home)
        let base = freeBasePort(count: 1)
        // Hold the client port with a listener of our own.
        let holder = try #require(ListeningSocket(port: base))
        defer { holder.close() }
        let inv = Inventory.local(name: "busy", engine: .apache, count: 1, clientPort: base, quorumPort: base + 100, electionPort: base + 200)
        do {
            _ = try await o.up(inv, inventoryYAML: InventoryWriter.yaml(inv), timeout: .seconds(30))
            Issue.record("expected a busy-port error")
        } catch let e as ZKCtlError {
            #expect(e.message.contains("port 127.0.0.1:\(base) (client port of node 1) is in use"))
        }
        #expect(o.observe(inv).allSatisfy { $0.process == .stopped })
        #expect(!o.store.exists("busy"), "a cluster that never started leaves nothing behind")
    }

    @Test(.enabled(if: FileSystem.isExecutable(zkserverBinary)), .timeLimit(.minutes(2)))
    func bundledStandaloneUpStatusDown() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let o = orchestrator(home)
        let base = freeBasePort(count: 1)
        let inv = Inventory.local(name: "solo", engine: .bundled, count: 1, clientPort: base, quorumPort: base + 100, electionPort: base + 200,
                                  metricsPort: base + 400, adminPort: base + 500)
        let up = try await o.up(inv, inventoryYAML: InventoryWriter.yaml(inv), timeout: .seconds(60))
        #expect(up.health?.state == .healthy)
        #expect(up.health?.nodes.first?.observed == "standalone")
        _ = try await o.down(inv, purge: true)
        #expect(PortCheck.isFree(host: "127.0.0.1", port: base))
        #expect(o.observe(inv).allSatisfy { $0.process == .stopped })
    }
}

/// A loopback listener used to occupy a port in tests.
final class ListeningSocket {
    let fd: Int32
    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 4) == 0 else { Glibc.close(fd); return nil }
    }
    func close() { Glibc.close(fd) }
}
