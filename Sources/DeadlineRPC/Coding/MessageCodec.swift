import Wire
import NIOCore

/// Turns messages into bytes and back. Pluggable: conform your own type to use protobuf, JSON or anything else.
public protocol MessageCodec<Message>: Sendable {
    /// The message type.
    associatedtype Message

    /// Appends the encoded message to `buffer`.
    func encode(_ message: Message, into buffer: inout ByteBuffer) throws
    /// Decodes one whole message. A server ends a call whose request does not decode with `internal`, unless this
    /// throws an ``RPCError``: then with its status and message (`invalidArgument` and the reason, say).
    func decode(_ buffer: ByteBuffer) throws -> Message
    /// The name tools show for this encoding (`json`, `protobuf`, `raw`); reflection reports it.
    var encodingName: String { get }
}

extension MessageCodec {
    /// `custom`, for codecs that do not name their encoding.
    public var encodingName: String { "custom" }
}

/// Passes `ByteBuffer` messages through untouched.
public struct RawBytesCodec: MessageCodec {
    /// Creates the codec.
    public init() {}

    /// Appends the bytes.
    @inlinable
    public func encode(_ message: ByteBuffer, into buffer: inout ByteBuffer) {
        var message = message
        if buffer.readableBytes == 0 {
            buffer = message
        } else {
            buffer.writeBuffer(&message)
        }
    }

    /// Returns the bytes.
    @inlinable
    public func decode(_ buffer: ByteBuffer) -> ByteBuffer { buffer }

    /// `raw`.
    public var encodingName: String { "raw" }
}
