#if canImport(FoundationEssentials)
import Wire
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// Encodes `Codable` messages as JSON (readable, interoperable, slower than a binary codec).
public struct JSONCodec<Message: Codable>: MessageCodec {
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
}
