import DeadlineRPC
import NIOCore
import Testing
import Wire

extension HostileTests {
    /// HOSTILE.md B: framing.
    @Suite("B. Framing")
    struct FramingAbuseTests {
        /// Raw bytes that break a framing rule, and the goaway they earn.
        struct BadFrame: Sendable, CustomTestStringConvertible {
            let name: String
            let bytes: ByteBuffer
            let code: GoAwayCode
            var testDescription: String { self.name }
        }

        @Test(
            "B4: a length over the max frame size is refused from the 10-byte header alone (nothing buffered)",
            arguments: [16 * 1024 + 1, (1 << 24) - 1, UInt32.max] as [UInt32]
        )
        func oversizedLength(_ length: UInt32) async throws {
            try await hostileCase("B4") { target in
                let raw = try await target.connect()
                // At the limit: a MESSAGE header announcing exactly 16 KiB is accepted (waits for its payload).
                let start = ContinuousClock.now
                // Only the header is sent: the verdict cannot depend on buffering the payload.
                try await raw.send(RawFrames.header(length: length, type: FrameType.message.rawValue, streamID: 1))
                let result = await raw.expectGoAway(.frameSizeError, since: start)
                return HostileOutcome(
                    outcome: "GOAWAY(FRAME_SIZE_ERROR) from the header alone (length \(length))",
                    boundary: "16384 accepted (B4 pair test), \(length) → goaway",
                    detection: result.detection
                )
            }
        }

        @Test("B4 pair: frames of exactly the max frame size pass, many in a row")
        func maxSizeFramesPass() async throws {
            try await hostileCase("B4-legit") { target in
                let raw = try await target.connect()
                // A raw echo whose one MESSAGE frame is exactly 16 KiB (4-byte length + 16380 bytes).
                let body = [UInt8](repeating: 0x61, count: 16 * 1024 - 4)
                for index in 0..<8 {
                    let streamID = UInt32(2 * index + 1)
                    try await raw.send(
                        .callStart(CallStart(streamID: streamID, method: TestMethods.raw.name)),
                        .message(.whole(streamID: streamID, ByteBuffer(bytes: body), endStream: true))
                    )
                    let end = await raw.awaitCallEnd(streamID)
                    #expect(end?.status == .ok)
                }
                await raw.close()
                return HostileOutcome(outcome: "8 max-size frames: all OK", boundary: "16384-byte frames accepted", detection: nil)
            }
        }

        static let wrongLengths: [BadFrame] = [
            BadFrame(name: "PING of 9 bytes", bytes: RawFrames.frame(type: FrameType.ping.rawValue, streamID: 0, payload: Array(repeating: 0, count: 9)), code: .frameSizeError),
            BadFrame(name: "PING of 7 bytes", bytes: RawFrames.frame(type: FrameType.ping.rawValue, streamID: 0, payload: Array(repeating: 0, count: 7)), code: .frameSizeError),
            BadFrame(name: "CREDIT of 3 bytes", bytes: RawFrames.frame(type: FrameType.credit.rawValue, streamID: 1, payload: [0, 0, 1]), code: .frameSizeError),
            BadFrame(name: "CANCEL of 2 bytes", bytes: RawFrames.frame(type: FrameType.cancel.rawValue, streamID: 1, payload: [1, 1]), code: .frameSizeError),
            BadFrame(name: "HALF_CLOSE of 1 byte", bytes: RawFrames.frame(type: FrameType.halfClose.rawValue, streamID: 1, payload: [0]), code: .frameSizeError),
            BadFrame(name: "MESSAGE of 3 bytes", bytes: RawFrames.frame(type: FrameType.message.rawValue, streamID: 1, payload: [0, 0, 0]), code: .frameSizeError),
        ]

        @Test("B5: fixed-size frames with the wrong length → GOAWAY(FRAME_SIZE_ERROR)", arguments: Self.wrongLengths)
        func wrongFixedLength(_ frame: BadFrame) async throws {
            try await self.expectConnectionError("B5", frame)
        }

        static let wrongStreamIDs: [BadFrame] = [
            BadFrame(name: "PING on stream 1", bytes: RawFrames.frame(type: FrameType.ping.rawValue, streamID: 1, payload: Array(repeating: 0, count: 8)), code: .protocolError),
            BadFrame(name: "GOAWAY on stream 3", bytes: RawFrames.frame(type: FrameType.goAway.rawValue, streamID: 3, payload: Array(repeating: 0, count: 10)), code: .protocolError),
            BadFrame(name: "CANCEL on stream 0", bytes: RawFrames.frame(type: FrameType.cancel.rawValue, streamID: 0, payload: [1]), code: .protocolError),
            BadFrame(name: "CALL_START on stream 0", bytes: RawFrames.callStart(streamID: 0, method: TestMethods.echo.name), code: .protocolError),
            BadFrame(name: "MESSAGE on stream 0", bytes: RawFrames.frame(type: FrameType.message.rawValue, streamID: 0, payload: [0, 0, 0, 0]), code: .protocolError),
            BadFrame(name: "reserved stream-id bit", bytes: RawFrames.frame(type: FrameType.halfClose.rawValue, streamID: 0x8000_0001), code: .protocolError),
        ]

