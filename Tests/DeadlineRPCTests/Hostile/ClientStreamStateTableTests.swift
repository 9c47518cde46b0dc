import DeadlineRPC
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import Wire

/// A test server that speaks the wire protocol frame by frame to a real ``RPCClient``: it sends its preface and
/// settings, records every frame the client sends, and sends whatever the test tells it to (valid or not).
final class RawServer: Sendable {
    private final class Peer: Sendable {
        let channel = Mutex<(any Channel)?>(nil)
    }

    /// Greets each client connection with the preface and settings, and keeps its channel for ``send(_:)``; the
    /// frames the client sends are decoded by ``RawConnection/Collector`` behind it.
    private final class Greeter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let peer: Peer

        init(peer: Peer) {
            self.peer = peer
        }

        func channelActive(context: ChannelHandlerContext) {
            self.peer.channel.withLock { $0 = context.channel }
            var buffer = context.channel.allocator.buffer(capacity: 64)
            FrameEncoder.writePreface(into: &buffer)
            FrameEncoder.write(.settings(Settings()), into: &buffer)
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            context.fireChannelActive()
        }
    }

    private let listener: any Channel
    private let peer: Peer
    /// What the (one) client connection sent, in order.
    let events: AsyncStream<RawConnection.Event>
    /// The listening port on 127.0.0.1.
    let port: Int

    private init(listener: any Channel, peer: Peer, events: AsyncStream<RawConnection.Event>) {
        self.listener = listener
        self.peer = peer
        self.events = events
        self.port = listener.localAddress?.port ?? 0
    }

    /// Listens on a free port; serves one client connection at a time.
    static func start() async throws -> RawServer {
        let (events, continuation) = AsyncStream.makeStream(of: RawConnection.Event.self)
        let peer = Peer()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        Greeter(peer: peer), RawConnection.Collector(continuation: continuation)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawServer(listener: listener, peer: peer, events: events)
    }

    /// Sends frames to the connected client.
    func send(_ frames: Frame...) async throws {
        try await self.send(RawFrames.encode(frames))
    }

    func send(_ bytes: ByteBuffer) async throws {
        guard let channel = self.peer.channel.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
        try await channel.writeAndFlush(bytes)
    }

    /// Drops the client's connection (no GOAWAY): connection loss.
    func dropConnection() async {
        try? await self.peer.channel.withLock({ $0 })?.close()
    }

    func close() async {
        await self.dropConnection()
        try? await self.listener.close()
    }

    /// Collects events until `stop` matches one (included) or the connection closes; `timeout` only turns a
    /// would-be hang into a failure, it is not a timing assertion.
    func collect(timeout: Duration = .seconds(30), until stop: @escaping @Sendable (RawConnection.Event) -> Bool) async -> (events: [RawConnection.Event], matched: Bool) {
        await self.events.collect(timeout: timeout, until: stop)
    }
}

/// The client half of PROTOCOL.md §9.3's state table, as ``ServerStateTable`` is the server half: each cell with
/// how the spec's text begins (checked against the markdown) and the outcome driven against a real ``RPCClient``.
enum ClientStateTable {
    enum State: String, Sendable, CaseIterable {
        case idle
        case open
        case halfClosed = "half-closed (client)"
        case closed
    }

    enum Outcome: Sendable, Equatable {
        /// The client sends `GOAWAY(PROTOCOL_ERROR)` and closes; an open call fails `UNAVAILABLE`.
        case protocolError
        /// The message reaches the caller.
        case delivered
        /// The call completes with the `CALL_END`'s status and message.
        case completed
        /// The call fails with the `CANCEL` reason's status; the client sends nothing.
        case failedByCancel
        /// Nothing sent; the call stays open (and completes later).
        case accepted
        /// The call fails with the error's status and the client sends `CANCEL(stream error)`.
        case streamErrorCancel
        /// Nothing sent for the stream; the connection lives on.
        case dropped
        /// The call fails `DEADLINE_EXCEEDED` and the client sends `CANCEL(deadline exceeded)`.
        case deadline
        /// The call fails `UNAVAILABLE` (a `GOAWAY` below its id, or the connection lost).
        case unavailable
        /// A local action or "—"; covered by `CallStateMachineClientTests` and the end-to-end suites.
        case notDriven(String)
    }

    struct Cell: Sendable, CustomTestStringConvertible {
        let event: String
        let variant: String
        let state: State
        let specSays: String
        let outcome: Outcome

