import Foundation
import SwiftASN1
import Testing
import X509
@testable import ZKOrchestration

@Suite struct TLSCertificateTests {
    static func verify(_ leaf: Certificate, ca: Certificate, host: String?, ip: String?) async -> Bool {
        var verifier = Verifier(rootCertificates: CertificateStore([ca])) {
            RFC5280Policy(validationTime: Date())
            ServerIdentityPolicy(serverHostname: host, serverIP: ip)
        }
        if case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore()) { return true }
        return false
    }

    @Test func nodeCertificateParsesBackWithItsSANsAndVerifiesAgainstTheCA() async throws {
        let authority = try ClusterCertificates.makeAuthority(cluster: "demo")
        let node = NodeSpec(name: "zk2", id: 2, host: "zk2.example.internal", clientPort: 2181, quorumPort: 2888, electionPort: 3888)
        let issued = try ClusterCertificates.issue(commonName: "demo server 2", sans: ClusterCertificates.sans(for: node), authority: authority)
        let ca = try Certificate(pemEncoded: authority.certificatePEM)
        let leaf = try Certificate(pemEncoded: issued.certificatePEM)

        #expect(try ca.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(leaf.issuer == ca.subject)
        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(sans) == [
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .dnsName("localhost"),
            .dnsName("zk2.example.internal"),
        ])
        let eku = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(eku.contains(.serverAuth) && eku.contains(.clientAuth))

        // The key in the key store is the certificate's key.
        let key = try Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM)
        #expect(key.publicKey == leaf.publicKey)
        #expect(issued.keyStorePEM.contains("BEGIN PRIVATE KEY") && issued.keyStorePEM.contains("BEGIN CERTIFICATE"))

        #expect(await Self.verify(leaf, ca: ca, host: "zk2.example.internal", ip: nil))
        #expect(await Self.verify(leaf, ca: ca, host: nil, ip: "127.0.0.1"))
        #expect(await Self.verify(leaf, ca: ca, host: "localhost", ip: nil))
        #expect(!(await Self.verify(leaf, ca: ca, host: "zk3.example.internal", ip: nil)))
        // Another cluster's CA does not vouch for it.
        let other = try Certificate(pemEncoded: try ClusterCertificates.makeAuthority(cluster: "other").certificatePEM)
        #expect(!(await Self.verify(leaf, ca: other, host: "localhost", ip: nil)))
    }

    @Test func ipAddressesBecomeIPSANs() {
        #expect(ClusterCertificates.ipAddressBytes("10.1.2.3") == [10, 1, 2, 3])
        #expect(ClusterCertificates.ipAddressBytes("::1") == Array(repeating: 0, count: 15) + [1])
        #expect(ClusterCertificates.ipAddressBytes("zk1.local") == nil)
        #expect(ClusterCertificates.sans(for: NodeSpec(name: "a", id: 1, host: "127.0.0.1", clientPort: 1, quorumPort: 2, electionPort: 3))
                == ["127.0.0.1", "localhost"])
    }

    @Test func tlsInitWritesTheFilesOnceWithPrivateKeysOwnerOnly() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("zkctl-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = ClusterStore(home: home)
        let inv = Inventory.local(name: "t", count: 3)
        let first = try store.ensureTLSMaterial(inv)
        let tls = store.layout("t").tls
        #expect(Set(first.created) == Set([tls.caCertificate, tls.nodeKeyStore(1), tls.nodeKeyStore(2), tls.nodeKeyStore(3), tls.clientCertificate]))
        for path in [tls.caKey, tls.nodeKeyStore(1), tls.clientKey] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            #expect(mode == 0o600, "\(path)")
        }
        let ca = try FileSystem.readString(tls.caCertificate)
        let second = try store.ensureTLSMaterial(inv)
        #expect(second.created.isEmpty)
        #expect(try FileSystem.readString(tls.caCertificate) == ca)
        let renewed = try store.ensureTLSMaterial(inv, renew: true)
        #expect(renewed.created.count == 5)
        #expect(try FileSystem.readString(tls.caCertificate) != ca)
    }

    @Test func tlsInitReissuesANodeCertificateThatNoLongerFits() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("zkctl-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = ClusterStore(home: home)
        var inv = Inventory.local(name: "t", count: 3)
        try store.ensureTLSMaterial(inv)
        let tls = store.layout("t").tls
        let before = try (1...3).map { try FileSystem.readString(tls.nodeKeyStore($0)) }
        // Server 3 moved to another host: only its certificate is issued again, naming the new host.
        inv.nodes[2].host = "zk3.example.internal"
        let moved = try store.ensureTLSMaterial(inv)
        #expect(moved.created == [tls.nodeKeyStore(3)])
        #expect(try (1...2).map { try FileSystem.readString(tls.nodeKeyStore($0)) } == Array(before[0...1]))
        let third = try #require(ClusterCertificates.parseKeyStore(try FileSystem.readString(tls.nodeKeyStore(3))))
        let authority = try store.ensureAuthority("t").authority
        #expect(ClusterCertificates.isReusable(third, sans: ClusterCertificates.sans(for: inv.nodes[2]), authority: authority))
        // Fewer than 30 days left: every node certificate is issued again, the CA is kept.
        let late = try store.ensureTLSMaterial(inv, now: Date().addingTimeInterval(810 * 86400))
        #expect(Set(late.created) == Set((1...3).map(tls.nodeKeyStore)))
        #expect(try store.ensureAuthority("t").authority == authority)
    }

    @Test func tlsInventoryRendersSecurePortAndQuorumTLS() throws {
        var inv = try InventoryLoader.parse(yaml: """
            zookeeper:
              vars: {zk_engine: bundled, zk_tls: true, zk_secure_client_port: 3281}
              hosts:
                a: {zk_id: 1}
                b: {zk_id: 2}
                c: {zk_id: 3}
            """, defaultName: "sec")
        #expect(inv.cluster.tls && inv.cluster.secureClientPort == 3281)
        #expect(inv.nodes.map { inv.secureClientPort($0) } == [3281, 3282, 3283])
        // The writer keeps the settings.
        let again = try InventoryLoader.parse(yaml: InventoryWriter.yaml(inv, comment: "x"), defaultName: "sec")
        #expect(again.cluster.tls && again.cluster.secureClientPort == 3281)
        inv.cluster.superDigest = "super:abc="
        let renderer = Renderer(source: DirectoryTemplateSource(directory: Paths.templates))
        let layout = ClusterLayout(home: "/h", cluster: "sec")
        let rendered = try renderer.renderCluster(inv, layout: { layout.node($0.id) })
        let cfg = try #require(rendered[1].2.first { $0.path == "conf/zoo.cfg" }).contents
        for line in ["secureClientPort=3282", "secureClientPortAddress=127.0.0.1",
                     "ssl.keyStore.location=/h/clusters/sec/tls/node-2.pem", "ssl.trustStore.location=/h/clusters/sec/tls/ca.pem",
                     "ssl.clientAuth=need", "sslQuorum=true", "ssl.quorum.keyStore.location=/h/clusters/sec/tls/node-2.pem",
                     "ssl.quorum.trustStore.location=/h/clusters/sec/tls/ca.pem",
                     "DigestAuthenticationProvider.superDigest=super:abc="] {
            #expect(cfg.contains(line + "\n"), "\(line)")
        }
    }

    @Test func badTLSInventorySettingsAreErrors() {
        #expect(throws: InventoryError.self) {
            try InventoryLoader.parse(yaml: "zookeeper:\n  vars: {zk_engine: bundled, zk_tls: perhaps}\n  hosts:\n    a: {zk_id: 1}\n", defaultName: "x")
        }
        #expect(throws: InventoryError.self) {
            try InventoryLoader.parse(yaml: "zookeeper:\n  vars: {zk_engine: bundled, zk_secure_client_port: 0}\n  hosts:\n    a: {zk_id: 1}\n", defaultName: "x")
        }
        // The TLS port of server 1 would be server 1's quorum port.
        let clash = #expect(throws: InventoryError.self) {
            try InventoryLoader.parse(yaml: "zookeeper:\n  vars: {zk_engine: bundled, zk_tls: true, zk_secure_client_port: 2888}\n  hosts:\n    a: {zk_id: 1}\n    b: {zk_id: 2}\n    c: {zk_id: 3}\n", defaultName: "x")
        }
        #expect(clash?.description.contains("duplicate port 127.0.0.1:2888: a secure_client port collides with a quorum port") == true)
    }
}
