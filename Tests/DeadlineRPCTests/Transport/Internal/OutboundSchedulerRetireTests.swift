import NIOCore
import Synchronization
import Testing
import Wire

@testable import DeadlineRPC

/// The scheduler keeps the last reference to a big message it has written or dropped for the connection to drop off
/// the loop (`takeRetired()`): freeing megabytes on a loop can trim the allocator's heap there, which held a loop for
/// over 1 ms in `compress-bench` (issue #19 goal 6). Small messages are freed where they were, as before.
@Suite("OutboundScheduler: big messages are retired, not freed, when written or dropped", .timeLimit(.minutes(5)))
struct OutboundSchedulerRetireTests {
    typealias Helpers = OutboundSchedulerTests
    static let frameSize = 16 * 1024
    static let big = OutboundScheduler.retireThreshold

    static func makeScheduler(credit: Int = 1 << 30) -> OutboundScheduler {
        OutboundScheduler(allocator: ByteBufferAllocator(), maxFrameSize: Self.frameSize, initialCredit: credit)
    }

    /// Whether `retired` is `message`'s buffer, read to its end: its bytes from the start are the message's.
    static func isSpent(_ retired: ByteBuffer, _ message: ByteBuffer) -> Bool {
        var whole = retired
        whole.moveReaderIndex(to: 0)
        return retired.readableBytes == 0 && whole == message
    }

    @Test("a big message is retired once, after its last frame and not before; interleaved with another stream's frames, both arrive byte for byte and in order")
    func bigMessageRetiredAfterLastFrame() throws {
        var scheduler = Self.makeScheduler()
        scheduler.openStream(1)
        scheduler.openStream(3)
        let message = Helpers.payload(Self.big + 40_003, seed: 1)
        // Over a frame each, so they queue behind one another instead of leaving at once.
        let smalls = (0..<6).map { Helpers.payload(Self.frameSize + 3_000 + $0, seed: 10 + $0) }
        scheduler.enqueueMessage(streamID: 1, message, compressed: false, endStream: false)
        for small in smalls { scheduler.enqueueMessage(streamID: 3, small, compressed: false, endStream: false) }
        scheduler.enqueue(.halfClose(streamID: 1))

        var frames: [Frame] = []
        var rounds = 0
        while scheduler.hasQueuedData && rounds < 1_000 {
            rounds += 1
            _ = scheduler.pump(budget: 1)  // One frame at a time, so the moment of retirement shows.
            let written = try Helpers.take(&scheduler, frameSize: Self.frameSize)
            frames += written
            let lastOfMessage = Helpers.messageFrames(written).contains { $0.streamID == 1 && !$0.more }
            if lastOfMessage {
                #expect(scheduler.hasRetired)
                let retired = scheduler.takeRetired()
                #expect(retired.count == 1)
                #expect(retired.first.map { Self.isSpent($0, message) } == true)
            }
            #expect(!scheduler.hasRetired, "retired before its last frame, or twice")
        }
        // The two streams' frames interleave, and each stream's messages reassemble exactly, in order.
        let streams = Helpers.messageFrames(frames).map(\.streamID)
        #expect(streams.prefix(4) == [1, 3, 1, 3])
        let messages = try Helpers.messages(in: frames)
        #expect(messages[1]?.map(\.bytes) == [message])
        #expect(messages[3]?.map(\.bytes) == smalls)
        #expect(frames.last { $0.streamID == 1 } == .halfClose(streamID: 1))
        let none = scheduler.takeRetired()
        #expect(none.isEmpty)
    }

    @Test("messages under the threshold are never retired; one of exactly the threshold is")
    func threshold() throws {
        var scheduler = Self.makeScheduler()
        scheduler.openStream(1)
        let sizes = [Self.big - 1, 10, Self.frameSize - 4, 100_000, Self.big]
        for (index, size) in sizes.enumerated() {
            scheduler.enqueueMessage(streamID: 1, Helpers.payload(size, seed: index), compressed: false, endStream: false)
        }
        let frames = try Helpers.drain(&scheduler, frameSize: Self.frameSize)
        #expect(try Helpers.messages(in: frames)[1]?.map(\.bytes.readableBytes) == sizes)
        let retired = scheduler.takeRetired()
        #expect(retired.count == 1)
        #expect(retired.first.map { Self.isSpent($0, Helpers.payload(Self.big, seed: 4)) } == true)
    }

