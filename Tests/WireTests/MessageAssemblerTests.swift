import NIOCore
import Testing

@testable import Wire

@Suite("MessageAssembler: fragments add up to exactly the declared length", .timeLimit(.minutes(5)))
struct MessageAssemblerTests {
    static func first(_ bytes: [UInt8], of length: UInt32, more: Bool = true, compressed: Bool = false) -> MessageFrame {
        MessageFrame(streamID: 1, messageLength: length, data: buffer(bytes), more: more, compressed: compressed)
    }

    static func continuation(_ bytes: [UInt8], more: Bool) -> MessageFrame {
        MessageFrame(streamID: 1, messageLength: nil, data: buffer(bytes), more: more)
    }

    @Test("a whole message in one frame is returned at once", arguments: [false, true])
    func wholeMessage(compressed: Bool) throws {
        var assembler = MessageAssembler()
        for bytes: [UInt8] in [[], [1], Array(0...255)] {
            let message = try assembler.receive(.whole(streamID: 1, buffer(bytes), compressed: compressed))
            #expect(message == MessageAssembler.Message(bytes: buffer(bytes), compressed: compressed))
            #expect(!assembler.isAssembling)
        }
    }

    @Test("a message in several fragments is returned with the last one, with the first frame's compressed flag", arguments: [false, true])
    func multiFragment(compressed: Bool) throws {
        var assembler = MessageAssembler()
        #expect(try assembler.receive(Self.first([1, 2, 3, 4], of: 10, compressed: compressed)) == nil)
        #expect(assembler.isAssembling)
        #expect(try assembler.receive(Self.continuation([], more: true)) == nil)  // an empty fragment is allowed
        #expect(try assembler.receive(Self.continuation([5, 6, 7], more: true)) == nil)
        let message = try assembler.receive(Self.continuation([8, 9, 10], more: false))
        #expect(message == MessageAssembler.Message(bytes: buffer(Array(1...10)), compressed: compressed))
        #expect(!assembler.isAssembling)

        // The assembler is ready for the next message.
        #expect(try assembler.receive(Self.first([1], of: 2)) == nil)
        #expect(try assembler.receive(Self.continuation([2], more: false)) == MessageAssembler.Message(bytes: buffer([1, 2]), compressed: false))
    }

    @Test("a first frame with MORE and no bytes, then the whole message in one continuation")
    func emptyFirstFragment() throws {
        var assembler = MessageAssembler()
        #expect(try assembler.receive(Self.first([], of: 3)) == nil)
        #expect(try assembler.receive(Self.continuation([1, 2, 3], more: false)) == MessageAssembler.Message(bytes: buffer([1, 2, 3]), compressed: false))
    }

    @Test("a continuation without a message in progress is a protocolViolation", arguments: [false, true])
    func continuationWithoutStart(more: Bool) {
        var assembler = MessageAssembler()
        let error = expectWireError(.protocolViolation) { try assembler.receive(Self.continuation([1], more: more)) }
        #expect(error?.goAwayCode == .protocolError)
        // Also right after a complete message.
        _ = try? assembler.receive(.whole(streamID: 1, buffer([1])))
        expectWireError(.protocolViolation) { try assembler.receive(Self.continuation([1], more: more)) }
    }

    @Test("a new message inside one in progress is a protocolViolation", arguments: [false, true])
    func newMessageInsideOne(more: Bool) throws {
        var assembler = MessageAssembler()
        #expect(try assembler.receive(Self.first([1, 2], of: 10)) == nil)
        expectWireError(.protocolViolation) { try assembler.receive(Self.first([1], of: more ? 5 : 1, more: more)) }
    }

    @Test("more bytes than declared is a protocolViolation", arguments: [false, true])
    func tooManyBytes(more: Bool) throws {
        var assembler = MessageAssembler()
        #expect(try assembler.receive(Self.first([1, 2, 3, 4], of: 10)) == nil)
        #expect(try assembler.receive(Self.continuation([5, 6, 7], more: true)) == nil)
        expectWireError(.protocolViolation) { try assembler.receive(Self.continuation([8, 9, 10, 11], more: more)) }
    }

