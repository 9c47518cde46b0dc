@_spi(Fuzzing) import DeadlineRPC
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
import Wire

/// A request is a slice of the receive read it arrived in, and a slice keeps the whole read alive. A handler that
/// parks (a long poll, a slow dependency) must not make its call keep that read: once the request is decoded into a
/// value of its own, the call holds none of the read. A raw-bytes handler is given the slice itself, and holds the
/// read as long as it holds the slice.
@Suite("A parked handler's call keeps nothing of its request's receive read once the request is decoded", .timeLimit(.minutes(5)))
struct RequestReadReleaseTests {
    /// Decodes a request into its first byte, as a protobuf or JSON codec leaves nothing of the bytes in its value.
    struct FirstByteCodec: MessageCodec {
        func encode(_ message: Int, into buffer: inout ByteBuffer) {
            buffer.writeInteger(UInt8(truncatingIfNeeded: message))
        }
        func decode(_ buffer: ByteBuffer) -> Int {
            Int(buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) ?? 0)
        }
    }

    static let decoded = Method<Int, ByteBuffer>(
        "test.Release/Decoded", kind: .unary, requestCodec: FirstByteCodec(), responseCodec: RawBytesCodec())
    static let raw = Method<ByteBuffer, ByteBuffer>.raw("test.Release/Raw", kind: .unary)

    static func router() -> Router {
        var router = Router()
        router.unary(Self.decoded) { request, _ in
            try await untilCancelled()
            return ByteBuffer(integer: UInt8(truncatingIfNeeded: request))
        }
        router.unary(Self.raw) { request, _ in
            try await untilCancelled()
            return request
        }
        return router
    }

    /// Hands a server connection the client's preface and one unary call of `method` in one 64 KiB "receive read",
    /// runs its handler until it parks, and says whether anything still holds that read; then closes the connection
    /// and checks that the handler was cancelled and returned.
    static func readHeldByParkedCall(_ method: String) throws -> Bool {
        let channel = EmbeddedChannel()
        let connection = try FuzzingServerConnection(channel: channel, router: Self.router(), configuration: RPCServer.Configuration())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        weak var readStorage: AnyObject?
        do {
            var read = ByteBufferAllocator().buffer(capacity: 65_536)
            FrameEncoder.writePreface(into: &read)
            FrameEncoder.write(.settings(Settings()), into: &read)
            FrameEncoder.write(.callStart(CallStart(streamID: 1, method: method)), into: &read)
            FrameEncoder.write(.message(.whole(streamID: 1, ByteBuffer(repeating: 7, count: 64), endStream: true)), into: &read)
            readStorage = read.storageObject
            try channel.writeInbound(read)
        }
        channel.embeddedEventLoop.run()
        #expect(connection.stats.handlersInFlight == 1)
        let held = readStorage != nil

        _ = channel.close()
        channel.embeddedEventLoop.run()
        let handlersReturned = Flag()
        connection.handlersDone.whenSuccess { handlersReturned.set() }
        channel.embeddedEventLoop.run()
        #expect(handlersReturned.isSet)
        #expect(connection.stats.handlersInFlight == 0)
        return held
    }

    @Test("A decoded request: the parked call keeps none of the read (it is freed)")
    func decodedRequestFreesTheRead() throws {
        #expect(try Self.readHeldByParkedCall(Self.decoded.name) == false)
    }

    @Test("A raw request: the handler holds the slice, so the read stays alive (the check above can tell)")
    func rawRequestHoldsTheRead() throws {
        #expect(try Self.readHeldByParkedCall(Self.raw.name) == true)
    }
}

/// A flag a callback sets and the test reads.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { self.value.load(ordering: .relaxed) }
    func set() { self.value.store(true, ordering: .relaxed) }
}
