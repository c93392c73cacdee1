import ZKProtocol

/// Serves read requests from the local tree (any replica), registering watches as asked.
public enum ReadProcessor {
    public static func process(_ request: Request, tree: DataTree, auth: AuthInfo, sessionId: Int64,
                               watcher: WatchManager.WatcherID, watches: WatchManager, skipACL: Bool = false)
        -> Result<Response, ErrorCode>
    {
        func readable(_ n: Znode) -> Bool { ACLPolicy.allows(n.acl, .read, auth, skipACL: skipACL) }
        // Apache ZooKeeper keeps the root under the empty name too, so reads of "" see "/".
        var request = request
        switch request {
        case .exists(let r) where r.path.isEmpty: request = .exists(PathWatchRequest(path: "/", watch: r.watch))
        case .getData(let r) where r.path.isEmpty: request = .getData(PathWatchRequest(path: "/", watch: r.watch))
        case .getChildren(let r) where r.path.isEmpty: request = .getChildren(PathWatchRequest(path: "/", watch: r.watch))
        case .getChildren2(let r) where r.path.isEmpty: request = .getChildren2(PathWatchRequest(path: "/", watch: r.watch))
        case .getACL(let r) where r.path.isEmpty: request = .getACL(PathRequest(path: "/"))
        default: break
        }
        switch request {
        case .exists(let r):
            if r.path.utf8.contains(0) { return .failure(.badArguments) }
            if r.watch { watches.add(.data, path: r.path, watcher: watcher) }
            guard let n = tree.node(r.path) else { return .failure(.noNode) }
            return .success(.stat(n.stat))
        case .getData(let r):
            if r.path.utf8.contains(0) { return .failure(.badArguments) }
            guard let n = tree.node(r.path) else { return .failure(.noNode) }
            if !readable(n) { return .failure(.noAuth) }
            if r.watch { watches.add(.data, path: r.path, watcher: watcher) }
            return .success(.data(n.data, n.stat))
        case .getChildren(let r), .getChildren2(let r):
            if r.path.utf8.contains(0) { return .failure(.badArguments) }
            guard let n = tree.node(r.path) else { return .failure(.noNode) }
            if !readable(n) { return .failure(.noAuth) }
            if r.watch { watches.add(.child, path: r.path, watcher: watcher) }
            if case .getChildren = request { return .success(.children(Array(n.children))) }
            return .success(.children2(Array(n.children), n.stat))
        case .getACL(let r):
            guard let n = tree.node(r.path) else { return .failure(.noNode) }
            let admin = ACLPolicy.allows(n.acl, .admin, auth, skipACL: skipACL)
            if !admin && !readable(n) { return .failure(.noAuth) }
            var acl = n.acl
            if !admin {
                acl = acl.map { a in
                    guard a.id.scheme == "digest", let user = a.id.id.split(separator: ":").first else { return a }
                    return ACL(perms: a.perms, id: Id(scheme: "digest", id: user + ":x"))
                }
            }
            return .success(.acl(acl, n.stat))
        case .getAllChildrenNumber(let r):
            guard let n = tree.node(r.path) else { return .failure(.noNode) }
            if !readable(n) { return .failure(.noAuth) }
            return .success(.number(Int32(tree.descendantCount(r.path))))
        case .getEphemerals(let r):
            let all = tree.ephemerals[sessionId] ?? []
            let prefix = r.path
            let list = (prefix.isEmpty || prefix == "/") ? Array(all) : all.filter { $0.hasPrefix(prefix) }
            return .success(.strings(list.sorted()))
        case .multiRead(let ops):
            var results: [MultiResult] = []
            for op in ops {
                switch op {
                case .getData(let r):
                    switch process(.getData(PathWatchRequest(path: r.path, watch: false)), tree: tree, auth: auth,
                                   sessionId: sessionId, watcher: watcher, watches: watches, skipACL: skipACL) {
                    case .success(.data(let d, let s)): results.append(.getData(data: d, stat: s))
                    case .failure(let e): results.append(.error(e))
                    default: results.append(.error(.systemError))
                    }
                case .getChildren(let r):
                    switch process(.getChildren(PathWatchRequest(path: r.path, watch: false)), tree: tree, auth: auth,
                                   sessionId: sessionId, watcher: watcher, watches: watches, skipACL: skipACL) {
                    case .success(.children(let c)): results.append(.getChildren(c))
                    case .failure(let e): results.append(.error(e))
                    default: results.append(.error(.systemError))
                    }
                default:
                    return .failure(.marshallingError)
                }
            }
            return .success(.multi(results))
        case .checkWatches(let r), .removeWatches(let r):
            guard let t = WatcherType(rawValue: r.type), t.rawValue <= 3 else { return .failure(.marshallingError) }
            let remove: Bool
            if case .removeWatches = request { remove = true } else { remove = false }
            return watches.has(path: r.path, type: t, watcher: watcher, remove: remove) ? .success(.empty) : .failure(.noWatcher)
        case .addWatch(let r):
            switch r.type {
            case 0: watches.add(.persistent, path: r.path, watcher: watcher)
            case 1: watches.add(.recursive, path: r.path, watcher: watcher)
            default: return .failure(.marshallingError)
            }
            return .success(.number(0))
        case .whoAmI:
            return .success(.whoAmI(auth.ids.map { id in
                switch id.scheme {
                case "digest": return ClientInfo(authScheme: "digest", user: String(id.id.split(separator: ":").first ?? ""))
                default: return ClientInfo(authScheme: id.scheme, user: id.id)
                }
            }))
        default:
            return .failure(.unimplemented)
        }
    }

    /// setWatches/setWatches2: re-registers watches, returning the events that already happened.
    public static func setWatches(_ s: SetWatchesRequest, tree: DataTree, watcher: WatchManager.WatcherID,
                                  watches: WatchManager) -> [WatcherEvent] {
        var events: [WatcherEvent] = []
        let rel = s.relativeZxid
        /// A data or child watch on a node that must exist: the event it missed (`changed` since `rel`,
        /// or deleted), else the watch again.
        func rewatch(_ paths: [String], _ kind: WatchManager.Kind, changed: EventType, since: (Znode) -> Int64) {
            for p in paths {
                if let n = tree.node(p) {
                    if since(n) > rel { events.append(WatcherEvent(type: changed, path: p)) }
                    else { watches.add(kind, path: p, watcher: watcher) }
                } else {
                    events.append(WatcherEvent(type: .nodeDeleted, path: p))
                }
            }
        }
        rewatch(s.dataWatches, .data, changed: .nodeDataChanged) { $0.mzxid }
        for p in s.existWatches {
            if tree.node(p) != nil { events.append(WatcherEvent(type: .nodeCreated, path: p)) }
            else { watches.add(.data, path: p, watcher: watcher) }
        }
        rewatch(s.childWatches, .child, changed: .nodeChildrenChanged) { $0.pzxid }
        for p in s.persistentWatches { watches.add(.persistent, path: p, watcher: watcher) }
        for p in s.persistentRecursiveWatches { watches.add(.recursive, path: p, watcher: watcher) }
        return events
    }
}
