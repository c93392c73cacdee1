/// A run-time failure with one line that says what went wrong and what to do.
public struct ZKCtlError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// The process exit code the CLI uses for this error (1, or 130 after Ctrl-C).
    public var exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}
