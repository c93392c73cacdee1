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
            /// Wait until `pod` (when given) is Ready, then until every pod of `pods` serves in its
            /// role with one leader.
            case gate(pod: String?, pods: [String])
            /// Wait until the pod runs and its server answers (ruok), whether or not it is a member yet.
            case started(pod: String)
            /// A membership change through zkctl's own client, as the cluster's superuser.
            case reconfig(Reconfig)
            /// Wait until the server of `pod` serves and caught up with the leader, which counts every
            /// member of `pods` as synced; the pod at `pods.last` is an observer when `observer`.
            case synced(pod: String, pods: [String], observer: Bool)
            /// If the server of `pod` leads, ask it to hand leadership to another voter first.
            case handOver(pod: String)
            /// A write commits through the ensemble (the new configuration is in force).
            case committed
            /// Wait until the pod no longer exists.
            case gone(pod: String)
            /// Something only a person can do, or a check to run by hand.
            case note
        }

        public var kind: Kind
        public var description: String
    }

    /// A membership change of `zkctl k8s scale`.
    public enum Reconfig: Equatable, Sendable {
        /// Add the server of `ordinal` (the model's member) as an observer, or with its own role.
        case add(ordinal: Int, asObserver: Bool)
        /// Remove the server running in `pod` (its id is read from the ensemble's configuration).
        case remove(pod: String)
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

    /// The command, run in a bundled server's container, that asks its admin server to hand leadership
    /// over (a follower answers that it does not lead). Prints the HTTP answer.
    public static func handOverCommand(adminPort: Int) -> [String] {
        ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(adminPort) && printf 'GET /commands/transfer_leadership HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 10 cat <&3"]
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

    /// The steps of an operation. `keepVolumes`: a scale-in keeps the removed pods' claims.
    public static func plan(_ model: KubernetesModel, operation: Operation, modes: [String: String],
                            keepVolumes: Bool = false) -> [Step] {
        var steps: [Step] = []
        let all = model.members.map(\.podName)
        switch operation {
        case .restart, .upgrade:
            if case .upgrade(let image) = operation {
                steps.append(Step(kind: .gate(pod: nil, pods: all),
                                  description: "the ensemble must be healthy before anything changes: every pod serving, one leader"))
                let images = [serverContainer, "bootstrap"].map { ContainerImage(container: $0, image: image) }
                steps.append(Step(kind: .run(.setImage(statefulSet: model.name, images: images)),
                                  description: "record the new image (updateStrategy OnDelete: no pod restarts yet)"))
            } else {
                steps.append(Step(kind: .note, description: "the ensemble must have a leader before the first pod goes"))
            }
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
            let current = (0..<from).map { "\(model.name)-\($0)" }
            if from == to {
                steps.append(Step(kind: .note, description: "the StatefulSet already has \(to) replicas; nothing to do"))
                return steps
            }
            steps.append(Step(kind: .gate(pod: nil, pods: current),
                              description: "the ensemble must be healthy: every pod serving, one leader; then one server per step"))
            if to > from {
                for ordinal in from..<to {
                    let m = model.members[ordinal]
                    let pods = model.members[0...ordinal].map(\.podName)
                    let staged = m.role == NodeRole.participant.rawValue
                    steps.append(Step(kind: .run(.publishMembers(configMap: model.configMap, pods: ordinal + 1)),
                                      description: "publish the members list with server \(m.id) (pods 0-\(ordinal)); running pods keep theirs"))
                    steps.append(Step(kind: .run(.scale(statefulSet: model.name, replicas: ordinal + 1)),
                                      description: "create \(m.podName) (server \(m.id)); it starts outside the membership"))
                    steps.append(Step(kind: .started(pod: m.podName), description: "wait until the server in \(m.podName) answers"))
                    steps.append(Step(kind: .reconfig(.add(ordinal: ordinal, asObserver: true)),
                                      description: "add server \(m.id) as an observer (reconfig through zkctl's client, as the superuser)"))
                    steps.append(Step(kind: .synced(pod: m.podName, pods: pods, observer: true),
                                      description: "wait until server \(m.id) is synced as an observer"))
                    if staged {
                        steps.append(Step(kind: .reconfig(.add(ordinal: ordinal, asObserver: false)),
                                          description: "promote server \(m.id) to participant"))
                    }
                    steps.append(Step(kind: .gate(pod: m.podName, pods: pods),
                                      description: "wait until \(m.podName) is Ready and every pod serves with one leader"))
                }
            } else {
                for ordinal in stride(from: from - 1, through: to, by: -1) {
                    let pod = "\(model.name)-\(ordinal)"
                    if model.isBundled {
                        steps.append(Step(kind: .handOver(pod: pod),
                                          description: "if \(pod) leads, hand leadership to another voter"))
                    }
                    steps.append(Step(kind: .reconfig(.remove(pod: pod)),
                                      description: "remove the server of \(pod) (reconfig through zkctl's client, as the superuser)"))
                    steps.append(Step(kind: .committed, description: "a write commits in the new configuration"))
                    steps.append(Step(kind: .run(.scale(statefulSet: model.name, replicas: ordinal)), description: "stop \(pod)"))
                    steps.append(Step(kind: .gone(pod: pod), description: "wait until \(pod) is gone"))
                    if ordinal == to {
                        steps.append(Step(kind: .run(.publishMembers(configMap: model.configMap, pods: to)),
                                          description: "publish the members list of pods 0-\(to - 1)"))
                    }
                    if keepVolumes {
                        steps.append(Step(kind: .note, description: "--keep-volumes: the claims of \(pod) stay (\(model.claims(of: pod).joined(separator: ", ")))"))
                    } else {
                        steps.append(Step(kind: .run(.deleteClaims(model.claims(of: pod))),
                                          description: "delete the claims of \(pod) (its data; the ensemble no longer needs it)"))
                    }
                    steps.append(Step(kind: .gate(pod: nil, pods: (0..<ordinal).map { "\(model.name)-\($0)" }),
                                      description: "wait until every remaining pod serves with one leader"))
                }
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
                if let pod { lines.append("   " + shellQuote(KubectlCluster.waitCommand(pod: pod, timeoutSeconds: 300, target: target))) }
                let srvr = KubectlCluster.command(.exec(pod: "$p", container: serverContainer,
                                                        command: fourLetterWordCommand("srvr", clientPort: model.clientPort)),
                                                  target: target)
                lines.append("   for p in \(pods.joined(separator: " ")); do "
                             + shellQuote(srvr).replacingOccurrences(of: "'$p'", with: "\"$p\"")
                             + " | grep Mode; done   # every pod serving, exactly one leader")
            case .started(let pod):
                lines.append("   " + shellQuote(KubectlCluster.command(.exec(pod: pod, container: serverContainer,
                                                                           command: fourLetterWordCommand("ruok", clientPort: model.clientPort)),
                                                                     target: target)) + "   # imok")
            case .reconfig(let change):
                let port = shellQuote(KubectlCluster.portForwardCommand(pod: model.members[0].podName, port: model.clientPort, target: target))
                switch change {
                case .add(let ordinal, let observer):
                    lines.append("   \(port) &   # then, with zkCli.sh against the forwarded port, as the superuser:")
                    lines.append("   reconfig -add \(observer ? model.members[ordinal].observerLine : model.members[ordinal].serverLine)")
                case .remove(let pod):
                    lines.append("   \(port) &   # then, with zkCli.sh against the forwarded port, as the superuser:")
                    lines.append("   reconfig -remove <the id of \(pod)'s server in /zookeeper/config>")
                }
            case .synced(let pod, _, _):
                let srvr = KubectlCluster.command(.exec(pod: pod, container: serverContainer,
                                                        command: fourLetterWordCommand("srvr", clientPort: model.clientPort)),
                                                  target: target)
                lines.append("   " + shellQuote(srvr) + "   # Mode: observer/follower, Zxid as the leader's")
            case .handOver(let pod):
                lines.append("   " + shellQuote(KubectlCluster.command(.exec(pod: pod, container: serverContainer,
                                                                           command: handOverCommand(adminPort: model.adminPort)),
                                                                     target: target)))
            case .gone(let pod):
                lines.append("   " + shellQuote(["kubectl"] + target.flags + ["wait", "--for=delete", "pod/\(pod)", "--timeout=300s"]))
            case .committed, .note: break
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
