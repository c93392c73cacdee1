/// Whether a member that just started or joined is in the ensemble and caught up, from its own
/// answers and the leader's (srvr, mntr). Used by local scaling and rolling operations and by
/// `zkctl k8s scale`; only the four-letter-word client differs (TCP, or `kubectl exec` in a pod).
public enum SyncCheck {
    /// nil when `node` serves as follower/observer (or leads), its zxid reached the leader's, and the
    /// leader counts every other member of `members` as synced; otherwise why not.
    public static func state(of node: NodeSpec, among members: [NodeSpec], words: any FourLetterWordClient,
                             timeout: Duration = .seconds(2)) -> String? {
        func status(_ n: NodeSpec) -> ServerStatus? {
            (try? words.send("srvr", host: n.host, port: n.clientPort, timeout: timeout)).flatMap(FourLetterWords.parseSrvr)
        }
        var leader: (NodeSpec, ServerStatus)?
        for n in members where n.id != node.id {
            if let s = status(n), s.mode == .leader { leader = (n, s); break }
        }
        guard let mine = status(node) else { return "node \(node.id) does not answer srvr yet" }
        switch mine.mode {
        case .leader:
            leader = (node, mine)
        case .follower, .observer:
            break
        default:
            return "node \(node.id) is \(mine.mode.rawValue)"
        }
        guard let (leaderNode, leaderStatus) = leader else { return "no leader yet" }
        if leaderNode.id != node.id {
            if let lz = leaderStatus.zxid, let z = mine.zxid, z < lz {
                return "node \(node.id) at zxid \(FourLetterWords.formatZxid(z)), leader \(leaderNode.id) at \(FourLetterWords.formatZxid(lz))"
            }
        }
        let m = (try? words.send("mntr", host: leaderNode.host, port: leaderNode.clientPort, timeout: timeout))
            .map(FourLetterWords.parseMntr) ?? [:]
        let followers = members.filter { $0.role == .participant }.count - 1
        let observers = members.filter { $0.role == .observer }.count
        if let v = m["zk_synced_followers"].flatMap({ Int($0) }), v < followers {
            return "leader \(leaderNode.id) reports \(v)/\(followers) followers synced"
        }
        if let v = m["zk_synced_observers"].flatMap({ Int($0) }), v < observers {
            return "leader \(leaderNode.id) reports \(v)/\(observers) observers synced"
        }
        if m["zk_synced_followers"] == nil && m["zk_followers"] == nil && members.count > 1 {
            return "leader \(leaderNode.id) gave no mntr answer"
        }
        return nil
    }
}
