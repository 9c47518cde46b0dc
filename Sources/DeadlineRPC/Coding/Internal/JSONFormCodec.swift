import NIOCore

/// A codec's JSON form as a codec of its own: what a server uses for a call that asked for JSON
/// (``JSONTranscoding``). A request that is not valid JSON for the method is the caller's fault, so its decoding
/// failure is marked (``JSONFormDecodingError``) for the runtime to report `invalidArgument`, not `internal`.
struct JSONFormCodec<Message>: MessageCodec {
    let base: any JSONTranscodingCodec<Message>

    func encode(_ message: Message, into buffer: inout ByteBuffer) throws {
        try self.base.encodeJSON(message, into: &buffer)
    }

    func decode(_ buffer: ByteBuffer) throws -> Message {
        do {
            return try self.base.decodeJSON(buffer)
        } catch {
            throw JSONFormDecodingError(cause: error)
        }
    }

    var encodingName: String { "json" }
}

/// A request sent in a method's JSON form could not be decoded: reported to the caller as `invalidArgument`.
struct JSONFormDecodingError: Error, CustomStringConvertible {
    var cause: any Error

    /// The status message.
    var description: String { "The request is not valid JSON for this method: \(self.cause)" }
}
