import DeadlineRPC
import NIOCore
import Testing
import Wire

extension HostileTests {
    /// HOSTILE.md A: handshake and timing.
    @Suite("A. Handshake and timing")
    struct HandshakeAbuseTests {
        @Test("A1: no bytes after accept, or a preface trickled byte by byte → GOAWAY(TIMEOUT) at the preface timeout; no call state")
        func silentAndTrickledPreface() async throws {
            var configuration = RPCServer.Configuration()
            #expect(configuration.prefaceTimeout == .seconds(10), "the default preface timeout is 10 s (peers: 120 s)")
            configuration.prefaceTimeout = .seconds(1)
            try await hostileCase("A1", configuration: configuration) { target in
                let start = ContinuousClock.now
                let silent = try await target.connect(handshake: false)
                let trickle = try await target.connect(handshake: false)
                // The trickler sends one preface byte at a time; bytes do not restart the timer.
                var preface = ByteBuffer()
                FrameEncoder.writePreface(into: &preface)
                try await trickle.send(preface.getSlice(at: 0, length: 3)!)
                let (silentResult, trickleResult) = await (silent.expectGoAway(.timeout, since: start), trickle.expectGoAway(.timeout, since: start))
                #expect(silentResult.detection >= .milliseconds(900))
                #expect(trickleResult.detection >= .milliseconds(900))
                #expect(target.gauge.maxRunning == 0)
                return HostileOutcome(
                    outcome: "GOAWAY(TIMEOUT), closed; no call state (frames are refused before SETTINGS)",
                    boundary: "preface timeout 1 s in the test (default 10 s); a trickled preface is closed at the same instant",
                    detection: max(silentResult.detection, trickleResult.detection)
                )
            }
        }

        /// A bad preface and the goaway it earns.
        struct BadPreface: Sendable, CustomTestStringConvertible {
            let name: String
            let bytes: [UInt8]
            let code: GoAwayCode
            var testDescription: String { self.name }
        }

        @Test(
            "A2: bad magic or unsupported version → immediate GOAWAY with the reason, closed",
            arguments: [
                BadPreface(name: "HTTP/2 preface", bytes: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), code: .badPreface),
                BadPreface(name: "bad magic", bytes: [0x44, 0x52, 0x50, 0x58, 0, 1, 0x0D, 0x0A], code: .badPreface),
                BadPreface(name: "bad terminator", bytes: [0x44, 0x52, 0x50, 0x43, 0, 1, 0x0A, 0x0D], code: .badPreface),
                BadPreface(name: "version 2", bytes: [0x44, 0x52, 0x50, 0x43, 0, 2, 0x0D, 0x0A], code: .unsupportedVersion),
            ]
        )
        func badPreface(_ preface: BadPreface) async throws {
            try await hostileCase("A2") { target in
                let raw = try await target.connect(handshake: false)
                let start = ContinuousClock.now
                try await raw.send(ByteBuffer(bytes: preface.bytes))
                let result = await raw.expectGoAway(preface.code, since: start)
                #expect(result.goAway?.lastStreamID == 0)
                return HostileOutcome(
                    outcome: "GOAWAY(\(preface.code)) (\(preface.name)), closed",
                    boundary: "the first wrong byte decides (magic checked byte by byte)",
                    detection: result.detection
                )
            }
        }

        @Test("A3: the first frame after the preface is not SETTINGS → GOAWAY(PROTOCOL_ERROR)")
        func firstFrameNotSettings() async throws {
            try await hostileCase("A3") { target in
                let raw = try await target.connect(handshake: false)
                var bytes = ByteBuffer()
                FrameEncoder.writePreface(into: &bytes)
                FrameEncoder.write(.ping(PingFrame(payload: 7, ack: false)), into: &bytes)
                let start = ContinuousClock.now
                try await raw.send(bytes)
                let result = await raw.expectGoAway(.protocolError, since: start)
                return HostileOutcome(outcome: "GOAWAY(PROTOCOL_ERROR): \(result.goAway?.reason ?? "-")", boundary: "frame 1 after the preface must be SETTINGS", detection: result.detection)
            }
        }
    }
}
