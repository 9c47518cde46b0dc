import NIOCore

/// grpc.health.v1's `HealthCheckResponse { ServingStatus status = 1; }`, byte for byte, with the status as the
/// message: `UNKNOWN` (0) encodes as no bytes at all, as proto3 omits default values.
struct HealthCheckResponseCodec: MessageCodec {
    var encodingName: String { "protobuf" }

    func encode(_ status: ServingStatus, into buffer: inout ByteBuffer) {
        guard status != .unknown else { return }
        ProtobufWriter.writeTag(field: 1, .varint, into: &buffer)
        ProtobufWriter.writeVarint(UInt64(status.rawValue), into: &buffer)
    }

    /// Reads the status; other fields are skipped and a repeated field 1 keeps its last value. An enum value this
    /// version does not know (a newer peer's) is `UNKNOWN`, which no balancer mistakes for serving.
    func decode(_ buffer: ByteBuffer) throws -> ServingStatus {
        var reader = ProtobufReader(buffer)
        var status = ServingStatus.unknown
        while let tag = try reader.readTag() {
            guard tag.field == 1, tag.wireType == .varint else {
                try reader.skip(tag)
                continue
            }
            // Protobuf enums are int32: a wider varint is truncated to 32 bits, as every protobuf parser does.
            let value = Int32(truncatingIfNeeded: try reader.readVarint("field 1 (status)"))
            status = ServingStatus(rawValue: Int(value)) ?? .unknown
        }
        return status
    }
}
