import DeadlineRPC
import NIOCore

/// The binary encoding of ``BenchRequest``: a 28-byte header, then the payload.
public struct BenchRequestCodec: MessageCodec {
    /// Bytes before the payload.
    public static let headerSize = 8 + 8 + 8 + 1 + 1 + 1 + 1

    /// Creates the codec.
    public init() {}

    /// Appends the header and the payload.
    public func encode(_ message: BenchRequest, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: Self.headerSize + message.payload.readableBytes)
        buffer.writeInteger(message.tag)
        buffer.writeInteger(message.workNanoseconds)
        buffer.writeInteger(message.workUnitNanoseconds)
        buffer.writeInteger(message.workKind.rawValue)
        buffer.writeInteger(message.hop)
        buffer.writeInteger(message.hops)
        buffer.writeInteger(message.propagation ? UInt8(1) : 0)
        buffer.writeImmutableBuffer(message.payload)
    }

    /// Reads a request; the payload is a slice of `buffer` (no copy).
    public func decode(_ buffer: ByteBuffer) throws -> BenchRequest {
        var buffer = buffer
        guard
            let tag = buffer.readInteger(as: UInt64.self),
            let work = buffer.readInteger(as: Int64.self),
            let unit = buffer.readInteger(as: Int64.self),
            let kindByte = buffer.readInteger(as: UInt8.self),
            let kind = WorkKind(rawValue: kindByte),
            let hop = buffer.readInteger(as: UInt8.self),
            let hops = buffer.readInteger(as: UInt8.self),
            let propagation = buffer.readInteger(as: UInt8.self)
        else {
            throw RPCError(code: .invalidArgument, message: "The bench request is malformed.")
        }
        return BenchRequest(
            tag: tag,
            workNanoseconds: work,
            workKind: kind,
            workUnitNanoseconds: unit,
            hop: hop,
            hops: hops,
            propagation: propagation != 0,
            payload: buffer
        )
    }
}
