import DeadlineRPC
import NIOCore
import Synchronization
import Testing
import Wire

extension HostileTests {
    /// HOSTILE.md D: resource exhaustion (streams, resets, failures, pings, settings, empty frames, credit).
    @Suite("D. Resource exhaustion")
    struct ResourceAbuseTests {
        @Test("D15: calls = limit + 1 → the extra one is refused RESOURCE_EXHAUSTED; the connection survives")
        func streamLimitPlusOne() async throws {
            try await hostileCase("D15") { target in
                let raw = try await target.connect()
                var calls = ByteBuffer()
                for index in 0..<100 {
                    var call = RawFrames.encode([.callStart(CallStart(streamID: UInt32(2 * index + 1), method: HostileServer.Methods.hold.name))])
                    calls.writeBuffer(&call)
                }
                try await raw.send(calls)
                await target.gauge.waitUntil(running: 100)
                let start = ContinuousClock.now
                try await raw.send(RawFrames.unaryCall(streamID: 201, method: TestMethods.echo.name, body: echoBytes()))
                let refused = await raw.awaitCallEnd(201)
                let detection = ContinuousClock.now - start
                #expect(refused?.status == .resourceExhausted)
                // Cancelling one frees its slot once its handler returns; the connection serves again.
                try await raw.send(.cancel(streamID: 1, reason: .cancelled))
                await target.gauge.waitUntil(running: 99)
                try await raw.expectEchoWorks(streamID: 203)
                await raw.close()
                await target.gauge.waitUntil(running: 0)
                return HostileOutcome(outcome: "call 101: CALL_END(RESOURCE_EXHAUSTED); connection survives", boundary: "100 open (advertised 100), 101st refused", detection: detection)
            }
        }

        @Test("D16: rapid reset (start + cancel, 4 000 times) never runs more than the stream limit of handlers; the connection survives")
        func rapidReset() async throws {
            var configuration = RPCServer.Configuration()
            configuration.handlerExecutor = .globalConcurrent  // handlers truly run in parallel: the gauge sees the bound
            try await hostileCase("D16", configuration: configuration) { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                var streamID: UInt32 = 1
                for _ in 0..<8 {
                    var batch = ByteBuffer()
                    for _ in 0..<500 {
                        var call = RawFrames.unaryCall(streamID: streamID, method: TestMethods.wait.name, body: echoBytes())
                        batch.writeBuffer(&call)
                        var cancel = RawFrames.encode([.cancel(streamID: streamID, reason: .cancelled)])
                        batch.writeBuffer(&cancel)
                        streamID += 2
                    }
                    try await raw.send(batch)
                }
                await target.gauge.waitUntil(running: 0)
                try await raw.expectEchoWorks(streamID: streamID)
                let elapsed = ContinuousClock.now - start
                let peak = target.gauge.maxRunning
                #expect(peak <= 100, "at most the stream limit of handlers may run at once; saw \(peak)")
                let refused = target.server.stats.refusedCalls
                await raw.close()
                return HostileOutcome(
                    outcome: "no goaway (work-bounded): peak \(peak) handlers at once, \(refused) of 4000 starts refused RESOURCE_EXHAUSTED, echo OK after",
                    boundary: "handlers ≤ 100 (stream limit; a cancelled handler holds its slot until it returns)",
                    detection: elapsed
                )
            }
        }

