import NIOCore
import Testing
@testable import ZKProtocol

func hex(_ s: String) -> [UInt8] {
    let clean = s.filter { !$0.isWhitespace && $0 != "|" }
    var out: [UInt8] = []
    var i = clean.startIndex
    while i < clean.endIndex {
        let j = clean.index(i, offsetBy: 2)
        out.append(UInt8(clean[i..<j], radix: 16)!)
        i = j
    }
    return out
}

@Test func createRequestMatchesTheWorkedExample() {
    var b = ByteBuffer()
    b.writeFramed {
        RequestHeader(xid: 1, type: OpCode.create.rawValue).encode(into: &$0)
        Request.create(CreateRequest(path: "/hx", data: Array("hi".utf8), acl: ACL.openUnsafe, flags: 0), op: .create)
            .encodeBody(into: &$0)
    }
    let expected = hex("00000034 00000001 00000001 00000003 2f6878 00000002 6869 00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000")
    #expect(Array(b.readableBytesView) == expected)
}

@Test func connectRequestWithAndWithoutReadOnlyByte() throws {
    let withByte = hex("00000000 0000000000000000 00007530 0000000000000000 00000010 00000000000000000000000000000000 01")
    var r = JuteReader(ByteBuffer(bytes: withByte))
    let req = try ConnectRequest(from: &r)
    #expect(req.timeOut == 30000 && req.readOnly == true && req.passwd.count == 16)
    var r2 = JuteReader(ByteBuffer(bytes: Array(withByte.dropLast())))
    let old = try ConnectRequest(from: &r2)
    #expect(old.readOnly == nil)
    // The response mirrors the presence of the byte: 37 vs 36 bytes.
    #expect(ConnectResponse(timeOut: 1, sessionId: 2, passwd: [UInt8](repeating: 0, count: 16), readOnly: false).bytes.count == 37)
    #expect(ConnectResponse(timeOut: 1, sessionId: 2, passwd: [UInt8](repeating: 0, count: 16), readOnly: nil).bytes.count == 36)
}

@Test func statIsSixtyEightBytes() {
    #expect(Stat().bytes.count == 68)
}

@Test func frameSplitterRejectsNegativeAndOversizedLengths() {
    let s = FrameSplitter(maxFrameBytes: 100)
    var neg = ByteBuffer(bytes: hex("ffffffff"))
    #expect(s.next(&neg) == .invalidLength(-1))
    var big = ByteBuffer(bytes: hex("00000065"))
    #expect(s.next(&big) == .invalidLength(101))
    var partial = ByteBuffer(bytes: hex("00000004 0102"))
    #expect(s.next(&partial) == .needMoreData)
    var whole = ByteBuffer(bytes: hex("00000002 0102 00000000"))
    #expect(s.next(&whole) == .frame(ByteBuffer(bytes: [1, 2])))
    #expect(s.next(&whole) == .frame(ByteBuffer()))
}

@Test func unknownOpcodeAndTruncatedBodiesAreDistinguished() {
    var empty = JuteReader(ByteBuffer())
    #expect(throws: Request.DecodeError.unknownOpCode(999)) { try Request.decode(type: 999, body: &empty) }
    var truncated = JuteReader(ByteBuffer(bytes: hex("00000002 2f61")))  // getData without its watch byte
    #expect(throws: Request.DecodeError.malformed("truncated boolean")) { try Request.decode(type: 4, body: &truncated) }
}

@Test func multiRoundTripsAndRejectsMixedReadsAndWrites() throws {
    let ops: [MultiOp] = [
        .create(CreateRequest(path: "/m", data: nil, acl: ACL.openUnsafe, flags: 0), op: .create),
        .check(PathVersionRequest(path: "/m", version: 0)),
        .delete(PathVersionRequest(path: "/m", version: -1)),
    ]
    var b = ByteBuffer()
    Request.multi(ops).encodeBody(into: &b)
    var r = JuteReader(b)
    #expect(try Request.decode(type: 14, body: &r) == .multi(ops))
    var mixed = ByteBuffer()
    Request.multi([ops[0], .getData(PathWatchRequest(path: "/m", watch: false))]).encodeBody(into: &mixed)
    var r2 = JuteReader(mixed)
    #expect(throws: Request.DecodeError.self) { try Request.decode(type: 14, body: &r2) }
}

@Test func multiFailureResultBytesMatchApacheZooKeeper() {
    var b = ByteBuffer()
    Response.multi([.error(.ok), .error(.badVersion), .error(.runtimeInconsistency)]).encode(into: &b)
    #expect(Array(b.readableBytesView) == hex("ffffffff 00 00000000 00000000 ffffffff 00 ffffff99 ffffff99 ffffffff 00 fffffffe fffffffe ffffffff 01 ffffffff"))
}

@Test(arguments: [
    ("/", true), ("/a", true), ("/a.b", true), ("/...", true), ("/a/b", true),
    ("", false), ("a", false), ("/a/", false), ("//a", false), ("/a//b", false), ("/.", false), ("/a/..", false),
    ("/a/\u{01}", false), ("/a\u{0}b", false),
])
func pathValidation(path: String, valid: Bool) {
    #expect(PathValidation.isValid(path) == valid)
}

@Test func stringNullAndEmptyAreDistinct() throws {
    var b = ByteBuffer()
    b.writeJuteBuffer(nil); b.writeJuteBuffer([])
    var r = JuteReader(b)
    #expect(try r.readBuffer() == nil)
    #expect(try r.readBuffer() == [])
    var bad = JuteReader(ByteBuffer(bytes: hex("7fffffff")), maxLength: 100)
    #expect(throws: JuteError.self) { try bad.readBuffer() }
}
