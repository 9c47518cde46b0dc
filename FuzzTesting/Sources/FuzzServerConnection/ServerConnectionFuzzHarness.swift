// One fuzz input against DeadlineRPC's server connection handler on an in-memory channel. Compiled twice: into the
// libFuzzer target `FuzzServerConnection` (this folder), and — through the symlink
// `Tests/DeadlineRPCTests/Hostile/ServerConnectionFuzzHarness.swift` — into the test target, which replays the seed
// corpus and every minimized crasher with the same code, without a libFuzzer build (with ServerOutputChecker.swift).

@_spi(Fuzzing) import DeadlineRPC
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Wire

/// Drives the real `ServerConnectionHandler` (through `FuzzingServerConnection`) on an `EmbeddedChannel`: the bytes
/// a peer sends, when the loop runs, how far its manual clock moves, writability, shutdown and hang-up are all
/// decided by the input, so a run is deterministic — handler tasks run on the channel's `EmbeddedEventLoop` (the
/// fuzzing SPI's task executor), on the calling thread, only when the input lets the loop run.
///
/// Input: byte 0 is flags, then records, each starting with an op byte (`kind = op & 7`, `arg = op >> 3`):
/// - flags bit 0: the harness sends a valid preface and `SETTINGS` first; bit 1: tight limits (2 streams, small
///   credit, budgets and queues), so the boundaries are a few frames away;
/// - kinds 0–2: `arg * 256 + next byte + 1` bytes follow, sent to the server as one read;
/// - 3: run the loop until nothing is ready (handler tasks make progress);
/// - 4: advance the clock by `delays[arg % 16]`, firing the timers that come due;
/// - 5: flip the channel's writability;
/// - 6: `arg % 4`: 0 release the handlers that ignore cancellation, 1 a read request, 2 graceful shutdown,
///   3 an I/O error;
/// - 7: the peer hangs up.
///
/// Afterwards the peer hangs up, the loop drains with time moved past every timer, and the invariants are checked;
/// ``run(_:)`` returns what broke (empty: nothing).
struct ServerConnectionFuzzHarness {
    /// Clock steps: around the straggler grace, the preface, drain and idle timeouts, and past every deadline.
    static let delays: [TimeAmount] = [
        .zero, .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
        .milliseconds(249), .milliseconds(251), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
        .seconds(10), .seconds(31), .seconds(301), .hours(1),
    ]

    /// The methods served (short names, so mutations find them).
    enum Methods {
        /// Unary: returns the request.
        static let echo = Method<ByteBuffer, ByteBuffer>.raw("f/E", kind: .unary)
        /// Unary: waits for cancellation (deadline, cancel, connection loss), then throws.
        static let wait = Method<ByteBuffer, ByteBuffer>.raw("f/W", kind: .unary)
        /// Unary: ignores cancellation until the input releases it (a straggler), then returns the request.
        static let stubborn = Method<ByteBuffer, ByteBuffer>.raw("f/S", kind: .unary)
        /// Server streaming: writes the request back (its first byte) times.
        static let flood = Method<ByteBuffer, ByteBuffer>.raw("f/F", kind: .serverStreaming)
        /// Client streaming: reads every request, answers with their count.
        static let count = Method<ByteBuffer, ByteBuffer>.raw("f/C", kind: .clientStreaming)
        /// Bidirectional: echoes each request.
        static let chat = Method<ByteBuffer, ByteBuffer>.raw("f/B", kind: .bidirectional)
        /// Unary: fails with a status and trailers.
        static let fail = Method<ByteBuffer, ByteBuffer>.raw("f/X", kind: .unary)
    }

    /// Handlers running now and at most, and the stragglers waiting for release. Touched only on the loop's thread
    /// (the one running the harness); a `Mutex` because handler closures must be `Sendable`.
    final class Handlers: Sendable {
        private struct State {
            var running = 0
            var peak = 0
            var held: [CheckedContinuation<Void, Never>] = []
        }
        private let state = Mutex(State())

        var running: Int { self.state.withLock { $0.running } }
        var peak: Int { self.state.withLock { $0.peak } }

        func enter() {
            self.state.withLock { state in
                state.running += 1
                state.peak = max(state.peak, state.running)
            }
        }

        func leave() { self.state.withLock { $0.running -= 1 } }

        /// Suspends, ignoring cancellation, until ``releaseHeld()``.
        func hold() async {
            await withCheckedContinuation { continuation in self.state.withLock { $0.held.append(continuation) } }
        }

