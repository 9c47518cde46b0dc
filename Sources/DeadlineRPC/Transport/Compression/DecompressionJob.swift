import NIOCore
import Wire

/// One received message to inflate on the thread pool, bounded by the message limit as on the loop.
struct DecompressionJob: Sendable {
    let message: ByteBuffer
    let encoding: MessageEncoding
    let maxMessageSize: Int

    /// The inflated message, or the error that refuses it (a bomb: `decompressedMessageTooLarge`).
    /// Runs on a pool thread with a decompressor of its own.
    func run() -> Result<ByteBuffer, WireError> {
        do throws(WireError) {
            return .success(try MessageCompressor().decompress(self.message, encoding: self.encoding, maxSize: self.maxMessageSize))
        } catch {
            return .failure(error)
        }
    }
}
