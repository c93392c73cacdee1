import Testing
@testable import ZKOrchestration

@Suite struct FourLetterWordTests {
    @Test func parsesSrvrOfALeader() throws {
        let text = """
            Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC
            Latency min/avg/max: 0/0.6458/4
            Received: 205
            Sent: 232
            Connections: 2
            Outstanding: 0
            Zxid: 0x100000003
            Mode: leader
            Node count: 39
            Proposal sizes last/min/max: -1/-1/-1

            """
        let s = try #require(FourLetterWords.parseSrvr(text))
        #expect(s.mode == .leader)
        #expect(s.zxid == 0x1_0000_0003)
        #expect(s.nodeCount == 39)
        #expect(s.connections == 2)
    }

    @Test func notServingAndGarbage() {
        #expect(FourLetterWords.parseSrvr("This ZooKeeper instance is not currently serving requests\n")?.mode == .notServing)
        #expect(FourLetterWords.parseSrvr("Mode: read-only\n")?.mode == .readOnly)
        #expect(FourLetterWords.parseSrvr("srvr is not executed because it is not in the whitelist.\n") == nil)
        #expect(FourLetterWords.parseSrvr("") == nil)
    }

    @Test func parsesMntr() {
        let m = FourLetterWords.parseMntr("zk_version\t3.8.0\nzk_server_state\tfollower\nzk_znode_count\t5\n")
        #expect(m["zk_server_state"] == "follower")
        #expect(m["zk_znode_count"] == "5")
    }

    @Test func zxidFormatting() {
        #expect(FourLetterWords.formatZxid(0x100000000) == "0x100000000")
        #expect(FourLetterWords.formatZxid(nil) == "-")
        #expect(FourLetterWords.parseHex("0x1f") == 31)
    }
}

@Suite struct HealthModelTests {
    func probe(_ id: Int, _ mode: ServerMode?, role: NodeRole = .participant, ruok: Bool = true,
               process: ProcessState? = .running) -> NodeProbe {
        NodeProbe(id: id, expectedRole: role, clientAddress: "127.0.0.1:\(2180 + id)", process: process, pid: Int32(100 + id),
                  ruok: mode != nil && ruok, status: mode.map { ServerStatus(mode: $0, zxid: 0x100000001) },
                  error: mode == nil ? "connection refused" : nil)
    }

    @Test func healthyEnsemble() {
        let h = HealthModel.evaluate([probe(1, .follower), probe(2, .leader), probe(3, .follower)], write: .committed(zxid: 5))
        #expect(h.state == .healthy)
        #expect(h.leader == 2)
        #expect(h.problems.isEmpty)
        #expect(h.state.exitCode == 0)
    }

    @Test func healthyWithObservers() {
        let h = HealthModel.evaluate([
            probe(1, .leader), probe(2, .follower), probe(3, .follower),
            probe(4, .observer, role: .observer), probe(5, .observer, role: .observer),
        ], write: .committed(zxid: 1))
        #expect(h.state == .healthy)
    }

    @Test func standaloneIsHealthyWithoutALeader() {
        let h = HealthModel.evaluate([probe(1, .standalone)], write: .committed(zxid: 1))
        #expect(h.state == .healthy)
        #expect(h.leader == nil)
    }

    @Test func oneFollowerDownIsDegraded() {
        let h = HealthModel.evaluate([probe(1, .leader), probe(2, .follower), probe(3, nil, process: .stopped)], write: .committed(zxid: 1))
        #expect(h.state == .degraded)
        #expect(h.state.exitCode == 3)
        #expect(h.problems == ["node 3 is stopped"])
        #expect(h.nodes[2].observed == "stopped")
    }

    @Test func pausedNodeIsDegraded() {
        let h = HealthModel.evaluate([probe(1, .leader), probe(2, .follower), probe(3, nil, process: .paused)], write: .committed(zxid: 1))
        #expect(h.state == .degraded)
        #expect(h.nodes[2].observed == "paused")
    }

    @Test func noLeaderIsDown() {
        let h = HealthModel.evaluate([probe(1, .notServing), probe(2, .notServing), probe(3, nil, process: .stopped)], write: .skipped)
        #expect(h.state == .down)
        #expect(h.state.exitCode == 4)
        #expect(h.problems.first == "no leader")
    }

