import DeadlineRPC
import NIOCore
import Testing
import Wire

extension HostileTests {
    /// HOSTILE.md F: deadlines and cancel abuse.
    @Suite("F. Deadlines and cancel abuse")
    struct DeadlineAbuseTests {
        /// A budget on the wire and what it must produce.
        struct WireDeadline: Sendable, CustomTestStringConvertible {
            let name: String
            let remainingMicroseconds: Int64
            let status: StatusCode
            var testDescription: String { self.name }
        }

        static let budgets: [WireDeadline] = [
            WireDeadline(name: "F30: -1 µs", remainingMicroseconds: -1, status: .deadlineExceeded),
            WireDeadline(name: "F30: Int64.min µs", remainingMicroseconds: .min, status: .deadlineExceeded),
            WireDeadline(name: "F31: zero", remainingMicroseconds: 0, status: .deadlineExceeded),
            WireDeadline(name: "Int64.max µs (saturates, no trap)", remainingMicroseconds: .max, status: .ok),
        ]

        @Test("F30/F31: a negative or zero deadline → DEADLINE_EXCEEDED exactly once, handler not started; never a trap", arguments: Self.budgets)
        func spentBudget(_ budget: WireDeadline) async throws {
            try await hostileCase(budget.status == .ok ? "F30-max" : String(budget.name.prefix(3))) { target in
                let raw = try await target.connect()
                var bytes = RawFrames.callStart(streamID: 1, method: TestMethods.echo.name, budget: (budget.remainingMicroseconds, 0))
                var message = RawFrames.encode([.message(.whole(streamID: 1, ByteBuffer(bytes: echoBytes()), endStream: true))])
                bytes.writeBuffer(&message)
                let start = ContinuousClock.now
                try await raw.send(bytes)
                let end = await raw.awaitCallEnd(1)
                let detection = ContinuousClock.now - start
                #expect(end?.status == budget.status)
                if budget.status != .ok { #expect(target.gauge.maxRunning == 0, "the handler must not start") }
                // Exactly once: close and count every CALL_END of stream 1 that follows.
                try await raw.expectEchoWorks(streamID: 3)
                await raw.close()
                let rest = await raw.awaitClose()
                #expect(rest.callEnds.filter { $0.streamID == 1 }.isEmpty, "a second CALL_END for stream 1")
                return HostileOutcome(
                    outcome: "CALL_END(\(budget.status)) once for \(budget.name)" + (budget.status == .ok ? "; the call runs normally" : "; handler not started"),
                    boundary: budget.status == .ok ? "the largest budget saturates the deadline arithmetic" : "budget ≤ 0 → refused at arrival (the handler never starts for zero)",
                    detection: detection
                )
            }
        }

        @Test("F32: a malformed deadline field → that call rejected (INTERNAL); the connection survives")
        func malformedDeadline() async throws {
            try await hostileCase("F32") { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                try await raw.send(RawFrames.callStart(streamID: 1, method: TestMethods.echo.name, truncatedBudget: true))
                let end = await raw.awaitCallEnd(1)
                let detection = ContinuousClock.now - start
                #expect(end?.status == .internal)
                try await raw.expectEchoWorks(streamID: 3)
                await raw.close()
                return HostileOutcome(outcome: "CALL_END(INTERNAL) for that call; connection survives", boundary: "8 of the 16 budget bytes", detection: detection)
            }
        }

        @Test("F33: cancels for never-opened streams → GOAWAY(PROTOCOL_ERROR); cancels for recently closed streams are ignored")
        func cancelAbuse() async throws {
            try await hostileCase("F33") { target in
                let raw = try await target.connect()
                try await raw.expectEchoWorks(streamID: 1)
                // Stream 1 ended: late cancels for it are ignored, however many.
                try await raw.send(RawFrames.repeated(RawFrames.encode([.cancel(streamID: 1, reason: .cancelled)]), 5000))
                try await raw.expectEchoWorks(streamID: 3)
                let start = ContinuousClock.now
                try await raw.send(.cancel(streamID: 101, reason: .cancelled))
                let result = await raw.expectGoAway(.protocolError, since: start)
                #expect(result.goAway?.lastStreamID == 3)
                return HostileOutcome(outcome: "5000 cancels for an ended stream ignored; CANCEL for never-opened 101 → GOAWAY(PROTOCOL_ERROR), last id 3", boundary: "id ≤ last seen: ignored; above: goaway", detection: result.detection)
            }
        }
    }
}
