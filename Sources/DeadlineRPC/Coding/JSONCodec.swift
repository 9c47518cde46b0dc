#if canImport(FoundationEssentials)
import Wire
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// Encodes `Codable` messages as JSON (readable, interoperable, slower than a binary codec).
public struct JSONCodec<Message: Codable>: JSONTranscodingCodec {
    /// Creates the codec.
    public init() {}

    /// Appends the JSON encoding.
    public func encode(_ message: Message, into buffer: inout ByteBuffer) throws {
        let data = try JSONEncoder().encode(message)
        buffer.writeBytes(data)
    }

    /// Decodes JSON.
    public func decode(_ buffer: ByteBuffer) throws -> Message {
        try buffer.withUnsafeReadableBytes { bytes in
            try JSONDecoder().decode(Message.self, from: Data(bytes))
        }
    }

    /// `json`.
    public var encodingName: String { "json" }

    /// The JSON form is the wire form.
    public func decodeJSON(_ buffer: ByteBuffer) throws -> Message { try self.decode(buffer) }

    /// The JSON form is the wire form.
    public func encodeJSON(_ message: Message, into buffer: inout ByteBuffer) throws {
        try self.encode(message, into: &buffer)
    }
}
