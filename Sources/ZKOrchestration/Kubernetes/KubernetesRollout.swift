/// Safe rolling operations on a generated StatefulSet, in the same order as local mode: pods that
/// do not serve first, then followers and observers one at a time, the leader last, with a gate
/// after each pod (Ready, then every pod serving with exactly one leader).
///
/// Pure: builds the steps from the model and the modes observed; `KubernetesRolloutRunner` runs
/// them against a `KubernetesCluster`, and `render` prints them as kubectl commands.
public enum KubernetesRollout {
    public enum Operation: Equatable, Sendable {
        case restart
        case upgrade(image: String)
        /// Grow or shrink by one voter at a time to the inventory's size.
        case scale(from: Int)
    }

    public struct Step: Equatable, Sendable {
        public enum Kind: Equatable, Sendable {
            /// Change the cluster.
            case run(KubernetesAction)
            /// Wait until the pod is Ready, then until every pod of `pods` serves with one leader.
            case gate(pod: String, pods: [String])
            /// Something only a person can do, or a check to run by hand.
            case note
        }

        public var kind: Kind
        public var description: String
    }

    /// Connection flags every kubectl command gets.
    public struct Target: Equatable, Sendable, CustomStringConvertible {
        public var namespace: String?
        public var context: String?
        public init(namespace: String? = nil, context: String? = nil) {
            self.namespace = namespace
            self.context = context
        }

        var flags: [String] {
            (context.map { ["--context", $0] } ?? []) + (namespace.map { ["-n", $0] } ?? [])
        }

        /// For messages: "context kind-zk, namespace zk".
        public var description: String {
            "context " + (context ?? "(kubectl's current)") + ", namespace " + (namespace ?? "(the context's default)")
        }
    }

    /// The server container of every pod.
    public static let serverContainer = "zookeeper"

    /// The command, run in a server container, that sends a four-letter word to the server and prints
    /// the answer (through bash: both images have bash, neither needs nc).
    public static func fourLetterWordCommand(_ word: String, clientPort: Int) -> [String] {
        ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(clientPort) && printf \(word) >&3 && timeout 4 cat <&3"]
    }

    /// Restart order from observed modes (pod -> mode, "down" when it did not answer): not serving
    /// first, then followers/observers by descending ordinal, leader last.
    public static func restartOrder(_ model: KubernetesModel, modes: [String: String]) -> [String] {
        let pods = model.members.map(\.podName)
        func rank(_ pod: String) -> Int {
            switch modes[pod] ?? "down" {
            case "leader", "standalone": return 2
            case "follower", "observer": return 1
            default: return 0
            }
        }
        return pods.enumerated().sorted { a, b in
            let (ra, rb) = (rank(a.element), rank(b.element))
            return ra != rb ? ra < rb : a.offset > b.offset
        }.map(\.element)
    }