        @Test("D16 stragglers: cancelled handlers that ignore cancellation keep their handler slots — new calls are admitted but wait for a slot; never more than the limit run, none is refused")
        func rapidResetStragglers() async throws {
            var configuration = RPCServer.Configuration()
            configuration.handlerExecutor = .globalConcurrent  // handlers truly run in parallel: the gauge sees the bound
            try await hostileCase("D16-stragglers", configuration: configuration) { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                var next: UInt32 = 1
                // Five rounds: 100 stubborn calls start (the limit), all are cancelled (each keeps running ~100 ms),
                // and 100 new calls follow at once. They are open calls as the client counts them, so none is refused;
                // their handlers wait for the stubborn ones to return.
                for _ in 0..<5 {
                    var batch = ByteBuffer()
                    let first = next
                    for _ in 0..<100 {
                        var call = RawFrames.unaryCall(streamID: next, method: HostileServer.Methods.stubborn.name, body: echoBytes())
                        batch.writeBuffer(&call)
                        next += 2
                    }
                    try await raw.send(batch)
                    await target.gauge.waitUntil(running: 100)
                    var cancels = ByteBuffer()
                    for streamID in stride(from: first, to: next, by: 2) {
                        var cancel = RawFrames.encode([.cancel(streamID: streamID, reason: .cancelled)])
                        cancels.writeBuffer(&cancel)
                    }
                    try await raw.send(cancels)
                }
                try await raw.expectEchoWorks(streamID: next)
                let elapsed = ContinuousClock.now - start
                await target.gauge.waitUntil(running: 0)
                let peak = target.gauge.maxRunning
                #expect(peak == 100, "exactly the stream limit of handlers at once; saw \(peak)")
                #expect(target.server.stats.refusedCalls == 0, "a client that counts cancelled calls closed is never refused")
                await raw.close()
                return HostileOutcome(
                    outcome: "5 rounds of 100 started + cancelled stubborn handlers: peak \(peak) running (limit 100), 0 refused, echo OK after",
                    boundary: "handlers ≤ 100 incl. cancelled ones winding down; open calls ≤ 100 as the client counts them",
                    detection: elapsed
                )
            }
        }

        @Test("D16 budget: with a reset budget configured (off by default), the cancel past it → GOAWAY(ENHANCE_YOUR_CALM)")
        func configuredResetBudget() async throws {
            var configuration = RPCServer.Configuration()
            configuration.maxConcurrentStreams = 1000
            configuration.connectionLimits.resetBudget = .init(burst: 200, refillPerSecond: 0)
            try await hostileCase("D16-budget", configuration: configuration) { target in
                let raw = try await target.connect()
                var batch = ByteBuffer()
                for index in 0..<200 {
                    let streamID = UInt32(2 * index + 1)
                    var call = RawFrames.unaryCall(streamID: streamID, method: TestMethods.wait.name, body: echoBytes())
                    batch.writeBuffer(&call)
                    var cancel = RawFrames.encode([.cancel(streamID: streamID, reason: .cancelled)])
                    batch.writeBuffer(&cancel)
                }
                try await raw.send(batch)
                try await raw.expectEchoWorks(streamID: 401)
                let start = ContinuousClock.now
                try await raw.send(RawFrames.unaryCall(streamID: 403, method: TestMethods.wait.name, body: echoBytes()))
                try await raw.send(.cancel(streamID: 403, reason: .cancelled))
                let result = await raw.expectGoAway(.enhanceYourCalm, since: start)
                await target.gauge.waitUntil(running: 0)
                return HostileOutcome(outcome: "GOAWAY(ENHANCE_YOUR_CALM): \(result.goAway?.reason ?? "-")", boundary: "200 cancels accepted, 201st → goaway (burst 200, refill 0 in the test)", detection: result.detection)
            }
        }

