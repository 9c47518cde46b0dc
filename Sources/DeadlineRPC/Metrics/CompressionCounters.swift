import Synchronization

/// Which path each compressed message took on one side (a server's connections, or a client's): on the event loop,
/// or on the thread pool because it was above ``CompressionOffload/threshold``. Observed by tests; relaxed counts.
final class CompressionCounters: Sendable {
    /// Messages compressed on the event loop (at most the threshold).
    let compressedOnLoop = Atomic<Int>(0)
    /// Messages compressed on the thread pool (above the threshold).
    let compressedOffLoop = Atomic<Int>(0)
    /// Messages decompressed on the event loop (inflating to at most the threshold).
    let decompressedOnLoop = Atomic<Int>(0)
    /// Messages decompressed on the thread pool (inflating past the threshold).
    let decompressedOffLoop = Atomic<Int>(0)
    /// Uncompressed split messages joined on the thread pool (above ``CompressionOffload/joinThreshold``).
    let joinedOffLoop = Atomic<Int>(0)
    /// Big written or dropped messages whose last reference was handed to the thread pool to drop.
    let releasedOffLoop = Atomic<Int>(0)
}
