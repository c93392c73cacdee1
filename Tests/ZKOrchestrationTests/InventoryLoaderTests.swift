import Testing
@testable import ZKOrchestration

@Suite struct InventoryLoaderTests {
    @Test func minimalInventoryGetsDefaults() throws {
        let inv = try InventoryLoader.parse(yaml: """
            zookeeper:
              vars: {zk_engine: apache}
              hosts:
                a: {zk_id: 1}
                b: {zk_id: 2}
                c: {zk_id: 3}
            """, defaultName: "mini")
        #expect(inv.cluster.name == "mini")
        #expect(inv.cluster.engine == .apache)
        #expect(inv.cluster.tickTimeMs == 2000)
        #expect(inv.nodes.map(\.clientPort) == [2181, 2182, 2183])
        #expect(inv.nodes.map(\.quorumPort) == [2888, 2889, 2890])
        #expect(inv.nodes.map(\.electionPort) == [3888, 3889, 3890])
        #expect(inv.nodes.allSatisfy { $0.host == "127.0.0.1" && $0.role == .participant })
        #expect(inv.connectString == "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183")
    }

    @Test func metricsPortsAreAllocatedLikeClientPortsAndChecked() throws {
        let inv = try InventoryLoader.parse(yaml: """
            zookeeper:
              vars: {zk_engine: bundled, zk_metrics_port: 9100}
              hosts:
                a: {zk_id: 1}
                b: {zk_id: 2}
                c: {zk_id: 3, zk_metrics_port: 9200}
            """)
        #expect(inv.nodes.map(\.metricsPort) == [9100, 9101, 9200])
        #expect(inv.listeningPorts(inv.nodes[0]).map(\.kind) == ["client", "quorum", "election", "metrics", "admin"])
        #expect(inv.nodes.map(\.adminPort) == [8080, 8081, 8082])
        #expect(try InventoryLoader.parse(yaml: InventoryWriter.yaml(inv)) == inv)
        #expect(Inventory.local(count: 3).nodes.map(\.metricsPort) == [7000, 7001, 7002])
        do {
            _ = try InventoryLoader.parse(yaml: """
                zookeeper:
                  vars: {zk_engine: bundled}
                  hosts:
                    a: {zk_id: 1}
                    b: {zk_id: 2}
                    c: {zk_id: 3, zk_metrics_port: 2181}
                """)
            Issue.record("a metrics port on another node's client port was accepted")
        } catch let e as InventoryError {
            #expect(e.description.contains("c.zk_metrics_port: duplicate port 127.0.0.1:2181: c metrics port collides with a client port"), "\(e)")
        }
        // Apache nodes serve no metrics here, so their metrics ports are not checked or used.
        let apache = try InventoryLoader.parse(yaml: """
            zookeeper:
              vars: {zk_engine: apache}
              hosts:
                a: {zk_id: 1, zk_metrics_port: 2182}
            """)
        #expect(!apache.servesMetrics && !apache.listeningPorts(apache.nodes[0]).contains { $0.kind == "metrics" })
    }

    @Test func distinctHostsKeepBasePorts() throws {
        let inv = try InventoryLoader.load(path: Paths.inventories + "/production-3.yaml")
        #expect(inv.cluster.name == "prod")
        #expect(inv.nodes.map(\.host) == ["192.0.2.11", "192.0.2.12", "192.0.2.13"])
        #expect(inv.nodes.allSatisfy { $0.clientPort == 2181 && $0.quorumPort == 2888 && $0.electionPort == 3888 })
        #expect(inv.cluster.dataLogDir == "/var/lib/zookeeper-txlog")
        #expect(inv.cluster.javaHeapMB == 2048)
    }

    @Test func shippedInventoriesLoad() throws {
        let local = try InventoryLoader.load(path: Paths.inventories + "/local.yaml")
        #expect(local.cluster.engine == .bundled)
        #expect(local.nodes.count == 3)
        let five = try InventoryLoader.load(path: Paths.inventories + "/local-5-observer.yaml")
        #expect(five.voters.map(\.id) == [1, 2, 3])
        #expect(five.observers.map(\.id) == [4, 5])
        #expect(five.nodes.map(\.clientPort) == [2281, 2282, 2283, 2284, 2285])
        #expect(five.cluster.fourLetterWordWhitelist == ["ruok", "srvr", "stat", "mntr", "conf"])
    }

