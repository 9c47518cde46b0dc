import DeadlineRPC
import NIOCore
import Synchronization
import Testing
import Wire

/// Methods and probes of the issue-14 cases: replies stuck behind flow control, and the client's `GOAWAY`.
struct WireEndProbe: Sendable {
    /// The server under test.
    let server: RPCServer
    /// Its port on 127.0.0.1.
    let port: Int
    /// Handlers of the hostile router running now.
    let gauge: HandlerGauge
    /// Cancel reasons the `Cancellable` handlers recorded when they saw cancellation, in order.
    let causes: CauseLog
    /// `failAfterWrite`'s write returned (its message is queued or written).
    let wrote: Signal
    /// Lets `failAfterWrite` throw: the test decides when, so what is on the wire by then is not a race.
    let proceed: Signal

    /// Unary: answers every request with ``bigReplySize`` bytes.
    static let big = Method<ByteBuffer, ByteBuffer>.raw("test.Issue14/Big", kind: .unary)
    /// Server streaming: writes one message of ``bigReplySize`` bytes, then (once ``proceed`` fires) fails with
    /// `ABORTED`.
    static let failAfterWrite = Method<ByteBuffer, ByteBuffer>.raw("test.Issue14/FailAfterWrite", kind: .serverStreaming)
    /// Server streaming: writes one message of ``bigReplySize`` bytes, then runs until cancelled.
    static let writeThenHold = Method<ByteBuffer, ByteBuffer>.raw("test.Issue14/WriteThenHold", kind: .serverStreaming)
    /// Client streaming: runs until cancelled, then records the call's cancel reason in ``causes``.
    static let cancellable = Method<ByteBuffer, ByteBuffer>.raw("test.Issue14/Cancellable", kind: .clientStreaming)
    /// The reply size of the issue's example: far above 0 or 1,024 bytes of credit.
    static let bigReplySize = 60_000
    /// The status message `failAfterWrite` ends with.
    static let failureMessage = "The handler failed after writing a message."

    /// Connects a raw client granting `credit` bytes per stream.
    func connect(credit: UInt32 = 64 * 1024) async throws -> RawConnection {
        try await RawConnection.connect(port: self.port, settings: Settings(initialStreamCredit: credit))
    }

    /// Runs `body` against a server serving the hostile router plus these methods; shuts it down afterwards.
    static func run(
        configuration: RPCServer.Configuration = RPCServer.Configuration(),
        _ body: @Sendable (WireEndProbe) async throws -> Void
    ) async throws {
        let gauge = HandlerGauge()
        let causes = CauseLog()
        let wrote = Signal()
        let proceed = Signal()
        var router = HostileServer.router(gauge: gauge)
        router.unary(Self.big) { _, _ in ByteBuffer(repeating: 0x61, count: Self.bigReplySize) }
        router.serverStreaming(Self.failAfterWrite) { _, writer, _ in
            try await writer.write(ByteBuffer(repeating: 0x62, count: Self.bigReplySize))
            wrote.fire()
            await proceed.wait()
            throw RPCError(code: .aborted, message: Self.failureMessage)
        }
        router.serverStreaming(Self.writeThenHold) { _, writer, _ in
            gauge.enter()
            defer { gauge.leave() }
            try await writer.write(ByteBuffer(repeating: 0x63, count: Self.bigReplySize))
            try await untilCancelled()
        }
        router.clientStreaming(Self.cancellable) { _, context in
            gauge.enter()
            defer { gauge.leave() }
            do {
                try await untilCancelled()
            } catch {
                causes.record(context.cancelReason)
                throw error
            }
            return ByteBuffer()
        }
        var configuration = configuration
        if configuration.drainTimeout == .seconds(30) { configuration.drainTimeout = .seconds(5) }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            do {
                try await body(WireEndProbe(server: server, port: port, gauge: gauge, causes: causes, wrote: wrote, proceed: proceed))
            } catch {
                server.beginGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }
}

/// Cancel reasons handlers saw when cancellation reached them.
final class CauseLog: Sendable {
    private let state = Mutex<[CancelReason?]>([])

    init() {}

    /// A handler saw cancellation; `reason` is what its context recorded.
    func record(_ reason: CancelReason?) { self.state.withLock { $0.append(reason) } }

