@testable import DeadlineRPC
import NIOCore
import Testing

/// grpc.health.v1's `HealthCheckRequest { string service = 1; }`: the bytes protobuf produces, and protobuf's
/// rules for reading them (unknown fields skipped, last value wins, malformed input refused with its reason).
@Suite("HealthCheckRequest: protobuf bytes")
struct HealthCheckRequestCodecTests {
    static func encode(_ service: String) -> [UInt8] {
        var buffer = ByteBuffer()
        HealthCheckRequestCodec().encode(service, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func decode(_ bytes: [UInt8]) throws -> String {
        try HealthCheckRequestCodec().decode(ByteBuffer(bytes: bytes))
    }

    @Test(
        "Encodes as protobuf does: the empty name as no bytes, others as field 1, length-delimited",
        arguments: [
            ("", []),
            ("a", [0x0a, 0x01, 0x61]),
            ("orders.Orders", [0x0a, 0x0d] + Array("orders.Orders".utf8)),
            ("é", [0x0a, 0x02, 0xc3, 0xa9]),
            // 200 bytes: the length takes two varint bytes (200 = 0x48 | 0x80, then 0x01).
            (String(repeating: "s", count: 200), [0x0a, 0xc8, 0x01] + Array(repeating: UInt8(ascii: "s"), count: 200)),
        ] as [(String, [UInt8])]
    )
    func knownBytes(service: String, bytes: [UInt8]) throws {
        #expect(Self.encode(service) == bytes)
        #expect(try Self.decode(bytes) == service)
    }

    @Test(
        "Skips unknown fields of every wire type, keeps the last field 1, and ignores field 1 sent with another wire type",
        arguments: [
            ([0x10, 0x96, 0x01, 0x0a, 0x01, 0x61], "a"),  // field 2 varint 150
            ([0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x01, 0x61], "a"),  // field 3 fixed64
            ([0x25, 1, 2, 3, 4, 0x0a, 0x01, 0x61], "a"),  // field 4 fixed32
            ([0x2a, 0x02, 0xff, 0xfe, 0x0a, 0x01, 0x61], "a"),  // field 5 bytes (not UTF-8: it is not the string)
            ([0x33, 0x0a, 0x01, 0x7a, 0x3b, 0x08, 0x01, 0x3c, 0x34, 0x0a, 0x01, 0x62], "b"),  // group 6 holding a field 1 and group 7
            ([0x0a, 0x01, 0x61, 0x0a, 0x01, 0x62], "b"),  // field 1 twice: the last wins
            ([0x0a, 0x01, 0x61, 0x0a, 0x00], ""),  // the last one is empty
            ([0x08, 0x05], ""),  // field 1 as a varint: an unknown field
            ([0x0a, 0x81, 0x00, 0x61], "a"),  // a length in a non-minimal varint
            ([0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x0a, 0x01, 0x61], "a"),  // field 2^29 - 1, the largest
        ] as [([UInt8], String)]
    )
    func tolerated(bytes: [UInt8], service: String) throws {
        #expect(try Self.decode(bytes) == service)
    }

    @Test(
        "Refuses malformed input with a reason that names the fault",
        arguments: [
            ([0x0a], "the length of field 1 is truncated"),
            ([0x0a, 0x05, 0x61, 0x62], "field 1 declares 5 bytes but 2 remain (at byte 2)"),
            ([0x0a, 0x01, 0xff], "field 1 (service) is not valid UTF-8"),
            ([0x0a, 0x02, 0xc3, 0x28], "field 1 (service) is not valid UTF-8"),
            ([0x02, 0x00], "field number 0 is not allowed (at byte 0)"),
            ([0x0e], "field 1 has wire type 6, which is not defined (at byte 0)"),
            ([0x0f], "field 1 has wire type 7, which is not defined (at byte 0)"),
            ([0x80], "a field tag is truncated"),
            ([0x80, 0x80, 0x80, 0x80, 0x10], "a field tag is larger than 32 bits"),
            ([0x10] + Array(repeating: 0xff, count: 10) + [0x01], "field 2 is a varint longer than 10 bytes or above 2^64 - 1 (at byte 1)"),
            ([0x10] + Array(repeating: 0xff, count: 9) + [0x02], "field 2 is a varint longer than 10 bytes or above 2^64 - 1 (at byte 1)"),
            ([0x19, 0x00, 0x00], "field 3 needs 8 bytes but 2 remain (at byte 1)"),
            ([0x25, 0x00], "field 4 needs 4 bytes but 1 remain (at byte 1)"),
            ([0x33, 0x08, 0x01], "the group of field 6 is not closed before the message ends"),
            ([0x34], "an end-group tag for field 6 closes no group"),
            ([0x33, 0x3c], "an end-group tag for field 7 closes the group of field 6"),
        ] as [([UInt8], String)]
    )
    func refused(bytes: [UInt8], reason: String) {
        let error = #expect(throws: ProtobufDecodingError.self) { try Self.decode(bytes) }
        #expect(error?.reason.hasPrefix(reason) == true, "\(error?.reason ?? "no error")")
    }

    @Test("Groups nest up to 100 deep; the 101st level is refused, with no recursion")
    func groupDepth() throws {
        func nested(_ depth: Int) -> [UInt8] {
            Array(repeating: 0x33, count: depth) + Array(repeating: 0x34, count: depth) + [0x0a, 0x01, 0x61]
        }
        #expect(try Self.decode(nested(100)) == "a")
        let error = #expect(throws: ProtobufDecodingError.self) { try Self.decode(nested(101)) }
        #expect(error?.reason == "groups nest deeper than 100 (before byte 101)")
    }

    @Test("Decodes a slice of a larger buffer: offsets count from the message's first byte")
    func slice() throws {
        var buffer = ByteBuffer(bytes: [0xee, 0xee, 0x0a, 0x03, 0x61])
        buffer.moveReaderIndex(forwardBy: 2)
        let error = #expect(throws: ProtobufDecodingError.self) { try HealthCheckRequestCodec().decode(buffer) }
        #expect(error?.reason == "field 1 declares 3 bytes but 1 remain (at byte 2)")
    }
}
