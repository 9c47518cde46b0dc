#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// ``JSONCodec`` for the runtime's own JSON services: a request that does not decode is the caller's fault, so it
/// is reported `invalidArgument` (``JSONFormDecodingError``), where a user codec's failure is `internal`.
struct StrictJSONCodec<Message: Codable>: JSONTranscodingCodec {
    private let json = JSONCodec<Message>()

    func encode(_ message: Message, into buffer: inout ByteBuffer) throws {
        try self.json.encode(message, into: &buffer)
    }

    func decode(_ buffer: ByteBuffer) throws -> Message {
        do {
            return try self.json.decode(buffer)
        } catch {
            throw JSONFormDecodingError(cause: error)
        }
    }

    var encodingName: String { "json" }

    func decodeJSON(_ buffer: ByteBuffer) throws -> Message { try self.decode(buffer) }

    func encodeJSON(_ message: Message, into buffer: inout ByteBuffer) throws { try self.encode(message, into: &buffer) }
}
