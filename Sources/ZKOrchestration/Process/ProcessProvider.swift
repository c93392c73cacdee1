/// What zkctl knows about a node's process.
public enum ProcessState: String, Sendable, Codable, Equatable {
    /// Alive and identity-checked (same start time and command line as when zkctl launched it).
    case running
    /// Alive but stopped with SIGSTOP (`zkctl node N pause`).
    case paused
    /// No pid file: never started, or stopped cleanly.
    case stopped
    /// A pid file exists but its process is gone or the pid now belongs to another program.
    case stale
}

/// How to start one node (computed in Swift from the render model; pure data). Every path in it is
/// absolute, so the working directory does not matter.
public struct LaunchSpec: Equatable, Sendable {
    public var arguments: [String]
    public var environment: [String: String] = [:]
    /// stdout and stderr are appended to this file; stdin is /dev/null.
    public var logFile: String
    /// A string that must appear in the process's command line (the node's zoo.cfg path).
    public var identity: String
}

/// The pid file contents: enough to recognise the process later and never signal another program.
public struct ProcessRecord: Codable, Equatable, Sendable {
    public var pid: Int32
    /// Field 22 of /proc/PID/stat (clock ticks since boot) when zkctl launched the process.
    public var startTime: UInt64
    /// Must appear in /proc/PID/cmdline.
    public var identity: String
    public var arguments: [String]
    public var launchedAt: Double
}

public enum ProcessSignal: Sendable, Equatable {
    case terminate, kill, stop, resume
}

/// Starts and signals node processes. The local implementation spawns detached processes;
/// tests use a fake.
public protocol ProcessProvider: Sendable {
    func launch(_ spec: LaunchSpec) throws -> ProcessRecord
    /// The state of the process a record describes; `.stale` when its pid is gone or reused.
    func state(of record: ProcessRecord) -> ProcessState
    /// Signals the process only if it is still the one the record describes.
    func send(_ signal: ProcessSignal, to record: ProcessRecord) throws
    /// A short description of how the process ended, when known (exit status of a child).
    func exitDescription(of record: ProcessRecord) -> String?
}
