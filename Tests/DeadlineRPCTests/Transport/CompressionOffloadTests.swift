@testable import DeadlineRPC
import Dispatch
import NIOCore
import Synchronization
import TestSupport
import Testing
import Wire

/// Messages above ``RPCServer/Configuration/compressionOffloadThreshold`` are compressed and inflated off the event
/// loop (issue #19 goal 6): they still arrive byte for byte and in order, a cancel or deadline during their
/// compression ends the call, a bomb is still refused, and the threshold decides the path (read from the counters).
@Suite("Compression off the event loop", .heavyweight)
struct CompressionOffloadTests {
    static let bidi = Method<ByteBuffer, ByteBuffer>.raw("test.Raw/Bidi", kind: .bidirectional)
    static let threshold = 16 * 1024

    /// Text-like bytes gzip shrinks, different for each `seed`.
    static func compressible(_ size: Int, seed: UInt64 = 1) -> ByteBuffer {
        let words = ["deadline", "cancel", "stream", "credit", "frame", "budget", "hop", "loop"]
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var buffer = ByteBuffer()
        while buffer.readableBytes < size {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buffer.writeString(words[Int(state >> 61)])
            buffer.writeInteger(UInt8(truncatingIfNeeded: state >> 32))
        }
        buffer.moveWriterIndex(to: size)
        return buffer
    }

    static func configurations(threshold: Int = Self.threshold) -> (RPCServer.Configuration, RPCClient.Configuration) {
        var server = RPCServer.Configuration()
        server.compressionOffloadThreshold = threshold
        var client = RPCClient.Configuration()
        client.compressionOffloadThreshold = threshold
        return (server, client)
    }

    struct Paths: Equatable, CustomStringConvertible {
        var compressedOnLoop = 0, compressedOffLoop = 0, decompressedOnLoop = 0, decompressedOffLoop = 0

        init(on: Int = 0, off: Int = 0) {
            (self.compressedOnLoop, self.decompressedOnLoop, self.compressedOffLoop, self.decompressedOffLoop) = (on, on, off, off)
        }

        init(_ counters: CompressionCounters) {
            self.compressedOnLoop = counters.compressedOnLoop.load(ordering: .relaxed)
            self.compressedOffLoop = counters.compressedOffLoop.load(ordering: .relaxed)
            self.decompressedOnLoop = counters.decompressedOnLoop.load(ordering: .relaxed)
            self.decompressedOffLoop = counters.decompressedOffLoop.load(ordering: .relaxed)
        }

        var description: String {
            "compressed on/off loop \(self.compressedOnLoop)/\(self.compressedOffLoop), inflated on/off loop \(self.decompressedOnLoop)/\(self.decompressedOffLoop)"
        }
    }

