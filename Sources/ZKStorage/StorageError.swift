/// Failures of the on-disk log and snapshots, with enough detail for an operator to act.
public struct StorageError: Error, CustomStringConvertible {
    public enum Code: Sendable { case io, corrupt, badFormat }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }

    static func io(_ what: String, _ path: String, errno e: Int32) -> StorageError {
        StorageError(.io, "\(what) \(path): \(String(cString: strerror(e)))")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
