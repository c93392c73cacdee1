import Foundation
import Testing
import ZKReplication
import ZKStateMachine
@testable import ZKStorage

func tempDir() -> String {
    let d = NSTemporaryDirectory() + "zkstorage-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func records(_ range: ClosedRange<Int64>) -> [TxnLog.Record] {
    range.map { TxnLog.Record(zxid: $0, payload: Array("txn-\($0)".utf8)) }
}

@Test func appendedRecordsComeBackInOrder() throws {
    let d = tempDir()
    let log = try TxnLog(dataLogDir: d)
    try log.append(records(1...5)); try log.sync()
    try log.roll(firstZxid: 6)
    try log.append(records(6...8)); try log.sync()
    var seen: [Int64] = []
    let report = try TxnLog(dataLogDir: d).recover(after: 2) { seen.append($0.zxid) }
    #expect(seen == [3, 4, 5, 6, 7, 8])
    #expect(report.truncatedBytes == 0)
}

/// Where the records of `records(1...n)` end in a fresh segment: header, then per record
/// [len][crc][zxid] and "txn-<n>".
func logicalEnd(_ n: Int64) -> Int {
    TxnLog.magic.count + (1...n).reduce(0) { $0 + 16 + "txn-\($1)".utf8.count }
}

@Test func tornLastRecordIsTruncatedAndAppendingContinues() throws {
    // Torn two ways: the file cut short (a file system that grows with each append), and the record's
    // last bytes still zeros inside the preallocated part of the segment.
    for zeroed in [false, true] {
        let d = tempDir()
        let log = try TxnLog(dataLogDir: d)
        try log.append(records(1...3)); try log.sync()
        let path = log.segmentPath(1)
        let end = logicalEnd(3)
        if zeroed {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.count > end)   // preallocated
            for i in (end - 3)..<end { bytes[i] = 0 }
            try bytes.write(to: URL(fileURLWithPath: path))
        } else {
            truncate(path, off_t(end - 3))   // cut the last record short
        }
        var seen: [Int64] = []
        let again = try TxnLog(dataLogDir: d)
        let report = try again.recover(after: 0) { seen.append($0.zxid) }
        #expect(seen == [1, 2])
        #expect(report.truncatedBytes > 0)
        try again.append(records(3...4)); try again.sync()
        seen = []
        _ = try TxnLog(dataLogDir: d).recover(after: 0) { seen.append($0.zxid) }
        #expect(seen == [1, 2, 3, 4])
    }
}

@Test func preallocatedZerosAreTheCleanEndOfASegment() throws {
    let d = tempDir()
    let log = try TxnLog(dataLogDir: d)
    try log.append(records(1...5)); try log.sync()
    let path = log.segmentPath(1)
    #expect(FileManager.default.fileSize(path) >= Int(TxnLog.preallocationBytes))
    let again = try TxnLog(dataLogDir: d)
    var seen: [Int64] = []
    let report = try again.recover(after: 0) { seen.append($0.zxid) }
    #expect(seen == [1, 2, 3, 4, 5])
    #expect(report.truncatedBytes == 0)
    // Appending resumes right after the last record, not after the zeros.
    try again.append(records(6...7)); try again.sync()
    seen = []
    _ = try TxnLog(dataLogDir: d).recover(after: 0) { seen.append($0.zxid) }
    #expect(seen == [1, 2, 3, 4, 5, 6, 7])
    // Rolling gives the old segment's unused allocation back.
    try again.roll(firstZxid: 8)
    #expect(FileManager.default.fileSize(path) == logicalEnd(7))
    try again.append(records(8...8)); try again.sync()
    seen = []
    _ = try TxnLog(dataLogDir: d).recover(after: 0) { seen.append($0.zxid) }
    #expect(seen == [1, 2, 3, 4, 5, 6, 7, 8])
}

@Test func truncatingASuffixKeepsAppendingInPlace() throws {
    let d = tempDir()
    let log = try TxnLog(dataLogDir: d)
    try log.append(records(1...6)); try log.sync()
    try log.truncate(after: 3)
    try log.append(records(4...5)); try log.sync()
    var seen: [Int64] = []
    let report = try TxnLog(dataLogDir: d).recover(after: 0) { seen.append($0.zxid) }
    #expect(seen == [1, 2, 3, 4, 5])
    #expect(report.truncatedBytes == 0)
}

@Test func corruptionInTheMiddleRefusesToStart() throws {
    let d = tempDir()
    let log = try TxnLog(dataLogDir: d)
    try log.append(records(1...10)); try log.sync()
    let path = log.segmentPath(1)
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    bytes[30] ^= 0xff   // inside the first record
    try bytes.write(to: URL(fileURLWithPath: path))
    #expect(throws: StorageError.self) { _ = try TxnLog(dataLogDir: d).recover(after: 0) { _ in } }
}

