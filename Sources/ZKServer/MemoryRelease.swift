#if canImport(Glibc)
import Glibc
#endif

/// Gives memory the allocator holds free back to the operating system. After a snapshot the tree's
/// copied-on-write shards and the serialization buffer are freed; glibc keeps such memory in its
/// heap (reusable, but counted in the process's RSS) until asked to trim.
enum MemoryRelease {
    #if canImport(Glibc)
    /// glibc's `malloc_trim`, looked up at run time: the Glibc module does not export <malloc.h>.
    private static let trim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif

    /// Call off the event loop: trimming walks the allocator's free lists.
    static func releaseFreeMemory() {
        #if canImport(Glibc)
        _ = trim?(0)
        #endif
    }
}
