#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Snapshot files `snapshot.<hex zxid>` under `<dataDir>/version-2`:
/// `ZKSN` + format version, i64 zxid, u64 payload length, u32 crc32c of the payload, then the payload.
/// Holds only its directory: every call works on the files, so any thread may use it.
public final class SnapshotStore: Sendable {
    public static let magic: [UInt8] = Array("ZKSN".utf8) + [0, 0, 0, 1]
    public let dir: String

    public init(dataDir: String) throws {
        dir = dataDir + "/version-2"
        try FileIO.mkdirs(dir)
    }

    public func path(_ zxid: Int64) -> String { dir + "/snapshot." + FileIO.hex(zxid) }

    /// Snapshot zxids on disk, newest first.
    public func list() throws -> [Int64] {
        try FileIO.list(dir).compactMap { FileIO.parseHexSuffix($0, prefix: "snapshot.") }.sorted(by: >)
    }

    public func write(zxid: Int64, payload: UnsafeRawBufferPointer) throws {
        try write(zxid: zxid, parts: [payload])
    }

    /// Writes a snapshot whose payload is `parts` one after another (no copy joins them).
    public func write(zxid: Int64, parts: [UnsafeRawBufferPointer]) throws {
        var header: [UInt8] = Self.magic
        func put(_ v: UInt64, _ bytes: Int) { for s in stride(from: (bytes - 1) * 8, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
        put(UInt64(bitPattern: zxid), 8)
        put(UInt64(parts.reduce(0) { $0 + $1.count }), 8)
        put(UInt64(parts.reduce(UInt32(0)) { CRC32C.checksum($1, seed: $0) }), 4)
        try header.withUnsafeBytes { h in try FileIO.writeAtomically(path(zxid), dir: dir, [h] + parts) }
    }

    /// Loads the newest snapshot that passes its checksum; older ones are tried if the newest is damaged.
    public func loadNewest(warn: (String) -> Void) throws -> (zxid: Int64, payload: [UInt8])? {
        for z in try list() {
            switch try read(z) {
            case .success(let payload): return (z, payload)
            case .failure(let damage): warn("snapshot \(path(z)) \(damage.reason); trying an older one")
            }
        }
        return nil
    }

    /// The payload of the snapshot at exactly `zxid`, nil if it is missing or damaged.
    public func load(zxid: Int64) -> [UInt8]? {
        guard access(path(zxid), F_OK) == 0, case .success(let payload)? = try? read(zxid) else { return nil }
        return payload
    }

    struct Damage: Error { var reason: String }

    private func read(_ z: Int64) throws -> Result<[UInt8], Damage> {
        let bytes = try FileIO.readAll(path(z))
        let headerLen = Self.magic.count + 20
        guard bytes.count >= headerLen, Array(bytes[0..<Self.magic.count]) == Self.magic else { return .failure(Damage(reason: "has a bad header")) }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[o + $1]) } }
        let len = Int(u64(16))
        let crc = UInt32(truncatingIfNeeded: (0..<4).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[24 + $1]) })
        guard Int64(bitPattern: u64(8)) == z else { return .failure(Damage(reason: "names another zxid in its header")) }
        guard bytes.count == headerLen + len else { return .failure(Damage(reason: "is truncated")) }
        let payload = Array(bytes[headerLen...])
        guard CRC32C.checksum(payload) == crc else { return .failure(Damage(reason: "fails its checksum")) }
        return .success(payload)
    }

    /// Keeps the newest `retain` snapshots; returns the zxid of the oldest kept one.
    @discardableResult
    public func purge(retain: Int) throws -> Int64? {
        let all = try list()
        for z in all.dropFirst(max(retain, 1)) { unlink(path(z)) }
        return all.prefix(max(retain, 1)).last
    }

    public var totalBytes: Int { ((try? list()) ?? []).reduce(0) { $0 + FileIO.fileSize(path($1)) } }
}
