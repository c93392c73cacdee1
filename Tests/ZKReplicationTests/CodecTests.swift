import Testing
@testable import ZKReplication

let sampleMessages: [PeerMessage] = [
    .preVote(VoteRequest(term: 4, lastZxid: Zxid(epoch: 3, counter: 9))),
    .preVoteResponse(VoteResponse(term: 4, granted: true)),
    .vote(VoteRequest(term: 5, lastZxid: .zero)),
    .voteResponse(VoteResponse(term: 5, granted: false)),
    .append(AppendRequest(term: 2, prev: Zxid(epoch: 1, counter: 3), commit: Zxid(epoch: 1, counter: 2), round: 77,
                          entries: [entry(2, 0, .noop), entry(2, 1), Entry(zxid: Zxid(epoch: 2, counter: 2), kind: .config, payload: [9, 8])])),
    .append(AppendRequest(term: 2, prev: .zero, commit: .zero, round: 0, entries: [])),
    .appendResponse(AppendResponse(term: 2, success: true, match: Zxid(epoch: 2, counter: 1), rejectedPrev: .zero, hint: .zero, round: 3)),
    .appendResponse(AppendResponse(term: 2, success: false, match: .zero, rejectedPrev: Zxid(epoch: 2, counter: 1), hint: Zxid(epoch: 1, counter: 4), round: UInt64.max)),
    .snapshot(SnapshotRequest(term: 9, round: 1, snapshot: Snapshot(
        meta: SnapshotMeta(zxid: Zxid(epoch: 8, counter: 100), config: try! ClusterConfig(voters: [1, 2, 3], observers: [4])),
        data: Array(0..<200).map { UInt8($0) }))),
    .snapshot(SnapshotRequest(term: 9, round: 1, snapshot: Snapshot(meta: SnapshotMeta(zxid: Zxid(epoch: 8, counter: 1), config: nil), data: []))),
    .syncRequest(term: 3, id: 12),
    .syncResponse(term: 3, id: 12, zxid: Zxid(epoch: 3, counter: 40)),
    .app([1, 2, 3, 0, 255]),
    .app([]),
    .snapshot(SnapshotRequest(term: 2, round: 5, meta: SnapshotMeta(zxid: Zxid(epoch: 2, counter: 7), config: nil),
                              total: 1000, offset: 992, chunk: [1, 2, 3, 4, 5, 6, 7, 8])),
    .snapshotAck(SnapshotAck(term: 2, zxid: Zxid(epoch: 2, counter: 7), next: 512, round: 6)),
    .commitHint(term: 2, upTo: Zxid(epoch: 2, counter: 9)),
]

@Test func everyMessageRoundTrips() throws {
    for m in sampleMessages {
        let bytes = PeerCodec.encode(m)
        #expect(bytes[0] == PeerCodec.version)
        #expect(try PeerCodec.decode(bytes) == m)
    }
}

@Test func framesRoundTripAcrossPartialReads() throws {
    var stream: [UInt8] = []
    for m in sampleMessages { stream += PeerCodec.encodeFrame(m) }
    var buffer: [UInt8] = []
    var out: [PeerMessage] = []
    for b in stream {  // one byte at a time
        buffer.append(b)
        while let m = try PeerCodec.decodeFrame(&buffer) { out.append(m) }
    }
    #expect(out == sampleMessages)
    #expect(buffer.isEmpty)
}

@Test func everyTruncationIsAnError() {
    for m in sampleMessages {
        let bytes = PeerCodec.encode(m)
        for n in 0..<bytes.count {
            #expect(throws: PeerCodecError.self) { try PeerCodec.decode(Array(bytes.prefix(n))) }
        }
    }
}

@Test func malformedHeadersAreRejected() {
    var b = PeerCodec.encode(.app([1]))
    let v = PeerCodec.version
    b[0] = v + 1
    #expect(throws: PeerCodecError.unsupportedVersion(v + 1)) { try PeerCodec.decode(b) }
    #expect(throws: PeerCodecError.unknownType(99)) { try PeerCodec.decode([v, 99]) }
    #expect(throws: PeerCodecError.trailingBytes(1)) { try PeerCodec.decode(PeerCodec.encode(.app([1])) + [0]) }
    // A bool that is not 0/1.
    #expect(throws: PeerCodecError.invalidValue("bool 7")) { try PeerCodec.decode([v, 2, 0, 0, 0, 1, 7]) }
}

@Test func snapshotChunksMustFitTheirTotal() {
    let m = PeerMessage.snapshot(SnapshotRequest(term: 2, round: 5, meta: SnapshotMeta(zxid: Zxid(epoch: 2, counter: 7), config: nil),
                                                 total: 1000, offset: 996, chunk: [1, 2, 3, 4]))
    var bytes = PeerCodec.encode(m)
    // total is at a fixed position: version, type, term, round, zxid, config flag
    let totalAt = 1 + 1 + 4 + 8 + 8 + 1
    bytes[totalAt + 7] = 0xE7  // total 999 < offset + chunk
    #expect(throws: PeerCodecError.invalidValue("snapshot chunk 996+4 of 999")) { try PeerCodec.decode(bytes) }
}

@Test func oversizedLengthsAreRejectedWithoutAllocating() {
    // app with a 4 GiB payload length
    #expect(throws: PeerCodecError.tooLarge(Int(UInt32.max))) { try PeerCodec.decode([PeerCodec.version, 10, 255, 255, 255, 255]) }
    // append announcing 100k+1 entries
    var w = Writer()
    w.u8(PeerCodec.version); w.u8(5); w.u32(1); w.u64(0); w.u64(0); w.u64(0); w.u32(100_001)
    #expect(throws: PeerCodecError.tooLarge(100_001)) { try PeerCodec.decode(w.buf) }
    var frame: [UInt8] = [0x7f, 0xff, 0xff, 0xff]
    #expect(throws: PeerCodecError.tooLarge(0x7fff_ffff)) { try PeerCodec.decodeFrame(&frame) }
}

@Test func randomBytesNeverCrashTheDecoder() {
    var rng = SplitMix64(seed: 2024)
    var decoded = 0
    for i in 0..<3000 {
        var bytes: [UInt8]
        if i % 2 == 0 {
            // mutate a valid message
            bytes = PeerCodec.encode(sampleMessages[i % sampleMessages.count])
            let flips = 1 + Int(rng.next(below: 3))
            for _ in 0..<flips { bytes[Int(rng.next(below: UInt64(bytes.count)))] = UInt8(truncatingIfNeeded: rng.next()) }
        } else {
            bytes = (0..<Int(rng.next(below: 40))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        if let m = try? PeerCodec.decode(bytes) {
            decoded += 1
            // Whatever decodes must survive a re-encoding.
            #expect((try? PeerCodec.decode(PeerCodec.encode(m))) == m)
        }
    }
    #expect(decoded < 3000)
}

@Test func describeIsStable() {
    #expect(sampleMessages[4].description == "append t=2 prev=1:3 commit=1:2 r=77 [2:0..2:2]#3")
    #expect(sampleMessages[7].description == "append-reject t=2 prev=2:1 hint=1:4 r=18446744073709551615")
    #expect(sampleMessages[0].description == "prevote t=4 last=3:9")
    #expect(entry(2, 1).description == "2:1/txn(1b)")
}
