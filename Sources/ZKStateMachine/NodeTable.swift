/// The znodes by path, kept in 256 shards. An image of the tree (`DataTree.freeze()`) shares the
/// shards; the tree's first change to a shard after that copies only that shard, so no single
/// change pays for copying the whole table (a million entries take about 60 ms to copy).
public struct NodeTable: Sequence {
    static let shardCount = 256
    private var shards: [[String: Znode]] = Array(repeating: [:], count: shardCount)
    public private(set) var count = 0

    public init() {}

    @inline(__always) static func shard(_ path: String) -> Int { path.hashValue & (shardCount - 1) }

    public subscript(path: String) -> Znode? {
        get { shards[Self.shard(path)][path] }
        set {
            let i = Self.shard(path)
            if let n = newValue {
                if shards[i].updateValue(n, forKey: path) == nil { count += 1 }
            } else if shards[i].removeValue(forKey: path) != nil {
                count -= 1
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey path: String) -> Znode? {
        let removed = shards[Self.shard(path)].removeValue(forKey: path)
        if removed != nil { count -= 1 }
        return removed
    }

    public mutating func removeAll(keepingCapacity keep: Bool = false) {
        for i in shards.indices { shards[i].removeAll(keepingCapacity: keep) }
        count = 0
    }

    public mutating func reserveCapacity(_ n: Int) {
        let each = n / Self.shardCount + 1
        for i in shards.indices { shards[i].reserveCapacity(each) }
    }

    public func makeIterator() -> FlattenSequence<[[String: Znode]]>.Iterator {
        shards.joined().makeIterator()
    }
}