        func releaseHeld() {
            let held = self.state.withLock { state in
                defer { state.held = [] }
                return state.held
            }
            for continuation in held { continuation.resume() }
        }
    }

    static func router(_ handlers: Handlers) -> Router {
        var router = Router()
        router.unary(Methods.echo) { request, _ in
            handlers.enter()
            defer { handlers.leave() }
            return request
        }
        router.unary(Methods.wait) { _, _ in
            handlers.enter()
            defer { handlers.leave() }
            let (never, continuation) = AsyncStream<Never>.makeStream()
            for await _ in never {}  // ends when the task is cancelled
            continuation.finish()
            throw RPCError(code: .cancelled, message: "cancelled while waiting")
        }
        router.unary(Methods.stubborn) { request, _ in
            handlers.enter()
            defer { handlers.leave() }
            await handlers.hold()
            return request
        }
        router.serverStreaming(Methods.flood) { request, writer, _ in
            handlers.enter()
            defer { handlers.leave() }
            for _ in 0..<Int(request.getInteger(at: request.readerIndex, as: UInt8.self) ?? 1) {
                try await writer.write(request)
            }
        }
        router.clientStreaming(Methods.count) { requests, _ in
            handlers.enter()
            defer { handlers.leave() }
            var count: UInt32 = 0
            for try await _ in requests { count += 1 }
            var response = ByteBuffer()
            response.writeInteger(count)
            return response
        }
        router.bidirectional(Methods.chat) { requests, writer, _ in
            handlers.enter()
            defer { handlers.leave() }
            for try await request in requests { try await writer.write(request) }
        }
        router.unary(Methods.fail) { _, _ in
            handlers.enter()
            defer { handlers.leave() }
            throw RPCError(code: .failedPrecondition, message: "fuzz failure", metadata: ["fuzz-trailer": "1"])
        }
        return router
    }

    static func configuration(tight: Bool) -> RPCServer.Configuration {
        var configuration = RPCServer.Configuration()
        configuration.logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        if tight {
            configuration.maxConcurrentStreams = 2
            configuration.initialStreamCredit = 64
            configuration.limits = WireLimits(maxFrameSize: 1024, maxMessageSize: 2048, maxMetadataSize: 128, maxMetadataEntries: 4)
            configuration.minimumBudget = .milliseconds(1)
            configuration.maxInboundBudget = .seconds(2)
            configuration.stragglerGracePeriod = .milliseconds(10)
            configuration.drainTimeout = .seconds(1)
            configuration.prefaceTimeout = .seconds(1)
            configuration.connectionLimits.idleTimeout = .seconds(2)
            configuration.connectionLimits.glitchBudget = 8
            configuration.connectionLimits.glitchRefillPerSecond = 1
            configuration.connectionLimits.pingMinimumInterval = .milliseconds(100)
            configuration.connectionLimits.pingStrikesTolerated = 1
            configuration.connectionLimits.maxQueuedControlFrames = 4
            configuration.connectionLimits.resetBudget = .init(burst: 4, refillPerSecond: 1)
        }
        return configuration
    }

    /// One thing the input makes happen.
    enum Step: CustomStringConvertible {
        case send(ArraySlice<UInt8>)
        case runLoop
        case advance(TimeAmount)
        case flipWritability
        case releaseStragglers
        case read
        case gracefulShutdown
        case ioError
        case hangUp

        var description: String {
            switch self {
            case .send(let bytes): return "send \(bytes.count) bytes"
            case .runLoop: return "run the loop"
            case .advance(let amount): return "advance \(amount)"
            case .flipWritability: return "flip writability"
            case .releaseStragglers: return "release stragglers"
            case .read: return "read request"
            case .gracefulShutdown: return "graceful shutdown"
            case .ioError: return "I/O error"
            case .hangUp: return "hang up"
            }
        }
    }

    /// The steps of an input, after its flags byte (format: the type's doc comment).
    static func steps(_ input: [UInt8]) -> [Step] {
        var steps: [Step] = []
        var index = 1
        while index < input.count {
            let op = input[index]
            index += 1
            let arg = Int(op >> 3)
            switch op & 7 {
            case 0, 1, 2:
                guard index < input.count else { break }
                let length = arg * 256 + Int(input[index]) + 1
                index += 1
                let end = min(input.count, index + length)
                steps.append(.send(input[index..<end]))
                index = end
            case 3: steps.append(.runLoop)
            case 4: steps.append(.advance(Self.delays[arg % Self.delays.count]))
            case 5: steps.append(.flipWritability)
            case 6: steps.append([Step.releaseStragglers, .read, .gracefulShutdown, .ioError][arg % 4])
            default: steps.append(.hangUp)
            }
        }
        return steps
    }

