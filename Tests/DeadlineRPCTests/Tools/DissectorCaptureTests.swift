import DeadlineRPC
import Foundation
import NIOCore
import Testing
import Wire

#if canImport(Glibc)
import Glibc
#endif

/// The Wireshark dissector (tools/wireshark/drpc.lua) over a capture of a real run on 127.0.0.1: a real client and
/// server, and raw peers that send what the runtime rarely does. Every PDU the dissector shows is compared with
/// the frame that was sent (or that a raw peer decoded from the server).
///
/// Needs `tshark` and the right to capture (root). Outside CI the test is skipped without them; in CI (`CI` set)
/// it runs, and `.ci/run` installs `tshark` when missing.
@Suite(
    "The Wireshark dissector decodes a capture of a real run",
    .serialized,
    .heavyweight,
    .timeLimit(.minutes(5)),
    .enabled(
        if: (TSharkCapture.executable != nil && geteuid() == 0) || ProcessInfo.processInfo.environment["CI"] != nil,
        "needs tshark (apt-get install tshark) and root to capture on lo"
    )
)
struct DissectorCaptureTests {
    static let fail = Method<ByteBuffer, ByteBuffer>.raw("test.Raw/Fail", kind: .unary)
    static let trailers: Metadata = ["retry-after-ms": "100", "trace-bin": .binary([0xca, 0xfe])]

    static func router() -> Router {
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        router.unary(Self.fail) { _, _ in
            throw RPCError(code: .notFound, message: "no such key", metadata: Self.trailers)
        }
        return router
    }

    /// What one direction of one connection must show, PDU by PDU.
    enum Expected {
        case preface
        case frame(Frame)
        /// A frame the encoder cannot make (an unknown type).
        case unknown(type: UInt8, streamID: UInt32, payload: [UInt8])
    }

    /// A raw peer's events so far, and the frames among them.
    final class Received {
        var events: [RawConnection.Event] = []
        var frames: [Frame] {
            self.events.compactMap { if case .frame(let frame) = $0 { return frame }; return nil }
        }

        func collect(_ connection: RawConnection, until stop: @escaping @Sendable (RawConnection.Event) -> Bool) async {
            let (events, matched) = await connection.collect(until: stop)
            self.events += events
            #expect(matched, "the raw peer's awaited event arrived: \(events)")
        }
    }

    static func isSettings(_ event: RawConnection.Event) -> Bool {
        if case .frame(.settings) = event { return true }
        return false
    }

    static func isPingAck(_ payload: UInt64) -> @Sendable (RawConnection.Event) -> Bool {
        { event in
            if case .frame(.ping(let ping)) = event, ping.ack, ping.payload == payload { return true }
            return false
        }
    }

    static func isCallEnd(_ streamID: UInt32) -> @Sendable (RawConnection.Event) -> Bool {
        { event in
            if case .frame(.callEnd(let end)) = event, end.streamID == streamID { return true }
            return false
        }
    }

    static func isClosed(_ event: RawConnection.Event) -> Bool {
        if case .closed = event { return true }
        return false
    }

    static let sentinel: UInt64 = 0x5e17_1e15_d0e5_0001

    @Test("Every frame type of PROTOCOL.md, from a real client and server and raw peers, decoded field by field")
    func captureOfARealRun() async throws {
        try #require(TSharkCapture.executable != nil, "CI runs this test: .ci/run installs tshark")
        try await withServerAndClient(router: Self.router()) { server, client in
            let port = try await server.listeningAddress.port!
            let capture = try await TSharkCapture(port: port)
            defer { capture.removeFile() }
            do {
                try await Self.exercise(port: port, client: client, capture: capture)
            } catch {
                await capture.stop()
                throw error
            }
        }
    }

    /// The run (traffic, capture stop, dissection and checks) once the capture is running.
    static func exercise(port: Int, client: RPCClient, capture: TSharkCapture) async throws {
        let largeRequest = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let smallRequest = Array("hello drpc".utf8)
        let requestMetadata: Metadata = ["tenant": "acme", "trace-bin": .binary([1, 2, 3])]

        // Connection A: the real client. A unary call with metadata, one that fails with trailers, and one whose
        // 100 000-byte messages need MESSAGE_CONTINUATION and, past the 64 KiB initial credit, CREDIT.
        let echoed = try await client.unary(
            TestMethods.raw, ByteBuffer(bytes: smallRequest),
            options: CallOptions(timeout: .seconds(20), metadata: requestMetadata)
        )
        #expect(echoed == ByteBuffer(bytes: smallRequest))
        let error = await #expect(throws: RPCError.self) {
            try await client.unary(Self.fail, ByteBuffer(bytes: smallRequest), options: CallOptions(timeout: .seconds(20)))
        }
        #expect(error?.code == .notFound)
        let large = try await client.unary(TestMethods.raw, ByteBuffer(bytes: largeRequest), options: CallOptions(timeout: .seconds(20)))
        #expect(large == ByteBuffer(bytes: largeRequest))

