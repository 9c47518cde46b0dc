import NIOCore
import Testing
import Wire

@testable import DeadlineRPC

/// The shared frame reader's role-checked "stream never opened" rule and settings, without a channel.
@Suite("FrameReader")
struct FrameReaderTests {
    @Test("Server: ids up to the last accepted one were opened (late frames); above it, never opened")
    func serverRule() {
        let reader = FrameReader(role: .server, limits: .default)
        #expect(reader.neverOpened(.cancel, streamID: 5, mark: 5) == nil)
        #expect(reader.neverOpened(.cancel, streamID: 1, mark: 5) == nil)
        let error = reader.neverOpened(.halfClose, streamID: 7, mark: 5)
        #expect(error?.code == .protocolViolation)
        #expect(error?.message == "A HALF_CLOSE frame arrived for stream 7, which was never opened.")
    }

    @Test("Client: ids below its next stream id were opened; from it on, never opened")
    func clientRule() {
        let reader = FrameReader(role: .client, limits: .default)
        #expect(reader.neverOpened(.callEnd, streamID: 5, mark: 7) == nil)
        #expect(reader.neverOpened(.callEnd, streamID: 7, mark: 7)?.code == .protocolViolation)
    }

    @Test("The peer's settings are kept and reach the writer")
    func settings() {
        var reader = FrameReader(role: .server, limits: .default)
        var writer = ConnectionWriter(allocator: ByteBufferAllocator())
        var settings = Settings.default
        settings.maxFrameSize = 32 * 1024
        settings.initialStreamCredit = 1000
        reader.settingsReceived(settings, writer: &writer)
        #expect(reader.peerSettings == settings)
        #expect(writer.scheduler.maxFrameSize == 32 * 1024)
        #expect(writer.scheduler.initialCredit == 1000)
    }
}
