import NIOCore
import NIOPosix

// Compression off the event loop, for both roles: the writer held the message's place; the pool compresses; the
// loop puts the bytes in and flushes.
extension ConnectionFlushing {
    /// Runs `job` on the offload pool and fills its place in the stream when done. A stream that ended meanwhile
    /// (cancelled, expired, its connection closed) drops the result. If the pool is not running, or zlib fails or
    /// does not shrink the message, it goes uncompressed, as on the loop.
    func compressOffLoop(_ job: CompressionJob, offload: CompressionOffload) {
        guard let context = self.flushContext else { return }
        let willCompress = offload.willCompress
        // The job travels in a handoff and comes back as the bytes to send: the message it held is let go on the
        // pool, and nothing the loop releases after the callback (this closure, the future) still holds megabytes.
        let pending = Handoff(job)
        let (streamID, token) = (job.streamID, job.token)
        offload.threadPool.runIfActive(eventLoop: context.eventLoop) { () -> Handoff<(bytes: ByteBuffer, compressed: Bool)>? in
            guard let job = pending.take() else { return nil }
            willCompress?()
            return Handoff(job.outcome())
        }
            .assumeIsolated()
            .whenComplete { result in
                // A pool that is not running never took the job: it goes uncompressed, as when zlib fails.
                guard let outcome = (try? result.get())?.take() ?? pending.take().map({ ($0.message, false) }) else { return }
                let filled = self.writer.scheduler.fillPending(
                    streamID: streamID, token: token, outcome.bytes, compressed: outcome.compressed
                )
                if filled { self.flushSoon() }
            }
    }
}
