@testable import DeadlineRPC
import NIOCore
import Synchronization
import TestSupport
import Testing
import Wire

/// A message split over many frames is kept as its fragments on the event loop and joined where it is taken (issue
/// #19 goal 6): whatever the split and however the bytes are cut into reads, the handler gets it byte for byte and
/// in order; a big one is joined on the thread pool; a cancel in the middle of one ends only its call.
@Suite("Split messages: fragments kept, joined off the loop", .heavyweight)
struct SplitMessageTests {
    static let digest = Method<ByteBuffer, ByteBuffer>.raw("split.Split/Digest", kind: .clientStreaming)

    /// Bytes that differ from position to position, so a fragment out of place or a byte lost shows. Written through
    /// a pointer: a byte-at-a-time loop over megabytes in a debug build would hold a cooperative thread for long.
    static func pattern(_ size: Int, seed: UInt64) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { bytes in
            var state = seed | 1
            for index in 0..<size {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
            }
            return size
        }
        return buffer
    }

    /// What the handlers received, in order, and how many ended with an error.
    final class Received: Sendable {
        let messages = Mutex<[ByteBuffer]>([])
        let errors = Atomic<Int>(0)
    }

    /// Records every message; replies with how many there were.
    static func router(_ received: Received) -> Router {
        var router = Router()
        router.clientStreaming(Self.digest) { requests, _ in
            var count = 0
            do {
                for try await message in requests {
                    received.messages.withLock { $0.append(message) }
                    count += 1
                }
            } catch {
                received.errors.add(1, ordering: .relaxed)
                throw error
            }
            return ByteBuffer(string: "\(count)")
        }
        return router
    }

    /// Fragment sizes that cross the assembler's slice and copy paths: single bytes, sub-kilobyte pieces copied
    /// into owned chunks, and slices up to nearly a whole frame.
    static let fragmentSizes = [1, 7, 900, 1024, 3000, 9000, 16 * 1024 - 4, 1, 12_000, 500, 4096]

    /// Sends `message` on `streamID` as MESSAGE plus continuations of `fragmentSizes` (cycled), each frame in its own
    /// write so the server reads it in many small pieces, staying within the credit the server grants.
    static func send(
        _ message: ByteBuffer, streamID: UInt32, on raw: RawConnection, window: inout Int, upTo limit: Int? = nil
    ) async throws {
        var rest = message
        var index = 0
        var first = true
        let stop = message.readableBytes - (limit ?? message.readableBytes)
        while rest.readableBytes > stop {
            let size = min(Self.fragmentSizes[index % Self.fragmentSizes.count], rest.readableBytes)
            index += 1
            while window < size {
                guard let event = await raw.next() else { throw RawConnectionClosed() }
                if case .frame(.credit(streamID: streamID, let bytes)) = event { window += Int(bytes) }
            }
            let chunk = rest.readSlice(length: size)!
            let frame = MessageFrame(
                streamID: streamID,
                messageLength: first ? UInt32(message.readableBytes) : nil,
                data: chunk,
                more: rest.readableBytes > 0
            )
            first = false
            try await raw.send(.message(frame))
            window -= size
        }
    }

    struct RawConnectionClosed: Error {}

    @Test("A 300 KB message in frames of 1 byte to 16 KiB, each its own write, arrives byte for byte, in order with a mid-sized and a whole message behind it")
    func manySmallReads() async throws {
        let received = Received()
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(received))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let raw = try await RawConnection.connect(port: port)
            let big = Self.pattern(CompressionOffload.minimumJoinThreshold + 40_003, seed: 1)  // Joined on the pool.
            let middle = Self.pattern(100_000, seed: 2)  // Split, below it: joined on the loop.
            let small = Self.pattern(5, seed: 3)  // One frame.
            var window = Int(Settings().initialStreamCredit)
            try await raw.send(.callStart(CallStart(streamID: 1, method: Self.digest.name)))
            try await Self.send(big, streamID: 1, on: raw, window: &window)
            try await Self.send(middle, streamID: 1, on: raw, window: &window)
            try await Self.send(small, streamID: 1, on: raw, window: &window)
            try await raw.send(.halfClose(streamID: 1))
            var reply: ByteBuffer?
            var status: StatusCode?
            while status == nil, let event = await raw.next() {
                switch event {
                case .frame(.message(let frame)) where frame.streamID == 1: reply = frame.data
                case .frame(.callEnd(let end)): status = end.status
                case .closed: Issue.record("the connection closed")
                default: continue
                }
                if case .closed = event { break }
            }
            #expect(status == .ok)
            #expect(reply.map { String(buffer: $0) } == "3")
            #expect(received.messages.withLock { $0 } == [big, middle, small])
            #expect(server.metrics.counters.compression.joinedOffLoop.load(ordering: .relaxed) == 1)
            await raw.close()
            group.cancelAll()
        }
    }

    @Test("A cancel halfway through a split message ends that call; the next call's big message arrives whole")
    func cancelMidReassembly() async throws {
        let received = Received()
        let server = RPCServer(host: "127.0.0.1", port: 0, router: Self.router(received))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let raw = try await RawConnection.connect(port: port)
            let abandoned = Self.pattern(1024 * 1024, seed: 4)
            var window = Int(Settings().initialStreamCredit)
            try await raw.send(.callStart(CallStart(streamID: 1, method: Self.digest.name)))
            try await Self.send(abandoned, streamID: 1, on: raw, window: &window, upTo: 400_000)
            try await raw.send(.cancel(streamID: 1, reason: .cancelled))

            let next = Self.pattern(300_000, seed: 5)  // Above the join threshold: joined on the pool.
            window = Int(Settings().initialStreamCredit)
            try await raw.send(.callStart(CallStart(streamID: 3, method: Self.digest.name)))
            try await Self.send(next, streamID: 3, on: raw, window: &window)
            try await raw.send(.halfClose(streamID: 3))
            var reply: ByteBuffer?
            var status: StatusCode?
            while status == nil, let event = await raw.next() {
                switch event {
                case .frame(.message(let frame)) where frame.streamID == 3: reply = frame.data
                case .frame(.callEnd(let end)) where end.streamID == 3: status = end.status
                case .frame(.callEnd(let end)): Issue.record("stream \(end.streamID) ended \(end.status)")
                case .closed: Issue.record("the connection closed")
                default: continue
                }
                if case .closed = event { break }
            }
            #expect(status == .ok)
            #expect(reply.map { String(buffer: $0) } == "1")
            // The cancelled handler runs in its own task: the server's drain awaits its end.
            await raw.close()
            server.beginGracefulShutdown()
            try await group.waitForAll()
            #expect(received.errors.load(ordering: .relaxed) == 1)
            #expect(received.messages.withLock { $0 } == [next], "nothing of the abandoned message was delivered")
        }
    }
}
