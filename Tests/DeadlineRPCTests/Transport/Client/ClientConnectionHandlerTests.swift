import Logging
import NIOCore
import NIOEmbedded
import Testing
import Wire

@testable import DeadlineRPC

@Suite("Client connection handler", .timeLimit(.minutes(5)))
struct ClientConnectionHandlerTests {
    /// The handler keeps its context and the context its handler; NIO does not break that cycle when the channel
    /// closes, so every closed client connection (decoder buffer, queues) stayed in memory: the kill soak's
    /// remaining RSS growth (`docs/RELIABILITY.md`).
    @Test("A closed connection's handler is freed, as soon as its channel closes")
    func closedConnectionIsFreed() throws {
        let channel = EmbeddedChannel()
        let configuration = RPCClient.Configuration()
        let manager = ClientConnectionManager(
            host: "127.0.0.1",
            port: 1,
            configuration: configuration,
            eventLoop: channel.eventLoop,
            stats: ClientStats(prefix: "test", factory: nil, logger: Logger(label: "test"))
        )
        weak var released: ClientConnectionHandler?
        do {
            let handler = ClientConnectionHandler(configuration: configuration, manager: manager)
            released = handler
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var hello = ByteBuffer()
        FrameEncoder.writePreface(into: &hello)
        FrameEncoder.write(.settings(Settings()), into: &hello)
        try channel.writeInbound(hello)
        channel.pipeline.fireChannelInactive()  // the peer went away
        _ = try channel.finish(acceptAlreadyClosed: true)
        #expect(released == nil)
    }

    // MARK: Virtual time

    /// The client's connection on an embedded channel, driven by the test: the server's frames go in by hand, and
    /// the loop's clock moves only when the test advances it.
    struct Connection {
        let channel = EmbeddedChannel()
        let manager: ClientConnectionManager
        let stats = ClientStats(prefix: "test", factory: nil, logger: Logger(label: "test"))
        /// Decodes what the client wrote (it starts with the preface, as a server sees it).
        var written = FrameDecoder(limits: .default, expectPreface: true)

        init() throws {
            let configuration = RPCClient.Configuration()
            self.manager = ClientConnectionManager(
                host: "127.0.0.1",
                port: 1,
                configuration: configuration,
                eventLoop: self.channel.eventLoop,
                stats: self.stats,
                connector: .external
            )
            let handler = ClientConnectionHandler(configuration: configuration, manager: self.manager)
            try self.channel.pipeline.syncOperations.addHandler(handler)
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// The loop's clock now, as a deadline.
        var now: Deadline { Deadline(self.channel.eventLoop.now) }

        /// The server's preface and settings: the connection becomes ready and starts the calls waiting for it.
        func serverIsReady(_ settings: Settings = Settings()) throws {
            var hello = ByteBuffer()
            FrameEncoder.writePreface(into: &hello)
            FrameEncoder.write(.settings(settings), into: &hello)
            try self.channel.writeInbound(hello)
            self.channel.embeddedEventLoop.run()
        }

        /// A server-streaming call (its outcome is readable on the call, with no task awaiting it).
        func makeCall(deadline: Deadline?) -> ClientCall {
            ClientCall(
                eventLoop: self.channel.eventLoop,
                method: "test.Test/Stream",
                kind: .serverStreaming,
                deadline: deadline,
                originalBudget: nil,
                hopCount: 0,
                metadata: Metadata(),
                encoding: .identity,
                firstRequest: ByteBuffer(string: "{}"),
                parentControl: nil,
                responses: InboundMessageQueue()
            )
        }

        /// A frame from the server.
        func serverSends(_ frame: Frame) throws {
            var bytes = ByteBuffer()
            FrameEncoder.write(frame, into: &bytes)
            try self.channel.writeInbound(bytes)
            self.channel.embeddedEventLoop.run()
        }

        /// Moves the loop's clock and runs whatever came due (no real time passes).
        func advance(by duration: Duration) {
            self.channel.embeddedEventLoop.advanceTime(by: .nanoseconds(duration.nanoseconds))
            self.channel.embeddedEventLoop.run()
        }

        /// Every frame the client has written since the last call, settings and preface aside.
        mutating func frames() throws -> [Frame] {
            while let bytes = try self.channel.readOutbound(as: ByteBuffer.self) { self.written.append(bytes) }
            var frames: [Frame] = []
            while let decoded = try self.written.nextFrame() {
                guard case .frame(let frame) = decoded else { Issue.record("unexpected \(decoded)"); continue }
                if case .settings = frame { continue }
                frames.append(frame)
            }
            return frames
        }
    }

    /// #15 item 3: the client's deadline runs on its event loop's clock, so a test moves time instead of sleeping.
    @Test("Advancing the loop's clock past a call's deadline fails it with deadlineExceeded and writes CANCEL")
    func deadlineOnVirtualTime() throws {
        var connection = try Connection()
        let call = connection.makeCall(deadline: connection.now + .milliseconds(100))
        connection.manager.start(call)
        try connection.serverIsReady()
        let started = try connection.frames()
        guard case .callStart(let start)? = started.first else {
            Issue.record("expected CALL_START, got \(started)")
            return
        }
        #expect(start.budget?.remainingMicroseconds == 100_000)

        connection.advance(by: .milliseconds(99))
        #expect(call.loop.outcome == nil)
        #expect(try connection.frames().isEmpty)

        connection.advance(by: .milliseconds(1))
        #expect(call.loop.outcomeError?.code == .deadlineExceeded)
        #expect(call.loop.outcomeError?.cancelReason == .deadlineExceeded)
        #expect(try connection.frames() == [.cancel(streamID: start.streamID, reason: .deadlineExceeded)])

        // The server's end crossed the CANCEL: a late frame, dropped and counted, the outcome unchanged.
        try connection.serverSends(.callEnd(CallEnd(streamID: start.streamID, status: .ok)))
        #expect(connection.stats.lateFramesDropped == 1)
        #expect(call.loop.outcomeError?.code == .deadlineExceeded)
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// Issue #19: a lone cancel's `CANCEL` leaves at once, before the caller is resumed (whose wake-up would
    /// otherwise delay the write) and without waiting for the end-of-tick flush; and a later cancel of the same tick
    /// waits for that flush (a burst still shares writes).
    @Test("A caller's cancel and a deadline write CANCEL before the call completes; a second cancel in the tick waits for the tick's flush")
    func cancelIsWrittenBeforeTheCallCompletes() throws {
        var connection = try Connection()
        let first = connection.makeCall(deadline: nil)
        let second = connection.makeCall(deadline: nil)
        let third = connection.makeCall(deadline: connection.now + .milliseconds(100))
        for call in [first, second, third] { connection.manager.start(call) }
        try connection.serverIsReady()
        let starts = try connection.frames().compactMap { frame -> UInt32? in
            if case .callStart(let start) = frame { return start.streamID }
            return nil
        }
        try #require(starts.count == 3)

        // What had been written when each call's outcome was delivered (onEnd runs inside the completion).
        let seen = Box()
        for call in [first, second, third] {
            call.loop.onEnd = { [channel = connection.channel] _ in
                while let bytes = try? channel.readOutbound(as: ByteBuffer.self) { seen.bytes.append(bytes) }
            }
        }
        var decoder = FrameDecoder(limits: .default, expectPreface: false)
        func writtenSoFar() throws -> [Frame] {
            for bytes in seen.bytes { decoder.append(bytes) }
            seen.bytes = []
            var frames: [Frame] = []
            while let decoded = try decoder.nextFrame() {
                if case .frame(let frame) = decoded { frames.append(frame) }
            }
            return frames
        }

        // One tick: the first cancel is written before its caller completes; the second waits for the tick's flush.
        connection.manager.cancel(first, reason: .cancelled)
        #expect(try writtenSoFar() == [.cancel(streamID: starts[0], reason: .cancelled)])
        connection.manager.cancel(second, reason: .cancelled)
        #expect(first.loop.outcomeError?.code == .cancelled)
        #expect(second.loop.outcomeError?.code == .cancelled)
        #expect(try writtenSoFar().isEmpty)
        connection.channel.embeddedEventLoop.run()  // The end of the tick.
        #expect(try connection.frames() == [.cancel(streamID: starts[1], reason: .cancelled)])

        // The deadline's CANCEL too is on the wire when the call fails.
        connection.advance(by: .milliseconds(100))
        #expect(third.loop.outcomeError?.code == .deadlineExceeded)
        #expect(try writtenSoFar() == [.cancel(streamID: starts[2], reason: .deadlineExceeded)])
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// Issue #19 goal 2: the deadlines due in one tick are all acted on before any of their `CANCEL`s is written.
    /// The server holds the same deadline and enforces it itself, so a deadline's `CANCEL` is a backstop; written at
    /// once (a loopback write that wakes the reader), it held the tick's later deadlines — other handlers'
    /// cancellation — behind it. Now the tick's `CANCEL`s share the end-of-tick write, and each call completes after
    /// that write, so the `CANCEL` is still on the wire before its caller resumes.
    @Test("The deadlines due in one tick all fail their calls before any CANCEL is written; the CANCELs share one write, before the callers resume")
    func deadlinesOfATickActBeforeTheirCancelsAreWritten() throws {
        var connection = try Connection()
        let calls = (0..<2).map { _ in connection.makeCall(deadline: connection.now + .milliseconds(100)) }
        for call in calls { connection.manager.start(call) }
        try connection.serverIsReady()
        let starts = try connection.frames().compactMap { frame -> UInt32? in
            if case .callStart(let start) = frame { return start.streamID }
            return nil
        }
        try #require(starts.count == 2)

        // At each call's completion: the writes made so far, and whether the other call had already failed.
        let writes = Box()
        let otherEnded = Box()
        for (index, call) in calls.enumerated() {
            call.loop.onEnd = { [channel = connection.channel, other = calls[1 - index]] _ in
                while let bytes = try? channel.readOutbound(as: ByteBuffer.self) { writes.bytes.append(bytes) }
                otherEnded.flags.append(other.loop.machine.isClosed)
            }
        }
        connection.advance(by: .milliseconds(100))
        #expect(calls.allSatisfy { $0.loop.outcomeError?.code == .deadlineExceeded })
        // Both machines had ended when the first completion ran, and both CANCELs were then written, in one write.
        #expect(otherEnded.flags == [true, true])
        try #require(writes.bytes.count == 1)
        var decoder = FrameDecoder(limits: .default, expectPreface: false)
        decoder.append(writes.bytes[0])
        var frames: [Frame] = []
        while let decoded = try decoder.nextFrame() {
            if case .frame(let frame) = decoded { frames.append(frame) }
        }
        #expect(frames == starts.map { .cancel(streamID: $0, reason: .deadlineExceeded) })
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// Issue #19 goal 2: when a handler's deadline passes, its server cancels the handler task, and inside
    /// `Task.cancel()` the handler's outbound call is cancelled first (the RPC's cancellation handler is the
    /// innermost), with the deadline's cause. That cancel returns without writing and without resuming anyone, so
    /// the handler's own cancellation handlers — and the tick's other due deadlines — run before the write; a
    /// caller's cancel is still written at once (the server has no other way to learn of it).
    @Test("A served call's deadline cancels its outbound call without a write or a resume until the end of the tick; a caller's cancel writes at once")
    func servedCallsDeadlineCancelWaitsForTheTicksEnd() throws {
        var connection = try Connection()
        let outbound = connection.makeCall(deadline: nil)
        let other = connection.makeCall(deadline: nil)
        for call in [outbound, other] { connection.manager.start(call) }
        try connection.serverIsReady()
        let starts = try connection.frames().compactMap { frame -> UInt32? in
            if case .callStart(let start) = frame { return start.streamID }
            return nil
        }
        try #require(starts.count == 2)
        let seen = Box()
        outbound.loop.onEnd = { [channel = connection.channel] _ in
            while let bytes = try? channel.readOutbound(as: ByteBuffer.self) { seen.bytes.append(bytes) }
        }

        // As the served handler's Task.cancel() runs it: the call has ended, nothing is written, no one resumed.
        connection.manager.cancel(outbound, reason: .deadlineExceeded, origin: .servedCall)
        #expect(outbound.loop.machine.isClosed)
        #expect(outbound.loop.outcome == nil)
        #expect(try connection.frames().isEmpty)
        // Until then a request written on the call is refused with the deadline, not "not connected".
        #expect(outbound.loop.connection == nil)
        #expect(outbound.loop.outcomeError?.cancelReason == .deadlineExceeded)
        // The end of the tick: the CANCEL is written, then the call completes with the deadline's cause.
        connection.channel.embeddedEventLoop.run()
        #expect(outbound.loop.outcomeError?.code == .deadlineExceeded)
        #expect(outbound.loop.outcomeError?.cancelReason == .deadlineExceeded)
        var decoder = FrameDecoder(limits: .default, expectPreface: false)
        for bytes in seen.bytes { decoder.append(bytes) }
        var writtenAtCompletion: [Frame] = []
        while let decoded = try decoder.nextFrame() {
            if case .frame(let frame) = decoded { writtenAtCompletion.append(frame) }
        }
        #expect(writtenAtCompletion == [.cancel(streamID: starts[0], reason: .deadlineExceeded)])

        // A caller's cancel in a fresh tick: on the wire before the cancel returns.
        connection.manager.cancel(other, reason: .cancelled)
        #expect(try connection.frames() == [.cancel(streamID: starts[1], reason: .cancelled)])
        #expect(other.loop.outcomeError?.code == .cancelled)
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// The `CANCEL` of a call whose deadline fired is written at once; a write that fails at once closes the
    /// connection and ends the other calls on it, including one due in the same batch of deadlines: that one is
    /// skipped, not failed a second time (which trapped: "a deadline fired for a call that was not waiting or open").
    @Test("A CANCEL write that closes the connection ends the other calls due in the same deadline batch once")
    func cancelWriteThatClosesTheConnection() throws {
        let channel = EmbeddedChannel()
        let stats = ClientStats(prefix: "test", factory: nil, logger: Logger(label: "test"))
        let configuration = RPCClient.Configuration()
        let manager = ClientConnectionManager(
            host: "127.0.0.1", port: 1, configuration: configuration, eventLoop: channel.eventLoop, stats: stats, connector: .external
        )
        let closer = CloseOnWrite()
        try channel.pipeline.syncOperations.addHandler(closer)
        try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(configuration: configuration, manager: manager))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let deadline = Deadline(channel.eventLoop.now) + .milliseconds(100)
        let calls = (0..<2).map { _ in
            ClientCall(
                eventLoop: channel.eventLoop, method: "test.Test/Stream", kind: .serverStreaming, deadline: deadline,
                originalBudget: nil, hopCount: 0, metadata: Metadata(), encoding: .identity, firstRequest: ByteBuffer(string: "{}"),
                parentControl: nil, responses: InboundMessageQueue()
            )
        }
        for call in calls { manager.start(call) }
        var hello = ByteBuffer()
        FrameEncoder.writePreface(into: &hello)
        FrameEncoder.write(.settings(Settings()), into: &hello)
        try channel.writeInbound(hello)
        channel.embeddedEventLoop.run()
        #expect(calls.allSatisfy { $0.loop.machine.isOnStream })

        closer.armed = true  // The next write (the first CANCEL) fails and closes the connection at once.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        channel.embeddedEventLoop.run()
        #expect(closer.closedOnWrite)
        #expect(calls[0].loop.outcomeError?.code == .deadlineExceeded)
        #expect(calls[1].loop.outcome != nil)  // Ended once, by the connection's loss or its deadline.
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    /// Fails and closes on the first write once armed, as a socket whose peer is gone does.
    final class CloseOnWrite: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var armed = false
        var closedOnWrite = false

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard self.armed, !self.closedOnWrite else {
                context.write(data, promise: promise)
                return
            }
            self.closedOnWrite = true
            promise?.fail(ChannelError.ioOnClosedChannel)
            context.close(promise: nil)
        }
    }

    /// Bytes a test captured on the (embedded) loop.
    final class Box {
        var bytes: [ByteBuffer] = []
        var flags: [Bool] = []
    }

    /// The caller's cancel and the start reach the loop by different hops; a cancel that comes first is kept by the
    /// call's machine and ends the call when the manager takes it.
    @Test("A cancel that overtakes the start ends the call when the manager takes it, and nothing is sent")
    func cancelBeforeStart() throws {
        var connection = try Connection()
        let call = connection.makeCall(deadline: connection.now + .milliseconds(100))
        connection.manager.cancel(call, reason: .cancelled)
        #expect(call.loop.outcome == nil)
        connection.manager.start(call)
        #expect(call.loop.outcomeError?.code == .cancelled)
        #expect(call.loop.outcomeError?.message == "The call was cancelled before it was sent.")
        connection.advance(by: .milliseconds(100))  // Its deadline was never queued: nothing fires.
        #expect(try connection.frames().isEmpty)
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// The budget on the wire is what is left when `CALL_START` is written, on the loop's clock: the time a call
    /// waited for its connection is spent.
    @Test("The budget sent counts the time the call waited for its connection, on the loop's clock")
    func budgetCountsTheWait() throws {
        var connection = try Connection()
        let call = connection.makeCall(deadline: connection.now + .milliseconds(100))
        connection.manager.start(call)
        connection.advance(by: .milliseconds(30))
        #expect(call.loop.outcome == nil)
        try connection.serverIsReady()
        guard case .callStart(let start)? = try connection.frames().first else {
            Issue.record("expected CALL_START")
            return
        }
        #expect(start.budget?.remainingMicroseconds == 70_000)
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// A call whose deadline passes while it waits for its connection fails without a stream, on the loop's clock.
    @Test("A deadline that passes before the connection is ready fails the call, and nothing is sent")
    func deadlineWhileConnecting() throws {
        var connection = try Connection()
        let call = connection.makeCall(deadline: connection.now + .milliseconds(10))
        connection.manager.start(call)
        connection.advance(by: .milliseconds(10))
        #expect(call.loop.outcomeError?.code == .deadlineExceeded)
        try connection.serverIsReady()
        #expect(try connection.frames().isEmpty)
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// The manager owns the in-flight count and the deadlines: a call that ends frees its stream for a call waiting
    /// at the server's stream limit, and a waiting call whose deadline passes leaves the queue with nothing sent.
    @Test("At the stream limit calls wait; an ended call frees its stream for the next; one waiting past its deadline fails unsent")
    func streamLimitAndDeadlines() throws {
        var connection = try Connection()
        let first = connection.makeCall(deadline: connection.now + .seconds(10))
        let second = connection.makeCall(deadline: connection.now + .seconds(10))
        let third = connection.makeCall(deadline: connection.now + .milliseconds(50))
        connection.manager.start(first)  // Connects; the connection is ready with the server's settings.
        try connection.serverIsReady(Settings(maxConcurrentStreams: 1))
        connection.manager.start(second)
        connection.manager.start(third)
        guard case .callStart(let start)? = try connection.frames().first else {
            Issue.record("expected the first call's CALL_START")
            return
        }
        #expect(first.loop.machine.state == .halfClosed)
        #expect(second.loop.machine.state == .queued)

        connection.advance(by: .milliseconds(50))  // The third's deadline passes while it waits for a stream.
        #expect(third.loop.outcomeError?.code == .deadlineExceeded)
        #expect(third.loop.outcomeError?.message == "The call's deadline passed while it waited to be sent; nothing was sent.")
        #expect(try connection.frames().isEmpty)

        try connection.serverSends(.callEnd(CallEnd(streamID: start.streamID, status: .notFound, message: "No.")))
        #expect(first.loop.outcomeError?.code == .notFound)
        #expect(second.loop.machine.state == .halfClosed)  // Took the freed stream.
        let next = try connection.frames()
        guard case .callStart(let secondStart)? = next.first else {
            Issue.record("expected the second call's CALL_START, got \(next)")
            return
        }
        #expect(secondStart.streamID == start.streamID + 2)
        #expect(secondStart.budget?.remainingMicroseconds == 9_950_000)  // 50 ms of its budget spent waiting.
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
        #expect(second.loop.outcomeError?.code == .unavailable)  // The connection closed under it.
    }
}