    @Test func twoLeadersIsDown() {
        let h = HealthModel.evaluate([probe(1, .leader), probe(2, .leader), probe(3, .follower)], write: .committed(zxid: 1))
        #expect(h.state == .down)
        #expect(h.problems.first?.contains("2 nodes claim leadership") == true)
    }

    @Test func tooFewVotersIsDown() {
        let h = HealthModel.evaluate([
            probe(1, .leader), probe(2, nil), probe(3, nil),
            probe(4, .observer, role: .observer),
        ], write: .committed(zxid: 1))
        #expect(h.state == .down)
        #expect(h.problems.first == "only 1 of 3 voters serving, quorum is 2")
    }

    @Test func failedWriteIsDown() {
        let h = HealthModel.evaluate([probe(1, .follower), probe(2, .leader), probe(3, .follower)], write: .failed("timed out"))
        #expect(h.state == .down)
        #expect(h.problems == ["test write failed: timed out"])
    }

    @Test func skippedWriteIsNotHealthy() {
        let h = HealthModel.evaluate([probe(1, .standalone)], write: .skipped)
        #expect(h.state == .degraded)
        // What the nodes alone say is kept apart from the write.
        #expect(h.ensembleState == .healthy)
    }

    @Test func ensembleStateIgnoresTheWriteButNotTheNodes() {
        let failed = HealthModel.evaluate([probe(1, .follower), probe(2, .leader), probe(3, .follower)], write: .failed("timed out"))
        #expect(failed.state == .down)
        #expect(failed.ensembleState == .healthy)
        let oneDown = HealthModel.evaluate([probe(1, .leader), probe(2, .follower), probe(3, nil)], write: .skipped)
        #expect(oneDown.ensembleState == .degraded)
    }

    @Test func aOneVoterQuorumLeaderIsHealthy() {
        let h = HealthModel.evaluate([probe(1, .leader)], write: .committed(zxid: 1))
        #expect(h.state == .healthy)
        #expect(h.leader == nil)
    }

    @Test func wrongRoleIsDegraded() {
        let h = HealthModel.evaluate([
            probe(1, .leader), probe(2, .follower), probe(3, .follower), probe(4, .follower, role: .observer), probe(5, .observer, role: .observer),
        ], write: .committed(zxid: 1))
        #expect(h.state == .degraded)
        #expect(h.problems == ["node 4 is follower, expected observer"])
    }

    @Test func ruokFailureWithModeIsAProblem() {
        let h = HealthModel.evaluate([probe(1, .leader), probe(2, .follower, ruok: false), probe(3, .follower)], write: .committed(zxid: 1))
        #expect(h.state == .degraded)
        #expect(h.problems == ["node 2 does not answer ruok"])
    }

    @Test func leaderWithTooFewSyncedFollowersIsDegraded() {
        var leader = probe(2, .leader)
        leader.syncedFollowers = 1
        let h = HealthModel.evaluate([probe(1, .follower), leader, probe(3, .follower)], write: .committed(zxid: 1))
        #expect(h.state == .degraded)
        #expect(h.problems == ["leader 2 has 1 synced followers, but 2 nodes report follower"])
        leader.syncedFollowers = 2
        #expect(HealthModel.evaluate([probe(1, .follower), leader, probe(3, .follower)], write: .committed(zxid: 1)).state == .healthy)
    }

    @Test func reportShowsTableAndJSON() {
        let inv = Inventory.local(engine: .apache, count: 3)
        let h = HealthModel.evaluate([probe(1, .follower), probe(2, .leader), probe(3, .follower)], write: .committed(zxid: 0x100000002))
        let table = Report.table(inv, h)
        #expect(table == """
            cluster local (apache, 3 nodes): healthy
            ID  ROLE      STATE  CLIENT          PID  ZXID
            1   follower  ok     127.0.0.1:2181  101  0x100000001
            2   leader    ok     127.0.0.1:2182  102  0x100000001
            3   follower  ok     127.0.0.1:2183  103  0x100000001
            connect: 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183
            """)
        let json = Report.json(inv, h)
        #expect(json.roles == ["leader": 1, "follower": 2])
        #expect(json.writeCheck == "committed 0x100000002")
        #expect(json.leader == 2)
    }
}
