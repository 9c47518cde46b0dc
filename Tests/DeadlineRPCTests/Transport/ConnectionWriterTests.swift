import NIOCore
import Testing
import Wire

@testable import DeadlineRPC

/// The shared connection writer's decisions, without a channel: compression, the writer watermark, the
/// end-of-tick flush flag.
@Suite("ConnectionWriter")
struct ConnectionWriterTests {
    static func message(_ size: Int) -> ByteBuffer {
        ByteBuffer(repeating: UInt8(ascii: "a"), count: size)
    }

    static func written(_ writer: inout ConnectionWriter) -> Int {
        _ = writer.pump()
        return writer.takePending()?.readableBytes ?? 0
    }

    @Test("A message at the threshold on a gzip stream the peer accepts is compressed; below it, or identity, is not")
    func compression() {
        let compressor = MessageCompressor()
        var settings = Settings.default
        settings.acceptedEncodings = MessageEncoding.gzip.settingsBit
        func size(_ bytes: Int, _ encoding: MessageEncoding) -> Int {
            var writer = ConnectionWriter(allocator: ByteBufferAllocator())
            writer.scheduler.openStream(1)
            _ = writer.enqueueMessage(
                streamID: 1,
                Self.message(bytes),
                encoding: encoding,
                peer: settings,
                compressor: compressor,
                offload: .never(counters: CompressionCounters()),
                allocator: ByteBufferAllocator(),
                endStream: false
            )
            return Self.written(&writer)
        }
        let threshold = ConnectionWriter.compressionThreshold
        #expect(size(threshold, .gzip) < size(threshold, .identity))
        #expect(size(threshold - 1, .gzip) == size(threshold - 1, .identity))
    }

    /// Frames a buffer of encoded frames holds, decoded.
    static func frames(_ bytes: ByteBuffer?) throws -> [Frame] {
        guard let bytes else { return [] }
        var decoder = FrameDecoder(limits: .default, expectPreface: false)
        decoder.append(bytes)
        var frames: [Frame] = []
        while let decoded = try decoder.nextFrame() {
            if case .frame(let frame) = decoded { frames.append(frame) }
        }
        return frames
    }

    @Test("Above the offload threshold the writer holds the message's place and returns a job; at it, it compresses")
    func offloadThreshold() throws {
        let counters = CompressionCounters()
        let offload = CompressionOffload(threshold: 1_000, threadPool: .singleton, counters: counters)
        var settings = Settings.default
        settings.acceptedEncodings = MessageEncoding.gzip.settingsBit
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        writer.scheduler.openStream(1)
        func enqueue(_ size: Int, encoding: MessageEncoding = .gzip, endStream: Bool = false) -> CompressionJob? {
            writer.enqueueMessage(
                streamID: 1, Self.message(size), encoding: encoding, peer: settings, compressor: MessageCompressor(),
                offload: offload, allocator: ByteBufferAllocator(), endStream: endStream
            )
        }
        #expect(enqueue(1_000) == nil)
        #expect(counters.compressedOnLoop.load(ordering: .relaxed) == 1)
        let job = try #require(enqueue(1_001))
        #expect(counters.compressedOffLoop.load(ordering: .relaxed) == 1)
        #expect(job.message.readableBytes == 1_001 && job.encoding == .gzip)
        // Identity is never compressed, whatever its size: no job.
        #expect(enqueue(5_000, encoding: .identity, endStream: true) == nil)
        // Everything after the held message waits for it; the message before it goes.
        var written = try Self.frames({ _ = writer.pump(); return writer.takePending() }())
        #expect(written.count == 1)
        #expect(writer.writerMustWait(1, watermark: 0))
        let packed = try #require(job.run())
        #expect(packed.readableBytes < 1_001)
        let filled = writer.scheduler.fillPending(streamID: 1, token: job.token, packed, compressed: true)
        #expect(filled)
        written = try Self.frames({ _ = writer.pump(); return writer.takePending() }())
        guard written.count == 2, case .message(let first) = written[0], case .message(let second) = written[1] else {
            Issue.record("expected the compressed message, then the identity one: \(written)")
            return
        }
        #expect(first.compressed && first.data == packed && !first.endStream)
        #expect(!second.compressed && second.data.readableBytes == 5_000 && second.endStream)
    }

    @Test("A held message's result is dropped when its stream ended meanwhile; a frame queued behind it waits")
    func offloadDropped() throws {
        var scheduler = OutboundScheduler(allocator: ByteBufferAllocator(), maxFrameSize: 16_384, initialCredit: 65_536)
        scheduler.openStream(1)
        let held = scheduler.enqueuePending(streamID: 1, size: 100_000, endStream: false)
        let token = try #require(held)
        scheduler.enqueue(.halfClose(streamID: 1), last: true)
        let progressed = scheduler.pump(budget: 1 << 20)
        #expect(progressed.isEmpty)
        #expect(!scheduler.hasPendingBytes)
        #expect(scheduler.queuedBytes(of: 1) == 100_000)
        scheduler.dropStream(1)
        let filled = scheduler.fillPending(streamID: 1, token: token, ByteBuffer(repeating: 1, count: 10), compressed: true)
        #expect(!filled)
        let reopened = scheduler.enqueuePending(streamID: 1, size: 10, endStream: false)
        #expect(reopened == nil)
    }

    @Test("A streaming writer waits once its stream queues more than the watermark")
    func watermark() {
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        writer.scheduler.openStream(1)
        writer.scheduler.writable = false
        let compressor = MessageCompressor()
        _ = writer.enqueueMessage(
            streamID: 1,
            Self.message(ConnectionWriter.writerWatermark),
            encoding: .identity,
            peer: .default,
            compressor: compressor,
            offload: .never(counters: CompressionCounters()),
            allocator: ByteBufferAllocator(),
            endStream: false
        )
        #expect(!writer.writerMustWait(1))
        _ = writer.enqueueMessage(
            streamID: 1,
            Self.message(1),
            encoding: .identity,
            peer: .default,
            compressor: compressor,
            offload: .never(counters: CompressionCounters()),
            allocator: ByteBufferAllocator(),
            endStream: false
        )
        #expect(writer.writerMustWait(1))
        let progressed = writer.pump()
        #expect(progressed.isEmpty)  // Not writable: nothing moves.
    }

    @Test("One flush per tick: a second request while one is scheduled asks for nothing")
    func flushSoon() {
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        let first = writer.requestFlushSoon()
        let second = writer.requestFlushSoon()
        writer.scheduledFlushRuns()
        let afterRun = writer.requestFlushSoon()
        #expect(first)
        #expect(!second)
        #expect(afterRun)
    }

    @Test("GOAWAY carries the error's code and message and the last stream id")
    func goAway() throws {
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        var bytes = writer.goAway(WireError(.enhanceYourCalm, "calm down"), lastStreamID: 9)
        var decoder = FrameDecoder(limits: .default, expectPreface: false)
        decoder.append(bytes)
        bytes.clear()
        guard case .frame(.goAway(let goAway)) = try decoder.nextFrame() else {
            Issue.record("expected a GOAWAY frame")
            return
        }
        #expect(goAway.lastStreamID == 9)
        #expect(goAway.code == WireError(.enhanceYourCalm, "").goAwayCode)
        #expect(goAway.reason == "calm down")
    }
}
