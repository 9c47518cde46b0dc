import NIOCore

/// A codec whose messages also have a JSON form, so a tool (`drpc call`) can send and read JSON on a method whose
/// wire encoding is binary. The server uses the JSON form only for calls that ask for it in metadata
/// (``JSONTranscoding/metadataKey``); every other call keeps the method's own encoding.
public protocol JSONTranscodingCodec<Message>: MessageCodec {
    /// Decodes a message from its JSON form.
    func decodeJSON(_ buffer: ByteBuffer) throws -> Message
    /// Appends the message's JSON form to `buffer`.
    func encodeJSON(_ message: Message, into buffer: inout ByteBuffer) throws
}

/// The request metadata by which a call asks for the JSON form of a method's messages (a conventional key, like
/// gRPC's `application/grpc+json` content type; not a wire rule).
public enum JSONTranscoding {
    /// The request metadata key.
    public static let metadataKey = "content-type"
    /// Its value: requests are sent, and responses wanted, as JSON.
    public static let value = "application/json"
}
