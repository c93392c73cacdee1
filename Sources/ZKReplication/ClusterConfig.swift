/// Membership as a value.
///
/// Participants vote and count toward quorums; observers receive the log and commits but
/// never vote and never count. Designed so a later change can carry a `ClusterConfig` inside
/// a `.config` log entry (single-server changes), but nothing interprets such entries yet.
public struct ClusterConfig: Hashable, Sendable, CustomStringConvertible {
    public enum Role: UInt8, Sendable {
        case participant = 0
        case observer = 1
    }

    public struct Member: Hashable, Sendable {
        public var id: ServerID
        public var role: Role
        public init(id: ServerID, role: Role) {
            self.id = id
            self.role = role
        }
    }

    public enum ValidationError: Error, Equatable {
        case noVoters
        case duplicateID(ServerID)
    }

    /// Sorted by id, unique ids.
    public private(set) var members: [Member]

    public init(members: [Member]) throws {
        var seen = Set<ServerID>()
        for m in members where !seen.insert(m.id).inserted { throw ValidationError.duplicateID(m.id) }
        guard members.contains(where: { $0.role == .participant }) else { throw ValidationError.noVoters }
        self.members = members.sorted { $0.id < $1.id }
    }

    /// One voter: always valid.
    public static func single(_ id: ServerID) -> ClusterConfig { ClusterConfig(validated: [Member(id: id, role: .participant)]) }

    private init(validated members: [Member]) { self.members = members }

    /// Convenience: participants `voters`, observers `observers`.
    public init(voters: [ServerID], observers: [ServerID] = []) throws {
        try self.init(members: voters.map { Member(id: $0, role: .participant) }
            + observers.map { Member(id: $0, role: .observer) })
    }

    public var voters: [ServerID] { members.filter { $0.role == .participant }.map(\.id) }
    public var observers: [ServerID] { members.filter { $0.role == .observer }.map(\.id) }
    public var allIDs: [ServerID] { members.map(\.id) }

    public func role(of id: ServerID) -> Role? { members.first { $0.id == id }?.role }
    public func isVoter(_ id: ServerID) -> Bool { role(of: id) == .participant }

    public var quorum: Quorum { Quorum(voters: voters) }

    public var description: String {
        members.map { "\($0.id)\($0.role == .observer ? "o" : "")" }.joined(separator: ",")
    }
}

/// Majority quorum math over a set of voters. Pure, tested on its own.
public struct Quorum: Hashable, Sendable {
    public let voters: Set<ServerID>

    public init<S: Sequence>(voters: S) where S.Element == ServerID { self.voters = Set(voters) }

    /// Smallest number of voters that forms a majority.
    public var size: Int { voters.count / 2 + 1 }

    /// True when the voters among `ids` form a majority (non-voters are ignored).
    public func isQuorum<S: Sequence>(_ ids: S) -> Bool where S.Element == ServerID {
        Set(ids).intersection(voters).count >= size
    }

    /// The greatest zxid that a majority of voters has reached. Voters missing from
    /// `matches` count as `Zxid.zero`; non-voters are ignored.
    public func committed(matches: [ServerID: Zxid]) -> Zxid {
        let values = voters.map { matches[$0] ?? .zero }.sorted(by: >)
        guard !values.isEmpty else { return .zero }
        return values[size - 1]
    }

    /// Outcome of an election given the voters that granted and rejected.
    public enum VoteResult: Equatable, Sendable { case won, lost, pending }

    public func tally(granted: Set<ServerID>, rejected: Set<ServerID>) -> VoteResult {
        if granted.intersection(voters).count >= size { return .won }
        if voters.count - rejected.intersection(voters).count < size { return .lost }
        return .pending
    }
}
