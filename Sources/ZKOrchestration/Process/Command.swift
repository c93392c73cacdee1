import Foundation

/// Runs a short-lived program to completion, with a bound (shell): `zkserver --version`, kubectl.
enum Command {
    struct Result: Sendable {
        var status: Int32
        /// stdout and stderr, interleaved as written.
        var output: String
        /// It ran past the bound and was stopped (SIGTERM, then SIGKILL).
        var timedOut: Bool
    }

    /// Runs `executable` with `arguments` and stdin from /dev/null. The output goes through a file, so a
    /// chatty program never blocks on a full pipe. Throws when the program cannot be started.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let outPath = NSTemporaryDirectory() + "zkctl-command-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: outPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              let out = FileHandle(forWritingAtPath: outPath) else {
            throw ZKCtlError("cannot create \(outPath) for the output of \(executable)")
        }
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            try? out.close()
            throw ZKCtlError("cannot run \(executable): \(error.localizedDescription)")
        }
        let deadline = ContinuousClock.now + timeout
        while p.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        let timedOut = p.isRunning
        if timedOut {
            p.terminate()
            let grace = ContinuousClock.now + .seconds(2)
            while p.isRunning && ContinuousClock.now < grace { usleep(20_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        p.waitUntilExit()
        try? out.close()
        let data = FileManager.default.contents(atPath: outPath) ?? Data()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self), timedOut: timedOut)
    }
}
