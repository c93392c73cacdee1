/// Choices for `zkctl generate kubernetes` that are not part of the inventory (they describe the
/// Kubernetes cluster, not the ensemble).
public struct KubernetesOptions: Equatable, Sendable {
    /// Namespace written into kustomization.yaml (nil: the namespace kubectl uses).
    public var namespace: String?
    /// Image of the server container; nil picks `zookeeper:<zk_version>` or the bundled image.
    public var image: String?
    /// Engine override; nil uses the inventory's `zk_engine`.
    public var engine: Engine?
    public var storageClass: String?
    public var dataSize: String
    public var dataLogSize: String
    /// Required (hard) pod anti-affinity on the node; soft lets a small test cluster schedule.
    public var hardAntiAffinity: Bool
    public var networkPolicy: Bool
    public var serviceMonitor: Bool
    public var cpuRequest: String
    /// The Kubernetes cluster domain, used in the server addresses.
    public var clusterDomain: String?
    /// The minor version of the Kubernetes the manifests are for (1.<minor>): fields it does not know
    /// are left out (`KubernetesModel.omittedFields` says which).
    public var kubeMinor: Int = KubernetesOptions.currentKubeMinor

    public init(namespace: String? = nil, image: String? = nil, engine: Engine? = nil, storageClass: String? = nil,
                dataSize: String = "10Gi", dataLogSize: String = "10Gi", hardAntiAffinity: Bool = true,
                networkPolicy: Bool = true, serviceMonitor: Bool = false, cpuRequest: String = "500m",
                clusterDomain: String? = nil) {
        self.namespace = namespace
        self.image = image
        self.engine = engine
        self.storageClass = storageClass
        self.dataSize = dataSize
        self.dataLogSize = dataLogSize
        self.hardAntiAffinity = hardAntiAffinity
        self.networkPolicy = networkPolicy
        self.serviceMonitor = serviceMonitor
        self.cpuRequest = cpuRequest
        self.clusterDomain = clusterDomain
    }

    /// The image `docker build -t ... .` produces from the repository's Dockerfile.
    public static let bundledImage = "zkctl/zkserver:0.1.0"
    /// The Kubernetes release manifests are generated for unless told otherwise (1.34).
    public static let currentKubeMinor = 34
    /// The oldest release the manifests are made for: StatefulSet minReadySeconds and
    /// fsGroupChangePolicy are on by default from 1.23.
    public static let oldestKubeMinor = 23

    /// "1.24", "v1.24" or "1.24.3" -> 24; nil when it is not a Kubernetes 1.x version.
    public static func kubeMinor(_ text: String) -> Int? {
        let parts = (text.hasPrefix("v") ? String(text.dropFirst()) : text).split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), parts[0] == "1", let minor = Int(parts[1]), parts.allSatisfy({ Int($0) != nil }) else { return nil }
        return minor
    }
    public static let defaultApacheVersion = "3.9"
}

/// Everything the Kubernetes templates need, computed here so the templates hold no logic.
public struct KubernetesModel: Sendable {
    public struct Label: Equatable, Sendable {
        public var key: String
        public var value: String
    }

    /// One StatefulSet ordinal and the inventory server it becomes.
    public struct Member: Equatable, Sendable {
        public var ordinal: Int
        public var id: Int
        public var role: String
        public var podName: String
        public var serverLine: String

        /// The server line with the observer role (how a new voter joins before its promotion).
        public var observerLine: String {
            serverLine.replacingOccurrences(of: ":\(role);", with: ":observer;")
        }
    }

    /// The PersistentVolumeClaims of a pod (`<template>-<pod>`).
    public func claims(of pod: String) -> [String] {
        (["data"] + (separateDataLog ? ["datalog"] : [])).map { "\($0)-\(pod)" }
    }

    /// The model with the members of the first `count` ordinals only (what a scale step publishes).
    public func withMembers(_ count: Int) -> KubernetesModel {
        var m = self
        m.members = Array(members.prefix(count))
        m.replicas = m.members.count
        return m
    }

    public struct FileEntry: Equatable, Sendable {
        public var file: String
    }

