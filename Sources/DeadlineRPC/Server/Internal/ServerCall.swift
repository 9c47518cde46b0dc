import Wire
import NIOCore
import Instrumentation

/// The handler task's side of one server stream: the request(s), the context, and the way back to the
/// connection's event loop for responses and the outcome.
final class ServerCall: Sendable {
    let context: CallContext
    let streamID: UInt32
    /// The request of a single-request call, until the handler decodes it. A request is a slice of the receive
    /// read it arrived in, and a slice keeps the whole read alive (up to 64 KiB), so a parked handler must not keep
    /// holding it once decoded: a codec that copies out what it needs (protobuf, JSON) frees it then.
    ///
    /// `nonisolated(unsafe)` is sound because it is written in `init`, before the handler task exists (the task's
    /// creation orders the write before every read), and then read and replaced only by that one task, in
    /// ``decodeFirst(_:)``: the router calls it from the handler's body, which runs inside the task, and a server
    /// interceptor's `next` is not `Sendable`, so no other task can run the body.
    nonisolated(unsafe) private var firstMessage: FirstMessage
    /// The requests of a streaming-request call.
    let requests: InboundMessageQueue?
    /// Where responses are encoded: NIO's default allocator, which is what every channel of NIO's POSIX transport
    /// (and so every DeadlineRPC connection) uses. Made on use rather than stored: stored, it is 40 bytes in every
    /// call (issue #19, goal 5).
    var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    private let connection: NIOLoopBound<ServerConnectionHandler>
    /// The connection's queue of handler outcomes (shared by all its calls).
    private let outcomes: LoopInbox<HandlerOutcome>

    init(
        context: CallContext,
        streamID: UInt32,
        firstMessage: ByteBuffer?,
        requests: InboundMessageQueue?,
        connection: NIOLoopBound<ServerConnectionHandler>,
        outcomes: LoopInbox<HandlerOutcome>
    ) {
        self.context = context
        self.streamID = streamID
        self.firstMessage = firstMessage.map { .bytes($0) } ?? .empty
        self.requests = requests
        self.connection = connection
        self.outcomes = outcomes
    }

    /// What is left of a single-request call's request.
    private enum FirstMessage {
        /// Not decoded yet.
        case bytes(ByteBuffer)
        /// Not decoded yet; the request had no bytes.
        case empty
        /// Handed to the codec: the call keeps none of it.
        case decoded
    }

    private func onLoop(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) {
        let eventLoop = self.connection.eventLoop
        if eventLoop.inEventLoop {
            body(self.connection.value)
        } else {
            let connection = self.connection
            eventLoop.execute { body(connection.value) }
        }
    }

    /// Decodes the single request; a failure ends the call with `internal`, or with the status of the `RPCError` the
    /// codec threw (a codec that can tell a malformed request says `invalidArgument` and why), or `invalidArgument`
    /// for a call's JSON form, which the caller wrote.
    /// A second decode (an interceptor that called `next` twice, which its contract rules out) fails with `internal`
    /// rather than hand the handler an empty request.
    func decodeFirst<Request>(_ codec: any MessageCodec<Request>) throws -> Request {
        let bytes: ByteBuffer
        switch self.firstMessage {
        case .bytes(let message): bytes = message
        case .empty: bytes = ByteBuffer()
        case .decoded:
            throw RPCError(code: .internal, message: "The request was already decoded: a server interceptor called `next` more than once.")
        }
        self.firstMessage = .decoded
        do {
            return try codec.decode(bytes)
        } catch let error as RPCError {
            throw error
        } catch let error as JSONFormDecodingError {
            throw RPCError(code: .invalidArgument, message: error.description, cause: error.cause)
        } catch {
            throw RPCError(code: .internal, message: "The request message could not be decoded.", cause: error)
        }
    }

