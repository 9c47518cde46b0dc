import DeadlineRPC
import NIOCore
import SwiftProtobuf

/// Encodes `SwiftProtobuf.Message`s in the protobuf binary format; their JSON form is protobuf-JSON (what
/// `drpc call` sends and prints for such methods).
///
/// A payload that does not decode throws an ``RPCError`` with `invalidArgument` naming the message type and the
/// reason, so a server answers a malformed request with that status and reason.
public struct ProtobufCodec<Message: SwiftProtobuf.Message>: JSONTranscodingCodec {
    /// Options for decoding binary payloads (swift-protobuf's defaults: nesting up to 100 deep, unknown fields kept).
    public var binaryDecodingOptions: BinaryDecodingOptions
    /// Options for decoding the JSON form (unknown field names are refused by default).
    public var jsonDecodingOptions: JSONDecodingOptions
    /// Options for writing the JSON form (proto field names in lowerCamelCase, default values left out).
    public var jsonEncodingOptions: JSONEncodingOptions

    /// Creates the codec.
    public init(
        binaryDecodingOptions: BinaryDecodingOptions = BinaryDecodingOptions(),
        jsonDecodingOptions: JSONDecodingOptions = JSONDecodingOptions(),
        jsonEncodingOptions: JSONEncodingOptions = JSONEncodingOptions()
    ) {
        self.binaryDecodingOptions = binaryDecodingOptions
        self.jsonDecodingOptions = jsonDecodingOptions
        self.jsonEncodingOptions = jsonEncodingOptions
    }

    /// `protobuf`.
    public var encodingName: String { "protobuf" }

    /// Appends the binary encoding.
    public func encode(_ message: Message, into buffer: inout ByteBuffer) throws {
        do {
            let bytes: [UInt8] = try message.serializedBytes()
            buffer.writeBytes(bytes)
        } catch {
            throw ProtobufFailure.encoding(Message.self, "protobuf", error)
        }
    }

    /// Decodes the binary encoding, reading the buffer's bytes in place.
    public func decode(_ buffer: ByteBuffer) throws -> Message {
        do {
            return try Message(serializedBytes: buffer.readableBytesSpan, options: self.binaryDecodingOptions)
        } catch {
            throw ProtobufFailure.decoding(Message.self, "protobuf", error)
        }
    }

    /// Decodes protobuf-JSON.
    public func decodeJSON(_ buffer: ByteBuffer) throws -> Message {
        do {
            // A copy: swift-protobuf reads JSON only from its own contiguous types, and this path serves tools.
            return try Message(jsonUTF8Bytes: [UInt8](buffer.readableBytesView), options: self.jsonDecodingOptions)
        } catch {
            throw ProtobufFailure.decoding(Message.self, "protobuf-JSON", error)
        }
    }

    /// Appends protobuf-JSON.
    public func encodeJSON(_ message: Message, into buffer: inout ByteBuffer) throws {
        do {
            let bytes: [UInt8] = try message.jsonUTF8Bytes(options: self.jsonEncodingOptions)
            buffer.writeBytes(bytes)
        } catch {
            throw ProtobufFailure.encoding(Message.self, "protobuf-JSON", error)
        }
    }
}
