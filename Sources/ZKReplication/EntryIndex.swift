/// Entries with strictly increasing zxids after a snapshot point, with the lookups a `LogStore` needs.
/// Shared by the in-memory and the on-disk stores.
public struct EntryIndex: Sendable {
    public private(set) var entries: [Entry] = []

    public init(_ entries: [Entry] = []) { self.entries = entries }

    public var last: Entry? { entries.last }
    public var count: Int { entries.count }

    /// Index of the first entry with zxid > `zxid`.
    public func upperBound(_ zxid: Zxid) -> Int { entries.upperBound(zxid) }

    /// True if `zxid` is `base` (the snapshot point) or an entry's zxid.
    public func contains(_ zxid: Zxid, base: Zxid) -> Bool {
        if zxid == base { return true }
        let i = upperBound(zxid)
        return i > 0 && entries[i - 1].zxid == zxid
    }

    public func greatest(atOrBelow zxid: Zxid, base: Zxid) -> Zxid {
        if zxid < base { return .zero }
        let i = upperBound(zxid)
        return i > 0 ? entries[i - 1].zxid : base
    }

    public func entries(after zxid: Zxid, limit: Int) -> [Entry] {
        let start = upperBound(zxid)
        let end = min(entries.count, start + max(0, limit))
        return start < end ? Array(entries[start..<end]) : []
    }

    public func entry(at zxid: Zxid) -> Entry? {
        let i = upperBound(zxid)
        return i > 0 && entries[i - 1].zxid == zxid ? entries[i - 1] : nil
    }

    public mutating func append(_ new: [Entry]) { entries.append(contentsOf: new) }
    public mutating func removeAll() { entries.removeAll() }
    /// Drops every entry after `zxid`.
    public mutating func truncate(after zxid: Zxid) { entries.removeSubrange(upperBound(zxid)...) }
    /// Drops every entry at or before `zxid` (after a snapshot covers them).
    public mutating func dropPrefix(through zxid: Zxid) { entries.removeSubrange(..<upperBound(zxid)) }
}

extension Array where Element == Entry {
    /// Index of the first entry with zxid > `zxid`, by binary search (the zxids strictly increase).
    func upperBound(_ zxid: Zxid) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid].zxid <= zxid { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
