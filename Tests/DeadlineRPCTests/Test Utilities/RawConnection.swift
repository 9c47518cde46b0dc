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

    /// Decodes what the peer sends into ``Event``s (also the inbound side of the client tests' `RawServer`).
    final class Collector: ChannelInboundHandler, Sendable {
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

    /// Connects; sends the preface and `settings` (the defaults unless given) unless told not to. A hostile peer
    /// that never reads passes `autoRead: false` (and a small `receiveBufferSize`, so the server's writes back up
    /// quickly); one that never grants credit passes settings with a small `initialStreamCredit`.
    static func connect(
        port: Int,
        handshake: Bool = true,
        settings: Settings = Settings(),
        autoRead: Bool = true,
        receiveBufferSize: Int? = nil
    ) async throws -> RawConnection {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: .init(receiveBufferSize))
        }
        let channel = try await bootstrap
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
            FrameEncoder.write(.settings(settings), into: &buffer)
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

    /// Starts reading again after connecting with `autoRead: false`.
    func startReading() {
        self.channel.setOption(.autoRead, value: true).whenComplete { _ in self.channel.read() }
    }

    /// Collects events until `stop` matches one (included) or the connection closes; `timeout` only turns a
    /// would-be hang into a failure (`matched` false), it is not a timing assertion.
    func collect(
        timeout: Duration = .seconds(30),
        until stop: @escaping @Sendable (Event) -> Bool
    ) async -> (events: [Event], matched: Bool) {
        await self.events.collect(timeout: timeout, until: stop)
    }

    /// Reads until the connection closes: the goaway the server sent (if any), the call ends, and whether the
    /// close happened within `timeout`.
    func awaitClose(timeout: Duration = .seconds(30)) async -> (goAway: GoAway?, callEnds: [CallEnd], closed: Bool) {
        let (events, closed) = await self.collect(timeout: timeout) { if case .closed = $0 { return true }; return false }
        var goAway: GoAway? = nil
        var ends: [CallEnd] = []
        for event in events {
            switch event {
            case .frame(.goAway(let frame)): goAway = goAway ?? frame
            case .frame(.callEnd(let end)): ends.append(end)
            default: break
            }
        }
        return (goAway, ends, closed)
    }

    /// Reads until the call end for `streamID` arrives (nil if the connection closed or `timeout` passed first).
    func awaitCallEnd(_ streamID: UInt32, timeout: Duration = .seconds(30)) async -> CallEnd? {
        let (events, matched) = await self.collect(timeout: timeout) { event in
            if case .frame(.callEnd(let end)) = event, end.streamID == streamID { return true }
            return false
        }
        guard matched, case .frame(.callEnd(let end))? = events.last else { return nil }
        return end
    }
}

extension AsyncStream<RawConnection.Event> {
    /// Collects events until `stop` matches one (included) or the stream ends; `timeout` only turns a would-be hang
    /// into a failure (`matched` false), it is not a timing assertion.
    func collect(
        timeout: Duration,
        until stop: @escaping @Sendable (RawConnection.Event) -> Bool
    ) async -> (events: [RawConnection.Event], matched: Bool) {
        await withTaskGroup(of: ([RawConnection.Event], Bool)?.self) { group in
            group.addTask {
                var seen: [RawConnection.Event] = []
                for await event in self {
                    seen.append(event)
                    if stop(event) { return (seen, true) }
                }
                return (seen, false)
            }
            group.addTask {
                try? await Task.sleep(for: timeout)  // The timeout, not an ordering: the task above ends at its event.
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? ([], false)
        }
    }
}
