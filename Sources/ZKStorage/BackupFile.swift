import NIOCore
import ZKProtocol
import ZKReplication
import ZKStateMachine

/// A backup: a readable text header, a blank line, then the data tree serialized at one zxid
/// (the same bytes a snapshot holds).
///
///     ZKBACKUP 1
///     zxid=0x1a2b
///     digest=1234567890
///     znodes=100002
///     payload_bytes=4567890
///     crc32c=9abcdef0
///
/// `digest` is the tree digest (`hash` four-letter word, `zk_digest` in mntr); `crc32c` covers the payload.
public struct BackupFile: Sendable, Equatable {
    public static let magicLine = "ZKBACKUP 1"

    public struct Header: Sendable, Equatable {
        public var zxid: Int64
        public var digest: UInt64
        public var znodes: Int
        public var payloadBytes: Int
        public var crc32c: UInt32

        public var text: String {
            "\(BackupFile.magicLine)\nzxid=0x\(String(zxid, radix: 16))\ndigest=\(digest)\nznodes=\(znodes)\n"
                + "payload_bytes=\(payloadBytes)\ncrc32c=\(String(crc32c, radix: 16))\n\n"
        }
    }

    public var header: Header
    public var payload: [UInt8]

    /// A backup of a serialized tree (`DataTree.serialize` output) with the tree's own numbers.
    public init(zxid: Int64, digest: UInt64, znodes: Int, payload: [UInt8]) {
        header = Header(zxid: zxid, digest: digest, znodes: znodes, payloadBytes: payload.count, crc32c: CRC32C.checksum(payload))
        self.payload = payload
    }

    public var bytes: [UInt8] { Array(header.text.utf8) + payload }

    public struct FormatError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses the header and checks the payload's length and checksum (not yet the tree itself: see `verifiedTree`).
    public static func parse(_ bytes: [UInt8]) throws -> BackupFile {
        func fail(_ m: String) -> FormatError { FormatError(message: "not a valid zkserver backup: \(m)") }
        // The header ends at the first empty line; it is short, so look only at the start.
        let limit = min(bytes.count, 4096)
        var end: Int?
        var i = 0
        while i + 1 < limit {
            if bytes[i] == 0x0a && bytes[i + 1] == 0x0a { end = i; break }
            i += 1
        }
        guard let end else {
            throw fail(bytes.starts(with: Array(magicLine.utf8)) ? "the header is cut off" : "it does not start with '\(magicLine)'")
        }
        let lines = String(decoding: bytes[0..<end], as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.first == magicLine else { throw fail("it does not start with '\(magicLine)'") }
        var fields: [String: String] = [:]
        for l in lines.dropFirst() {
            guard let eq = l.firstIndex(of: "=") else { throw fail("header line '\(l)' is not key=value") }
            fields[String(l[..<eq])] = String(l[l.index(after: eq)...])
        }
        func field(_ k: String) throws -> String {
            guard let v = fields[k] else { throw fail("the header has no \(k)") }
            return v
        }
        let zxidText = try field("zxid")
        guard zxidText.hasPrefix("0x"), let zxid = UInt64(zxidText.dropFirst(2), radix: 16) else { throw fail("bad zxid '\(zxidText)'") }
        guard let digest = UInt64(try field("digest")) else { throw fail("bad digest '\(fields["digest"]!)'") }
        guard let znodes = Int(try field("znodes")), znodes >= 0 else { throw fail("bad znodes '\(fields["znodes"]!)'") }
        guard let size = Int(try field("payload_bytes")), size >= 0 else { throw fail("bad payload_bytes '\(fields["payload_bytes"]!)'") }
        guard let crc = UInt32(try field("crc32c"), radix: 16) else { throw fail("bad crc32c '\(fields["crc32c"]!)'") }
        let payload = Array(bytes[(end + 2)...])
        guard payload.count == size else {
            throw FormatError(message: "backup is truncated or padded: the header says \(size) payload bytes, the file has \(payload.count)")
        }
        guard CRC32C.checksum(payload) == crc else {
            throw FormatError(message: "backup is corrupt: the payload fails its crc32c check (header \(String(crc, radix: 16)), computed \(String(CRC32C.checksum(payload), radix: 16)))")
        }
        return BackupFile(header: Header(zxid: Int64(bitPattern: zxid), digest: digest, znodes: znodes, payloadBytes: size, crc32c: crc),
                          payload: payload)
    }

    init(header: Header, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// Loads the tree and checks that it is the one the header describes: same zxid, same digest
    /// (recomputed from every znode), same znode count.
    public func verifiedTree() throws -> DataTree {
        var r = JuteReader(ByteBuffer(bytes: payload), maxLength: Int(Int32.max))
        let tree: DataTree
        do { tree = try DataTree.deserialize(&r) } catch {
            throw FormatError(message: "backup is corrupt: the data tree cannot be read (\(error))")
        }
        guard tree.digest == header.digest else {
            throw FormatError(message: "backup digest mismatch: the header says \(header.digest), the data hashes to \(tree.digest)")
        }
        guard tree.lastZxid == header.zxid else {
            throw FormatError(message: "backup zxid mismatch: the header says 0x\(String(header.zxid, radix: 16)), the data is at 0x\(String(tree.lastZxid, radix: 16))")
        }
        guard tree.nodeCount == header.znodes else {
            throw FormatError(message: "backup znode count mismatch: the header says \(header.znodes), the data has \(tree.nodeCount)")
        }
        return tree
    }

    /// Seeds an empty data directory so a server started on it (standalone or an ensemble member: the
    /// layout is the same) begins with exactly this data. Refuses a directory that already holds snapshots or log segments. `verified`: the caller already
    /// ran `verifiedTree()` on this value (a large tree is then not loaded again for every node).
    public func seed(dataDir: String, dataLogDir: String? = nil, verified: Bool = false) throws {
        if !verified { _ = try verifiedTree() }
        let logDir = (dataLogDir?.isEmpty ?? true) ? dataDir : dataLogDir!
        let snaps = try SnapshotStore(dataDir: dataDir)
        let log = try TxnLog(dataLogDir: logDir)
        if let z = try snaps.list().first {
            throw StorageError(.badFormat, "\(dataDir) already holds data (snapshot \(snaps.path(z))); restore needs an empty data directory")
        }
        if try FileIO.list(log.dir).contains(where: { $0.hasPrefix("log.") }) {
            throw StorageError(.badFormat, "\(logDir) already holds a transaction log; restore needs an empty data directory")
        }
        // The replicated store's snapshot layout (no cluster config: the members come from zoo.cfg), and
        // a hard state at the backup's epoch so the first election moves past it.
        let bytes = DurableLogStore.encodeSnapshotPayload(config: nil, data: payload)
        try bytes.withUnsafeBytes { try snaps.write(zxid: header.zxid, payload: $0) }
        let zxid = Zxid(raw: header.zxid)
        try DurableLogStore(dataDir: dataDir, dataLogDir: logDir).saveHardState(HardState(epoch: zxid.epoch, votedFor: nil, commit: zxid))
    }
}
