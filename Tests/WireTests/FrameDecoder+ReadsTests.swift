import NIOCore
import Testing

@testable import Wire

/// A read that ends inside a frame costs a copy of that frame's rest only: the frames after it in the next read are
/// decoded from the read as it is, so their payloads stay slices of it (issue #19: a 4 MiB message is not copied on
/// the event loop on its way in).
@Suite("FrameDecoder: reads are decoded in place", .timeLimit(.minutes(5)))
struct FrameDecoderReadsTests {
    /// The identity of the storage `buffer` is a view of.
    static func storage(_ buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytesWithStorageManagement { UInt(bitPattern: $1.toOpaque()) }
    }

    static func messages(_ sizes: [Int]) -> (bytes: ByteBuffer, payloads: [ByteBuffer]) {
        var bytes = ByteBuffer()
        var payloads: [ByteBuffer] = []
        for (index, size) in sizes.enumerated() {
            let payload = patternBuffer(count: size, seed: UInt8(index))
            FrameEncoder.write(.message(.whole(streamID: 1, payload)), into: &bytes)
            payloads.append(payload)
        }
        return (bytes, payloads)
    }

    static func payload(_ decoded: DecodedFrame?) -> ByteBuffer? {
        guard case .frame(.message(let frame))? = decoded else { return nil }
        return frame.data
    }

    @Test("only the rest of the frame a read ended in is copied; the frames after it are slices of the next read")
    func framesAfterTheBoundaryAreSlices() throws {
        let (bytes, payloads) = Self.messages([3000, 5000, 4000, 2000])
        let firstFrame = FrameHeader.size + 4 + 3000
        var all = bytes
        let read1 = all.readSlice(length: firstFrame + 100)!  // the first frame and 100 bytes of the second
        var read2 = ByteBuffer()
        read2.writeImmutableBuffer(all)  // a read of its own storage, as a socket read is
        var decoder = FrameDecoder(expectPreface: false)

        decoder.append(read1)
        let first = try #require(Self.payload(try decoder.nextFrame()))
        #expect(first == payloads[0])
        #expect(Self.storage(first) == Self.storage(read1))
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedBytes == 100)

        decoder.append(read2)
        #expect(decoder.bufferedBytes == 100 + read2.readableBytes)
        let second = try #require(Self.payload(try decoder.nextFrame()))
        #expect(second == payloads[1])
        #expect(Self.storage(second) != Self.storage(read2), "the frame that crossed the boundary was put together")
        for expected in payloads[2...] {
            let next = try #require(Self.payload(try decoder.nextFrame()))
            #expect(next == expected)
            #expect(Self.storage(next) == Self.storage(read2), "a frame wholly inside the read is not copied")
        }
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("reads appended while a frame is incomplete, in pieces of any size, decode in order", arguments: [1, 7, 100, 5000])
    func queuedReads(pieceSize: Int) throws {
        let (bytes, payloads) = Self.messages([3000, 1, 16_000, 0, 700, 9000])
        var rest = bytes
        var decoder = FrameDecoder(expectPreface: false)
        var decoded: [ByteBuffer] = []
        var round = 0
        while rest.readableBytes > 0 {
            decoder.append(rest.readSlice(length: min(pieceSize, rest.readableBytes))!)
            round += 1
            // Decode only every third read, so several reads queue behind an incomplete frame.
            if round % 3 == 0 {
                while let frame = try decoder.nextFrame() { decoded.append(try #require(Self.payload(frame))) }
            }
        }
        while let frame = try decoder.nextFrame() { decoded.append(try #require(Self.payload(frame))) }
        #expect(decoded == payloads)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("a header that announces too much is refused before the queued reads behind it are copied")
    func oversizedHeaderRefusedEarly() throws {
        var decoder = FrameDecoder(limits: WireLimits(maxFrameSize: 1024), expectPreface: false)
        var header = ByteBuffer()
        FrameEncoder.writeHeader(length: 4096, type: .message, flags: 0, streamID: 1, into: &header)
        decoder.append(header.getSlice(at: 0, length: 5)!)
        #expect(try decoder.nextFrame() == nil)
        decoder.append(header.getSlice(at: 5, length: 4)!)
        decoder.append(ByteBuffer(repeating: 0, count: 4096))
        expectWireError(.frameTooLarge) { try decoder.nextFrame() }
    }
}