        var testDescription: String { "\(self.variant) on \(self.state.rawValue) → \(self.specSays)" }
    }

    static let local = Outcome.notDriven("a local action")

    static let rows: [(event: String, variants: [String], cells: [(String, Outcome)])] = [
        ("send `CALL_START`", ["send CALL_START"], [("→ open", local), ("—", local), ("—", local), ("—", local)]),
        ("send `MESSAGE`", ["send MESSAGE"], [("never", local), ("allowed within credit", local), ("never", local), ("never", local)]),
        ("send `HALF_CLOSE`", ["send HALF_CLOSE"], [("never", local), ("→ half-closed", local), ("never", local), ("never", local)]),
        ("send `CANCEL` (caller cancelled, deadline, shutdown, …)", ["send CANCEL"], [
            ("never", local), ("fail the call with the reason's status", local), ("same → closed", local), ("never", local),
        ]),
        ("client's deadline passes", ["deadline"], [
            ("—", .notDriven("no call")), ("fail with `DEADLINE_EXCEEDED`, send `CANCEL(deadline exceeded)`", .deadline),
            ("same → closed", .deadline), ("—", .notDriven("an ended call has no deadline")),
        ]),
        ("recv `MESSAGE` / `MESSAGE_CONTINUATION`", ["MESSAGE", "MESSAGE_CONTINUATION"], [
            ("PE", .protocolError), ("deliver", .delivered), ("deliver (same)", .delivered), ("drop quietly", .dropped),
        ]),
        ("recv `CALL_END`", ["CALL_END"], [
            ("PE", .protocolError), ("complete the call with the status", .completed), ("same → closed", .completed), ("drop quietly", .dropped),
        ]),
        ("recv `CANCEL`", ["CANCEL"], [
            ("PE", .protocolError), ("fail the call with the reason's status", .failedByCancel), ("same → closed", .failedByCancel), ("drop quietly", .dropped),
        ]),
        ("recv `CREDIT`", ["CREDIT"], [
            ("PE", .protocolError), ("add to send credit", .accepted), ("add (nothing more to send)", .accepted), ("drop quietly", .dropped),
        ]),
        ("recv `CALL_START` / `HALF_CLOSE`", ["CALL_START", "HALF_CLOSE"], [
            ("PE (role)", .protocolError), ("PE (role)", .protocolError), ("PE (role)", .protocolError), ("PE (role)", .protocolError),
        ]),
        ("stream error in a received frame", ["stream error"], [
            ("PE (never opened)", .protocolError), ("fail the call with the status, send `CANCEL(stream error)`", .streamErrorCancel),
            ("same → closed", .streamErrorCancel), ("drop quietly", .dropped),
        ]),
        ("`GOAWAY` received with last stream id < this id", ["GOAWAY"], [
            ("—", .notDriven("no call")), ("fail with `UNAVAILABLE`", .unavailable), ("same → closed", .unavailable), ("—", .notDriven("no call")),
        ]),
        ("connection lost", ["connection lost"], [
            ("—", .notDriven("no call")), ("fail with `UNAVAILABLE`", .unavailable), ("same → closed", .unavailable), ("—", .notDriven("no call")),
        ]),
    ]

    static let cells: [Cell] = rows.flatMap { row in
        row.variants.flatMap { variant in
            zip(State.allCases, row.cells).map { state, cell in
                Cell(event: row.event, variant: variant, state: state, specSays: cell.0, outcome: cell.1)
            }
        }
    }

    static let drivenCells: [Cell] = cells.filter {
        if case .notDriven = $0.outcome { return false }
        return true
    }
}

/// What a call ended with.
enum CallResult: Sendable {
    case success([Echo])
    case failure(RPCError)

    var error: RPCError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

extension HostileTests {
    /// Issue #14 point 7, client side: every cell of PROTOCOL.md §9.3's client table, a raw server against a real
    /// ``RPCClient``.
    @Suite("§9.3 Client stream state table, cell by cell")
    struct ClientStreamStateTableTests {
        @Test("The test's table mirrors PROTOCOL.md §9.3 (client side): same rows, same columns, each cell as the spec says")
        func tableMirrorsTheSpec() throws {
            let spec = try ServerStateTable.parseSpecTable(after: "**Client side**")
            #expect(spec.map(\.event) == ClientStateTable.rows.map(\.event), "rows of §9.3 (client) changed")
            for (specRow, row) in zip(spec, ClientStateTable.rows) {
                #expect(specRow.cells.count == ClientStateTable.State.allCases.count, "\(row.event): columns changed")
                for (text, cell) in zip(specRow.cells, row.cells) {
                    #expect(text.hasPrefix(cell.0), "\(row.event): the spec says '\(text)', the test expects '\(cell.0)…'")
                }
            }
            #expect(ClientStateTable.drivenCells.count >= 35)
        }

