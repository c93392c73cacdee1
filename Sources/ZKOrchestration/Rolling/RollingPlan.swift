/// Majority quorum arithmetic for a number of voters (pure).
public struct QuorumMath: Equatable, Sendable, Codable {
    public var voters: Int
    public var observers: Int
    public var quorum: Int { voters / 2 + 1 }
    /// Voters that may fail while a quorum remains.
    public var tolerated: Int { max(0, voters - quorum) }

    public init(voters: Int, observers: Int = 0) {
        self.voters = voters
        self.observers = observers
    }
}

/// One membership or restart step of a rolling operation.
public enum RollingAction: Equatable, Sendable {
    /// Render the node with the current members plus itself, start it, reconfig it in (a voter as an
    /// observer first, promoted once synced), wait until synced.
    case add(node: NodeSpec, observerFirst: Bool = true)
    /// Reconfig the node out, wait for a write to commit in the new config, stop it (and delete its data).
    case remove(node: Int, role: NodeRole, purge: Bool)
    /// Stop the node, start it again (with `engine` when upgrading), wait until it is back and synced.
    case restart(node: Int, role: NodeRole, wasLeader: Bool)

    public var node: Int {
        switch self {
        case .add(let n, _): return n.id
        case .remove(let id, _, _), .restart(let id, _, _): return id
        }
    }

    public var verb: String {
        switch self {
        case .add: return "add"
        case .remove: return "remove"
        case .restart: return "restart"
        }
    }

    public var description: String {
        switch self {
        case .add(let n, let staged):
            return n.role == .participant && staged
                ? "add node \(n.id) as participant (\(n.clientAddress)): start it with the current members plus itself, reconfig it in as an observer, wait until synced, promote it"
                : "add node \(n.id) as \(n.role.rawValue) (\(n.clientAddress)): start it with the current members plus itself, reconfig it in, wait until synced"
        case .remove(let id, let role, let purge):
            return "remove \(role.rawValue) \(id): reconfig it out, commit a write, stop it" + (purge ? ", delete its data" : "")
        case .restart(let id, let role, let wasLeader):
            return "restart \(wasLeader ? "leader" : role == .observer ? "observer" : "follower") \(id), wait until it is back and synced"
        }
    }
}

public struct RollingStep: Equatable, Sendable {
    public var action: RollingAction
    /// Membership in force while the step runs (for a restart: with the node down).
    public var during: QuorumMath
    /// Voters available while the step runs (a restarted voter is down).
    public var votersUp: Int
    /// Membership after the step.
    public var after: QuorumMath
    public var membersAfter: [Int]
}

public struct RollingPlan: Equatable, Sendable {
    public var title: String
    public var before: QuorumMath
    public var membersBefore: [Int]
    public var after: QuorumMath
    public var membersAfter: [Int]
    public var steps: [RollingStep]
    /// Reasons the plan must not run; nothing is changed when any exists.
    public var blockers: [String]
    /// The inventory once every step is done.
    public var target: Inventory

    public var text: String {
        var lines = [title]
        lines.append("  before: \(Self.describe(before, membersBefore))")
        lines.append("  after:  \(Self.describe(after, membersAfter))")
        if steps.isEmpty { lines.append("  nothing to do") }
        for (i, s) in steps.enumerated() {
            lines.append("  \(i + 1). \(s.action.description)")
            let margin = max(0, s.votersUp - s.during.quorum)
            lines.append("     while it runs: \(s.votersUp) of \(s.during.voters) voters up and synced, quorum \(s.during.quorum), tolerates \(margin) more failure\(margin == 1 ? "" : "s"); after: \(s.after.voters) voters + \(s.after.observers) observers, quorum \(s.after.quorum), tolerates \(s.after.tolerated) failure\(s.after.tolerated == 1 ? "" : "s")")
        }
        for b in blockers { lines.append("  refused: \(b)") }
        return lines.joined(separator: "\n")
    }

    static func describe(_ q: QuorumMath, _ members: [Int]) -> String {
        "\(q.voters) voters + \(q.observers) observers (ids \(members.map(String.init).joined(separator: ","))), quorum \(q.quorum), tolerates \(q.tolerated) failure\(q.tolerated == 1 ? "" : "s")"
    }
}

