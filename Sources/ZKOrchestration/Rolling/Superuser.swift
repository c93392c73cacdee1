import Foundation

/// The cluster's superuser: a random password kept in the cluster's state dir (mode 0600) and its
/// digest (`super:base64(sha1("super:<password>"))`) rendered into zoo.cfg. zkctl authenticates
/// with it to send reconfig; the password is never printed.
public enum Superuser {
    public static let user = "super"

    /// `DigestAuthenticationProvider.superDigest` value for a password.
    public static func digest(password: String) -> String {
        user + ":" + Data(SHA1.hash(Array("\(user):\(password)".utf8))).base64EncodedString()
    }

    public static func generatePassword() -> String {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0..<32).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] })
    }
}

extension ClusterLayout {
    /// The superuser password of a local cluster.
    public var superuserSecretFile: String { root + "/superuser.secret" }
}

extension ClusterStore {
    public func superuserPassword(_ name: String) -> String? {
        guard let text = try? FileSystem.readString(layout(name).superuserSecretFile) else { return nil }
        let p = text.trimmed(" \n\r\t")
        return p.isEmpty ? nil : p
    }

    /// The digest rendered into zoo.cfg, when the cluster has a secret.
    public func superDigest(_ name: String) -> String? {
        superuserPassword(name).map { Superuser.digest(password: $0) }
    }

    /// Creates the cluster's secret if it has none; returns the digest.
    @discardableResult
    public func ensureSuperuserSecret(_ name: String) throws -> String {
        if let d = superDigest(name) { return d }
        let path = layout(name).superuserSecretFile
        try FileSystem.makeDirectory(layout(name).root)
        let password = Superuser.generatePassword()
        try Self.writePrivate(password + "\n", to: path)
        return Superuser.digest(password: password)
    }
}

/// SHA-1 (FIPS 180-4), only for ZooKeeper's digest scheme, which is defined with it.
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        var m = message
        let bitLength = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in (0..<8).reversed() { m.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(m[b]) << 24 | UInt32(m[b + 1]) << 16 | UInt32(m[b + 2]) << 8 | UInt32(m[b + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = (x << 1) | (x >> 31)
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4]
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                default: f = b ^ c ^ d; k = 0xCA62C1D6
                }
                let t = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = (b << 30) | (b >> 2); b = a; a = t
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d; h[4] = h[4] &+ e
        }
        return h.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - UInt32($0) * 8)) } }
    }
}