    @Test("a compressed message filled in off the loop is retired like any other")
    func compressedFill() throws {
        var scheduler = Self.makeScheduler()
        scheduler.openStream(1)
        let pending = scheduler.enqueuePending(streamID: 1, size: 4 * Self.big, endStream: true)
        let token = try #require(pending)
        let packed = Helpers.payload(Self.big + 1, seed: 5)
        let filled = scheduler.fillPending(streamID: 1, token: token, packed, compressed: true)
        #expect(filled)
        let frames = try Helpers.drain(&scheduler, frameSize: Self.frameSize)
        #expect(try Helpers.messages(in: frames)[1] == [Helpers.Received(bytes: packed, compressed: true)])
        let retired = scheduler.takeRetired()
        #expect(retired.map { Self.isSpent($0, packed) } == [true])
    }

    @Test("dropping a stream in the middle of a big message retires it and the big one queued behind it, not the small one")
    func dropMidMessage() throws {
        var scheduler = Self.makeScheduler(credit: 64 * 1024)
        scheduler.openStream(1)
        let first = Helpers.payload(4 * Self.big, seed: 1)
        let second = Helpers.payload(Self.big, seed: 2)
        scheduler.enqueueMessage(streamID: 1, first, compressed: false, endStream: false)
        scheduler.enqueueMessage(streamID: 1, Helpers.payload(1_000, seed: 3), compressed: false, endStream: false)
        scheduler.enqueueMessage(streamID: 1, second, compressed: false, endStream: false)
        let written = try Helpers.drain(&scheduler, frameSize: Self.frameSize)  // Up to the credit: part of `first`.
        #expect(scheduler.hasPartialMessage(1))
        #expect(!scheduler.hasRetired)
        let fragments = Helpers.messageFrames(written)
        #expect(fragments.first?.messageLength == UInt32(first.readableBytes))
        var prefix = ByteBuffer()
        for fragment in fragments { prefix.writeImmutableBuffer(fragment.data) }
        #expect(prefix == first.getSlice(at: first.readerIndex, length: 64 * 1024))

        scheduler.dropStream(1)
        let retired = scheduler.takeRetired()
        #expect(retired.count == 2)
        #expect(retired.first.map { $0.readableBytes == first.readableBytes - 64 * 1024 } == true)
        #expect(retired.last == second)
        #expect(!scheduler.hasRetired)
    }

    @Test("ending a stream at once in the middle of a big message writes CANCEL and retires the message")
    func endStreamNowMidMessage() throws {
        var scheduler = Self.makeScheduler(credit: 20_000)
        scheduler.openStream(1)
        let message = Helpers.payload(2 * Self.big, seed: 7)
        scheduler.enqueueMessage(streamID: 1, message, compressed: false, endStream: true)
        _ = try Helpers.drain(&scheduler, frameSize: Self.frameSize)
        let cancelled = scheduler.endStreamNow(
            1, end: .callEnd(CallEnd(streamID: 1, status: .internal, message: "x")), cancel: .cancel(streamID: 1, reason: .cancelled)
        )
        #expect(cancelled)
        let frames = try Helpers.take(&scheduler, frameSize: Self.frameSize)
        #expect(frames == [.cancel(streamID: 1, reason: .cancelled)])
        let retired = scheduler.takeRetired()
        #expect(retired.map(\.readableBytes) == [message.readableBytes - 20_000])
    }

    @Test("the writer hands over retired messages once")
    func writerTakesRetired() throws {
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        #expect(!writer.hasRetired)
        writer.scheduler.openStream(1)
        writer.scheduler.enqueueMessage(streamID: 1, Helpers.payload(Self.big, seed: 1), compressed: false, endStream: false)
        writer.scheduler.dropStream(1)
        #expect(writer.hasRetired)
        let taken = writer.takeRetired()
        #expect(taken.count == 1)
        #expect(!writer.hasRetired)
        let again = writer.takeRetired()
        #expect(again.isEmpty)
    }

    @Test("the pool takes what a connection releases: counted, and nothing at Int.max (everything on the loop)")
    func offloadRelease() async throws {
        let counters = CompressionCounters()
        let offload = CompressionOffload(threshold: 16 * 1024, threadPool: .singleton, counters: counters)
        offload.release([Helpers.payload(Self.big), Helpers.payload(Self.big + 1)])
        #expect(counters.releasedOffLoop.load(ordering: .relaxed) == 2)
        CompressionOffload.never(counters: counters).release([Helpers.payload(Self.big)])
        #expect(counters.releasedOffLoop.load(ordering: .relaxed) == 2)
    }
}