        @Test("Cell", arguments: ClientStateTable.drivenCells)
        func cell(_ cell: ClientStateTable.Cell) async throws {
            let server = try await RawServer.start()
            let client = RPCClient(host: "127.0.0.1", port: server.port)
            do {
                try await Self.drive(cell, server: server, client: client)
            } catch {
                await client.close()
                await server.close()
                throw error
            }
            await client.close()
            await server.close()
        }

        /// The call of the cell's state: stream 1. Open: a bidirectional call whose requests never end; half-closed
        /// (and idle, whose frames go to the never-opened stream 3): a server-streaming call; closed: a unary call
        /// the server completes first.
        private static func call(_ cell: ClientStateTable.Cell, _ client: RPCClient) async -> CallResult {
            let options = CallOptions(timeout: cell.outcome == .deadline ? .milliseconds(300) : .seconds(30))
            do {
                switch cell.state {
                case .open:
                    return .success(try await client.bidirectional(
                        TestMethods.update,
                        options: options,
                        requests: { _ in try await untilCancelled() },
                        responses: { responses in
                            var got: [Echo] = []
                            for try await response in responses { got.append(response) }
                            return got
                        }
                    ))
                case .halfClosed where cell.event.contains("GOAWAY"):
                    // A call the runtime could send again (one request, still held) would be sent again on a fresh
                    // connection (§14.2): the stream's own outcome shows on one whose requests are gone.
                    return .success([try await client.clientStreaming(TestMethods.collect, options: options) { writer in
                        try await writer.write(Echo(text: "x"))
                    }])
                case .halfClosed, .idle:
                    return .success(try await client.serverStreaming(TestMethods.expand, Echo(text: "x"), options: options) { responses in
                        var got: [Echo] = []
                        for try await response in responses { got.append(response) }
                        return got
                    })
                case .closed:
                    return .success([try await client.unary(TestMethods.echo, Echo(text: "x"), options: options)])
                }
            } catch let error as RPCError {
                return .failure(error)
            } catch {
                return .failure(RPCError(code: .unknown, message: "\(error)"))
            }
        }