    /// The reasons recorded so far.
    var reasons: [CancelReason?] { self.state.withLock { $0 } }
}

extension RawConnection {
    /// Reads until the stream's end (`CALL_END` or `CANCEL`) and returns every frame seen for that stream, in order.
    func framesUntilEnd(of streamID: UInt32, timeout: Duration = .seconds(30)) async -> (frames: [Frame], ended: Bool) {
        let (events, matched) = await self.collect(timeout: timeout) { event in
            switch event {
            case .frame(.callEnd(let end)): return end.streamID == streamID
            case .frame(.cancel(let id, _)): return id == streamID
            default: return false
            }
        }
        var frames: [Frame] = []
        for case .frame(let frame) in events where frame.streamID == streamID { frames.append(frame) }
        return (frames, matched)
    }
}

extension RawConnection {
    /// Runs an echo call on `streamID`, granting it credit for its reply (this connection's initial credit may be
    /// 0), and expects `OK`: proof the connection survived.
    func expectEchoWorksGranting(streamID: UInt32, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var bytes = RawFrames.unaryCall(streamID: streamID, method: TestMethods.echo.name, body: echoBytes("alive"))
        var credit = RawFrames.encode([.credit(streamID: streamID, bytes: 1024)])
        bytes.writeBuffer(&credit)
        try await self.send(bytes)
        let end = await self.awaitCallEnd(streamID)
        #expect(end?.status == .ok, "the connection should survive; got \(String(describing: end))", sourceLocation: sourceLocation)
    }
}

extension HostileTests {
    /// Issue #14 point 5 (PROTOCOL.md §10.3): an error end is never stuck behind flow control.
    @Suite("§10.3 An error end is never stuck behind flow control")
    struct ErrorEndFlowControlTests {
        @Test("A unary reply waiting for credit when the deadline passes: CALL_END(DEADLINE_EXCEEDED) at once with credit 0, CANCEL(deadline exceeded) after a written fragment with credit 1,024")
        func deadlineWhileReplyWaitsForCredit() async throws {
            try await WireEndProbe.run { probe in
                for credit: UInt32 in [0, 1024] {
                    let raw = try await probe.connect(credit: credit)
                    let before = probe.server.stats
                    try await raw.send(RawFrames.unaryCall(streamID: 1, method: WireEndProbe.big.name, body: [1], timeout: .milliseconds(300)))
                    let (frames, ended) = await raw.framesUntilEnd(of: 1)
                    #expect(ended, "credit \(credit): the call never ended on the wire")
                    if credit == 0 {
                        #expect(frames == [.callEnd(CallEnd(streamID: 1, status: .deadlineExceeded, message: "The call's deadline passed on the server while its reply waited for credit; the reply was dropped."))])
                    } else {
                        // 1,024 bytes of the message are on the wire: a CALL_END now would break framing (§9.2).
                        #expect(frames.count == 2)
                        if case .message(let first)? = frames.first {
                            #expect(first.messageLength == UInt32(WireEndProbe.bigReplySize))
                            #expect(first.data.readableBytes == 1024)
                            #expect(first.more)
                        } else {
                            Issue.record("credit 1024: expected the first 1,024 bytes, got \(frames)")
                        }
                        #expect(frames.last == .cancel(streamID: 1, reason: .deadlineExceeded))
                    }
                    // Recorded once, when it ended on the wire.
                    await probe.server.stats(until: { $0.callsFinished == before.callsFinished + 1 })
                    #expect(probe.server.stats.callsStarted == before.callsStarted + 1)
                    // The connection lives on, and the stream is gone: credit for it now is dropped quietly.
                    let late = probe.server.stats.lateFramesDropped
                    try await raw.send(.credit(streamID: 1, bytes: 100_000))
                    try await raw.expectEchoWorksGranting(streamID: 3)
                    #expect(probe.server.stats.lateFramesDropped == late + 1)
                    await raw.close()
                }
            }
        }

        @Test("A handler's error after it wrote a message that waits for credit: the message is dropped, CALL_END(status) at once (CANCEL after a written fragment)")
        func handlerErrorBehindCredit() async throws {
            for credit: UInt32 in [0, 1024] {
                try await WireEndProbe.run { probe in
                    let raw = try await probe.connect(credit: credit)
                    try await raw.send(RawFrames.unaryCall(streamID: 1, method: WireEndProbe.failAfterWrite.name, body: [1]))
                    var frames: [Frame] = []
                    if credit == 0 {
                        await probe.wrote.wait()  // The message is queued, waiting for credit.
                    } else {
                        // The first 1,024 bytes are on the wire.
                        let (events, _) = await raw.collect { if case .frame(.message) = $0 { return true }; return false }
                        for case .frame(let frame) in events where frame.streamID == 1 { frames.append(frame) }
                    }
                    probe.proceed.fire()
                    let (rest, ended) = await raw.framesUntilEnd(of: 1)
                    frames += rest
                    #expect(ended, "credit \(credit): the call never ended on the wire")
                    if credit == 0 {
                        #expect(frames == [.callEnd(CallEnd(streamID: 1, status: .aborted, message: WireEndProbe.failureMessage))])
                    } else {
                        #expect(frames.count == 2)
                        if case .message(let first)? = frames.first {
                            #expect(first.data.readableBytes == 1024)
                        } else {
                            Issue.record("credit 1024: expected the first 1,024 bytes, got \(frames)")
                        }
                        #expect(frames.last == .cancel(streamID: 1, reason: .streamError))
                    }
                    try await raw.expectEchoWorksGranting(streamID: 3)
                    await raw.close()
                }
            }
        }

