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
            writer.enqueueMessage(
                streamID: 1,
                Self.message(bytes),
                encoding: encoding,
                peer: settings,
                compressor: compressor,
                allocator: ByteBufferAllocator(),
                endStream: false
            )
            return Self.written(&writer)
        }
        let threshold = ConnectionWriter.compressionThreshold
        #expect(size(threshold, .gzip) < size(threshold, .identity))
        #expect(size(threshold - 1, .gzip) == size(threshold - 1, .identity))
    }

    @Test("A streaming writer waits once its stream queues more than the watermark")
    func watermark() {
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        writer.scheduler.openStream(1)
        writer.scheduler.writable = false
        let compressor = MessageCompressor()
        writer.enqueueMessage(
            streamID: 1,
            Self.message(ConnectionWriter.writerWatermark),
            encoding: .identity,
            peer: .default,
            compressor: compressor,
            allocator: ByteBufferAllocator(),
            endStream: false
        )
        #expect(!writer.writerMustWait(1))
        writer.enqueueMessage(
            streamID: 1,
            Self.message(1),
            encoding: .identity,
            peer: .default,
            compressor: compressor,
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
