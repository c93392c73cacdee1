/// A run-time failure with one line that says what went wrong and what to do.
public struct ZKCtlError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
