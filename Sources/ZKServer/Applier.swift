import NIOCore
import NIOPosix
import ZKProtocol
import ZKStateMachine

/// The applier: the data tree, its watches and the leader's view of writes in flight (`preparer`).
/// Committed transactions are applied here in zxid order, and each says what it did (the result for
/// whoever waits for it, the watch events it fired); the applier knows nothing of connections or of
/// replication. The replicator calls it with committed transactions, the client side reads from it.
///
/// Loop-confined (Sendable by that confinement, as `ZooKeeperServer`), except the frozen image a
/// snapshot serializes on the snapshot thread.
final class Applier: @unchecked Sendable {
    let tree = DataTree()
    let watches = WatchManager()
    let preparer: Preparer
    let loop: EventLoop
    let snapshotPool: NIOThreadPool

    init(config: ServerConfig, loop: EventLoop, snapshotPool: NIOThreadPool) {
        preparer = Preparer(tree: tree, options: PreparerOptions(extendedTypesEnabled: config.extendedTypesEnabled,
                                                                 skipACL: config.skipACL, enforceQuota: config.enforceQuota))
        self.loop = loop
        self.snapshotPool = snapshotPool
    }

    /// What one applied transaction did.
    struct Applied {
        var header: TxnHeader
        var txn: Txn
        var result: TxnResult
        /// Watch events to deliver, by watcher (a connection id).
        var events: [(watcher: Int, event: WatcherEvent)]
    }

    /// Applies `entry` (its zxid already set) and says what it did.
    func apply(_ entry: TxnEntry) -> Applied {
        var triggers: [WatchTrigger] = []
        let result = tree.apply(entry, triggers: &triggers)
        preparer.applied(upTo: entry.header.zxid)
        let events = triggers.isEmpty ? [] : watches.trigger(triggers).map { (watcher: $0.0, event: $0.1) }
        return Applied(header: entry.header, txn: entry.txn, result: result, events: events)
    }

    /// Applies a transaction nobody waits for and no watcher sees (a no-op, the first membership text).
    func applySilently(_ entry: TxnEntry) {
        var triggers: [WatchTrigger] = []
        tree.apply(entry, triggers: &triggers)
    }

    /// A snapshot from the leader replaces the tree; writes prepared against the old one are void.
    func replace(with newTree: DataTree) {
        tree.replace(with: newTree)
        preparer.reset()
    }

    /// Every snapshot of the tree (the periodic one, the admin backup) leaves the loop here: the tree is
    /// frozen (O(1)), serialized on the snapshot thread and the bytes handed to `use` there; then the
    /// tree thaws and the memory freed meanwhile goes back to the system. A large tree takes longer to
    /// serialize than clients and the ensemble may wait.
    func withTreeSnapshot<T: Sendable>(_ use: @escaping @Sendable (DataTreeImage, ByteBuffer) throws -> T) -> EventLoopFuture<T> {
        let image = tree.freeze()
        let size = tree.estimatedSnapshotSize
        let done = snapshotPool.runIfActive(eventLoop: loop) { try use(image, image.serialized(estimatedSize: size)) }
        // Registered first, so it runs before the caller's callbacks.
        done.whenComplete { [self] _ in
            tree.thaw()
            _ = snapshotPool.runIfActive(eventLoop: loop) { MemoryRelease.releaseFreeMemory() }
        }
        return done
    }
}
