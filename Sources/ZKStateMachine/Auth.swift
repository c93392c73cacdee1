import Crypto
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZKProtocol

/// The identities a connection holds: its ip, digest users it authenticated as, and `super`.
public struct AuthInfo: Hashable, Sendable {
    public var ids: [Id]
    public init(ids: [Id] = []) { self.ids = ids }
    public static func ip(_ address: String) -> AuthInfo { AuthInfo(ids: [Id(scheme: "ip", id: address)]) }
    public var isSuper: Bool { ids.contains { $0.scheme == "super" } }
    /// Ids that replace an `auth` scheme entry in an ACL (authenticated providers only, not ip).
    public var authenticatedIds: [Id] { ids.filter { $0.scheme != "ip" && $0.scheme != "super" } }
    public mutating func add(_ id: Id) { if !ids.contains(id) { ids.append(id) } }
}

public enum DigestAuth {
    /// `user:base64(sha1("user:password"))`, the id a digest ACL names.
    public static func digest(_ userPassword: String) -> String {
        let user = userPassword.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let hash = Insecure.SHA1.hash(data: Array(userPassword.utf8))
        return user + ":" + Data(hash).base64EncodedString()
    }
}

public enum ACLPolicy {
    /// Whether `auth` may do `perm` on a node with `acl`.
    public static func allows(_ acl: [ACL], _ perm: Perms, _ auth: AuthInfo, skipACL: Bool = false) -> Bool {
        if skipACL || acl.isEmpty || auth.isSuper { return true }
        for a in acl where a.perms.contains(perm) {
            if a.id.scheme == "world" && a.id.id == "anyone" { return true }
            for id in auth.ids where id.scheme == a.id.scheme {
                switch id.scheme {
                case "ip": if ipMatches(pattern: a.id.id, address: id.id) { return true }
                default: if id.id == a.id.id { return true }
                }
            }
        }
        return false
    }

    /// Validates an ACL list and expands `auth` entries; nil when invalid (INVALIDACL).
    public static func fixup(_ acl: [ACL], _ auth: AuthInfo) -> [ACL]? {
        if acl.isEmpty { return nil }
        var out: [ACL] = []
        for a in acl {
            switch a.id.scheme {
            case "world":
                guard a.id.id == "anyone" else { return nil }
                out.append(a)
            case "auth":
                let ids = auth.authenticatedIds
                if ids.isEmpty { return nil }
                for id in ids { out.append(ACL(perms: a.perms, id: id)) }
            case "digest":
                guard a.id.id.split(separator: ":", omittingEmptySubsequences: false).count == 2 else { return nil }
                out.append(a)
            case "ip":
                guard parseIP(a.id.id) != nil else { return nil }
                out.append(a)
            case "super", "sasl", "x509":
                out.append(a)
            default:
                return nil
            }
        }
        var seen = Set<ACL>()
        return out.filter { seen.insert($0).inserted }
    }

    /// Parses `addr` or `addr/bits` into bytes and a prefix length.
    static func parseIP(_ s: String) -> ([UInt8], Int)? {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addr = String(parts[0])
        var bytes: [UInt8]
        if addr.contains(":") {
            var a = in6_addr()
            guard inet_pton(AF_INET6, addr, &a) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &a) { Array($0) }
        } else {
            var a = in_addr()
            guard inet_pton(AF_INET, addr, &a) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &a) { Array($0) }
        }
        var bits = bytes.count * 8
        if parts.count == 2 {
            guard let b = Int(parts[1]), b >= 0, b <= bytes.count * 8 else { return nil }
            bits = b
        }
        return (bytes, bits)
    }

    static func ipMatches(pattern: String, address: String) -> Bool {
        guard let (p, bits) = parseIP(pattern), let (a, _) = parseIP(address), p.count == a.count else { return false }
        for i in 0..<p.count {
            let remaining = bits - i * 8
            if remaining <= 0 { break }
            let mask: UInt8 = remaining >= 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - remaining))
            if p[i] & mask != a[i] & mask { return false }
        }
        return true
    }
}