@Test func snapshotsFallBackToAnOlderValidOne() throws {
    let d = tempDir()
    let s = try SnapshotStore(dataDir: d)
    try [UInt8](repeating: 1, count: 100).withUnsafeBytes { try s.write(zxid: 5, payload: $0) }
    try [UInt8](repeating: 2, count: 100).withUnsafeBytes { try s.write(zxid: 9, payload: $0) }
    #expect(try s.loadNewest(warn: { _ in })?.zxid == 9)
    var bytes = try Data(contentsOf: URL(fileURLWithPath: s.path(9)))
    bytes[bytes.count - 1] ^= 0xff
    try bytes.write(to: URL(fileURLWithPath: s.path(9)))
    var warnings: [String] = []
    let loaded = try s.loadNewest(warn: { warnings.append($0) })
    #expect(loaded?.zxid == 5 && loaded?.payload == [UInt8](repeating: 1, count: 100))
    #expect(warnings.count == 1)
    try [UInt8](repeating: 3, count: 10).withUnsafeBytes { try s.write(zxid: 12, payload: $0) }
    try [UInt8](repeating: 3, count: 10).withUnsafeBytes { try s.write(zxid: 15, payload: $0) }
    #expect(try s.purge(retain: 3) == 9)
    #expect(try s.list() == [15, 12, 9])
}

@Test func aSnapshotWrittenInPartsReadsBackAsOnePayload() throws {
    let d = tempDir()
    let s = try SnapshotStore(dataDir: d)
    // Larger than the sync interval, in parts that do not line up with it.
    let a = (0..<(FileIO.syncEvery + 123)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let b = (0..<(FileIO.syncEvery * 2 + 5)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    try a.withUnsafeBytes { pa in try b.withUnsafeBytes { pb in try s.write(zxid: 7, parts: [pa, UnsafeRawBufferPointer(start: nil, count: 0), pb]) } }
    let loaded = try s.loadNewest(warn: { _ in })
    #expect(loaded?.zxid == 7)
    let same = loaded?.payload == a + b
    #expect(same, "the parts did not come back as one payload")
}

@Test func crc32cKnownValue() {
    #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
}

extension FileManager {
    func fileSize(_ path: String) -> Int { ((try? attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
}

/// The core asks for snapshot bytes as an effect; the store reads a snapshot file with its metadata on
/// any thread, and a damaged or missing file is nil (the core asks again later).
@Test func snapshotFilesAreReadWithTheirMetadataAndADamagedOneIsNil() throws {
    let d = tempDir()
    let store = try DurableLogStore(dataDir: d, dataLogDir: d)
    _ = try store.recover(warn: { _ in })
    let z = Zxid(epoch: 1, counter: 5)
    let config = try ClusterConfig(voters: [1, 2, 3])
    try store.writeSnapshotFile(at: z, config: config, data: [1, 2, 3])
    try store.adoptSnapshot(at: z, config: config)
    #expect(store.readSnapshot(zxid: z) == Snapshot(meta: SnapshotMeta(zxid: z, config: config), data: [1, 2, 3]))
    #expect(store.readSnapshot(zxid: Zxid(epoch: 1, counter: 6)) == nil)
    // Flip a byte of the file: its checksum no longer matches.
    let path = store.snapshots.path(z.raw)
    var bytes = try FileIO.readAll(path)
    bytes[bytes.count - 2] ^= 0xFF
    let fd = open(path, O_WRONLY | O_TRUNC)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    #expect(store.readSnapshot(zxid: z) == nil)
}

/// A standalone data directory of the previous release: snapshots of the tree alone (the initial one at
/// zxid 0 and a later one), log records after them, no hard state. It is converted once, in place, and
/// reads back with the same data; a conversion interrupted after one file picks up where it stopped.
@Test func aPreviousStandaloneDirectoryIsConvertedOnceAndKeepsItsData() throws {
    let d = tempDir()
    let tree = DataTree()
    let snaps = try SnapshotStore(dataDir: d)
    let empty = Array(tree.serialized().readableBytesView)
    try empty.withUnsafeBytes { try snaps.write(zxid: 0, payload: $0) }
    var triggers: [WatchTrigger] = []
    for i in 1...3 {
        tree.apply(TxnEntry(header: TxnHeader(sessionId: 0, cxid: 0, zxid: Int64(i), time: 0),
                            txn: .create(CreateTxn(path: "/n\(i)", data: [UInt8(i)], acl: [], ephemeralOwner: 0, parentCVersion: Int32(i)))),
                   triggers: &triggers)
    }
    let image = Array(tree.serialized().readableBytesView)
    try image.withUnsafeBytes { try snaps.write(zxid: 3, payload: $0) }
    let log = try TxnLog(dataLogDir: d)
    let later = TxnEntry(header: TxnHeader(sessionId: 0, cxid: 0, zxid: 4, time: 0),
                         txn: .create(CreateTxn(path: "/n4", data: [4], acl: [], ephemeralOwner: 0, parentCVersion: 4)))
    try log.append([TxnLog.Record(zxid: 4, payload: [Entry.Kind.txn.rawValue] + later.encoded())])
    try log.sync()

    // Interrupted: the zxid-0 file was converted, the process stopped before the rest.
    try DurableLogStore.encodeSnapshotPayload(config: nil, data: empty).withUnsafeBytes { try snaps.write(zxid: 0, payload: $0) }
    let store = try DurableLogStore(dataDir: d, dataLogDir: d)
    let said = try #require(try store.convertStandaloneLayout())
    #expect(said.contains("2 snapshots"))
    #expect(try store.convertStandaloneLayout() == nil)
    let rec = try store.recover(warn: { _ in })
    #expect(rec.snapshot?.zxid.raw == 3 && rec.snapshot?.data == image && rec.snapshot?.meta.config == nil)
    #expect(store.readSnapshot(zxid: .zero)?.data == empty)
    #expect(rec.entryCount == 1 && store.lastZxid.raw == 4)
}