    @Test("a last fragment short of the declared length is a protocolViolation")
    func shortLastFragment() throws {
        var assembler = MessageAssembler()
        #expect(try assembler.receive(Self.first([1, 2, 3, 4], of: 10)) == nil)
        expectWireError(.protocolViolation) { try assembler.receive(Self.continuation([5, 6, 7], more: false)) }
    }

    @Test("a fragment that completes the message but says MORE is a protocolViolation")
    func completeButMore() throws {
        var assembler = MessageAssembler()
        #expect(try assembler.receive(Self.first([1, 2, 3, 4], of: 10)) == nil)
        expectWireError(.protocolViolation) { try assembler.receive(Self.continuation([5, 6, 7, 8, 9, 10], more: true)) }
    }

    @Test("memory held for a message in progress follows the bytes that arrived, not the length it declares")
    func holdsWhatArrived() throws {
        // A peer may declare a message of the full limit and then send it slowly (or never): flow control bounds
        // what it can send, so what the assembler holds must follow what was sent.
        let declared = UInt32(WireLimits.default.maxMessageSize)
        func fragment(_ count: Int, seed: UInt8) -> ByteBuffer {
            var data = TrackingAllocator.assembly.buffer(capacity: count)
            data.writeImmutableBuffer(patternBuffer(count: count, seed: seed))
            return data
        }
        TrackingAllocator.resetAssembly()
        var assembler = MessageAssembler()
        var received = ByteBuffer()
        let first = fragment(1024, seed: 0)
        received.writeImmutableBuffer(first)
        #expect(try assembler.receive(MessageFrame(streamID: 1, messageLength: declared, data: first, more: true), allocator: TrackingAllocator.assembly) == nil)
        for index in 1..<16 {
            let next = fragment(1024, seed: UInt8(index))
            received.writeImmutableBuffer(next)
            #expect(try assembler.receive(MessageFrame(streamID: 1, messageLength: nil, data: next, more: true), allocator: TrackingAllocator.assembly) == nil)
        }
        // 16 KiB arrived; doubling growth may hold up to twice that.
        #expect(TrackingAllocator.largestAssembly <= 32 * 1024, "the assembler held \(TrackingAllocator.largestAssembly) bytes for 16 KiB received")
        #expect(assembler.pinnedBytes <= 32 * 1024 + MessageAssembler.pinnedSlack, "the assembler held \(assembler.pinnedBytes) bytes for 16 KiB received")

        // The rest arrives and the message is exact.
        let rest = patternBuffer(count: Int(declared) - received.readableBytes, seed: 99)
        received.writeImmutableBuffer(rest)
        let message = try assembler.receive(MessageFrame(streamID: 1, messageLength: nil, data: rest, more: false))
        #expect(message == MessageAssembler.Message(bytes: received, compressed: false))
    }

    @Test("a large message assembled from writeMessage's frames is exact")
    func largeMessage() throws {
        let message = patternBuffer(count: 1_000_000, seed: 5)
        var bytes = ByteBuffer()
        FrameEncoder.writeMessage(streamID: 1, message: message, compressed: true, maxFrameSize: 16 * 1024, into: &bytes)
        var decoder = FrameDecoder(expectPreface: false)
        decoder.append(bytes)
        var assembler = MessageAssembler()
        var results: [MessageAssembler.Message] = []
        for case .frame(.message(let frame)) in try decoder.drain() {
            if let result = try assembler.receive(frame) { results.append(result) }
        }
        #expect(results == [MessageAssembler.Message(bytes: message, compressed: true)])
    }

