import Testing
@testable import ZKOrchestration

@Suite struct LeaderTransferTests {
    func health(leader: Int?) -> ClusterHealth {
        let probes = [1, 2, 3].map { id in
            NodeProbe(id: id, expectedRole: .participant, clientAddress: "127.0.0.1:\(2180 + id)", process: .running, pid: Int32(100 + id),
                      ruok: true, status: ServerStatus(mode: id == leader ? .leader : .follower, zxid: 0x100000001), error: nil)
        }
        return HealthModel.evaluate(probes, write: .committed(zxid: 5))
    }

    @Test func refusesWhatCannotBeHandedOver() {
        var inv = Inventory.local(name: "t", count: 3)
        #expect(LeaderTransfer.refusal(inv, health: health(leader: 2), to: nil) == nil)
        #expect(LeaderTransfer.refusal(inv, health: health(leader: 2), to: 3) == nil)
        #expect(LeaderTransfer.refusal(inv, health: health(leader: 2), to: 9)?.contains("has no server 9") == true)
        #expect(LeaderTransfer.refusal(inv, health: health(leader: nil), to: nil)?.contains("no leader") == true)
        inv.nodes[2].role = .observer
        #expect(LeaderTransfer.refusal(inv, health: health(leader: 2), to: 3)?.contains("observer") == true)
        let apache = Inventory.local(name: "a", engine: .apache, count: 3)
        #expect(LeaderTransfer.refusal(apache, health: health(leader: 2), to: nil)?.contains("Apache ZooKeeper") == true)
        let one = Inventory.local(name: "o", count: 1)
        #expect(LeaderTransfer.refusal(one, health: health(leader: 1), to: nil)?.contains("single voter") == true)
    }

    @Test func readsTheAdminServersAnswer() throws {
        let node = Inventory.local(name: "t", count: 3).nodes[0]
        let ok = HTTPResponse(status: 200, headers: [:], body: Array(#"{"leader_id": 3, "took_ms": 2, "command": "transfer_leadership", "error": null}"#.utf8))
        #expect(try LeaderTransfer.parse(ok, asked: node) == (3, 2))
        let refused = HTTPResponse(status: 409, headers: [:], body: Array(#"{"command": "transfer_leadership", "error": "this server does not lead"}"#.utf8))
        #expect(throws: ZKCtlError.self) { try LeaderTransfer.parse(refused, asked: node) }
        let odd = HTTPResponse(status: 200, headers: [:], body: Array("hello".utf8))
        #expect(throws: ZKCtlError.self) { try LeaderTransfer.parse(odd, asked: node) }
    }

    @Test func localClustersGetAnAdminPortPerNode() {
        let inv = Inventory.local(name: "t", count: 3, clientPort: 24100, quorumPort: 24200, electionPort: 24300,
                                  metricsPort: 24500, adminPort: 24600)
        #expect(inv.nodes.map(\.adminPort) == [24600, 24601, 24602])
        #expect(inv.listeningPorts(inv.nodes[1]).contains { $0.kind == "admin" && $0.port == 24601 })
    }
}
