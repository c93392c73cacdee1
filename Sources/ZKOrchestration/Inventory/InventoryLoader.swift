import Yams

/// One thing wrong with an inventory, located by key path and line.
public struct InventoryProblem: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { "line \($0)" } ?? "-"
        return "\(location): \(path): \(message)"
    }
}

/// Every problem found in one inventory, reported at once.
public struct InventoryError: Error, Equatable, CustomStringConvertible {
    public var source: String
    public var problems: [InventoryProblem]

    public var description: String {
        let noun = problems.count == 1 ? "problem" : "problems"
        var lines = ["\(source): \(problems.count) \(noun) in the inventory (fix them and run again):"]
        lines += problems.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Reads an Ansible YAML inventory strictly and turns it into an `Inventory`.
///
/// Layout (both Ansible and zkctl read it):
///
///     all:                      # optional wrapper
///       vars: {...}             # lowest precedence
///       children:
///         zookeeper:            # the group zkctl reads
///           vars: {zk_cluster: ..., zk_engine: ..., ...}
///           hosts:
///             zk1: {zk_id: 1, ansible_host: 10.0.0.1}
///
/// Other groups are left alone. Inside the `zookeeper` group and `all`, every key must be
/// known: `zk_*` keys listed in `clusterKeys`/`hostKeys`, or Ansible's own `ansible_*` keys.
public enum InventoryLoader {
    public static let groupName = "zookeeper"

    /// Cluster-wide keys (group vars).
    public static let clusterKeys: [String] = [
        "zk_cluster", "zk_engine", "zk_version", "zk_tick_time", "zk_init_limit", "zk_sync_limit",
        "zk_client_port", "zk_quorum_port", "zk_election_port", "zk_data_dir", "zk_datalog_dir",
        "zk_conf_dir", "zk_log_dir",
        "zk_4lw_whitelist", "zk_max_client_cnxns", "zk_autopurge_snap_retain_count",
        "zk_autopurge_purge_interval", "zk_apache_home", "zk_java_heap_mb", "zk_allow_even_voters", "zk_zkserver",
        "zk_tls", "zk_secure_client_port", "zk_tls_secret", "zk_metrics_port", "zk_admin_port",
    ]
    /// Per-host keys (host vars). Ports here override the cluster's base ports.
    public static let hostKeys: [String] = [
        "zk_id", "zk_role", "zk_host", "zk_client_port", "zk_quorum_port", "zk_election_port", "zk_metrics_port", "zk_admin_port",
    ]

    public static func load(path: String) throws -> Inventory {
        guard FileSystem.exists(path), !FileSystem.isDirectory(path), let text = try? FileSystem.readString(path) else {
            throw ZKCtlError("cannot read inventory file \(path); check the path given to -i (examples are in inventory/)")
        }
        let base = (path.split(separator: "/").last.map(String.init) ?? path)
        let stem = base.hasSuffix(".yaml") ? String(base.dropLast(5)) : (base.hasSuffix(".yml") ? String(base.dropLast(4)) : base)
        return try parse(yaml: text, source: path, defaultName: stem)
    }

    public static func parse(yaml: String, source: String = "<inventory>", defaultName: String = "local") throws -> Inventory {
        var reader = Reader()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw InventoryError(source: source, problems: [
                InventoryProblem(path: "-", line: yamlErrorLine(error), message: "not valid YAML: \(firstLine(of: error))"),
            ])
        }
        guard let root, let rootMap = root.mapping else {
            throw InventoryError(source: source, problems: [
                InventoryProblem(path: "-", line: root?.mark?.line, message: "expected a mapping of Ansible groups at the top level"),
            ])
        }
        reader.checkDuplicates(rootMap, path: "")
        let inventory = reader.read(root: rootMap, defaultName: defaultName)
        if !reader.problems.isEmpty || inventory == nil {
            throw InventoryError(source: source, problems: reader.problems.enumerated().sorted {
                ($0.element.line ?? Int.max, $0.offset) < ($1.element.line ?? Int.max, $1.offset)
            }.map(\.element))
        }
        return inventory!
    }

    static func firstLine(of error: Error) -> String {
        String(describing: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    }

    static func yamlErrorLine(_ error: Error) -> Int? {
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                return mark.line
            default: return nil
            }
        }
        return nil
    }
}