    /// Feeds `message` as frames of `sizes` (cycled), each fragment a slice of a read of `readSize` bytes made with
    /// `allocator` (as the frame decoder hands them out), and returns what the assembler completed.
    static func assemble(
        _ message: ByteBuffer, sizes: [Int], readSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator(),
        into assembler: inout MessageAssembler, check: (MessageAssembler, Int) -> Void = { _, _ in }
    ) throws -> MessageAssembler.Message? {
        var rest = message
        var index = 0
        var first = true
        while true {
            let size = min(sizes[index % sizes.count], rest.readableBytes)
            index += 1
            // The fragment sits inside a read of `readSize` bytes (or its own size when larger).
            var read = allocator.buffer(capacity: max(readSize, size))
            read.writeRepeatingByte(0xEE, count: (max(readSize, size) - size) / 2)
            let offset = read.writerIndex
            var chunk = rest.readSlice(length: size)!
            read.writeBuffer(&chunk)
            let data = read.getSlice(at: offset, length: size)!
            let frame = MessageFrame(
                streamID: 1, messageLength: first ? UInt32(message.readableBytes) : nil, data: data, more: rest.readableBytes > 0
            )
            first = false
            let result = try assembler.receive(frame)
            check(assembler, message.readableBytes - rest.readableBytes)
            if rest.readableBytes == 0 { return result }
            #expect(result == nil)
        }
    }

    @Test(
        "a message split any way, into fragments of 1 byte to a whole frame, slices of small or large reads, reassembles byte for byte",
        arguments: [
            ([1], 64), ([7, 1, 1000], 2048), ([1024], 1024), ([1024], 64 * 1024), ([16 * 1024 - 4], 64 * 1024),
            ([1, 16 * 1024, 3, 4096, 900], 64 * 1024), ([16 * 1024], 16 * 1024 + 9), ([300_000], 300_000),
        ] as [([Int], Int)]
    )
    func anySplit(sizes: [Int], readSize: Int) throws {
        let message = patternBuffer(count: sizes == [1] ? 20_000 : 1_000_003, seed: 3)
        var assembler = MessageAssembler()
        let result = try Self.assemble(message, sizes: sizes, readSize: readSize, into: &assembler) { assembler, received in
            // However the peer splits it, the storage held stays within twice what arrived plus the slack and a chunk.
            let bound = 2 * received + MessageAssembler.pinnedSlack + MessageAssembler.ownedChunk
            #expect(assembler.pinnedBytes <= bound, "\(assembler.pinnedBytes) bytes held for \(received) received")
        }
        let whole = try #require(result)
        #expect(whole.byteCount == message.readableBytes)
        #expect(whole.joined() == message)
        #expect(whole.bytes == message)
        #expect(whole == MessageAssembler.Message(bytes: message, compressed: false))
        #expect(!assembler.isAssembling)
        #expect(assembler.pinnedBytes == 0)
    }

    @Test("whole frames that fill their reads are kept as the slices they are, not copied")
    func bigFragmentsAreSlices() throws {
        // Ten 64 KiB reads of four 16 KiB frames each, as the frame decoder hands them out.
        let message = patternBuffer(count: 40 * 16 * 1024, seed: 4)
        var rest = message
        var assembler = MessageAssembler()
        var result: MessageAssembler.Message?
        for read in 0..<10 {
            let bytes = rest.readSlice(length: 4 * 16 * 1024)!
            var storage = ByteBuffer()
            storage.writeImmutableBuffer(bytes)
            for frame in 0..<4 {
                let data = storage.getSlice(at: frame * 16 * 1024, length: 16 * 1024)!
                let first = read == 0 && frame == 0
                let more = read < 9 || frame < 3
                result = try assembler.receive(
                    MessageFrame(streamID: 1, messageLength: first ? UInt32(message.readableBytes) : nil, data: data, more: more)
                )
                #expect(assembler.pinnedBytes <= 2 * (4 * read + frame + 1) * 16 * 1024 + MessageAssembler.pinnedSlack)
            }
        }
        let whole = try #require(result)
        #expect(whole.isFragmented)
        #expect(whole.fragments.count == 40, "one slice per frame, none copied")
        #expect(whole.joined() == message)
    }

