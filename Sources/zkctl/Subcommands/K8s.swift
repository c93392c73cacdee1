import ArgumentParser
import Foundation
import ZKOrchestration

struct K8s: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k8s",
        abstract: "Rolling operations on an ensemble deployed with `zkctl generate kubernetes`.",
        discussion: """
            Same order as local mode: pods that do not serve first, then followers and observers one at \
            a time, the leader last; after each pod, wait until it is Ready and every pod serves with \
            exactly one leader. The first failed gate stops the operation.

            When kubectl reaches a cluster the steps are run; with --dry-run (or without a usable \
            kubectl) they are printed as commands to run by hand.

            Examples:
              zkctl k8s restart -i inventory/production-3.yaml -n zk
              zkctl k8s upgrade -i inventory/production-3.yaml --image zookeeper:3.9.4 --dry-run
              zkctl k8s scale -i inventory/production-3.yaml -k k8s/ --from 1
            """,
        subcommands: [K8sRestart.self, K8sUpgrade.self, K8sScale.self])
}

struct K8sTargetOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("The inventory the manifests were generated from.", valueName: "file"))
    var inventory: String
    @Option(name: [.customShort("n"), .long], help: "Namespace of the StatefulSet (default: kubectl's).")
    var namespace: String?
    @Option(help: "kubectl context (default: the current one).")
    var context: String?
    @Option(help: "Engine the manifests were generated for, if overridden with --engine then.")
    var engine: Engine?
    @Flag(help: "Print the steps; change nothing.")
    var dryRun = false
    @Option(help: "Seconds each gate may take.")
    var gateTimeout: Int = 300

    var target: KubernetesRollout.Target { .init(namespace: namespace, context: context) }

    func model() throws -> KubernetesModel {
        KubernetesModel.derive(try InventoryLoader.load(path: inventory), options: .init(engine: engine))
    }
}

/// Runs kubectl with a bounded wait.
enum Kubectl {
    struct Result { var status: Int32; var output: String }

    static func run(_ argv: [String], timeout: TimeInterval = 150) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let outPath = NSTemporaryDirectory() + "zkctl-kubectl-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        guard let out = FileHandle(forWritingAtPath: outPath) else { return Result(status: 127, output: "cannot create \(outPath)") }
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return Result(status: 127, output: "\(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        try? out.close()
        let data = FileManager.default.contents(atPath: outPath) ?? Data()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// kubectl exists and reaches a cluster.
    static func usable(_ target: KubernetesRollout.Target) -> Bool {
        guard FileSystem.which("kubectl") != nil else { return false }
        return run(["kubectl"] + (target.context.map { ["--context", $0] } ?? []) + ["version", "--request-timeout=5s"], timeout: 15).status == 0
    }

    static func modes(_ model: KubernetesModel, target: KubernetesRollout.Target, pods: [String]? = nil) -> [String: String] {
        var modes: [String: String] = [:]
        for pod in pods ?? model.members.map(\.podName) {
            let r = run(KubernetesRollout.srvrCommand(model, pod: pod, target: target), timeout: 20)
            modes[pod] = r.status == 0 ? KubernetesRollout.mode(fromSrvr: r.output) : "down"
        }
        return modes
    }

    /// Ready, then every pod serving with one leader, within `timeout` seconds.
    static func gate(_ model: KubernetesModel, pod: String, pods: [String], target: KubernetesRollout.Target, timeout: Int) throws {
        let wait = run(["kubectl"] + targetFlags(target) + ["wait", "--for=condition=Ready", "pod/\(pod)", "--timeout=\(timeout)s"],
                       timeout: TimeInterval(timeout + 10))
        guard wait.status == 0 else { throw ZKCtlError("\(pod) did not become Ready in \(timeout)s: \(wait.output.trimmingCharacters(in: .whitespacesAndNewlines)); stopping here") }
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        var last: [String: String] = [:]
        repeat {
            last = modes(model, target: target, pods: pods)
            let leaders = last.values.filter { $0 == "leader" || $0 == "standalone" }.count
            if leaders == 1 && last.values.allSatisfy({ ["leader", "follower", "observer", "standalone"].contains($0) }) { return }
            Thread.sleep(forTimeInterval: 2)
        } while Date() < deadline
        throw ZKCtlError("the ensemble did not settle after \(pod): \(last.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")); stopping here")
    }

