import ArgumentParser
import ZKOrchestration

struct K8s: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k8s",
        abstract: "Rolling operations on an ensemble deployed with `zkctl generate kubernetes`.",
        discussion: """
            Same order as local mode: pods that do not serve first, then followers and observers one at \
            a time, the leader last; after each pod, wait until it is Ready and every pod serves with \
            exactly one leader. The first failed gate stops the operation.

            The steps run through kubectl (--context, -n); a cluster kubectl cannot reach, or a \
            StatefulSet without its pods, is an error (exit 1) that names the context, namespace and \
            StatefulSet. With --dry-run they are printed as commands to run by hand and the cluster \
            is not asked.

            Examples:
              zkctl k8s restart -i inventory/production-3.yaml -n zk
              zkctl k8s upgrade -i inventory/production-3.yaml --image zookeeper:3.9.4 --dry-run
              zkctl k8s scale -i inventory/production-3.yaml -n zk --dry-run --from 5
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
    @Option(help: "Cluster domain the manifests were generated with (--cluster-domain then), for the members list scale publishes.")
    var clusterDomain: String?
    @Flag(help: "Print the steps; change nothing.")
    var dryRun = false
    @Option(help: "Seconds each gate may take.")
    var gateTimeout: Int = 300

    var target: KubernetesRollout.Target { .init(namespace: namespace, context: context) }

    func validate() throws {
        if clusterDomain != nil && namespace == nil {
            throw ValidationError("--cluster-domain needs -n/--namespace: a fully qualified pod name reads <pod>.<headless>.<namespace>.svc.<domain>")
        }
    }

    func model() throws -> KubernetesModel {
        KubernetesModel.derive(try InventoryLoader.load(path: inventory),
                               options: .init(namespace: clusterDomain == nil ? nil : namespace, engine: engine, clusterDomain: clusterDomain))
    }

    /// Runs against the cluster kubectl reaches, with progress on stderr.
    func runner(_ model: KubernetesModel) throws -> KubernetesRolloutRunner {
        var runner = KubernetesRolloutRunner(cluster: KubectlCluster(target: target), model: model,
                                             gateTimeout: .seconds(Int64(gateTimeout)), log: { printErr("zkctl: " + $0) })
        let renderer = Renderer(source: InMemoryTemplateSource(BundledTemplates.files, description: "zkctl's built-in templates"))
        runner.configMap = { pods in try renderer.render(template: "kubernetes/configmap.yaml", model: model.withMembers(pods)) }
        return runner
    }

    /// The plan as commands to run by hand (--dry-run).
    func printPlan(_ model: KubernetesModel, _ operation: KubernetesRollout.Operation, keepVolumes: Bool = false) {
        print(KubernetesRollout.render(KubernetesRollout.plan(model, operation: operation, modes: [:], keepVolumes: keepVolumes),
                                       model: model, target: target))
    }
}

struct K8sRestart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Replace every pod, leader last, behind health gates.")
    @OptionGroup var options: K8sTargetOptions

    func run() async throws {
        let model = try options.model()
        if options.dryRun { return options.printPlan(model, .restart) }
        try await options.runner(model).roll(.restart)
    }
}

struct K8sUpgrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upgrade", abstract: "Switch to another image, one pod at a time, leader last.")
    @OptionGroup var options: K8sTargetOptions
    @Option(help: "The new image, e.g. zookeeper:3.9.4.")
    var image: String

    func run() async throws {
        let model = try options.model()
        if options.dryRun { return options.printPlan(model, .upgrade(image: image)) }
        try await options.runner(model).roll(.upgrade(image: image))
    }
}

struct K8sScale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Grow or shrink the StatefulSet to the inventory's size, one server per step.",
        discussion: """
            Edit the inventory (add or remove servers), then run this; the manifests need not be \
            applied again. Growing, each step publishes the members list with the new server, \
            raises the StatefulSet's replicas by one, waits until the new server answers, adds it as \
            an observer by reconfig, waits until it is synced, promotes it and waits until every pod \
            serves. Shrinking, each step hands leadership over if the leaving server leads, removes \
            it by reconfig, waits for a write to commit, lowers the replicas, waits until the pod is \
            gone and deletes its claims (--keep-volumes keeps them). Only the replica count and the \
            members list change: the image and pod template stay as they are.

            Membership changes go through zkctl's own client, over `kubectl port-forward` to the \
            first pod, as the cluster's superuser, whose password zkctl reads from the Secret \
            <cluster>-zk-superuser that `zkctl generate kubernetes` writes.
            """)
    @OptionGroup var options: K8sTargetOptions
    @Option(help: "Current replicas (default: read from the cluster; needed with --dry-run).")
    var from: Int?
    @Flag(help: "Keep the PersistentVolumeClaims of removed servers.")
    var keepVolumes = false

    func run() async throws {
        let model = try options.model()
        if options.dryRun {
            guard let from else { throw ZKCtlError("pass --from N (the StatefulSet's current replicas) with --dry-run") }
            return options.printPlan(model, .scale(from: from), keepVolumes: keepVolumes)
        }
        try await options.runner(model).scale(from: from, keepVolumes: keepVolumes)
    }
}