// MARK: - Reading

extension InventoryLoader {
    struct Located<T> {
        var value: T
        var line: Int?
        var path: String
    }

    struct Reader {
        var problems: [InventoryProblem] = []

        mutating func problem(_ path: String, _ line: Int?, _ message: String) {
            problems.append(InventoryProblem(path: path, line: line, message: message))
        }

        func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : "\(a).\(b)" }

        mutating func checkDuplicates(_ map: Node.Mapping, path: String) {
            var seen: Set<String> = []
            for (k, _) in map {
                let key = k.string ?? "\(k)"
                if !seen.insert(key).inserted {
                    problem(join(path, key), k.mark?.line, "duplicate key")
                }
            }
        }

        /// Finds the `zookeeper` group: at the top level or under `all.children` (any depth of children).
        mutating func findGroup(_ map: Node.Mapping, path: String) -> (Node, String)? {
            for (k, v) in map where k.string == InventoryLoader.groupName {
                return (v, join(path, InventoryLoader.groupName))
            }
            for (k, v) in map {
                guard let name = k.string, let group = v.mapping, let children = group["children"]?.mapping else { continue }
                if let found = findGroup(children, path: join(join(path, name), "children")) { return found }
            }
            return nil
        }

        mutating func read(root: Node.Mapping, defaultName: String) -> Inventory? {
            var groupVars: [String: Located<Node>] = [:]
            // `all.vars` first (lowest precedence).
            if let all = root["all"] {
                if let allMap = all.mapping {
                    checkDuplicates(allMap, path: "all")
                    checkGroupKeys(allMap, path: "all")
                    if let vars = allMap["vars"] {
                        collectVars(vars, path: "all.vars", allowed: InventoryLoader.clusterKeys, into: &groupVars)
                    }
                } else if !(all.null != nil) {
                    problem("all", all.mark?.line, "expected a mapping with hosts/vars/children")
                }
            }
            guard let (groupNode, groupPath) = findGroup(root, path: "") else {
                problem(InventoryLoader.groupName, nil,
                        "no '\(InventoryLoader.groupName)' group; add one at the top level or under all.children")
                return nil
            }
            guard let group = groupNode.mapping else {
                problem(groupPath, groupNode.mark?.line, "expected a mapping with hosts and vars")
                return nil
            }
            checkDuplicates(group, path: groupPath)
            checkGroupKeys(group, path: groupPath)
            if let vars = group["vars"] {
                collectVars(vars, path: join(groupPath, "vars"), allowed: InventoryLoader.clusterKeys, into: &groupVars)
            }
            if let children = group["children"], let map = children.mapping, !map.isEmpty {
                problem(join(groupPath, "children"), children.mark?.line,
                        "nested groups under '\(InventoryLoader.groupName)' are not supported; list the servers under hosts")
            }
            let settings = readSettings(groupVars, groupLine: group["vars"]?.mark?.line ?? groupNode.mark?.line,
                                        varsPath: join(groupPath, "vars"), defaultName: defaultName)

            guard let hostsNode = group["hosts"], let hosts = hostsNode.mapping, !hosts.isEmpty else {
                problem(join(groupPath, "hosts"), group["hosts"]?.mark?.line ?? groupNode.mark?.line,
                        "no hosts; list at least one server under hosts")
                return nil
            }
            checkDuplicates(hosts, path: join(groupPath, "hosts"))
            var raw: [(name: String, line: Int?, path: String, vars: [String: Located<Node>])] = []
            for (k, v) in hosts {
                let name = k.string ?? "\(k)"
                let hostPath = join(join(groupPath, "hosts"), name)
                var vars: [String: Located<Node>] = [:]
                if v.null == nil {
                    collectVars(v, path: hostPath, allowed: InventoryLoader.hostKeys, into: &vars)
                }
                raw.append((name, k.mark?.line, hostPath, vars))
            }

            // Addresses first: ports default to base + id - 1 when hosts share an address.
            var nodes: [(NodeSpec, path: String, line: Int?)] = []
            var addressCount: [String: Int] = [:]
            var addresses: [String] = []
            for h in raw {
                let address = string(h.vars["zk_host"]) ?? string(h.vars["ansible_host"]) ?? ClusterSettings.Defaults.host
                addresses.append(address)
                addressCount[address, default: 0] += 1
            }
            for (index, h) in raw.enumerated() {
                let address = addresses[index]
                guard let id = int(h.vars["zk_id"], range: 1...255) else {
                    if h.vars["zk_id"] == nil {
                        problem(join(h.path, "zk_id"), h.line, "missing server id; add zk_id: <1-255> (unique per ensemble)")
                    }
                    continue
                }
                var role = NodeRole.participant
                if let r = h.vars["zk_role"] {
                    if let s = r.value.string, let parsed = NodeRole(rawValue: s) {
                        role = parsed
                    } else {
                        problem(r.path, r.line, "unknown role '\(r.value.string ?? "?")'; use participant or observer")
                    }
                }
                let shared = (addressCount[address] ?? 0) > 1
                typealias D = ClusterSettings.Defaults
                func port(_ key: String, _ base: Int) -> Int {
                    if let explicit = int(h.vars[key], range: 1...65535) { return explicit }
                    return shared ? base + id - 1 : base
                }
                let spec = NodeSpec(name: h.name, id: id, role: role, host: address,
                                    clientPort: port("zk_client_port", settings?.clientPort ?? D.clientPort),
                                    quorumPort: port("zk_quorum_port", settings?.quorumPort ?? D.quorumPort),
                                    electionPort: port("zk_election_port", settings?.electionPort ?? D.electionPort),
                                    metricsPort: port("zk_metrics_port", settings?.metricsPort ?? D.metricsPort),
                                    adminPort: port("zk_admin_port", settings?.adminPort ?? D.adminPort))
                nodes.append((spec, h.path, h.line))
            }
            // With zk_tls, the TLS client port must not collide either (it follows clientPort's offset).
            let securePort: ((NodeSpec) -> Int)? = settings.flatMap { s in
                s.tls ? { s.secureClientPort + ($0.clientPort - s.clientPort) } : nil
            }
            validate(nodes: nodes, hostsPath: join(groupPath, "hosts"), hostsLine: hostsNode.mark?.line,
                     allowEven: settings?.allowEvenVoters == true, securePort: securePort,
                     metrics: (settings?.engine ?? .bundled) == .bundled)
            guard let settings else { return nil }
            return Inventory(cluster: settings, nodes: nodes.map { $0.0 })
        }

