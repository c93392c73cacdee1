/// ZooKeeper operation codes (the `type` of a RequestHeader).
public enum OpCode: Int32, Sendable, CaseIterable {
    case notification = 0
    case create = 1
    case delete = 2
    case exists = 3
    case getData = 4
    case setData = 5
    case getACL = 6
    case setACL = 7
    case getChildren = 8
    case sync = 9
    case ping = 11
    case getChildren2 = 12
    case check = 13
    case multi = 14
    case create2 = 15
    case reconfig = 16
    case checkWatches = 17
    case removeWatches = 18
    case createContainer = 19
    case deleteContainer = 20
    case createTTL = 21
    case multiRead = 22
    case auth = 100
    case setWatches = 101
    case sasl = 102
    case getEphemerals = 103
    case getAllChildrenNumber = 104
    case setWatches2 = 105
    case addWatch = 106
    case whoAmI = 107
    case createSession = -10
    case closeSession = -11
    case error = -1

    /// Requests that change the tree (go through the write pipeline).
    public var isWrite: Bool {
        switch self {
        case .create, .create2, .createContainer, .createTTL, .delete, .deleteContainer, .setData, .setACL,
             .check, .multi, .reconfig, .createSession, .closeSession:
            return true
        default:
            return false
        }
    }

    /// Short name used by `cons` (`lop=`).
    public var shortName: String {
        switch self {
        case .create, .create2, .createContainer, .createTTL: return "CREA"
        case .delete, .deleteContainer: return "DELE"
        case .setData: return "SETD"
        case .getData: return "GETD"
        case .exists: return "EXIS"
        case .getChildren, .getChildren2: return "GETC"
        case .setACL: return "SETA"
        case .getACL: return "GETA"
        case .sync: return "SYNC"
        case .ping: return "PING"
        case .multi: return "MULT"
        case .multiRead: return "MLTR"
        case .createSession: return "SESS"
        case .closeSession: return "CLOS"
        case .setWatches: return "SETW"
        case .setWatches2: return "STW2"
        case .addWatch: return "ADDW"
        case .checkWatches: return "CHKW"
        case .removeWatches: return "REMW"
        case .whoAmI: return "HOMI"
        case .getEphemerals: return "GETE"
        case .getAllChildrenNumber: return "GETACN"
        case .reconfig: return "RECO"
        case .check: return "CHEC"
        default: return "NA"
        }
    }
}