        // Connection B: a raw client. Its preface is split over two segments, and a continuation frame is split
        // inside its header, so the dissector must reassemble both.
        let b = try await RawConnection.connect(port: port, handshake: false)
        try await b.channel.setOption(.socketOption(.tcp_nodelay), value: 1).get()
        let portB = try #require(b.channel.localAddress?.port)
        let receivedB = Received()
        let settingsB = Settings(
            maxFrameSize: 20_000, maxConcurrentStreams: 7, initialStreamCredit: 70_000, maxMessageSize: 1_000_000,
            maxMetadataSize: 4_000, maxMetadataEntries: 9, acceptedEncodings: 1
        )
        var sentB: [Expected] = [.preface]
        var preface = ByteBuffer()
        FrameEncoder.writePreface(into: &preface)
        try await b.send(preface.getSlice(at: 0, length: 2)!)
        var rest = preface.getSlice(at: 2, length: 6)!
        FrameEncoder.write(.settings(settingsB), into: &rest)
        try await b.send(rest)
        sentB.append(.frame(.settings(settingsB)))
        await receivedB.collect(b, until: Self.isSettings)

        let firstPing = Frame.ping(PingFrame(payload: 0x0102_0304_0506_0708, ack: false))
        try await b.send(firstPing)
        sentB.append(.frame(firstPing))
        await receivedB.collect(b, until: Self.isPingAck(0x0102_0304_0506_0708))

        let callOne: [Frame] = [
            .callStart(CallStart(
                streamID: 1, method: TestMethods.raw.name,
                budget: WireBudget(remainingMicroseconds: 25_000_123, originalMicroseconds: 40_000_000),
                hopCount: 2, encoding: .gzip,
                metadata: ["tenant": "acme", "request-id": "42", "trace-bin": .binary([0xca, 0xfe])]
            )),
            .message(MessageFrame(streamID: 1, messageLength: 10, data: ByteBuffer(string: "0123"), more: true)),
            .message(MessageFrame(streamID: 1, messageLength: nil, data: ByteBuffer(string: "456789"), endStream: true)),
        ]
        let callOneBytes = RawFrames.encode(callOne)
        try await b.send(callOneBytes.getSlice(at: 0, length: callOneBytes.readableBytes - 16 + 5)!)
        try await b.send(callOneBytes.getSlice(at: callOneBytes.readableBytes - 16 + 5, length: 11)!)
        sentB += callOne.map { .frame($0) }
        await receivedB.collect(b, until: Self.isCallEnd(1))

        let callThree: [Frame] = [
            .callStart(CallStart(streamID: 3, method: TestMethods.raw.name)),
            .message(.whole(streamID: 3, ByteBuffer(string: "x"))),
            .halfClose(streamID: 3),
        ]
        try await b.send(RawFrames.encode(callThree))
        sentB += callThree.map { .frame($0) }
        await receivedB.collect(b, until: Self.isCallEnd(3))

        // Frames for ended streams (dropped quietly by the server): a CANCEL with every reason and an undefined
        // one, a CREDIT; an unknown frame type (skipped); the client's GOAWAY; a PING whose answer proves the
        // server read them all.
        var lateFrames: [Frame] = (0...6).map { .cancel(streamID: 1, reason: CancelReason(rawValue: $0)) }
        lateFrames.append(.cancel(streamID: 1, reason: CancelReason(rawValue: 200)))
        lateFrames.append(.credit(streamID: 3, bytes: 12_345))
        var late = RawFrames.encode(lateFrames)
        var unknown = RawFrames.frame(type: 0x0c, flags: 0x80, streamID: 5, payload: [1, 2, 3])
        late.writeBuffer(&unknown)
        let goAwayB = Frame.goAway(GoAway(lastStreamID: 0, code: .noError, reason: "raw peer done ✓"))
        let secondPing = Frame.ping(PingFrame(payload: 0x1122_3344_5566_7788, ack: false))
        var tail = RawFrames.encode([goAwayB, secondPing])
        late.writeBuffer(&tail)
        try await b.send(late)
        sentB += lateFrames.map { .frame($0) }
        sentB.append(.unknown(type: 0x0c, streamID: 5, payload: [1, 2, 3]))
        sentB += [.frame(goAwayB), .frame(secondPing)]
        await receivedB.collect(b, until: Self.isPingAck(0x1122_3344_5566_7788))
        await b.close()