        mutating func checkGroupKeys(_ map: Node.Mapping, path: String) {
            for (k, v) in map {
                guard let key = k.string else { continue }
                if !["hosts", "vars", "children"].contains(key) {
                    problem(join(path, key), k.mark?.line,
                            "unknown key; an Ansible group holds only hosts, vars and children" + suggestion(key, ["hosts", "vars", "children"]))
                }
                if key == "vars", v.mapping == nil, v.null == nil {
                    problem(join(path, key), v.mark?.line, "expected a mapping of variables")
                }
            }
        }

        mutating func collectVars(_ node: Node, path: String, allowed: [String], into out: inout [String: Located<Node>]) {
            guard let map = node.mapping else {
                if node.null == nil { problem(path, node.mark?.line, "expected a mapping of variables") }
                return
            }
            checkDuplicates(map, path: path)
            for (k, v) in map {
                guard let key = k.string else { continue }
                let keyPath = join(path, key)
                if key.hasPrefix("ansible_") {
                    out[key] = Located(value: v, line: k.mark?.line, path: keyPath)
                    continue
                }
                guard allowed.contains(key) else {
                    let other = allowed == InventoryLoader.hostKeys ? InventoryLoader.clusterKeys : InventoryLoader.hostKeys
                    var message = "unknown key"
                    if other.contains(key) {
                        message += allowed == InventoryLoader.hostKeys
                            ? "; \(key) is a cluster setting: move it to the group's vars"
                            : "; \(key) is a per-host setting: move it under the host"
                    } else {
                        message += suggestion(key, allowed)
                    }
                    problem(keyPath, k.mark?.line, message)
                    continue
                }
                out[key] = Located(value: v, line: k.mark?.line, path: keyPath)
            }
        }

