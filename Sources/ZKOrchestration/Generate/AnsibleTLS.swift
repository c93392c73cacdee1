import Foundation

/// `zkctl generate ansible` with `zk_tls: true`: the cluster's CA certificate and each inventory
/// host's certificate and key under `files/tls/`, which the role's tasks/tls.yml copies to the
/// servers (role vars zk_tls_ca_src, zk_tls_cert_src, zk_tls_key_src point here by default).
/// The certificates are the ones `zkctl tls init` keeps in the cluster's state dir.
public enum AnsibleTLS {
    public static let dir = "files/tls"
    public static let caCertificate = dir + "/ca.pem"
    public static func certificate(_ host: String) -> String { "\(dir)/\(host)-cert.pem" }
    public static func key(_ host: String) -> String { "\(dir)/\(host)-key.pem" }

    /// Whether a generated file holds a private key (written with mode 0600).
    public static func isPrivateKey(_ path: String) -> Bool { path.hasPrefix(dir + "/") && path.hasSuffix("-key.pem") }

    /// The files, in output order: the CA, then certificate and key of each host in inventory order.
    public static func paths(_ inventory: Inventory) -> [String] {
        [caCertificate] + inventory.nodes.flatMap { [certificate($0.name), key($0.name)] }
    }

    /// The files from the CA certificate and each node's certificate (by id).
    public static func files(_ inventory: Inventory, caCertificatePEM: String,
                             nodes: [Int: IssuedCertificate]) throws -> [RenderedFile] {
        func pem(_ s: String) -> String { s.hasSuffix("\n") ? s : s + "\n" }
        var out = [RenderedFile(path: caCertificate, template: "", contents: pem(caCertificatePEM))]
        for node in inventory.nodes {
            guard let issued = nodes[node.id] else { throw ZKCtlError("no certificate for server \(node.id) (\(node.name))") }
            out.append(RenderedFile(path: certificate(node.name), template: "", contents: pem(issued.certificatePEM)))
            out.append(RenderedFile(path: key(node.name), template: "", contents: pem(issued.privateKeyPEM)))
        }
        return out
    }
}

extension ClusterStore {
    /// The `files/tls/` files of `zkctl generate ansible`: the cluster's CA and node certificates as
    /// `zkctl tls init` makes them (created when missing, reissued when a node's no longer fits; see
    /// `ensureTLSMaterial`), split into certificate and key per inventory host.
    public func ansibleTLSFiles(_ inventory: Inventory, now: Date = Date()) throws -> (files: [RenderedFile], result: TLSInitResult) {
        let result = try ensureTLSMaterial(inventory, now: now)
        let tls = result.layout
        var nodes: [Int: IssuedCertificate] = [:]
        for node in inventory.nodes {
            let path = tls.nodeKeyStore(node.id)
            guard let issued = ClusterCertificates.parseKeyStore(try FileSystem.readString(path)) else {
                throw ZKCtlError("\(path) holds no key and certificate; run `zkctl tls init --renew` for cluster \(inventory.cluster.name)")
            }
            nodes[node.id] = issued
        }
        let files = try AnsibleTLS.files(inventory, caCertificatePEM: try FileSystem.readString(tls.caCertificate), nodes: nodes)
        return (files, result)
    }
}
