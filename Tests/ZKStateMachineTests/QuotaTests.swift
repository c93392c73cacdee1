import NIOCore
import Testing
import ZKProtocol
@testable import ZKStateMachine

/// Quotas as zkCli sets them: the nodes under /zookeeper/quota, the stats the server keeps, and the
/// refusals with enforceQuota.
private func setQuota(_ h: Harness, _ root: String, limits: String) {
    var p = DataTree.quotaPath
    for part in root.split(separator: "/") {
        p += "/" + part
        _ = h.create(p, data: nil)
    }
    _ = h.create(p + "/" + DataTree.limitsNode, data: Array(limits.utf8))
    _ = h.create(p + "/" + DataTree.statsNode, data: Array("count=0,bytes=0".utf8))
}

private func stats(_ h: Harness, _ root: String) -> String {
    String(decoding: h.tree.node(DataTree.quotaPath + root + "/" + DataTree.statsNode)?.data ?? [], as: UTF8.self)
}

@Test func statsTrackReadsEveryFormZkCliWrites() {
    #expect(StatsTrack(text: "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1") == StatsTrack(count: 5))
    #expect(StatsTrack(text: "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3") == StatsTrack(countHardLimit: 3))
    #expect(StatsTrack(text: "count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=-1") == StatsTrack(bytes: 100))
    #expect(StatsTrack(text: "count=1,bytes=-1") == StatsTrack(count: 1))
    // Malformed: what cannot be read limits nothing.
    #expect(StatsTrack(text: "count=x,,;bytes=;garbage") == StatsTrack())
    #expect(StatsTrack(count: 2, bytes: 5).statsText == "count=2,bytes=5")
}

@Test func statsFollowCreatesSetDataAndDeletesWithoutVersionsOrWatches() {
    let h = Harness()
    _ = h.create("/qa", data: Array("hello".utf8))
    setQuota(h, "/qa", limits: "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1")
    #expect(stats(h, "/qa") == "count=1,bytes=5")
    _ = h.create("/qa/x", data: [1, 2, 3])
    _ = h.run(.setData(SetDataRequest(path: "/qa", data: [1], version: -1)))
    #expect(stats(h, "/qa") == "count=2,bytes=4")
    _ = h.delete("/qa/x")
    #expect(stats(h, "/qa") == "count=1,bytes=1")
    let statsNode = h.tree.node(DataTree.quotaPath + "/qa/" + DataTree.statsNode)!.stat
    #expect(statsNode.version == 0 && statsNode.mzxid == statsNode.czxid)
    #expect(!h.triggers.contains { $0.path.hasSuffix(DataTree.statsNode) && $0.kind == .dataChanged })
    // Paths outside the root, and the root's own quota nodes, do not count.
    _ = h.create("/qb", data: [1, 2])
    #expect(stats(h, "/qa") == "count=1,bytes=1")
}

@Test func aStatsNodeIsRecountedWhateverTheClientWroteAndLimitsGoWithTheirNode() {
    let h = Harness()
    _ = h.create("/qa", data: [])
    _ = h.create("/qa/y", data: [9])
    _ = h.create(DataTree.quotaPath + "/qa", data: nil)
    _ = h.create(DataTree.quotaPath + "/qa/" + DataTree.limitsNode, data: Array("count=1,bytes=-1".utf8))
    _ = h.create(DataTree.quotaPath + "/qa/" + DataTree.statsNode, data: Array("garbage=1,bytes=0".utf8))
    #expect(stats(h, "/qa") == "count=2,bytes=1")
    #expect(h.tree.quotaRoot(of: "/qa/y/z") == "/qa" && h.tree.quotaRoot(of: "/qab") == nil)
    _ = h.delete(DataTree.quotaPath + "/qa/" + DataTree.limitsNode)
    #expect(h.tree.quotaRoot(of: "/qa/y") == nil)
}

@Test func enforcedHardLimitsRefuseCreatesAndSetDataAndAMultiAppliesNothing() {
    let h = Harness()
    h.prep.options.enforceQuota = true
    _ = h.create("/qc")
    setQuota(h, "/qc", limits: "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3")
    #expect(h.create("/qc/a").isSuccess && h.create("/qc/b").isSuccess)
    // The root counts as one: the third child would make four.
    #expect(h.create("/qc/c") == .failure(.quotaExceeded))
    _ = h.create("/qd", data: [])
    setQuota(h, "/qd", limits: "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1")
    #expect(h.run(.setData(SetDataRequest(path: "/qd", data: Array(repeating: 1, count: 10), version: -1))).isSuccess)
    #expect(h.run(.setData(SetDataRequest(path: "/qd", data: Array(repeating: 1, count: 11), version: -1))) == .failure(.quotaExceeded))
    let multi = h.run(.multi([.create(CreateRequest(path: "/qd/m", data: [1], acl: ACL.openUnsafe, flags: 0), op: .create),
                              .create(CreateRequest(path: "/other", data: nil, acl: ACL.openUnsafe, flags: 0), op: .create)]))
    #expect(multi == .success(.multi([.error(.quotaExceeded), .error(.runtimeInconsistency)])))
    #expect(h.tree.node("/other") == nil)
    #expect(h.prep.quotaRefusals == ["qc": 1, "qd": 2])
    // Soft limits, or no enforcement: tracked, never refused.
    h.prep.options.enforceQuota = false
    #expect(h.create("/qc/c").isSuccess)
    #expect(stats(h, "/qc") == "count=4,bytes=0")
}

@Test func quotasAreRecountedWhenASnapshotIsLoaded() throws {
    let h = Harness()
    _ = h.create("/qa", data: [1, 2])
    setQuota(h, "/qa", limits: "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2")
    var r = JuteReader(h.tree.serialized(), maxLength: Int(Int32.max))
    let copy = try DataTree.deserialize(&r)
    #expect(copy.quotaLimits == h.tree.quotaLimits && copy.quotaUsage("/qa") == StatsTrack(count: 1, bytes: 2))
    #expect(copy.quotaRefusal(path: "/qa/x", newNodes: 1, bytesDelta: 0) == nil)
    #expect(copy.quotaRefusal(path: "/qa/x/y", newNodes: 2, bytesDelta: 0)?.root == "/qa")
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true } else { return false } }
}
