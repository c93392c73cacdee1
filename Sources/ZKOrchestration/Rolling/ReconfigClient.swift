import Foundation
import ZKClient
import ZKProtocol

/// The outcome of a reconfig: the new `/zookeeper/config` text, or the server's error code.
public enum ReconfigOutcome: Equatable, Sendable {
    case applied(config: String)
    case refused(code: Int32)

    /// What the codes reconfig returns mean for zkctl's membership changes.
    public static func describe(_ code: Int32) -> String {
        switch ErrorCode(code) {
        case .reconfigDisabled: return "reconfig is disabled on the server (reconfigEnabled=false)"
        case .reconfigInProgress: return "another membership change is still in progress"
        case .badVersion: return "stale configuration version (someone changed the membership meanwhile)"
        case .badArguments: return "the server rejected the change (bad server spec, too few voters, or more than one voter at a time)"
        case .newConfigNoQuorum: return "a quorum of the new configuration is not connected and synced with the leader"
        case .noAuth: return "not authorised (the cluster's superuser digest is not in zoo.cfg)"
        case .authFailed: return "the superuser credentials were rejected"
        case .unimplemented: return "the server runs standalone and cannot change membership"
        default: return "error code \(code)"
        }
    }
}

/// Sends reconfig requests (shell). Tests use a fake.
public protocol ReconfigSender: Sendable {
    /// Opens a session on one of `servers`, authenticates as the superuser and sends the request.
    func reconfig(servers: [(host: String, port: Int)], password: String, joining: String?, leaving: String?,
                  fromConfigVersion: Int64, timeout: Duration) async throws -> ReconfigOutcome
    /// `sync` then `getData /zookeeper/config` on one of `servers` (world-readable, no auth).
    func readConfig(servers: [(host: String, port: Int)], timeout: Duration) async throws -> EnsembleConfig
}

/// One client session per request (ZKClient): connect, `auth digest super:<password>`, reconfig, close.
public struct ZKClientReconfigSender: ReconfigSender {
    public init() {}

    public func reconfig(servers: [(host: String, port: Int)], password: String, joining: String?, leaving: String?,
                         fromConfigVersion: Int64, timeout: Duration) async throws -> ReconfigOutcome {
        let connectString = ClientSession.connectString(servers)
        do {
            return try await ClientSession.run(connectString, timeout: timeout) { client -> ReconfigOutcome in
                do {
                    try await client.addDigestAuth(user: Superuser.user, password: password)
                    let (config, _) = try await client.reconfig(joining: joining, leaving: leaving, fromConfig: fromConfigVersion)
                    return .applied(config: String(decoding: config ?? [], as: UTF8.self))
                } catch let e as ZooKeeperError where !e.code.isLocal {
                    return .refused(code: e.code.rawValue)
                }
            }
        } catch {
            throw ZKCtlError("cannot send reconfig to \(connectString): \(ClientSession.describe(error))")
        }
    }

    public func readConfig(servers: [(host: String, port: Int)], timeout: Duration) async throws -> EnsembleConfig {
        let connectString = ClientSession.connectString(servers)
        do {
            return try await ClientSession.run(connectString, timeout: timeout) { client -> EnsembleConfig in
                _ = try await client.sync(ZooKeeperClient.configPath)
                let (config, _) = try await client.getConfig()
                return EnsembleConfig.parse(String(decoding: config ?? [], as: UTF8.self))
            }
        } catch {
            throw ZKCtlError("cannot read /zookeeper/config from \(connectString): \(ClientSession.describe(error))")
        }
    }
}

/// One membership change made safely: the servers' configuration is read first; if it already is
/// the target (a reply lost earlier) nothing is sent; if it is neither, someone else changed the
/// membership and the change stops. The request carries the version read, so a change in between is
/// refused (-103). Retried while another change is pending (-14), the new quorum is still syncing
/// (-13) or the version moved on, until `timeout`.
public struct ReconfigStep: Sendable {
    public var sender: any ReconfigSender
    public var servers: [(host: String, port: Int)]
    public var password: String
    public var timeout: Duration
    public var retryInterval: Duration = .milliseconds(500)

    public init(sender: any ReconfigSender, servers: [(host: String, port: Int)], password: String, timeout: Duration) {
        self.sender = sender
        self.servers = servers
        self.password = password
        self.timeout = timeout
    }

    /// The new configuration text ("" when the servers already had `target`). `report` gets progress
    /// and whether it tells of an applied change.
    public func send(from current: [EnsembleConfig.Member], to target: [EnsembleConfig.Member], joining: String?, leaving: String?,
                     report: (String, Bool) -> Void) async throws -> String {
        func show(_ m: [EnsembleConfig.Member]) -> String { m.map { "\($0.id):\($0.role.rawValue)" }.joined(separator: ",") }
        let deadline = ContinuousClock.now + timeout
        var lastError = ""
        while ContinuousClock.now < deadline {
            do {
                let config = try await sender.readConfig(servers: servers, timeout: .seconds(10))
                if config.members == target {
                    report("the servers already have the new membership", false)
                    return ""
                }
                guard config.members == current else {
                    throw ZKCtlError("reconfig refused: the servers' membership (\(show(config.members))) is not the one zkctl expected (\(show(current))); it was changed outside zkctl: make the inventory match it before scaling")
                }
                switch try await sender.reconfig(servers: servers, password: password, joining: joining, leaving: leaving,
                                                 fromConfigVersion: config.version ?? -1, timeout: .seconds(10)) {
                case .applied(let config):
                    report("new configuration: " + config.split(separator: "\n").joined(separator: " "), true)
                    return config
                case .refused(let code) where code == -14 || code == -13 || code == -103:
                    lastError = ReconfigOutcome.describe(code)
                case .refused(let code):
                    throw ZKCtlError("reconfig refused: \(ReconfigOutcome.describe(code)) (code \(code))")
                }
            } catch let e as ZKCtlError where e.message.hasPrefix("reconfig refused") {
                throw e
            } catch {
                lastError = "\(error)"
            }
            try await Task.sleep(for: retryInterval)
        }
        throw ZKCtlError("reconfig did not succeed within \(Int(timeout.seconds))s: \(lastError)")
    }
}

/// `/zookeeper/config` text (pure).
public struct EnsembleConfig: Equatable, Sendable {
    public struct Member: Equatable, Sendable {
        public var id: Int
        public var role: NodeRole
    }
    public var members: [Member]
    public var version: Int64?
    /// Server id -> the host of its quorum address.
    public var hosts: [Int: String] = [:]

    public static func parse(_ text: String) -> EnsembleConfig {
        var members: [Member] = []
        var version: Int64?
        var hosts: [Int: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            if line.hasPrefix("version=") {
                version = Int64(line.dropFirst("version=".count), radix: 16)
            } else if line.hasPrefix("server."), let eq = line.firstIndex(of: "="),
                      let id = Int(line[line.index(line.startIndex, offsetBy: 7)..<eq]) {
                let spec = line[line.index(after: eq)...].split(separator: ";")[0]
                let role: NodeRole = spec.hasSuffix(":observer") ? .observer : .participant
                members.append(Member(id: id, role: role))
                hosts[id] = spec.hasPrefix("[") ? spec.dropFirst().split(separator: "]").first.map(String.init)
                    : spec.split(separator: ":").first.map(String.init)
            }
        }
        return EnsembleConfig(members: members.sorted { $0.id < $1.id }, version: version, hosts: hosts)
    }
}