        @Test("D16 pair: a legitimate cancel storm on the victims' own connection costs no victim call and no connection")
        func legitimateCancelStorm() async throws {
            try await hostileCase("D16-legit") { target in
                // The storm shares the well-behaved client's connection: its victims are the measured calls.
                let client = target.wellBehavedClient
                let cancelled = SharedCounter()
                let other = SharedCounter()
                let start = ContinuousClock.now
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<32 {
                        group.addTask {
                            for _ in 0..<60 {
                                await withTaskGroup(of: Void.self) { call in
                                    call.addTask {
                                        do {
                                            _ = try await client.unary(TestMethods.wait, Echo(text: "storm"), options: CallOptions(timeout: .seconds(20)))
                                        } catch let error as RPCError where error.code == .cancelled {
                                            cancelled.add()
                                        } catch {
                                            other.add()
                                        }
                                    }
                                    try? await Task.sleep(for: .microseconds(Int.random(in: 0...2000)))
                                    call.cancelAll()
                                }
                            }
                        }
                    }
                }
                let elapsed = ContinuousClock.now - start
                let total = cancelled.value
                #expect(other.value == 0, "storm calls end cancelled, nothing else")
                #expect(total == 32 * 60)
                await target.gauge.waitUntil(running: 0)
                let rate = Double(total) / max(elapsed.milliseconds / 1000, 0.001)
                return HostileOutcome(
                    outcome: "\(total) cancels at \(Int(rate))/s on the victims' connection: 0 victim errors, connection kept",
                    boundary: "no rate limit on cancels by default",
                    detection: nil
                )
            }
        }

        @Test("D17: induced-failure flood (calls that fail on their own bytes) → each answered, then GOAWAY(ENHANCE_YOUR_CALM) past the glitch budget; no handler runs")
        func inducedFailureFlood() async throws {
            try await hostileCase("D17") { target in
                let raw = try await target.connect()
                var batch = ByteBuffer()
                for index in 0..<3000 {
                    var call = RawFrames.callStart(streamID: UInt32(2 * index + 1), method: TestMethods.echo.name, entries: [(Array("Bad-Key".utf8), Array("v".utf8))])
                    batch.writeBuffer(&call)
                }
                let start = ContinuousClock.now
                try await raw.send(batch)
                let result = await raw.expectGoAway(.enhanceYourCalm, since: start)
                let answered = result.callEnds.filter { $0.status == .invalidArgument }.count
                let seconds = result.detection.milliseconds / 1000
                #expect(answered >= 1000, "the whole burst budget is honoured")
                #expect(Double(answered) <= 1000 + 100 * seconds + 1, "refill is at most 100 per second")
                #expect(target.gauge.maxRunning == 0)
                return HostileOutcome(
                    outcome: "\(answered) CALL_END(INVALID_ARGUMENT), then GOAWAY(ENHANCE_YOUR_CALM); 0 handlers started",
                    boundary: "\(answered) failures accepted (burst 1000 + 100/s), next → goaway",
                    detection: result.detection
                )
            }
        }

