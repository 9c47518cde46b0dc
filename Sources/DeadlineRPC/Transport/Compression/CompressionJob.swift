import NIOCore
import Wire

/// One message to compress on the thread pool; its place in the stream's queue is held by `token` meanwhile
/// (``OutboundScheduler/fillPending(streamID:token:_:compressed:)``).
struct CompressionJob: Sendable {
    let streamID: UInt32
    let token: UInt64
    let message: ByteBuffer
    let encoding: MessageEncoding

    /// The compressed bytes, or nil when zlib fails or would not make the message smaller (it goes as it is).
    /// Runs on a pool thread with a compressor of its own: a connection's compressor belongs to its loop.
    func run() -> ByteBuffer? {
        guard let packed = try? MessageCompressor().compress(self.message, encoding: self.encoding),
            packed.readableBytes < self.message.readableBytes
        else { return nil }
        return packed
    }

    /// What to send: the compressed bytes, or the message as it is when zlib fails or would not shrink it.
    func outcome() -> (bytes: ByteBuffer, compressed: Bool) {
        self.run().map { ($0, true) } ?? (self.message, false)
    }
}
