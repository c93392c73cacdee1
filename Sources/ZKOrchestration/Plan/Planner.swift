/// What zkctl found on disk and in the process table for one node.
public struct ObservedNode: Equatable, Sendable {
    public var id: Int
    public var process: ProcessState
    /// The node's data dir holds a `myid` (the node was initialised before).
    public var myid: Int?
    /// Config files exist.
    public var configured: Bool

    public init(id: Int, process: ProcessState, myid: Int? = nil, configured: Bool = false) {
        self.id = id
        self.process = process
        self.myid = myid
        self.configured = configured
    }

    public static func absent(_ id: Int) -> ObservedNode { ObservedNode(id: id, process: .stopped) }
}

/// One step of a plan; the executor runs them in order.
public enum Step: Equatable, Sendable {
    /// Make the directories and write the rendered config files and myid.
    case prepare(node: Int)
    /// Remove a pid file whose process is gone or now another program (never signalled).
    case clearStalePid(node: Int)
    /// Check that the node's ports are free and its engine binary exists.
    case preflight(node: Int)
    case start(node: Int)
    case resume(node: Int)
    /// SIGTERM, wait, then SIGKILL after the timeout.
    case stop(node: Int)
    case kill(node: Int)
    case pause(node: Int)
    case waitHealthy
    /// Delete the cluster's state dir, data included.
    case purge

    public var description: String {
        switch self {
        case .prepare(let n): return "write config, myid and directories of node \(n)"
        case .clearStalePid(let n): return "remove the stale pid file of node \(n) (its process is gone; nothing is signalled)"
        case .preflight(let n): return "check ports and binaries of node \(n)"
        case .start(let n): return "start node \(n)"
        case .resume(let n): return "resume node \(n) (SIGCONT)"
        case .stop(let n): return "stop node \(n) (SIGTERM, SIGKILL after the timeout)"
        case .kill(let n): return "kill node \(n) (SIGKILL)"
        case .pause(let n): return "pause node \(n) (SIGSTOP)"
        case .waitHealthy: return "wait until the ensemble is healthy"
        case .purge: return "delete the cluster's state dir, data included"
        }
    }
}

public struct Plan: Equatable, Sendable {
    public var steps: [Step]
    /// Problems that stop the plan before anything is changed.
    public var blockers: [String]

    public init(steps: [Step] = [], blockers: [String] = []) {
        self.steps = steps
        self.blockers = blockers
    }

    public var changesNothing: Bool { steps.allSatisfy { $0 == .waitHealthy } }
    public var startedNodes: [Int] { steps.compactMap { if case .start(let n) = $0 { return n } else { return nil } } }
}

public enum NodeAction: String, CaseIterable, Sendable {
    case start, stop, kill, pause, resume, restart
}

/// Desired state vs observed state -> ordered steps (pure).
public enum Planner {
    /// `zkctl up`: start what is not running, keep what runs, restart stopped nodes with their data.
    public static func up(desired: Inventory, observed: [ObservedNode]) -> Plan {
        var plan = Plan()
        let byId = Dictionary(observed.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for node in desired.nodes {
            let o = byId[node.id] ?? .absent(node.id)
            if let myid = o.myid, myid != node.id {
                plan.blockers.append("node \(node.id)'s data dir holds myid \(myid); it belongs to another server. Move it away or run `zkctl down --purge`")
            }
        }
        for node in desired.nodes {
            let o = byId[node.id] ?? .absent(node.id)
            switch o.process {
            case .running:
                continue
            case .paused:
                plan.steps.append(.resume(node: node.id))
            case .stale, .stopped:
                if o.process == .stale { plan.steps.append(.clearStalePid(node: node.id)) }
                if !o.configured || o.myid == nil { plan.steps.append(.prepare(node: node.id)) }
                plan.steps.append(.preflight(node: node.id))
            }
        }
        for node in desired.nodes {
            let o = byId[node.id] ?? .absent(node.id)
            if o.process == .stale || o.process == .stopped { plan.steps.append(.start(node: node.id)) }
        }
        plan.steps.append(.waitHealthy)
        return plan
    }

    /// `zkctl down`: stop running nodes (observers first, then followers, leader last when known),
    /// clear stale pid files; `purge` deletes the data afterwards.
    public static func down(observed: [ObservedNode], leader: Int? = nil, observers: Set<Int> = [], purge: Bool) -> Plan {
        var plan = Plan()
        let ordered = observed.sorted { a, b in
            func rank(_ n: ObservedNode) -> Int { observers.contains(n.id) ? 0 : (n.id == leader ? 2 : 1) }
            return (rank(a), a.id) < (rank(b), b.id)
        }
        for o in ordered {
            switch o.process {
            case .running: plan.steps.append(.stop(node: o.id))
            case .paused: plan.steps += [.resume(node: o.id), .stop(node: o.id)]
            case .stale: plan.steps.append(.clearStalePid(node: o.id))
            case .stopped: break
            }
        }
        if purge { plan.steps.append(.purge) }
        return plan
    }

    /// `zkctl node <id> <action>` for fault drills.
    public static func node(_ id: Int, action: NodeAction, observed: ObservedNode) -> Plan {
        var plan = Plan()
        let p = observed.process
        switch action {
        case .start:
            if p == .running { return plan }
            if p == .paused { return Plan(steps: [.resume(node: id)]) }
            if p == .stale { plan.steps.append(.clearStalePid(node: id)) }
            if !observed.configured || observed.myid == nil { plan.steps.append(.prepare(node: id)) }
            plan.steps += [.preflight(node: id), .start(node: id)]
        case .stop:
            if p == .paused { plan.steps.append(.resume(node: id)) }
            if p == .running || p == .paused { plan.steps.append(.stop(node: id)) }
            if p == .stale { plan.steps.append(.clearStalePid(node: id)) }
        case .kill:
            if p == .running || p == .paused { plan.steps.append(.kill(node: id)) }
            if p == .stale { plan.steps.append(.clearStalePid(node: id)) }
        case .pause:
            if p == .running { plan.steps.append(.pause(node: id)) }
            else if p != .paused { plan.blockers.append("node \(id) is not running; start it with `zkctl node \(id) start`") }
        case .resume:
            if p == .paused { plan.steps.append(.resume(node: id)) }
            else if p != .running { plan.blockers.append("node \(id) is not running; start it with `zkctl node \(id) start`") }
        case .restart:
            if p == .paused { plan.steps.append(.resume(node: id)) }
            if p == .running || p == .paused { plan.steps.append(.stop(node: id)) }
            if p == .stale { plan.steps.append(.clearStalePid(node: id)) }
            if !observed.configured || observed.myid == nil { plan.steps.append(.prepare(node: id)) }
            plan.steps += [.preflight(node: id), .start(node: id)]
        }
        return plan
    }
}