        // Connection C: a raw client that breaks a rule; the server answers GOAWAY(PROTOCOL_ERROR) and closes.
        let c = try await RawConnection.connect(port: port)
        let portC = try #require(c.channel.localAddress?.port)
        let receivedC = Received()
        await receivedC.collect(c, until: Self.isSettings)
        try await c.send(.credit(streamID: 99, bytes: 1))
        await receivedC.collect(c, until: Self.isClosed)
        let sentC: [Expected] = [.preface, .frame(.settings(Settings())), .frame(.credit(streamID: 99, bytes: 1))]

        // Connection D: the sentinel. Once tshark has read the answer to its PING, every earlier packet is in
        // the file.
        let d = try await RawConnection.connect(port: port)
        let portD = try #require(d.channel.localAddress?.port)
        let receivedD = Received()
        await receivedD.collect(d, until: Self.isSettings)
        let sentinelPing = Frame.ping(PingFrame(payload: Self.sentinel, ack: false))
        try await d.send(sentinelPing)
        await receivedD.collect(d, until: Self.isPingAck(Self.sentinel))
        var ack = ByteBuffer()
        FrameEncoder.write(.ping(PingFrame(payload: Self.sentinel, ack: true)), into: &ack)
        let captured = await capture.waitForPayload(ack.readableBytesView.map { $0 })
        await capture.stop()
        await d.close()
        try #require(captured, "tshark saw the sentinel: \(capture.diagnostics)")

        // Dissect, on the port preference, then again found by the heuristic alone.
        let (pdml, stderr) = try await capture.dissect(["-o", "drpc.port:\(port)"])
        #expect(!stderr.contains("Lua"), "no Lua error: \(stderr)")
        let frames = DissectedFrame.parse(pdml: pdml)
        let heuristic = try await capture.dissect(["-o", "tcp.try_heuristic_first:TRUE"])
        #expect(DissectedFrame.parse(pdml: heuristic.pdml).map(\.description) == frames.map(\.description))

        func direction(_ from: Int, _ to: Int) -> [DissectedFrame] {
            frames.filter { $0.sourcePort == from && $0.destinationPort == to }
        }
        func check(_ dissected: [DissectedFrame], _ expected: [Expected], _ what: String) {
            #expect(dissected.count == expected.count, "\(what): \(dissected.count) PDUs dissected, \(expected.count) sent")
            for (index, (pdu, expectation)) in zip(dissected, expected).enumerated() {
                switch expectation {
                case .preface:
                    #expect(pdu.values("drpc.preface.magic") == ["DRPC"], "\(what) #\(index)")
                    #expect(pdu.values("drpc.preface.version") == ["1"], "\(what) #\(index)")
                case .frame(let frame):
                    let problems = DissectorExpectation(frame).mismatches(in: pdu)
                    #expect(problems.isEmpty, "\(what) #\(index) \(frame): \(problems)")
                case .unknown(let type, let streamID, let payload):
                    #expect(pdu.type == type && pdu.streamID == streamID, "\(what) #\(index): \(pdu)")
                    #expect(pdu.values("drpc.payload") == [payload.map { String(format: "%02x", $0) }.joined()])
                    #expect(pdu.values("drpc.flags.undefined") == ["0x80"])
                }
            }
        }
        func served(_ received: Received) -> [Expected] {
            [.preface] + received.frames.map { .frame($0) }
        }

        // B, C, D: exactly what was sent, and exactly what the raw peer decoded from the server.
        check(direction(portB, port), sentB, "raw client B → server")
        check(direction(port, portB), served(receivedB), "server → raw client B")
        check(direction(portC, port), sentC, "raw client C → server")
        check(direction(port, portC), served(receivedC), "server → raw client C")
        check(direction(portD, port), [.preface, .frame(.settings(Settings())), .frame(sentinelPing)], "raw client D → server")
        check(direction(port, portD), served(receivedD), "server → raw client D")
        let goAwayC = receivedC.frames.compactMap { if case .goAway(let g) = $0 { return g }; return nil }
        #expect(goAwayC.map(\.code) == [.protocolError], "the server's answer to C is one GOAWAY(PROTOCOL_ERROR)")

