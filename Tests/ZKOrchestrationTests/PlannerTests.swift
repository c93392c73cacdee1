import Glibc
import Testing
@testable import ZKOrchestration

@Suite struct PlannerTests {
    let inv = Inventory.local(engine: .apache, count: 3)

    func observed(_ states: [ProcessState], initialised: Bool) -> [ObservedNode] {
        states.enumerated().map { ObservedNode(id: $0.offset + 1, process: $0.element, myid: initialised ? $0.offset + 1 : nil, configured: initialised) }
    }

    @Test func freshClusterIsPreparedCheckedStartedAndAwaited() {
        let plan = Planner.up(desired: inv, observed: [])
        #expect(plan.steps == [
            .prepare(node: 1), .preflight(node: 1), .prepare(node: 2), .preflight(node: 2), .prepare(node: 3), .preflight(node: 3),
            .start(node: 1), .start(node: 2), .start(node: 3), .waitHealthy,
        ])
        #expect(plan.blockers.isEmpty)
        #expect(!plan.changesNothing)
    }

    @Test func runningClusterChangesNothing() {
        let plan = Planner.up(desired: inv, observed: observed([.running, .running, .running], initialised: true))
        #expect(plan.steps == [.waitHealthy])
        #expect(plan.changesNothing)
    }

    @Test func stoppedClusterRestartsWithItsData() {
        let plan = Planner.up(desired: inv, observed: observed([.stopped, .running, .stopped], initialised: true))
        #expect(plan.steps == [.preflight(node: 1), .preflight(node: 3), .start(node: 1), .start(node: 3), .waitHealthy])
    }

    @Test func stalePidIsClearedNeverSignalled() {
        let plan = Planner.up(desired: inv, observed: observed([.stale, .running, .running], initialised: true))
        #expect(plan.steps == [.clearStalePid(node: 1), .preflight(node: 1), .start(node: 1), .waitHealthy])
        #expect(!plan.steps.contains(.stop(node: 1)))
        #expect(!plan.steps.contains(.kill(node: 1)))
    }

    @Test func pausedNodeIsResumed() {
        let plan = Planner.up(desired: inv, observed: observed([.running, .paused, .running], initialised: true))
        #expect(plan.steps == [.resume(node: 2), .waitHealthy])
    }

    @Test func foreignMyidBlocks() {
        var o = observed([.stopped, .stopped, .stopped], initialised: true)
        o[1].myid = 7
        let plan = Planner.up(desired: inv, observed: o)
        #expect(plan.blockers.count == 1)
        #expect(plan.blockers[0].contains("myid 7"))
    }

    @Test func downStopsObserversFirstLeaderLast() {
        let o = [ObservedNode(id: 1, process: .running), ObservedNode(id: 2, process: .running),
                 ObservedNode(id: 3, process: .paused), ObservedNode(id: 4, process: .running), ObservedNode(id: 5, process: .stale)]
        let plan = Planner.down(observed: o, leader: 1, observers: [4], purge: true)
        #expect(plan.steps == [.stop(node: 4), .stop(node: 2), .resume(node: 3), .stop(node: 3), .clearStalePid(node: 5), .stop(node: 1), .purge])
    }

    @Test func downOfStoppedClusterIsEmpty() {
        #expect(Planner.down(observed: observed([.stopped, .stopped, .stopped], initialised: true), purge: false).steps.isEmpty)
    }

    @Test(arguments: [
        (NodeAction.start, ProcessState.running, [Step]()),
        (.start, .stopped, [.preflight(node: 2), .start(node: 2)]),
        (.start, .paused, [.resume(node: 2)]),
        (.stop, .running, [.stop(node: 2)]),
        (.stop, .stopped, []),
        (.stop, .stale, [.clearStalePid(node: 2)]),
        (.kill, .running, [.kill(node: 2)]),
        (.pause, .running, [.pause(node: 2)]),
        (.resume, .paused, [.resume(node: 2)]),
        (.restart, .running, [.stop(node: 2), .preflight(node: 2), .start(node: 2)]),
        (.restart, .stale, [.clearStalePid(node: 2), .preflight(node: 2), .start(node: 2)]),
    ])
    func nodeActions(_ action: NodeAction, _ state: ProcessState, _ expected: [Step]) {
        let plan = Planner.node(2, action: action, observed: ObservedNode(id: 2, process: state, myid: 2, configured: true))
        #expect(plan.steps == expected)
        #expect(plan.blockers.isEmpty)
    }

    @Test func pauseOfStoppedNodeIsBlocked() {
        let plan = Planner.node(2, action: .pause, observed: ObservedNode(id: 2, process: .stopped))
        #expect(plan.blockers == ["node 2 is not running; start it with `zkctl node 2 start`"])
    }

    @Test func planDescriptionForDryRun() {
        let text = Report.plan(Planner.up(desired: Inventory.local(count: 1), observed: []), title: "plan:")
        #expect(text == """
            plan:
              1. write config, myid and directories of node 1
              2. check ports and binaries of node 1
              3. start node 1
              4. wait until the ensemble is healthy
            """)
    }
}

@Suite struct MiscTests {
    @Test func inventoryWriterRoundTrips() throws {
        for inv in [Inventory.local(engine: .apache, count: 5, clientPort: 40000, quorumPort: 40100, electionPort: 40200),
                    try InventoryLoader.load(path: Paths.inventories + "/local-5-observer.yaml"),
                    try InventoryLoader.load(path: Paths.inventories + "/production-3.yaml")] {
            let again = try InventoryLoader.parse(yaml: InventoryWriter.yaml(inv, comment: "test"), defaultName: "x")
            #expect(again == inv)
        }
    }

    @Test func procStatParsing() {
        let line = "1234 (java (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 30 0 455289 1000 100 18446744073709551615\n"
        #expect(ProcStat.parse(line) == ProcStat(state: "S", startTime: 455289))
        #expect(ProcStat.parse("garbage") == nil)
    }

    @Test func taskCountSeesThreads() {
        #expect(ProcStat.taskCount(getpid()) >= 1)
        #expect(ProcStat.taskCount(-1) == 0)
    }

    @Test func launchSpecs() {
        let inv = Inventory.local(engine: .apache, count: 3)
        let model = RenderModel.derive(inventory: inv, node: inv.nodes[0], layout: NodeLayout(root: "/h/n1"))
        let apache = EngineLaunch.spec(for: model, engine: .apache(java: "/usr/bin/java", classpath: ["/a.jar"], home: nil), javaHeapMB: 128)
        #expect(apache.arguments.first == "/usr/bin/java")
        #expect(apache.arguments.contains("-Xmx128m"))
        #expect(apache.arguments.contains("-Dlog4j.configuration=file:/h/n1/conf/log4j.properties"))
        #expect(Array(apache.arguments.suffix(4)) == ["-cp", "/a.jar:/h/n1/conf", EngineLaunch.apacheMainClass, "/h/n1/conf/zoo.cfg"])
        #expect(apache.logFile == "/h/n1/logs/zookeeper.log")
        let bundled = EngineLaunch.spec(for: model, engine: .bundled(zkserver: "/bin/zkserver"), javaHeapMB: 128)
        #expect(bundled.arguments == ["/bin/zkserver", "/h/n1/conf/zoo.cfg"])
        #expect(bundled.identity == "/h/n1/conf/zoo.cfg")
    }

    @Test func engineLocatorExplainsMissingBinaries() {
        let locator = EngineLocator(zkserver: nil, environment: ["PATH": "/nonexistent"], executableDirectory: "/nonexistent")
        #expect(throws: ZKCtlError.self) { try locator.resolve(.bundled, settings: ClusterSettings(name: "x", engine: .bundled)) }
        #expect(throws: ZKCtlError.self) { try locator.resolve(.apache, settings: ClusterSettings(name: "x", engine: .apache)) }
        let explicit = EngineLocator(zkserver: "/nonexistent/zkserver", environment: [:], executableDirectory: nil)
        do {
            _ = try explicit.resolve(.bundled, settings: ClusterSettings(name: "x", engine: .bundled))
        } catch let e as ZKCtlError {
            #expect(e.message.contains("missing or not executable"))
        } catch {}
    }
}
