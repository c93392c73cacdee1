import Foundation
import Testing
@testable import ZKOrchestration

@Test func httpResponsesAreParsedWithTheirContentLength() throws {
    let raw = Array("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"error\" : \"no\"}\nEXTRA".utf8)
    let r = try HTTPResponse.parse(raw)
    #expect(r.status == 403)
    #expect(r.headers["content-type"] == "application/json")
    #expect(r.body.count == 17)
    #expect(AdminHTTP.errorMessage(r.body) == "no")
}

@Test func cutOffOrNonHTTPAnswersAreClearErrors() {
    #expect(throws: ZKCtlError("the server closed the connection without answering")) { try HTTPResponse.parse([]) }
    #expect(throws: ZKCtlError("the answer was cut off: 2 of 10 bytes arrived")) {
        try HTTPResponse.parse(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab".utf8))
    }
    #expect(throws: ZKCtlError("the answer is not HTTP: 'imok'")) { try HTTPResponse.parse(Array("imok\r\n\r\n".utf8)) }
}

@Test func serverEndpointsNeedHostAndPort() throws {
    let e = try BackupRestore.parseEndpoint("127.0.0.1:8080")
    #expect(e.host == "127.0.0.1" && e.port == 8080)
    for bad in ["127.0.0.1", ":8080", "h:0", "h:x", "a:1:2"] {
        #expect(throws: ZKCtlError.self) { try BackupRestore.parseEndpoint(bad) }
    }
}

@Test func restoreRefusesAMissingOrCorruptFile() throws {
    let dir = NSTemporaryDirectory() + "zkctl-restore-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(throws: ZKCtlError("cannot read backup file \(dir)/missing")) { try BackupRestore.load(dir + "/missing") }
    try Data("ZKBACKUP 1\nzxid=0x1\n".utf8).write(to: URL(fileURLWithPath: dir + "/cut"))
    do {
        _ = try BackupRestore.load(dir + "/cut")
        Issue.record("accepted a cut-off file")
    } catch let e as ZKCtlError {
        #expect(e.message.contains("header is cut off") && e.message.contains("refusing to restore"))
    }
}
