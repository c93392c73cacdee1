import ArgumentParser
import Foundation
import ZKOrchestration

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write deployment files for an inventory: Kubernetes manifests or an Ansible role and playbooks.",
        discussion: """
            The inventory stays the single source: regenerate after changing it and review the diff.

            Examples:
              zkctl generate kubernetes -i inventory/production-3.yaml -o k8s/ && kubectl apply -k k8s/
              zkctl generate kubernetes -i inventory/production-3.yaml | kubectl apply --dry-run=server -f -
              zkctl generate ansible -i inventory/production-3.yaml -o deploy/
              ansible-playbook -i inventory/production-3.yaml deploy/site.yml
            """,
        subcommands: [GenerateKubernetes.self, GenerateAnsible.self])
}

struct GenerateKubernetes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubernetes",
        abstract: "ServiceAccount, ConfigMaps, Services, PodDisruptionBudget, StatefulSet, NetworkPolicy and a kustomization.",
        discussion: """
            Without -o the objects are printed as one YAML stream. Pod N of the StatefulSet is the \
            inventory's (N+1)-th server by id; its myid comes from that list, never from guessing.

            With zk_tls: true the pods mount the Secret zk_tls_secret (default <cluster>-zk-tls) with \
            ca.crt, tls.crt and tls.key. Either let cert-manager write it, or add --issue-tls-secret \
            and zkctl writes it as tls-secret.yaml from the cluster's own CA (the one `zkctl tls init` \
            makes, in <home>/clusters/<cluster>/tls/; created if absent). The certificate names every \
            pod and Service in the namespace given with --namespace (default: default) and the cluster \
            domain given with --cluster-domain (default: cluster.local). It is kept in that directory \
            and reused on the next run until those names change, so regenerating shows no diff.

            The cluster's superuser goes into superuser-secret.yaml (a Secret with its password and \
            digest, mode 0600; keep it out of version control): the pods put the digest into \
            zoo.cfg and `zkctl k8s scale` changes the membership as that user. The password is kept \
            in <home>/clusters/<cluster>/superuser.secret and reused when the manifests are \
            regenerated.

            --kube-version 1.N makes the manifests for an older cluster: fields that release does \
            not know are left out, and zkctl says which and what that changes.

            Example, with an inventory that sets zk_tls: true:
              zkctl generate kubernetes -i tls.yaml --namespace zk --issue-tls-secret -o k8s/
              kubectl apply -k k8s/    # keep k8s/tls-secret.yaml out of version control
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Ansible YAML inventory (see inventory/).", valueName: "file"))
    var inventory: String
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Directory to write (created); default: print to stdout.", valueName: "dir"))
    var output: String?
    @Option(help: "Namespace set in kustomization.yaml.")
    var namespace: String?
    @Option(help: "Engine to deploy, overriding zk_engine: apache (official zookeeper image) or bundled (zkserver image from the Dockerfile).")
    var engine: Engine?
    @Option(help: "Container image (default: zookeeper:<zk_version> or \(KubernetesOptions.bundledImage)).")
    var image: String?
    @Option(help: "StorageClass of the data volumes (default: the cluster's default class).")
    var storageClass: String?
    @Option(help: "Size of each data volume.")
    var dataSize: String = "10Gi"
    @Option(help: "Size of each transaction-log volume (used when zk_datalog_dir differs from zk_data_dir).")
    var datalogSize: String = "10Gi"
    @Option(help: "Cluster DNS domain: server addresses become <pod>.<headless>.<namespace>.svc.<domain> (needs --namespace; default: short names resolved through the pod's search path).")
    var clusterDomain: String?
    @Flag(help: "Prefer, rather than require, one server per node (for clusters with fewer nodes than servers).")
    var softAntiAffinity = false
    @Flag(help: "Do not generate the NetworkPolicy.")
    var noNetworkPolicy = false
    @Flag(help: "Also generate a Prometheus Operator ServiceMonitor (Apache ZooKeeper's metrics provider).")
    var serviceMonitor = false
    @Option(help: ArgumentHelp("The Kubernetes release to generate for, e.g. 1.24 (oldest 1.\(KubernetesOptions.oldestKubeMinor)).",
                               valueName: "1.N"))
    var kubeVersion: String = "1.\(KubernetesOptions.currentKubeMinor)"
    @Flag(name: .customLong("issue-tls-secret"), help: ArgumentHelp(
        "Also write the TLS Secret the pods mount (tls-secret.yaml), signed by the cluster's zkctl CA. Needs zk_tls: true.",
        discussion: "The file holds a private key (mode 0600): do not commit it. The names it covers are described above."))
    var issueTLSSecret = false

    func validate() throws {
        if clusterDomain != nil && namespace == nil {
            throw ValidationError("--cluster-domain needs --namespace: a fully qualified pod name reads <pod>.<headless>.<namespace>.svc.<domain>")
        }
        guard let minor = KubernetesOptions.kubeMinor(kubeVersion) else {
            throw ValidationError("--kube-version \(kubeVersion): not a Kubernetes version; give it as 1.N, e.g. 1.24")
        }
        guard minor >= KubernetesOptions.oldestKubeMinor else {
            throw ValidationError("--kube-version \(kubeVersion): older than 1.\(KubernetesOptions.oldestKubeMinor), which the manifests need (StatefulSet minReadySeconds, fsGroupChangePolicy)")
        }
    }

    func run() throws {
        let inv = try InventoryLoader.load(path: inventory)
        var options = KubernetesOptions(
            namespace: namespace, image: image, engine: engine, storageClass: storageClass,
            dataSize: dataSize, dataLogSize: datalogSize, hardAntiAffinity: !softAntiAffinity,
            networkPolicy: !noNetworkPolicy, serviceMonitor: serviceMonitor, clusterDomain: clusterDomain)
        options.kubeMinor = KubernetesOptions.kubeMinor(kubeVersion) ?? KubernetesOptions.currentKubeMinor
        for field in KubernetesModel.derive(inv, options: options).omittedFields {
            printErr("zkctl: for Kubernetes \(kubeVersion), left out \(field)")
        }
        var secretData: [KubernetesModel.SecretEntry] = []
        if issueTLSSecret {
            try KubernetesTLSSecret.requireTLS(inv, path: inventory)
            let model = KubernetesModel.derive(inv, options: options)
            let issued = try global.store.ensureKubernetesCertificate(
                inv.cluster.name, secret: model.tlsSecret, commonName: KubernetesTLSSecret.commonName(model),
                sans: KubernetesTLSSecret.sans(model, options: options))
            secretData = KubernetesTLSSecret.data(caCertificatePEM: issued.authority.certificatePEM, certificate: issued.certificate)
            let how = issued.reused ? "reused the certificate in" : "issued a certificate into"
            printErr("zkctl: \(issued.createdAuthority ? "created the cluster CA and " : "")\(how) \(issued.keyStore)")
            let holder = output.map { ($0 as NSString).appendingPathComponent(KubernetesTLSSecret.file) } ?? "the YAML on stdout (Secret \(model.tlsSecret))"
            printErr("zkctl: warning: \(holder) holds a private key; do not commit it")
        }
        // The superuser `zkctl k8s scale` changes the membership as: the cluster's, kept in zkctl's
        // home like a local cluster's, so regenerating the manifests keeps the password the pods have.
        _ = try global.store.ensureSuperuserSecret(inv.cluster.name)
        guard let password = global.store.superuserPassword(inv.cluster.name) else {
            throw ZKCtlError("cannot read the superuser password of \(inv.cluster.name) from \(global.store.layout(inv.cluster.name).superuserSecretFile)")
        }
        let files = try Renderer(source: try global.templateSource()).renderKubernetes(inv, options: options, tlsSecretData: secretData,
                                                                                       superuserPassword: password)
        if let output {
            try GenerateOutput.write(files, to: output)
            printErr("zkctl: wrote \(files.count) files to \(output); apply with: kubectl apply -k \(output)")
            printErr("zkctl: \((output as NSString).appendingPathComponent(KubernetesModel.superuserSecretFile)) holds the cluster's superuser password; do not commit it")
        } else {
            // The objects only: not the kustomization, not the dashboard JSON (written with -o).
            print(GenerateOutput.stream(files.filter { $0.path != "kustomization.yaml" && $0.path.hasSuffix(".yaml") }), terminator: "")
        }
    }
}

struct GenerateAnsible: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ansible",
        abstract: "A role (validate, install, config, service, health) and playbooks: site, rolling_restart, upgrade, scale_out, scale_in, health_check, backup.",
        discussion: """
            Run the playbooks against the same inventory file:
              ansible-playbook -i inventory/production-3.yaml DIR/site.yml
            Without -o the file list is printed.

            With zk_tls: true every zoo.cfg gets secureClientPort, the ssl.* keys and sslQuorum, and \
            DIR/files/tls/ gets the cluster's CA (ca.pem) and a certificate and key per inventory \
            host (<host>-cert.pem, <host>-key.pem; SANs 127.0.0.1, localhost and the host's address). \
            They come from the cluster's own CA in <home>/clusters/<cluster>/tls/, the one `zkctl tls \
            init` makes (created if absent), and are reused on the next run while they still fit. \
            roles/zk/tasks/tls.yml copies them to each server; set zk_tls_ca_src, zk_tls_cert_src \
            and zk_tls_key_src to use certificates from another PKI instead.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Ansible YAML inventory (see inventory/).", valueName: "file"))
    var inventory: String
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Directory to write (created).", valueName: "dir"))
    var output: String?

    func run() throws {
        let inv = try InventoryLoader.load(path: inventory)
        var files = try Renderer(source: try global.templateSource()).renderAnsible(inv)
        guard let output else {
            for f in files { print(f.path) }
            if inv.cluster.tls { for path in AnsibleTLS.paths(inv) { print(path) } }
            return
        }
        let dir = output.count > 1 && output.hasSuffix("/") ? String(output.dropLast()) : output
        if inv.cluster.tls {
            let (tlsFiles, result) = try global.store.ansibleTLSFiles(inv)
            files += tlsFiles
            let created = result.created.map { ($0 as NSString).lastPathComponent }
            printErr("zkctl: TLS certificates from \(result.layout.dir): "
                     + (created.isEmpty ? "all reused" : "created \(created.joined(separator: ", "))"))
            printErr("zkctl: warning: \(dir)/\(AnsibleTLS.dir) holds the servers' private keys; do not commit it")
        }
        try GenerateOutput.write(files, to: dir)
        printErr("zkctl: wrote \(files.count) files to \(dir); run: ansible-playbook -i \(inventory) \(dir)/site.yml")
    }
}

enum GenerateOutput {
    static func write(_ files: [RenderedFile], to dir: String) throws { try RenderedFile.write(files, to: dir) }

    /// One YAML stream: each file a document.
    static func stream(_ files: [RenderedFile]) -> String {
        files.map { "---\n# Source: \($0.path)\n" + $0.contents }.joined()
    }
}
