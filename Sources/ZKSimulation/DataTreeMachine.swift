import NIOCore
import ZKProtocol
import ZKReplication
import ZKStateMachine

/// The project's real ZooKeeper data tree as the simulator's state machine.
///
/// The simulator's workload proposes register writes `[register, 8 value bytes]`; each one becomes a real
/// ZooKeeper transaction applied by `DataTree`: the first write to a register creates `/r<register>`,
/// later ones set its data with the next version. Every fifth write also opens a session that owns an
/// ephemeral node and closes the session opened five writes earlier, so session close and ephemeral
/// cleanup run on every replica too. Snapshots are `DataTree.serialize` bytes and the digest is the
/// tree's own digest, so replicas are compared on exactly what a server would hold.
public struct DataTreeMachine: SimStateMachine {
    public private(set) var tree = DataTree()

    public init() {}

    public var digest: UInt64 { tree.digest }

    public mutating func apply(_ entry: Entry) {
        var ignored: [WatchTrigger] = []
        let z = entry.zxid.raw
        func header(_ session: Int64 = 0) -> TxnHeader {
            TxnHeader(sessionId: session, cxid: 0, zxid: z, time: Int64(entry.zxid.counter))
        }
        guard entry.kind == .txn, entry.payload.count == 9 else {
            tree.apply(TxnEntry(header: header(), txn: .noop), triggers: &ignored)
            return
        }
        let reg = entry.payload[0]
        let value = Array(entry.payload[1...])
        let seq = value.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let path = "/r\(reg)"
        var ops: [Txn] = []
        if let n = tree.node(path) {
            ops.append(.setData(path: path, data: value, version: n.version &+ 1))
        } else {
            let root = tree.node("/")!
            ops.append(.create(CreateTxn(path: path, data: value, acl: ACL.openUnsafe, ephemeralOwner: 0,
                                         parentCVersion: root.storedCversion &+ 1)))
        }
        tree.apply(TxnEntry(header: header(), txn: .multi(ops)), triggers: &ignored)
        if seq % 5 == 0 {
            let session = Int64(seq)
            tree.apply(TxnEntry(header: header(session), txn: .createSession(timeoutMs: 10_000, passwd: [UInt8](repeating: 1, count: 16))),
                       triggers: &ignored)
            let root = tree.node("/")!
            tree.apply(TxnEntry(header: header(session), txn: .create(CreateTxn(
                path: "/e\(seq)", data: nil, acl: ACL.openUnsafe, ephemeralOwner: session,
                parentCVersion: root.storedCversion &+ 1))), triggers: &ignored)
            if seq >= 5, tree.sessions[Int64(seq - 5)] != nil {
                tree.apply(TxnEntry(header: header(Int64(seq - 5)), txn: .closeSession), triggers: &ignored)
            }
        }
    }

    public func snapshot() -> [UInt8] {
        Array(tree.serialized().readableBytesView)
    }

    public mutating func restore(_ bytes: [UInt8]) throws {
        var r = JuteReader(ByteBuffer(bytes: bytes), maxLength: Int(Int32.max))
        tree = try DataTree.deserialize(&r)
    }
}
