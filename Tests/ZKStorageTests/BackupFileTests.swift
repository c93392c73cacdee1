import Foundation
import NIOCore
import Testing
import ZKStateMachine
@testable import ZKStorage

private func backupOfSmallTree() throws -> (BackupFile, DataTree) {
    let tree = DataTree()
    let payload = Array(tree.serialized().readableBytesView)
    return (BackupFile(zxid: tree.lastZxid, digest: tree.digest, znodes: tree.nodeCount, payload: payload), tree)
}

@Test func backupHeaderRoundTripsAndIsReadable() throws {
    let (b, tree) = try backupOfSmallTree()
    let text = String(decoding: b.bytes.prefix(200), as: UTF8.self)
    #expect(text.hasPrefix("ZKBACKUP 1\nzxid=0x0\ndigest=\(tree.digest)\nznodes=\(tree.nodeCount)\n"))
    let parsed = try BackupFile.parse(b.bytes)
    #expect(parsed == b)
    #expect(try parsed.verifiedTree().digest == tree.digest)
}

@Test func corruptOrForeignBackupsAreRefusedClearly() throws {
    let (b, _) = try backupOfSmallTree()
    var flipped = b.bytes
    flipped[flipped.count - 3] ^= 0xff
    #expect(throws: BackupFile.FormatError.self) { try BackupFile.parse(flipped) }
    do { _ = try BackupFile.parse(flipped) } catch { #expect("\(error)".contains("crc32c")) }
    do { _ = try BackupFile.parse(Array(b.bytes.dropLast(5))) } catch { #expect("\(error)".contains("truncated")) }
    do { _ = try BackupFile.parse(Array("hello world\n\n".utf8)) } catch { #expect("\(error)".contains("does not start with")) }
    // A header that lies about the digest: the checksum passes, the recomputed digest does not.
    var lying = b
    lying.header.digest &+= 1
    let reparsed = try BackupFile.parse(lying.bytes)
    do { _ = try reparsed.verifiedTree(); Issue.record("accepted a wrong digest") } catch { #expect("\(error)".contains("digest mismatch")) }
}

@Test func seedingWritesALoadableSnapshotAndRefusesAUsedDirectory() throws {
    let (b, tree) = try backupOfSmallTree()
    let dir = NSTemporaryDirectory() + "zkbackup-\(UInt32.random(in: 0...UInt32.max))"
    try b.seed(dataDir: dir)
    let store = try DurableLogStore(dataDir: dir, dataLogDir: dir)
    #expect(try store.convertStandaloneLayout() == nil)   // already in the one layout
    let rec = try store.recover(warn: { _ in })
    let snapshot = try #require(rec.snapshot)
    #expect(snapshot.zxid.raw == tree.lastZxid && snapshot.data == b.payload)
    #expect(rec.hardState.epoch == snapshot.zxid.epoch)
    #expect(throws: StorageError.self) { try b.seed(dataDir: dir) }
    try? FileManager.default.removeItem(atPath: dir)
}