        @Test("B6: a connection frame with a stream id, or a stream frame with id 0 → GOAWAY(PROTOCOL_ERROR)", arguments: Self.wrongStreamIDs)
        func wrongStreamID(_ frame: BadFrame) async throws {
            try await self.expectConnectionError("B6", frame)
        }

        /// Sends `frame` on a fresh connection and expects its goaway.
        private func expectConnectionError(_ id: String, _ frame: BadFrame) async throws {
            try await hostileCase(id) { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                try await raw.send(frame.bytes)
                let result = await raw.expectGoAway(frame.code, since: start)
                return HostileOutcome(outcome: "GOAWAY(\(frame.code)) for \(frame.name): \(result.goAway?.reason ?? "-")", boundary: "the first such frame", detection: result.detection)
            }
        }

        @Test("B7: unknown frame types and undefined flags are ignored but counted; the glitch budget (1000) then → GOAWAY(ENHANCE_YOUR_CALM)")
        func unknownFrameFlood() async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.glitchRefillPerSecond = 0  // an exact boundary: no refill during the test
            try await hostileCase("B7", configuration: configuration) { target in
                let raw = try await target.connect()
                let unknown = RawFrames.frame(type: 0x42, streamID: 1, payload: [1, 2, 3])
                let oddFlags = RawFrames.frame(type: FrameType.ping.rawValue, flags: 0xF0, streamID: 0, payload: Array(repeating: 0, count: 8))
                // 999 unknown frames and one ping with undefined flags: exactly the budget, all ignored.
                try await raw.send(RawFrames.repeated(unknown, 999))
                try await raw.send(oddFlags)
                let pong = await raw.collect { if case .frame(.ping(let ping)) = $0 { return ping.ack }; return false }
                #expect(pong.matched, "a ping with undefined flags is processed (its flags ignored)")
                try await raw.expectEchoWorks(streamID: 1)
                let start = ContinuousClock.now
                try await raw.send(unknown)
                let result = await raw.expectGoAway(.enhanceYourCalm, since: start)
                return HostileOutcome(
                    outcome: "ignored up to the budget, then GOAWAY(ENHANCE_YOUR_CALM): \(result.goAway?.reason ?? "-")",
                    boundary: "1000 junk frames accepted, 1001st → goaway (refill 0 in the test; default +100/s)",
                    detection: result.detection
                )
            }
        }

        @Test("B7 pair: heavy legitimate traffic (2000 calls in rounds of 50) spends no glitch")
        func legitimateTrafficSpendsNoGlitch() async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.glitchBudget = 0  // any glitch at all would end the connection
            try await hostileCase("B7-legit", configuration: configuration) { target in
                let raw = try await target.connect()
                // 40 rounds of 50 pipelined calls: within the stream limit, as a conforming client keeps them.
                for round in 0..<40 {
                    var batch = ByteBuffer()
                    for index in 0..<50 {
                        var call = RawFrames.unaryCall(streamID: UInt32(2 * (round * 50 + index) + 1), method: TestMethods.echo.name, body: echoBytes())
                        batch.writeBuffer(&call)
                    }
                    try await raw.send(batch)
                    let ends = SharedCounter()
                    let (_, matched) = await raw.collect { event in
                        guard case .frame(.callEnd(let end)) = event else { return false }
                        #expect(end.status == .ok)
                        ends.add()
                        return ends.value == 50
                    }
                    #expect(matched)
                }
                try await raw.expectEchoWorks(streamID: 4001)
                await raw.close()
                return HostileOutcome(outcome: "2000 pipelined calls OK with a glitch budget of 0", boundary: "0 glitches from legitimate calls", detection: nil)
            }
        }

        @Test("B8: a frame truncated by EOF tears the connection down; every open call's handler observes cancellation")
        func truncatedByEOF() async throws {
            try await hostileCase("B8") { target in
                let raw = try await target.connect()
                var bytes = ByteBuffer()
                for streamID in stride(from: UInt32(1), through: 9, by: 2) {
                    var call = RawFrames.unaryCall(streamID: streamID, method: TestMethods.wait.name, body: echoBytes())
                    bytes.writeBuffer(&call)
                }
                try await raw.send(bytes)
                await target.gauge.waitUntil(running: 5)
                // Half a MESSAGE frame, then EOF.
                var truncated = RawFrames.header(length: 100, type: FrameType.message.rawValue, streamID: 11)
                truncated.writeBytes([0, 0, 0, 96, 1, 2, 3])
                try await raw.send(truncated)
                let start = ContinuousClock.now
                await raw.close()
                await target.gauge.waitUntil(running: 0)
                return HostileOutcome(
                    outcome: "connection torn down; 5 of 5 handlers cancelled, in-flight gauge back to 0",
                    boundary: "any truncated frame",
                    detection: ContinuousClock.now - start
                )
            }
        }
    }
}