/// Current membership + desired -> ordered steps with the quorum math of each (pure).
public enum RollingPlanner {
    /// The inventory with `voters` participants and `observers` observers: existing nodes are kept
    /// (lowest ids first), new ones get the next ids and the ports `base + id - 1`.
    public static func resize(_ current: Inventory, voters: Int, observers: Int? = nil) -> Inventory {
        let wantObservers = observers ?? current.observers.count
        var keptVoters = Array(current.voters.prefix(max(0, voters)))
        var keptObservers = Array(current.observers.prefix(max(0, wantObservers)))
        var nextId = (current.nodes.map(\.id).max() ?? 0) + 1
        let c = current.cluster
        func newNode(_ role: NodeRole) -> NodeSpec {
            defer { nextId += 1 }
            let host = current.nodes.first?.host ?? ClusterSettings.Defaults.host
            return NodeSpec(name: "zk\(nextId)", id: nextId, role: role, host: host,
                            clientPort: c.clientPort + nextId - 1, quorumPort: c.quorumPort + nextId - 1,
                            electionPort: c.electionPort + nextId - 1, metricsPort: c.metricsPort + nextId - 1,
                            adminPort: c.adminPort + nextId - 1)
        }
        while keptVoters.count < voters { keptVoters.append(newNode(.participant)) }
        while keptObservers.count < wantObservers { keptObservers.append(newNode(.observer)) }
        return Inventory(cluster: current.cluster, nodes: keptVoters + keptObservers)
    }

    /// `zkctl scale`: one member per step. Voters are added before observers are removed and
    /// removed voters go highest id first, the leader last.
    public static func scale(current: Inventory, desired: Inventory, healthy: Set<Int>, leader: Int?,
                             allowEven: Bool, purge: Bool, observerFirst: Bool = true) -> RollingPlan {
        var blockers: [String] = []
        let currentIds = Set(current.nodes.map(\.id))
        let desiredIds = Set(desired.nodes.map(\.id))
        if desired.voters.isEmpty {
            blockers.append("an ensemble needs at least one voter; scaling to 0 would delete the cluster (use `zkctl down --purge`)")
        }
        if desired.voters.count == 1 && current.voters.count > 1 {
            blockers.append("1 voter tolerates no failure, and zkctl manages a 1-node cluster as a standalone server that cannot grow again; keep at least 3 voters (2 with --allow-even)")
        }
        if current.isStandalone {
            blockers.append("cluster \(current.cluster.name) runs standalone (1 node); standalone servers cannot change membership; recreate it with `zkctl up -n 3`")
        }
        if !allowEven && !desired.voters.isEmpty && desired.voters.count % 2 == 0 && desired.voters.count != current.voters.count {
            let n = desired.voters.count
            blockers.append("\(n) voters survive only \((n - 1) / 2) failure\((n - 1) / 2 == 1 ? "" : "s"), as \(n - 1) would, with a bigger quorum (\(n / 2 + 1)); choose an odd number or pass --allow-even")
        }
        for node in current.nodes {
            if let d = desired.node(id: node.id), d != node {
                blockers.append("node \(node.id) changes role or address (\(node.role.rawValue) -> \(d.role.rawValue)); remove it and add it again with another id")
            }
        }
        let down = current.nodes.map(\.id).filter { !healthy.contains($0) }
        if !down.isEmpty {
            blockers.append("node\(down.count == 1 ? "" : "s") \(down.map(String.init).joined(separator: ", ")) \(down.count == 1 ? "is" : "are") not healthy; membership changes need every member serving (see `zkctl status`)")
        }

        let addVoters = desired.voters.filter { !currentIds.contains($0.id) }
        let addObservers = desired.observers.filter { !currentIds.contains($0.id) }
        let removeVoters = current.voters.filter { !desiredIds.contains($0.id) }
            .sorted { a, b in
                if (a.id == leader) != (b.id == leader) { return b.id == leader }
                return a.id > b.id
            }
        let removeObservers = current.observers.filter { !desiredIds.contains($0.id) }.sorted { $0.id > $1.id }

        var members = current.nodes
        var steps: [RollingStep] = []
        func quorum(_ nodes: [NodeSpec]) -> QuorumMath {
            QuorumMath(voters: nodes.filter { $0.role == .participant }.count,
                       observers: nodes.filter { $0.role == .observer }.count)
        }
        func record(_ action: RollingAction, _ before: [NodeSpec], _ after: [NodeSpec]) {
            // An added voter counts in the new quorum from its reconfig on, but is not synced until it
            // caught up; a removed voter counts in the old quorum until the change commits.
            var during = quorum(before)
            var up = during.voters
            if case .add(let n, let staged) = action, n.role == .participant, !staged {
                during = quorum(after)
                up = during.voters - 1
            }
            steps.append(RollingStep(action: action, during: during, votersUp: up,
                                     after: quorum(after), membersAfter: after.map(\.id).sorted()))
        }
        /// One step for each of `nodes`, added in turn.
        func add(_ nodes: [NodeSpec]) {
            for n in nodes {
                let next = members + [n]
                record(.add(node: n, observerFirst: observerFirst), members, next)
                members = next
            }
        }
        /// One step for each of `nodes` (all of `role`), removed in turn; a voter whose removal leaves
        /// fewer healthy voters than the new quorum blocks the plan.
        func remove(_ nodes: [NodeSpec], role: NodeRole) {
            for n in nodes {
                let next = members.filter { $0.id != n.id }
                if role == .participant {
                    let q = quorum(next)
                    let healthyLeft = next.filter { $0.role == .participant && healthy.contains($0.id) }.count
                    if q.voters >= 1 && healthyLeft < q.quorum {
                        blockers.append("removing voter \(n.id) would leave \(healthyLeft) healthy of \(q.voters) voters, below the quorum of \(q.quorum)")
                    }
                }
                record(.remove(node: n.id, role: role, purge: purge), members, next)
                members = next
            }
        }
        // Grow voters first (more failures tolerated while the rest happens), then shrink.
        add(addVoters)
        remove(removeVoters, role: .participant)
        add(addObservers)
        remove(removeObservers, role: .observer)
        let target = Inventory(cluster: current.cluster, nodes: members)
        return RollingPlan(
            title: "scale \(current.cluster.name): \(current.voters.count) -> \(desired.voters.count) voters, \(current.observers.count) -> \(desired.observers.count) observers",
            before: quorum(current.nodes), membersBefore: current.nodes.map(\.id),
            after: quorum(target.nodes), membersAfter: target.nodes.map(\.id),
            steps: steps, blockers: blockers, target: target)
    }

