#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The transaction log: append-only segment files `log.<hex first zxid>` under `<dataLogDir>/version-2`.
///
/// Segment layout: an 8-byte header (`ZKTL`, format version), then records
/// `[u32 length][u32 crc32c][i64 zxid][payload]` where length counts zxid+payload and the CRC covers them.
/// Recovery truncates a torn last record (cut short, or a bad checksum followed only by zeros) and refuses
/// to start on a bad record with valid data after it.
public final class TxnLog {
    public static let magic: [UInt8] = Array("ZKTL".utf8) + [0, 0, 0, 1]
    public static let maxRecordBytes = 64 << 20
    public let dir: String
    private var fd: Int32 = -1
    private var currentPath = ""
    public private(set) var segmentStarts: [Int64] = []
    public private(set) var lastZxid: Int64 = 0
    private var scratch: [UInt8] = []

    public init(dataLogDir: String) throws {
        dir = dataLogDir + "/version-2"
        try FileIO.mkdirs(dir)
    }

    deinit { if fd >= 0 { close(fd) } }

    public struct Record {
        public var zxid: Int64
        public var payload: [UInt8]
        public init(zxid: Int64, payload: [UInt8]) { self.zxid = zxid; self.payload = payload }
    }

    /// What recovery found, for the log.
    public struct RecoveryReport: Sendable {
        public var segments = 0
        public var records = 0
        public var truncatedBytes = 0
        public var truncatedFile: String?
    }

