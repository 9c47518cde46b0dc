import NIOCore

/// Writes frames into a `ByteBuffer`. Stateless: the caller keeps within the peer's advertised limits (a message
/// larger than the peer's frame size goes through ``writeMessage(streamID:message:compressed:endStream:maxFrameSize:into:)``).
public enum FrameEncoder {
    /// Writes the connection preface.
    @inlinable
    public static func writePreface(into buffer: inout ByteBuffer) {
        Preface.write(into: &buffer)
    }

    /// Writes one frame.
    public static func write(_ frame: Frame, into buffer: inout ByteBuffer) {
        switch frame {
        case .settings(let settings):
            writeHeader(length: UInt32(Settings.encodedSize), type: .settings, flags: 0, streamID: 0, into: &buffer)
            settings.writeEntries(into: &buffer)

        case .callStart(let start):
            writeCallStart(start, into: &buffer)

        case .message(let message):
            var flags: UInt8 = 0
            if message.endStream { flags |= FrameFlags.endStream }
            if message.more { flags |= FrameFlags.more }
            if let length = message.messageLength {
                if message.compressed { flags |= FrameFlags.compressed }
                // Header and message length in one write: each ByteBuffer write pays a uniqueness and an
                // exclusivity check, and NIO's writeMultipleIntegers writes each integer separately.
                Self.writeFixed(FrameHeader.size + 4, into: &buffer) { fields in
                    fields.putHeader(length: UInt32(4 + message.data.readableBytes), type: .message, flags: flags, streamID: message.streamID)
                    fields.put(length)
                }
            } else {
                writeHeader(
                    length: UInt32(message.data.readableBytes),
                    type: .messageContinuation,
                    flags: flags,
                    streamID: message.streamID,
                    into: &buffer
                )
            }
            var data = message.data
            buffer.writeBuffer(&data)

        case .halfClose(let streamID):
            writeHeader(length: 0, type: .halfClose, flags: 0, streamID: streamID, into: &buffer)

        case .callEnd(let end):
            writeCallEnd(end, into: &buffer)

        case .cancel(let streamID, let reason):
            writeHeader(length: 1, type: .cancel, flags: 0, streamID: streamID, into: &buffer)
            buffer.writeInteger(reason.rawValue)

        case .credit(let streamID, let bytes):
            writeHeader(length: 4, type: .credit, flags: 0, streamID: streamID, into: &buffer)
            buffer.writeInteger(bytes, endianness: .big)

        case .ping(let ping):
            writeHeader(length: 8, type: .ping, flags: ping.ack ? FrameFlags.ack : 0, streamID: 0, into: &buffer)
            buffer.writeInteger(ping.payload, endianness: .big)

        case .goAway(let goAway):
            let reason = Self.truncatedUTF8(goAway.reason, maxBytes: WireLimits.maxReasonLength)
            writeHeader(length: UInt32(4 + 4 + 2 + reason.count), type: .goAway, flags: 0, streamID: 0, into: &buffer)
            buffer.writeInteger(goAway.lastStreamID, endianness: .big)
            buffer.writeInteger(goAway.code.rawValue, endianness: .big)
            buffer.writeInteger(UInt16(reason.count), endianness: .big)
            buffer.writeBytes(reason)
        }
    }

    /// Writes a whole message, split into one `MESSAGE` frame and as many `MESSAGE_CONTINUATION` frames as the
    /// peer's frame size needs.
    public static func writeMessage(
        streamID: UInt32,
        message: ByteBuffer,
        compressed: Bool = false,
        endStream: Bool = false,
        maxFrameSize: Int,
        into buffer: inout ByteBuffer
    ) {
        var remaining = message
        let total = UInt32(message.readableBytes)
        var first = true
        repeat {
            let room = first ? maxFrameSize - 4 : maxFrameSize
            let chunkSize = min(room, remaining.readableBytes)
            let chunk = remaining.readSlice(length: chunkSize)!
            let more = remaining.readableBytes > 0
            write(
                .message(
                    MessageFrame(
                        streamID: streamID,
                        messageLength: first ? total : nil,
                        data: chunk,
                        more: more,
                        endStream: endStream && !more,
                        compressed: first && compressed
                    )
                ),
                into: &buffer
            )
            first = false
        } while remaining.readableBytes > 0
    }

    /// Writes a frame header.
    @inlinable
    public static func writeHeader(
        length: UInt32,
        type: FrameType,
        flags: UInt8,
        streamID: UInt32,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeMultipleIntegers(length, type.rawValue, flags, streamID, endianness: .big)
    }

