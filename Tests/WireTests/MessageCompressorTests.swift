import NIOCore
import Testing

@testable import Wire

@Suite("MessageCompressor: gzip and deflate, bounded on the way in", .serialized, .timeLimit(.minutes(5)))
struct MessageCompressorTests {
    static let encodings: [MessageEncoding] = [.gzip, .deflate]

    static func repetitive(count: Int) -> ByteBuffer {
        let line = Array("deadline exceeded after 250ms; retrying elsewhere\n".utf8)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        while buffer.readableBytes < count {
            buffer.writeBytes(line.prefix(count - buffer.readableBytes))
        }
        return buffer
    }

    static func random(count: Int, seed: UInt64 = 1) -> ByteBuffer {
        buffer(randomBytes(count: count, seed: seed))
    }

    // MARK: Round trips

    @Test("round trips: empty, one byte, 1 MiB random, 1 MiB repetitive", arguments: encodings)
    func roundTrips(encoding: MessageEncoding) throws {
        let compressor = MessageCompressor()
        let mib = 1024 * 1024
        let cases: [ByteBuffer] = [ByteBuffer(), buffer([0x42]), Self.random(count: mib), Self.repetitive(count: mib), ByteBuffer(repeating: 0, count: mib)]
        for message in cases {
            let compressed = try compressor.compress(message, encoding: encoding)
            let restored = try compressor.decompress(compressed, encoding: encoding, maxSize: WireLimits.default.maxMessageSize)
            #expect(restored == message, "\(encoding), \(message.readableBytes) bytes")
            if message.readableBytes == mib {
                // Random data cannot shrink (stored blocks cost a few bytes); repetitive data must shrink a lot.
                if message == Self.random(count: mib) {
                    #expect(compressed.readableBytes < mib + mib / 100)
                } else {
                    #expect(compressed.readableBytes < mib / 50, "\(compressed.readableBytes) bytes")
                }
            }
        }
    }

    @Test("gzip output has the gzip header and a trailer with the input size; deflate output is raw")
    func wireFormats() throws {
        let compressor = MessageCompressor()
        let message = Self.repetitive(count: 1000)
        let gzip = Array(try compressor.compress(message, encoding: .gzip).readableBytesView)
        #expect(Array(gzip.prefix(3)) == [0x1F, 0x8B, 0x08])
        #expect(Array(gzip.suffix(4)) == [0xE8, 0x03, 0x00, 0x00])  // ISIZE = 1000, little-endian
        let deflate = Array(try compressor.compress(message, encoding: .deflate).readableBytesView)
        #expect(deflate.first != 0x1F && deflate.first != 0x78)  // neither a gzip nor a zlib header
        #expect(deflate.count == gzip.count - 18)  // the same deflate stream without gzip's 10-byte header and 8-byte trailer
    }

