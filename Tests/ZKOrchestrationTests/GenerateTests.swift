import Foundation
import Testing
import Yams
@testable import ZKOrchestration

@Suite struct GenerateTests {
    static let shipped = ["local", "local-5-observer", "production-3"]

    static func renderer() -> Renderer { Renderer(source: DirectoryTemplateSource(directory: Paths.templates)) }

    static func load(_ name: String) throws -> Inventory {
        try InventoryLoader.load(path: "\(Paths.inventories)/\(name).yaml")
    }

    /// Parsed Kubernetes objects keyed by kind.
    static func objects(_ files: [RenderedFile]) throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for f in files where f.path != "kustomization.yaml" && f.path.hasSuffix(".yaml") {
            let doc = try mapping(f.contents)
            let kind = try #require(doc["kind"] as? String)
            #expect(out[kind] == nil || kind == "ConfigMap" || kind == "Service", "two \(kind) objects")
            out[kind + (kind == "ConfigMap" || kind == "Service" ? ":" + ((doc["metadata"] as? [String: Any])?["name"] as? String ?? "") : "")] = doc
        }
        return out
    }

    static func mapping(_ text: String) throws -> [String: Any] {
        guard let m = try Yams.load(yaml: text) as? [String: Any] else { throw ZKCtlError("not a YAML mapping") }
        return m
    }

    static func file(_ files: [RenderedFile], _ path: String) throws -> String {
        guard let f = files.first(where: { $0.path == path }) else { throw ZKCtlError("no \(path)") }
        return f.contents
    }

    static func dig(_ v: Any?, _ path: String...) -> Any? {
        var cur = v
        for key in path {
            if let i = Int(key), let a = cur as? [Any] { cur = i < a.count ? a[i] : nil } else { cur = (cur as? [String: Any])?[key] }
        }
        return cur
    }

    static func labels(_ v: Any?) -> [String: String] {
        ((v as? [String: Any]) ?? [:]).compactMapValues { $0 as? String }
    }

    @Test(arguments: shipped)
    func kubernetesMatchesGolden(_ name: String) throws {
        let files = try Self.renderer().renderKubernetes(try Self.load(name), options: .init(serviceMonitor: true))
        for f in files { assertGolden(f.contents, "generated/kubernetes/\(name)/\(f.path)") }
    }

    /// --kube-version below 1.27 leaves out the two fields older API servers reject or drop, and says so.
    @Test func olderKubernetesGetsNoFieldItDoesNotKnow() throws {
        let inv = try Self.load("production-3")
        var old = KubernetesOptions()
        old.kubeMinor = 24
        let files = try Self.renderer().renderKubernetes(inv, options: old)
        #expect(try !Self.file(files, "poddisruptionbudget.yaml").contains("unhealthyPodEvictionPolicy"))
        #expect(try !Self.file(files, "statefulset.yaml").contains("persistentVolumeClaimRetentionPolicy"))
        #expect(KubernetesModel.derive(inv, options: old).omittedFields.count == 2)
        let current = try Self.renderer().renderKubernetes(inv)
        #expect(try Self.file(current, "poddisruptionbudget.yaml").contains("unhealthyPodEvictionPolicy: AlwaysAllow"))
        #expect(try Self.file(current, "statefulset.yaml").contains("persistentVolumeClaimRetentionPolicy"))
        #expect(KubernetesModel.derive(inv).omittedFields.isEmpty)
        #expect(KubernetesOptions.kubeMinor("1.24") == 24 && KubernetesOptions.kubeMinor("v1.27.3") == 27)
        #expect(KubernetesOptions.kubeMinor("2.1") == nil && KubernetesOptions.kubeMinor("1.x") == nil && KubernetesOptions.kubeMinor("1") == nil)
    }

    /// The alert rules and the dashboard: the same rules in the Ansible rules file and the
    /// PrometheusRule, every expression reading Apache's metric names, the dashboard valid JSON.
    @Test func monitoringRulesAndDashboard() throws {
        let ansible = try Self.renderer().renderAnsible(try Self.load("production-3"))
        let rules = try Self.mapping(try Self.file(ansible, "monitoring/zookeeper-rules.yml"))
        let group = try #require((rules["groups"] as? [[String: Any]])?.first)
        let alerts = try #require(group["rules"] as? [[String: Any]])
        #expect(alerts.count == MonitoringModel.derive(cluster: "prod").alerts.count)
        #expect(alerts.first?["expr"] as? String == "up == 0")
        #expect(alerts.contains { $0["expr"] as? String == #"jvm_memory_bytes_used / jvm_memory_bytes_max{area="heap"} > 0.8"# })
        let k8s = try Self.renderer().renderKubernetes(try Self.load("production-3"), options: .init(serviceMonitor: true))
        let objects = try Self.objects(k8s)
        let spec = try #require(objects["PrometheusRule"]?["spec"] as? [String: Any])
        let k8sAlerts = try #require(((spec["groups"] as? [[String: Any]])?.first)?["rules"] as? [[String: Any]])
        #expect(k8sAlerts.map { $0["expr"] as? String } == alerts.map { $0["expr"] as? String })
        let dashboard = try Self.file(k8s, "grafana-dashboard.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(dashboard.utf8)) as? [String: Any])
        #expect((json["panels"] as? [Any])?.count == MonitoringModel.derive(cluster: "prod").panels.count)
        #expect(dashboard == (try Self.file(ansible, "monitoring/grafana-dashboard.json")))
    }

    /// The superuser Secret carries the password and its digest, and is private.
    @Test func superuserSecretHoldsThePasswordAndItsDigest() throws {
        let files = try Self.renderer().renderKubernetes(try Self.load("production-3"), superuserPassword: "pw")
        let secret = try #require(files.first { $0.path == KubernetesModel.superuserSecretFile })
        #expect(secret.isPrivate)
        let data = try #require(Self.dig(try Self.mapping(secret.contents), "data") as? [String: String])
        #expect(data["password"].flatMap { Data(base64Encoded: $0) } == Data("pw".utf8))
        #expect(data["digest"].flatMap { Data(base64Encoded: $0) } == Data(Superuser.digest(password: "pw").utf8))
        #expect(try Self.file(files, "kustomization.yaml").contains("  - superuser-secret.yaml\n"))
    }

    /// zk_tls: true renders the TLS keys, the Secret volume and the TLS client port.
    @Test func kubernetesWithTLSMatchesGolden() throws {
        var inv = try Self.load("production-3")
        inv.cluster.tls = true
        let files = try Self.renderer().renderKubernetes(inv, options: .init(serviceMonitor: true))
        for f in files { assertGolden(f.contents, "generated/kubernetes/production-3-tls/\(f.path)") }
        let objects = try Self.objects(files)
        let sts = try #require(objects["StatefulSet"])
        let volumes = try #require(Self.dig(sts, "spec", "template", "spec", "volumes") as? [[String: Any]])
        let secret = try #require(volumes.first { $0["name"] as? String == "tls" })
        #expect(Self.dig(secret, "secret", "secretName") as? String == "prod-zk-tls")
        let cfg = try #require(Self.dig(objects["ConfigMap:prod-zk-config"], "data", "zoo.cfg") as? String)
        for line in ["secureClientPort=2281", "sslQuorum=true", "ssl.keyStore.location=/conf/tls/keystore.pem",
                     "ssl.trustStore.location=/tls/ca.crt", "ssl.quorum.trustStore.location=/tls/ca.crt"] {
            #expect(cfg.contains(line + "\n"), "\(line)")
        }
        let ports = try #require(Self.dig(objects["Service:prod-zk-client"], "spec", "ports") as? [[String: Any]])
        #expect(ports.contains { $0["name"] as? String == "tcp-client-tls" && $0["port"] as? Int == 2281 })
    }

    @Test(arguments: ["local", "production-3"])
    func ansibleMatchesGolden(_ name: String) throws {
        let files = try Self.renderer().renderAnsible(try Self.load(name))
        for f in files { assertGolden(f.contents, "generated/ansible/\(name)/\(f.path)") }
    }

    @Test(arguments: shipped)
    func kubernetesStructure(_ name: String) throws {
        let inv = try Self.load(name)
        let files = try Self.renderer().renderKubernetes(inv, options: .init(serviceMonitor: true))
        let objects = try Self.objects(files)
        let kinds = Set(objects.keys.map { String($0.split(separator: ":")[0]) })
        // Both engines serve /metrics under Apache's names: a ServiceMonitor and the alert rules for each.
        let expected: Set<String> = ["ServiceAccount", "ConfigMap", "Service", "PodDisruptionBudget", "StatefulSet", "NetworkPolicy",
                                     "ServiceMonitor", "PrometheusRule"]
        #expect(kinds == expected)

        let sts = try #require(objects["StatefulSet"])
        #expect(Self.dig(sts, "spec", "replicas") as? Int == inv.nodes.count)
        #expect(Self.dig(sts, "spec", "podManagementPolicy") as? String == "Parallel")
        let selector = Self.labels(Self.dig(sts, "spec", "selector", "matchLabels"))
        let podLabels = Self.labels(Self.dig(sts, "spec", "template", "metadata", "labels"))
        #expect(!selector.isEmpty)
        #expect(selector.allSatisfy { podLabels[$0.key] == $0.value }, "the StatefulSet selector must match its pod labels")
        #expect(podLabels["app.kubernetes.io/instance"] == inv.cluster.name)
        // Every other selector is the same label set, so it selects exactly these pods.
        let affinity = Self.labels(Self.dig(sts, "spec", "template", "spec", "affinity", "podAntiAffinity",
                                            "requiredDuringSchedulingIgnoredDuringExecution", "0", "labelSelector", "matchLabels"))
        #expect(affinity == selector)
        let spread = Self.labels(Self.dig(sts, "spec", "template", "spec", "topologySpreadConstraints", "0", "labelSelector", "matchLabels"))
        #expect(spread == selector)
        #expect(Self.labels(Self.dig(objects["PodDisruptionBudget"], "spec", "selector", "matchLabels")) == selector)
        #expect(Self.labels(Self.dig(objects["NetworkPolicy"], "spec", "podSelector", "matchLabels")) == selector)
        let name = KubernetesModel.objectName(inv.cluster.name)
        let headless = try #require(objects["Service:\(name)-hs"])
        #expect(Self.labels(Self.dig(headless, "spec", "selector")) == selector)
        #expect(Self.dig(headless, "spec", "publishNotReadyAddresses") as? Bool == true)
        #expect(Self.dig(headless, "spec", "clusterIP") as? String == "None")
        #expect(Self.dig(sts, "spec", "serviceName") as? String == "\(name)-hs")
        let client = try #require(objects["Service:\(name)-client"])
        #expect(Self.labels(Self.dig(client, "spec", "selector")) == selector)

        // Volumes: every claim template is mounted, every mounted ConfigMap exists.
        let claims = (Self.dig(sts, "spec", "volumeClaimTemplates") as? [Any] ?? []).compactMap { Self.dig($0, "metadata", "name") as? String }
        let separate = inv.cluster.dataLogDir != inv.cluster.dataDir
        #expect(claims == (separate ? ["data", "datalog"] : ["data"]))
        let mounts = (Self.dig(sts, "spec", "template", "spec", "containers", "0", "volumeMounts") as? [Any] ?? []).compactMap { Self.dig($0, "name") as? String }
        for c in claims { #expect(mounts.contains(c)) }
        let volumes = Self.dig(sts, "spec", "template", "spec", "volumes") as? [Any] ?? []
        for v in volumes {
            if let cm = Self.dig(v, "configMap", "name") as? String { #expect(objects["ConfigMap:\(cm)"] != nil, "missing ConfigMap \(cm)") }
        }
        // Security context and probes.
        #expect(Self.dig(sts, "spec", "template", "spec", "securityContext", "runAsNonRoot") as? Bool == true)
        let container = Self.dig(sts, "spec", "template", "spec", "containers", "0")
        #expect(Self.dig(container, "securityContext", "readOnlyRootFilesystem") as? Bool == true)
        #expect(Self.dig(container, "readinessProbe") != nil && Self.dig(container, "livenessProbe") != nil && Self.dig(container, "startupProbe") != nil)
        #expect(Self.dig(sts, "spec", "persistentVolumeClaimRetentionPolicy", "whenScaled") as? String == "Retain")

        // The members list maps each ordinal to the inventory's id; server lines use the same ids.
        let config = try #require(objects["ConfigMap:\(name)-config"])
        let members = (Self.dig(config, "data", "members") as? String ?? "").split(separator: "\n").map { $0.split(separator: " ") }
        #expect(members.count == inv.nodes.count)
        for (ordinal, node) in inv.nodes.enumerated() {
            #expect(members[ordinal] == ["\(ordinal)", "\(node.id)", Substring(node.role.rawValue)])
        }
        if !inv.isStandalone {
            let dynamic = (Self.dig(config, "data", "zoo.cfg.dynamic") as? String ?? "").split(separator: "\n")
            #expect(dynamic.count == inv.nodes.count)
            #expect(dynamic.first?.hasPrefix("server.\(inv.nodes[0].id)=\(name)-0.\(name)-hs:") == true)
        }
        // Kustomization lists exactly the other files.
        let kustomization = try Self.mapping(try Self.file(files, "kustomization.yaml"))
        #expect((kustomization["resources"] as? [String]) == files.filter { $0.path.hasSuffix(".yaml") && $0.path != "kustomization.yaml" }.map(\.path))
    }

    @Test func standaloneAndOptions() throws {
        let inv = Inventory.local(engine: .bundled, count: 1)
        let files = try Self.renderer().renderKubernetes(inv, options: .init(namespace: "zk", hardAntiAffinity: false, networkPolicy: false))
        let objects = try Self.objects(files)
        #expect(objects["NetworkPolicy"] == nil)
        #expect(objects["ServiceMonitor"] == nil)
        let sts = try #require(objects["StatefulSet"])
        #expect(Self.dig(sts, "spec", "template", "spec", "containers", "0", "image") as? String == KubernetesOptions.bundledImage)
        #expect(Self.dig(sts, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution") != nil)
        #expect(Self.dig(objects["PodDisruptionBudget"], "spec", "maxUnavailable") as? Int == 0)
        let cfg = Self.dig(objects["ConfigMap:local-zk-config"], "data", "zoo.cfg") as? String ?? ""
        #expect(cfg.contains("clientPort=2181\n"))
        #expect(!cfg.contains("dynamicConfigFile"))
        #expect(try Self.file(files, "kustomization.yaml").contains("namespace: zk\n"))
    }

    @Test func ansibleMembersAndYAML() throws {
        let inv = try Self.load("local-5-observer")
        let files = try Self.renderer().renderAnsible(inv)
        #expect(files.map(\.path) == AnsibleModel.files + MonitoringModel.files.map(\.path))
        for f in files where f.path.hasSuffix(".yml") {
            _ = try Yams.load_all(yaml: f.contents).map { $0 }
        }
        let vars = try Self.mapping(try Self.file(files, "roles/zk/vars/main.yml"))
        let members = try #require(vars["zk_members"] as? [[String: Any]])
        #expect(members.map { $0["id"] as? Int } == [1, 2, 3, 4, 5])
        #expect(members[3]["role"] as? String == "observer")
        #expect(members[1]["client_address"] as? String == "127.0.0.1:2282")
        #expect(members[4]["server_line"] as? String == "server.5=127.0.0.1:2992:3992:observer;127.0.0.1:2285")
        let defaults = try Self.mapping(try Self.file(files, "roles/zk/defaults/main.yml"))
        #expect(defaults["zk_instance_dirs"] as? Bool == true)
        #expect(defaults["zk_engine"] as? String == "apache")
        let prod = try Self.renderer().renderAnsible(try Self.load("production-3"))
        let prodDefaults = try Self.mapping(try Self.file(prod, "roles/zk/defaults/main.yml"))
        #expect(prodDefaults["zk_instance_dirs"] as? Bool == false)
        #expect(prodDefaults["zk_datalog_dir"] as? String == "/var/lib/zookeeper-txlog")
        // Jinja survives the Mustache pass untouched.
        let zooCfg = try Self.file(prod, "roles/zk/templates/zoo.cfg.j2")
        #expect(zooCfg.contains("tickTime={{ zk_tick_time }}\n"))
    }
}

@Suite struct KubernetesRolloutTests {
    static func model(_ name: String = "production-3") throws -> KubernetesModel {
        KubernetesModel.derive(try InventoryLoader.load(path: "\(Paths.inventories)/\(name).yaml"))
    }

    /// production-3 grown to five voters, for the bundled engine.
    static func fiveVoters() throws -> KubernetesModel {
        let inv = RollingPlanner.resize(try InventoryLoader.load(path: "\(Paths.inventories)/production-3.yaml"), voters: 5)
        return KubernetesModel.derive(inv, options: .init(engine: .bundled))
    }

    static func deletedPods(_ steps: [KubernetesRollout.Step]) -> [String] {
        steps.compactMap { step -> String? in
            if case .run(.deletePod(let pod)) = step.kind { return pod }
            return nil
        }
    }

    static func replicas(_ steps: [KubernetesRollout.Step]) -> [Int] {
        steps.compactMap { step -> Int? in
            if case .run(.scale(_, let n)) = step.kind { return n }
            return nil
        }
    }

    @Test func restartIsDownFirstFollowersThenLeaderLast() throws {
        let m = try Self.model()
        let modes = ["prod-zk-0": "follower", "prod-zk-1": "leader", "prod-zk-2": "follower"]
        #expect(KubernetesRollout.restartOrder(m, modes: modes) == ["prod-zk-2", "prod-zk-0", "prod-zk-1"])
        let broken = ["prod-zk-0": "leader", "prod-zk-1": "down", "prod-zk-2": "follower"]
        #expect(KubernetesRollout.restartOrder(m, modes: broken) == ["prod-zk-1", "prod-zk-2", "prod-zk-0"])
        let steps = KubernetesRollout.plan(m, operation: .restart, modes: modes)
        #expect(Self.deletedPods(steps) == ["prod-zk-2", "prod-zk-0", "prod-zk-1"])
        // Every replacement is followed by a gate on that pod over the whole ensemble.
        for (i, step) in steps.enumerated() {
            if case .run(let action) = step.kind, case .deletePod(let pod) = action {
                #expect(steps[i + 1].kind == .gate(pod: pod, pods: ["prod-zk-0", "prod-zk-1", "prod-zk-2"]))
                #expect(KubectlCluster.command(action, target: .init(namespace: "zk"))
                        == ["kubectl", "-n", "zk", "delete", "pod", pod, "--wait=true", "--timeout=120s"])
            }
        }
    }

    @Test func upgradeGatesOnHealthThenSetsTheImageBeforeAnyPodGoes() throws {
        let m = try Self.model()
        let all = ["prod-zk-0", "prod-zk-1", "prod-zk-2"]
        let steps = KubernetesRollout.plan(m, operation: .upgrade(image: "zookeeper:3.9.4"),
                                           modes: ["prod-zk-0": "leader", "prod-zk-1": "follower", "prod-zk-2": "follower"])
        #expect(steps[0].kind == .gate(pod: nil, pods: all))
        guard case .run(let second) = steps[1].kind else { Issue.record("the second step changes nothing"); return }
        #expect(KubectlCluster.command(second, target: .init())
                == ["kubectl", "set", "image", "statefulset/prod-zk", "zookeeper=zookeeper:3.9.4", "bootstrap=zookeeper:3.9.4"])
        #expect(Self.deletedPods(steps).last == "prod-zk-0")
    }

    /// What a scale step may change in the cluster: the members ConfigMap, the replica count, claims.
    static func changes(_ steps: [KubernetesRollout.Step]) -> [String] {
        steps.compactMap { step -> String? in
            switch step.kind {
            case .run(.publishMembers(_, let pods)): return "members \(pods)"
            case .run(.scale(_, let n)): return "replicas \(n)"
            case .run(.deleteClaims(let claims)): return "delete " + claims.joined(separator: " ")
            case .run(let other): return "\(other)"
            case .reconfig(.add(let ordinal, let observer)): return "add \(ordinal)\(observer ? " as observer" : "")"
            case .reconfig(.remove(let pod)): return "remove \(pod)"
            default: return nil
            }
        }
    }

    @Test func scaleOutAddsOneServerPerStepAsAnObserverFirst() throws {
        let m = try Self.fiveVoters()
        let steps = KubernetesRollout.plan(m, operation: .scale(from: 3), modes: [:])
        // Nothing but the members list and the replica count changes: no apply of the whole manifests.
        #expect(Self.changes(steps) == ["members 4", "replicas 4", "add 3 as observer", "add 3",
                                        "members 5", "replicas 5", "add 4 as observer", "add 4"])
        #expect(steps[0].kind == .gate(pod: nil, pods: ["prod-zk-0", "prod-zk-1", "prod-zk-2"]))
        // The new pod is admitted before anything waits for its Readiness, which needs membership.
        let admitted = try #require(steps.firstIndex { $0.kind == .reconfig(.add(ordinal: 3, asObserver: true)) })
        let ready = try #require(steps.firstIndex { $0.kind == .gate(pod: "prod-zk-3", pods: (0...3).map { "prod-zk-\($0)" }) })
        #expect(steps.firstIndex { $0.kind == .started(pod: "prod-zk-3") }! < admitted)
        #expect(admitted < ready)
        #expect(m.members[3].observerLine == m.members[3].serverLine.replacingOccurrences(of: ":participant;", with: ":observer;"))
        #expect(KubernetesRollout.plan(m, operation: .scale(from: 5), modes: [:]).count == 1)
        // Observers of the inventory join as observers and are not promoted.
        let observers = KubernetesRollout.plan(try Self.model("local-5-observer"), operation: .scale(from: 3), modes: [:])
        #expect(Self.changes(observers) == ["members 4", "replicas 4", "add 3 as observer", "members 5", "replicas 5", "add 4 as observer"])
    }

    @Test func scaleInRemovesByReconfigThenThePodThenItsClaims() throws {
        let m = try Self.fiveVoters().withMembers(3)
        let steps = KubernetesRollout.plan(m, operation: .scale(from: 5), modes: [:])
        #expect(Self.changes(steps) == ["remove prod-zk-4", "replicas 4", "delete data-prod-zk-4 datalog-prod-zk-4",
                                        "remove prod-zk-3", "replicas 3", "members 3", "delete data-prod-zk-3 datalog-prod-zk-3"])
        #expect(steps[0].kind == .gate(pod: nil, pods: (0..<5).map { "prod-zk-\($0)" }))
        // A leader leaving hands over first (bundled engine), a write commits before the pod stops.
        let removal = try #require(steps.firstIndex { $0.kind == .reconfig(.remove(pod: "prod-zk-4")) })
        #expect(steps[removal - 1].kind == .handOver(pod: "prod-zk-4"))
        #expect(steps[removal + 1].kind == .committed)
        let kept = KubernetesRollout.plan(m, operation: .scale(from: 5), modes: [:], keepVolumes: true)
        #expect(!Self.changes(kept).contains { $0.hasPrefix("delete") })
    }

    @Test func podListingAndQuoting() {
        #expect(KubectlCluster.parsePods("prod-zk-0\tRunning\tTrue\nprod-zk-1\tPending\t\nprod-zk-2\tRunning\tFalse\n") == [
            PodInfo(name: "prod-zk-0", phase: "Running", ready: true),
            PodInfo(name: "prod-zk-1", phase: "Pending", ready: false),
            PodInfo(name: "prod-zk-2", phase: "Running", ready: false),
        ])
        #expect(KubernetesRollout.shellQuote(["kubectl", "exec", "a b", "it's"]) == "kubectl exec 'a b' 'it'\\''s'")
    }

    @Test func dryRunPrintsCopyableCommands() throws {
        let m = try Self.model()
        let text = KubernetesRollout.render(KubernetesRollout.plan(m, operation: .restart, modes: [:]),
                                            model: m, target: .init(namespace: "zk"))
        #expect(text.contains("   kubectl -n zk delete pod prod-zk-2 --wait=true --timeout=120s\n"))
        #expect(text.contains("   kubectl -n zk wait --for=condition=Ready pod/prod-zk-2 --timeout=300s\n"))
        #expect(text.contains("do kubectl -n zk exec \"$p\" -c zookeeper -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && timeout 4 cat <&3' | grep Mode; done"))
    }
}