    public var name: String
    public var clusterName: String
    public var headlessService: String
    public var clientService: String
    public var configMap: String
    public var scriptsConfigMap: String
    public var serviceAccount: String
    public var namespace: String
    public var hasNamespace: Bool
    public var labels: [Label]
    public var selectorLabels: [Label]
    public var engine: String
    public var isApache: Bool
    public var isBundled: Bool
    public var image: String
    public var version: String
    public var replicas: Int
    public var members: [Member]
    public var standalone: Bool
    public var ensemble: Bool
    public var clientPort: Int
    public var quorumPort: Int
    public var electionPort: Int
    public var adminPort: Int
    public var metricsPort: Int
    public var hasMetrics: Bool
    public var tickTime: Int
    public var initLimit: Int
    public var syncLimit: Int
    public var maxClientCnxns: Int
    public var autopurgeSnapRetainCount: Int
    public var autopurgePurgeInterval: Int
    public var fourLetterWordWhitelist: String
    public var separateDataLog: Bool
    public var dataLogDir: String
    public var storageClass: String
    public var hasStorageClass: Bool
    public var dataSize: String
    public var dataLogSize: String
    public var javaHeapMB: Int
    public var memory: String
    public var cpuRequest: String
    public var hardAntiAffinity: Bool
    public var softAntiAffinity: Bool
    public var networkPolicy: Bool
    public var serviceMonitor: Bool
    public var maxUnavailable: Int
    public var uid: Int
    /// Seconds a pod gets to stop: the server flushes its log on SIGTERM.
    public var terminationGracePeriodSeconds: Int
    /// Startup may replay a large snapshot: probe for this many seconds before liveness applies.
    public var startupFailureThreshold: Int
    public var resources: [FileEntry]
    public var command: String
    public var jvmFlags: String
    /// `zk_tls`: a TLS client port and quorum TLS, with certificates from the Secret `tlsSecret`
    /// (keys ca.crt, tls.crt, tls.key: the layout cert-manager writes).
    /// The alert rules (prometheusrule.yaml, with --service-monitor) and the Grafana dashboard.
    public var monitoring: MonitoringModel
    /// Fields left in or out for `KubernetesOptions.kubeMinor`.
    public var pdbUnhealthyPodEvictionPolicy = true
    public var pvcRetentionPolicy = true
    /// What was left out for an older Kubernetes, and what that means, one line each.
    public var omittedFields: [String] = []
    public var tls = false
    public var tlsSecret = ""
    public var secureClientPort = 0
    /// `--issue-tls-secret`: the data of the Secret `tlsSecret`, rendered as tls-secret.yaml (empty: not rendered).
    public var tlsSecretData: [SecretEntry] = []
    /// The Secret with the cluster's superuser (keys `password` and `digest`). The pods mount it
    /// (optional) and put the digest into zoo.cfg; `zkctl k8s scale` reads the password.
    public var superuserSecret = ""
    /// Its data, rendered as superuser-secret.yaml (empty: not rendered).
    public var superuserSecretData: [SecretEntry] = []

    /// Kubernetes object names: DNS-1123 labels.
    public static func objectName(_ cluster: String) -> String {
        var s = String(cluster.lowercased().map { $0 == "_" ? "-" : $0 })
        while s.hasSuffix("-") { s.removeLast() }
        return s + "-zk"
    }

