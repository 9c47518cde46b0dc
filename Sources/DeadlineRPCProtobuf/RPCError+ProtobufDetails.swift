import DeadlineRPC
import SwiftProtobuf
import Wire

extension RPCError {
    /// An error carrying a protobuf message as typed details, sent in the ``ProtobufErrorDetails/metadataKey``
    /// trailer. Throws if `metadata` already has that key (never a silent overwrite) or the message cannot be
    /// encoded (a proto2 required field unset).
    public init<Details: SwiftProtobuf.Message>(
        code: Code,
        message: String,
        details: Details,
        metadata: Metadata = Metadata()
    ) throws {
        let packed: [UInt8]
        do {
            packed = try Google_Protobuf_Any(message: details).serializedBytes()
        } catch {
            throw ProtobufFailure.encoding(Details.self, "error details", error)
        }
        var metadata = metadata
        try metadata.insert(.binary(packed), forKey: ProtobufErrorDetails.metadataKey)
        self.init(code: code, message: message, metadata: metadata)
    }

    /// The error's details as a `Details`, or nil when it has none or details of another type (ask for each type you
    /// handle in turn). Throws `invalidArgument` when the trailer is there but is not a valid `google.protobuf.Any`
    /// holding a valid message.
    public func details<Details: SwiftProtobuf.Message>(as type: Details.Type = Details.self) throws -> Details? {
        guard let packed = try self.packedDetails(), packed.isA(Details.self) else { return nil }
        do {
            return try Details(unpackingAny: packed)
        } catch {
            throw ProtobufFailure.decoding(Details.self, "protobuf", error, subject: "The error details' value")
        }
    }

    /// The full protobuf name of the details' type (`orders.OutOfStock`), or nil when the error has no details.
    public func detailsTypeName() throws -> String? {
        guard let packed = try self.packedDetails() else { return nil }
        // A type URL is `anything/full.name`; the name is what follows the last slash.
        return packed.typeURL.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init)
    }

    private func packedDetails() throws -> Google_Protobuf_Any? {
        // A text value under a `-bin` key cannot arrive (the wire refuses it), so only the binary case is details.
        for case .binary(let bytes) in self.metadata.values(forKey: ProtobufErrorDetails.metadataKey) {
            do {
                return try Google_Protobuf_Any(serializedBytes: bytes)
            } catch {
                throw ProtobufFailure.decoding(Google_Protobuf_Any.self, "protobuf", error, subject: "The \(ProtobufErrorDetails.metadataKey) trailer")
            }
        }
        return nil
    }
}
