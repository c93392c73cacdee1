/// What zkctl observed about one node (inputs of the health model).
public struct NodeProbe: Equatable, Sendable {
    public var id: Int
    public var expectedRole: NodeRole
    public var clientAddress: String
    /// Local process state when zkctl supervises the node; nil when unknown (remote hosts).
    public var process: ProcessState?
    public var pid: Int32?
    /// `ruok` answered `imok`.
    public var ruok: Bool
    public var status: ServerStatus?
    /// Why the probes failed, when they did.
    public var error: String?
    /// From the leader's `mntr` (`zk_synced_followers`), when the engine reports it.
    public var syncedFollowers: Int?

    public init(id: Int, expectedRole: NodeRole, clientAddress: String, process: ProcessState? = nil,
                pid: Int32? = nil, ruok: Bool, status: ServerStatus? = nil, error: String? = nil, syncedFollowers: Int? = nil) {
        self.id = id
        self.expectedRole = expectedRole
        self.clientAddress = clientAddress
        self.process = process
        self.pid = pid
        self.ruok = ruok
        self.status = status
        self.error = error
        self.syncedFollowers = syncedFollowers
    }
}

/// The outcome of the client session check (create an ephemeral znode through the connect string).
public enum WriteCheck: Equatable, Sendable {
    case committed(zxid: UInt64)
    case failed(String)
    case skipped
}

public enum HealthState: String, Sendable, Codable {
    case healthy, degraded, down

    /// Exit codes documented in `zkctl status --help`.
    public var exitCode: Int32 {
        switch self {
        case .healthy: return 0
        case .degraded: return 3
        case .down: return 4
        }
    }
}

public struct NodeHealth: Equatable, Sendable {
    public var id: Int
    public var expectedRole: NodeRole
    /// The role the server reports (leader/follower/observer/standalone), or a state such as
    /// "stopped", "unreachable", "not-serving".
    public var observed: String
    public var ok: Bool
    public var clientAddress: String
    public var pid: Int32?
    public var zxid: UInt64?
    public var problem: String?
}

public struct ClusterHealth: Equatable, Sendable {
    public var state: HealthState
    public var leader: Int?
    public var nodes: [NodeHealth]
    public var write: WriteCheck
    public var problems: [String]
    /// The state the node probes alone give, before the test write counts: `healthy` when every
    /// node serves in its role with one leader (what a rollout gate waits for when no write is made).
    public var ensembleState: HealthState

    public var summary: String {
        switch state {
        case .healthy: return "healthy"
        case .degraded: return "degraded: " + problems.joined(separator: "; ")
        case .down: return "down: " + problems.joined(separator: "; ")
        }
    }
}

/// The health model: a pure function of the probes.
///
/// - healthy: every node answers `ruok`, reports the role it should have (exactly one leader, the
///   other voters followers, observers observers; `standalone`, or the leader of a one-voter quorum,
///   for a one-node cluster) and a test write committed.
/// - down: no quorum: no single leader, fewer than a majority of voters serving, or the test write failed.
/// - degraded: the ensemble serves writes but some node is stopped, unreachable or in the wrong role.
public enum HealthModel {
    public static func evaluate(_ probes: [NodeProbe], write: WriteCheck) -> ClusterHealth {
        let standalone = probes.count == 1
        var nodes: [NodeHealth] = []
        var problems: [String] = []
        for p in probes.sorted(by: { $0.id < $1.id }) {
            var observed: String
            var problem: String?
            if p.process == .stopped {
                observed = "stopped"
                problem = "node \(p.id) is stopped"
            } else if p.process == .stale {
                observed = "exited"
                problem = "node \(p.id) exited (its pid file is stale); `zkctl logs \(p.id)` shows why"
            } else if p.process == .paused {
                observed = "paused"
                problem = "node \(p.id) is paused (SIGSTOP)"
            } else if let s = p.status {
                observed = s.mode.rawValue
            } else if p.ruok {
                observed = "starting"
                problem = "node \(p.id) answers ruok but not srvr"
            } else {
                observed = p.process == .running ? "unreachable" : "down"
                problem = "node \(p.id) does not answer on \(p.clientAddress)" + (p.error.map { " (\($0))" } ?? "")
            }
            if problem == nil, let mode = p.status?.mode {
                let fine: Bool
                switch (standalone, p.expectedRole, mode) {
                case (true, _, .standalone): fine = true
                // A one-voter quorum (after a reconfig down to one server, or standaloneEnabled=false).
                case (true, .participant, .leader): fine = true
                case (false, .participant, .leader), (false, .participant, .follower): fine = true
                case (false, .observer, .observer): fine = true
                default: fine = false
                }
                if !fine {
                    let expected = standalone ? "standalone" : (p.expectedRole == .observer ? "observer" : "leader or follower")
                    problem = "node \(p.id) is \(mode.rawValue), expected \(expected)"
                }
                if fine && !p.ruok {
                    problem = "node \(p.id) does not answer ruok"
                }
            }
            if let problem { problems.append(problem) }
            nodes.append(NodeHealth(id: p.id, expectedRole: p.expectedRole, observed: observed, ok: problem == nil,
                                    clientAddress: p.clientAddress, pid: p.pid, zxid: p.status?.zxid, problem: problem))
        }

        let leaders = probes.filter { $0.status?.mode == .leader || (standalone && $0.status?.mode == .standalone) }
        let voters = probes.filter { $0.expectedRole == .participant }
        let servingVoters = voters.filter { [.leader, .follower, .standalone].contains($0.status?.mode) }
        let quorum = voters.count / 2 + 1
        var state: HealthState
        if leaders.count > 1 {
            problems.insert("\(leaders.count) nodes claim leadership (\(leaders.map { String($0.id) }.joined(separator: ", ")))", at: 0)
            state = .down
        } else if leaders.isEmpty {
            problems.insert(standalone ? "the server is not serving" : "no leader", at: 0)
            state = .down
        } else if servingVoters.count < quorum {
            problems.insert("only \(servingVoters.count) of \(voters.count) voters serving, quorum is \(quorum)", at: 0)
            state = .down
        } else {
            state = nodes.allSatisfy(\.ok) ? .healthy : .degraded
            // The leader's own count of synced followers must cover every node that says it follows.
            let following = probes.filter { $0.status?.mode == .follower }.count
            if let leader = leaders.first, let synced = leader.syncedFollowers, synced < following {
                problems.append("leader \(leader.id) has \(synced) synced followers, but \(following) nodes report follower")
                state = .degraded
            }
        }
        let ensembleState = state
        switch write {
        case .failed(let why):
            problems.append("test write failed: \(why)")
            if state != .down { state = .down }
        case .skipped:
            if state == .healthy {
                problems.append("test write not run")
                state = .degraded
            }
        case .committed:
            break
        }
        return ClusterHealth(state: state, leader: standalone ? nil : leaders.first?.id,
                             nodes: nodes, write: write, problems: problems, ensembleState: ensembleState)
    }
}
