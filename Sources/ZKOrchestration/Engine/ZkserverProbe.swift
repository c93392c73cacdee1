import Foundation

/// Asks a zkserver binary which peer protocol it speaks (`zkserver --version`), so `zkctl upgrade`
/// can refuse a rolling upgrade between versions that cannot form a quorum together.
public enum ZkserverProbe {
    /// The peer protocol version, or nil when the binary does not say (not a zkserver, does not run,
    /// or takes longer than `timeout`).
    public static func peerProtocol(of binary: String, timeout: TimeInterval = 5) -> Int? {
        guard let r = try? Command.run(binary, ["--version"], timeout: .milliseconds(Int64(timeout * 1000))), !r.timedOut else {
            return nil
        }
        return parsePeerProtocol(status: r.status, output: r.output)
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
}