        // Reassembly: B's preface and its continuation frame were each dissected from two segments.
        let fromB = direction(portB, port)
        if fromB.count > 5 {
            #expect(fromB[4].packet < fromB[5].packet, "the continuation frame came in a later packet than the MESSAGE")
        }
        #expect(Set(frames.map(\.packet)).count < frames.count, "several frames were dissected from one packet")

        // A: the real client's connection.
        let portsA = Set(frames.map { $0.sourcePort == port ? $0.destinationPort : $0.sourcePort })
            .subtracting([portB, portC, portD])
        try #require(portsA.count == 1, "the real client used one connection: \(portsA)")
        let portA = portsA.first!
        let toServer = direction(portA, port)
        let toClient = direction(port, portA)
        #expect(toServer.first?.isPreface == true && toClient.first?.isPreface == true)
        let starts = toServer.filter { $0.type == 0x1 }
        #expect(starts.map { $0.values("drpc.method") } == [[TestMethods.raw.name], [Self.fail.name], [TestMethods.raw.name]])
        #expect(starts.first?.values("drpc.metadata.key") == ["tenant", "trace-bin"])
        #expect(starts.first?.values("drpc.metadata.value") == ["acme"])
        #expect(starts.first?.values("drpc.metadata.value_bin") == ["010203"])
        for start in starts {
            // The origin's original budget is its timeout, 20 s; what remains when the frame is written is less.
            let remaining = start.values("drpc.budget.remaining_us").first.flatMap { Int64($0) } ?? -1
            #expect(remaining > 0 && remaining <= 20_000_000)
            #expect(start.values("drpc.budget.original_us") == ["20000000"])
            #expect(start.labels("drpc.budget.original_us") == ["Original budget: 20000.000 ms (20000000 µs)"])
            #expect(start.labels("drpc.budget.remaining_us")
                == ["Remaining budget: \(DissectorExpectation.milliseconds(remaining)) (\(remaining) µs)"])
            #expect(start.values("drpc.hop_count") == ["0"])
        }
        let streams = starts.compactMap(\.streamID)
        try #require(streams.count == 3)
        func message(_ pdus: [DissectedFrame], _ streamID: UInt32) -> [UInt8] {
            let hex = Array(pdus.filter { ($0.type == 0x2 || $0.type == 0x3) && $0.streamID == streamID }
                .flatMap { $0.values("drpc.message.chunk") }.joined().utf8)
            func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
            return stride(from: 0, to: hex.count - 1, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
        }
        #expect(message(toServer, streams[0]) == smallRequest)
        #expect(message(toClient, streams[0]) == smallRequest)
        #expect(message(toServer, streams[2]) == largeRequest, "the large request, reassembled from its chunks")
        #expect(message(toClient, streams[2]) == largeRequest, "the large response, reassembled from its chunks")
        #expect(toServer.contains { $0.type == 0x3 && $0.streamID == streams[2] })
        #expect(toClient.contains { $0.type == 0x3 && $0.streamID == streams[2] })
        #expect(toServer.contains { $0.type == 0x7 && $0.streamID == streams[2] }, "the client granted credit")
        #expect(toClient.contains { $0.type == 0x7 && $0.streamID == streams[2] }, "the server granted credit")
        let ends = toClient.filter { $0.type == 0x5 }
        try #require(ends.count == 3)
        #expect(DissectorExpectation(.callEnd(CallEnd(streamID: streams[0], status: .ok))).mismatches(in: ends[0]).isEmpty)
        let failure = CallEnd(streamID: streams[1], status: .notFound, message: "no such key", metadata: Self.trailers)
        #expect(DissectorExpectation(.callEnd(failure)).mismatches(in: ends[1]).isEmpty, "\(ends[1])")
        #expect(DissectorExpectation(.callEnd(CallEnd(streamID: streams[2], status: .ok))).mismatches(in: ends[2]).isEmpty)

        // Every frame type was dissected at least once.
        #expect(Set(frames.compactMap(\.type)).isSuperset(of: Set(0...9)))
    }
}
