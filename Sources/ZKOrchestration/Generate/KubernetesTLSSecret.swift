import Foundation

/// `zkctl generate kubernetes --issue-tls-secret`: the Secret the StatefulSet mounts at /tls, with
/// one certificate from the cluster's zkctl CA for every pod and Service name the manifests use.
/// The names and the object are pure; `ClusterStore.ensureKubernetesCertificate` does the issuing.
public enum KubernetesTLSSecret {
    /// The output file, listed in kustomization.yaml after the ConfigMaps.
    public static let file = "tls-secret.yaml"
    /// Namespace the certificate names when none is given: the manifests then carry none and kubectl
    /// applies them to its current namespace, which is `default` unless the context says otherwise.
    public static let defaultNamespace = "default"
    /// Cluster DNS domain the certificate names when `--cluster-domain` is not given.
    public static let defaultClusterDomain = "cluster.local"

    /// The Secret is only mounted with `zk_tls: true`; without it there is nothing to issue for.
    public static func requireTLS(_ inventory: Inventory, path: String) throws {
        guard inventory.cluster.tls else {
            throw ZKCtlError("--issue-tls-secret: \(path) does not set zk_tls: true, so the pods mount no TLS Secret; "
                             + "set zk_tls: true in its zookeeper vars, or drop --issue-tls-secret")
        }
    }

    /// The subject of the certificate.
    public static func commonName(_ model: KubernetesModel) -> String { "\(model.clusterName) servers (\(model.name))" }

    /// Every name a peer, a client or a probe may dial: each pod under the headless Service, a
    /// wildcard for pods added later, both Services, each in the short, namespaced, `.svc` and
    /// fully qualified forms, then 127.0.0.1 and localhost. Deterministic: the same model and
    /// options give the same list, so a stored certificate is reused until a name changes.
    public static func sans(_ model: KubernetesModel, options: KubernetesOptions) -> [String] {
        let namespace = options.namespace ?? defaultNamespace
        let domain = options.clusterDomain ?? defaultClusterDomain
        let suffixes = ["", ".\(namespace)", ".\(namespace).svc", ".\(namespace).svc.\(domain)"]
        var names: [String] = []
        for suffix in suffixes { names.append("*.\(model.headlessService)\(suffix)") }
        for member in model.members {
            for suffix in suffixes { names.append("\(member.podName).\(model.headlessService)\(suffix)") }
        }
        for service in [model.headlessService, model.clientService] {
            for suffix in suffixes { names.append("\(service)\(suffix)") }
        }
        return ClusterCertificates.unique(names + ClusterCertificates.loopbackNames)
    }

    /// The Secret's data in key order, each value base64 as the API stores it.
    public static func data(caCertificatePEM: String, certificate: IssuedCertificate) -> [KubernetesModel.SecretEntry] {
        func pem(_ s: String) -> String { s.hasSuffix("\n") ? s : s + "\n" }
        return [("ca.crt", caCertificatePEM), ("tls.crt", certificate.certificatePEM), ("tls.key", certificate.privateKeyPEM)]
            .map { KubernetesModel.SecretEntry(key: $0.0, value: Data(pem($0.1).utf8).base64EncodedString()) }
    }
}

extension KubernetesModel {
    public struct SecretEntry: Equatable, Sendable {
        public var key: String
        public var value: String
    }

    public static let superuserSecretFile = "superuser-secret.yaml"

    /// Adds the Secret `superuserSecret` with the password and its digest, after the ConfigMaps.
    public mutating func addSuperuserSecret(password: String) {
        superuserSecretData = [("password", password), ("digest", Superuser.digest(password: password))]
            .map { SecretEntry(key: $0.0, value: Data($0.1.utf8).base64EncodedString()) }
        guard !resources.contains(FileEntry(file: Self.superuserSecretFile)) else { return }
        let at = (resources.firstIndex { $0.file == "scripts-configmap.yaml" }).map { $0 + 1 } ?? resources.count
        resources.insert(FileEntry(file: Self.superuserSecretFile), at: at)
    }

    /// Adds the Secret `tlsSecret` (type kubernetes.io/tls) with `data` to the output, after the
    /// ConfigMaps so a stream applied in order creates it before the StatefulSet.
    public mutating func addTLSSecret(_ data: [SecretEntry]) {
        tlsSecretData = data
        guard !resources.contains(FileEntry(file: KubernetesTLSSecret.file)) else { return }
        let at = (resources.firstIndex { $0.file == "scripts-configmap.yaml" }).map { $0 + 1 } ?? resources.count
        resources.insert(FileEntry(file: KubernetesTLSSecret.file), at: at)
    }
}
