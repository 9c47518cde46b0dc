@testable import DeadlineRPC
import NIOCore
import Synchronization
import TestSupport
import Testing
import Wire

/// A connection drops the last reference to a big message it wrote, or dropped on a cancel, on the thread pool
/// (issue #19 goal 6): freeing megabytes on a loop can trim the allocator's heap there (`madvise` of tens of MiB, over
/// 1 ms in `compress-bench`'s bidirectional shape). The messages still arrive byte for byte and in order.
@Suite("Big written messages are released off the loop", .heavyweight)
struct BigMessageReleaseTests {
    static let bidi = Method<ByteBuffer, ByteBuffer>.raw("test.Release/Bidi", kind: .bidirectional)
    static let big = OutboundScheduler.retireThreshold

    static func released(_ counters: CompressionCounters) -> Int {
        counters.releasedOffLoop.load(ordering: .relaxed)
    }

    static func echoRouter() -> Router {
        var router = Router()
        router.bidirectional(Self.bidi) { requests, responses, _ in
            for try await request in requests { try await responses.write(request) }
        }
        return router
    }

    @Test("Big and small messages of two concurrent streams echo byte for byte and in order; each big one is released off the loop once per side")
    func echoTwoStreams() async throws {
        let sizes = [300_000, 10, Self.big, Self.big - 1, 17_000, 200_000, 5]
        let payloads = sizes.enumerated().map { SplitMessageTests.pattern($0.element, seed: UInt64($0.offset + 1)) }
        let smalls = (0..<40).map { SplitMessageTests.pattern(100 + $0, seed: UInt64(100 + $0)) }
        let bigCount = sizes.filter { $0 >= Self.big }.count
        try await withServerAndClient(router: Self.echoRouter()) { server, client in
            async let bigReplies = client.bidirectional(Self.bidi) { writer in
                for payload in payloads { try await writer.write(payload) }
            } responses: { responses in
                var replies: [ByteBuffer] = []
                for try await reply in responses { replies.append(reply) }
                return replies
            }
            // A second stream on the same connection, so its frames interleave with the big messages' fragments.
            async let smallReplies = client.bidirectional(Self.bidi) { writer in
                for small in smalls { try await writer.write(small) }
            } responses: { responses in
                var replies: [ByteBuffer] = []
                for try await reply in responses { replies.append(reply) }
                return replies
            }
            let (bigs, smallOnes) = try await (bigReplies, smallReplies)
            #expect(bigs == payloads)
            #expect(smallOnes == smalls)
            // The client's requests were retired as their last frames were written, before the server could echo
            // them; the server's responses before their last bytes left it.
            #expect(Self.released(client.stats.compression) == bigCount)
            #expect(Self.released(server.metrics.counters.compression) == bigCount)
        }
    }

    @Test("A cancel in the middle of a big response releases it off the loop; the bytes written before it are its exact start")
    func cancelMidResponse() async throws {
        let response = SplitMessageTests.pattern(8 * Self.big, seed: 9)
        var router = Router()
        router.bidirectional(Self.bidi) { requests, responses, _ in
            for try await _ in requests { try await responses.write(response) }
        }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let raw = try await RawConnection.connect(port: port)
            try await raw.send(.callStart(CallStart(streamID: 1, method: Self.bidi.name)))
            try await raw.send(.message(.whole(streamID: 1, ByteBuffer(string: "go"))))
            // No credit is granted: the server writes the initial window of the response, then waits.
            let window = Int(Settings().initialStreamCredit)
            var prefix = ByteBuffer()
            var length: UInt32?
            while prefix.readableBytes < window, let event = await raw.next() {
                switch event {
                case .frame(.message(let frame)) where frame.streamID == 1:
                    if length == nil { length = frame.messageLength }
                    prefix.writeImmutableBuffer(frame.data)
                case .closed:
                    Issue.record("the connection closed")
                    return
                default:
                    continue
                }
            }
            #expect(length == UInt32(response.readableBytes))
            #expect(prefix == response.getSlice(at: response.readerIndex, length: window))
            #expect(Self.released(server.metrics.counters.compression) == 0)

            // The cancel drops the queued rest; the ping's answer is written by a flush after the cancel was handled,
            // and each flush hands what was dropped to the pool before it writes.
            try await raw.send(.cancel(streamID: 1, reason: .cancelled), .ping(PingFrame(payload: 42, ack: false)))
            var acked = false
            while !acked, let event = await raw.next() {
                switch event {
                case .frame(.ping(let ping)) where ping.ack && ping.payload == 42: acked = true
                case .frame(.message(let frame)) where frame.streamID == 1: Issue.record("more of the cancelled response: \(frame)")
                case .closed: Issue.record("the connection closed"); return
                default: continue
                }
            }
            #expect(acked)
            #expect(Self.released(server.metrics.counters.compression) == 1)
            await raw.close()
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }
}