    @Test("decompresses streams written by another zlib user")
    func knownVectors() throws {
        let compressor = MessageCompressor()
        let hello = buffer(Array("hello, world".utf8))
        let deflate: [UInt8] = [0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0xD7, 0x51, 0x28, 0xCF, 0x2F, 0xCA, 0x49, 0x01, 0x00]
        let gzip: [UInt8] = [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03,
        ] + deflate + [0x3A, 0x72, 0xAB, 0xFF, 0x0C, 0x00, 0x00, 0x00]
        #expect(try compressor.decompress(buffer(deflate), encoding: .deflate, maxSize: 100) == hello)
        #expect(try compressor.decompress(buffer(gzip), encoding: .gzip, maxSize: 100) == hello)
        // Each encoding refuses the other's stream.
        expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(gzip), encoding: .deflate, maxSize: 100) }
        expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(deflate), encoding: .gzip, maxSize: 100) }
    }

    // MARK: Corrupt, truncated, trailing

    @Test("corrupt data is corruptCompressedData")
    func corruptData() throws {
        let compressor = MessageCompressor()
        let invalidBlockType: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]  // BFINAL=1, BTYPE=11 (reserved)
        let badStoredLengths: [UInt8] = [0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5]  // LEN=5, NLEN not its complement
        for bytes in [invalidBlockType, badStoredLengths] {
            let error = expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(bytes), encoding: .deflate, maxSize: 1000) }
            #expect(error?.statusCode == .internal)
        }
        for bytes in [Array("not gzip at all".utf8), [0x1F, 0x8C, 0x08, 0, 0, 0, 0, 0, 0, 3] + invalidBlockType] {
            expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(bytes), encoding: .gzip, maxSize: 1000) }
        }
        // A flipped byte in gzip's payload breaks its CRC.
        var gzip = Array(try compressor.compress(Self.random(count: 1024), encoding: .gzip).readableBytesView)
        gzip[gzip.count / 2] ^= 0x01
        expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(gzip), encoding: .gzip, maxSize: 4096) }
        // A wrong CRC or size in the trailer.
        var badTrailer = Array(try compressor.compress(Self.repetitive(count: 1024), encoding: .gzip).readableBytesView)
        badTrailer[badTrailer.count - 1] ^= 0x80
        expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(badTrailer), encoding: .gzip, maxSize: 4096) }
    }

    @Test("every truncation of a compressed message is corruptCompressedData", arguments: encodings)
    func truncatedData(encoding: MessageEncoding) throws {
        let compressor = MessageCompressor()
        for message in [Self.repetitive(count: 1024), Self.random(count: 100, seed: 9), buffer([7])] {
            let compressed = Array(try compressor.compress(message, encoding: encoding).readableBytesView)
            for length in 0..<compressed.count {
                expectWireError(.corruptCompressedData) {
                    try compressor.decompress(buffer(Array(compressed.prefix(length))), encoding: encoding, maxSize: 4096)
                }
            }
            #expect(try compressor.decompress(buffer(compressed), encoding: encoding, maxSize: 4096) == message)
        }
    }

    @Test("trailing garbage after the compressed stream is corruptCompressedData", arguments: encodings)
    func trailingGarbage(encoding: MessageEncoding) throws {
        let compressor = MessageCompressor()
        let compressed = Array(try compressor.compress(Self.repetitive(count: 500), encoding: encoding).readableBytesView)
        for garbage: [UInt8] in [[0x00], [0xFF, 0xFF], Array("trailing".utf8), Array(repeating: 0, count: 1000)] {
            expectWireError(.corruptCompressedData) { try compressor.decompress(buffer(compressed + garbage), encoding: encoding, maxSize: 4096) }
        }
    }

    // MARK: Limits

    @Test(
        "a message of exactly maxSize decompresses; with maxSize one less it is decompressedMessageTooLarge",
        arguments: encodings, [0, 1, 255, 256, 1000, 65_536, 4 * 1024 * 1024]
    )
    func exactLimit(encoding: MessageEncoding, size: Int) throws {
        let compressor = MessageCompressor()
        for message in [Self.repetitive(count: size), Self.random(count: size, seed: UInt64(size))] {
            let compressed = try compressor.compress(message, encoding: encoding)
            #expect(try compressor.decompress(compressed, encoding: encoding, maxSize: size) == message)
            #expect(try compressor.decompress(compressed, encoding: encoding, maxSize: size + 1) == message)
            if size > 0 {
                let error = expectWireError(.decompressedMessageTooLarge) {
                    try compressor.decompress(compressed, encoding: encoding, maxSize: size - 1)
                }
                #expect(error?.statusCode == .resourceExhausted)
            }
        }
    }

    @Test("a negative maxSize is treated as zero")
    func negativeLimit() throws {
        let compressor = MessageCompressor()
        #expect(try compressor.decompress(try compressor.compress(ByteBuffer(), encoding: .gzip), encoding: .gzip, maxSize: -1) == ByteBuffer())
        expectWireError(.decompressedMessageTooLarge) {
            try compressor.decompress(try compressor.compress(buffer([1]), encoding: .gzip), encoding: .gzip, maxSize: -1)
        }
    }

    @Test("a real zip bomb (100 MiB of zeros in about 100 KB) is refused without ever holding more than the limit")
    func zipBomb() throws {
        let compressor = MessageCompressor()
        let limit = 4 * 1024 * 1024
        let inflatedSize = 100 * 1024 * 1024
        let zeros = ByteBuffer(repeating: 0, count: inflatedSize)
        for encoding in Self.encodings {
            let bomb = try compressor.compress(zeros, encoding: encoding)
            #expect(bomb.readableBytes < 200 * 1024, "the bomb is \(bomb.readableBytes) bytes")
            #expect(bomb.readableBytes * 500 < inflatedSize)

            TrackingAllocator.resetCompression()
            let clock = ContinuousClock()
            let start = clock.now
            let error = expectWireError(.decompressedMessageTooLarge) {
                try compressor.decompress(bomb, encoding: encoding, maxSize: limit, allocator: TrackingAllocator.compression)
            }
            let elapsed = clock.now - start
            #expect(error?.statusCode == .resourceExhausted)
            let largest = TrackingAllocator.largestCompression
            #expect(largest > 0, "the output buffer came from the tracking allocator")
            #expect(largest <= limit, "decompression allocated \(largest) bytes for a \(limit)-byte limit")
            #expect(elapsed < .seconds(10), "refusing the bomb took \(elapsed)")

            // The same compressor, and the same bomb with a limit that fits it, still work.
            TrackingAllocator.resetCompression()
            let small = try compressor.decompress(try compressor.compress(buffer([1, 2, 3]), encoding: encoding), encoding: encoding, maxSize: limit, allocator: TrackingAllocator.compression)
            #expect(small == buffer([1, 2, 3]))
        }
    }

    @Test("a bomb at exactly the limit is accepted and one byte over is refused, holding no more than the limit")
    func bombAtLimit() throws {
        let compressor = MessageCompressor()
        let limit = 4 * 1024 * 1024
        for encoding in Self.encodings {
            for size in [limit, limit + 1] {
                let bomb = try compressor.compress(ByteBuffer(repeating: 0, count: size), encoding: encoding)
                TrackingAllocator.resetCompression()
                if size == limit {
                    let inflated = try compressor.decompress(bomb, encoding: encoding, maxSize: limit, allocator: TrackingAllocator.compression)
                    #expect(inflated == ByteBuffer(repeating: 0, count: limit))
                } else {
                    expectWireError(.decompressedMessageTooLarge) {
                        try compressor.decompress(bomb, encoding: encoding, maxSize: limit, allocator: TrackingAllocator.compression)
                    }
                }
                #expect(TrackingAllocator.largestCompression <= limit)
            }
        }
    }

    // MARK: Encodings

    @Test("identity and unknown encodings are unsupportedEncoding, both ways", arguments: [MessageEncoding.identity, MessageEncoding(rawValue: 7), MessageEncoding(rawValue: 255)])
    func unsupportedEncoding(encoding: MessageEncoding) {
        let compressor = MessageCompressor()
        let error = expectWireError(.unsupportedEncoding) { try compressor.compress(buffer([1, 2, 3]), encoding: encoding) }
        #expect(error?.statusCode == .unimplemented)
        expectWireError(.unsupportedEncoding) { try compressor.decompress(buffer([1, 2, 3]), encoding: encoding, maxSize: 100) }
        #expect(!encoding.isSupported || encoding == .identity)
    }

    @Test("one compressor serves many messages and both encodings, interleaved, including after errors")
    func reuse() throws {
        let compressor = MessageCompressor()
        let other = MessageCompressor()
        var generator = SplitMix64(seed: 42)
        for round in 0..<300 {
            let encoding = Self.encodings[round % 2]
            let size = Int.random(in: 0...5000, using: &generator)
            let message = round % 3 == 0 ? Self.random(count: size, seed: UInt64(round)) : Self.repetitive(count: size)
            let compressed = try compressor.compress(message, encoding: encoding)
            #expect(try compressor.decompress(compressed, encoding: encoding, maxSize: 5000) == message)
            // Streams are interchangeable between compressors.
            #expect(try other.decompress(compressed, encoding: encoding, maxSize: 5000) == message)
            switch round % 5 {
            case 1:
                // A failure in the middle of a stream must not leave state behind for the next message.
                let cut = compressed.getSlice(at: compressed.readerIndex, length: compressed.readableBytes / 2)!
                expectWireError(.corruptCompressedData) { try compressor.decompress(cut, encoding: encoding, maxSize: 5000) }
            case 2 where size > 10:
                expectWireError(.decompressedMessageTooLarge) { try compressor.decompress(compressed, encoding: encoding, maxSize: size / 2) }
            case 3:
                expectWireError(.unsupportedEncoding) { try compressor.decompress(compressed, encoding: .identity, maxSize: 5000) }
            default:
                break
            }
        }
    }

    @Test("compressing twice gives the same bytes (the deflate state is reset between messages)", arguments: encodings)
    func deterministic(encoding: MessageEncoding) throws {
        let compressor = MessageCompressor()
        let message = Self.repetitive(count: 4000)
        let first = try compressor.compress(message, encoding: encoding)
        _ = try compressor.compress(Self.random(count: 3000), encoding: encoding)
        #expect(try compressor.compress(message, encoding: encoding) == first)
        #expect(try MessageCompressor().compress(message, encoding: encoding) == first)
    }
}
