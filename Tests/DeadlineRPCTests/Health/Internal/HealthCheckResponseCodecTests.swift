@testable import DeadlineRPC
import NIOCore
import Testing

/// grpc.health.v1's `HealthCheckResponse { ServingStatus status = 1; }`: the bytes protobuf produces, and protobuf's
/// rules for reading them.
@Suite("HealthCheckResponse: protobuf bytes")
struct HealthCheckResponseCodecTests {
    static func decode(_ bytes: [UInt8]) throws -> ServingStatus {
        try HealthCheckResponseCodec().decode(ByteBuffer(bytes: bytes))
    }

    @Test(
        "Encodes each status as protobuf does: UNKNOWN (0) as no bytes, the others as field 1, varint",
        arguments: [
            (ServingStatus.unknown, []),
            (.serving, [0x08, 0x01]),
            (.notServing, [0x08, 0x02]),
            (.serviceUnknown, [0x08, 0x03]),
        ] as [(ServingStatus, [UInt8])]
    )
    func knownBytes(status: ServingStatus, bytes: [UInt8]) throws {
        var buffer = ByteBuffer()
        HealthCheckResponseCodec().encode(status, into: &buffer)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(try Self.decode(bytes) == status)
    }

    @Test(
        "Skips unknown fields, keeps the last status, reads unknown enum values as UNKNOWN and wide varints as int32",
        arguments: [
            ([0x10, 0x01, 0x08, 0x01], ServingStatus.serving),  // field 2 first
            ([0x08, 0x01, 0x08, 0x02], .notServing),  // the last wins
            ([0x0a, 0x01, 0x61, 0x08, 0x02], .notServing),  // field 1 as bytes: an unknown field
            ([0x08, 0x07], .unknown),  // a value this version does not know
            ([0x08, 0xff, 0xff, 0xff, 0xff, 0x0f], .unknown),  // 2^32 - 1: int32 -1
            ([0x08, 0x81, 0x80, 0x80, 0x80, 0x10], .serving),  // 2^32 + 1 truncated to int32: 1
            ([0x08, 0x02, 0x08, 0x00], .unknown),  // an explicit 0 after a 2
        ] as [([UInt8], ServingStatus)]
    )
    func tolerated(bytes: [UInt8], status: ServingStatus) throws {
        #expect(try Self.decode(bytes) == status)
    }

    @Test(
        "Refuses malformed input with a reason",
        arguments: [
            ([0x08], "field 1 (status) is truncated"),
            ([0x08, 0xff], "field 1 (status) is truncated"),
            ([0x0a, 0x04, 0x00], "field 1 declares 4 bytes but 1 remain"),
            ([0x0f], "field 1 has wire type 7, which is not defined"),
        ] as [([UInt8], String)]
    )
    func refused(bytes: [UInt8], reason: String) {
        let error = #expect(throws: ProtobufDecodingError.self) { try Self.decode(bytes) }
        #expect(error?.reason.hasPrefix(reason) == true, "\(error?.reason ?? "no error")")
    }

    @Test("The statuses carry grpc's numbers and print as their protobuf enum names")
    func names() {
        #expect(ServingStatus.allCases.map(\.rawValue) == [0, 1, 2, 3])
        #expect(ServingStatus.allCases.map(\.description) == ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"])
    }
}
