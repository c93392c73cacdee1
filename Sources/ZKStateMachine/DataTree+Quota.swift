import ZKProtocol

/// Apache ZooKeeper's quota text (`StatsTrack`), in limits (`count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1`,
/// as zkCli writes it, or the older `count=5,bytes=-1`) and in stats (`count=2,bytes=5`). -1 is "no limit".
public struct StatsTrack: Equatable, Sendable {
    public var count: Int64 = -1
    public var bytes: Int64 = -1
    public var countHardLimit: Int64 = -1
    public var byteHardLimit: Int64 = -1

    public init(count: Int64 = -1, bytes: Int64 = -1, countHardLimit: Int64 = -1, byteHardLimit: Int64 = -1) {
        self.count = count; self.bytes = bytes; self.countHardLimit = countHardLimit; self.byteHardLimit = byteHardLimit
    }

    /// Parts split on runs of `,` and `;`, each `key=value`; a missing key, an empty value or one that
    /// is not a number is -1 (a malformed limit limits nothing, and the server keeps serving).
    public init(text: String) {
        for part in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let kv = part.split(separator: "=", omittingEmptySubsequences: false)
            guard kv.count >= 2 else { continue }
            let value = Int64(kv[1]) ?? -1
            switch kv[0] {
            case "count": count = value
            case "bytes": bytes = value
            case "countHardLimit": countHardLimit = value
            case "byteHardLimit": byteHardLimit = value
            default: break
            }
        }
    }

    /// The stats form the server writes: `count=<n>,bytes=<n>`.
    public var statsText: String { "count=\(count),bytes=\(bytes)" }
}

/// Why a write is refused by a quota (`zookeeper.enforceQuota`), for the log.
public struct QuotaRefusal: Equatable, Sendable {
    public var root: String
    public var description: String
}

extension DataTree {
    public static let limitsNode = "zookeeper_limits"
    public static let statsNode = "zookeeper_stats"
    static let quotaPrefix = quotaPath + "/"

    /// The quota root governing `path`: the longest prefix that has limits (never `/`, never a path
    /// under /zookeeper/quota itself).
    public func quotaRoot(of path: String) -> String? {
        guard !quotaLimits.isEmpty, !path.hasPrefix(Self.quotaPath) else { return nil }
        var p = path
        while p != "/" && !p.isEmpty {
            if quotaLimits[p] != nil { return p }
            p = PathValidation.parent(of: p)
        }
        return nil
    }

    /// The usage a quota root's stats node shows.
    public func quotaUsage(_ root: String) -> StatsTrack? { quotaUsage[root] }

    /// A create of `bytes` bytes at `path`, or a setData adding `bytesDelta`, checked against the hard
    /// limits of its quota root (Apache's comparison: refused when the new total is over the limit).
    public func quotaRefusal(path: String, newNodes: Int64, bytesDelta: Int64) -> QuotaRefusal? {
        guard let root = quotaRoot(of: path), let limits = quotaLimits[root], let used = quotaUsage[root] else { return nil }
        if newNodes > 0 && limits.countHardLimit > -1 && used.count + newNodes > limits.countHardLimit {
            return QuotaRefusal(root: root, description: "current count=\(used.count + newNodes), hardCountLimit=\(limits.countHardLimit)")
        }
        if limits.byteHardLimit > -1 && used.bytes + bytesDelta > limits.byteHardLimit {
            return QuotaRefusal(root: root, description: "current bytes=\(used.bytes + bytesDelta), hardByteLimit=\(limits.byteHardLimit)")
        }
        return nil
    }

