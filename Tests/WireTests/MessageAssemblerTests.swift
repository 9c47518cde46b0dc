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
        #expect(try assembler.receive(MessageFrame(streamID: 1, messageLength: declared, data: first, more: true)) == nil)
        for index in 1..<16 {
            let next = fragment(1024, seed: UInt8(index))
            received.writeImmutableBuffer(next)
            #expect(try assembler.receive(MessageFrame(streamID: 1, messageLength: nil, data: next, more: true)) == nil)
        }
        // 16 KiB arrived; doubling growth may hold up to twice that.
        #expect(TrackingAllocator.largestAssembly <= 32 * 1024, "the assembler held \(TrackingAllocator.largestAssembly) bytes for 16 KiB received")

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
}