        @Test("The deadline of a running streaming handler whose message waits for credit: CALL_END(DEADLINE_EXCEEDED) at once, handler cancelled")
        func deadlineWithRunningHandler() async throws {
            try await WireEndProbe.run { probe in
                let raw = try await probe.connect(credit: 0)
                try await raw.send(RawFrames.unaryCall(streamID: 1, method: WireEndProbe.writeThenHold.name, body: [1], timeout: .milliseconds(300)))
                let (frames, ended) = await raw.framesUntilEnd(of: 1)
                #expect(ended)
                #expect(frames == [.callEnd(CallEnd(streamID: 1, status: .deadlineExceeded, message: "The call's deadline passed on the server."))])
                await probe.gauge.waitUntil(running: 0)
                try await raw.expectEchoWorksGranting(streamID: 3)
                await raw.close()
            }
        }

        @Test("The drain timeout with a message waiting for credit: CALL_END(UNAVAILABLE) at once, handler cancelled")
        func drainTimeoutBehindCredit() async throws {
            var configuration = RPCServer.Configuration()
            configuration.drainTimeout = .milliseconds(300)
            try await WireEndProbe.run(configuration: configuration) { probe in
                let raw = try await probe.connect(credit: 0)
                try await raw.send(RawFrames.unaryCall(streamID: 1, method: WireEndProbe.writeThenHold.name, body: [1]))
                await probe.gauge.waitUntil(running: 1)
                probe.server.beginGracefulShutdown()
                let (frames, ended) = await raw.framesUntilEnd(of: 1)
                #expect(ended)
                #expect(frames == [.callEnd(CallEnd(streamID: 1, status: .unavailable, message: "The server shut down before the call finished."))])
                await probe.gauge.waitUntil(running: 0)
                await raw.close()
            }
        }
    }

    /// Issue #14 point 6 (PROTOCOL.md §14.2): a client's `GOAWAY` is honoured.
    @Suite("§14.2 A client's GOAWAY is honoured")
    struct ClientGoAwayTests {
        @Test("After a client's GOAWAY(NO_ERROR) no call starts (CALL_END(UNAVAILABLE), counted as refused); open calls run on")
        func noErrorGoAway() async throws {
            try await WireEndProbe.run { probe in
                let raw = try await probe.connect()
                try await raw.send(.callStart(CallStart(streamID: 1, method: WireEndProbe.cancellable.name)))
                await probe.gauge.waitUntil(running: 1)
                let before = probe.server.stats
                try await raw.send(
                    .goAway(GoAway(lastStreamID: 0, code: .noError, reason: "client done")),
                    .callStart(CallStart(streamID: 3, method: HostileServer.Methods.hold.name))
                )
                let refused = await raw.awaitCallEnd(3)
                #expect(refused == CallEnd(streamID: 3, status: .unavailable, message: "The client sent GOAWAY; no new call starts on this connection."))
                #expect(probe.server.stats.refusedCalls == before.refusedCalls + 1)
                #expect(probe.server.stats.callsStarted == before.callsStarted)
                // The open call was not touched: its handler still runs, and a cancel still reaches it.
                #expect(probe.gauge.running == 1)
                #expect(probe.causes.reasons.isEmpty)
                try await raw.send(.cancel(streamID: 1, reason: .cancelled))
                await probe.gauge.waitUntil(running: 0)
                #expect(probe.causes.reasons == [.cancelled])
                await raw.close()
            }
        }

        @Test("A client's error GOAWAY ends every open call as on connection loss: handlers cancelled (reason cancelled), connection closed")
        func errorGoAway() async throws {
            try await WireEndProbe.run { probe in
                let raw = try await probe.connect()
                try await raw.send(
                    .callStart(CallStart(streamID: 1, method: WireEndProbe.cancellable.name)),
                    .callStart(CallStart(streamID: 3, method: WireEndProbe.cancellable.name))
                )
                await probe.gauge.waitUntil(running: 2)
                let before = probe.server.stats
                try await raw.send(.goAway(GoAway(lastStreamID: 0, code: .internalError, reason: "client failed")))
                // The server writes nothing more (no GOAWAY, no CALL_END: the client already treats its calls as lost).
                let (goAway, ends, closed) = await raw.awaitClose()
                #expect(closed, "the server kept the connection open after the client's error GOAWAY")
                #expect(goAway == nil)
                #expect(ends.isEmpty)
                await probe.gauge.waitUntil(running: 0)
                #expect(probe.causes.reasons == [.cancelled, .cancelled])
                await probe.server.stats(until: { $0.callsFinished == before.callsFinished + 2 })
                await probe.server.stats(until: { $0.handlersInFlight == 0 })
            }
        }
    }
}
