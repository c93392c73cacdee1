import Foundation

/// A pod as the cluster reports it.
public struct PodInfo: Equatable, Sendable {
    public var name: String
    /// Pending, Running, Succeeded, Failed or Unknown.
    public var phase: String
    /// The pod's Ready condition (the readiness probe: the server serves in the ensemble).
    public var ready: Bool
}

/// A new image for one container of a pod template.
public struct ContainerImage: Equatable, Sendable {
    public var container: String
    public var image: String
}

/// A change `zkctl k8s` makes to the cluster: one step of a rollout.
public enum KubernetesAction: Equatable, Sendable {
    /// Record new images in the StatefulSet's pod template (under OnDelete, no pod restarts).
    case setImage(statefulSet: String, images: [ContainerImage])
    /// Delete a pod and wait until it is gone (the StatefulSet creates it again).
    case deletePod(String)
    /// Apply the server ConfigMap rendered with the members of pods 0..<`pods` (the StatefulSet is
    /// not touched).
    case publishMembers(configMap: String, pods: Int)
    case scale(statefulSet: String, replicas: Int)
    /// Delete PersistentVolumeClaims and wait until they are gone.
    case deleteClaims([String])
    /// Run a command in a container of a pod.
    case exec(pod: String, container: String, command: [String])
}

/// The Kubernetes operations a rollout needs (shell). `KubectlCluster` runs kubectl; tests use an
/// in-memory fake. Every operation throws a message that says what failed.
public protocol KubernetesCluster: Sendable {
    /// Where the operations go (named in messages).
    var target: KubernetesRollout.Target { get }
    func setImage(statefulSet: String, images: [ContainerImage]) throws
    func deletePod(_ pod: String) throws
    /// Applies one manifest (YAML text).
    func apply(manifest: String) throws
    func scale(statefulSet: String, replicas: Int) throws
    func deleteClaims(_ claims: [String]) throws
    /// One key of a Secret, decoded.
    func secret(_ name: String, key: String) throws -> String
    /// Forwards a local port to `port` of `pod` until the handle is closed.
    func portForward(pod: String, port: Int) throws -> any PortForward
    /// The StatefulSet's desired replicas.
    func replicas(statefulSet: String) throws -> Int
    /// The pods carrying every one of `labels`.
    func listPods(labels: [KubernetesModel.Label]) throws -> [PodInfo]
    /// Waits until the pod is Ready; throws when it is not within `timeout`.
    func waitReady(pod: String, timeout: Duration) throws
    /// Runs `command` in `container` of `pod`; its output, or a throw when it fails or outlasts `timeout`.
    func exec(pod: String, container: String, command: [String], timeout: Duration) throws -> String
}

/// A local port that reaches a pod's port (`kubectl port-forward`).
public protocol PortForward: Sendable {
    var localPort: Int { get }
    func close()
}

/// A cluster reached with kubectl (found in PATH), with `--context` and `-n` when given.
public struct KubectlCluster: KubernetesCluster {
    public var target: KubernetesRollout.Target
    /// The bound on a call that does not wait for something itself.
    static let callTimeout: Duration = .seconds(150)
    /// How long a deleted pod may take to go.
    static let deleteTimeoutSeconds = 120

    public init(target: KubernetesRollout.Target) {
        self.target = target
    }

    /// The kubectl command line of an action (what `perform` runs, and what a dry run prints).
    public static func command(_ action: KubernetesAction, target: KubernetesRollout.Target) -> [String] {
        let k = ["kubectl"] + target.flags
        switch action {
        case .setImage(let sts, let images):
            return k + ["set", "image", "statefulset/\(sts)"] + images.map { "\($0.container)=\($0.image)" }
        case .deletePod(let pod):
            return k + ["delete", "pod", pod, "--wait=true", "--timeout=\(deleteTimeoutSeconds)s"]
        case .publishMembers(let configMap, let pods):
            return k + ["apply", "-f", "<ConfigMap \(configMap) with the servers of pods 0-\(pods - 1)>"]
        case .scale(let sts, let replicas):
            return k + ["scale", "statefulset/\(sts)", "--replicas=\(replicas)"]
        case .deleteClaims(let claims):
            return k + ["delete", "pvc"] + claims + ["--wait=true", "--timeout=\(deleteTimeoutSeconds)s"]
        case .exec(let pod, let container, let command):
            return k + ["exec", pod, "-c", container, "--"] + command
        }
    }

    /// The command line that forwards a free local port to a pod's port.
    public static func portForwardCommand(pod: String, port: Int, target: KubernetesRollout.Target) -> [String] {
        ["kubectl"] + target.flags + ["port-forward", "--address", "127.0.0.1", "pod/\(pod)", ":\(port)"]
    }

    /// The command line that waits for a pod's Ready condition.
    public static func waitCommand(pod: String, timeoutSeconds: Int, target: KubernetesRollout.Target) -> [String] {
        ["kubectl"] + target.flags + ["wait", "--for=condition=Ready", "pod/\(pod)", "--timeout=\(timeoutSeconds)s"]
    }

    /// Each pod on a line: name, phase, Ready status (tab-separated).
    static let podColumns = #"{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#