        @Test("D18: ping flood from a peer that never reads → queued pongs capped (1000 while unwritable), then the connection is closed")
        func pingFloodNonReader() async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.pingMinimumInterval = .zero  // let pings through: this tests the control queue
            try await hostileCase("D18", configuration: configuration) { target in
                let raw = try await target.connect(autoRead: false, receiveBufferSize: 4096)
                let ping = RawFrames.encode([.ping(PingFrame(payload: 1, ack: false))])
                let batch = RawFrames.repeated(ping, 10_000)
                let start = ContinuousClock.now
                var sent = 0
                var closed = false
                for _ in 0..<500 {
                    do {
                        try await raw.send(batch)
                        sent += 10_000
                    } catch {
                        closed = true
                        break
                    }
                    if !raw.channel.isActive { closed = true; break }
                }
                let detection = ContinuousClock.now - start
                #expect(closed, "the server must close a connection whose control frames pile up")
                raw.startReading()
                let (_, _, eof) = await raw.awaitClose()
                #expect(eof)
                return HostileOutcome(
                    outcome: "closed after ≤ \(sent) pings (peer never read); goaway not deliverable to a non-reader",
                    boundary: "1000 control frames queued while unwritable (128 KiB watermark), 1001st → close",
                    detection: detection
                )
            }
        }

        @Test("D19: ping policy — the third early ping in a row → GOAWAY(TOO_MANY_PINGS) 'too many pings'")
        func pingStrikes() async throws {
            try await hostileCase("D19") { target in
                let raw = try await target.connect()
                try await raw.send(.ping(PingFrame(payload: 1, ack: false)), .ping(PingFrame(payload: 2, ack: false)), .ping(PingFrame(payload: 3, ack: false)))
                var pongs = 0
                while pongs < 3 {
                    let event = await raw.collect { if case .frame(.ping(let ping)) = $0 { return ping.ack }; return false }
                    guard event.matched else { break }
                    pongs += 1
                }
                #expect(pongs == 3)
                let start = ContinuousClock.now
                try await raw.send(.ping(PingFrame(payload: 4, ack: false)))
                let result = await raw.expectGoAway(.tooManyPings, since: start)
                #expect(result.goAway?.reason == "too many pings")
                return HostileOutcome(outcome: "GOAWAY(TOO_MANY_PINGS) 'too many pings'", boundary: "3 pings answered (1 + 2 strikes tolerated, 5 s minimum interval), 4th → goaway", detection: result.detection)
            }
        }

        @Test("D19 pair: pings at the permitted interval never trip the policy")
        func pingsAtPermittedInterval() async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.pingMinimumInterval = .milliseconds(50)  // the rule, scaled down in time
            configuration.connectionLimits.pingStrikesTolerated = 0
            try await hostileCase("D19-legit", configuration: configuration) { target in
                let raw = try await target.connect()
                for index in 0..<10 {
                    try await raw.send(.ping(PingFrame(payload: UInt64(index), ack: false)))
                    let pong = await raw.collect { if case .frame(.ping(let ping)) = $0 { return ping.ack }; return false }
                    #expect(pong.matched)
                    try await Task.sleep(for: .milliseconds(60))  // the subject of the test: the spacing itself
                }
                try await raw.expectEchoWorks(streamID: 1)
                await raw.close()
                return HostileOutcome(outcome: "10 pings 60 ms apart (minimum 50 ms, 0 strikes tolerated): all answered", boundary: "interval ≥ minimum never strikes", detection: nil)
            }
        }

        /// A handshake that breaks a settings rule.
        struct BadSettings: Sendable, CustomTestStringConvertible {
            let name: String
            let frames: ByteBuffer
            let code: GoAwayCode
            var testDescription: String { self.name }
        }

        static let badSettings: [BadSettings] = {
            var settings = ByteBuffer()
            FrameEncoder.write(.settings(Settings()), into: &settings)
            var second = settings
            var twice = settings
            twice.writeBuffer(&second)
            var entries: [UInt8] = []
            for _ in 0..<33 { entries += [0, 0x20, 0, 0, 0, 1] }  // 33 unknown entries: one over the maximum
            let badValue: [UInt8] = [0, 0x1, 0, 0, 0, 100]  // maxFrameSize 100 < 1024
            return [
                BadSettings(name: "a second SETTINGS (settings flood)", frames: twice, code: .protocolError),
                BadSettings(name: "SETTINGS with 33 entries", frames: RawFrames.frame(type: FrameType.settings.rawValue, streamID: 0, payload: entries), code: .frameSizeError),
                BadSettings(name: "SETTINGS of 7 bytes", frames: RawFrames.frame(type: FrameType.settings.rawValue, streamID: 0, payload: Array(repeating: 0, count: 7)), code: .frameSizeError),
                BadSettings(name: "maxFrameSize 100", frames: RawFrames.frame(type: FrameType.settings.rawValue, streamID: 0, payload: badValue), code: .protocolError),
            ]
        }()

        @Test("D20: settings flood (designed out: one SETTINGS per side) or oversized settings → GOAWAY", arguments: Self.badSettings)
        func settingsAbuse(_ bad: BadSettings) async throws {
            try await hostileCase("D20") { target in
                let raw = try await target.connect(handshake: false)
                var bytes = ByteBuffer()
                FrameEncoder.writePreface(into: &bytes)
                var frames = bad.frames
                bytes.writeBuffer(&frames)
                let start = ContinuousClock.now
                try await raw.send(bytes)
                let result = await raw.expectGoAway(bad.code, since: start)
                return HostileOutcome(outcome: "GOAWAY(\(bad.code)) for \(bad.name)", boundary: "exactly one SETTINGS of ≤ 32 entries", detection: result.detection)
            }
        }

        /// An empty frame on an open stream.
        struct EmptyFrame: Sendable, CustomTestStringConvertible {
            let name: String
            let bytes: ByteBuffer
            var testDescription: String { self.name }
        }

        static let emptyFrames: [EmptyFrame] = [
            EmptyFrame(name: "CREDIT 0", bytes: RawFrames.encode([.credit(streamID: 1, bytes: 0)])),
            EmptyFrame(name: "empty MESSAGE without END_STREAM", bytes: RawFrames.encode([.message(.whole(streamID: 1, ByteBuffer()))])),
        ]

        @Test("D21: empty frames in a row → GOAWAY(ENHANCE_YOUR_CALM) past the glitch budget", arguments: Self.emptyFrames)
        func emptyFrameFlood(_ empty: EmptyFrame) async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.glitchRefillPerSecond = 0  // exact boundary
            try await hostileCase("D21", configuration: configuration) { target in
                let raw = try await target.connect()
                try await raw.send(.callStart(CallStart(streamID: 1, method: HostileServer.Methods.count.name)))
                try await raw.send(RawFrames.repeated(empty.bytes, 1000))
                try await raw.expectEchoWorks(streamID: 3)
                let start = ContinuousClock.now
                try await raw.send(empty.bytes)
                let result = await raw.expectGoAway(.enhanceYourCalm, since: start)
                await target.gauge.waitUntil(running: 0)
                return HostileOutcome(outcome: "GOAWAY(ENHANCE_YOUR_CALM) for \(empty.name)", boundary: "1000 accepted, 1001st → goaway (refill 0 in the test; default +100/s)", detection: result.detection)
            }
        }

        @Test("D21 pair: 5000 small streamed messages and a closing empty message spend no glitch")
        func legitimateStreamingSpendsNoGlitch() async throws {
            var configuration = RPCServer.Configuration()
            configuration.connectionLimits.glitchBudget = 0  // any glitch at all would end the connection
            try await hostileCase("D21-legit", configuration: configuration) { target in
                let raw = try await target.connect()
                var batch = RawFrames.encode([.callStart(CallStart(streamID: 1, method: HostileServer.Methods.count.name))])
                let message = RawFrames.encode([.message(.whole(streamID: 1, ByteBuffer(bytes: Array("{\"text\":\"\"}".utf8))))])
                var messages = RawFrames.repeated(message, 5000)
                batch.writeBuffer(&messages)
                try await raw.send(batch)
                try await raw.send(.halfClose(streamID: 1))
                let end = await raw.awaitCallEnd(1)
                #expect(end?.status == .ok)
                try await raw.expectEchoWorks(streamID: 3)
                await raw.close()
                return HostileOutcome(outcome: "5000 streamed messages with a glitch budget of 0: OK", boundary: "0 glitches", detection: nil)
            }
        }

        @Test("D22: sending beyond granted credit → GOAWAY(FLOW_CONTROL_ERROR)")
        func beyondCredit() async throws {
            try await hostileCase("D22") { target in
                let raw = try await target.connect()
                // `hold` never reads, so no credit comes back: exactly the initial 64 KiB may be sent.
                var batch = RawFrames.encode([.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name))])
                for size in [16380, 16380, 16380, 16380, 16] {
                    var frame = RawFrames.encode([.message(.whole(streamID: 1, ByteBuffer(repeating: 0x20, count: size)))])
                    batch.writeBuffer(&frame)
                }
                try await raw.send(batch)
                try await raw.expectEchoWorks(streamID: 3)
                let start = ContinuousClock.now
                try await raw.send(.message(.whole(streamID: 1, ByteBuffer(bytes: [0x20]))))
                let result = await raw.expectGoAway(.flowControlError, since: start)
                await target.gauge.waitUntil(running: 0)
                return HostileOutcome(outcome: "GOAWAY(FLOW_CONTROL_ERROR): \(result.goAway?.reason ?? "-")", boundary: "65536 bytes accepted, byte 65537 → goaway", detection: result.detection)
            }
        }

        @Test("D23: a reader that never grants credit while the server streams: server memory for the call ≤ credit + watermark; the call ends at its deadline")
        func neverGrantsCredit() async throws {
            try await hostileCase("D23") { target in
                let raw = try await target.connect()
                let start = ContinuousClock.now
                try await raw.send(RawFrames.unaryCall(streamID: 1, method: HostileServer.Methods.flood.name, body: echoBytes(), timeout: .seconds(1)))
                var received = 0
                let (events, ended) = await raw.collect { event in
                    switch event {
                    case .frame(.callEnd(let end)): return end.streamID == 1
                    case .frame(.cancel(let streamID, _)): return streamID == 1
                    default: return false
                    }
                }
                let detection = ContinuousClock.now - start
                for case .frame(.message(let message)) in events { received += message.data.readableBytes }
                #expect(ended)
                switch events.last {
                case .frame(.callEnd(let end))?: #expect(end.status == .deadlineExceeded)
                case .frame(.cancel(_, let reason))?: #expect(reason == .deadlineExceeded)
                default: Issue.record("the call did not end at its deadline")
                }
                #expect(received <= 64 * 1024, "no byte beyond the granted credit")
                // Each message is ~1 KiB on the wire: the handler may get at most credit + watermark (+1) ahead.
                let written = target.gauge.written
                #expect(written <= (64 * 1024 + 64 * 1024) / 1024 + 2, "the handler is held at the watermark; wrote \(written)")
                await target.gauge.waitUntil(running: 0)
                await raw.close()
                return HostileOutcome(
                    outcome: "\(received) bytes sent (credit 65536), handler held after \(written) messages of ~1 KiB; ended DEADLINE_EXCEEDED at 1 s",
                    boundary: "credit 64 KiB + writer watermark 64 KiB per call",
                    detection: detection
                )
            }
        }

        @Test("D24: idle connections are reaped at the idle timeout (GOAWAY(TIMEOUT)); file descriptors return to baseline")
        func idleConnectionsReaped() async throws {
            var configuration = RPCServer.Configuration()
            #expect(configuration.connectionLimits.idleTimeout == .seconds(300))
            configuration.connectionLimits.idleTimeout = .seconds(1)
            try await hostileCase("D24", configuration: configuration) { target in
                let descriptorsBefore = ProcessProbe.openFileDescriptors
                let count = 200
                let start = ContinuousClock.now
                var connections: [RawConnection] = []
                for _ in 0..<count { connections.append(try await target.connect()) }
                // A connection with an open call is busy, not idle: it outlives the timeout.
                let busy = try await target.connect()
                try await busy.send(.callStart(CallStart(streamID: 1, method: HostileServer.Methods.hold.name)))
                var reaped = 0
                for connection in connections {
                    let result = await connection.expectGoAway(.timeout, since: start)
                    if result.goAway?.code == .timeout { reaped += 1 }
                }
                let detection = ContinuousClock.now - start
                #expect(reaped == count)
                #expect(busy.channel.isActive, "a connection with an open call is not idle")
                try await busy.send(.cancel(streamID: 1, reason: .cancelled))
                let busyResult = await busy.expectGoAway(.timeout, since: start)
                #expect(busyResult.detection >= .seconds(1))
                #expect(await eventually(timeout: .seconds(30)) { ProcessProbe.openFileDescriptors <= descriptorsBefore + 2 })
                return HostileOutcome(
                    outcome: "\(reaped)/\(count) idle connections GOAWAY(TIMEOUT); the busy one kept until its call ended; fds back to baseline (\(descriptorsBefore) → \(ProcessProbe.openFileDescriptors))",
                    boundary: "idle timeout 1 s in the test (default 300 s)",
                    detection: detection
                )
            }
        }
    }
}
