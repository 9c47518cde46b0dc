import NIOCore
import Wire

/// One received message to finish on the thread pool: its fragments joined into one buffer and, when it is
/// compressed, inflated, bounded by the message limit as on the loop. Both copy megabytes for a big message, which
/// is why neither runs on the event loop.
struct DecompressionJob: Sendable {
    /// The message as received (still compressed when `encoding` is set), possibly in fragments.
    let message: MessageAssembler.Message
    /// The stream's encoding for a compressed message; nil for one only to be joined.
    let encoding: MessageEncoding?
    let maxMessageSize: Int

    /// The whole message, inflated when compressed, or the error that refuses it (a bomb:
    /// `decompressedMessageTooLarge`). Runs on a pool thread with a decompressor of its own.
    func run() -> Result<ByteBuffer, WireError> {
        let bytes = self.message.joined()
        guard let encoding = self.encoding else { return .success(bytes) }
        do throws(WireError) {
            return .success(try MessageCompressor().decompress(bytes, encoding: encoding, maxSize: self.maxMessageSize))
        } catch {
            return .failure(error)
        }
    }
}