    static func targetFlags(_ t: KubernetesRollout.Target) -> [String] {
        (t.context.map { ["--context", $0] } ?? []) + (t.namespace.map { ["-n", $0] } ?? [])
    }

    /// Prints or runs a plan.
    static func execute(_ steps: [KubernetesRollout.Step], model: KubernetesModel, options: K8sTargetOptions, live: Bool) throws {
        guard live else {
            print(KubernetesRollout.render(steps, model: model, target: options.target))
            return
        }
        for (i, step) in steps.enumerated() {
            printErr("zkctl: step \(i + 1)/\(steps.count): \(step.description)")
            switch step.kind {
            case .note: continue
            case .kubectl(let argv):
                let r = run(argv)
                guard r.status == 0 else { throw ZKCtlError("\(KubernetesRollout.shellQuote(argv)) failed: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
            case .gate(let pod, let pods):
                try gate(model, pod: pod, pods: pods, target: options.target, timeout: options.gateTimeout)
            }
        }
        printErr("zkctl: done; every pod serves with one leader")
    }
}

extension K8sTargetOptions {
    /// Whether to run (kubectl reaches a cluster and no --dry-run); says why when it will only print.
    func live() -> Bool {
        if dryRun { return false }
        if Kubectl.usable(target) { return true }
        printErr("zkctl: kubectl is missing or reaches no cluster; printing the steps instead")
        return false
    }
}

struct K8sRestart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Replace every pod, leader last, behind health gates.")
    @OptionGroup var options: K8sTargetOptions

    func run() throws {
        let model = try options.model()
        let live = options.live()
        let modes = live ? Kubectl.modes(model, target: options.target) : [:]
        if live, !modes.values.contains(where: { $0 == "leader" || $0 == "standalone" }) {
            throw ZKCtlError("no pod reports Mode leader; fix the ensemble before a rolling restart (modes: \(modes))")
        }
        try Kubectl.execute(KubernetesRollout.plan(model, operation: .restart, modes: modes, target: options.target),
                            model: model, options: options, live: live)
    }
}

struct K8sUpgrade: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upgrade", abstract: "Switch to another image, one pod at a time, leader last.")
    @OptionGroup var options: K8sTargetOptions
    @Option(help: "The new image, e.g. zookeeper:3.9.4.")
    var image: String

    func run() throws {
        let model = try options.model()
        let live = options.live()
        let modes = live ? Kubectl.modes(model, target: options.target) : [:]
        if live, !modes.values.contains(where: { $0 == "leader" || $0 == "standalone" }) {
            throw ZKCtlError("no pod reports Mode leader; fix the ensemble before upgrading (modes: \(modes))")
        }
        try Kubectl.execute(KubernetesRollout.plan(model, operation: .upgrade(image: image), modes: modes, target: options.target),
                            model: model, options: options, live: live)
    }
}

struct K8sScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Grow or shrink the StatefulSet to the inventory's size, one server per step.",
        discussion: "Edit the inventory, regenerate the manifests into the -k directory, then run this.")
    @OptionGroup var options: K8sTargetOptions
    @Option(name: [.customShort("k"), .long], help: ArgumentHelp("Directory of the regenerated manifests.", valueName: "dir"))
    var manifests: String
    @Option(help: "Current replicas (default: read from the cluster).")
    var from: Int?

    func run() throws {
        let model = try options.model()
        let live = options.live()
        var current = from
        if current == nil, live {
            let r = Kubectl.run(["kubectl"] + Kubectl.targetFlags(options.target) + ["get", "statefulset", model.name, "-o", "jsonpath={.spec.replicas}"])
            current = Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let current else { throw ZKCtlError("pass --from N (the StatefulSet's current replicas); kubectl could not tell") }
        try Kubectl.execute(KubernetesRollout.plan(model, operation: .scale(from: current), modes: [:], target: options.target, manifests: manifests),
                            model: model, options: options, live: live)
    }
}
