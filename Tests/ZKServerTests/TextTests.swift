import Testing
@testable import ZKServer

@Test func fixedMatchesPrintfStyleDecimals() {
    #expect(fixed(0, 4) == "0.0000")
    #expect(fixed(1.23456, 4) == "1.2346")
    #expect(fixed(12.5, 1) == "12.5")
    #expect(fixed(0.05, 1) == "0.1")
    #expect(fixed(-3.14159, 2) == "-3.14")
    #expect(fixed(-0.0001, 2) == "0.00")
    #expect(fixed(7, 0) == "7")
    #expect(fixed(1234567.891, 3) == "1234567.891")
    #expect(fixed(.nan, 2) == "NaN")
}

@Test func trimmedDropsWhitespaceIncludingCRLF() {
    #expect("1\n".trimmed == "1")
    #expect("  2\r\n".trimmed == "2")
    #expect("\t x y \r".trimmed == "x y")
    #expect("".trimmed == "")
    #expect(" a = b ".trimmingCharacters(in: " ") == "a = b")
}

@Test func directoryOfAPath() {
    #expect(directoryOf("/etc/zk/zoo.cfg") == "/etc/zk")
    #expect(directoryOf("zoo.cfg") == ".")
    #expect(directoryOf("/zoo.cfg") == "/")
}

@Test func snapSizeLimitIsParsedAndChecked() throws {
    let c = try ConfigParser.parse("dataDir=/d\nclientPort=2181\nsnapSizeLimitInKb=2048\n").get()
    #expect(c.snapSizeLimitInKb == 2048)
    guard case .failure(let e) = ConfigParser.parse("dataDir=/d\nclientPort=2181\nsnapSizeLimitInKb=0\n") else {
        Issue.record("snapSizeLimitInKb=0 was accepted"); return
    }
    #expect(e.problems.joined().contains("snapSizeLimitInKb"))
}