    /// Runs a single-response handler body inside the interceptors, with the call context set, then reports the
    /// outcome.
    func respond<Response>(
        _ codec: any MessageCodec<Response>,
        _ environment: HandlerEnvironment,
        _ body: (CallContext) async throws -> Response
    ) async {
        // The response is encoded as the body returns (an encoding failure is kept, not thrown, so the interceptors
        // see what they saw before): a `Response?` held across the chain is an `Optional` of a generic type, a
        // metadata look-up per call.
        var encoded: Result<ByteBuffer, ResponseEncodingFailure>? = nil
        do {
            try await self.run(environment) { context in
                let response = try await body(context)
                do {
                    encoded = .success(try self.encode(response, codec))
                } catch {
                    encoded = .failure(ResponseEncodingFailure())
                }
            }
            switch encoded {
            case nil:
                // Only an interceptor that returned without calling `next` gets here.
                self.finish(response: nil, status: Status(code: .internal, message: "An interceptor ended the call without running the handler or throwing a status."), trailers: Metadata())
            case .failure(let failure)?:
                self.finishFailed(failure)
            case .success(let buffer)?:
                self.finish(response: buffer, status: .ok, trailers: self.context.control.trailers)
            }
        } catch {
            let (status, trailers) = self.outcome(of: error)
            self.finish(response: nil, status: status, trailers: trailers)
        }
    }

    /// Runs a unary handler without interceptors, with the call context set, then reports the outcome.
    ///
    /// The same outcomes as ``respond(_:_:_:)`` on a flatter path: a parked handler's task holds every async frame
    /// between its start and its handler for the whole call, and each one that does not fit the current 984-byte
    /// slab of Swift's task allocator costs another slab (issue #19, goal 5). So no closure levels beyond the two
    /// task-local bindings, and `ServiceContext`'s binding through its `TaskLocal` (inlined) rather than through
    /// `ServiceContext.withValue` (a frame of its own).
    func respondUnary(_ environment: HandlerEnvironment, _ body: @Sendable (ServerCall, CallContext) async throws -> ByteBuffer) async {
        do {
            let context = try self.handlerContext(environment)
            let response = try await ServiceContext.$current.withValue(context.serviceContext) {
                try await CallContext.$current.withValue(context) { try await body(self, context) }
            }
            self.finish(response: response, status: .ok, trailers: self.context.control.trailers)
        } catch {
            self.finishFailed(error)
        }
    }

    /// Encodes a single-response handler's response; a failure becomes `internal` (see ``finishFailed(_:)``).
    func encode<Response>(_ response: Response, _ codec: any MessageCodec<Response>) throws -> ByteBuffer {
        var buffer = self.allocator.buffer(capacity: 0)
        do {
            try codec.encode(response, into: &buffer)
        } catch {
            throw ResponseEncodingFailure()
        }
        return buffer
    }

    /// Reports what a handler threw (or that its response could not be encoded), off the async frames.
    @inline(never)
    private func finishFailed(_ error: any Error) {
        if error is ResponseEncodingFailure {
            self.finish(response: nil, status: Status(code: .internal, message: "The response message could not be encoded."), trailers: Metadata())
            return
        }
        let (status, trailers) = self.outcome(of: error)
        self.finish(response: nil, status: status, trailers: trailers)
    }

    /// Runs a streaming-response handler body inside the interceptors, with the call context set, then reports the
    /// outcome.
    func respondStreaming(_ environment: HandlerEnvironment, _ body: (CallContext) async throws -> Void) async {
        do {
            try await self.run(environment, body)
            self.finish(response: nil, status: .ok, trailers: self.context.control.trailers)
        } catch {
            let (status, trailers) = self.outcome(of: error)
            self.finish(response: nil, status: status, trailers: trailers)
        }
    }

