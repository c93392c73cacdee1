/// Failures of the on-disk log and snapshots, with enough detail for an operator to act.
public struct StorageError: Error, CustomStringConvertible {
    public enum Code: Sendable { case io, corrupt, badFormat }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }

    static func io(_ what: String, _ path: String, errno e: Int32) -> StorageError {
        var message = "\(what) \(path): \(String(cString: strerror(e)))"
        switch e {
        case EACCES, EPERM:
            message += " (zkserver runs as uid \(getuid()), gid \(getgid()): give that account the directory, e.g. chown -R it)"
        case EROFS:
            message += " (a read-only file system: put dataDir and dataLogDir on a writable volume)"
        default: break
        }
        return StorageError(.io, message)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
