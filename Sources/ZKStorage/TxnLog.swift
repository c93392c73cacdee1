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
///
/// The segment being written is preallocated in `preallocationBytes` steps, so an append does not change the
/// file size and `fdatasync` has no size to flush (measured here: about a third off each sync). Zeros after
/// the last record are therefore the normal end of a segment, not damage.
///
/// One thread at a time: the owner hands it to its disk thread for an append, sync, roll or truncation
/// and touches it itself only when none runs (zkserver: while the replication driver is not busy).
/// `totalBytes` alone may be read by anyone at any time (it reads the directory).
public final class TxnLog: @unchecked Sendable {
    public static let magic: [UInt8] = Array("ZKTL".utf8) + [0, 0, 0, 1]
    public static let maxRecordBytes = 64 << 20
    /// How far ahead of the last record the current segment is allocated.
    public static let preallocationBytes: off_t = 4 << 20
    public let dir: String
    private var fd: Int32 = -1
    private var currentPath = ""
    public private(set) var segmentStarts: [Int64] = []
    public private(set) var lastZxid: Int64 = 0
    private var scratch: [UInt8] = []
    private var batchStart: off_t = -1
    /// Where the next record goes (the end of the last one) and how far the file is allocated.
    private var writeOff: off_t = 0
    private var allocatedEnd: off_t = 0

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
        var lastEnd = 0
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
                if isLast {
                    try truncate(path, to: 0, report: &report, total: bytes.count)
                    try writeHeaderIfEmpty(path)
                    lastEnd = Self.magic.count
                    continue
                }
                throw StorageError(.corrupt, "transaction log \(path) is too short to be a log segment; move it away to start")
            }
            guard Array(bytes[0..<Self.magic.count]) == Self.magic else {
                throw StorageError(.badFormat, "\(path) is not a transaction log segment of this server (bad header)")
            }
            var off = Self.magic.count
            var prevZxid: Int64 = Int64.min
            while off < bytes.count {
                let rest = bytes.count - off
                // Damage at `off`: a torn tail if nothing valid follows in the last segment, else corruption.
                func tornOrCorrupt(_ why: String) throws {
                    if isLast && !validRecordExists(bytes, after: off, minZxid: prevZxid) {
                        try truncate(path, to: off, report: &report, total: bytes.count)
                    } else {
                        throw StorageError(.corrupt, """
                            transaction log \(path) is corrupt at byte \(off) (\(why)) with valid data after it; \
                            refusing to start. Restore this server's data from a healthy member or a backup.
                            """)
                    }
                }
                let len = rest >= 8 ? Int(readU32(bytes, off)) : 0
                // The preallocated, never written part of a segment: the clean end of its records.
                if len == 0 && isZero(bytes, from: off) { break }
                if rest < 8 { try tornOrCorrupt("short record header"); break }
                let crc = readU32(bytes, off + 4)
                if len < 8 || len > Self.maxRecordBytes { try tornOrCorrupt("bad length \(len)"); break }
                if rest < 8 + len { try tornOrCorrupt("record runs past the end of the file"); break }
                let ok = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(off + 8)..<(off + 8 + len)])) } == crc
                if !ok { try tornOrCorrupt("checksum mismatch"); break }
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
            if isLast { lastEnd = off }   // every exit above leaves `off` at the end of the last good record
        }
        if let last = starts.last { try openForAppend(segmentPath(last), end: off_t(lastEnd)) }
        return report
    }

    /// Whether a well-formed record (sane length, increasing zxid, matching checksum) starts anywhere after `off`.
    private func validRecordExists(_ b: [UInt8], after off: Int, minZxid: Int64) -> Bool {
        var p = off + 1
        while p + 16 <= b.count {
            let len = Int(readU32(b, p))
            if len >= 8 && p + 8 + len <= b.count {
                let zxid = Int64(bitPattern: UInt64(readU32(b, p + 8)) << 32 | UInt64(readU32(b, p + 12)))
                if zxid > minZxid && zxid > 0 {
                    let crc = readU32(b, p + 4)
                    if b.withUnsafeBytes({ CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(p + 8)..<(p + 8 + len)])) }) == crc {
                        return true
                    }
                }
            }
            p += 1
        }
        return false
    }

    private func isZero(_ b: [UInt8], from off: Int) -> Bool {
        b.withUnsafeBytes { raw in
            var i = off
            // Word-at-a-time: a preallocated tail is megabytes long.
            while i + 8 <= raw.count {
                if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
                i += 8
            }
            while i < raw.count { if raw[i] != 0 { return false }; i += 1 }
            return true
        }
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

    /// Opens a segment whose records end at `end` (anything after it is preallocated zeros).
    private func openForAppend(_ path: String, end: off_t) throws {
        if fd >= 0 { close(fd) }
        fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw StorageError.io("cannot open", path, errno: errno) }
        currentPath = path
        writeOff = end
        var st = stat()
        allocatedEnd = fstat(fd, &st) == 0 ? max(end, st.st_size) : end
    }

    /// Extends the allocation to cover `needed` bytes, in whole steps. Best effort: a file system without
    /// fallocate, or one too full for a whole step, simply grows with each append (a full disk then fails
    /// the write itself, with its error).
    private func preallocate(covering needed: off_t) {
        guard needed > allocatedEnd else { return }
        let step = Self.preallocationBytes
        let target = (needed + step - 1) / step * step
        #if os(Linux)
        if posix_fallocate(fd, allocatedEnd, target - allocatedEnd) == 0 {
            allocatedEnd = target
            return
        }
        #endif
        var st = stat()
        if fstat(fd, &st) == 0 { allocatedEnd = max(writeOff, st.st_size) }
    }

    /// Gives back the unused preallocation of the segment being closed.
    private func trimAndClose() {
        guard fd >= 0 else { return }
        if allocatedEnd > writeOff { _ = ftruncate(fd, writeOff) }
        _ = fsync(fd)
        close(fd)
        fd = -1
    }

    /// Starts a new segment whose first record will be `firstZxid`.
    public func roll(firstZxid: Int64) throws {
        let path = segmentPath(firstZxid)
        trimAndClose()
        let f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard f >= 0 else { throw StorageError.io("cannot create", path, errno: errno) }
        fd = f
        currentPath = path
        try Self.magic.withUnsafeBytes { try FileIO.writeAll(fd: f, $0, path: path) }
        writeOff = off_t(Self.magic.count)
        allocatedEnd = writeOff
        preallocate(covering: writeOff + 1)
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
        let start = writeOff
        batchStart = start
        preallocate(covering: start + off_t(scratch.count))
        do {
            try scratch.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, at: start, path: currentPath) }
            writeOff = start + off_t(scratch.count)
        } catch {
            // Leave no partial batch behind: later appends must follow the last good record.
            dropBatch()
            throw error
        }
    }

    /// Cuts the file back to the start of the current batch (its allocation goes with it).
    private func dropBatch() {
        guard batchStart >= 0 else { return }
        _ = ftruncate(fd, batchStart)
        writeOff = batchStart
        allocatedEnd = batchStart
    }

    /// Makes everything appended so far durable.
    public func sync() throws {
        guard fd >= 0 else { return }
        guard fdatasync(fd) == 0 else {
            let e = errno
            dropBatch()
            throw StorageError.io("cannot fsync", currentPath, errno: e)
        }
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

    /// Drops every record with zxid > `zxid` (a new leader overrides an uncommitted suffix).
    public func truncate(after zxid: Int64) throws {
        if fd >= 0 { close(fd); fd = -1 }
        var lastEnd = 0
        var keep: [Int64] = []
        for start in segmentStarts {
            let path = segmentPath(start)
            if start > zxid { unlink(path); continue }
            keep.append(start)
            let bytes = try FileIO.readAll(path)
            var off = Self.magic.count
            while off + 16 <= bytes.count {
                let len = Int(readU32(bytes, off))
                guard len >= 8, off + 8 + len <= bytes.count else { break }
                let z = Int64(bitPattern: UInt64(readU32(bytes, off + 8)) << 32 | UInt64(readU32(bytes, off + 12)))
                if z > zxid { break }
                off += 8 + len
            }
            if off < bytes.count {
                guard Glibc.truncate(path, off_t(off)) == 0 else { throw StorageError.io("cannot truncate", path, errno: errno) }
            }
            lastEnd = off
        }
        segmentStarts = keep
        lastZxid = min(lastZxid, zxid)
        if let last = keep.last { try openForAppend(segmentPath(last), end: off_t(lastEnd)) }
        FileIO.fsyncDir(dir)
    }

    /// Removes every segment and starts an empty one after `zxid` (installing a snapshot from a leader).
    public func reset(after zxid: Int64) throws {
        trimAndClose()
        for s in segmentStarts { unlink(segmentPath(s)) }
        segmentStarts = []
        lastZxid = zxid
        try roll(firstZxid: zxid + 1)
    }

    public var totalBytes: Int {
        ((try? FileIO.list(dir)) ?? []).filter { $0.hasPrefix("log.") }.reduce(0) { $0 + FileIO.fileSize(dir + "/" + $1) }
    }
}
