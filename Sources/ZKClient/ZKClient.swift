import ZKProtocol

/// A failed client call: a server error code, or a local condition (connection loss,
/// timeout, closed client).
public struct ZooKeeperError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public init(_ code: ErrorCode) { self.rawValue = code.rawValue }

        public static let systemError = Code(.systemError)
        public static let runtimeInconsistency = Code(.runtimeInconsistency)
        public static let connectionLoss = Code(.connectionLoss)
        public static let marshallingError = Code(.marshallingError)
        public static let unimplemented = Code(.unimplemented)
        public static let operationTimeout = Code(.operationTimeout)
        public static let badArguments = Code(.badArguments)
        public static let newConfigNoQuorum = Code(.newConfigNoQuorum)
        public static let reconfigInProgress = Code(.reconfigInProgress)
        public static let noNode = Code(.noNode)
        public static let noAuth = Code(.noAuth)
        public static let badVersion = Code(.badVersion)
        public static let noChildrenForEphemerals = Code(.noChildrenForEphemerals)
        public static let nodeExists = Code(.nodeExists)
        public static let notEmpty = Code(.notEmpty)
        public static let sessionExpired = Code(.sessionExpired)
        public static let invalidACL = Code(.invalidACL)
        public static let authFailed = Code(.authFailed)
        public static let sessionMoved = Code(.sessionMoved)
        public static let notReadOnly = Code(.notReadOnly)
        public static let reconfigDisabled = Code(.reconfigDisabled)
        /// The client was closed (locally, or its session ended).
        public static let closed = Code(rawValue: -1000)

        public var description: String {
            self == .closed ? "CLOSED" : ErrorCode(rawValue).name
        }

        /// Raised by the client itself (the connection, the session or a reply it could not read),
        /// not sent by a server in answer to a request.
        public var isLocal: Bool {
            let local: [Code] = [.connectionLoss, .operationTimeout, .marshallingError, .sessionExpired, .closed]
            return local.contains(self)
        }
    }

    public var code: Code
    /// The path of the call, when it had one.
    public var path: String?
    public var message: String?

    public init(_ code: Code, path: String? = nil, message: String? = nil) {
        self.code = code; self.path = path; self.message = message
    }

    public var description: String {
        var s = "ZooKeeperError(\(code)"
        if let path { s += " \(path)" }
        if let message { s += ": \(message)" }
        return s + ")"
    }
}

/// How a znode is created.
public struct CreateMode: Hashable, Sendable {
    public var flags: Int32
    public init(flags: Int32) { self.flags = flags }
    public static let persistent = CreateMode(flags: 0)
    public static let ephemeral = CreateMode(flags: 1)
    public static let persistentSequential = CreateMode(flags: 2)
    public static let ephemeralSequential = CreateMode(flags: 3)
    public static let container = CreateMode(flags: 4)
}

/// A watch notification, or a change of the client's connection state (type `.none`).
public struct WatchEvent: Hashable, Sendable {
    public enum Kind: Int32, Sendable {
        case none = -1, nodeCreated = 1, nodeDeleted = 2, nodeDataChanged = 3, nodeChildrenChanged = 4
        case dataWatchRemoved = 5, childWatchRemoved = 6, persistentWatchRemoved = 7
    }
    public enum State: Int32, Sendable {
        case disconnected = 0, syncConnected = 3, authFailed = 4, connectedReadOnly = 5, expired = -112, closed = 7
    }
    public var type: Kind
    public var state: State
    public var path: String
    public init(type: Kind, state: State, path: String) { self.type = type; self.state = state; self.path = path }
}

/// One `host:port` of a connect string, e.g. `127.0.0.1:2181,127.0.0.1:2182/chroot` (chroot unsupported).
public struct ServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
    public var description: String { "\(host):\(port)" }

    /// Parses a comma-separated host list; a missing port means 2181.
    public static func parseList(_ connectString: String) throws -> [ServerAddress] {
        var out: [ServerAddress] = []
        for raw in connectString.split(separator: ",") {
            let item = raw.trimmingCharacters(in: " ")
            if item.isEmpty { continue }
            if item.contains("/") {
                throw ZooKeeperError(.badArguments, message: "chroot in the connect string is not supported: \(connectString)")
            }
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            switch parts.count {
            case 1: out.append(ServerAddress(host: String(parts[0]), port: 2181))
            case 2:
                guard let port = Int(parts[1]), (1...65535).contains(port) else {
                    throw ZooKeeperError(.badArguments, message: "bad port in \(item)")
                }
                out.append(ServerAddress(host: String(parts[0]), port: port))
            default: throw ZooKeeperError(.badArguments, message: "bad server address \(item)")
            }
        }
        if out.isEmpty { throw ZooKeeperError(.badArguments, message: "empty connect string") }
        return out
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