    static func writeCallStart(_ start: CallStart, into buffer: inout ByteBuffer) {
        let methodBytes = start.method.utf8.count
        if start.metadata.isEmpty && methodBytes <= Int(UInt16.max) {
            // The common case in one write instead of nine: the length is known up front (no metadata).
            let payload = (start.budget == nil ? 0 : 16) + 1 + 1 + 2 + methodBytes + 6  // ..., empty metadata
            Self.writeFixed(FrameHeader.size + payload, into: &buffer) { fields in
                fields.putHeader(length: UInt32(payload), type: .callStart, flags: start.budget == nil ? 0 : FrameFlags.hasDeadline, streamID: start.streamID)
                if let budget = start.budget {
                    fields.put(budget.remainingMicroseconds)
                    fields.put(budget.originalMicroseconds)
                }
                fields.put(start.hopCount)
                fields.put(start.encoding.rawValue)
                fields.put(UInt16(methodBytes))
                fields.put(utf8: start.method)
                fields.putEmptyMetadata()
            }
            return
        }
        let headerIndex = buffer.writerIndex
        writeHeader(
            length: 0,
            type: .callStart,
            flags: start.budget == nil ? 0 : FrameFlags.hasDeadline,
            streamID: start.streamID,
            into: &buffer
        )
        let payloadStart = buffer.writerIndex
        if let budget = start.budget {
            buffer.writeMultipleIntegers(budget.remainingMicroseconds, budget.originalMicroseconds, endianness: .big)
        }
        buffer.writeMultipleIntegers(start.hopCount, start.encoding.rawValue, endianness: .big)
        let methodLengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        let written = buffer.writeString(start.method)
        buffer.setInteger(UInt16(truncatingIfNeeded: written), at: methodLengthIndex, endianness: .big)
        writeMetadata(start.metadata, into: &buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - payloadStart), at: headerIndex, endianness: .big)
    }

    static func writeCallEnd(_ end: CallEnd, into buffer: inout ByteBuffer) {
        let headerIndex = buffer.writerIndex
        let messageBytes = end.message.utf8.count
        if messageBytes <= WireLimits.maxReasonLength && end.metadata.isEmpty {
            // The common case (an OK status without trailers) in one write instead of seven: the length is known
            // up front.
            let payload = 1 + 2 + messageBytes + 6
            Self.writeFixed(FrameHeader.size + payload, into: &buffer) { fields in
                fields.putHeader(length: UInt32(payload), type: .callEnd, flags: 0, streamID: end.streamID)
                fields.put(end.status.rawValue)
                fields.put(UInt16(messageBytes))
                fields.put(utf8: end.message)
                fields.putEmptyMetadata()
            }
            return
        }
        writeHeader(length: 0, type: .callEnd, flags: 0, streamID: end.streamID, into: &buffer)
        let payloadStart = buffer.writerIndex
        buffer.writeInteger(end.status.rawValue)
        if messageBytes <= WireLimits.maxReasonLength {
            // The common case (an OK status has no message): written in place, no intermediate array.
            buffer.writeInteger(UInt16(end.message.utf8.count), endianness: .big)
            buffer.writeString(end.message)
        } else {
            let message = Self.truncatedUTF8(end.message, maxBytes: WireLimits.maxReasonLength)
            buffer.writeInteger(UInt16(message.count), endianness: .big)
            buffer.writeBytes(message)
        }
        writeMetadata(end.metadata, into: &buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - payloadStart), at: headerIndex, endianness: .big)
    }

    /// Writes exactly `count` bytes that `fill` stores, in one ByteBuffer write (one uniqueness and exclusivity check
    /// instead of one per field).
    @inline(__always)
    static func writeFixed(_ count: Int, into buffer: inout ByteBuffer, _ fill: (inout FixedFields) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            var fields = FixedFields(base: raw.baseAddress!)
            fill(&fields)
            assert(fields.offset == count, "FrameEncoder.writeFixed: \(fields.offset) bytes stored, \(count) announced")
            return count
        }
    }

    /// Big-endian fields stored one after another into memory that ``writeFixed(_:into:_:)`` reserved.
    struct FixedFields {
        let base: UnsafeMutableRawPointer
        var offset = 0

        @inline(__always)
        mutating func put<T: FixedWidthInteger>(_ value: T) {
            self.base.storeBytes(of: value.bigEndian, toByteOffset: self.offset, as: T.self)
            self.offset += MemoryLayout<T>.size
        }

        /// The frame header, laid out as ``FrameEncoder/writeHeader(length:type:flags:streamID:into:)`` writes it.
        @inline(__always)
        mutating func putHeader(length: UInt32, type: FrameType, flags: UInt8, streamID: UInt32) {
            self.put(length)
            self.put(type.rawValue)
            self.put(flags)
            self.put(streamID)
        }

        /// An empty metadata block: length 0, count 0 (``FrameEncoder/writeMetadata(_:into:)`` for no entries).
        @inline(__always)
        mutating func putEmptyMetadata() {
            self.put(UInt32(0))
            self.put(UInt16(0))
        }

        @inline(__always)
        mutating func put(utf8 string: String) {
            var string = string
            string.withUTF8 { bytes in
                if let source = bytes.baseAddress, bytes.count > 0 {
                    (self.base + self.offset).copyMemory(from: source, byteCount: bytes.count)
                }
                self.offset += bytes.count
            }
        }
    }

    /// `[u32 block length][u16 count]` then per entry `[u8 key length][key][u16 value length][value]`.
    static func writeMetadata(_ metadata: Metadata, into buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeMultipleIntegers(UInt32(0), UInt16(truncatingIfNeeded: metadata.count), endianness: .big)
        let entriesStart = buffer.writerIndex
        for (key, value) in metadata.elements {
            let keyLengthIndex = buffer.writerIndex
            buffer.writeInteger(UInt8(0))
            let keyBytes = buffer.writeString(key)
            buffer.setInteger(UInt8(truncatingIfNeeded: keyBytes), at: keyLengthIndex)
            let valueLengthIndex = buffer.writerIndex
            buffer.writeInteger(UInt16(0))
            let valueBytes: Int
            switch value {
            case .string(let s): valueBytes = buffer.writeString(s)
            case .binary(let b): valueBytes = buffer.writeBytes(b)
            }
            buffer.setInteger(UInt16(truncatingIfNeeded: valueBytes), at: valueLengthIndex, endianness: .big)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - entriesStart), at: lengthIndex, endianness: .big)
    }

    /// The UTF-8 bytes of `string`, cut at a character boundary so they fit `maxBytes`.
    static func truncatedUTF8(_ string: String, maxBytes: Int) -> [UInt8] {
        var bytes = Array(string.utf8)
        if bytes.count <= maxBytes { return bytes }
        var end = maxBytes
        // Step back over continuation bytes (10xxxxxx) so a multi-byte character is never split.
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        bytes.removeSubrange(end...)
        return bytes
    }
}
