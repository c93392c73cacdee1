import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What /metrics reports about the process, where Apache ZooKeeper's provider exports the JVM's and
/// the process collector's figures (Linux /proc; zeros elsewhere).
struct ProcessReading {
    var cpuSeconds = 0.0
    var residentBytes = 0.0
    var virtualBytes = 0.0
    var startTimeSeconds = 0.0
    var threads = 0.0
    /// The memory the process may use: its cgroup's limit, else the machine's memory.
    var memoryLimitBytes = 0.0

    static func read() -> ProcessReading {
        var p = ProcessReading()
        #if os(Linux)
        func text(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15,
        // starttime 22, vsize 23, rss 24 (proc(5)).
        let stat = text("/proc/self/stat")
        if let close = stat.lastIndex(of: ")") {
            let f = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
            func field(_ n: Int) -> Double { n - 3 < f.count ? Double(f[n - 3]) ?? 0 : 0 }
            p.cpuSeconds = (field(14) + field(15)) / ticks
            let bootTime = text("/proc/stat").split(separator: "\n").first { $0.hasPrefix("btime ") }
                .flatMap { Double($0.dropFirst(6)) } ?? 0
            p.startTimeSeconds = bootTime + field(22) / ticks
            p.virtualBytes = field(23)
            p.residentBytes = field(24) * page
        }
        p.threads = text("/proc/self/status").split(separator: "\n").first { $0.hasPrefix("Threads:") }
            .flatMap { Double($0.split(whereSeparator: { $0 == " " || $0 == "\t" }).last ?? "") } ?? 0
        let machine = text("/proc/meminfo").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Double($0.dropFirst(9).split(separator: " ").first ?? "") }.map { $0 * 1024 } ?? 0
        let cgroup = Double(text("/sys/fs/cgroup/memory.max").split(separator: "\n").first ?? "")
        p.memoryLimitBytes = cgroup.map { min($0, machine > 0 ? machine : $0) } ?? machine
        #endif
        return p
    }
}