        private static func drive(_ cell: ClientStateTable.Cell, server: RawServer, client: RPCClient) async throws {
            try await withThrowingTaskGroup(of: CallResult.self) { group in
                group.addTask { await Self.call(cell, client) }
                // The client's CALL_START (and, but for the open state, its request with END_STREAM).
                let (_, started) = await server.collect { event in
                    switch (cell.state, event) {
                    case (.open, .frame(.callStart(let start))): return start.streamID == 1
                    case (_, .frame(.message(let message))): return message.streamID == 1 && message.endStream
                    case (.halfClosed, .frame(.halfClose(let streamID))): return streamID == 1
                    default: return false
                    }
                }
                #expect(started, "the client did not start its call")
                if cell.state == .closed {
                    try await server.send(.message(.whole(streamID: 1, ByteBuffer(bytes: echoBytes()))), .callEnd(CallEnd(streamID: 1, status: .ok)))
                    let result = try await group.next()!
                    #expect(result.error == nil)
                }
                let id: UInt32 = cell.state == .idle ? 3 : 1
                var bytes = Self.frame(for: cell, streamID: id)
                // A ping after the frame: once its ack is back the client has handled the frame (frames are handled
                // in order), so "nothing was sent for the stream" is an observation, not a guess.
                var ping = RawFrames.encode([.ping(PingFrame(payload: 0x0D0D, ack: false))])
                bytes.writeBuffer(&ping)
                switch cell.outcome {
                case .deadline:
                    break
                case .unavailable where cell.variant == "connection lost":
                    await server.dropConnection()
                default:
                    try await server.send(bytes)
                }
                let (events, matched) = await server.collect { event in
                    switch event {
                    case .frame(.ping(let ping)): return ping.ack && ping.payload == 0x0D0D
                    case .frame(.goAway), .closed: return true
                    case .frame(.cancel(let streamID, _)): return cell.outcome == .deadline && streamID == id
                    default: return false
                    }
                }
                let sent = events.compactMap { event -> Frame? in
                    guard case .frame(let frame) = event else { return nil }
                    if case .credit = frame { return nil }  // Credit for a message being assembled (§10.1).
                    if case .ping = frame { return nil }
                    return frame
                }
                switch cell.outcome {
                case .protocolError:
                    guard case .goAway(let goAway)? = sent.first(where: { if case .goAway = $0 { return true }; return false }) else {
                        Issue.record("expected GOAWAY(PROTOCOL_ERROR), the client sent \(sent)")
                        return
                    }
                    #expect(goAway.code == .protocolError)
                    #expect(goAway.lastStreamID == 0)
                    if cell.state != .closed {
                        let result = try await group.next()!
                        #expect(result.error?.code == .unavailable, "\(result)")
                    }
                case .delivered, .accepted:
                    #expect(matched)
                    #expect(sent.isEmpty, "the client sent \(sent)")
                    try await server.send(.callEnd(CallEnd(streamID: 1, status: .ok)))
                    let result = try await group.next()!
                    guard case .success(let got) = result else {
                        Issue.record("the call failed: \(result)")
                        return
                    }
                    #expect(got == (cell.outcome == .delivered ? [Echo(text: "x")] : []))
                case .completed:
                    #expect(sent.isEmpty, "the client sent \(sent)")
                    let result = try await group.next()!
                    #expect(result.error?.code == .notFound)
                    #expect(result.error?.message == "gone")
                case .failedByCancel:
                    #expect(sent.isEmpty, "the client sent \(sent)")
                    let result = try await group.next()!
                    #expect(result.error?.code == .resourceExhausted)
                    #expect(result.error?.cancelReason == .resourceLimit)
                case .streamErrorCancel:
                    #expect(sent == [.cancel(streamID: 1, reason: .streamError)])
                    let result = try await group.next()!
                    #expect(result.error?.code == .resourceExhausted, "\(result)")
                case .dropped:
                    #expect(matched, "the connection did not survive")
                    #expect(sent.isEmpty, "the client sent \(sent)")
                    #expect(client.stats.lateFramesDropped == 1, "a dropped frame is counted")
                case .deadline:
                    #expect(sent == [.cancel(streamID: 1, reason: .deadlineExceeded)])
                    let result = try await group.next()!
                    #expect(result.error?.code == .deadlineExceeded)
                case .unavailable:
                    let result = try await group.next()!
                    #expect(result.error?.code == .unavailable, "\(result)")
                case .notDriven:
                    break
                }
                group.cancelAll()
            }
        }

        /// The frame (or frames) a cell's server sends.
        private static func frame(for cell: ClientStateTable.Cell, streamID id: UInt32) -> ByteBuffer {
            switch cell.variant {
            case "MESSAGE":
                return RawFrames.encode([.message(.whole(streamID: id, ByteBuffer(bytes: echoBytes())))])
            case "MESSAGE_CONTINUATION":
                if cell.state == .open || cell.state == .halfClosed {
                    let body = echoBytes()
                    return RawFrames.encode([
                        .message(MessageFrame(streamID: id, messageLength: UInt32(body.count), data: ByteBuffer(bytes: body.prefix(2)), more: true)),
                        .message(MessageFrame(streamID: id, messageLength: nil, data: ByteBuffer(bytes: body.dropFirst(2)))),
                    ])
                }
                return RawFrames.frame(type: FrameType.messageContinuation.rawValue, streamID: id, payload: [1, 2])
            case "CALL_END":
                return RawFrames.encode([.callEnd(CallEnd(streamID: id, status: .notFound, message: "gone"))])
            case "CANCEL":
                return RawFrames.encode([.cancel(streamID: id, reason: .resourceLimit)])
            case "CREDIT":
                return RawFrames.encode([.credit(streamID: id, bytes: 1024)])
            case "CALL_START":
                return RawFrames.encode([.callStart(CallStart(streamID: id, method: TestMethods.echo.name))])
            case "HALF_CLOSE":
                return RawFrames.encode([.halfClose(streamID: id)])
            case "stream error":
                // A message declared larger than the client's maxMessageSize (4 MiB): messageTooLarge.
                return RawFrames.encode([
                    .message(MessageFrame(streamID: id, messageLength: 8 * 1024 * 1024, data: ByteBuffer(bytes: [1]), more: true))
                ])
            case "GOAWAY":
                return RawFrames.encode([.goAway(GoAway(lastStreamID: 0, code: .noError, reason: "going away"))])
            default:
                return ByteBuffer()
            }
        }
    }
}
