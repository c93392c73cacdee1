import Foundation
import Testing
import X509
import Yams
@testable import ZKOrchestration

@Suite struct AnsibleTLSTests {
    static func tlsInventory() throws -> Inventory { try KubernetesTLSSecretTests.tlsInventory() }

    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// zoo.cfg lines of the TLS keys (`secureClientPort...`, `ssl...`, `serverCnxnFactory`), as key -> value.
    static func tlsKeys(_ cfg: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in cfg.split(separator: "\n") where line.hasPrefix("ssl") || line.hasPrefix("secureClientPort") || line.hasPrefix("serverCnxnFactory") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            out[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return out
    }

    @Test func tlsOutputMatchesGoldenAndAddsTheTLSTasksOnlyWithZkTLS() throws {
        let files = try GenerateTests.renderer().renderAnsible(try Self.tlsInventory())
        #expect(files.map(\.path) == AnsibleModel.files + AnsibleModel.tlsFiles + MonitoringModel.files.map(\.path))
        // Golden files only for what zk_tls changes; every other file is the plain output's.
        let plain = try GenerateTests.renderer().renderAnsible(try GenerateTests.load("production-3"))
        let changed = ["roles/zk/defaults/main.yml", "roles/zk/vars/main.yml", "roles/zk/tasks/main.yml",
                       "roles/zk/tasks/tls.yml", "roles/zk/templates/zoo.cfg.j2"]
        for f in files {
            if changed.contains(f.path) {
                assertGolden(f.contents, "generated/ansible/production-3-tls/\(f.path)")
            } else {
                #expect(f.contents == (try GenerateTests.file(plain, f.path)), "\(f.path) differs from the plain output")
            }
        }
        for f in files where f.path.hasSuffix(".yml") { _ = try Yams.load_all(yaml: f.contents).map { $0 } }

        let main = try GenerateTests.file(files, "roles/zk/tasks/main.yml")
        #expect(main.contains("ansible.builtin.import_tasks: tls.yml\n"))
        let tasks = try #require(try Yams.load(yaml: try GenerateTests.file(files, "roles/zk/tasks/tls.yml")) as? [[String: Any]])
        let keyStore = try #require(tasks.first { ($0["ansible.builtin.copy"] as? [String: Any])?["mode"] as? String == "0600" })
        #expect(GenerateTests.dig(keyStore, "ansible.builtin.copy", "dest") as? String == "{{ zk_node_tls_dir }}/keystore.pem")
        #expect(GenerateTests.dig(keyStore, "ansible.builtin.copy", "owner") as? String == "{{ zk_user }}")
        #expect(keyStore["no_log"] as? Bool == true && keyStore["notify"] as? String == "Flag restart")
        #expect(tasks.filter { $0["notify"] as? String == "Flag restart" }.count == 2)

        let defaults = try GenerateTests.mapping(try GenerateTests.file(files, "roles/zk/defaults/main.yml"))
        #expect(defaults["zk_tls_ca_src"] as? String == "{{ playbook_dir }}/files/tls/ca.pem")
        #expect(defaults["zk_tls_cert_src"] as? String == "{{ playbook_dir }}/files/tls/{{ inventory_hostname }}-cert.pem")
        #expect(defaults["zk_tls_key_src"] as? String == "{{ playbook_dir }}/files/tls/{{ inventory_hostname }}-key.pem")
        let vars = try GenerateTests.mapping(try GenerateTests.file(files, "roles/zk/vars/main.yml"))
        let members = try #require(vars["zk_members"] as? [[String: Any]])
        #expect(members.map { $0["secure_client_port"] as? Int } == [2281, 2281, 2281])
        #expect(vars["zk_node_tls_dir"] as? String == "{{ zk_node_conf_dir }}/tls")

        // Without zk_tls: no tls.yml, no TLS keys, no TLS defaults.
        #expect(plain.map(\.path) == AnsibleModel.files + MonitoringModel.files.map(\.path))
        #expect(!(try GenerateTests.file(plain, "roles/zk/tasks/main.yml")).contains("tls"))
        #expect(Self.tlsKeys(try GenerateTests.file(plain, "roles/zk/templates/zoo.cfg.j2")).isEmpty)
        #expect(!(try GenerateTests.file(plain, "roles/zk/defaults/main.yml")).contains("zk_tls"))
    }

    /// The Ansible zoo.cfg sets the same TLS keys, with the same fixed values, as the zoo.cfg
    /// `zkctl up` renders for a TLS ensemble (which zkserver and Apache ZooKeeper both run).
    @Test func zooCfgHasTheTLSKeysOfTheLocalRender() throws {
        let inv = try InventoryLoader.parse(yaml: """
            zookeeper:
              vars: {zk_engine: apache, zk_tls: true}
              hosts:
                a: {zk_id: 1}
                b: {zk_id: 2}
                c: {zk_id: 3}
            """, defaultName: "sec")
        let local = try GenerateTests.renderer().renderCluster(inv, layout: { ClusterLayout(home: "/h", cluster: "sec").node($0.id) })
        let localKeys = Self.tlsKeys(try #require(local[0].2.first { $0.path == "conf/zoo.cfg" }).contents)
        let ansible = try GenerateTests.renderer().renderAnsible(inv)
        let keys = Self.tlsKeys(try GenerateTests.file(ansible, "roles/zk/templates/zoo.cfg.j2"))
        #expect(!localKeys.isEmpty)
        #expect(Set(keys.keys) == Set(localKeys.keys))
        for (key, value) in localKeys where !value.hasPrefix("/") && Int(value) == nil && value != "127.0.0.1" {
            #expect(keys[key] == value, "\(key)")
        }
        #expect(keys["ssl.keyStore.location"] == "{{ zk_node_tls_dir }}/keystore.pem")
        #expect(keys["ssl.quorum.trustStore.location"] == "{{ zk_node_tls_dir }}/ca.pem")
        #expect(keys["secureClientPort"] == "{{ zk_self.secure_client_port }}")
    }

    @Test func issuedFilesVerifyAgainstTheClusterCAWithKeysOwnerOnlyAndAreReused() async throws {
        let home = KubernetesTLSSecretTests.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = ClusterStore(home: home)
        var inv = try Self.tlsInventory()
        let (files, result) = try store.ansibleTLSFiles(inv)
        #expect(files.map(\.path) == AnsibleTLS.paths(inv))
        #expect(files.map(\.path) == ["files/tls/ca.pem", "files/tls/zk-a-cert.pem", "files/tls/zk-a-key.pem",
                                      "files/tls/zk-b-cert.pem", "files/tls/zk-b-key.pem", "files/tls/zk-c-cert.pem", "files/tls/zk-c-key.pem"])
        #expect(result.created.contains(store.layout("prod").tls.caCertificate))
        // The CA is the cluster's zkctl CA, the one `zkctl tls init` and --issue-tls-secret use.
        let caPEM = try GenerateTests.file(files, AnsibleTLS.caCertificate)
        #expect(caPEM == (try FileSystem.readString(store.layout("prod").tls.caCertificate)))
        let ca = try Certificate(pemEncoded: caPEM)
        for (index, node) in inv.nodes.enumerated() {
            let leaf = try Certificate(pemEncoded: try GenerateTests.file(files, AnsibleTLS.certificate(node.name)))
            let key = try Certificate.PrivateKey(pemEncoded: try GenerateTests.file(files, AnsibleTLS.key(node.name)))
            #expect(key.publicKey == leaf.publicKey)
            let eku = try #require(try leaf.extensions.extendedKeyUsage)
            #expect(eku.contains(.serverAuth) && eku.contains(.clientAuth))
            #expect(await TLSCertificateTests.verify(leaf, ca: ca, host: nil, ip: node.host), "\(node.host)")
            #expect(await TLSCertificateTests.verify(leaf, ca: ca, host: nil, ip: "127.0.0.1"))
            #expect(await TLSCertificateTests.verify(leaf, ca: ca, host: "localhost", ip: nil))
            let other = inv.nodes[(index + 1) % inv.nodes.count].host
            #expect(!(await TLSCertificateTests.verify(leaf, ca: ca, host: nil, ip: other)), "\(node.name) must not name \(other)")
        }

        let out = home + "/deploy"
        try RenderedFile.write(files, to: out)
        #expect(try Self.mode(out + "/files/tls/zk-a-key.pem") == 0o600)
        #expect(try Self.mode(out + "/files/tls/zk-a-cert.pem") != 0o600)
        #expect(files.filter(\.isPrivate).map(\.path) == inv.nodes.map { AnsibleTLS.key($0.name) })

        // A second run hands out the same files (so a second site.yml changes nothing), and so
        // does `zkctl tls init`; a host whose address changed gets a new certificate, the others not.
        let (again, second) = try store.ansibleTLSFiles(inv)
        #expect(again == files)
        #expect(second.created.isEmpty)
        #expect(try store.ensureTLSMaterial(inv).created.isEmpty)
        inv.nodes[1].host = "192.0.2.99"
        let (moved, third) = try store.ansibleTLSFiles(inv)
        #expect(third.created == [store.layout("prod").tls.nodeKeyStore(2)])
        for (a, b) in zip(moved, files) { #expect((a == b) == !a.path.hasPrefix("files/tls/zk-b-"), "\(a.path)") }
        let movedLeaf = try Certificate(pemEncoded: try GenerateTests.file(moved, AnsibleTLS.certificate("zk-b")))
        #expect(await TLSCertificateTests.verify(movedLeaf, ca: ca, host: nil, ip: "192.0.2.99"))
    }
}
