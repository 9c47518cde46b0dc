import NIOCore

/// Passes protobuf message bytes through undecoded, for a handler that decodes them itself (to report a malformed
/// request as the caller's fault); reflection reports the encoding as `protobuf`, which it is.
struct ProtobufBytesCodec: MessageCodec {
    func encode(_ message: ByteBuffer, into buffer: inout ByteBuffer) {
        var message = message
        buffer.writeBuffer(&message)
    }

    func decode(_ buffer: ByteBuffer) -> ByteBuffer { buffer }

    var encodingName: String { "protobuf" }
}