    /// Runs one input; returns the invariants it broke. `observe` sees every frame the server wrote (for `--dump`).
    static func run(_ input: [UInt8], observe: ((Frame) -> Void)? = nil) -> [String] {
        var handlerFreed: () -> Bool = { true }
        var violations = Self.drive(input, observe: observe, handlerFreed: &handlerFreed)
        // Everything of the connection is out of scope now: its handler must be gone (no reference cycle).
        if !handlerFreed() { violations.append("the closed connection's handler is still alive") }
        return violations
    }

    private static func drive(_ input: [UInt8], observe: ((Frame) -> Void)?, handlerFreed: inout () -> Bool) -> [String] {
        guard let flags = input.first else { return [] }
        let configuration = Self.configuration(tight: flags & 2 != 0)
        let handlers = Handlers()
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        let connection: FuzzingServerConnection
        do {
            connection = try FuzzingServerConnection(channel: channel, router: Self.router(handlers), configuration: configuration)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        } catch {
            return ["setup failed: \(error)"]
        }
        handlerFreed = connection.handlerFreed()
        var server = ServerOutputChecker()
        server.observe = observe
        var violations: [String] = []
        var peerClosed = false

        func collect() {
            while let bytes = try? channel.readOutbound(as: ByteBuffer.self) { server.receive(bytes) }
        }

        if flags & 1 != 0 {
            var hello = ByteBuffer()
            FrameEncoder.writePreface(into: &hello)
            FrameEncoder.write(.settings(.default), into: &hello)
            _ = try? channel.writeInbound(hello)
        }
        for step in Self.steps(input) {
            switch step {
            case .send(let bytes):
                _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
            case .runLoop:
                loop.run()
            case .advance(let amount):
                loop.advanceTime(by: amount)
            case .flipWritability:
                channel.isWritable.toggle()
                channel.pipeline.fireChannelWritabilityChanged()
            case .releaseStragglers:
                handlers.releaseHeld()
            case .read:
                channel.read()
            case .gracefulShutdown:
                connection.beginGracefulShutdown()
            case .ioError:
                if channel.isActive { server.closedByIOError = true }
                channel.pipeline.fireErrorCaught(FuzzIOError())
            case .hangUp:
                if channel.isActive { peerClosed = true }
                channel.close(promise: nil)
            }
            collect()
        }

        // Quiescent: the connection is either open, or the server closed it after a goaway.
        loop.run()
        collect()
        if !peerClosed && !channel.isActive && !server.sawGoAway && !server.closedByIOError {
            violations.append("the server closed the connection without a goaway")
        }
        if let code = server.errorGoAway, channel.isActive {
            violations.append("GOAWAY(\(code)) sent but the connection stays open")
        }

        // The peer hangs up; then every handler must return once stragglers are released and the timers have run.
        if !channel.isActive { peerClosed = true }
        channel.close(promise: nil)
        var drained = false
        connection.handlersDone.assumeIsolated().whenComplete { _ in drained = true }
        for _ in 0..<8 where !drained {
            handlers.releaseHeld()
            loop.advanceTime(by: .hours(1))
        }
        collect()
        if !drained { violations.append("handler tasks still running after close: \(handlers.running)") }
        if handlers.running != 0 { violations.append("\(handlers.running) handlers did not return") }
        if handlers.peak > configuration.maxConcurrentStreams {
            violations.append("\(handlers.peak) handlers ran at once; the limit is \(configuration.maxConcurrentStreams)")
        }
        let stats = connection.stats
        if stats.handlersInFlight != 0 { violations.append("handlers in flight after close: \(stats.handlersInFlight)") }
        if stats.callsStarted != stats.callsFinished {
            violations.append("calls started \(stats.callsStarted) != finished \(stats.callsFinished)")
        }
        if stats.connections != 0 { violations.append("connections gauge \(stats.connections) after close") }
        violations += server.violations
        _ = try? channel.finish(acceptAlreadyClosed: true)
        return violations
    }
}

/// An I/O error, as a socket would raise one.
struct FuzzIOError: Error {}
