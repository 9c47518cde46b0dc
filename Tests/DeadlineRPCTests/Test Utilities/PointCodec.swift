@testable import DeadlineRPC
import Foundation
import NIOCore

/// A test message with a binary wire form and a JSON form.
struct Point: Codable, Sendable, Hashable {
    var x: Int32
    var y: Int32
}

/// A test-only binary codec with a JSON form: a ``Point`` is 8 bytes on the wire (x then y, big-endian), and
/// `{"x":1,"y":2}` when a call asks for JSON.
struct PointCodec: JSONTranscodingCodec {
    struct Malformed: Error {}

    func encode(_ point: Point, into buffer: inout ByteBuffer) {
        buffer.writeInteger(point.x)
        buffer.writeInteger(point.y)
    }

    func decode(_ buffer: ByteBuffer) throws -> Point {
        var buffer = buffer
        guard buffer.readableBytes == 8, let x = buffer.readInteger(as: Int32.self), let y = buffer.readInteger(as: Int32.self) else {
            throw Malformed()
        }
        return Point(x: x, y: y)
    }

    var encodingName: String { "point-binary" }

    func decodeJSON(_ buffer: ByteBuffer) throws -> Point {
        try JSONDecoder().decode(Point.self, from: Data(buffer.readableBytesView))
    }

    func encodeJSON(_ point: Point, into buffer: inout ByteBuffer) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        buffer.writeBytes(try encoder.encode(point))
    }
}

/// A binary codec without a JSON form (its calls cannot ask for one).
struct OpaquePointCodec: MessageCodec {
    func encode(_ point: Point, into buffer: inout ByteBuffer) { PointCodec().encode(point, into: &buffer) }
    func decode(_ buffer: ByteBuffer) throws -> Point { try PointCodec().decode(buffer) }
}