    /// Reads every record with zxid > `after`, in order, truncating a torn tail. Leaves the log ready to append.
    public func recover(after: Int64, _ visit: (Record) throws -> Void) throws -> RecoveryReport {
        var report = RecoveryReport()
        let starts = try FileIO.list(dir).compactMap { FileIO.parseHexSuffix($0, prefix: "log.") }.sorted()
        segmentStarts = starts
        lastZxid = after
        for (i, start) in starts.enumerated() {
            // Skip segments entirely before `after` (the next one starts at or before after+1).
            if i + 1 < starts.count, starts[i + 1] <= after + 1 { continue }
            let path = segmentPath(start)
            let bytes = try FileIO.readAll(path)
            report.segments += 1
            let isLast = i == starts.count - 1
            if bytes.count < Self.magic.count {
                if isLast { try truncate(path, to: 0, report: &report, total: bytes.count); try writeHeaderIfEmpty(path); continue }
                throw StorageError(.corrupt, "transaction log \(path) is too short to be a log segment; move it away to start")
            }
            guard Array(bytes[0..<Self.magic.count]) == Self.magic else {
                throw StorageError(.badFormat, "\(path) is not a transaction log segment of this server (bad header)")
            }
            var off = Self.magic.count
            var prevZxid: Int64 = Int64.min
            while off < bytes.count {
                let rest = bytes.count - off
                func tornOrCorrupt(_ why: String) throws {
                    let tailIsZero = bytes[off...].allSatisfy { $0 == 0 }
                    if isLast && (tailIsZero || why == "short") {
                        try truncate(path, to: off, report: &report, total: bytes.count)
                        off = bytes.count
                    } else {
                        throw StorageError(.corrupt, """
                            transaction log \(path) is corrupt at byte \(off) (\(why)) with valid data after it; \
                            refusing to start. Restore this server's data from a healthy member or a backup.
                            """)
                    }
                }
                if rest < 8 { try tornOrCorrupt("short"); break }
                let len = Int(readU32(bytes, off))
                let crc = readU32(bytes, off + 4)
                if len == 0 && bytes[off...].allSatisfy({ $0 == 0 }) { try tornOrCorrupt("zero padding"); break }
                if len < 8 || len > Self.maxRecordBytes { try tornOrCorrupt("bad length \(len)"); break }
                if rest < 8 + len { try tornOrCorrupt("short"); break }
                let ok = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(off + 8)..<(off + 8 + len)])) } == crc
                if !ok {
                    // A bad checksum on the very last record is a torn write.
                    if isLast && off + 8 + len == bytes.count {
                        try truncate(path, to: off, report: &report, total: bytes.count); break
                    }
                    try tornOrCorrupt("checksum mismatch"); break
                }
                let zxid = Int64(bitPattern: UInt64(readU32(bytes, off + 8)) << 32 | UInt64(readU32(bytes, off + 12)))
                if zxid <= prevZxid {
                    throw StorageError(.corrupt, "transaction log \(path) has zxids out of order at byte \(off)")
                }
                prevZxid = zxid
                if zxid > after {
                    try visit(Record(zxid: zxid, payload: Array(bytes[(off + 16)..<(off + 8 + len)])))
                    report.records += 1
                    lastZxid = zxid
                }
                off += 8 + len
            }
        }
        if let last = starts.last { try openForAppend(segmentPath(last)) }
        return report
    }

    private func readU32(_ b: [UInt8], _ off: Int) -> UInt32 {
        UInt32(b[off]) << 24 | UInt32(b[off + 1]) << 16 | UInt32(b[off + 2]) << 8 | UInt32(b[off + 3])
    }

    private func truncate(_ path: String, to size: Int, report: inout RecoveryReport, total: Int) throws {
        guard Glibc.truncate(path, off_t(size)) == 0 else { throw StorageError.io("cannot truncate", path, errno: errno) }
        report.truncatedBytes += total - size
        report.truncatedFile = path
    }

    private func writeHeaderIfEmpty(_ path: String) throws {
        let f = open(path, O_WRONLY | O_APPEND)
        guard f >= 0 else { throw StorageError.io("cannot open", path, errno: errno) }
        defer { close(f) }
        try Self.magic.withUnsafeBytes { try FileIO.writeAll(fd: f, $0, path: path) }
    }

    public func segmentPath(_ start: Int64) -> String { dir + "/log." + FileIO.hex(start) }

    private func openForAppend(_ path: String) throws {
        if fd >= 0 { close(fd) }
        fd = open(path, O_WRONLY | O_APPEND)
        guard fd >= 0 else { throw StorageError.io("cannot open", path, errno: errno) }
        currentPath = path
    }

    /// Starts a new segment whose first record will be `firstZxid`.
    public func roll(firstZxid: Int64) throws {
        let path = segmentPath(firstZxid)
        if fd >= 0 { _ = fsync(fd); close(fd); fd = -1 }
        let f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        guard f >= 0 else { throw StorageError.io("cannot create", path, errno: errno) }
        fd = f
        currentPath = path
        try Self.magic.withUnsafeBytes { try FileIO.writeAll(fd: f, $0, path: path) }
        _ = fsync(f)
        FileIO.fsyncDir(dir)
        segmentStarts.append(firstZxid)
    }

    /// Appends records (not yet durable; call `sync`).
    public func append(_ records: [Record]) throws {
        if fd < 0 { try roll(firstZxid: records.first?.zxid ?? lastZxid + 1) }
        scratch.removeAll(keepingCapacity: true)
        for r in records {
            var body: [UInt8] = []
            body.reserveCapacity(8 + r.payload.count)
            let z = UInt64(bitPattern: r.zxid)
            for s in stride(from: 56, through: 0, by: -8) { body.append(UInt8(truncatingIfNeeded: z >> UInt64(s))) }
            body.append(contentsOf: r.payload)
            let len = UInt32(body.count)
            let crc = CRC32C.checksum(body)
            for s in [24, 16, 8, 0] { scratch.append(UInt8(truncatingIfNeeded: len >> UInt32(s))) }
            for s in [24, 16, 8, 0] { scratch.append(UInt8(truncatingIfNeeded: crc >> UInt32(s))) }
            scratch.append(contentsOf: body)
            lastZxid = r.zxid
        }
        try scratch.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: currentPath) }
    }

    /// Makes everything appended so far durable.
    public func sync() throws {
        guard fd >= 0 else { return }
        guard fdatasync(fd) == 0 else { throw StorageError.io("cannot fsync", currentPath, errno: errno) }
    }

    /// Deletes segments that only hold records at or below `zxid` (covered by a retained snapshot).
    public func purge(coveredUpTo zxid: Int64) -> [String] {
        var removed: [String] = []
        var keep: [Int64] = []
        for (i, s) in segmentStarts.enumerated() {
            let nextStart = i + 1 < segmentStarts.count ? segmentStarts[i + 1] : Int64.max
            if nextStart <= zxid + 1 && i + 1 < segmentStarts.count {
                unlink(segmentPath(s)); removed.append(segmentPath(s))
            } else {
                keep.append(s)
            }
        }
        segmentStarts = keep
        return removed
    }

    public var totalBytes: Int { segmentStarts.reduce(0) { $0 + FileIO.fileSize(segmentPath($1)) } }
}
