import Foundation
import Testing
@testable import ZKOrchestration

/// zkserver processes on loopback: the reconfig client (ZKClient) with the cluster's superuser, scale
/// 3 -> 5 -> 3 and a rolling restart, through the real process provider and probes.
@Suite(.serialized) struct RollingEndToEndTests {
    @Test(.enabled(if: FileSystem.isExecutable(zkserverBinary)), .timeLimit(.minutes(3)))
    func scaleAndRollingRestartOfZkserver() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let ports = freeTestPorts(count: 6)
        let o = Orchestrator(store: ClusterStore(home: home), templates: DirectoryTemplateSource(directory: Paths.templates),
                             locator: EngineLocator(zkserver: zkserverBinary), stopTimeout: .seconds(10))
        let inv = Inventory.local(name: "roll", count: 3, clientPort: ports.client, quorumPort: ports.quorum, electionPort: ports.election,
                                  metricsPort: ports.metrics, adminPort: ports.admin)
        let ex = RollingExecutor(orchestrator: o, syncTimeout: .seconds(60))
        let engine = ResolvedEngine.bundled(zkserver: zkserverBinary)
        do {
            _ = try await o.up(inv, inventoryYAML: InventoryWriter.yaml(inv), timeout: .seconds(60))
            let three = try o.store.loadInventory("roll")

            // A stale configuration version is refused by the servers and changes nothing.
            let password = try #require(o.store.superuserPassword("roll"))
            let servers = three.nodes.map { (host: $0.host, port: $0.clientPort) }
            let before = try await ZKClientReconfigSender().readConfig(servers: servers, timeout: .seconds(10))
            #expect(before.members.map(\.id) == [1, 2, 3])
            let stale = try await ZKClientReconfigSender().reconfig(servers: servers, password: password, joining: nil, leaving: "3",
                                                          fromConfigVersion: 1, timeout: .seconds(10))
            #expect(stale == .refused(code: -103))
            // Without the superuser: not authorised.
            let unauthorised = try await ZKClientReconfigSender().reconfig(servers: servers, password: "wrong", joining: nil, leaving: "3",
                                                                 fromConfigVersion: -1, timeout: .seconds(10))
            if case .applied = unauthorised { Issue.record("a reconfig with a wrong password was applied") }

            var found = await ex.discover(three)
            let up = RollingPlanner.scale(current: three, desired: RollingPlanner.resize(three, voters: 5), healthy: found.healthy,
                                          leader: found.leader, allowEven: false, purge: false)
            #expect(up.blockers.isEmpty)
            try await ex.scale(up, inventory: three, engine: engine)
            let five = try o.store.loadInventory("roll")
            #expect(five.nodes.map(\.id) == [1, 2, 3, 4, 5])
            #expect(await o.health(five).state == .healthy)
            #expect(try await ZKClientReconfigSender().readConfig(servers: servers, timeout: .seconds(10)).members.map(\.id) == [1, 2, 3, 4, 5])

            found = await ex.discover(five)
            let restart = RollingPlanner.rollingRestart(current: five, healthy: found.healthy, leader: found.leader)
            #expect(restart.blockers.isEmpty)
            try await ex.restart(restart, inventory: five, engine: nil, verb: "restart --rolling")
            #expect(await o.health(five).state == .healthy)

            found = await ex.discover(five)
            let down = RollingPlanner.scale(current: five, desired: RollingPlanner.resize(five, voters: 3), healthy: found.healthy,
                                            leader: found.leader, allowEven: false, purge: true)
            try await ex.scale(down, inventory: five, engine: engine)
            let back = try o.store.loadInventory("roll")
            #expect(back.nodes.count == 3)
            #expect(await o.health(back).state == .healthy)
            _ = try await o.down(back, purge: true)
        } catch {
            if let current = try? o.store.loadInventory("roll") { _ = try? await o.down(current, purge: true) }
            _ = try? await o.down(RollingPlanner.resize(inv, voters: 5), purge: true)
            throw error
        }
    }
}
