import Foundation
import Testing
import X509
@testable import ZKOrchestration

@Suite struct KubernetesTLSSecretTests {
    static func tlsInventory() throws -> Inventory {
        var inv = try GenerateTests.load("production-3")
        inv.cluster.tls = true
        return inv
    }

    static func temporaryHome() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("zkctl-k8s-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    @Test func sansNameEveryPodAndServiceInEveryForm() throws {
        let options = KubernetesOptions(namespace: "zk")
        let model = KubernetesModel.derive(try Self.tlsInventory(), options: options)
        let sans = KubernetesTLSSecret.sans(model, options: options)
        for name in ["*.prod-zk-hs", "*.prod-zk-hs.zk", "*.prod-zk-hs.zk.svc", "*.prod-zk-hs.zk.svc.cluster.local",
                     "prod-zk-0.prod-zk-hs", "prod-zk-1.prod-zk-hs.zk", "prod-zk-2.prod-zk-hs.zk.svc.cluster.local",
                     "prod-zk-hs.zk.svc", "prod-zk-client", "prod-zk-client.zk", "prod-zk-client.zk.svc",
                     "prod-zk-client.zk.svc.cluster.local", "localhost", "127.0.0.1"] {
            #expect(sans.contains(name), "\(name)")
        }
        #expect(Set(sans).count == sans.count)
        #expect(KubernetesTLSSecret.sans(model, options: options) == sans, "the same inputs give the same list")
        // Every host the server lines dial is a SAN as written.
        for member in model.members {
            let host = String(member.serverLine.split(separator: "=")[1].split(separator: ":")[0])
            #expect(sans.contains(host), "\(host)")
        }

        // No namespace: the manifests carry none and the names use `default`; a cluster domain replaces cluster.local.
        let other = KubernetesOptions(clusterDomain: "corp.example")
        let otherModel = KubernetesModel.derive(try Self.tlsInventory(), options: other)
        let otherSANs = KubernetesTLSSecret.sans(otherModel, options: other)
        #expect(otherSANs.contains("prod-zk-0.prod-zk-hs.default.svc.corp.example"))
        #expect(otherSANs.contains("prod-zk-client.default.svc.corp.example"))
        #expect(!otherSANs.contains { $0.hasSuffix("cluster.local") })
        // With a cluster domain the server lines are fully qualified, namespace and `svc` included.
        #expect(otherModel.members[0].serverLine.hasPrefix("server.1=prod-zk-0.prod-zk-hs.default.svc.corp.example:"))
        for member in otherModel.members {
            let host = String(member.serverLine.split(separator: "=")[1].split(separator: ":")[0])
            #expect(otherSANs.contains(host), "\(host)")
        }
    }

