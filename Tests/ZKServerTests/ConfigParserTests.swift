import Testing
@testable import ZKServer

@Test func parsesApacheZooKeeperKeysAndKeepsUnknownOnes() throws {
    let text = """
        # comment
        tickTime=2000
        dataDir=/var/lib/zk
        clientPort=2181
        4lw.commands.whitelist=ruok, srvr,mntr
        autopurge.snapRetainCount=1
        someFutureKey=42
        server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181
        server.2=10.0.0.2:2888:3888;2181
        server.3=10.0.0.3:2888:3888:observer
        """
    let c = try ConfigParser.parse(text).get()
    #expect(c.tickTime == 2000 && c.effectiveMinSessionTimeout == 4000 && c.effectiveMaxSessionTimeout == 40000)
    #expect(c.fourLetterWhitelist == ["ruok", "srvr", "mntr"])
    #expect(c.snapRetainCount == 3)   // the minimum, as Apache ZooKeeper enforces
    #expect(c.unknown.map(\.key) == ["someFutureKey"])
    #expect(c.servers.map(\.id) == [1, 2, 3])
    #expect(c.servers[0].description == "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181")
    #expect(c.servers[1].clientPort == 2181 && c.servers[1].clientHost == nil)
    #expect(c.servers[2].role == .observer && c.servers[2].clientPort == nil)
    #expect(c.isEnsemble)
}

@Test func everyBadValueIsReportedWithItsLine() {
    let text = "tickTime=abc\ndataDir=/d\nclientPort=70000\nmaxClientCnxns=-1\nserver.x=h:1:2\nserver.2=h:1:1\n4lw.commands.whitelist=ruok,bogus\nnonsense line"
    guard case .failure(let e) = ConfigParser.parse(text, path: "zoo.cfg") else { Issue.record("accepted a bad config"); return }
    let all = e.problems.joined(separator: "\n")
    #expect(all.contains("zoo.cfg:1: tickTime"))
    #expect(all.contains("zoo.cfg:3: clientPort"))
    #expect(all.contains("zoo.cfg:4: maxClientCnxns"))
    #expect(all.contains("zoo.cfg:5: server.x"))
    #expect(all.contains("zoo.cfg:6: server.2: quorum and election ports must differ"))
    #expect(all.contains("zoo.cfg:7: 4lw.commands.whitelist names unknown command 'bogus'"))
    #expect(all.contains("zoo.cfg:8: expected key=value"))
    #expect(all.contains("no client port"))   // the only port given was invalid
    #expect(e.problems.count == 8)
}

@Test func missingDataDirAndPortAreErrors() {
    guard case .failure(let e) = ConfigParser.parse("tickTime=2000\n") else { Issue.record("accepted"); return }
    #expect(e.problems.contains { $0.contains("dataDir is not set") })
    #expect(e.problems.contains { $0.contains("no client port") })
}

@Test func aSecureClientPortAloneIsEnough() throws {
    let c = try ConfigParser.parse("dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location=/tls/node.pem\nssl.clientAuth=none\n").get()
    #expect(c.clientPort == nil && c.secureClientPort == 2281)
}

@Test func minAboveMaxSessionTimeoutIsAnError() {
    guard case .failure(let e) = ConfigParser.parse("dataDir=/d\nclientPort=1\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n") else {
        Issue.record("accepted"); return
    }
    #expect(e.problems.contains { $0.contains("minSessionTimeout (5000) is larger than maxSessionTimeout (4000)") })
}

@Test func configParserSurvivesRandomText() {
    var state: UInt64 = 99
    let alphabet = Array("=:;.,#!\n \tserver.1234567890abcdefghijklmnopqrstuvwxyzTICK/")
    for _ in 0..<5_000 {
        var s = ""
        for _ in 0..<Int(state % 120) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            s.append(alphabet[Int((state >> 33) % UInt64(alphabet.count))])
        }
        _ = ConfigParser.parse(s)
    }
}