    @Test("A big gzip request and its echo go off the loop both ways and arrive byte for byte")
    func unaryRoundTrip() async throws {
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        let (serverConfiguration, clientConfiguration) = Self.configurations()
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            for encoding in [MessageEncoding.gzip, .deflate] {
                let payload = Self.compressible(3 * 1024 * 1024, seed: UInt64(encoding.rawValue))
                let reply = try await client.unary(TestMethods.raw, payload, options: CallOptions(compression: encoding))
                #expect(reply == payload)
            }
            #expect(Paths(client.stats.compression) == Paths(off: 2))
            #expect(Paths(server.metrics.counters.compression) == Paths(off: 2))
        }
    }

    @Test("Big and small messages of a bidirectional stream keep their order both ways")
    func streamingOrder() async throws {
        // Big ones go to the pool, the middle ones are compressed on the loop, the tiny ones not at all: a big one
        // finishing late must not let the small ones behind it overtake it.
        let sizes = [200_000, 10, 2_000, 300_000, 200_000, 10, 150_000, 2_000, 10, 100_000]
        let payloads = sizes.enumerated().map { Self.compressible($0.element, seed: UInt64($0.offset + 1)) }
        let received = Mutex<[ByteBuffer]>([])
        var router = Router()
        router.bidirectional(Self.bidi) { requests, responses, _ in
            for try await request in requests {
                received.withLock { $0.append(request) }
                try await responses.write(request)
            }
        }
        let (serverConfiguration, clientConfiguration) = Self.configurations()
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            let replies = try await client.bidirectional(Self.bidi, options: CallOptions(compression: .gzip)) { writer in
                for payload in payloads { try await writer.write(payload) }
            } responses: { responses in
                var replies: [ByteBuffer] = []
                for try await reply in responses { replies.append(reply) }
                return replies
            }
            #expect(received.withLock { $0 } == payloads)
            #expect(replies == payloads)
            let big = sizes.filter { $0 > Self.threshold }.count
            let middle = sizes.filter { $0 >= ConnectionWriter.compressionThreshold && $0 <= Self.threshold }.count
            #expect(Paths(client.stats.compression) == Paths(on: middle, off: big))
            #expect(Paths(server.metrics.counters.compression) == Paths(on: middle, off: big))
        }
    }

    @Test("The threshold decides: a message of exactly the threshold stays on the loop, one byte more goes off it")
    func thresholdRespected() async throws {
        let threshold = 40_000
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        let (serverConfiguration, clientConfiguration) = Self.configurations(threshold: threshold)
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            let options = CallOptions(compression: .gzip)
            let atThreshold = Self.compressible(threshold, seed: 7)
            let atThresholdReply = try await client.unary(TestMethods.raw, atThreshold, options: options)
            #expect(atThresholdReply == atThreshold)
            #expect(Paths(client.stats.compression) == Paths(on: 1))
            #expect(Paths(server.metrics.counters.compression) == Paths(on: 1))
            let above = Self.compressible(threshold + 1, seed: 8)
            let aboveReply = try await client.unary(TestMethods.raw, above, options: options)
            #expect(aboveReply == above)
            #expect(Paths(client.stats.compression) == Paths(on: 1, off: 1))
            #expect(Paths(server.metrics.counters.compression) == Paths(on: 1, off: 1))
        }
    }

    @Test("Int.max keeps every message on the loop")
    func neverOffload() async throws {
        let threshold = Int.max
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        let (serverConfiguration, clientConfiguration) = Self.configurations(threshold: threshold)
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            let payload = Self.compressible(1024 * 1024)
            let reply = try await client.unary(TestMethods.raw, payload, options: CallOptions(compression: .gzip))
            #expect(reply == payload)
            #expect(Paths(client.stats.compression) == Paths(on: 1))
            #expect(Paths(server.metrics.counters.compression) == Paths(on: 1))
        }
    }

    /// A client whose offloaded compressions stop on the pool until released; `started` fires when one is held.
    final class HeldCompression: Sendable {
        let started = Signal()
        private let gate = DispatchSemaphore(value: 0)

        /// Runs on a pool thread (never a cooperative one): blocks it until ``release()``.
        var probe: @Sendable () -> Void {
            { [self] in
                self.started.fire()
                self.gate.wait()
            }
        }

        func release() { self.gate.signal() }
    }

    @Test("A cancel while the request is being compressed ends the call CANCELLED; the work's result is dropped")
    func cancelDuringCompression() async throws {
        try await self.endDuringCompression(timeout: nil, expected: .cancelled)
    }

    @Test("A deadline that passes while the request is being compressed ends the call DEADLINE_EXCEEDED")
    func deadlineDuringCompression() async throws {
        try await self.endDuringCompression(timeout: .milliseconds(200), expected: .deadlineExceeded)
    }

    func endDuringCompression(timeout: Duration?, expected: Status.Code) async throws {
        let handled = Atomic<Int>(0)
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in
            handled.add(1, ordering: .relaxed)
            return request
        }
        let held = HeldCompression()
        var (serverConfiguration, clientConfiguration) = Self.configurations()
        serverConfiguration.compressionOffloadThreshold = Self.threshold
        clientConfiguration.compressionProbe = held.probe
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, client in
            defer { held.release() }
            _ = try await client.unary(TestMethods.raw, ByteBuffer(string: "warm"))  // the server's settings are known
            let payload = Self.compressible(1024 * 1024)
            let outcome = await withThrowingTaskGroup(of: Void.self) { group -> Result<Void, any Error> in
                group.addTask {
                    _ = try await client.unary(TestMethods.raw, payload, options: CallOptions(timeout: timeout, compression: .gzip))
                }
                #expect(await held.started.wait())
                if timeout == nil { group.cancelAll() }
                let outcome = await group.nextResult()!
                group.cancelAll()
                return outcome
            }
            held.release()
            #expect(throws: RPCError.self) { try outcome.get() }
            if case .failure(let error) = outcome { #expect((error as? RPCError)?.code == expected) }
            // The stream behind the dropped result is gone, the connection is not: a later call is answered, and the
            // handler never saw the big request.
            let after = try await client.unary(TestMethods.raw, ByteBuffer(string: "after"))
            #expect(after == ByteBuffer(string: "after"))
            #expect(handled.load(ordering: .relaxed) == 2)
            #expect(Paths(client.stats.compression).compressedOffLoop == 1)
        }
    }

    @Test("A gzip bomb past the message limit is refused RESOURCE_EXHAUSTED whichever path inflates it", arguments: [Int.max, 64 * 1024])
    func bombRefused(threshold: Int) async throws {
        var router = Router()
        router.unary(TestMethods.raw) { request, _ in request }
        let (serverConfiguration, clientConfiguration) = Self.configurations(threshold: threshold)
        // 8 MiB of zeros gzipped: about 8 KiB on the wire, twice the 4 MiB limit inflated.
        let bomb = try MessageCompressor().compress(ByteBuffer(repeating: 0, count: 8 * 1024 * 1024), encoding: .gzip)
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { server, _ in
            let raw = try await RawConnection.connect(port: try await server.listeningAddress.port!)
            try await raw.send(
                .callStart(CallStart(streamID: 1, method: TestMethods.raw.name, encoding: .gzip)),
                .message(.whole(streamID: 1, bomb, endStream: true, compressed: true))
            )
            #expect(await raw.awaitCallEnd(1)?.status == .resourceExhausted)
            try await raw.send(
                .callStart(CallStart(streamID: 3, method: TestMethods.raw.name)),
                .message(.whole(streamID: 3, ByteBuffer(string: "still here"), endStream: true))
            )
            #expect(await raw.awaitCallEnd(3)?.status == .ok)
            await raw.close()
            let paths = Paths(server.metrics.counters.compression)
            #expect(threshold == .max ? paths.decompressedOnLoop == 1 : paths.decompressedOffLoop == 1, "\(paths)")
        }
    }
}