    /// Apache's quota gauges: per namespace (the first component of a quota root, e.g. `app` for
    /// `/app/a`), the sum over its roots of the count and bytes limits (the hard one if set, else the
    /// soft one) and usage. Namespaces sorted.
    public func quotaNamespaces() -> [(namespace: String, countLimit: Int64, bytesLimit: Int64, count: Int64, bytes: Int64)] {
        var out: [String: (Int64, Int64, Int64, Int64)] = [:]
        for (root, limits) in quotaLimits {
            let ns = String(root.split(separator: "/").first ?? "")
            let used = quotaUsage[root] ?? StatsTrack(count: 0, bytes: 0)
            var v = out[ns] ?? (0, 0, 0, 0)
            v.0 += limits.countHardLimit > -1 ? limits.countHardLimit : limits.count
            v.1 += limits.byteHardLimit > -1 ? limits.byteHardLimit : limits.bytes
            v.2 += used.count
            v.3 += used.bytes
            out[ns] = v
        }
        return out.keys.sorted().map { ($0, out[$0]!.0, out[$0]!.1, out[$0]!.2, out[$0]!.3) }
    }

    /// Keeps quota roots, limits and stats current after a node at `path` was created (`delta` +1),
    /// deleted (-1) or had its data changed (0), with `bytesDelta` bytes more data.
    func quotaChanged(_ path: String, nodes delta: Int64, bytes bytesDelta: Int64) {
        if path.hasPrefix(Self.quotaPrefix) {
            let name = PathValidation.name(of: path)
            guard name == Self.limitsNode || name == Self.statsNode else { return }
            let root = String(PathValidation.parent(of: path).dropFirst(Self.quotaPath.count))
            guard !root.isEmpty else { return }
            if name == Self.limitsNode {
                if delta < 0 {
                    quotaLimits[root] = nil
                    quotaUsage[root] = nil
                    return
                }
                quotaLimits[root] = StatsTrack(text: String(decoding: nodes[path]?.data ?? [], as: UTF8.self))
                if delta > 0 { recomputeQuota(root) }
            } else if delta > 0, quotaLimits[root] != nil {
                recomputeQuota(root)  // whatever the client wrote, the stats are the tree's
            }
            return
        }
        guard let root = quotaRoot(of: path), var used = quotaUsage[root] else { return }
        used.count += delta
        used.bytes += bytesDelta
        quotaUsage[root] = used
        writeStats(root)
    }

    /// Counts the subtree of `root` (itself included) and rewrites its stats node.
    func recomputeQuota(_ root: String) {
        var used = StatsTrack(count: 0, bytes: 0)
        if let n = nodes[root] {
            var stack: [(String, Znode)] = [(root, n)]
            while let (p, node) = stack.popLast() {
                used.count += 1
                used.bytes += Int64(node.data?.count ?? 0)
                for c in node.children {
                    let cp = PathValidation.join(p, c)
                    if let cn = nodes[cp] { stack.append((cp, cn)) }
                }
            }
        }
        quotaUsage[root] = used
        writeStats(root)
    }

    /// The stats node's data, changed in memory only: no zxid, version, mtime or watch event, as Apache.
    func writeStats(_ root: String) {
        let path = Self.quotaPath + root + "/" + Self.statsNode
        guard let n = nodes[path], let used = quotaUsage[root] else { return }
        let text = Array(used.statsText.utf8)
        if n.data == text { return }
        modify(path, n) { $0.data = text }
    }

    /// Every quota root under /zookeeper/quota, with its stats counted from the tree (after a load:
    /// the stats a snapshot holds are not trusted).
    func rebuildQuotas() {
        quotaLimits = [:]
        quotaUsage = [:]
        var stack = [Self.quotaPath]
        while let p = stack.popLast() {
            guard let n = nodes[p] else { continue }
            for c in n.children {
                let cp = PathValidation.join(p, c)
                if c == Self.limitsNode {
                    let root = String(p.dropFirst(Self.quotaPath.count))
                    if !root.isEmpty { quotaLimits[root] = StatsTrack(text: String(decoding: nodes[cp]?.data ?? [], as: UTF8.self)) }
                } else {
                    stack.append(cp)
                }
            }
        }
        for root in quotaLimits.keys.sorted() { recomputeQuota(root) }
    }
}