    @Test func withoutZkTLSTheFlagIsRefusedNamingTheInventory() throws {
        let plain = try GenerateTests.load("production-3")
        let error = #expect(throws: ZKCtlError.self) {
            try KubernetesTLSSecret.requireTLS(plain, path: "inventory/production-3.yaml")
        }
        #expect(error?.message.contains("inventory/production-3.yaml") == true)
        #expect(error?.message.contains("does not set zk_tls: true") == true)
        #expect(error?.message.contains("set zk_tls: true in its zookeeper vars") == true)
        try KubernetesTLSSecret.requireTLS(try Self.tlsInventory(), path: "x.yaml")
        // Without TLS the renderer never emits a Secret, even when handed data.
        let files = try GenerateTests.renderer().renderKubernetes(plain, tlsSecretData: [.init(key: "ca.crt", value: "eA==")])
        #expect(!files.contains { $0.path == KubernetesTLSSecret.file })
    }

    @Test func secretVerifiesAgainstItsCAAndIsListedInTheKustomization() async throws {
        let home = Self.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = ClusterStore(home: home)
        let inv = try Self.tlsInventory()
        let options = KubernetesOptions(namespace: "zk", serviceMonitor: true)
        let model = KubernetesModel.derive(inv, options: options)
        let issued = try store.ensureKubernetesCertificate(inv.cluster.name, secret: model.tlsSecret,
                                                           commonName: KubernetesTLSSecret.commonName(model),
                                                           sans: KubernetesTLSSecret.sans(model, options: options))
        #expect(issued.createdAuthority && !issued.reused)
        let data = KubernetesTLSSecret.data(caCertificatePEM: issued.authority.certificatePEM, certificate: issued.certificate)
        #expect(data.map(\.key) == ["ca.crt", "tls.crt", "tls.key"])
        let files = try GenerateTests.renderer().renderKubernetes(inv, options: options, tlsSecretData: data)

        // Listed once, before the StatefulSet, and nothing else changed.
        let plainFiles = try GenerateTests.renderer().renderKubernetes(inv, options: options)
        #expect(files.map(\.path).filter { $0 != KubernetesTLSSecret.file } == plainFiles.map(\.path))
        let kustomization = try GenerateTests.mapping(try GenerateTests.file(files, "kustomization.yaml"))
        let resources = try #require(kustomization["resources"] as? [String])
        #expect(resources == files.filter { $0.path.hasSuffix(".yaml") && $0.path != "kustomization.yaml" }.map(\.path))
        #expect(resources.filter { $0 == KubernetesTLSSecret.file }.count == 1)
        #expect(try #require(resources.firstIndex(of: KubernetesTLSSecret.file)) < (try #require(resources.firstIndex(of: "statefulset.yaml"))))
        for (a, b) in zip(files, plainFiles) where a.path != "kustomization.yaml" && a.path == b.path { #expect(a.contents == b.contents) }

        let objects = try GenerateTests.objects(files)
        let secret = try #require(objects["Secret"])
        #expect(secret["type"] as? String == "kubernetes.io/tls")
        #expect(GenerateTests.dig(secret, "metadata", "name") as? String == "prod-zk-tls")
        let volumes = try #require(GenerateTests.dig(objects["StatefulSet"], "spec", "template", "spec", "volumes") as? [[String: Any]])
        #expect(volumes.contains { GenerateTests.dig($0, "secret", "secretName") as? String == "prod-zk-tls" })
        #expect(GenerateTests.labels(GenerateTests.dig(secret, "metadata", "labels"))
                == GenerateTests.labels(GenerateTests.dig(objects["StatefulSet"], "metadata", "labels")))

        func decoded(_ key: String) throws -> String {
            let b64 = try #require(GenerateTests.dig(secret, "data", key) as? String)
            return String(decoding: try #require(Data(base64Encoded: b64)), as: UTF8.self)
        }
        let ca = try Certificate(pemEncoded: try decoded("ca.crt"))
        let leaf = try Certificate(pemEncoded: try decoded("tls.crt"))
        let key = try Certificate.PrivateKey(pemEncoded: try decoded("tls.key"))
        #expect(key.publicKey == leaf.publicKey)
        let eku = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(eku.contains(.serverAuth) && eku.contains(.clientAuth))
        for host in ["prod-zk-1.prod-zk-hs", "prod-zk-2.prod-zk-hs.zk.svc.cluster.local", "prod-zk-client.zk.svc", "localhost"] {
            #expect(await TLSCertificateTests.verify(leaf, ca: ca, host: host, ip: nil), "\(host)")
        }
        #expect(await TLSCertificateTests.verify(leaf, ca: ca, host: nil, ip: "127.0.0.1"))
        #expect(!(await TLSCertificateTests.verify(leaf, ca: ca, host: "prod-zk-0.other-hs", ip: nil)))
        // The CA is the one `zkctl tls init` uses for the cluster.
        #expect(try FileSystem.readString(store.layout("prod").tls.caCertificate) == issued.authority.certificatePEM + "\n")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: issued.keyStore)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
    }

    @Test func rerunsReuseTheCAAndTheCertificateUntilTheNamesChange() throws {
        let home = Self.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = ClusterStore(home: home)
        // A CA made by `zkctl tls init` is the one used.
        let inv = try Self.tlsInventory()
        try store.ensureTLSMaterial(inv)
        let ca = try FileSystem.readString(store.layout("prod").tls.caCertificate)
        let sans = ["*.prod-zk-hs", "localhost"]
        let first = try store.ensureKubernetesCertificate("prod", secret: "prod-zk-tls", commonName: "t", sans: sans)
        #expect(!first.createdAuthority && !first.reused)
        #expect(first.authority.certificatePEM + "\n" == ca)
        let second = try store.ensureKubernetesCertificate("prod", secret: "prod-zk-tls", commonName: "t", sans: sans)
        #expect(second.reused && second.certificate == first.certificate)
        #expect(KubernetesTLSSecret.data(caCertificatePEM: ca, certificate: second.certificate)
                == KubernetesTLSSecret.data(caCertificatePEM: ca, certificate: first.certificate))
        let renamed = try store.ensureKubernetesCertificate("prod", secret: "prod-zk-tls", commonName: "t", sans: sans + ["extra"])
        #expect(!renamed.reused && renamed.certificate != first.certificate)
        // A certificate close to expiry, or from another CA, is not handed out again.
        let authority = first.authority
        let old = try ClusterCertificates.issue(commonName: "t", sans: sans, authority: authority, validDays: 10)
        #expect(!ClusterCertificates.isReusable(old, sans: sans, authority: authority))
        let foreign = try ClusterCertificates.issue(commonName: "t", sans: sans, authority: try ClusterCertificates.makeAuthority(cluster: "x"))
        #expect(!ClusterCertificates.isReusable(foreign, sans: sans, authority: authority))
        #expect(ClusterCertificates.isReusable(first.certificate, sans: sans, authority: authority))
        #expect(!ClusterCertificates.isReusable(first.certificate, sans: sans.reversed(), authority: authority))
        #expect(ClusterCertificates.parseKeyStore(first.certificate.keyStorePEM) == first.certificate)
        // `zkctl tls init` afterwards keeps the CA.
        #expect(try store.ensureTLSMaterial(inv).created.isEmpty)
    }
}
