import NIOCore
import NIOPosix
import Synchronization
import Wire

/// A test peer that speaks the wire protocol frame by frame: it can send anything (valid or not) and records
/// every frame the server sends, so tests assert exact statuses and goaways.
final class RawConnection: Sendable {
    enum Event: Sendable {
        case frame(Frame)
        case streamError(UInt32, WireError)
        case decodeError(WireError)
        case closed
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<Event>.Continuation
        private let decoder = Mutex(FrameDecoder(limits: WireLimits(maxFrameSize: 16 * 1024 * 1024, maxMessageSize: 64 * 1024 * 1024), expectPreface: true))

        init(continuation: AsyncStream<Event>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = self.unwrapInboundIn(data)
            self.decoder.withLock { decoder in
                decoder.append(bytes)
                do throws(WireError) {
                    while let decoded = try decoder.nextFrame() {
                        switch decoded {
                        case .frame(let frame): self.continuation.yield(.frame(frame))
                        case .streamError(let id, _, let error): self.continuation.yield(.streamError(id, error))
                        }
                    }
                } catch {
                    self.continuation.yield(.decodeError(error))
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.continuation.yield(.closed)
            self.continuation.finish()
        }
    }

    let channel: any Channel
    let events: AsyncStream<Event>

    private init(channel: any Channel, events: AsyncStream<Event>) {
        self.channel = channel
        self.events = events
    }

    /// Connects; sends the preface and default settings unless told not to.
    static func connect(port: Int, handshake: Bool = true) async throws -> RawConnection {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        let connection = RawConnection(channel: channel, events: events)
        if handshake {
            var buffer = ByteBuffer()
            FrameEncoder.writePreface(into: &buffer)
            FrameEncoder.write(.settings(Settings()), into: &buffer)
            try await connection.send(buffer)
        }
        return connection
    }

    func send(_ bytes: ByteBuffer) async throws {
        try await self.channel.writeAndFlush(bytes)
    }

    func send(_ frames: Frame...) async throws {
        var buffer = ByteBuffer()
        for frame in frames { FrameEncoder.write(frame, into: &buffer) }
        try await self.send(buffer)
    }

    /// The next event that is not the server's preface-time SETTINGS, or a ping ack.
    func next(skipping skip: (Frame) -> Bool = { if case .settings = $0 { return true }; return false }) async -> Event? {
        for await event in self.events {
            if case .frame(let frame) = event, skip(frame) { continue }
            return event
        }
        return nil
    }

    func close() async {
        try? await self.channel.close()
    }
}
