import Foundation
import Testing
@testable import ZKServer

@Test func parsesTheTLSKeysAsApacheZooKeeperNamesThem() throws {
    let text = """
        dataDir=/d
        clientPort=2181
        secureClientPort=2281
        secureClientPortAddress=127.0.0.1
        serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
        ssl.keyStore.location=/tls/node-1.pem
        ssl.keyStore.type=PEM
        ssl.keyStore.password=secret
        ssl.trustStore.location=/tls/ca.pem
        ssl.trustStore.type=pem
        ssl.clientAuth=want
        ssl.enabledProtocols=TLSv1.3
        sslQuorum=true
        zookeeper.ssl.quorum.keyStore.location=/tls/q.pem
        ssl.quorum.trustStore.location=/tls/qca.pem
        ssl.quorum.hostnameVerification=false
        ssl.quorum.protocol=TLSv1.2
        """
    let c = try ConfigParser.parse(text).get()
    #expect(c.secureClientPort == 2281 && c.secureClientPortAddress == "127.0.0.1")
    #expect(c.clientTLS.keyStoreLocation == "/tls/node-1.pem" && c.clientTLS.keyStorePassword == "secret")
    #expect(c.clientTLS.trustStoreLocation == "/tls/ca.pem" && c.clientTLS.clientAuth == .want)
    #expect(c.clientTLS.minimumVersion == .tls13 && c.clientTLS.maximumVersion == .tls13)
    #expect(c.sslQuorum && c.quorumTLS.keyStoreLocation == "/tls/q.pem" && c.quorumTLS.trustStoreLocation == "/tls/qca.pem")
    #expect(!c.quorumTLS.hostnameVerification)
    #expect(c.quorumTLS.minimumVersion == .tls12 && c.quorumTLS.maximumVersion == .tls12)
    #expect(c.unknown.isEmpty)   // every key above is understood (serverCnxnFactory is accepted silently)
}

@Test func tlsDefaultsFollowApacheZooKeeper() throws {
    let c = try ConfigParser.parse("dataDir=/d\nclientPort=2181").get()
    #expect(c.secureClientPort == nil && !c.sslQuorum)
    #expect(c.clientTLS.clientAuth == .need)   // Apache's default
    #expect(c.clientTLS.minimumVersion == .tls12 && c.clientTLS.maximumVersion == .tls13)
}

@Test func badTLSValuesAreReportedWithKeyAndLine() {
    let text = """
        dataDir=/d
        clientPort=2181
        secureClientPort=99999
        ssl.keyStore.type=JKS
        ssl.clientAuth=sometimes
        ssl.enabledProtocols=SSLv3
        sslQuorum=maybe
        ssl.trustStore.location=
        """
    guard case .failure(let e) = ConfigParser.parse(text, path: "zoo.cfg") else { Issue.record("accepted a bad config"); return }
    let all = e.problems.joined(separator: "\n")
    #expect(all.contains("zoo.cfg:3: secureClientPort must be a port number"))
    #expect(all.contains("zoo.cfg:4: ssl.keyStore.type must be PEM"))
    #expect(all.contains("zoo.cfg:5: ssl.clientAuth must be none, want or need"))
    #expect(all.contains("zoo.cfg:6: ssl.enabledProtocols must be"))
    #expect(all.contains("zoo.cfg:7: sslQuorum must be true or false"))
    #expect(all.contains("zoo.cfg:8: ssl.trustStore.location must name a PEM file"))
}

@Test func tlsPortsNeedTheirFiles() {
    guard case .failure(let e) = ConfigParser.parse("dataDir=/d\nclientPort=2181\nsecureClientPort=2281\nsslQuorum=true\nserver.1=127.0.0.1:2888:3888") else {
        Issue.record("accepted TLS without certificates"); return
    }
    let all = e.problems.joined(separator: "\n")
    #expect(all.contains("secureClientPort is set but ssl.keyStore.location is not"))
    #expect(all.contains("ssl.clientAuth is need but ssl.trustStore.location is not set"))
    #expect(all.contains("sslQuorum=true needs ssl.quorum.keyStore.location"))
    #expect(all.contains("sslQuorum=true needs ssl.quorum.trustStore.location"))
    // clientAuth=none needs no trust store.
    #expect((try? ConfigParser.parse("dataDir=/d\nclientPort=1\nsecureClientPort=2\nssl.keyStore.location=/k\nssl.clientAuth=none").get()) != nil)
}

@Test func unusableCertificateFilesNameTheKeyAndPath() throws {
    var s = TLSSettings()
    s.keyStoreLocation = "/nonexistent/node.pem"
    let missing = #expect(throws: TLSSetupError.self) { try TLSContexts.load(s, prefix: "ssl.quorum.") }
    #expect(missing?.message == "ssl.quorum.keyStore.location: '/nonexistent/node.pem' does not exist")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zk-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let garbage = dir + "/garbage.pem"
    try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
    s.keyStoreLocation = garbage
    let notPEM = #expect(throws: TLSSetupError.self) { try TLSContexts.load(s, prefix: "ssl.") }
    #expect(notPEM?.message.hasPrefix("ssl.keyStore.location: '\(garbage)'") == true)
    s.keyStoreLocation = dir
    let isDir = #expect(throws: TLSSetupError.self) { try TLSContexts.load(s, prefix: "ssl.") }
    #expect(isDir?.message == "ssl.keyStore.location: '\(dir)' is not a readable file")
}
