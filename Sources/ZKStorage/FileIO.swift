#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX helpers: whole-file reads, appends, fsync of files and directories.
enum FileIO {
    static func mkdirs(_ path: String) throws {
        var cur = path.hasPrefix("/") ? "" : "."
        for comp in path.split(separator: "/") {
            cur += "/" + comp
            if mkdir(cur, 0o755) != 0 && errno != EEXIST { throw StorageError.io("cannot create directory", cur, errno: errno) }
        }
    }

    static func list(_ dir: String) throws -> [String] {
        guard let d = opendir(dir) else { throw StorageError.io("cannot list", dir, errno: errno) }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StorageError.io("cannot open", path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.io("cannot stat", path, errno: errno) }
        let size = Int(st.st_size)
        var buf = [UInt8](repeating: 0, count: size)
        var off = 0
        while off < size {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + off, size - off) }
            if n < 0 { if errno == EINTR { continue }; throw StorageError.io("cannot read", path, errno: errno) }
            if n == 0 { break }
            off += n
        }
        if off < size { buf.removeLast(size - off) }
        return buf
    }

    static func writeAll(fd: Int32, _ p: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < p.count {
            let n = write(fd, p.baseAddress! + off, p.count - off)
            if n < 0 { if errno == EINTR { continue }; throw StorageError.io("cannot write", path, errno: errno) }
            off += n
        }
    }

    static func writeAll(fd: Int32, _ p: UnsafeRawBufferPointer, at start: off_t, path: String) throws {
        var off = 0
        while off < p.count {
            let n = pwrite(fd, p.baseAddress! + off, p.count - off, start + off_t(off))
            if n < 0 { if errno == EINTR { continue }; throw StorageError.io("cannot write", path, errno: errno) }
            off += n
        }
    }

    static func fsyncDir(_ dir: String) {
        let fd = open(dir, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    /// Bytes written between syncs of a file written by `writeAtomically`.
    static let syncEvery = 4 << 20

    /// Writes a file atomically: temp file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ path: String, dir: String, _ chunks: [UnsafeRawBufferPointer]) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StorageError.io("cannot create", tmp, errno: errno) }
        do {
            // Written and synced a few MiB at a time: a large file's dirty pages, flushed at once by a
            // final fsync, would hold up every other fsync on the file system meanwhile (ext4 commits
            // them in one journal transaction), and the transaction log's fsyncs are what clients and
            // the ensemble's heartbeats wait on.
            var unsynced = 0
            for c in chunks {
                var off = 0
                while off < c.count {
                    let n = min(c.count - off, syncEvery - unsynced)
                    try writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: c[off..<(off + n)]), path: tmp)
                    off += n
                    unsynced += n
                    if unsynced >= syncEvery {
                        guard fdatasync(fd) == 0 else { throw StorageError.io("cannot fsync", tmp, errno: errno) }
                        unsynced = 0
                    }
                }
            }
            guard fsync(fd) == 0 else { throw StorageError.io("cannot fsync", tmp, errno: errno) }
        } catch {
            close(fd); unlink(tmp); throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw StorageError.io("cannot rename to", path, errno: errno) }
        fsyncDir(dir)
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    static func hex(_ v: Int64) -> String { String(UInt64(bitPattern: v), radix: 16) }
    static func parseHexSuffix(_ name: String, prefix: String) -> Int64? {
        guard name.hasPrefix(prefix) else { return nil }
        return UInt64(name.dropFirst(prefix.count), radix: 16).map { Int64(bitPattern: $0) }
    }
}
