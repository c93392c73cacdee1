import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate with its private key, both PEM.
public struct IssuedCertificate: Equatable, Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String

    /// The key followed by the certificate: the PEM "key store" form zoo.cfg's `ssl.keyStore.location` reads.
    public var keyStorePEM: String { privateKeyPEM + "\n" + certificatePEM + "\n" }
}

/// A cluster's own certificate authority and the certificates it issues (ECDSA P-256, SHA-256).
/// Pure: no files; `ClusterStore.writeTLSMaterial` writes the result.
public enum ClusterCertificates {
    /// SANs every node certificate carries, besides its inventory host: local clients and probes use them.
    public static let loopbackNames = ["127.0.0.1", "localhost"]

    public static func makeAuthority(cluster: String, now: Date = Date(), validDays: Int = 3650) throws -> IssuedCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("zkctl")
            CommonName("zkctl CA for cluster \(cluster)")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(validDays) * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: .init(key))
        return IssuedCertificate(certificatePEM: try cert.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// A certificate for `commonName`, valid for TLS servers and clients (nodes authenticate both ways
    /// on the quorum port), with the given host names and IP addresses as SANs.
    public static func issue(commonName: String, sans: [String], authority: IssuedCertificate,
                             now: Date = Date(), validDays: Int = 825) throws -> IssuedCertificate {
        let caCert = try Certificate(pemEncoded: authority.certificatePEM)
        let caKey = try P256.Signing.PrivateKey(pemRepresentation: authority.privateKeyPEM)
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("zkctl")
            CommonName(commonName)
        }
        let names = generalNames(sans)
        let publicKey = Certificate.PublicKey(key.publicKey)
        let caKeyId = try caCert.extensions.subjectKeyIdentifier?.keyIdentifier
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: caKeyId)
        }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(validDays) * 86400),
            issuer: caCert.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: .init(caKey))
        return IssuedCertificate(certificatePEM: try cert.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// SAN entries in the order given, without repeats: IP literals as IP addresses, the rest as DNS names.
    public static func generalNames(_ sans: [String]) -> [GeneralName] {
        unique(sans).map { san in
            if let ip = ipAddressBytes(san) { return .ipAddress(ASN1OctetString(contentBytes: ip[...])) }
            return .dnsName(san)
        }
    }

    /// Whether `issued` can be handed out again instead of a new certificate: `authority` signed it,
    /// its key matches, it names exactly `sans`, and it stays valid for at least `minimumDays` more.
    public static func isReusable(_ issued: IssuedCertificate, sans: [String], authority: IssuedCertificate,
                                  now: Date = Date(), minimumDays: Int = 30) -> Bool {
        guard let cert = try? Certificate(pemEncoded: issued.certificatePEM),
              let ca = try? Certificate(pemEncoded: authority.certificatePEM),
              let key = try? Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM),
              let names = try? cert.extensions.subjectAlternativeNames else { return false }
        return cert.issuer == ca.subject && ca.publicKey.isValidSignature(cert.signature, for: cert)
            && key.publicKey == cert.publicKey && Array(names) == generalNames(sans)
            && cert.notValidBefore <= now && cert.notValidAfter > now.addingTimeInterval(Double(minimumDays) * 86400)
    }

    /// Splits a key store written from `IssuedCertificate.keyStorePEM` back into key and certificate.
    public static func parseKeyStore(_ pem: String) -> IssuedCertificate? {
        guard let docs = try? PEMDocument.parseMultiple(pemString: pem),
              let cert = docs.first(where: { $0.discriminator == "CERTIFICATE" }),
              let key = docs.first(where: { $0.discriminator.hasSuffix("PRIVATE KEY") }) else { return nil }
        return IssuedCertificate(certificatePEM: cert.pemString, privateKeyPEM: key.pemString)
    }

    /// The SANs of a node: loopback names plus its inventory host.
    public static func sans(for node: NodeSpec) -> [String] { unique(loopbackNames + [node.host]) }

    static func unique(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// The 4 or 16 bytes of an IPv4/IPv6 literal, nil for a host name.
    public static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

/// Where a cluster's TLS files live: `<cluster state dir>/tls/`.
public struct TLSLayout: Equatable, Sendable {
    public var dir: String
    public init(dir: String) { self.dir = dir }

    public var caCertificate: String { dir + "/ca.pem" }
    public var caKey: String { dir + "/ca-key.pem" }
    /// Key + certificate in one PEM file (zoo.cfg's ssl.keyStore.location and ssl.quorum.keyStore.location).
    public func nodeKeyStore(_ id: Int) -> String { dir + "/node-\(id).pem" }
    /// A client identity for zkCli, kazoo and other clients (certificate and key in separate files).
    public var clientCertificate: String { dir + "/client-cert.pem" }
    public var clientKey: String { dir + "/client-key.pem" }
    /// The client identity as one PEM file (key + certificate), for the Java client's zookeeper.ssl.keyStore.location.
    public var clientKeyStore: String { dir + "/client.pem" }
    /// Key + certificate behind the Kubernetes Secret `secret` (`zkctl generate kubernetes --issue-tls-secret`).
    public func kubernetesKeyStore(_ secret: String) -> String { dir + "/kubernetes-\(secret).pem" }
}

extension ClusterLayout {
    public var tls: TLSLayout { TLSLayout(dir: root + "/tls") }
}

extension ClusterStore {
    /// What `zkctl tls init` wrote (or found).
    public struct TLSInitResult: Sendable {
        public var layout: TLSLayout
        public var created: [String]
        public var kept: [String]
    }

    /// Creates the cluster's CA (unless it has one), a key store per node and a client identity.
    /// Existing files are kept unless `renew` is set; a node's certificate is (re)issued whenever
    /// its key store is missing or no longer fits (see `ClusterCertificates.isReusable`: another CA,
    /// other SANs because the node's host changed, or fewer than 30 days left). Private keys are
    /// written with mode 0600.
    @discardableResult
    public func ensureTLSMaterial(_ inventory: Inventory, renew: Bool = false, now: Date = Date()) throws -> TLSInitResult {
        let tls = layout(inventory.cluster.name).tls
        var created: [String] = [], kept: [String] = []
        let (authority, caChanged) = try ensureAuthority(inventory.cluster.name, renew: renew, now: now)
        if caChanged { created.append(tls.caCertificate) } else { kept.append(tls.caCertificate) }
        for node in inventory.nodes {
            let path = tls.nodeKeyStore(node.id)
            let sans = ClusterCertificates.sans(for: node)
            if !caChanged, let text = try? FileSystem.readString(path), let stored = ClusterCertificates.parseKeyStore(text),
               ClusterCertificates.isReusable(stored, sans: sans, authority: authority, now: now) {
                kept.append(path)
                continue
            }
            let issued = try ClusterCertificates.issue(commonName: "\(inventory.cluster.name) server \(node.id) (\(node.name))",
                                                       sans: sans, authority: authority, now: now)
            try Self.writePrivate(issued.keyStorePEM, to: path)
            created.append(path)
        }
        if !caChanged && [tls.clientCertificate, tls.clientKey, tls.clientKeyStore].allSatisfy(FileSystem.exists) {
            kept.append(tls.clientCertificate)
        } else {
            let client = try ClusterCertificates.issue(commonName: "\(inventory.cluster.name) client",
                                                       sans: ClusterCertificates.loopbackNames, authority: authority, now: now)
            try Self.writePrivate(client.privateKeyPEM + "\n", to: tls.clientKey)
            try Self.writePrivate(client.keyStorePEM, to: tls.clientKeyStore)
            try FileSystem.write(client.certificatePEM + "\n", to: tls.clientCertificate)
            created.append(tls.clientCertificate)
        }
        return TLSInitResult(layout: tls, created: created, kept: kept)
    }

    /// The cluster's CA from its state dir, created there (ca.pem, ca-key.pem) when it has none or
    /// when `renew` is set; `created` tells which.
    public func ensureAuthority(_ cluster: String, renew: Bool = false, now: Date = Date()) throws -> (authority: IssuedCertificate, created: Bool) {
        let tls = layout(cluster).tls
        try FileSystem.makeDirectory(tls.dir)
        if !renew, FileSystem.exists(tls.caCertificate), FileSystem.exists(tls.caKey) {
            // As makeAuthority returns them: without the final newline the files add.
            return (IssuedCertificate(certificatePEM: try FileSystem.readString(tls.caCertificate).trimmed(" \n\r\t"),
                                      privateKeyPEM: try FileSystem.readString(tls.caKey).trimmed(" \n\r\t")), false)
        }
        let authority = try ClusterCertificates.makeAuthority(cluster: cluster, now: now)
        try Self.writePrivate(authority.privateKeyPEM + "\n", to: tls.caKey)
        try FileSystem.write(authority.certificatePEM + "\n", to: tls.caCertificate)
        return (authority, true)
    }

    /// What `ensureKubernetesCertificate` handed out.
    public struct KubernetesCertificate: Sendable {
        public var authority: IssuedCertificate
        public var certificate: IssuedCertificate
        public var createdAuthority: Bool
        public var reused: Bool
        public var keyStore: String
    }

    /// The one certificate the pods of `secret` share, from the cluster's CA (created if absent).
    /// It is kept in `tls/kubernetes-<secret>.pem` and handed out again while the CA still signs it,
    /// it names exactly `sans` and has 30 days left; otherwise a new one replaces it. So regenerating
    /// the manifests leaves the Secret unchanged until the names change.
    public func ensureKubernetesCertificate(_ cluster: String, secret: String, commonName: String, sans: [String],
                                            now: Date = Date()) throws -> KubernetesCertificate {
        let (authority, createdAuthority) = try ensureAuthority(cluster, now: now)
        let path = layout(cluster).tls.kubernetesKeyStore(secret)
        if let text = try? FileSystem.readString(path), let stored = ClusterCertificates.parseKeyStore(text),
           ClusterCertificates.isReusable(stored, sans: sans, authority: authority, now: now) {
            return KubernetesCertificate(authority: authority, certificate: stored, createdAuthority: createdAuthority,
                                         reused: true, keyStore: path)
        }
        let issued = try ClusterCertificates.issue(commonName: commonName, sans: sans, authority: authority, now: now)
        try Self.writePrivate(issued.keyStorePEM, to: path)
        return KubernetesCertificate(authority: authority, certificate: issued, createdAuthority: createdAuthority,
                                     reused: false, keyStore: path)
    }

    /// Writes a file only its owner can read.
    public static func writePrivate(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ZKCtlError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw ZKCtlError("cannot write \(path)") }
    }
}