    @Test("slices of reads much larger than themselves are copied once they would hold more than twice the message")
    func pinningIsBounded() throws {
        // Every 1 KiB fragment alone in a 64 KiB read: keeping them all as slices would hold 64 times the message.
        let message = patternBuffer(count: 512 * 1024, seed: 6)
        var assembler = MessageAssembler()
        let whole = try #require(try Self.assemble(message, sizes: [1024], readSize: 64 * 1024, into: &assembler) { assembler, received in
            #expect(assembler.pinnedBytes <= 2 * received + MessageAssembler.pinnedSlack + MessageAssembler.ownedChunk)
        })
        #expect(whole.fragments.count < 20, "copied into 64 KiB chunks, not kept as 512 slices")
        #expect(whole.joined() == message)
    }

    @Test("a message dropped halfway (its stream ended, by a reset or with its assembler) releases every fragment it held")
    func resetReleases() throws {
        // One test, both ways in turn: the allocator's record is global.
        for dropAssembler in [false, true] {
            try Self.dropHalfway(dropAssembler: dropAssembler)
        }
    }

    @Test("A copy of an assembler taken mid-message assembles on its own: feeding one leaves the other as it was")
    func copiesAreIndependent() throws {
        let message = patternBuffer(count: 6000, seed: 3)
        var rest = message
        var original = MessageAssembler()
        let head = rest.readSlice(length: 2000)!
        #expect(try original.receive(MessageFrame(streamID: 1, messageLength: 6000, data: head, more: true)) == nil)
        var copy = original
        let middle = rest.readSlice(length: 2000)!
        #expect(try copy.receive(MessageFrame(streamID: 1, messageLength: nil, data: middle, more: true)) == nil)
        // The original has still received 2000 bytes: 4000 more complete its message, 2000 would not.
        #expect(throws: WireError.self) { try original.receive(MessageFrame(streamID: 1, messageLength: nil, data: middle, more: false)) }
        let fromOriginal = try original.receive(MessageFrame(streamID: 1, messageLength: nil, data: message.getSlice(at: 2000, length: 4000)!, more: false))
        #expect(fromOriginal?.joined() == message)
        // The copy goes on from its own 4000 bytes.
        let fromCopy = try copy.receive(MessageFrame(streamID: 1, messageLength: nil, data: rest, more: false))
        #expect(fromCopy?.joined() == message)
        #expect(!original.isAssembling && !copy.isAssembling)
    }

    static func dropHalfway(dropAssembler: Bool) throws {
        let message = patternBuffer(count: 300_000, seed: 7)
        var assembler = MessageAssembler()
        var rest = message
        var first = true
        // Part of the message, in fragments that are slices (16 KiB) and copies (100 bytes), all from tracked reads.
        for size in [16 * 1024, 100, 16 * 1024, 100, 100, 16 * 1024, 1] {
            var read = LiveBytesAllocator.allocator.buffer(capacity: size)
            var chunk = rest.readSlice(length: size)!
            read.writeBuffer(&chunk)
            let frame = MessageFrame(streamID: 1, messageLength: first ? UInt32(message.readableBytes) : nil, data: read, more: true)
            first = false
            #expect(try assembler.receive(frame, allocator: LiveBytesAllocator.allocator) == nil)
        }
        #expect(assembler.isAssembling)
        #expect(LiveBytesAllocator.liveBytes > 3 * 16 * 1024, "the fragments are held")
        if dropAssembler {
            assembler = MessageAssembler()
        } else {
            assembler.reset()
            #expect(!assembler.isAssembling)
            #expect(assembler.pinnedBytes == 0)
        }
        #expect(LiveBytesAllocator.liveBytes == 0, "\(LiveBytesAllocator.liveBytes) bytes still held")
        // The assembler takes a new message after a reset.
        let next = patternBuffer(count: 5000, seed: 8)
        let result = try Self.assemble(next, sizes: [1000], readSize: 4096, into: &assembler)
        #expect(result?.joined() == next)
    }
}