    @Test func hostVarsOverrideGroupVarsOverrideAllVars() throws {
        let inv = try InventoryLoader.parse(yaml: """
            all:
              vars: {zk_tick_time: 1000, zk_client_port: 5000}
              children:
                zookeeper:
                  vars: {zk_engine: bundled, zk_tick_time: 1500}
                  hosts:
                    one: {zk_id: 7, zk_client_port: 6000, ansible_host: 127.0.0.1}
            """)
        #expect(inv.cluster.tickTimeMs == 1500)
        #expect(inv.cluster.clientPort == 5000)
        #expect(inv.nodes[0].clientPort == 6000)
        #expect(inv.isStandalone)
    }

    @Test func everyProblemIsReportedWithPathAndLine() throws {
        let yaml = """
            all:
              children:
                zookeeper:
                  vars:
                    zk_tick_tme: 2000
                  hosts:
                    zk1: {zk_id: 1}
                    zk2: {zk_id: 1}
                    zk3: {zk_id: 3, zk_color: blue}
                    zk4: {zk_id: 4, zk_client_port: 2181}
            """
        do {
            _ = try InventoryLoader.parse(yaml: yaml, source: "bad.yaml")
            Issue.record("expected an error")
        } catch let error as InventoryError {
            let text = error.description
            #expect(text.hasPrefix("bad.yaml: 6 problems"))
            #expect(text.contains("line 5: all.children.zookeeper.vars.zk_tick_tme: unknown key (did you mean zk_tick_time?)"))
            #expect(text.contains("all.children.zookeeper.vars.zk_engine: missing engine"))
            #expect(text.contains("line 9: all.children.zookeeper.hosts.zk3.zk_color: unknown key"))
            #expect(text.contains("line 8: all.children.zookeeper.hosts.zk2.zk_id: duplicate server id 1"))
            #expect(text.contains("line 10: all.children.zookeeper.hosts.zk4.zk_client_port: duplicate port 127.0.0.1:2181: zk4 client port collides with zk1 client port"))
            #expect(text.contains("line 7: all.children.zookeeper.hosts: 4 voters: an even number"))
        }
    }

    @Test func typeAndRangeErrors() {
        #expect(throws: InventoryError.self) {
            try InventoryLoader.parse(yaml: """
                zookeeper:
                  vars: {zk_engine: docker, zk_client_port: 70000}
                  hosts:
                    a: {zk_id: zero, zk_role: witness}
                """)
        }
        do {
            _ = try InventoryLoader.parse(yaml: """
                zookeeper:
                  vars: {zk_engine: docker, zk_client_port: 70000}
                  hosts:
                    a: {zk_id: zero, zk_role: witness}
                """)
        } catch let error as InventoryError {
            let messages = error.problems.map(\.message)
            #expect(messages.contains { $0.contains("unknown engine 'docker'") })
            #expect(messages.contains { $0.contains("70000 is out of range") })
            #expect(messages.contains { $0.contains("expected an integer") })
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func misplacedKeysSayWhereTheyBelong() throws {
        do {
            _ = try InventoryLoader.parse(yaml: """
                zookeeper:
                  vars: {zk_engine: apache, zk_id: 1}
                  hosts:
                    a: {zk_id: 1, zk_tick_time: 10}
                """)
            Issue.record("expected an error")
        } catch let error as InventoryError {
            #expect(error.problems.count == 2)
            #expect(error.problems[0].message.contains("per-host setting"))
            #expect(error.problems[1].message.contains("cluster setting"))
        }
    }

    @Test func missingGroupAndInvalidYaml() {
        #expect(throws: InventoryError.self) { try InventoryLoader.parse(yaml: "web:\n  hosts: {a: {}}\n") }
        #expect(throws: InventoryError.self) { try InventoryLoader.parse(yaml: "zookeeper: [\n") }
        #expect(throws: InventoryError.self) { try InventoryLoader.parse(yaml: "zookeeper:\n  vars: {zk_engine: apache}\n  hosts: {}\n") }
    }

    @Test func whitelistMustKeepProbeCommands() {
        #expect(throws: InventoryError.self) {
            try InventoryLoader.parse(yaml: """
                zookeeper:
                  vars: {zk_engine: apache, zk_4lw_whitelist: "srvr"}
                  hosts: {a: {zk_id: 1}}
                """)
        }
    }

    @Test func clusterNames() {
        #expect(ClusterName.isValid("local"))
        #expect(ClusterName.isValid("prod-1_a"))
        #expect(!ClusterName.isValid("Prod"))
        #expect(!ClusterName.isValid("-x"))
        #expect(!ClusterName.isValid("a/b"))
        #expect(!ClusterName.isValid(""))
    }
}
