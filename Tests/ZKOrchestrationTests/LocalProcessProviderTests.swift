import Foundation
import Testing
@testable import ZKOrchestration

@Suite struct LocalProcessProviderTests {
    @Test(.timeLimit(.minutes(1)))
    func launchesDetachedAndRecognisesOnlyItsOwnProcess() async throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let provider = LocalProcessProvider()
        let marker = home + "/marker.cfg"
        // A process whose command line carries the marker, as a node's carries its zoo.cfg path.
        let spec = LaunchSpec(arguments: ["/bin/sh", "-c", "sleep 30; true", marker], logFile: home + "/logs/out.log", identity: marker)
        let record = try provider.launch(spec)
        #expect(record.startTime > 0)
        #expect(provider.state(of: record) == .running)
        // Its own session: the terminal's Ctrl-C does not reach it.
        #expect(getsid(record.pid) == record.pid)

        // The same pid with another start time or command line is someone else's process.
        var foreign = record
        foreign.startTime += 1
        #expect(provider.state(of: foreign) == .stale)
        #expect(throws: ZKCtlError.self) { try provider.send(.kill, to: foreign) }
        var otherCommand = record
        otherCommand.identity = "/not/this/zoo.cfg"
        #expect(provider.state(of: otherCommand) == .stale)
        #expect(provider.state(of: record) == .running)

        try provider.send(.stop, to: record)
        try await Task.sleep(for: .milliseconds(100))
        #expect(provider.state(of: record) == .paused)
        try provider.send(.resume, to: record)
        try provider.send(.terminate, to: record)
        let deadline = ContinuousClock.now + .seconds(5)
        while provider.state(of: record) != .stale && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(provider.state(of: record) == .stale)
        // The exit status is known only if this process reaped the child itself.
        let how = provider.exitDescription(of: record)
        #expect(how == nil || how == "killed by signal 15")
    }

    @Test func missingExecutableIsAClearError() throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let spec = LaunchSpec(arguments: ["/nonexistent/zkserver", "x"], logFile: home + "/l.log", identity: "x")
        #expect(throws: ZKCtlError.self) { try LocalProcessProvider().launch(spec) }
    }
}