    public static func plan(_ model: KubernetesModel, operation: Operation, modes: [String: String],
                            target: Target = .init(), manifests: String? = nil) -> [Step] {
        var steps: [Step] = []
        switch operation {
        case .restart, .upgrade:
            if case .upgrade(let image) = operation {
                let images = [serverContainer, "bootstrap"].map { ContainerImage(container: $0, image: image) }
                steps.append(Step(kind: .run(.setImage(statefulSet: model.name, images: images)),
                                  description: "record the new image (updateStrategy OnDelete: no pod restarts yet)"))
            }
            steps.append(Step(kind: .note, description: "ensemble must be healthy before the first pod goes: every pod serving, one leader"))
            let all = model.members.map(\.podName)
            if modes.isEmpty {
                steps.append(Step(kind: .note, description: "find each pod's mode (srvr) and reorder the steps below: pods that do not serve first, then followers and observers, the leader last"))
            }
            for pod in restartOrder(model, modes: modes) {
                let mode = modes[pod].map { " (\($0))" } ?? ""
                steps.append(Step(kind: .run(.deletePod(pod)),
                                  description: "replace \(pod)\(mode)"))
                steps.append(Step(kind: .gate(pod: pod, pods: all), description: "wait until \(pod) is Ready and every pod serves with one leader"))
            }
        case .scale(let from):
            let to = model.replicas
            let dir = manifests ?? "<manifests dir>"
            if from == to {
                steps.append(Step(kind: .note, description: "the StatefulSet already has \(to) replicas; nothing to do"))
                return steps
            }
            steps.append(Step(kind: .note, description: "ensemble must be healthy; one server is added or removed per step, the voters stay odd at the end"))
            if to > from {
                steps.append(Step(kind: .run(.apply(directory: dir)),
                                  description: "publish the members list with the new servers (running pods keep theirs until restarted)"))
                for ordinal in from..<to {
                    let m = model.members[ordinal]
                    steps.append(Step(kind: .run(.scale(statefulSet: model.name, replicas: ordinal + 1)),
                                      description: "create \(m.podName) (server \(m.id)); it syncs as a non-voting follower"))
                    steps.append(Step(kind: .gate(pod: m.podName, pods: model.members[0...ordinal].map(\.podName)),
                                      description: "wait until \(m.podName) is Ready and serves"))
                    steps.append(Step(kind: .run(.exec(pod: model.members[0].podName, container: serverContainer,
                                                       command: ["zkCli.sh", "-server", "127.0.0.1:\(model.clientPort)",
                                                                 "reconfig", "-add", m.serverLine])),
                                      description: "add server \(m.id) with reconfig (needs a reconfig superuser or skipACL; the bundled engine does not implement reconfig yet)"))
                }
            } else {
                for ordinal in stride(from: from - 1, through: to, by: -1) {
                    let pod = "\(model.name)-\(ordinal)"
                    steps.append(Step(kind: .note, description: "remove the server of \(pod) from the ensemble with `reconfig -remove <id>` (its id is in the previous members list), then write once so the new configuration is active"))
                    steps.append(Step(kind: .run(.scale(statefulSet: model.name, replicas: ordinal)),
                                      description: "stop \(pod)"))
                    steps.append(Step(kind: .gate(pod: model.members[0].podName, pods: (0..<ordinal).map { "\(model.name)-\($0)" }),
                                      description: "wait until every remaining pod serves with one leader"))
                }
                steps.append(Step(kind: .run(.apply(directory: dir)), description: "publish the smaller members list"))
                steps.append(Step(kind: .note, description: "the removed pods' volumes are kept (whenScaled: Retain); delete data-\(model.name)-<ordinal> PVCs once sure"))
            }
        }
        return steps
    }

    /// Human-readable plan with copy-pasteable commands.
    public static func render(_ steps: [Step], model: KubernetesModel, target: Target = .init()) -> String {
        var lines: [String] = []
        for (i, s) in steps.enumerated() {
            lines.append("\(i + 1). \(s.description)")
            switch s.kind {
            case .run(let action): lines.append("   " + shellQuote(KubectlCluster.command(action, target: target)))
            case .gate(let pod, let pods):
                lines.append("   " + shellQuote(KubectlCluster.waitCommand(pod: pod, timeoutSeconds: 300, target: target)))
                let srvr = KubectlCluster.command(.exec(pod: "$p", container: serverContainer,
                                                        command: fourLetterWordCommand("srvr", clientPort: model.clientPort)),
                                                  target: target)
                lines.append("   for p in \(pods.joined(separator: " ")); do "
                             + shellQuote(srvr).replacingOccurrences(of: "'$p'", with: "\"$p\"")
                             + " | grep Mode; done   # every pod serving, exactly one leader")
            case .note: break
            }
        }
        return lines.joined(separator: "\n")
    }

    public static func shellQuote(_ argv: [String]) -> String {
        argv.map { arg in
            let safe = arg.unicodeScalars.allSatisfy { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@".unicodeScalars.contains($0) }
            return safe && !arg.isEmpty ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