        func suggestion(_ key: String, _ candidates: [String]) -> String {
            let best = candidates.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 }
            if let best, best.1 <= 3 { return " (did you mean \(best.0)?)" }
            return ""
        }

        mutating func string(_ v: Located<Node>?) -> String? {
            guard let v else { return nil }
            guard let s = v.value.scalar?.string else {
                problem(v.path, v.line, "expected a string")
                return nil
            }
            return s
        }

        mutating func int(_ v: Located<Node>?, range: ClosedRange<Int>) -> Int? {
            guard let v else { return nil }
            guard let i = v.value.int else {
                problem(v.path, v.line, "expected an integer in \(range.lowerBound)...\(range.upperBound), got '\(v.value.scalar?.string ?? "a collection")'")
                return nil
            }
            guard range.contains(i) else {
                problem(v.path, v.line, "\(i) is out of range \(range.lowerBound)...\(range.upperBound)")
                return nil
            }
            return i
        }

        mutating func readSettings(_ vars: [String: Located<Node>], groupLine: Int?, varsPath: String,
                                   defaultName: String) -> ClusterSettings? {
            typealias D = ClusterSettings.Defaults
            var ok = true
            var engine: Engine?
            if let e = vars["zk_engine"] {
                if let s = e.value.string, let parsed = Engine(rawValue: s) {
                    engine = parsed
                } else {
                    problem(e.path, e.line, "unknown engine '\(e.value.string ?? "?")'; use bundled or apache")
                    ok = false
                }
            } else {
                problem(join(varsPath, "zk_engine"), groupLine, "missing engine; add zk_engine: bundled (zkserver) or zk_engine: apache")
                ok = false
            }
            var name = defaultName
            if let n = vars["zk_cluster"] {
                if let s = string(n) { name = s } else { ok = false }
            }
            if !ClusterName.isValid(name) {
                problem(vars["zk_cluster"]?.path ?? join(varsPath, "zk_cluster"), vars["zk_cluster"]?.line ?? groupLine,
                        "cluster name '\(name)' must be 1-40 characters of a-z, 0-9, '-' or '_', starting with a letter or digit")
                ok = false
            }
            func intSetting(_ key: String, _ def: Int, _ range: ClosedRange<Int>) -> Int {
                if vars[key] == nil { return def }
                if let v = int(vars[key], range: range) { return v }
                ok = false
                return def
            }
            let tick = intSetting("zk_tick_time", D.tickTimeMs, 1...600_000)
            let initLimit = intSetting("zk_init_limit", D.initLimitTicks, 1...1000)
            let syncLimit = intSetting("zk_sync_limit", D.syncLimitTicks, 1...1000)
            let client = intSetting("zk_client_port", D.clientPort, 1...65535)
            let quorum = intSetting("zk_quorum_port", D.quorumPort, 1...65535)
            let election = intSetting("zk_election_port", D.electionPort, 1...65535)
            let maxCnxns = intSetting("zk_max_client_cnxns", D.maxClientConnections, 0...100_000)
            let retain = intSetting("zk_autopurge_snap_retain_count", D.autopurgeSnapRetainCount, 3...1000)
            let purge = intSetting("zk_autopurge_purge_interval", D.autopurgePurgeIntervalHours, 0...10_000)
            let heap = intSetting("zk_java_heap_mb", D.javaHeapMB, 32...65536)
            var whitelist = D.fourLetterWordWhitelist
            if let w = vars["zk_4lw_whitelist"] {
                if let seq = w.value.sequence {
                    whitelist = seq.compactMap { $0.string }
                } else if let s = w.value.string {
                    whitelist = s.split(separator: ",").map { String($0).trimmed(" ") }
                } else {
                    problem(w.path, w.line, "expected a list of four-letter words or a comma-separated string")
                    ok = false
                }
                let needed = ["ruok", "srvr", "mntr"]
                if !whitelist.contains("*"), let missing = Optional(needed.filter { !whitelist.contains($0) }), !missing.isEmpty {
                    problem(w.path, w.line, "zkctl's health checks need \(missing.joined(separator: ", ")); add them or use '*'")
                    ok = false
                }
            }
            let version = vars["zk_version"].flatMap { $0.value.scalar?.string }
            let dataDir = string(vars["zk_data_dir"]) ?? D.dataDir
            let dataLogDir = string(vars["zk_datalog_dir"]) ?? dataDir
            let apacheHome = string(vars["zk_apache_home"])
            let confDir = string(vars["zk_conf_dir"]) ?? D.confDir
            let logDir = string(vars["zk_log_dir"]) ?? D.logDir
            guard ok, let engine else { return nil }
            var settings = ClusterSettings(
                name: name, engine: engine, version: version, tickTimeMs: tick, initLimitTicks: initLimit,
                syncLimitTicks: syncLimit, clientPort: client, quorumPort: quorum, electionPort: election,
                dataDir: dataDir, dataLogDir: dataLogDir, confDir: confDir, logDir: logDir,
                fourLetterWordWhitelist: whitelist,
                maxClientConnections: maxCnxns, autopurgeSnapRetainCount: retain,
                autopurgePurgeIntervalHours: purge, apacheHome: apacheHome, javaHeapMB: heap)
            // Set by `zkctl scale --allow-even` (and while a scale passes through an even count).
            settings.allowEvenVoters = vars["zk_allow_even_voters"]?.value.scalar?.string.lowercased() == "true"
            settings.zkserver = string(vars["zk_zkserver"])
            if let v = vars["zk_tls"] {
                switch v.value.scalar?.string.lowercased() {
                case "true", "yes": settings.tls = true
                case "false", "no": settings.tls = false
                default: problem(v.path, v.line, "zk_tls must be true or false"); return nil
                }
            }
            settings.secureClientPort = intSetting("zk_secure_client_port", D.secureClientPort, 1...65535)
            settings.metricsPort = intSetting("zk_metrics_port", D.metricsPort, 1...65535)
            settings.adminPort = intSetting("zk_admin_port", D.adminPort, 1...65535)
            guard ok else { return nil }
            settings.tlsSecret = string(vars["zk_tls_secret"])
            return settings
        }

        mutating func validate(nodes: [(NodeSpec, path: String, line: Int?)], hostsPath: String, hostsLine: Int?,
                               allowEven: Bool = false, securePort: ((NodeSpec) -> Int)? = nil, metrics: Bool = true) {
            var byId: [Int: String] = [:]
            for (node, path, line) in nodes {
                if let first = byId[node.id] {
                    problem(join(path, "zk_id"), line, "duplicate server id \(node.id) (also used by \(first)); ids must be unique")
                } else {
                    byId[node.id] = node.name
                }
            }
            var byEndpoint: [String: String] = [:]
            // A node with a duplicate id gets derived ports that collide too; report the id only.
            for (node, path, line) in nodes where byId[node.id] == node.name {
                var ports = [("client", node.clientPort), ("quorum", node.quorumPort), ("election", node.electionPort)]
                if let securePort { ports.append(("secure_client", securePort(node))) }
                if metrics { ports += [("metrics", node.metricsPort), ("admin", node.adminPort)] }
                for (kind, port) in ports {
                    let key = "\(node.host):\(port)"
                    let me = "\(node.name) \(kind) port"
                    if let first = byEndpoint[key] {
                        problem(join(path, "zk_\(kind)_port"), line,
                                "duplicate port \(key): \(me) collides with \(first); give each node distinct ports")
                    } else {
                        byEndpoint[key] = me
                    }
                }
            }
            let voters = nodes.filter { $0.0.role == .participant }.count
            if voters == 0 {
                problem(hostsPath, hostsLine, "no voters; at least one host needs zk_role: participant")
            } else if voters % 2 == 0 && !allowEven {
                problem(hostsPath, hostsLine,
                        "\(voters) voters: an even number tolerates no more failures than \(voters - 1); add or remove a voter, or make one an observer")
            }
        }
    }
}

/// Cluster names become directory names and labels.
public enum ClusterName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 40 else { return false }
        let allowed = "abcdefghijklmnopqrstuvwxyz0123456789-_"
        guard allowed.unicodeScalars.contains(first), first != "-", first != "_" else { return false }
        return name.unicodeScalars.allSatisfy { allowed.unicodeScalars.contains($0) }
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}

