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
        offload.threadPool.runIfActive(eventLoop: context.eventLoop) {
            willCompress?()
            return job.run()
        }
            .assumeIsolated()
            .whenComplete { result in
                let packed = (try? result.get()) ?? nil
                let filled = self.writer.scheduler.fillPending(
                    streamID: job.streamID, token: job.token, packed ?? job.message, compressed: packed != nil
                )
                if filled { self.flushSoon() }
            }
    }
}
