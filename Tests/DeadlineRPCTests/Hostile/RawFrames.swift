import NIOCore
import Wire

/// Bytes a hostile peer sends, built field by field so they can be wrong in any way the encoder would refuse:
/// lengths that lie, undefined types and flags, stream ids in the wrong place, hand-made metadata blocks.
enum RawFrames {
    /// A frame header alone (the payload, if any, is up to the caller — or never sent).
    static func header(length: UInt32, type: UInt8, flags: UInt8 = 0, streamID: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(length, type, flags, streamID, endianness: .big)
        return buffer
    }

    /// A whole frame whose length field matches `payload`.
    static func frame(type: UInt8, flags: UInt8 = 0, streamID: UInt32, payload: [UInt8] = []) -> ByteBuffer {
        var buffer = Self.header(length: UInt32(payload.count), type: type, flags: flags, streamID: streamID)
        buffer.writeBytes(payload)
        return buffer
    }

    /// Frames in one buffer.
    static func encode(_ frames: [Frame]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, into: &buffer) }
        return buffer
    }

    /// `count` copies of a buffer, back to back (one write: the server meets them in as few reads as possible).
    static func repeated(_ bytes: ByteBuffer, _ count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.readableBytes * count)
        for _ in 0..<count {
            var copy = bytes
            buffer.writeBuffer(&copy)
        }
        return buffer
    }

    /// A `CALL_START` with a hand-made metadata block: raw key and value bytes, and optionally a declared block
    /// length or deadline bytes that lie.
    static func callStart(
        streamID: UInt32,
        method: String,
        budget: (remaining: Int64, original: Int64)? = nil,
        truncatedBudget: Bool = false,
        encoding: UInt8 = 0,
        entries: [(key: [UInt8], value: [UInt8])] = [],
        declaredBlockLength: UInt32? = nil
    ) -> ByteBuffer {
        var payload = ByteBuffer()
        var flags: UInt8 = 0
        if truncatedBudget {
            flags |= FrameFlags.hasDeadline
            payload.writeInteger(Int64(1_000), endianness: .big)  // 8 of the 16 budget bytes
        } else if let budget {
            flags |= FrameFlags.hasDeadline
            payload.writeMultipleIntegers(budget.remaining, budget.original, endianness: .big)
        }
        if !truncatedBudget {
            payload.writeMultipleIntegers(UInt8(0), encoding, UInt16(method.utf8.count), endianness: .big)
            payload.writeString(method)
            var block = ByteBuffer()
            for entry in entries {
                block.writeInteger(UInt8(entry.key.count))
                block.writeBytes(entry.key)
                block.writeInteger(UInt16(entry.value.count), endianness: .big)
                block.writeBytes(entry.value)
            }
            payload.writeMultipleIntegers(
                declaredBlockLength ?? UInt32(block.readableBytes),
                UInt16(entries.count),
                endianness: .big
            )
            payload.writeBuffer(&block)
        }
        var buffer = Self.header(length: UInt32(payload.readableBytes), type: FrameType.callStart.rawValue, flags: flags, streamID: streamID)
        buffer.writeBuffer(&payload)
        return buffer
    }

    /// A whole unary request: `CALL_START` (with a 30 s deadline unless told otherwise) and one message that ends
    /// the client's stream.
    static func unaryCall(streamID: UInt32, method: String, body: [UInt8], timeout: Duration? = .seconds(30)) -> ByteBuffer {
        let budget = timeout.map { WireBudget(remainingMicroseconds: Int64($0.components.seconds) * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000, originalMicroseconds: 0) }
        return Self.encode([
            .callStart(CallStart(streamID: streamID, method: method, budget: budget)),
            .message(.whole(streamID: streamID, ByteBuffer(bytes: body), endStream: true)),
        ])
    }
}
