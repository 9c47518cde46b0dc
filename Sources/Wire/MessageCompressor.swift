import CZlib
import NIOCore

/// Compresses and decompresses whole messages with the system zlib, bounded on the way in.
///
/// Decompression writes into a buffer that never grows past `maxSize` bytes; one extra byte of scratch tells a
/// message of exactly `maxSize` from a bigger one. A zip bomb is therefore refused after producing at most
/// `maxSize + 1` bytes, whatever it would inflate to.
///
/// Not thread-safe: a connection owns one and uses it from its event loop. The zlib streams are created on first
/// use and reset between messages, because initialising deflate costs a few hundred kilobytes of allocation.
public final class MessageCompressor {
    private var deflaters: [MessageEncoding: UnsafeMutablePointer<z_stream>] = [:]
    private var inflaters: [MessageEncoding: UnsafeMutablePointer<z_stream>] = [:]

    /// Creates a compressor with no zlib state yet.
    public init() {}

    deinit {
        for (_, stream) in self.deflaters {
            deflateEnd(stream)
            stream.deallocate()
        }
        for (_, stream) in self.inflaters {
            inflateEnd(stream)
            stream.deallocate()
        }
    }

    private static func windowBits(for encoding: MessageEncoding) -> Int32? {
        switch encoding {
        case .gzip: return 15 + 16  // zlib's convention: +16 selects the gzip wrapper.
        case .deflate: return -15  // Negative selects raw deflate.
        default: return nil
        }
    }

    /// Compresses `message` with `encoding`.
    /// - Throws: `unsupportedEncoding` for identity or an unknown encoding.
    public func compress(_ message: ByteBuffer, encoding: MessageEncoding, allocator: ByteBufferAllocator = .init())
        throws(WireError) -> ByteBuffer
    {
        let stream = try self.deflater(for: encoding)
        defer { deflateReset(stream) }
        let bound = Int(deflateBound(stream, UInt(message.readableBytes)))
        var output = allocator.buffer(capacity: bound)
        var rc: Int32 = Z_OK
        message.withUnsafeReadableBytes { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.pointee.avail_in = UInt32(input.count)
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                stream.pointee.next_out = out.bindMemory(to: Bytef.self).baseAddress
                stream.pointee.avail_out = UInt32(out.count)
                rc = deflate(stream, Z_FINISH)
                return out.count - Int(stream.pointee.avail_out)
            }
        }
        guard rc == Z_STREAM_END else {
            throw WireError(.corruptCompressedData, "zlib failed to compress a message (code \(rc)).")
        }
        return output
    }

    /// Decompresses `message`, refusing output beyond `maxSize` bytes.
    /// - Throws: `decompressedMessageTooLarge` past the limit, `corruptCompressedData` for bad, truncated or
    ///   trailing input, `unsupportedEncoding` for an encoding this side cannot inflate.
    public func decompress(
        _ message: ByteBuffer,
        encoding: MessageEncoding,
        maxSize: Int,
        allocator: ByteBufferAllocator = .init()
    ) throws(WireError) -> ByteBuffer {
        let stream = try self.inflater(for: encoding)
        defer { inflateReset(stream) }
        let maxSize = max(0, maxSize)
        // Start near a typical ratio and double; the cap is the limit itself.
        var output = allocator.buffer(capacity: min(maxSize, max(256, message.readableBytes * 4)))
        enum Outcome { case done, tooLarge, corrupt(Int32) }
        let outcome: Outcome = message.withUnsafeReadableBytes { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.pointee.avail_in = UInt32(input.count)
            var scratch: UInt8 = 0
            while true {
                var room = min(output.capacity, maxSize) - output.writerIndex
                if room == 0 && output.capacity < maxSize {
                    output.reserveCapacity(min(maxSize, output.capacity * 2))
                    room = min(output.capacity, maxSize) - output.writerIndex
                }
                var rc: Int32
                if room > 0 {
                    rc = Z_OK
                    output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { out in
                        stream.pointee.next_out = out.bindMemory(to: Bytef.self).baseAddress
                        stream.pointee.avail_out = UInt32(room)
                        rc = inflate(stream, Z_NO_FLUSH)
                        return room - Int(stream.pointee.avail_out)
                    }
                } else {
                    // The message buffer holds maxSize bytes: a single further byte breaks the limit.
                    rc = withUnsafeMutablePointer(to: &scratch) { byte in
                        stream.pointee.next_out = byte
                        stream.pointee.avail_out = 1
                        return inflate(stream, Z_NO_FLUSH)
                    }
                    if stream.pointee.avail_out == 0 { return .tooLarge }
                }
                switch rc {
                case Z_STREAM_END:
                    return stream.pointee.avail_in == 0 ? .done : .corrupt(rc)  // trailing bytes after the stream
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.pointee.avail_in > 0:
                    continue  // needs more output room
                default:
                    return .corrupt(rc)  // data error, or input ended before the stream did (truncated)
                }
            }
        }
        switch outcome {
        case .done:
            return output
        case .tooLarge:
            throw WireError(.decompressedMessageTooLarge, "A \(encoding) message inflates beyond the limit of \(maxSize) bytes.")
        case .corrupt(let rc):
            throw WireError(.corruptCompressedData, "A \(encoding) message is corrupt or truncated (zlib code \(rc)).")
        }
    }

    private func deflater(for encoding: MessageEncoding) throws(WireError) -> UnsafeMutablePointer<z_stream> {
        if let stream = self.deflaters[encoding] { return stream }
        guard let bits = Self.windowBits(for: encoding) else {
            throw WireError(.unsupportedEncoding, "Message encoding '\(encoding)' is not supported for compression.")
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard czlib_deflate_init2(stream, Z_DEFAULT_COMPRESSION, bits) == Z_OK else {
            stream.deallocate()
            throw WireError(.unsupportedEncoding, "zlib could not initialise a '\(encoding)' compressor.")
        }
        self.deflaters[encoding] = stream
        return stream
    }

    private func inflater(for encoding: MessageEncoding) throws(WireError) -> UnsafeMutablePointer<z_stream> {
        if let stream = self.inflaters[encoding] { return stream }
        guard let bits = Self.windowBits(for: encoding) else {
            throw WireError(.unsupportedEncoding, "Message encoding '\(encoding)' is not supported for decompression.")
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard czlib_inflate_init2(stream, bits) == Z_OK else {
            stream.deallocate()
            throw WireError(.unsupportedEncoding, "zlib could not initialise a '\(encoding)' decompressor.")
        }
        self.inflaters[encoding] = stream
        return stream
    }
}
