import Foundation

/// Moves the leadership of a bundled ensemble to another voter (zkserver's `transfer_leadership` admin
/// command): the leader stops taking new writes, brings the target up to date and tells it to campaign;
/// writes wait during the hand-over, which takes a few milliseconds. zkserver does the same by itself
/// before it stops on SIGTERM; this is the explicit form, for an operator or a hook. Apache ZooKeeper has
/// no such command.
public enum LeaderTransfer {
    public struct Outcome: Codable, Equatable, Sendable {
        public var cluster: String
        public var from: Int
        public var to: Int
        /// Milliseconds the leader took, as it measured them.
        public var tookMs: Int
    }

    /// `zkctl leader transfer`: checks, asks the leader, and says who leads now.
    public static func perform(_ inventory: Inventory, health: ClusterHealth, to target: Int?) throws -> Outcome {
        if let why = refusal(inventory, health: health, to: target) { throw ZKCtlError(why) }
        let from = health.leader!
        guard target != from, let leader = inventory.nodes.first(where: { $0.id == from }) else {
            return Outcome(cluster: inventory.cluster.name, from: from, to: from, tookMs: 0)
        }
        let (now, ms) = try request(leader, to: target)
        return Outcome(cluster: inventory.cluster.name, from: from, to: now, tookMs: ms)
    }

    /// Why a hand-over cannot be asked for, given the cluster and its health (nil: ask `leader`).
    public static func refusal(_ inventory: Inventory, health: ClusterHealth, to target: Int?) -> String? {
        if inventory.cluster.engine != .bundled {
            return "cluster \(inventory.cluster.name) runs Apache ZooKeeper, which cannot hand leadership over; "
                + "stopping its leader makes the others elect one (as `zkctl restart --rolling` does, leader last)"
        }
        if inventory.voters.count < 2 { return "cluster \(inventory.cluster.name) has a single voter: there is no one to hand leadership to" }
        guard let leader = health.leader else { return "cluster \(inventory.cluster.name) has no leader now (\(health.summary)); see `zkctl status`" }
        if let t = target {
            guard let node = inventory.nodes.first(where: { $0.id == t }) else {
                return "--to \(t): cluster \(inventory.cluster.name) has no server \(t) (ids: \(inventory.nodes.map { String($0.id) }.joined(separator: ", ")))"
            }
            if node.role != .participant { return "--to \(t): server \(t) is an observer; only a voter can lead" }
            if t == leader { return nil }
        }
        return nil
    }

    /// Asks `leader` over its admin server; returns the new leader's id and the milliseconds it took.
    public static func request(_ leader: NodeSpec, to target: Int?, timeout: Duration = .seconds(10)) throws -> (leader: Int, ms: Int) {
        let path = "/commands/transfer_leadership" + (target.map { "?to=\($0)" } ?? "")
        let r = try AdminHTTP.get(host: leader.host, port: leader.adminPort, path: path, timeout: timeout, what: "transfer_leadership")
        return try parse(r, asked: leader)
    }

    /// Reads the admin server's answer. Pure.
    public static func parse(_ r: HTTPResponse, asked: NodeSpec) throws -> (leader: Int, ms: Int) {
        guard r.status == 200 else {
            throw ZKCtlError("server \(asked.id) did not hand leadership over (HTTP \(r.status)): \(AdminHTTP.errorMessage(r.body))")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
              let to = obj["leader_id"] as? Int, let ms = obj["took_ms"] as? Int else {
            throw ZKCtlError("server \(asked.id) answered transfer_leadership with something else: \(String(decoding: r.body.prefix(200), as: UTF8.self))")
        }
        return (to, ms)
    }
}