/// KeeperException codes as they travel in ReplyHeader.err.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ raw: Int32) { self.rawValue = raw }

    public static let ok = ErrorCode(0)
    public static let systemError = ErrorCode(-1)
    public static let runtimeInconsistency = ErrorCode(-2)
    public static let dataInconsistency = ErrorCode(-3)
    public static let connectionLoss = ErrorCode(-4)
    public static let marshallingError = ErrorCode(-5)
    public static let unimplemented = ErrorCode(-6)
    public static let operationTimeout = ErrorCode(-7)
    public static let badArguments = ErrorCode(-8)
    public static let unknownSession = ErrorCode(-12)
    public static let newConfigNoQuorum = ErrorCode(-13)
    public static let reconfigInProgress = ErrorCode(-14)
    public static let apiError = ErrorCode(-100)
    public static let noNode = ErrorCode(-101)
    public static let noAuth = ErrorCode(-102)
    public static let badVersion = ErrorCode(-103)
    public static let noChildrenForEphemerals = ErrorCode(-108)
    public static let nodeExists = ErrorCode(-110)
    public static let notEmpty = ErrorCode(-111)
    public static let sessionExpired = ErrorCode(-112)
    public static let invalidCallback = ErrorCode(-113)
    public static let invalidACL = ErrorCode(-114)
    public static let authFailed = ErrorCode(-115)
    public static let sessionMoved = ErrorCode(-118)
    public static let notReadOnly = ErrorCode(-119)
    public static let ephemeralOnLocalSession = ErrorCode(-120)
    public static let noWatcher = ErrorCode(-121)
    public static let requestTimeout = ErrorCode(-122)
    public static let reconfigDisabled = ErrorCode(-123)
    public static let sessionClosedRequireSaslAuth = ErrorCode(-124)
    public static let quotaExceeded = ErrorCode(-125)
    public static let throttledOp = ErrorCode(-127)

    public var name: String {
        switch self {
        case .ok: return "OK"
        case .systemError: return "SYSTEMERROR"
        case .runtimeInconsistency: return "RUNTIMEINCONSISTENCY"
        case .dataInconsistency: return "DATAINCONSISTENCY"
        case .connectionLoss: return "CONNECTIONLOSS"
        case .marshallingError: return "MARSHALLINGERROR"
        case .unimplemented: return "UNIMPLEMENTED"
        case .operationTimeout: return "OPERATIONTIMEOUT"
        case .badArguments: return "BADARGUMENTS"
        case .unknownSession: return "UNKNOWNSESSION"
        case .newConfigNoQuorum: return "NEWCONFIGNOQUORUM"
        case .reconfigInProgress: return "RECONFIGINPROGRESS"
        case .noNode: return "NONODE"
        case .noAuth: return "NOAUTH"
        case .badVersion: return "BADVERSION"
        case .noChildrenForEphemerals: return "NOCHILDRENFOREPHEMERALS"
        case .nodeExists: return "NODEEXISTS"
        case .notEmpty: return "NOTEMPTY"
        case .sessionExpired: return "SESSIONEXPIRED"
        case .invalidACL: return "INVALIDACL"
        case .authFailed: return "AUTHFAILED"
        case .sessionMoved: return "SESSIONMOVED"
        case .notReadOnly: return "NOTREADONLY"
        case .noWatcher: return "NOWATCHER"
        case .requestTimeout: return "REQUESTTIMEOUT"
        case .reconfigDisabled: return "RECONFIGDISABLED"
        case .quotaExceeded: return "QUOTAEXCEEDED"
        case .throttledOp: return "THROTTLEDOP"
        default: return "ERROR(\(rawValue))"
        }
    }
    public var description: String { "\(name) (\(rawValue))" }
}

/// Permission bits of an ACL entry.
public struct Perms: OptionSet, Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let read = Perms(rawValue: 1)
    public static let write = Perms(rawValue: 2)
    public static let create = Perms(rawValue: 4)
    public static let delete = Perms(rawValue: 8)
    public static let admin = Perms(rawValue: 16)
    public static let all: Perms = [.read, .write, .create, .delete, .admin]
}

/// Watch event types as sent in WatcherEvent.type.
public enum EventType: Int32, Sendable {
    case none = -1
    case nodeCreated = 1
    case nodeDeleted = 2
    case nodeDataChanged = 3
    case nodeChildrenChanged = 4
    case dataWatchRemoved = 5
    case childWatchRemoved = 6
    case persistentWatchRemoved = 7
}

public enum KeeperState: Int32, Sendable {
    case disconnected = 0
    case syncConnected = 3
    case authFailed = 4
    case connectedReadOnly = 5
    case saslAuthenticated = 6
    case closed = 7
    case expired = -112
}

/// CreateMode flags as sent in CreateRequest.flags.
public enum CreateMode: Int32, Sendable, CaseIterable {
    case persistent = 0
    case ephemeral = 1
    case persistentSequential = 2
    case ephemeralSequential = 3
    case container = 4
    case persistentWithTTL = 5
    case persistentSequentialWithTTL = 6

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool {
        self == .persistentSequential || self == .ephemeralSequential || self == .persistentSequentialWithTTL
    }
    public var isTTL: Bool { self == .persistentWithTTL || self == .persistentSequentialWithTTL }
    public var isContainer: Bool { self == .container }
}

/// Watch kinds of checkWatches/removeWatches.
public enum WatcherType: Int32, Sendable {
    case children = 1
    case data = 2
    case any = 3
    case persistent = 4
    case persistentRecursive = 5
}

/// Special xids.
public enum Xid {
    public static let notification: Int32 = -1
    public static let ping: Int32 = -2
    public static let auth: Int32 = -4
    public static let setWatches: Int32 = -8
}
