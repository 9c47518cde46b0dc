import NIOCore
import NIOPosix

/// Where a connection compresses and inflates messages: on its event loop up to `threshold` bytes, on a thread pool
/// above it, so one big message never holds the loop (and every other connection on it) for milliseconds.
///
/// Below the threshold the hop to the pool and back (two thread wake-ups) costs more than zlib's work; above it the
/// loop's latency is what matters (see docs/PERFORMANCE.md, "Compression off the event loop", for the stalls).
struct CompressionOffload {
    /// Messages larger than this (before compression, or once inflated) are worked on the pool.
    let threshold: Int
    /// The pool that does the work; results come back to the connection's loop.
    let threadPool: NIOThreadPool
    /// Which path each message took.
    let counters: CompressionCounters
    /// Split uncompressed messages larger than this are joined on the pool. Higher than ``threshold``: joining is a
    /// copy, far cheaper than zlib, and below this it costs the loop less than the hop (nothing offloads at `Int.max`).
    var joinThreshold: Int {
        self.threshold == .max ? .max : max(self.threshold, Self.minimumJoinThreshold)
    }
    /// The least ``joinThreshold``: copying 256 KiB, page faults included, holds a loop for about 0.1 ms.
    static let minimumJoinThreshold = 256 * 1024
    /// Runs on the pool thread before each offloaded compression (a test hook; nil in production).
    var willCompress: (@Sendable () -> Void)? = nil

    /// Drops the last references to big written or dropped messages (``OutboundScheduler/takeRetired()``) on the
    /// pool: freeing megabytes can trim the allocator's heap (`madvise` of tens of MiB), which held a loop for over
    /// 1 ms in `compress-bench`'s bidirectional shape. At `Int.max` (everything on the loop) they are dropped here.
    /// `buffers` is consumed into a handoff the pool empties: if the loop kept a reference (a copy of the array) and
    /// the pool let go of its own first, the loop's release would free them after all.
    func release(_ buffers: consuming [ByteBuffer]) {
        guard self.threshold != .max else { return }
        self.counters.releasedOffLoop.add(buffers.count, ordering: .relaxed)
        let handoff = Handoff(consume buffers)
        self.threadPool.submit { _ in _ = handoff.take() }
    }

    /// Never offloads: for connections whose loop cannot take results from another thread (an `EmbeddedEventLoop`).
    static func never(counters: CompressionCounters) -> CompressionOffload {
        CompressionOffload(threshold: .max, threadPool: .singleton, counters: counters)
    }
}