    /// Extracts the trace context and the propagated keys, then runs `body` inside the interceptor chain with ``CallContext/current`` and
    /// `ServiceContext.current` set to what the innermost interceptor passed on.
    ///
    /// Kept small on purpose: an async function's frame holds everything its body (and what is inlined into it)
    /// keeps on the stack, and the frame stays allocated in the handler task for as long as the handler runs. The
    /// extraction is synchronous, so it runs in ``handlerContext(_:)``, off this frame (it took 2 KiB here).
    private func run(_ environment: HandlerEnvironment, _ body: (CallContext) async throws -> Void) async throws {
        let context = try self.handlerContext(environment)
        if environment.interceptors.isEmpty {
            try await Self.serve(context, body)
        } else {
            try await Self.intercepted(context, environment.interceptors, body)
        }
    }

    /// Runs `body` inside `interceptors`, with ``CallContext/current`` set for them (apart from ``run(_:_:)``, so
    /// a call without interceptors does not carry this path's closures in its frame).
    private static func intercepted(
        _ context: CallContext,
        _ interceptors: [any ServerInterceptor],
        _ body: (CallContext) async throws -> Void
    ) async throws {
        try await CallContext.$current.withValue(context) {
            try await interceptors.intercept(context) { context in try await Self.serve(context, body) }
        }
    }

    /// The call's context with the trace context and the propagated keys read from its metadata.
    @inline(never)
    private func handlerContext(_ environment: HandlerEnvironment) throws -> CallContext {
        var context = self.context
        let instrument = environment.instrument ?? InstrumentationSystem.instrument
        if environment.propagatedKeys.isEmpty {
            instrument.extract(context.metadata, into: &context.serviceContext, using: MetadataExtractor())
        } else {
            try environment.propagatedKeys.extract(from: context.metadata, into: &context.serviceContext, after: instrument)
        }
        return context
    }

    /// Runs `body` with ``CallContext/current`` and `ServiceContext.current` set to `context`.
    private static func serve(_ context: CallContext, _ body: (CallContext) async throws -> Void) async throws {
        try await ServiceContext.withValue(context.serviceContext) {
            try await CallContext.$current.withValue(context) { try await body(context) }
        }
    }

    /// Maps what a handler threw to the status the caller sees; only `RPCError` text crosses the wire.
    private func outcome(of error: any Error) -> (Status, Metadata) {
        (Status(of: error, cancelReason: self.context.control.cancelReason), (error as? RPCError)?.metadata ?? Metadata())
    }

    /// Reports the handler's outcome (exactly once per call; the connection ignores it if the call already ended).
    ///
    /// Handlers on another executor queue their outcome for the loop, which takes all queued outcomes in one job: a
    /// burst of a thousand cancelled handlers costs the loop one job, not a thousand. Ordering holds because a
    /// handler's streamed responses were handed over before it could finish (``send(_:)`` returns only once the
    /// loop took the message).
    func finish(response: ByteBuffer?, status: Status, trailers: Metadata) {
        let outcome = HandlerOutcome(streamID: self.streamID, response: response, status: status, trailers: trailers)
        let connection = self.connection
        if connection.eventLoop.inEventLoop && self.outcomes.isIdle {
            connection.value.handlerFinished(outcome)
        } else if self.outcomes.push(outcome) {
            connection.eventLoop.execute { connection.value.takeHandlerOutcomes() }
        }
    }

    /// Sends one streamed response, waiting while the stream's outbound queue is over `watermark` (0: until the
    /// queue is empty).
    func send(_ message: ByteBuffer, watermark: Int = ConnectionWriter.writerWatermark) async throws {
        let streamID = self.streamID
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            self.onLoop { connection in
                connection.handlerSend(streamID: streamID, message: message, watermark: watermark, continuation: continuation)
            }
        }
    }
}

/// A response the method's codec could not encode: the call ends `internal` (``ServerCall/encode(_:_:)``).
struct ResponseEncodingFailure: Error {}

/// What a handler returned, on its way to the event loop.
struct HandlerOutcome: Sendable {
    var streamID: UInt32
    var response: ByteBuffer?
    var status: Status
    var trailers: Metadata
}
