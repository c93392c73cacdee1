import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import ZKProtocol
import ZKReplication
import ZKStateMachine
import ZKStorage

extension QuorumPeer {
    /// An ensemble member as the shared `ReplicaDriver` sees it: its disk (the `DurableLogStore`, written on
    /// the disk thread or, for a small append, right on the loop), its peer transports, and its data tree.
    /// Holds the peer weakly: the peer owns the driver, which owns this. Confined to the loop, as the peer.
    final class Member: ReplicaDisk, ReplicaTransport, ReplicaApplication, ReplicaClock, @unchecked Sendable {
        weak var peer: QuorumPeer?

        init(peer: QuorumPeer) { self.peer = peer }

        // MARK: ReplicaDisk

        func persist(_ w: DiskWrite, done: @escaping (Result<Void, any Error>) -> Void) {
            guard let peer else { return }
            let store = peer.store
            let sync = peer.config.forceSync && w.sync
            let work = { @Sendable () throws -> Persisted in
                if let h = w.hardState { try store.saveHardState(h) }
                if let z = w.truncateAfter { try store.truncate(after: z) }
                var tree: DataTree?
                if let s = w.snapshot {
                    var r = JuteReader(ByteBuffer(bytes: s.data), maxLength: Int(Int32.max))
                    tree = try DataTree.deserialize(&r)
                    try store.install(s)
                }
                try store.append(w.entries)
                var nanos: UInt64 = 0
                if sync {
                    let t0 = ZooKeeperServer.monotonicNanos()
                    try store.sync()
                    nanos = ZooKeeperServer.monotonicNanos() - t0
                }
                return Persisted(nanos: nanos, tree: tree)
            }
            let finished = { [weak peer] (result: Result<Persisted, any Error>) in
                guard let peer else { return }
                switch result {
                case .success(let r):
                    if r.nanos > 0 {
                        peer.metrics.observeFsync(nanos: r.nanos, now: ZooKeeperServer.monotonicNanos())
                    }
                    peer.durableLast = store.lastZxid
                    if let tree = r.tree, let s = w.snapshot { peer.decodedSnapshot = (s.zxid, tree) }
                    if w.entries.contains(where: { $0.kind == .config }) || w.truncateAfter != nil || w.snapshot != nil {
                        for e in w.entries where e.kind == .config { peer.learnConfigEntry(e) }
                        peer.needsPeerRefresh = true
                    }
                    done(.success(()))
                case .failure(let error):
                    peer.failedWrite = w
                    done(.failure(error))
                }
            }
            // A small append (light load) is written and fsynced right here: handing it to the disk thread
            // and back costs two thread wake-ups, more than the loop would do meanwhile. Bigger batches
            // (heavy load), truncations and snapshot installs go to the disk thread, so reading and
            // applying overlap the fsync.
            if w.snapshot == nil && w.truncateAfter == nil && w.entries.count <= Self.inlineSyncMaxEntries {
                finished(Result { try work() })
                return
            }
            peer.diskPool.runIfActive(eventLoop: peer.loop, work).assumeIsolated().whenComplete(finished)
            peer.client?.flush()
        }

        /// What the disk thread hands back to the loop: the fsync time, and a snapshot's tree decoded there
        /// (made on that thread and used only on the loop afterwards: handed over, never shared).
        struct Persisted: @unchecked Sendable {
            var nanos: UInt64
            var tree: DataTree?
        }

        /// Hundreds of MB at a million znodes: read on the snapshot thread, never on the loop (a 210 MB
        /// file held the loop for 0.64 s in a measured run). A snapshot that cannot be read is warned
        /// about once; the core asks again when a follower next needs it.
        func readSnapshot(_ zxid: Zxid, done: @escaping (Snapshot?) -> Void) {
            guard let peer else { return }
            let store = peer.store
            peer.snapshotPool.runIfActive(eventLoop: peer.loop) { store.readSnapshot(zxid: zxid) }
                .assumeIsolated().whenComplete { [weak peer] result in
                    guard let peer else { return }
                    let snapshot = (try? result.get()) ?? nil
                    if snapshot == nil && peer.warnedSnapshotRead != zxid {
                        peer.warnedSnapshotRead = zxid
                        peer.logger.warning("cannot read the snapshot at \(zxid) for a follower; trying again on each heartbeat")
                    }
                    done(snapshot)
                }
        }

        // MARK: ReplicaClock

        func tick(after pace: TickPace, _ fire: @escaping () -> Void) {
            guard let peer else { return }
            let ms = pace == .steady ? peer.replicaTickMs : QuorumPeer.fastTickMs
            peer.loop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) { fire() }
        }

        // MARK: ReplicaTransport

        func send(_ messages: [Outbound]) {
            guard let peer, !messages.isEmpty else { return }
            // A leader's clients first: its replies are ready before its commit notices and hints go out.
            if peer.isLeader { peer.client?.flush() }
            for o in messages { peer.route(o) }
        }

        // MARK: ReplicaApplication

        func restore(_ snapshot: Snapshot) throws {
            guard let peer else { return }
            let tree: DataTree
            if let d = peer.decodedSnapshot, d.zxid == snapshot.zxid {
                tree = d.tree
            } else {
                var r = JuteReader(ByteBuffer(bytes: snapshot.data), maxLength: Int(Int32.max))
                tree = try DataTree.deserialize(&r)
            }
            peer.decodedSnapshot = nil
            peer.adoptSnapshot(tree, at: snapshot.zxid, config: snapshot.meta.config)
        }

        func apply(_ committed: [Entry]) {
            guard let peer else { return }
            // A member that leads now still applies in order behind what it delayed as a follower.
            if QuorumPeer.slowFollower && (!peer.isLeader || !peer.delayedCommits.isEmpty) {
                peer.delayCommits(committed)
                return
            }
            for e in committed { peer.apply(e) }
            peer.client?.treeAdvanced()
            peer.checkSyncs()
        }

        func readBarriers(_ syncs: [SyncReady]) {
            guard let peer else { return }
            for s in syncs { peer.readySyncs.append((s.zxid, s.id)) }
            peer.checkSyncs()
        }

        func advanced(_ appMessages: [AppMessage]) {
            guard let peer else { return }
            if peer.needsPeerRefresh {
                peer.needsPeerRefresh = false
                peer.refreshPeers()
            }
            for a in appMessages { peer.handleApp(from: a.from, a.bytes) }
            peer.checkRole()
            peer.client?.flush()
        }

        func idle() {
            guard let peer else { return }
            peer.adoptPendingSnapshot()
            peer.purgeLogIfPending()
            peer.maybeSnapshot()
            peer.client?.flush()
        }

        /// The driver has stopped: a disk write failed (`failedWrite` says which), or the core and its
        /// store disagree. See `diskFailed` for what happens next.
        func failed(_ error: any Error) {
            guard let peer else { return }
            let write = peer.failedWrite
            peer.failedWrite = nil
            peer.diskFailed(error, during: write)
        }

        /// Appends of at most this many entries are written and fsynced on the event loop (see `persist`).
        static let inlineSyncMaxEntries = Int(ProcessInfo.processInfo.environment["ZKSERVER_INLINE_SYNC_MAX"] ?? "") ?? 8
    }
}