    /// `zkctl restart --rolling` / `zkctl upgrade`: observers, then followers (by id), the leader last.
    /// Peer protocol versions of the running zkserver and of an upgrade target, when both are known.
    public struct PeerProtocols: Equatable, Sendable {
        public var running: Int
        public var target: Int
        public var targetPath: String
        public init(running: Int, target: Int, targetPath: String) {
            self.running = running
            self.target = target
            self.targetPath = targetPath
        }
    }

    public static func rollingRestart(current: Inventory, healthy: Set<Int>, leader: Int?, skip: Set<Int> = [],
                                      verb: String = "rolling restart", protocols: PeerProtocols? = nil) -> RollingPlan {
        var blockers: [String] = []
        if let p = protocols, p.running != p.target {
            blockers.append("\(p.targetPath) speaks zkserver peer protocol \(p.target) and the running members speak \(p.running); "
                + "members of different versions refuse each other, so the first upgraded node could not rejoin. "
                + "Upgrade all members at once instead: `zkctl down --name \(current.cluster.name)`, then "
                + "`zkctl up --name \(current.cluster.name) --zkserver \(p.targetPath)` (the data is kept; pass the same "
                + "--zkserver, or set ZKCTL_ZKSERVER, to later commands that start nodes)")
        }
        let all = QuorumMath(voters: current.voters.count, observers: current.observers.count)
        let down = current.nodes.map(\.id).filter { !healthy.contains($0) }
        if !down.isEmpty {
            blockers.append("node\(down.count == 1 ? "" : "s") \(down.map(String.init).joined(separator: ", ")) \(down.count == 1 ? "is" : "are") not healthy; a rolling restart takes one more node down at a time, fix the cluster first (see `zkctl status`)")
        }
        if current.voters.count > 1 && all.tolerated < 1 {
            blockers.append("\(all.voters) voters tolerate no failure; restarting any voter would stop the ensemble from serving writes")
        }
        if current.voters.count > 1 && leader == nil && down.isEmpty {
            blockers.append("no leader found; the ensemble is not serving (see `zkctl status`)")
        }
        let order = current.observers.map(\.id) + current.voters.map(\.id).filter { $0 != leader } + (leader.map { [$0] } ?? [])
        var steps: [RollingStep] = []
        for id in order where !skip.contains(id) {
            guard let node = current.node(id: id) else { continue }
            let votersUp = node.role == .participant ? all.voters - 1 : all.voters
            steps.append(RollingStep(action: .restart(node: id, role: node.role, wasLeader: id == leader),
                                     during: all, votersUp: votersUp, after: all, membersAfter: current.nodes.map(\.id)))
        }
        return RollingPlan(title: "\(verb) of \(current.cluster.name): \(steps.count) node\(steps.count == 1 ? "" : "s"), one at a time, leader last",
                           before: all, membersBefore: current.nodes.map(\.id), after: all,
                           membersAfter: current.nodes.map(\.id), steps: steps, blockers: blockers, target: current)
    }
}