    public static func derive(_ inventory: Inventory, options: KubernetesOptions = .init()) -> KubernetesModel {
        let c = inventory.cluster
        let engine = options.engine ?? c.engine
        let name = objectName(c.name)
        let headless = name + "-hs"
        let isApache = engine == .apache
        let version = isApache ? (c.version ?? KubernetesOptions.defaultApacheVersion) : "0.1.0"
        let image = options.image ?? (isApache ? "zookeeper:\(version)" : KubernetesOptions.bundledImage)
        // A cluster domain makes the names fully qualified, which needs the namespace (the CLI refuses
        // --cluster-domain without --namespace; "default" stands in for library callers that omit it).
        let domain = options.clusterDomain.map { ".\(options.namespace ?? "default").svc.\($0)" } ?? ""
        let standalone = inventory.isStandalone
        let members = inventory.nodes.enumerated().map { ordinal, node -> Member in
            let pod = "\(name)-\(ordinal)"
            // Peers are reached through the headless Service; the pod's own entry binds all addresses
            // (quorumListenOnAllIPs) so the name resolving to the pod IP is enough.
            let host = "\(pod).\(headless)\(domain)"
            let line = "server.\(node.id)=\(host):\(c.quorumPort):\(c.electionPort):\(node.role.rawValue);0.0.0.0:\(c.clientPort)"
            return Member(ordinal: ordinal, id: node.id, role: node.role.rawValue, podName: pod, serverLine: line)
        }
        let selector = [
            Label(key: "app.kubernetes.io/name", value: "zookeeper"),
            Label(key: "app.kubernetes.io/instance", value: c.name),
            Label(key: "app.kubernetes.io/component", value: "server"),
        ]
        let labels = selector + [
            Label(key: "app.kubernetes.io/part-of", value: c.name),
            Label(key: "app.kubernetes.io/version", value: version),
            Label(key: "app.kubernetes.io/managed-by", value: "zkctl"),
        ]
        // Whatever the inventory allows, the probes need ruok and srvr.
        var whitelist = c.fourLetterWordWhitelist
        if !whitelist.contains("*") {
            for w in ["ruok", "srvr", "mntr"] where !whitelist.contains(w) { whitelist.append(w) }
        }
        let separate = c.dataLogDir != c.dataDir
        let heap = c.javaHeapMB
        let memoryMB = isApache ? heap + max(256, heap / 2) : 512
        let serviceMonitor = options.serviceMonitor
        var resources = ["serviceaccount.yaml", "configmap.yaml", "scripts-configmap.yaml",
                         "service-headless.yaml", "service-client.yaml", "poddisruptionbudget.yaml",
                         "statefulset.yaml"]
        if options.networkPolicy { resources.append("networkpolicy.yaml") }
        if serviceMonitor { resources += ["servicemonitor.yaml", "prometheusrule.yaml"] }
        let voters = inventory.voters.count
        var model = KubernetesModel(
            name: name, clusterName: c.name, headlessService: headless, clientService: name + "-client",
            configMap: name + "-config", scriptsConfigMap: name + "-scripts", serviceAccount: name,
            namespace: options.namespace ?? "", hasNamespace: options.namespace != nil,
            labels: labels, selectorLabels: selector,
            engine: engine.rawValue, isApache: isApache, isBundled: !isApache, image: image, version: version,
            replicas: inventory.nodes.count, members: members, standalone: standalone, ensemble: !standalone,
            clientPort: c.clientPort, quorumPort: c.quorumPort, electionPort: c.electionPort,
            adminPort: 8080, metricsPort: 7000, hasMetrics: true,
            tickTime: c.tickTimeMs, initLimit: c.initLimitTicks, syncLimit: c.syncLimitTicks,
            maxClientCnxns: c.maxClientConnections, autopurgeSnapRetainCount: c.autopurgeSnapRetainCount,
            // Pods never get a human to clean their disks: purge hourly unless the inventory says otherwise.
            autopurgePurgeInterval: c.autopurgePurgeIntervalHours == 0 ? 1 : c.autopurgePurgeIntervalHours,
            fourLetterWordWhitelist: whitelist.joined(separator: ","),
            separateDataLog: separate, dataLogDir: separate ? "/datalog" : "/data",
            storageClass: options.storageClass ?? "", hasStorageClass: options.storageClass != nil,
            dataSize: options.dataSize, dataLogSize: options.dataLogSize,
            javaHeapMB: heap, memory: "\(memoryMB)Mi", cpuRequest: options.cpuRequest,
            hardAntiAffinity: options.hardAntiAffinity, softAntiAffinity: !options.hardAntiAffinity,
            networkPolicy: options.networkPolicy, serviceMonitor: serviceMonitor,
            // A voluntary disruption may take one server at a time; a single server may not be evicted.
            maxUnavailable: voters >= 3 ? 1 : 0,
            uid: 1000, terminationGracePeriodSeconds: 60, startupFailureThreshold: 60,
            resources: resources.map { FileEntry(file: $0) },
            command: isApache ? "zkServer.sh" : "zkserver",
            jvmFlags: "-Xms\(heap)m -Xmx\(heap)m -XX:+ExitOnOutOfMemoryError -Dzookeeper.electionPortBindRetry=0",
            monitoring: MonitoringModel.derive(cluster: c.name))
        model.superuserSecret = name + "-superuser"
        // Both are beta and on by default from 1.27; an older API server rejects (1.25 and before) or
        // drops (1.26) them.
        if options.kubeMinor < 27 {
            model.pdbUnhealthyPodEvictionPolicy = false
            model.pvcRetentionPolicy = false
            model.omittedFields = [
                "PodDisruptionBudget.spec.unhealthyPodEvictionPolicy (1.27+): a drain may wait for an unhealthy server's pod instead of evicting it",
                "StatefulSet.spec.persistentVolumeClaimRetentionPolicy (1.27+): claims are kept when pods go, the default; `zkctl k8s scale` deletes those of removed servers unless --keep-volumes",
            ]
        }
        if c.tls {
            model.tls = true
            model.tlsSecret = c.tlsSecret ?? name + "-tls"
            model.secureClientPort = c.secureClientPort
        }
        return model
    }

    /// Output files and the templates they come from, in kustomization order.
    public var files: [(path: String, template: String)] {
        resources.map { ($0.file, "kubernetes/" + $0.file) } + [("kustomization.yaml", "kubernetes/kustomization.yaml"),
                                                               ("grafana-dashboard.json", "monitoring/grafana-dashboard.json")]
    }
}

extension Renderer {
    /// Every Kubernetes manifest of an inventory, in apply order; with `tlsSecretData`, the TLS Secret too.
    public func renderKubernetes(_ inventory: Inventory, options: KubernetesOptions = .init(),
                                 tlsSecretData: [KubernetesModel.SecretEntry] = [],
                                 superuserPassword: String? = nil) throws -> [RenderedFile] {
        var model = KubernetesModel.derive(inventory, options: options)
        if model.tls && !tlsSecretData.isEmpty { model.addTLSSecret(tlsSecretData) }
        if let superuserPassword { model.addSuperuserSecret(password: superuserPassword) }
        return try model.files.map { file in
            RenderedFile(path: file.path, template: file.template,
                         contents: file.template.hasPrefix("monitoring/") ? try render(template: file.template, model: model.monitoring)
                                                                          : try render(template: file.template, model: model))
        }
    }
}