    /// The lines `podColumns` prints (pure).
    public static func parsePods(_ text: String) -> [PodInfo] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmed(" \r") }
            guard let name = f.first, !name.isEmpty else { return nil }
            return PodInfo(name: name, phase: f.count > 1 ? f[1] : "", ready: f.count > 2 && f[2] == "True")
        }
    }

    public func setImage(statefulSet: String, images: [ContainerImage]) throws {
        try run(.setImage(statefulSet: statefulSet, images: images))
    }

    public func deletePod(_ pod: String) throws {
        try run(.deletePod(pod), timeout: .seconds(Int64(Self.deleteTimeoutSeconds + 30)))
    }

    public func apply(manifest: String) throws {
        let path = NSTemporaryDirectory() + "zkctl-manifest-\(UUID().uuidString).yaml"
        try FileSystem.write(manifest, to: path)
        defer { try? FileSystem.remove(path) }
        try check(["kubectl"] + target.flags + ["apply", "-f", path], timeout: Self.callTimeout, what: "kubectl apply")
    }

    public func deleteClaims(_ claims: [String]) throws {
        try run(.deleteClaims(claims), timeout: .seconds(Int64(Self.deleteTimeoutSeconds + 30)))
    }

    public func secret(_ name: String, key: String) throws -> String {
        let jsonKey = key.replacingOccurrences(of: ".", with: "\\.")
        let out = try kubectl(["get", "secret", name, "-o", "jsonpath={.data.\(jsonKey)}"], what: "kubectl get secret \(name)")
        guard let data = Data(base64Encoded: out.trimmed(" \n\r\t")), !data.isEmpty else {
            throw ZKCtlError("Secret \(name) has no key \(key)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    public func portForward(pod: String, port: Int) throws -> any PortForward {
        try KubectlPortForward(Self.portForwardCommand(pod: pod, port: port, target: target))
    }

    public func scale(statefulSet: String, replicas: Int) throws {
        try run(.scale(statefulSet: statefulSet, replicas: replicas))
    }

    public func replicas(statefulSet: String) throws -> Int {
        let out = try kubectl(["get", "statefulset", statefulSet, "-o", "jsonpath={.spec.replicas}"])
        guard let n = Int(out.trimmed(" \n\r\t")) else {
            throw ZKCtlError("kubectl get statefulset \(statefulSet) answered \(out.prefix(200)), not a number of replicas")
        }
        return n
    }

    public func listPods(labels: [KubernetesModel.Label]) throws -> [PodInfo] {
        let selector = labels.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return Self.parsePods(try kubectl(["get", "pods", "-l", selector, "-o", "jsonpath=" + Self.podColumns],
                                          what: "kubectl get pods -l \(selector)"))
    }

    public func waitReady(pod: String, timeout: Duration) throws {
        let seconds = Int(max(1, timeout.milliseconds / 1000))
        try check(Self.waitCommand(pod: pod, timeoutSeconds: seconds, target: target), timeout: timeout + .seconds(10),
                  what: "kubectl wait for pod/\(pod)")
    }

    public func exec(pod: String, container: String, command: [String], timeout: Duration) throws -> String {
        try check(Self.command(.exec(pod: pod, container: container, command: command), target: target), timeout: timeout,
                  what: "kubectl exec in \(pod)")
    }

    // MARK: running kubectl

    private func run(_ action: KubernetesAction, timeout: Duration = KubectlCluster.callTimeout) throws {
        _ = try check(Self.command(action, target: target), timeout: timeout)
    }

    private func kubectl(_ arguments: [String], what: String? = nil) throws -> String {
        try check(["kubectl"] + target.flags + arguments, timeout: Self.callTimeout, what: what)
    }

    /// Runs a kubectl command line; its output, or a throw naming the command (or `what`) and what it printed.
    @discardableResult
    private func check(_ argv: [String], timeout: Duration, what: String? = nil) throws -> String {
        let what = what ?? KubernetesRollout.shellQuote(argv)
        guard let kubectl = FileSystem.which("kubectl") else { throw ZKCtlError("kubectl is not installed (not found in PATH)") }
        let r = try Command.run(kubectl, Array(argv.dropFirst()), timeout: timeout)
        let output = r.output.trimmed(" \n\r\t")
        if r.timedOut {
            throw ZKCtlError("\(what) did not finish within \(timeout.milliseconds / 1000)s")
        }
        guard r.status == 0 else { throw ZKCtlError("\(what) failed: \(output)") }
        return r.output
    }
}

/// A running `kubectl port-forward`: the local port it printed; `close` ends it.
final class KubectlPortForward: PortForward, @unchecked Sendable {
    let process = Process()
    let localPort: Int

    /// Starts the command and waits (up to 30 s) for its "Forwarding from 127.0.0.1:<port>" line.
    init(_ argv: [String]) throws {
        guard let kubectl = FileSystem.which("kubectl") else { throw ZKCtlError("kubectl is not installed (not found in PATH)") }
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: kubectl)
        process.arguments = Array(argv.dropFirst())
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw ZKCtlError("cannot run kubectl port-forward: \(error.localizedDescription)") }
        let reader = pipe.fileHandleForReading
        var text = ""
        var found: Int?
        let deadline = ContinuousClock.now + .seconds(30)
        while found == nil && ContinuousClock.now < deadline {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // the command ended
            text += String(decoding: chunk, as: UTF8.self)
            if let r = text.range(of: "Forwarding from 127.0.0.1:") {
                found = Int(text[r.upperBound...].prefix { $0.isNumber })
            }
        }
        guard let found else {
            if process.isRunning { process.terminate() }
            throw ZKCtlError("\(KubernetesRollout.shellQuote(argv)) did not forward a port: \(text.trimmed(" \n\r\t"))")
        }
        localPort = found
        // Keep draining its output so it never blocks on a full pipe.
        reader.readabilityHandler = { h in if h.availableData.isEmpty { h.readabilityHandler = nil } }
    }

    /// SIGTERM, then SIGKILL after a second: a child may inherit zkctl's blocked SIGTERM.
    func close() {
        guard process.isRunning else { return }
        process.terminate()
        let grace = ContinuousClock.now + .seconds(1)
        while process.isRunning && ContinuousClock.now < grace { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { usleep(10_000) }
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
