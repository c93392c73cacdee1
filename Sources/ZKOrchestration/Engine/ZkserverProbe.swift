import Foundation

/// Asks a zkserver binary which peer protocol it speaks (`zkserver --version`), so `zkctl upgrade`
/// can refuse a rolling upgrade between versions that cannot form a quorum together.
public enum ZkserverProbe {
    /// The peer protocol version, or nil when the binary does not say (not a zkserver, does not run,
    /// or takes longer than `timeout`).
    public static func peerProtocol(of binary: String, timeout: TimeInterval = 5) -> Int? {
        guard let (status, output) = run(binary, ["--version"], timeout: timeout) else { return nil }
        return parsePeerProtocol(status: status, output: output)
    }

    /// Pure: what `zkserver --version` printed says about the peer protocol.
    public static func parsePeerProtocol(status: Int32, output: String) -> Int? {
        if let r = output.range(of: #"peer protocol [0-9]+"#, options: .regularExpression) {
            return Int(output[r].split(separator: " ").last!)
        }
        // Builds from before `--version` existed all spoke peer protocol 1; they answer with their usage.
        if status != 0 && output.contains("Usage: zkserver") { return 1 }
        return nil
    }

    static func run(_ path: String, _ args: [String], timeout: TimeInterval) -> (Int32, String)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            usleep(100_000)
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            return nil
        }
        let data = (try? pipe.fileHandleForReading.readToEnd()) ?? Data()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
