import NIOCore

/// grpc.health.v1's `HealthCheckRequest { string service = 1; }`, byte for byte, with the service name as the
/// message: `""` (the server as a whole) encodes as no bytes at all, as proto3 omits default values.
struct HealthCheckRequestCodec: MessageCodec {
    var encodingName: String { "protobuf" }

    func encode(_ service: String, into buffer: inout ByteBuffer) {
        guard !service.isEmpty else { return }
        ProtobufWriter.writeTag(field: 1, .lengthDelimited, into: &buffer)
        ProtobufWriter.writeVarint(UInt64(service.utf8.count), into: &buffer)
        buffer.writeString(service)
    }

    /// Reads the service name; other fields are skipped, a repeated field 1 keeps its last value (protobuf's rules),
    /// and a name that is not UTF-8 is refused, as proto3 requires of strings.
    func decode(_ buffer: ByteBuffer) throws -> String {
        var reader = ProtobufReader(buffer)
        var service = ""
        while let tag = try reader.readTag() {
            guard tag.field == 1, tag.wireType == .lengthDelimited else {
                try reader.skip(tag)  // Also field 1 with another wire type: protobuf parsers treat it as unknown.
                continue
            }
            let bytes = try reader.readLengthDelimited(tag)
            guard let name = String(validating: bytes.readableBytesView, as: UTF8.self) else {
                throw ProtobufDecodingError(reason: "field 1 (service) is not valid UTF-8")
            }
            service = name
        }
        return service
    }
}
