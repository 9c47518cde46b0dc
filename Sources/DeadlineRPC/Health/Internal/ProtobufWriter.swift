import NIOCore

/// Writes the two protobuf encodings grpc.health.v1 needs: a tag and a varint.
enum ProtobufWriter {
    /// Writes a field's key: `field << 3 | wireType`, as a varint.
    static func writeTag(field: UInt32, _ wireType: ProtobufReader.WireType, into buffer: inout ByteBuffer) {
        self.writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue), into: &buffer)
    }

    /// Writes `value` in base 128, least significant group first, the high bit marking "more follows".
    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        var value = value
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }
}
