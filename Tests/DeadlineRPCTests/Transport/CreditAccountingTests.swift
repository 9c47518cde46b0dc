@testable import DeadlineRPC
import NIOCore
import Testing
import Wire

/// Credit goes back exactly once for every byte the peer sent: a message split over several frames has its early
/// fragments granted on arrival and only its last frame when the reader consumes it — not the whole message again,
/// which let a long stream of large messages grow the peer's window without bound (until a window past 2^31−1 ended
/// the connection with FLOW_CONTROL_ERROR).
@Suite("Credit accounting for split messages", .timeLimit(.minutes(2)))
struct CreditAccountingTests {
    static let count = Method<ByteBuffer, ByteBuffer>.raw("credit.Credit/Count", kind: .bidirectional)
    static let late = Method<ByteBuffer, ByteBuffer>.raw("credit.Credit/Late", kind: .unary)

    /// A server call gets its write queue only when it first sends (a parked call holds none), so credit the client
    /// grants before that must make the queue rather than be dropped as credit for an ended stream.
    @Test("CREDIT for a call that has sent nothing yet is kept: the reply goes out whole on it, with no further grant")
    func creditBeforeTheFirstResponseIsKept() async throws {
        let (started, startedSignal) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
        var router = Router()
        router.unary(Self.late) { _, _ in
            startedSignal.yield()
            for await _ in release { break }
            return ByteBuffer(repeating: 7, count: 1_000)
        }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            // 100 bytes of credit per stream: the 1,000-byte reply needs the 900 granted below.
            let raw = try await RawConnection.connect(port: port, settings: Settings(initialStreamCredit: 100))
            // A budget bounds the failure: without the grant the reply would stall at 100 bytes until it ran out.
            let budget = WireBudget(remainingMicroseconds: 20_000_000, originalMicroseconds: 20_000_000)
            try await raw.send(
                .callStart(CallStart(streamID: 1, method: Self.late.name, budget: budget)),
                .message(.whole(streamID: 1, ByteBuffer(string: "go"), endStream: true))
            )
            var startedEvents = started.makeAsyncIterator()
            _ = await startedEvents.next()
            // The PING's ack says the server handled the CREDIT ahead of it.
            try await raw.send(.credit(streamID: 1, bytes: 900), .ping(PingFrame(payload: 42, ack: false)))
            var acked = false
            while !acked, let event = await raw.next() {
                guard case .frame(.ping(let ping)) = event, ping.ack, ping.payload == 42 else {
                    Issue.record("unexpected \(event) before the PING's ack")
                    break
                }
                acked = true
            }
            #expect(acked)
            releaseSignal.yield()
            var replyBytes = 0
            var end: CallEnd?
            while end == nil, let event = await raw.next() {
                switch event {
                case .frame(.message(let frame)) where frame.streamID == 1: replyBytes += frame.data.readableBytes
                case .frame(.callEnd(let callEnd)): end = callEnd
                default:
                    Issue.record("unexpected \(event)")
                    end = CallEnd(streamID: 1, status: .unknown)
                }
            }
            #expect(replyBytes == 1_000)
            #expect(end?.status == .ok)
            await raw.close()
            group.cancelAll()
        }
    }

    /// The handler acknowledges every message it reads, and the client half-closes only after the last
    /// acknowledgement: each read's grant is handed to the loop before the handler's reply (both in program order
    /// through `execute`), so by then every grant the server owes has been written or is under the threshold. Without
    /// the wait, a handler still behind at the half-close let up to a window of grants be dropped (the client sends
    /// nothing more), and the lower bound below depended on scheduling.
    @Test("40 messages of three 8 KiB frames each: once the handler has read them all, the server has granted back at most what was sent, and all but less than half a window of it")
    func splitMessagesAreGrantedOnce() async throws {
        var router = Router()
        router.bidirectional(Self.count) { requests, writer, _ in
            var total = 0
            for try await message in requests {
                total += message.readableBytes
                try await writer.write(ByteBuffer(string: "\(total)"))
            }
        }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let raw = try await RawConnection.connect(port: port)
            let frameSize = 8 * 1024  // Under maxFrameSize (16 KiB) with the first frame's length field.
            let messages = 40
            var window = Int(Settings().initialStreamCredit)  // What this client may send before it needs CREDIT.
            var sent = 0
            var granted = 0
            var acknowledged = 0
            var lastTotal = ""
            /// Takes one frame from the server: a grant or an acknowledgement; anything else is a failure.
            func receive() async -> Bool {
                guard let event = await raw.next() else {
                    Issue.record("the connection closed")
                    return false
                }
                switch event {
                case .frame(.credit(streamID: 1, let bytes)):
                    window += Int(bytes)
                    granted += Int(bytes)
                case .frame(.message(let frame)) where frame.streamID == 1:
                    acknowledged += 1
                    lastTotal = String(buffer: frame.data)
                default:
                    Issue.record("unexpected \(event)")
                    return false
                }
                return true
            }
            try await raw.send(.callStart(CallStart(streamID: 1, method: Self.count.name)))
            for _ in 0..<messages {
                for part in 0..<3 {
                    while window < frameSize {
                        guard await receive() else { return }
                    }
                    let frame = MessageFrame(
                        streamID: 1,
                        messageLength: part == 0 ? UInt32(3 * frameSize) : nil,
                        data: ByteBuffer(repeating: UInt8(part), count: frameSize),
                        more: part < 2
                    )
                    try await raw.send(.message(frame))
                    window -= frameSize
                    sent += frameSize
                }
            }
            while acknowledged < messages {
                guard await receive() else { return }
            }
            #expect(lastTotal == "\(messages * 3 * frameSize)")
            try await raw.send(.halfClose(streamID: 1))
            var status: StatusCode?
            while status == nil, let event = await raw.next() {
                switch event {
                case .frame(.credit(streamID: 1, let bytes)): granted += Int(bytes)
                case .frame(.callEnd(let end)): status = end.status
                case .frame: continue
                default: Issue.record("unexpected \(event)")
                }
                if case .closed = event { break }
            }
            #expect(status == .ok)
            #expect(sent == messages * 3 * frameSize)
            // Every fragment and every consumed message's last frame, each once; what is still owed when the client
            // half-closes (less than the half window that triggers a grant) is dropped, as nothing more will come.
            #expect(granted <= sent, "granted \(granted) for \(sent) bytes sent")
            #expect(granted > sent - Int(Settings().initialStreamCredit) / 2, "granted \(granted) for \(sent) bytes sent")
            await raw.close()
            group.cancelAll()
        }
    }
}
