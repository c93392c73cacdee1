import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Spawns node processes detached from zkctl: a new session (so the terminal's Ctrl-C does not
/// reach them), stdin from /dev/null, stdout/stderr appended to the node's log file.
/// Sendable: `lock` guards `exits`, its only mutable state.
public final class LocalProcessProvider: ProcessProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var exits: [Int32: String] = [:]

    public init() {}

    public func launch(_ spec: LaunchSpec) throws -> ProcessRecord {
        guard let executable = spec.arguments.first else { throw ZKCtlError("empty command line") }
        try FileSystem.makeDirectory((spec.logFile as NSString).deletingLastPathComponent)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, spec.logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        let setsid: Int32 = 0x80 // POSIX_SPAWN_SETSID (glibc)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | setsid))

        var env = ProcessInfo.processInfo.environment
        for (k, v) in spec.environment { env[k] = v }
        let envStrings = env.map { "\($0.key)=\($0.value)" }.sorted()

        var pid: pid_t = 0
        let rc = withCStrings(spec.arguments) { argv in
            withCStrings(envStrings) { envp in
                posix_spawn(&pid, executable, &actions, &attr, argv, envp)
            }
        }
        guard rc == 0 else {
            throw ZKCtlError("cannot start \(executable): \(String(cString: strerror(rc))); check that it exists and is executable")
        }
        // The start time identifies this process even if the pid is later reused. posix_spawn can
        // return while the kernel is still finishing exec (the command line is briefly empty), so
        // wait for the command line to show, bounded.
        var startTime: UInt64 = 0
        for _ in 0..<250 {
            if let s = ProcStat.read(pid) {
                startTime = s.startTime
                if !ProcStat.commandLine(pid).isEmpty { break }
            }
            usleep(2000)
        }
        return ProcessRecord(pid: pid, startTime: startTime, identity: spec.identity, arguments: spec.arguments,
                             launchedAt: Date().timeIntervalSince1970)
    }

    public func state(of record: ProcessRecord) -> ProcessState {
        reap(record.pid)
        guard let stat = ProcStat.read(record.pid) else { return .stale }
        guard stat.startTime == record.startTime else { return .stale }
        if stat.state == "Z" || stat.state == "X" {
            // A JVM's main thread can end first: the process then reads as a zombie while its other
            // threads still shut down and still hold the listening sockets. It is gone when they are.
            return ProcStat.taskCount(record.pid) > 1 ? .running : .stale
        }
        // An empty command line means exec is still finishing; the start time already matched.
        let commandLine = ProcStat.commandLine(record.pid)
        guard commandLine.isEmpty || commandLine.contains(record.identity) else { return .stale }
        return stat.state == "T" || stat.state == "t" ? .paused : .running
    }

    public func send(_ signal: ProcessSignal, to record: ProcessRecord) throws {
        let s = state(of: record)
        guard s == .running || s == .paused else {
            throw ZKCtlError("process \(record.pid) is no longer the node zkctl started; not signalling it")
        }
        let number: Int32
        switch signal {
        case .terminate: number = SIGTERM
        case .kill: number = SIGKILL
        case .stop: number = SIGSTOP
        case .resume: number = SIGCONT
        }
        if kill(record.pid, number) != 0 && errno != ESRCH {
            throw ZKCtlError("cannot signal process \(record.pid): \(String(cString: strerror(errno)))")
        }
    }

    public func exitDescription(of record: ProcessRecord) -> String? {
        reap(record.pid)
        lock.lock(); defer { lock.unlock() }
        return exits[record.pid]
    }

    /// Collects the exit status of children started by this zkctl process (no-op for others).
    private func reap(_ pid: Int32) {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return }
        let description: String
        if status & 0x7f == 0 {
            description = "exit status \((status >> 8) & 0xff)"
        } else {
            description = "killed by signal \(status & 0x7f)"
        }
        lock.lock(); exits[pid] = description; lock.unlock()
    }
}

/// /proc/PID/stat fields zkctl uses.
public struct ProcStat: Equatable {
    public var state: Character
    public var startTime: UInt64

    public static func read(_ pid: Int32) -> ProcStat? {
        guard let bytes = readProcFile("/proc/\(pid)/stat") else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Parses the text after the last ')' (the command name may contain spaces and parentheses).
    public static func parse(_ text: String) -> ProcStat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return ProcStat(state: state, startTime: start)
    }

    /// Threads of the process still listed under /proc/PID/task.
    public static func taskCount(_ pid: Int32) -> Int {
        guard let dir = opendir("/proc/\(pid)/task") else { return 0 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        return n
    }

    public static func commandLine(_ pid: Int32) -> String {
        guard let bytes = readProcFile("/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }

    /// /proc files report size 0; read them with read(2) until end of file.
    static func readProcFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            out += buffer[0..<n]
        }
        return out
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
