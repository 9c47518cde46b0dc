import NIOCore

/// Reads protobuf's wire format — tags, varints, length-delimited fields — and skips fields it is not asked for, as
/// protobuf parsers do; anything malformed (truncated, overlong, undefined wire type, field number 0, unbalanced
/// groups) is refused with a ``ProtobufDecodingError`` naming the fault and its offset, never guessed at.
///
/// Only what grpc.health.v1's two messages need: a generated-code replacement small enough to read in one sitting.
struct ProtobufReader {
    /// The six wire types protobuf defines (6 and 7 are not defined and refused).
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    /// A field's key: its number and how its value is encoded.
    struct Tag: Hashable {
        var field: UInt32
        var wireType: WireType
    }

    /// How deeply groups may nest before the input is refused (protobuf's default recursion limit).
    static let maxGroupDepth = 100

    private var buffer: ByteBuffer
    private let start: Int

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
        self.start = buffer.readerIndex
    }

    /// The offset of the next byte, from the start of the message (for error messages).
    private var offset: Int { self.buffer.readerIndex - self.start }

    /// The next field's tag, or nil at the end of the message.
    mutating func readTag() throws -> Tag? {
        guard self.buffer.readableBytes > 0 else { return nil }
        let at = self.offset
        let key = try self.readVarint("a field tag")
        // A tag fits 32 bits, so its field number is at most 2^29 - 1, protobuf's largest.
        guard key <= UInt64(UInt32.max) else {
            throw ProtobufDecodingError(reason: "a field tag is larger than 32 bits: its field number is above 2^29 - 1 (at byte \(at))")
        }
        let field = UInt32(key >> 3)
        guard field != 0 else {
            throw ProtobufDecodingError(reason: "field number 0 is not allowed (at byte \(at))")
        }
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw ProtobufDecodingError(reason: "field \(field) has wire type \(key & 7), which is not defined (at byte \(at))")
        }
        return Tag(field: field, wireType: wireType)
    }

    /// A base-128 varint of at most 10 bytes whose value fits 64 bits.
    mutating func readVarint(_ what: String) throws -> UInt64 {
        let at = self.offset
        var value: UInt64 = 0
        for index in 0..<10 {
            guard let byte = self.buffer.readInteger(as: UInt8.self) else {
                throw ProtobufDecodingError(reason: "\(what) is truncated: its varint ends without a last byte (at byte \(at))")
            }
            // The tenth byte holds bit 63 only: anything more overflows 64 bits, and a continuation means 11+ bytes.
            guard index < 9 || byte <= 1 else {
                throw ProtobufDecodingError(reason: "\(what) is a varint longer than 10 bytes or above 2^64 - 1 (at byte \(at))")
            }
            value |= UInt64(byte & 0x7f) << (7 * UInt64(index))
            if byte & 0x80 == 0 { return value }
        }
        preconditionFailure("unreachable: the tenth byte either ends the varint or throws")
    }

    /// The bytes of a length-delimited field whose tag was just read.
    mutating func readLengthDelimited(_ tag: Tag) throws -> ByteBuffer {
        let length = try self.readVarint("the length of field \(tag.field)")
        let at = self.offset
        guard length <= UInt64(self.buffer.readableBytes) else {
            throw ProtobufDecodingError(reason: "field \(tag.field) declares \(length) bytes but \(self.buffer.readableBytes) remain (at byte \(at))")
        }
        return self.buffer.readSlice(length: Int(length))!
    }

    /// Skips the value of a field this message does not use (or uses with another wire type), groups included.
    mutating func skip(_ tag: Tag) throws {
        switch tag.wireType {
        case .varint:
            _ = try self.readVarint("field \(tag.field)")
        case .fixed64:
            try self.skipBytes(8, of: tag)
        case .fixed32:
            try self.skipBytes(4, of: tag)
        case .lengthDelimited:
            _ = try self.readLengthDelimited(tag)
        case .startGroup:
            try self.skipGroup(tag)
        case .endGroup:
            throw ProtobufDecodingError(reason: "an end-group tag for field \(tag.field) closes no group (before byte \(self.offset))")
        }
    }

    private mutating func skipBytes(_ count: Int, of tag: Tag) throws {
        guard self.buffer.readableBytes >= count else {
            throw ProtobufDecodingError(reason: "field \(tag.field) needs \(count) bytes but \(self.buffer.readableBytes) remain (at byte \(self.offset))")
        }
        self.buffer.moveReaderIndex(forwardBy: count)
    }

    /// Skips to the end-group tag matching `tag`, through nested groups (iteratively: the depth is bounded, not the
    /// stack).
    private mutating func skipGroup(_ tag: Tag) throws {
        var open: [UInt32] = [tag.field]
        while let innermost = open.last {
            guard let next = try self.readTag() else {
                throw ProtobufDecodingError(reason: "the group of field \(innermost) is not closed before the message ends")
            }
            switch next.wireType {
            case .startGroup:
                guard open.count < Self.maxGroupDepth else {
                    throw ProtobufDecodingError(reason: "groups nest deeper than \(Self.maxGroupDepth) (before byte \(self.offset))")
                }
                open.append(next.field)
            case .endGroup:
                guard next.field == innermost else {
                    throw ProtobufDecodingError(reason: "an end-group tag for field \(next.field) closes the group of field \(innermost) (before byte \(self.offset))")
                }
                open.removeLast()
            default:
                try self.skip(next)
            }
        }
    }
}
