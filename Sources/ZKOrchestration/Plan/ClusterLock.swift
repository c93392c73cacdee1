#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock per cluster (flock on `<home>/locks/<name>.lock`), held while a command changes
/// the cluster, so two zkctl processes never start or stop the same nodes at once. The kernel
/// releases it when the process exits, however it exits.
final class ClusterLock {
    private let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    static func acquire(home: String, cluster: String) throws -> ClusterLock {
        let dir = home + "/locks"
        try FileSystem.makeDirectory(dir)
        let path = "\(dir)/\(cluster).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ZKCtlError("cannot open lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ZKCtlError("another zkctl command is changing cluster '\(cluster)' right now; wait for it to finish and run this again")
        }
        return ClusterLock(fd: fd, path: path)
    }
}
