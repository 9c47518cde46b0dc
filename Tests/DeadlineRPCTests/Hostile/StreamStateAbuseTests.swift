import DeadlineRPC
import NIOCore
import Testing
import Wire

extension HostileTests {
    /// HOSTILE.md C: the stream state machine.
    @Suite("C. Stream state machine")
    struct StreamStateAbuseTests {
        /// Frames that break a stream-state rule, sent after an optional prelude.
        struct BadSequence: Sendable, CustomTestStringConvertible {
            let name: String
            let prelude: ByteBuffer
            let bytes: ByteBuffer
            var testDescription: String { self.name }
        }

        static let neverOpened: [BadSequence] = [
            BadSequence(name: "MESSAGE on never-opened stream 7", prelude: ByteBuffer(), bytes: RawFrames.encode([.message(.whole(streamID: 7, ByteBuffer(bytes: [1])))])),
            BadSequence(name: "HALF_CLOSE on never-opened stream 7", prelude: ByteBuffer(), bytes: RawFrames.encode([.halfClose(streamID: 7)])),
            BadSequence(name: "CREDIT on never-opened stream 7", prelude: ByteBuffer(), bytes: RawFrames.encode([.credit(streamID: 7, bytes: 100)])),
            BadSequence(name: "MESSAGE_CONTINUATION with no message", prelude: RawFrames.encode([.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name))]), bytes: RawFrames.frame(type: FrameType.messageContinuation.rawValue, streamID: 1, payload: [1, 2])),
        ]

        @Test("C9: message, end or credit for a stream never opened → GOAWAY(PROTOCOL_ERROR)", arguments: Self.neverOpened)
        func neverOpenedStream(_ sequence: BadSequence) async throws {
            try await self.expectProtocolError("C9", sequence)
        }

        static let badStreamIDs: [BadSequence] = [
            BadSequence(name: "CALL_START 3 after 5", prelude: RawFrames.unaryCall(streamID: 5, method: TestMethods.echo.name, body: echoBytes()), bytes: RawFrames.unaryCall(streamID: 3, method: TestMethods.echo.name, body: echoBytes())),
            BadSequence(name: "CALL_START 5 after 5 (ended)", prelude: RawFrames.unaryCall(streamID: 5, method: TestMethods.echo.name, body: echoBytes()), bytes: RawFrames.unaryCall(streamID: 5, method: TestMethods.echo.name, body: echoBytes())),
            BadSequence(name: "even CALL_START 2", prelude: ByteBuffer(), bytes: RawFrames.unaryCall(streamID: 2, method: TestMethods.echo.name, body: echoBytes())),
        ]

        @Test("C10: CALL_START with an id ≤ the last one, or an even id → GOAWAY(PROTOCOL_ERROR)", arguments: Self.badStreamIDs)
        func badStreamID(_ sequence: BadSequence) async throws {
            try await self.expectProtocolError("C10", sequence)
        }

        @Test("C11: a second CALL_START on an open stream → GOAWAY(PROTOCOL_ERROR)")
        func secondCallStart() async throws {
            try await self.expectProtocolError(
                "C11",
                BadSequence(
                    name: "CALL_START 1 twice",
                    prelude: RawFrames.encode([.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name))]),
                    bytes: RawFrames.encode([.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name))])
                )
            )
        }

        @Test("C13: role violation — a client sends CALL_END → GOAWAY(PROTOCOL_ERROR)")
        func clientSendsCallEnd() async throws {
            try await self.expectProtocolError(
                "C13",
                BadSequence(
                    name: "CALL_END from the client",
                    prelude: RawFrames.encode([.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name))]),
                    bytes: RawFrames.encode([.callEnd(CallEnd(streamID: 1, status: .ok))])
                )
            )
        }

        /// Sends the prelude (expected fine), then the bad bytes, and expects `GOAWAY(PROTOCOL_ERROR)`.
        private func expectProtocolError(_ id: String, _ sequence: BadSequence) async throws {
            try await hostileCase(id) { target in
                let raw = try await target.connect()
                if sequence.prelude.readableBytes > 0 { try await raw.send(sequence.prelude) }
                let start = ContinuousClock.now
                try await raw.send(sequence.bytes)
                let result = await raw.expectGoAway(.protocolError, since: start)
                await target.gauge.waitUntil(running: 0)
                return HostileOutcome(outcome: "GOAWAY(PROTOCOL_ERROR) for \(sequence.name): \(result.goAway?.reason ?? "-")", boundary: "the first such frame", detection: result.detection)
            }
        }

        @Test("C12: a message after the client's end of stream → only that call fails (INTERNAL), handler cancelled; counted as a glitch")
        func messageAfterEndOfStream() async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.glitchBudget = 1
            configuration.connectionLimits.glitchRefillPerSecond = 0
            try await hostileCase("C12", configuration: configuration) { target in
                let raw = try await target.connect()
                try await raw.send(
                    .callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name)),
                    .message(.whole(streamID: 1, ByteBuffer(bytes: echoBytes()), endStream: true))
                )
                await target.gauge.waitUntil(running: 1)
                let start = ContinuousClock.now
                try await raw.send(.message(.whole(streamID: 1, ByteBuffer(bytes: echoBytes()), endStream: false)))
                let end = await raw.awaitCallEnd(1)
                let detection = ContinuousClock.now - start
                #expect(end?.status == .internal)
                await target.gauge.waitUntil(running: 0)
                try await raw.expectEchoWorks(streamID: 3)
                // It was counted: with a budget of 1, the next such error ends the connection.
                try await raw.send(
                    .callStart(CallStart(streamID: 5, method: HostileServer.Methods.hold.name)),
                    .message(.whole(streamID: 5, ByteBuffer(bytes: echoBytes()), endStream: true)),
                    .message(.whole(streamID: 5, ByteBuffer(bytes: echoBytes()), endStream: true))
                )
                await raw.expectGoAway(.enhanceYourCalm, since: start)
                return HostileOutcome(
                    outcome: "CALL_END(INTERNAL) for that call only, handler cancelled, connection survives; counted (glitch)",
                    boundary: "the first message after END_STREAM",
                    detection: detection
                )
            }
        }

        @Test("C14: after GOAWAY, calls above the last id are refused UNAVAILABLE (retryable); calls below it complete")
        func callsAfterGoAway() async throws {
            try await hostileCase("C14", wellBehavedTraffic: false) { target in
                let raw = try await target.connect()
                // Stream 1 holds until cancelled; stream 3 is an echo we complete after the goaway.
                try await raw.send(.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name)))
                await target.gauge.waitUntil(running: 1)
                target.server.beginGracefulShutdown()
                let goAway = await raw.collect { if case .frame(.goAway) = $0 { return true }; return false }
                guard case .frame(.goAway(let frame))? = goAway.events.last else {
                    Issue.record("no GOAWAY on graceful shutdown")
                    return HostileOutcome(outcome: "-", boundary: "-", detection: nil)
                }
                #expect(frame.code == .noError)
                #expect(frame.lastStreamID == 1)
                let start = ContinuousClock.now
                try await raw.send(RawFrames.unaryCall(streamID: 3, method: TestMethods.echo.name, body: echoBytes()))
                let refused = await raw.awaitCallEnd(3)
                let detection = ContinuousClock.now - start
                #expect(refused?.status == .unavailable)
                // Stream 1 (≤ last id) still runs and ends normally when its client half-closes... it holds, so
                // the client cancels it; the connection then drains and closes.
                #expect(target.gauge.running == 1)
                try await raw.send(.cancel(streamID: 1, reason: .cancelled))
                let (_, _, closed) = await raw.awaitClose()
                #expect(closed)
                return HostileOutcome(outcome: "stream 3 > last id 1: CALL_END(UNAVAILABLE); stream 1 kept running until its own end", boundary: "last stream id 1", detection: detection)
            }
        }
    }
}
